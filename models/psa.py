"""What psflow reads from and writes to the PSA."""

from datetime import date
from decimal import Decimal

from pydantic import BaseModel


class RoleRate(BaseModel):
    role: str
    rate: Decimal
    effective_from: date | None = None
    """First day the rate applies (None: since ever)."""
    effective_to: date | None = None
    """Last day the rate applies (None: until further notice)."""


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
    opportunity_id: str | None = None


class PsaProject(BaseModel):
    id: str
    external_id: str
    name: str
    status: str
    flags: list[str] = []
    """Notes for the project's managers, e.g. a staffed consultant who left."""
    budget: Decimal | None = None
    """The delivery budget in the project's currency, as change orders leave it."""
    currency: str | None = None


class StaffingRequestInput(BaseModel):
    project_id: str
    role: str
    hours: Decimal
    start_date: date
    skills: list[str] = []
    location: str | None = None
    external_id: str | None = None
    """The caller's own id for the request, to find it again by (not unique in the PSA)."""


class StaffingRequest(BaseModel):
    id: str
    project_id: str
    role: str
    hours: Decimal
    status: str
    """open, filled or cancelled."""
    start_date: date | None = None
    skills: list[str] = []
    location: str | None = None
    external_id: str | None = None


class ResourceInput(BaseModel):
    external_id: str
    """The HCM worker id."""
    name: str
    email: str | None = None
    role: str
    skills: list[str] = []
    location: str | None = None
    legal_entity: str
    cost_center: str
    cost_rate: Decimal
    currency: str
    calendar: str = "Standard 40h"
    available_from: date
    origin: str | None = None
    """The business key that made it active (created or reactivated it); None if by hand."""


class Resource(BaseModel):
    id: str
    external_id: str
    name: str
    role: str
    skills: list[str] = []
    location: str | None = None
    legal_entity: str
    cost_center: str
    cost_rate: Decimal
    currency: str
    active: bool
    available_from: date
    origin: str | None = None


class AssignmentInput(BaseModel):
    resource_id: str
    project_id: str
    staffing_request_id: str
    hours: Decimal
    start_date: date
    end_date: date | None = None


class Assignment(BaseModel):
    id: str
    resource_id: str
    project_id: str
    staffing_request_id: str
    hours: Decimal
    start_date: date
    end_date: date | None = None
    status: str
    """active, ended or cancelled."""
