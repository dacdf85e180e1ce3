"""Request and response bodies of the PSA API for changes to live projects: change orders,
forecast revisions, a project's budget and a staffing request's hours."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from sandbox.psa.schemas import Currency, Hours, Money, Skill

ChangeOrderStatus = Literal["submitted", "applied", "rejected"]
ChangeOrderOutcome = Literal["applied", "rejected"]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("give the reason for the change")
    return value


ChangeOrderId = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="the caller's id: letters, digits, '.', '_' or '-', up to 64 characters",
        examples=["CO-2026-0042"],
    ),
]
SignedMoney = Annotated[
    Decimal, Field(decimal_places=2, description="signed", examples=["25000.00"])
]
SignedHours = Annotated[
    Decimal, Field(decimal_places=2, description="signed: negative reduces", examples=["80.00"])
]
RoleName = Annotated[str, Field(min_length=1, max_length=100, examples=["Senior Consultant"])]


class RoleChange(BaseModel):
    role: RoleName
    hours_change: SignedHours
    start_date: date | None = Field(None, description="when new demand starts")
    skills: list[Skill] = Field(default_factory=list)


class ChangeOrderInput(BaseModel):
    id: ChangeOrderId
    project_id: str = Field(description="the project the change order changes")
    requested_by: str = Field(min_length=1, max_length=255)
    reason: Annotated[str, AfterValidator(_not_blank), Field(max_length=2000)]
    currency: Currency
    budget_change: SignedMoney
    effective_date: date
    roles: list[RoleChange] = Field(default_factory=list)


class ChangeOrder(ChangeOrderInput):
    status: ChangeOrderStatus = Field(description="submitted, then applied or rejected")
    note: str | None = Field(None, description="why it was applied or rejected")
    created_at: datetime
    status_changed_at: datetime | None = None


class ChangeOrderList(BaseModel):
    data: list[ChangeOrder]


class ChangeOrderStatusInput(BaseModel):
    status: ChangeOrderOutcome
    note: str | None = Field(None, max_length=2000)


class ForecastRevisionInput(BaseModel):
    change_order_id: ChangeOrderId
    budget: Money = Field(description="the project's budget with the change order applied")
    hours_by_role: dict[RoleName, SignedHours] = Field(
        default_factory=dict, description="role -> hours as the change order revises them"
    )


class ForecastRevision(ForecastRevisionInput):
    project_id: str
    created_at: datetime


class ForecastRevisionList(BaseModel):
    data: list[ForecastRevision]


class BudgetInput(BaseModel):
    budget: Money


class StaffingRequestChanges(BaseModel):
    """The fields of an open staffing request that may change."""

    model_config = ConfigDict(extra="forbid")

    hours: Hours
