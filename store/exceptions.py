"""Billing exceptions: entries a time-to-bill run could not post, until a later run posts them."""

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from models.billing import BillingException, EntryKind, EntryProblem, ExceptionState
from store.db import ExceptionRecord


def record_problems(
    engine: Engine, problems: Iterable[EntryProblem], project_id: str, period: str, workflow_id: str
) -> None:
    """Open (or reopen) one exception per entry; a repeat sighting updates it in place."""
    now = datetime.now(UTC)
    problems = list(problems)
    if not problems:
        return
    with Session(engine) as session:
        ids = [p.entry_id for p in problems]
        known = {
            (r.entry_id, r.kind): r
            for r in session.exec(
                select(ExceptionRecord).where(col(ExceptionRecord.entry_id).in_(ids))
            )
        }
        for problem in problems:
            record = known.get((problem.entry_id, problem.kind.value))
            if record is None:
                record = ExceptionRecord(
                    entry_id=problem.entry_id,
                    kind=problem.kind.value,
                    project_id=project_id,
                    period=period,
                    first_seen=now,
                    last_seen=now,
                    reason=problem.reason,
                    message=problem.message,
                    state=ExceptionState.OPEN.value,
                    workflow_id=workflow_id,
                )
            record.project_id, record.period, record.workflow_id = project_id, period, workflow_id
            record.reason, record.message, record.last_seen = problem.reason, problem.message, now
            record.state, record.resolved_at = ExceptionState.OPEN.value, None
            session.add(record)
        session.commit()


def resolve(engine: Engine, kind: EntryKind, entry_ids: Iterable[str]) -> int:
    """Close the exceptions of entries that have now been posted; how many were closed."""
    ids = list(entry_ids)
    if not ids:
        return 0
    with Session(engine) as session:
        result = session.execute(
            update(ExceptionRecord)
            .where(col(ExceptionRecord.kind) == kind.value)
            .where(col(ExceptionRecord.entry_id).in_(ids))
            .where(col(ExceptionRecord.state) != ExceptionState.RESOLVED.value)
            .values(state=ExceptionState.RESOLVED.value, resolved_at=datetime.now(UTC))
        )
        session.commit()
        return int(result.rowcount)  # type: ignore[attr-defined]


def list_exceptions(
    engine: Engine,
    *,
    period: str | None = None,
    project_id: str | None = None,
    state: ExceptionState | None = None,
) -> list[BillingException]:
    with Session(engine) as session:
        query = select(ExceptionRecord).order_by(col(ExceptionRecord.id))
        if period:
            query = query.where(ExceptionRecord.period == period)
        if project_id:
            query = query.where(ExceptionRecord.project_id == project_id)
        if state:
            query = query.where(ExceptionRecord.state == state.value)
        return [_model(r) for r in session.exec(query)]


def get_exception(engine: Engine, exception_id: int) -> BillingException | None:
    with Session(engine) as session:
        record = session.get(ExceptionRecord, exception_id)
        return _model(record) if record else None


def mark_resubmitted(engine: Engine, exception_ids: Iterable[int]) -> None:
    with Session(engine) as session:
        session.execute(
            update(ExceptionRecord)
            .where(col(ExceptionRecord.id).in_(list(exception_ids)))
            .where(col(ExceptionRecord.state) == ExceptionState.OPEN.value)
            .values(state=ExceptionState.RESUBMITTED.value)
        )
        session.commit()


def _model(record: ExceptionRecord) -> BillingException:
    return BillingException.model_validate(record, from_attributes=True)
