"""Audit entries and cross-system links the store keeps."""

from datetime import datetime

from pydantic import BaseModel


class AuditEntry(BaseModel):
    at: datetime
    workflow_id: str
    kind: str
    """approved, rejected, corrected, escalated, released, posted, retried, discarded."""
    user: str | None
    detail: str


class RecordLink(BaseModel):
    business_key: str
    system: str
    record_type: str
    record_id: str
    workflow_id: str
