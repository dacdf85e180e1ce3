"""The CRM sandbox's own admin routes, beside the shared faults, reset and health routes."""

from typing import Any, Self

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, field_validator, model_validator

from models.billing import check_period
from sandbox.crm.objects import schema_for
from sandbox.crm.seed import NAMED_DEALS, add_closed_won_deals
from sandbox.crm.service import Crm
from sandbox.crm.volume_seed import is_volume_id, volume_opportunities
from sandbox.faults import ADMIN_PREFIX
from sandbox.volume import Volume


class VolumeRequest(BaseModel):
    """The volume every sandbox seeds its slice of (the same body for CRM, ERP and PSA)."""

    projects: int = Field(500, ge=1, description="volume projects, one opportunity each")
    entries: int = Field(100_000, ge=1, description="time entries (the PSA's; unused here)")
    period: str = Field("2026-10", description="billing period, YYYY-MM")
    seed: int = Field(7, description="the same seed gives the same data in every system")
    erp_project_ids: dict[int, str] | None = Field(
        None,
        description="each project's ERP project id by its number, 1 to `projects`, for an ERP "
        "that gives its own ids (Tryton); default: the sandbox NetSuite's job ids",
    )

    @field_validator("period")
    @classmethod
    def _month(cls, value: str) -> str:
        return check_period(value)

    @model_validator(mode="after")
    def _names_every_project(self) -> Self:
        ids = self.erp_project_ids
        if ids is not None and set(ids) != set(range(1, self.projects + 1)):
            raise ValueError("erp_project_ids must name every project, 1 to projects, once")
        return self


class DealsRequest(BaseModel):
    """How many ready-to-provision deals to add (e.g. for a throughput benchmark)."""

    count: int = Field(10, ge=1, le=5000, description="closed-won deals to add")
    seed: int = Field(7, description="the same seed and count give the same deals' values")
    like: str | None = Field(
        None, description="a named deal to make them as (large_usd, unknown_legal_entity...)"
    )

    @field_validator("like")
    @classmethod
    def _named(cls, value: str | None) -> str | None:
        names = [name for name, _ in NAMED_DEALS]
        if value is not None and value not in names:
            raise ValueError(f"like must be one of {', '.join(names)}")
        return value


def crm_admin_router(crm: Crm) -> APIRouter:
    """Admin routes only the CRM has: seeding month-end volume and ready deals."""
    router = APIRouter(prefix=ADMIN_PREFIX, tags=["sandbox admin"])

    @router.post("/seed/volume")
    def seed_volume(request: VolumeRequest) -> dict[str, int]:
        """Replace earlier volume opportunities with one closed-won deal per volume project."""
        volume = Volume(**request.model_dump(exclude={"erp_project_ids"}))
        records = volume_opportunities(volume, request.erp_project_ids)
        replaced = crm.replace_opportunities(is_volume_id, records)
        return {"opportunities": len(records), "replaced": replaced}

    @router.post("/seed/deals", status_code=201)
    def seed_deals(request: DealsRequest) -> dict[str, list[str]]:
        """Add closed-won deals under the approval threshold that opportunity-to-project
        provisions without a person: valid terms, line items, milestones; or deals made as a
        named one is (`like`), so that a test has its own. New ids each call."""
        added = add_closed_won_deals(crm.store, request.count, request.seed, request.like)
        return {"opportunities": added}

    @router.get("/records/{sobject}")
    def records(sobject: str, limit: int = Query(200, ge=1, le=5000)) -> dict[str, Any]:
        """Records of a type, oldest id first, for demos and tests (clients use SOQL)."""
        schema_for(sobject)
        listed = crm.listing(sobject, limit)
        return {"totalSize": len(listed), "done": True, "records": listed}

    return router
