"""Tables and engine: SQLite by default, PostgreSQL by URL."""

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Engine,
    Index,
    Table,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError
from sqlmodel import Field, SQLModel, create_engine

from store.audit_identity import add_audit_identity, add_columns


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time stored in UTC and read back aware, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        # SQLite keeps the wall time and drops the zone: give it UTC's.
        return aware.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


AUDIT_LOG = "audit_log"
AUDIT_IDENTITY_INDEX = "uq_audit_log_entry_key"
VERIFIED_COLUMNS = ("subject", "issuer")
"""Added to audit logs made before decisions were proven."""


class AuditRecord(SQLModel, table=True):
    __tablename__ = AUDIT_LOG
    # One row per entry, however often and by whom it is written (store.audit_identity).
    __table_args__ = (Index(AUDIT_IDENTITY_INDEX, "entry_key", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True, sa_type=UtcDateTime)
    workflow_id: str = Field(index=True)
    kind: str
    user: str | None
    detail: str
    entry_key: str | None = Field(default=None, max_length=64)
    """Nullable only so that a log migrated in place has the same shape as a new one."""
    subject: str | None = None
    issuer: str | None = None


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
    first_seen: datetime = Field(sa_type=UtcDateTime)
    last_seen: datetime = Field(sa_type=UtcDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class AccountRecord(SQLModel, table=True):
    """A local account (store.accounts): a person who signs in without an identity provider."""

    __tablename__ = "accounts"

    name: str = Field(primary_key=True)
    subject: str = Field(unique=True)
    password_hash: str
    roles: list[str] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(sa_type=UtcDateTime)


class IssuerKeyRecord(SQLModel, table=True):
    """A key psflow's issuer signs proofs with (security.issuer); the newest unretired signs."""

    __tablename__ = "issuer_keys"

    kid: str = Field(primary_key=True)
    private_pem: str
    public_jwk: dict[str, str] = Field(sa_type=JSON)
    created_at: datetime = Field(index=True, sa_type=UtcDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


def audit_table() -> Table:
    """The audit log's table, for statements SQLModel has no shape for (insert or ignore)."""
    return SQLModel.metadata.tables[AUDIT_LOG]


STORE_URLS = "sqlite:///path/to/psflow.db or postgresql://user:password@host:5432/psflow"
# Any fixed number: the lock every psflow process takes while it creates the tables.
SCHEMA_LOCK = 0x7073666C6F77


class StoreError(Exception):
    """psflow's store cannot be opened: an unusable `store_url` or a database out of reach."""


def engine_url(url: str) -> str:
    """A plain postgresql:// URL speaks through psycopg 3, the driver psflow installs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def _sqlite_journal(connection: Any, _record: Any) -> None:
    """Write-ahead log, synced at checkpoints: a commit costs no fsync of its own, and a
    killed process still loses nothing committed (only a power cut may lose the last ones)."""
    cursor = connection.cursor()
    try:
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "delete":
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError:  # another process switches it at this moment
                pass
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def open_engine(url: str) -> Engine:
    """Create the engine and the tables if they are missing (SQLite or PostgreSQL), and bring
    an audit log made by an earlier psflow up to date (store.audit_identity).

    Several processes may do this at once on an empty database (two workers starting
    together): they take turns, under SQLite's write lock or a PostgreSQL advisory lock.
    A URL psflow cannot use, or a database it cannot reach, is a StoreError naming
    `store_url` (password hidden).
    """
    try:
        shown = make_url(url).render_as_string(hide_password=True)
        parsed = make_url(engine_url(url))
    except (ArgumentError, ValueError):
        raise StoreError(f"store_url is not a database URL: use {STORE_URLS}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_journal)
    elif parsed.get_backend_name() == "postgresql":
        engine = create_engine(parsed, pool_pre_ping=True)
    else:
        raise StoreError(f'store_url "{shown}" is neither SQLite nor PostgreSQL: use {STORE_URLS}')
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
            else:  # the database's write lock, held until the tables exist
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            SQLModel.metadata.create_all(connection)
            add_audit_identity(connection, audit_table(), AUDIT_IDENTITY_INDEX)
            add_columns(connection, audit_table(), VERIFIED_COLUMNS)
            connection.commit()
    except (OperationalError, InterfaceError) as exc:
        engine.dispose()
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise StoreError(f'cannot open the store at store_url "{shown}": {reason}') from None
    return engine


class WorkerEventRecord(SQLModel, table=True):
    """HCM events already applied, so a duplicate or an older one has no second effect."""

    __tablename__ = "worker_events"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True)
    worker_id: str = Field(index=True)
    sequence: int
    kind: str
    applied_at: datetime = Field(sa_type=UtcDateTime)


class DeadLetterRecord(SQLModel, table=True):
    """A workflow run that failed for good, with its input, until retried or discarded."""

    __tablename__ = "dead_letters"

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(index=True)
    run_id: str = Field(unique=True)
    workflow_type: str = Field(index=True)
    business_key: str
    step: str | None
    error: str
    input: dict[str, Any] = Field(sa_type=JSON)
    failed_at: datetime = Field(index=True, sa_type=UtcDateTime)
    state: str = Field(index=True)
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    closed_by: str | None = None
    reason: str | None = None
    retry_run_id: str | None = None


class FindingRecord(SQLModel, table=True):
    """Drift a reconciliation run found between the systems, and what it did about it."""

    __tablename__ = "reconcile_findings"
    __table_args__ = (UniqueConstraint("run_id", "kind", "business_key"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True)
    found_at: datetime = Field(index=True, sa_type=UtcDateTime)
    kind: str = Field(index=True)
    business_key: str
    detail: str
    suggested_repair: str
    repair: str | None = None
