"""Reconciliation findings, kept with the run that found them."""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from models.reconcile import Finding, FindingKind
from store.db import FindingRecord


def record_findings(
    engine: Engine, run_id: str, found_at: datetime, findings: Iterable[Finding]
) -> None:
    """Store a run's findings; the same finding twice in a run (a retried page) is kept once."""
    findings = list(findings)
    if not findings:
        return
    with Session(engine) as session:
        keys = [f.business_key for f in findings]
        known = {
            (r.kind, r.business_key): r
            for r in session.exec(
                select(FindingRecord)
                .where(FindingRecord.run_id == run_id)
                .where(col(FindingRecord.business_key).in_(keys))
            )
        }
        for finding in findings:
            record = known.get((finding.kind.value, finding.business_key)) or FindingRecord(
                run_id=run_id,
                found_at=found_at,
                kind=finding.kind.value,
                business_key=finding.business_key,
                detail="",
                suggested_repair="",
            )
            record.detail, record.suggested_repair = finding.detail, finding.suggested_repair
            record.repair = finding.repair
            session.add(record)
        session.commit()


def set_repair(
    engine: Engine, run_id: str, kind: FindingKind, business_key: str, repair: str
) -> None:
    """What the run did about one finding."""
    with Session(engine) as session:
        session.execute(
            update(FindingRecord)
            .where(col(FindingRecord.run_id) == run_id)
            .where(col(FindingRecord.kind) == kind.value)
            .where(col(FindingRecord.business_key) == business_key)
            .values(repair=repair)
        )
        session.commit()


def findings_of_run(engine: Engine, run_id: str) -> list[Finding]:
    """One run's findings, by kind and business key."""
    with Session(engine) as session:
        query = (
            select(FindingRecord)
            .where(FindingRecord.run_id == run_id)
            .order_by(col(FindingRecord.kind), col(FindingRecord.business_key))
        )
        return [_model(r) for r in session.exec(query)]


def list_findings(
    engine: Engine, *, since: datetime | None = None, until: datetime | None = None
) -> list[Finding]:
    """Findings stored in the period (found at or after `since`, before `until`)."""
    with Session(engine) as session:
        query = select(FindingRecord).order_by(col(FindingRecord.id))
        if since:
            query = query.where(col(FindingRecord.found_at) >= since)
        if until:
            query = query.where(col(FindingRecord.found_at) < until)
        return [_model(r) for r in session.exec(query)]


def _model(record: FindingRecord) -> Finding:
    return Finding(
        kind=FindingKind(record.kind),
        business_key=record.business_key,
        detail=record.detail,
        suggested_repair=record.suggested_repair,
        repair=record.repair,
        run_id=record.run_id,
        found_at=record.found_at,
    )
