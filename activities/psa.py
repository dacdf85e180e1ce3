"""PSA actions and their compensations."""

from datetime import date
from decimal import Decimal

from pydantic import BaseModel
from temporalio import activity

from connectors.psa import PsaConnector
from models.psa import PsaProject, PsaProjectInput, RateCard, StaffingRequest, StaffingRequestInput
from models.status import CompensationOutcome


class ProjectCreation(BaseModel):
    project: PsaProjectInput
    idempotency_key: str


class StaffingPlan(BaseModel):
    project_id: str
    start_date: date
    hours_by_role: dict[str, Decimal]
    idempotency_prefix: str


class PsaActivities:
    def __init__(self, psa: PsaConnector) -> None:
        self._psa = psa

    @activity.defn(name="psa.get_rate_card")
    async def get_rate_card(self, code: str) -> RateCard | None:
        """The rate card, or None when the PSA has no such card."""
        return await self._psa.get_rate_card(code)

    @activity.defn(name="psa.create_project")
    async def create_project(self, creation: ProjectCreation) -> PsaProject:
        """Create the delivery project with its milestones and budget, once per key."""
        existing = await self._psa.find_project(creation.project.external_id)
        if existing is not None:
            return existing
        return await self._psa.create_project(creation.project, creation.idempotency_key)

    @activity.defn(name="psa.archive_project")
    async def archive_project(self, external_id: str) -> CompensationOutcome:
        """Undo: archive the project (which cancels its open staffing requests)."""
        project = await self._psa.find_project(external_id)
        if project is None:
            return CompensationOutcome.ALREADY_GONE
        archived = await self._psa.archive_project(project.id)
        return CompensationOutcome.UNDONE if archived else CompensationOutcome.ALREADY_GONE

    @activity.defn(name="psa.open_staffing_requests")
    async def open_staffing_requests(self, plan: StaffingPlan) -> list[StaffingRequest]:
        """One staffing request per sold role; each keyed so a retry opens none twice."""
        opened = []
        for role, hours in plan.hours_by_role.items():
            request = StaffingRequestInput(
                project_id=plan.project_id, role=role, hours=hours, start_date=plan.start_date
            )
            key = f"{plan.idempotency_prefix}/{role}"
            opened.append(await self._psa.create_staffing_request(request, key))
        return opened

    @activity.defn(name="psa.cancel_staffing_requests")
    async def cancel_staffing_requests(self, external_id: str) -> CompensationOutcome:
        """Undo: cancel every open staffing request of the project psflow created."""
        project = await self._psa.find_project(external_id)
        if project is None:
            return CompensationOutcome.ALREADY_GONE
        cancelled = 0
        for request in await self._psa.list_staffing_requests(project.id):
            if request.status == "open" and await self._psa.cancel_staffing_request(request.id):
                cancelled += 1
        return CompensationOutcome.UNDONE if cancelled else CompensationOutcome.ALREADY_GONE
