"""Dead letters: runs that failed for good, kept with their input until retried or discarded."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel


class DeadLetterState(StrEnum):
    OPEN = "open"
    RETRIED = "retried"
    DISCARDED = "discarded"


class FailedRun(BaseModel):
    """What a failed workflow sends the store: enough to understand it and to run it again."""

    workflow_id: str
    run_id: str
    workflow_type: str
    business_key: str
    step: str | None
    """The step that failed (None when it failed outside any step)."""
    error: str
    input: dict[str, Any]
    """The workflow's input as JSON, from which a retry starts again."""
    failed_at: datetime


class DeadLetter(FailedRun):
    id: int
    state: DeadLetterState
    closed_at: datetime | None = None
    closed_by: str | None = None
    """Who retried or discarded it."""
    reason: str | None = None
    """Why it was discarded."""
    retry_run_id: str | None = None
    """The run a retry started (none yet while the retry is starting it)."""
    input_key_id: str | None = None
    """The [codec] key id the stored input is encrypted under; None when it is kept in clear."""
