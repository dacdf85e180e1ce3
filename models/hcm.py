"""What psflow reads from the HCM (Workday): workers and their lifecycle events."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel


class Worker(BaseModel):
    id: str
    """Workday's Employee_ID, e.g. 21034."""
    wid: str
    """Workday's 32-character reference id."""
    first_name: str
    last_name: str
    email: str | None = None
    legal_entity: str | None = None
    department: str | None = None
    cost_center: str | None = None
    manager_id: str | None = None
    role: str | None = None
    skills: list[str] = []
    location: str | None = None
    cost_rate: Decimal | None = None
    currency: str | None = None
    hire_date: date
    status: str = "active"
    """pre-hire, active or terminated."""
    termination_date: date | None = None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class WorkerEventKind(StrEnum):
    HIRE = "hire"
    TRANSFER = "transfer"
    TERMINATION = "termination"


class WorkerEvent(BaseModel):
    event_id: str
    kind: WorkerEventKind
    worker_id: str
    effective_date: date
    occurred_at: datetime
    sequence: int
    """Increases with each event of one worker: an event older than the last applied is stale."""
    changes: dict[str, str] = {}
    """For transfers: the new legal_entity, cost_center, cost_rate, department."""
