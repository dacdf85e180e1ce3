"""What psflow reads from and writes to the PSA."""

from datetime import date
from decimal import Decimal

from pydantic import BaseModel


class RoleRate(BaseModel):
    role: str
    rate: Decimal


class RateCard(BaseModel):
    code: str
    currency: str
    active: bool
    rates: list[RoleRate]


class PsaMilestoneInput(BaseModel):
    name: str
    due_date: date
    amount: Decimal


class PsaProjectInput(BaseModel):
    external_id: str
    name: str
    customer_name: str
    erp_project_id: str
    currency: str
    budget: Decimal
    billing_type: str
    rate_card: str
    start_date: date
    milestones: list[PsaMilestoneInput]


class PsaProject(BaseModel):
    id: str
    external_id: str
    name: str
    status: str


class StaffingRequestInput(BaseModel):
    project_id: str
    role: str
    hours: Decimal
    start_date: date


class StaffingRequest(BaseModel):
    id: str
    project_id: str
    role: str
    hours: Decimal
    status: str
