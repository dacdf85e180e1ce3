"""Dead letters: runs that failed for good, kept with their input until retried or discarded."""

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

CLAIM_LAPSES_AFTER = timedelta(minutes=10)
"""A retry's claim with no run recorded this long after it was lost (the retrying command
died between the two): the letter may be retried again."""


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


def retryable(state: str, retry_run_id: str | None, claimed_at: datetime | None) -> bool:
    """Open, or claimed by a retry that never recorded its run and has lapsed."""
    if state == DeadLetterState.OPEN.value:
        return True
    if state != DeadLetterState.RETRIED.value or retry_run_id is not None or claimed_at is None:
        return False
    claimed = claimed_at if claimed_at.tzinfo else claimed_at.replace(tzinfo=UTC)  # SQLite
    return datetime.now(UTC) - claimed >= CLAIM_LAPSES_AFTER
