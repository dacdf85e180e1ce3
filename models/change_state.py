"""A live project as a change order is checked against, and what applying one needs."""

from datetime import timedelta
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
    """Fixed before the revision runs; `key_for(role)` is the idempotency key and external id
    of the request opened for a role, so the undo finds it even if the revision never returned."""
    open_requests: list[OpenRequest]

    def by_role(self) -> dict[str, OpenRequest]:
        """The open request whose hours a role's change moves."""
        return {r.role: r for r in self.open_requests}

    def key_for(self, role: str) -> str:
        return f"{self.request_key}/{role}"

    def undo(self) -> "StaffingRestore":
        """What restores the demand, whatever part of the revision ran."""
        by_role = self.by_role()
        roles = [c.role for c in self.change_order.roles]
        return StaffingRestore(
            project_id=self.change_order.project_id,
            previous_hours={by_role[r].id: by_role[r].hours for r in roles if r in by_role},
            opened_keys=[self.key_for(r) for r in roles if r not in by_role],
        )


class StaffingRevised(BaseModel):
    changed: dict[str, Decimal] = {}
    """Request id -> new hours."""
    opened: list[str] = []
    """Ids of requests opened for roles with no open demand."""


class StaffingRestore(BaseModel):
    project_id: str
    previous_hours: dict[str, Decimal]
    """Request id -> its hours before the revision."""
    opened_keys: list[str] = []
    """External ids of the requests the revision opens, one per role with no open request."""
    opened: list[str] = []
    """Request ids, as runs from before `opened_keys` recorded them once the revision returned."""


class LockInput(BaseModel):
    """The project-changes lock workflow's input."""

    project_id: str
    waiting: list[str] = []
    """Workflow ids queued when the previous run continued as new."""
    holder: str | None = None
    """The workflow id holding the project when the previous run continued as new."""
    holder_check: timedelta | None = None
    """How long the holder's next liveness check waits (it backs off while one holds)."""


class LockState(BaseModel):
    holder: str | None
    waiting: list[str]
