"""Reading and writing the audit log and record links."""

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models.audit import AuditEntry, RecordLink
from store.db import AuditRecord, LinkRecord


def append_audit(engine: Engine, entry: AuditEntry) -> None:
    with Session(engine) as session:
        session.add(AuditRecord(**entry.model_dump()))
        session.commit()


def audit_entries(engine: Engine, workflow_id: str | None = None) -> list[AuditEntry]:
    with Session(engine) as session:
        query = select(AuditRecord).order_by(AuditRecord.at, AuditRecord.id)  # type: ignore[arg-type]
        if workflow_id:
            query = query.where(AuditRecord.workflow_id == workflow_id)
        return [AuditEntry.model_validate(r, from_attributes=True) for r in session.exec(query)]


def add_link(engine: Engine, link: RecordLink) -> None:
    """Idempotent: the same link twice is stored once."""
    with Session(engine) as session:
        session.add(LinkRecord(**link.model_dump()))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()


def links_for(engine: Engine, business_key: str) -> list[RecordLink]:
    with Session(engine) as session:
        query = select(LinkRecord).where(LinkRecord.business_key == business_key)
        return [RecordLink.model_validate(r, from_attributes=True) for r in session.exec(query)]
