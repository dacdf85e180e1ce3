"""The status every workflow answers to its `status` query."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from models.retrying import Retrying


class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    COMPENSATED = "compensated"
    CANCELLED = "cancelled"


class RunState(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"
    COMPENSATING = "compensating"
    COMPLETED = "completed"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELLED = "cancelled"


class WaitKind(StrEnum):
    APPROVAL = "approval"
    CORRECTION = "correction"


class Step(BaseModel):
    name: str
    state: StepState = StepState.PENDING
    started_at: datetime | None = None
    ended_at: datetime | None = None
    detail: str | None = None
    retrying: Retrying | None = None
    """Set by the app layer, not the workflow: Temporal is retrying this step's activity."""


class FieldProblem(BaseModel):
    field: str
    message: str


class WaitingFor(BaseModel):
    kind: WaitKind
    since: datetime
    deadline: datetime | None = None
    role: str | None = None
    problems: list[FieldProblem] = []
    escalated_at: datetime | None = None


class CompensationOutcome(StrEnum):
    UNDONE = "undone"
    ALREADY_GONE = "already gone"
    KEPT = "kept"
    FAILED = "failed"


class Compensation(BaseModel):
    step: str
    action: str
    outcome: CompensationOutcome
    at: datetime
    detail: str | None = None


class Event(BaseModel):
    """A person's action or a notable moment: approvals, refusals, corrections, escalations."""

    at: datetime
    kind: str
    user: str | None = None
    detail: str


class WorkflowStatus(BaseModel):
    workflow_id: str
    workflow: str
    state: RunState
    business_key: str
    customer: str | None = None
    customer_id: str | None = None
    """The customer's id in the CRM, where the run knows it (spans carry it, not the name)."""
    project: str | None = None
    """The PSA project the run works on, once it is known."""
    steps: list[Step]
    waiting_for: WaitingFor | None = None
    compensations: list[Compensation] = []
    events: list[Event] = []
    error: str | None = None


def current_step(status: WorkflowStatus) -> str | None:
    """The step in progress, else the last one that finished."""
    for step in status.steps:
        if step.state in ("running", "waiting"):
            return step.name
    finished = [s for s in status.steps if s.state not in ("pending", "skipped")]
    return finished[-1].name if finished else None


def retried_step(status: WorkflowStatus) -> Step | None:
    """The step whose activity Temporal is retrying, if any."""
    return next((s for s in status.steps if s.retrying is not None), None)
