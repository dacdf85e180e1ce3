"""Request and response bodies of the PSA API: resources (consultants) and assignments."""

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from sandbox import catalog
from sandbox.psa.schemas import Currency, Hours, Location, Skill

AssignmentStatus = Literal["active", "ended", "cancelled"]


def _known_role(value: str) -> str:
    if value not in catalog.ROLES:
        raise ValueError(f"{value!r} is not one of the roles {', '.join(catalog.ROLES)}")
    return value


RoleName = Annotated[
    str,
    AfterValidator(_known_role),
    Field(description="one of the firm's roles", json_schema_extra={"enum": catalog.ROLES}),
]
CostRate = Annotated[
    Decimal,
    Field(gt=0, decimal_places=2, description="hourly cost in `currency`", examples=["95.00"]),
]
LegalEntity = Annotated[str, Field(min_length=1, max_length=16, examples=["US01"])]
CostCenter = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        description="a cost center of the resource's legal entity",
        examples=["CC-1100"],
    ),
]
Email = Annotated[str, Field(max_length=255, pattern=r"^[^@\s]+@[^@\s]+$")]
Calendar = Annotated[str, Field(min_length=1, max_length=64, examples=["Standard 40h"])]
Origin = Annotated[
    str,
    Field(
        min_length=1,
        max_length=255,
        description="who made the resource active: the integration's key for the process that "
        "created or reactivated it (none for resources made by hand)",
        examples=["hire-to-staff/21034"],
    ),
]


class ResourceInput(BaseModel):
    external_id: str = Field(
        min_length=1,
        max_length=255,
        description="the HCM worker id; unique among resources, active or not",
        examples=["21034"],
    )
    name: str = Field(min_length=1, max_length=255)
    email: Email | None = None
    role: RoleName
    skills: list[Skill] = Field(default_factory=list)
    location: Location | None = None
    legal_entity: LegalEntity
    cost_center: CostCenter
    cost_rate: CostRate
    currency: Currency
    calendar: Calendar = "Standard 40h"
    available_from: date = Field(description="first day the resource can be assigned")
    origin: Origin | None = None


class Resource(BaseModel):
    id: str = Field(examples=["RES-001020"])
    external_id: str
    name: str
    email: str | None = None
    role: str
    skills: list[str]
    location: str | None = None
    legal_entity: str
    cost_center: str
    cost_rate: Decimal
    currency: Currency
    calendar: str
    available_from: date
    active: bool = Field(description="only active resources can be assigned")
    origin: str | None = None


class ResourceList(BaseModel):
    data: list[Resource]


class ResourceChanges(BaseModel):
    """Fields to change; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=255)
    email: Email | None = None
    role: RoleName | None = None
    skills: list[Skill] | None = None
    location: Location | None = None
    legal_entity: LegalEntity | None = None
    cost_center: CostCenter | None = None
    cost_rate: CostRate | None = None
    currency: Currency | None = None
    calendar: Calendar | None = None
    available_from: date | None = None
    origin: Origin | None = None


class AssignmentInput(BaseModel):
    resource_id: str = Field(description="an active resource with the request's role")
    project_id: str = Field(description="the active project the staffing request belongs to")
    staffing_request_id: str = Field(description="an open staffing request; filled by this")
    hours: Hours
    start_date: date = Field(description="not before the resource's available_from")
    end_date: date | None = Field(None, description="not before start_date; open-ended if null")


class Assignment(BaseModel):
    id: str = Field(examples=["ASG-001031"])
    resource_id: str
    project_id: str
    staffing_request_id: str
    hours: Decimal
    start_date: date
    end_date: date | None = None
    status: AssignmentStatus = Field(
        description="active; ended once the work is over; cancelled when it never should have been"
    )


class AssignmentList(BaseModel):
    data: list[Assignment]


class AssignmentEnd(BaseModel):
    end_date: date = Field(description="last day of the assignment; before its start: none")
