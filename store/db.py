"""The store's tables, SQLite by default, PostgreSQL by URL; their schema is versioned by the
revisions in store/migrations (a change to a model needs a new revision there)."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Index, Table, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel

# Opening the store lives in store.engine; these names have always been imported from here.
from store.engine import STORE_URLS as STORE_URLS
from store.engine import StoreError as StoreError
from store.engine import engine_url as engine_url
from store.engine import open_engine as open_engine


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


SEEN_SIGNATURES = "seen_signatures"


class SeenSignatureRecord(SQLModel, table=True):
    """A signed ingress request, kept until its signature is too old to be accepted anyway;
    shared by every ingress process on the store, so a replay to any of them is refused."""

    __tablename__ = SEEN_SIGNATURES

    digest: str = Field(primary_key=True, max_length=64)
    """SHA-256 of the signature."""
    seen_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(index=True, sa_type=UtcDateTime)
