"""Request and response bodies of the PSA API: rate cards, projects and staffing requests."""

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field

Money = Annotated[Decimal, Field(ge=0, decimal_places=2, examples=["12500.00"])]
Hours = Annotated[Decimal, Field(gt=0, decimal_places=2, examples=["320.00"])]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["USD"])]
Skill = Annotated[str, Field(min_length=1, max_length=100, examples=["Salesforce"])]
Location = Annotated[str, Field(min_length=1, max_length=100, examples=["London"])]
BillingType = Literal["Time and Materials", "Fixed Fee"]
ProjectStatus = Literal["active", "closed", "archived"]
StaffingStatus = Literal["open", "filled", "cancelled"]


class RoleRate(BaseModel):
    role: str = Field(examples=["Senior Consultant"])
    rate: Decimal = Field(description="hourly rate in the card's currency", examples=["240"])
    effective_from: date | None = Field(None, description="first day of the rate; null: always")
    effective_to: date | None = Field(None, description="last day of the rate; null: open-ended")


class RateCard(BaseModel):
    code: str = Field(examples=["STD-USD-2026"])
    currency: Currency
    active: bool = Field(description="only active cards can be used by new projects")
    rates: list[RoleRate]


class RateCardList(BaseModel):
    data: list[RateCard]


class MilestoneInput(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    due_date: date
    amount: Money


class Milestone(BaseModel):
    id: str = Field(examples=["MS-001043"])
    name: str
    due_date: date
    amount: Decimal
    completed_on: date | None = Field(None, description="when the customer accepted it")


class ProjectInput(BaseModel):
    external_id: str = Field(
        min_length=1, max_length=255, description="the caller's unique id for this project"
    )
    name: str = Field(min_length=1, max_length=255)
    customer_name: str = Field(min_length=1, max_length=255)
    erp_project_id: str = Field(min_length=1, max_length=64)
    currency: Currency
    budget: Money
    billing_type: BillingType
    rate_card: str = Field(description="code of an active rate card in the same currency")
    start_date: date
    milestones: list[MilestoneInput] = Field(
        default_factory=list, description="for Fixed Fee projects, amounts sum to the budget"
    )
    opportunity_id: str | None = Field(
        None, max_length=18, description="the CRM opportunity the project delivers"
    )


class Project(BaseModel):
    id: str = Field(examples=["PRJ-001042"])
    external_id: str
    name: str
    customer_name: str
    erp_project_id: str
    status: ProjectStatus
    currency: Currency
    budget: Decimal
    billing_type: BillingType
    rate_card: str
    start_date: date
    milestones: list[Milestone]
    opportunity_id: str | None = None
    closed_on: date | None = Field(None, description="last day time may be booked; when closed")
    flags: list[str] = Field(
        default_factory=list,
        description="notes for the project's managers, oldest first, e.g. a consultant who left",
    )


class ProjectList(BaseModel):
    data: list[Project]


class MilestoneList(BaseModel):
    data: list[Milestone]


class FlagInput(BaseModel):
    reason: str = Field(
        min_length=1,
        max_length=500,
        description="what the project's managers should look at; a repeat is recorded once",
        examples=["Senior Consultant RES-001020 leaves on 2026-04-30"],
    )


class StaffingRequestInput(BaseModel):
    role: str = Field(description="a role on the project's rate card")
    hours: Hours
    start_date: date
    skills: list[Skill] = Field(
        default_factory=list, description="skills the consultant should have"
    )
    location: Location | None = Field(None, description="where the work is done, if it matters")
    external_id: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        description="the caller's own id for the request, to find it by (not unique)",
    )


class StaffingRequest(BaseModel):
    id: str = Field(examples=["SR-001043"])
    project_id: str
    role: str
    hours: Decimal
    start_date: date
    skills: list[str] = Field(default_factory=list)
    location: str | None = None
    status: StaffingStatus = Field(
        description="open until an assignment fills it; cancelled when withdrawn"
    )
    external_id: str | None = None


class StaffingRequestList(BaseModel):
    data: list[StaffingRequest]
