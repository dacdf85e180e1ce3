"""A live project as a change order is checked against, and what applying one needs."""

from decimal import Decimal

from pydantic import BaseModel

from models.billing import BillingProject
from models.change_order import ChangeOrder, ProjectSnapshot


class OpenRequest(BaseModel):
    id: str
    role: str
    hours: Decimal


class ProjectState(BaseModel):
    """The project in the PSA, ERP and CRM right now (None where a system has nothing)."""

    project: BillingProject | None
    psa_budget: Decimal | None = None
    rate_card_roles: list[str] = []
    erp_budget: Decimal | None = None
    erp_actuals: Decimal = Decimal(0)
    opportunity_amount: Decimal | None = None
    open_requests: list[OpenRequest] = []

    def snapshot(self) -> ProjectSnapshot:
        assert self.project is not None and self.erp_budget is not None
        return ProjectSnapshot(
            project_id=self.project.id,
            erp_project_external_id=self.project.external_id,
            erp_budget=self.erp_budget,
            opportunity_id=self.project.opportunity_id,
            opportunity_amount=self.opportunity_amount,
            request_hours={r.id: r.hours for r in self.open_requests},
        )


class ChangeOrderInput(BaseModel):
    change_order: ChangeOrder


class StaffingRevision(BaseModel):
    """Revise a project's open demand: change hours of open requests, open new ones."""

    change_order: ChangeOrder
    request_key: str
    """Idempotency key prefix for the requests this revision opens."""
    open_requests: list[OpenRequest]


class StaffingRevised(BaseModel):
    changed: dict[str, Decimal] = {}
    """Request id -> new hours."""
    opened: list[str] = []
    """Ids of requests opened for roles with no open demand."""


class StaffingRestore(BaseModel):
    project_id: str
    previous_hours: dict[str, Decimal]
    opened: list[str]


class LockInput(BaseModel):
    """The project-changes lock workflow's input."""

    project_id: str
    waiting: list[str] = []
    """Workflow ids queued when the previous run continued as new."""


class LockState(BaseModel):
    holder: str | None
    waiting: list[str]
