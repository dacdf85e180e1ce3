"""A step whose activity Temporal is retrying, as the server's pending-activity record says.

The workflow never knows: the app layer fills this from `describe()` onto the step in progress.
"""

from datetime import datetime, timedelta

from pydantic import BaseModel

LAST_ERROR_CHARS = 300


class Retrying(BaseModel):
    activity: str
    """Temporal's activity type, e.g. erp.upsert_customer."""
    system: str | None = None
    """The system that keeps failing (ERP, CRM, PSA, HCM, store): from the error, else the
    activity."""
    attempt: int
    """The attempt running or due next: 2 is the first retry."""
    last_error: str | None = None
    """The last attempt's error, cut to LAST_ERROR_CHARS."""
    http_status: int | None = None
    """The status the system answered with, when it answered."""
    since: datetime
    """When the activity was first scheduled."""
    last_attempt_at: datetime | None = None
    """When the last attempt ended."""
    next_try: datetime | None = None
    """When Temporal tries again; None while an attempt is running."""
    gives_up_at: datetime | None = None
    """Temporal's own deadline for the activity (schedule-to-close), when it has one."""

    def retrying_for(self, now: datetime) -> timedelta:
        return now - self.since


STALL_SIGNAL = "stalled"
"""The signal that carries a Stall to the run."""


class Stall(BaseModel):
    """What the worker tells a run whose step keeps failing on a system, and again once the
    step is through (`recovered`): the run shows it as search attributes."""

    system: str
    activity: str
    attempt: int
    recovered: bool = False


def cut(text: str, limit: int = LAST_ERROR_CHARS) -> str:
    """`text` whole if short enough, else its start and an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
