"""Input and output of hire-to-staff and worker-change."""

import re
from typing import NamedTuple

from pydantic import BaseModel, field_validator

from models.hcm import WorkerEvent

WORKER_ID = re.compile(r"^[A-Za-z0-9-]{1,40}$")


def check_worker_id(value: str) -> str:
    if not WORKER_ID.match(value):
        raise ValueError(
            f"{value!r} is not an HCM worker id: use the Employee_ID (letters, digits, dashes)"
        )
    return value


def hire_workflow_id(worker_id: str) -> str:
    return f"hire-to-staff/{worker_id}"


def change_workflow_id(event: WorkerEvent) -> str:
    return f"worker-change/{event.worker_id}/{event.event_id}"


def resource_external_id(worker_id: str) -> str:
    """External id of the PSA resource and the ERP employee made for a worker."""
    return f"hcm-{worker_id}"


class HireToStaffInput(BaseModel):
    worker_id: str
    requested_by: str = "psflow"

    @field_validator("worker_id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return check_worker_id(value)


class HireToStaffResult(BaseModel):
    worker_id: str
    outcome: str
    """"assigned" or "on bench"."""
    reason: str | None = None
    resource_id: str | None = None
    employee_id: str | None = None
    assignment_id: str | None = None
    project_id: str | None = None
    forecast_id: str | None = None


class WorkerChangeResult(BaseModel):
    worker_id: str
    event_id: str
    outcome: str
    """"applied" or "ignored"."""
    reason: str | None = None
    ended_assignments: list[str] = []
    reopened_requests: list[str] = []
    flagged_projects: list[str] = []


class TerminationEnded(NamedTuple):
    """What a termination ended: assignments, requests opened again, projects flagged (a
    workflow's own value, never a payload)."""

    assignments: list[str]
    requests: list[str]
    projects: list[str]
