"""Tables and engine. SQLite by default, any SQLAlchemy URL (e.g. PostgreSQL) by setting."""

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, UniqueConstraint
from sqlmodel import Field, SQLModel, create_engine


class AuditRecord(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    workflow_id: str = Field(index=True)
    kind: str
    user: str | None
    detail: str


class LinkRecord(SQLModel, table=True):
    """Which record in which system a business key produced."""

    __tablename__ = "record_links"
    __table_args__ = (UniqueConstraint("business_key", "system", "record_type", "record_id"),)

    id: int | None = Field(default=None, primary_key=True)
    business_key: str = Field(index=True)
    system: str
    record_type: str
    record_id: str
    workflow_id: str


class ExceptionRecord(SQLModel, table=True):
    """A time entry or expense a time-to-bill run could not post, and why."""

    __tablename__ = "billing_exceptions"
    __table_args__ = (UniqueConstraint("entry_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: str
    kind: str
    project_id: str = Field(index=True)
    period: str = Field(index=True)
    reason: str
    message: str
    state: str = Field(index=True)
    workflow_id: str
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None = None


def open_engine(url: str) -> Engine:
    """Create the engine and the tables if they are missing."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"check_same_thread": False} if url.startswith("sqlite") else {}
    )
    SQLModel.metadata.create_all(engine)
    return engine


class WorkerEventRecord(SQLModel, table=True):
    """HCM events already applied, so a duplicate or an older one has no second effect."""

    __tablename__ = "worker_events"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True)
    worker_id: str = Field(index=True)
    sequence: int
    kind: str
    applied_at: datetime
