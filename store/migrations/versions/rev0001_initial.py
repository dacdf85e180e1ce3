"""The store as psflow made it before Alembic (create_all plus the audit log's two upgrades).

Frozen: the models may change, this revision never does.

Revision ID: 0001
Revises: none
"""

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None

TABLES = (
    "accounts",
    "audit_log",
    "billing_exceptions",
    "dead_letters",
    "issuer_keys",
    "reconcile_findings",
    "record_links",
    "worker_events",
)
AUDIT_IDENTITY_INDEX = "uq_audit_log_entry_key"


def _text(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(), nullable=nullable)


def _when(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _indexes(table: str, *columns: str) -> None:
    for column in columns:
        op.create_index(f"ix_{table}_{column}", table, [column])


def create_tables(skip: Collection[str] = ()) -> None:
    """Create revision 0001's tables, but those named in `skip` (present already)."""
    if "accounts" not in skip:
        op.create_table(
            "accounts",
            _text("name"),
            _text("subject"),
            _text("password_hash"),
            sa.Column("roles", sa.JSON(), nullable=False),
            _when("created_at"),
            sa.PrimaryKeyConstraint("name"),
            sa.UniqueConstraint("subject"),
        )
    if "audit_log" not in skip:
        op.create_table(
            "audit_log",
            _id(),
            _when("at"),
            _text("workflow_id"),
            _text("kind"),
            _text("user", nullable=True),
            _text("detail"),
            sa.Column("entry_key", sa.String(length=64), nullable=True),
            _text("subject", nullable=True),
            _text("issuer", nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(AUDIT_IDENTITY_INDEX, "audit_log", ["entry_key"], unique=True)
        _indexes("audit_log", "workflow_id", "at")
    if "billing_exceptions" not in skip:
        op.create_table(
            "billing_exceptions",
            _id(),
            _text("entry_id"),
            _text("kind"),
            _text("project_id"),
            _text("period"),
            _text("reason"),
            _text("message"),
            _text("state"),
            _text("workflow_id"),
            _when("first_seen"),
            _when("last_seen"),
            _when("resolved_at", nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("entry_id", "kind"),
        )
        _indexes("billing_exceptions", "state", "period", "project_id")
    if "dead_letters" not in skip:
        op.create_table(
            "dead_letters",
            _id(),
            _text("workflow_id"),
            _text("run_id"),
            _text("workflow_type"),
            _text("business_key"),
            _text("step", nullable=True),
            _text("error"),
            sa.Column("input", sa.JSON(), nullable=False),
            _when("failed_at"),
            _text("state"),
            _when("closed_at", nullable=True),
            _text("closed_by", nullable=True),
            _text("reason", nullable=True),
            _text("retry_run_id", nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("run_id"),
        )
        _indexes("dead_letters", "state", "workflow_type", "workflow_id", "failed_at")
    if "issuer_keys" not in skip:
        op.create_table(
            "issuer_keys",
            _text("kid"),
            _text("private_pem"),
            sa.Column("public_jwk", sa.JSON(), nullable=False),
            _when("created_at"),
            _when("retired_at", nullable=True),
            sa.PrimaryKeyConstraint("kid"),
        )
        _indexes("issuer_keys", "created_at")
    if "reconcile_findings" not in skip:
        op.create_table(
            "reconcile_findings",
            _id(),
            _text("run_id"),
            _when("found_at"),
            _text("kind"),
            _text("business_key"),
            _text("detail"),
            _text("suggested_repair"),
            _text("repair", nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("run_id", "kind", "business_key"),
        )
        _indexes("reconcile_findings", "kind", "found_at", "run_id")
    if "record_links" not in skip:
        op.create_table(
            "record_links",
            _id(),
            _text("business_key"),
            _text("system"),
            _text("record_type"),
            _text("record_id"),
            _text("workflow_id"),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("business_key", "system", "record_type", "record_id"),
        )
        _indexes("record_links", "business_key")
    if "worker_events" not in skip:
        op.create_table(
            "worker_events",
            _id(),
            _text("event_id"),
            _text("worker_id"),
            sa.Column("sequence", sa.Integer(), nullable=False),
            _text("kind"),
            _when("applied_at"),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("event_id"),
        )
        _indexes("worker_events", "worker_id")


def upgrade() -> None:
    create_tables()


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
