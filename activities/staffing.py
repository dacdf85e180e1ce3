"""PSA actions for people: resources, matching candidates, assignments, project flags."""

from datetime import date

from pydantic import BaseModel
from temporalio import activity

from connectors.errors import NotFound, RequestRejected
from connectors.psa import PsaConnector
from models.psa import Assignment, AssignmentInput, Resource, ResourceInput, StaffingRequest
from models.status import CompensationOutcome
from models.undo import UndoReport


def _business_key() -> str:
    """The running workflow's id, which is its business key (DESIGN.md)."""
    workflow_id = activity.info().workflow_id
    assert workflow_id is not None  # resources are provisioned only by workflows
    return workflow_id


class ResourceProvisioning(BaseModel):
    resource: ResourceInput
    idempotency_key: str


class ResourceChange(BaseModel):
    external_id: str
    changes: dict[str, str]


class AssignmentCreation(BaseModel):
    assignment: AssignmentInput
    idempotency_key: str


class AssignmentEnd(BaseModel):
    assignment_id: str
    end_date: date


class ProjectFlag(BaseModel):
    project_id: str
    reason: str


class StaffingActivities:
    def __init__(self, psa: PsaConnector) -> None:
        self._psa = psa

    @activity.defn(name="psa.provision_resource")
    async def provision_resource(self, provisioning: ResourceProvisioning) -> Resource:
        """Create the resource once per worker (an existing one is returned, reactivated).

        A resource this run creates or reactivates carries the run's business key as its
        origin, so that only such a one is deactivated by `deprovision_resource`.
        """
        origin = _business_key()
        existing = await self._psa.find_resource(provisioning.resource.external_id)
        if existing is not None:
            if not existing.active:
                # Marked first: a reactivation cut short is still this run's to undo.
                await self._psa.update_resource(existing.id, {"origin": origin})
                await self._psa.set_resource_active(existing.id, True)
                existing = existing.model_copy(update={"active": True, "origin": origin})
            return existing
        resource = provisioning.resource.model_copy(update={"origin": origin})
        return await self._psa.create_resource(resource, provisioning.idempotency_key)

    @activity.defn(name="psa.get_resource")
    async def get_resource(self, external_id: str) -> Resource | None:
        """The worker's resource, or None when the PSA has none."""
        return await self._psa.find_resource(external_id)

    @activity.defn(name="psa.deactivate_resource")
    async def deactivate_resource(self, external_id: str) -> CompensationOutcome:
        """Termination: the resource can no longer be staffed, whoever made it active.

        Also the hire undo of runs that began before `deprovision_resource` existed.
        """
        resource = await self._psa.find_resource(external_id)
        if resource is None:
            return CompensationOutcome.ALREADY_GONE
        changed = await self._psa.set_resource_active(resource.id, False)
        return CompensationOutcome.UNDONE if changed else CompensationOutcome.ALREADY_GONE

    @activity.defn(name="psa.deprovision_resource")
    async def deprovision_resource(self, external_id: str) -> UndoReport:
        """Undo `provision_resource`: deactivate the resource only if this business key made
        it active; one that was active before the run stays active, `kept`."""
        resource = await self._psa.find_resource(external_id)
        if resource is None or not resource.active:
            return UndoReport(outcome=CompensationOutcome.ALREADY_GONE)
        if resource.origin != _business_key():
            made_by = f"by {resource.origin}" if resource.origin else "outside psflow"
            reason = f"resource {resource.id} was made active {made_by}, not by this run"
            return UndoReport(outcome=CompensationOutcome.KEPT, reason=reason)
        changed = await self._psa.set_resource_active(resource.id, False)
        outcome = CompensationOutcome.UNDONE if changed else CompensationOutcome.ALREADY_GONE
        return UndoReport(outcome=outcome)

    @activity.defn(name="psa.update_resource")
    async def update_resource(self, change: ResourceChange) -> Resource:
        """Set fields on the worker's resource (a transfer, or undoing one)."""
        resource = await self._psa.find_resource(change.external_id)
        if resource is None:
            raise NotFound("psa", f"no resource for worker {change.external_id}")
        return await self._psa.update_resource(resource.id, dict(change.changes))

    @activity.defn(name="psa.restore_resource")
    async def restore_resource(self, change: ResourceChange) -> CompensationOutcome:
        """Undo a transfer: put the resource's previous costing back."""
        await self.update_resource(change)
        return CompensationOutcome.UNDONE

    @activity.defn(name="psa.open_requests")
    async def open_requests(self, role: str) -> list[StaffingRequest]:
        """Open staffing requests for a role, oldest first."""
        return await self._psa.list_open_staffing_requests(role)

    @activity.defn(name="psa.create_assignment")
    async def create_assignment(self, creation: AssignmentCreation) -> Assignment:
        """Assign the resource to the request (which becomes filled), once per key."""
        for existing in await self._psa.list_assignments(
            resource_id=creation.assignment.resource_id, status="active"
        ):
            if existing.staffing_request_id == creation.assignment.staffing_request_id:
                return existing
        return await self._psa.create_assignment(creation.assignment, creation.idempotency_key)

    @activity.defn(name="psa.cancel_assignment")
    async def cancel_assignment(self, creation: AssignmentCreation) -> CompensationOutcome:
        """Undo: cancel the assignment made for this request; the request opens again."""
        for existing in await self._psa.list_assignments(
            resource_id=creation.assignment.resource_id, status="active"
        ):
            if existing.staffing_request_id == creation.assignment.staffing_request_id:
                await self._psa.cancel_assignment(existing.id)
                return CompensationOutcome.UNDONE
        return CompensationOutcome.ALREADY_GONE

    @activity.defn(name="psa.active_assignments")
    async def active_assignments(self, resource_external_id: str) -> list[Assignment]:
        """The worker's active assignments (none when they have no resource)."""
        resource = await self._psa.find_resource(resource_external_id)
        if resource is None:
            return []
        return await self._psa.list_assignments(resource_id=resource.id, status="active")

    @activity.defn(name="psa.end_assignment")
    async def end_assignment(self, end: AssignmentEnd) -> None:
        """End-date an assignment (repeating it changes nothing more)."""
        await self._psa.end_assignment(end.assignment_id, end.end_date)

    @activity.defn(name="psa.reopen_request")
    async def reopen_request(self, request_id: str) -> bool:
        """Open a staffing request again so someone else can fill it.

        False when the PSA keeps it closed (its project is archived): nobody is needed there.
        """
        try:
            await self._psa.reopen_staffing_request(request_id)
        except RequestRejected as exc:
            if exc.status != 409:
                raise
            return False
        return True

    @activity.defn(name="psa.flag_project")
    async def flag_project(self, flag: ProjectFlag) -> None:
        """Leave a note on the project for its managers (idempotent per reason)."""
        await self._psa.flag_project(flag.project_id, flag.reason)

    @activity.defn(name="psa.project_external_id")
    async def project_external_id(self, project_id: str) -> str | None:
        """The project's external id (the ERP job's external id for psflow projects)."""
        project = await self._psa.get_project(project_id)
        return project.external_id if project else None
