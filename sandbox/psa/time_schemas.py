"""Request and response bodies of the PSA API: time entries, expenses and billing views."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sandbox.psa.schemas import Currency

ApprovalStatus = Literal["draft", "submitted", "approved", "rejected"]
Period = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-10"])]
PageSize = Annotated[int, Field(ge=1, le=1000, description="at most 1000")]
EntryHours = Annotated[
    Decimal, Field(gt=0, le=24, decimal_places=2, description="hours worked", examples=["7.50"])
]
Amount = Annotated[Decimal, Field(gt=0, decimal_places=2, examples=["412.80"])]
Text = Annotated[str, Field(min_length=1, max_length=100)]
Notes = Annotated[str, Field(max_length=1000, examples=["Workshop prep"])]
Day = date  # a field named date cannot also name its own type with a default
UserName = Annotated[str, Field(min_length=1, max_length=100, examples=["paula"])]


class _Approval(BaseModel):
    status: ApprovalStatus = Field(
        description="new records are submitted; approved or rejected by a project manager"
    )
    approver: str | None = Field(None, description="who approved (or rejected) it")
    approved_at: datetime | None = None
    rejection_reason: str | None = None


class TimeEntryInput(BaseModel):
    worker_id: str = Field(description="the HCM worker id of an active resource")
    project_id: str = Field(description="a project that is not archived")
    date: date
    hours: EntryHours
    role: Text = Field(description="the role the time is billed as", examples=["Consultant"])
    billable: bool = True
    notes: Notes = ""
    cost_center: Text = Field(examples=["CC-1100"])


class TimeEntry(_Approval):
    id: str = Field(examples=["TE-202610-0000001"])
    worker_id: str
    project_id: str
    date: date
    hours: Decimal
    role: str
    billable: bool
    notes: str
    cost_center: str


class TimeEntryChanges(BaseModel):
    """Fields to change; fields left out stay as they are. None of them may be null."""

    model_config = ConfigDict(extra="forbid")

    project_id: str | None = None
    date: Day | None = None
    hours: EntryHours | None = None
    role: Text | None = None
    billable: bool | None = None
    notes: Notes | None = None
    cost_center: Text | None = None


class ExpenseInput(BaseModel):
    worker_id: str = Field(description="the HCM worker id of an active resource")
    project_id: str = Field(description="a project that is not archived")
    date: date
    amount: Amount
    currency: Currency
    category: Text = Field(examples=["Hotel"])
    billable: bool = True
    notes: Notes = ""
    cost_center: Text = Field(examples=["CC-1100"])


class Expense(_Approval):
    id: str = Field(examples=["EX-202610-0000001"])
    worker_id: str
    project_id: str
    date: date
    amount: Decimal
    currency: str
    category: str
    billable: bool
    notes: str
    cost_center: str


class ExpenseChanges(BaseModel):
    """Fields to change; fields left out stay as they are. None of them may be null."""

    model_config = ConfigDict(extra="forbid")

    project_id: str | None = None
    date: Day | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    category: Text | None = None
    billable: bool | None = None
    notes: Notes | None = None
    cost_center: Text | None = None


class ApprovalInput(BaseModel):
    approver: UserName = Field(description="the user name of the approving manager")


class RejectionInput(BaseModel):
    approver: UserName = Field(description="the user name of the rejecting manager")
    reason: str = Field(min_length=1, max_length=500, examples=["Wrong project code"])


class TimeEntryPage(BaseModel):
    items: list[TimeEntry]
    next_page_token: str | None = Field(None, description="null on the last page")


class ExpensePage(BaseModel):
    items: list[Expense]
    next_page_token: str | None = Field(None, description="null on the last page")


class ProjectIdPage(BaseModel):
    items: list[str] = Field(examples=[["PRJ-V00001", "PRJ-V00002"]])
    next_page_token: str | None = Field(None, description="null on the last page")


class BillingMilestone(BaseModel):
    id: str
    name: str
    due_date: date
    amount: Decimal
    completed_on: date | None = None


class BillingProject(BaseModel):
    id: str
    external_id: str
    name: str
    customer_name: str
    status: str = Field(description="active, closed or archived")
    closed_on: date | None = None
    currency: Currency
    billing_type: str
    rate_card: str
    erp_project_id: str
    opportunity_id: str | None = None
    milestones: list[BillingMilestone]


class CloseInput(BaseModel):
    closed_on: date = Field(description="the last day time may be booked on the project")


class CompleteInput(BaseModel):
    completed_on: date


class VolumeSeedInput(BaseModel):
    projects: int = Field(500, ge=1, le=5000)
    entries: int = Field(100_000, ge=0, le=1_000_000)
    period: Period = "2026-10"
    seed: int = 7
    erp_project_ids: dict[int, str] | None = Field(
        None,
        description="each project's ERP project id by its number, 1 to `projects`, for an ERP "
        "that gives its own ids (Tryton: stack/tryton_volume.py); default: the sandbox "
        "NetSuite's job ids, 700000 + number",
    )

    @model_validator(mode="after")
    def _names_every_project(self) -> Self:
        ids = self.erp_project_ids
        if ids is not None and set(ids) != set(range(1, self.projects + 1)):
            raise ValueError("erp_project_ids must name every project, 1 to projects, once")
        return self


class VolumeSeedCounts(BaseModel):
    period: str
    projects: int
    resources: int
    time_entries: int
    expenses: int
    time_entries_by_status: dict[str, int]
    expenses_by_status: dict[str, int]
    invalid: dict[str, int] = Field(description="time entries of each invalid kind")
    seconds: float = Field(description="how long generating and storing took")
