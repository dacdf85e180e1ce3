"""Reading and writing the audit log and record links."""

from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.audit import AuditEntry, RecordLink
from store.audit_identity import entry_key
from store.db import AuditRecord, LinkRecord, audit_table


def append_audit(engine: Engine, entry: AuditEntry) -> None:
    """Append an entry once: an activity retried after its commit adds no second row."""
    with Session(engine) as session:
        add_audit(session, entry)
        session.commit()


def add_audit(session: Session, entry: AuditEntry) -> None:
    """Add the entry to `session`'s transaction unless an identical one is stored already.

    The database decides, by the unique index on the entry's key: concurrent writers of the
    same entry leave one row.
    """
    key = entry_key(entry.at, entry.workflow_id, entry.kind, entry.user, entry.detail)
    values = entry.model_dump() | {"entry_key": key}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(audit_table()).values(values).on_conflict_do_nothing(index_elements=["entry_key"])
    )
    session.exec(statement)


def audit_entries(
    engine: Engine,
    workflow_id: str | None = None,
    *,
    user: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
) -> list[AuditEntry]:
    """Entries oldest first, narrowed by workflow, user, kind and time (at or after `since`)."""
    with Session(engine) as session:
        query = select(AuditRecord).order_by(col(AuditRecord.at), col(AuditRecord.id))
        if workflow_id:
            query = query.where(AuditRecord.workflow_id == workflow_id)
        if user:
            query = query.where(AuditRecord.user == user)
        if kind:
            query = query.where(AuditRecord.kind == kind)
        if since is not None:
            query = query.where(col(AuditRecord.at) >= since)
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
