"""Change orders: scope, budget and staffing changes to a live project, applied everywhere."""

import re
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, Field, RootModel, field_validator

CHANGE_ORDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def change_order_workflow_id(change_order_id: str) -> str:
    return f"change-order/{change_order_id}"


def project_lock_id(project_id: str) -> str:
    """The workflow that lets one change order at a time touch a project."""
    return f"project-changes/{project_id}"


class RoleChange(BaseModel):
    """More (or fewer) hours of a role on the project."""

    role: str
    hours_change: Decimal = Field(description="signed: positive adds demand, negative reduces it")
    start_date: date | None = None
    """When new demand starts (default: the change order's effective date)."""
    skills: list[str] = []


class ChangeOrder(BaseModel):
    """A change order as a file or the PSA gives it."""

    id: str = Field(description="the change order's id, e.g. CO-2026-0042")
    project_id: str = Field(description="PSA project id")
    requested_by: str = Field(description="psflow user name of whoever raised it")
    reason: str
    currency: str = Field(description="must be the project's currency")
    budget_change: Decimal = Field(description="signed change to the project budget")
    effective_date: date
    roles: list[RoleChange] = []

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not CHANGE_ORDER_ID.match(value):
            raise ValueError(
                f"{value!r} is not a change order id: letters, digits, '.', '_' or '-', "
                "up to 64 characters, e.g. CO-2026-0042"
            )
        return value

    @field_validator("reason")
    @classmethod
    def _has_reason(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("give the reason for the change")
        return value


class ProjectSnapshot(BaseModel):
    """What a change order changes, as it was before: what a compensation restores."""

    project_id: str
    erp_project_external_id: str
    erp_budget: Decimal
    opportunity_id: str | None = None
    opportunity_amount: Decimal | None = None
    request_hours: dict[str, Decimal] = {}
    """Open staffing request id -> its hours before the change."""


class ChangeOrderResult(BaseModel):
    change_order_id: str
    project_id: str
    outcome: str
    """applied or rejected"""
    new_budget: Decimal | None = None
    approvals: list[str] = []
    """Who approved, level by level."""
    reason: str | None = None


class ForecastRevision(BaseModel):
    """A change order's forecast change, published on the PSA project; one per change order."""

    change_order_id: str
    project_id: str
    """PSA project id."""
    budget: Decimal
    """The project's budget with the change order applied."""
    hours_by_role: dict[str, Decimal] = {}
    """Role -> hours, as the change order revises them (signed: negative reduces)."""
    created_at: datetime | None = None
    """Set by the PSA when it records the revision."""


class LockGrant(RootModel[str]):
    """The `lock_granted` signal's argument: the project id."""
