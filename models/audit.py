"""Audit entries and cross-system links the store keeps."""

from datetime import datetime

from pydantic import BaseModel

AUDIT_KINDS = (
    "approved", "rejected", "corrected", "escalated", "released", "posted", "retried", "discarded",
)  # fmt: skip


class AuditEntry(BaseModel):
    at: datetime
    workflow_id: str
    kind: str
    """One of AUDIT_KINDS."""
    user: str | None
    detail: str
    subject: str | None = None
    """The verified subject of a proven decision (its issuer's id for the person)."""
    issuer: str | None = None
    """Who verified the subject: psflow's local issuer or the firm's identity provider."""


class RecordLink(BaseModel):
    business_key: str
    system: str
    record_type: str
    record_id: str
    workflow_id: str
