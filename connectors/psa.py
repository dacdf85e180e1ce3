"""The PSA's REST API (/api/v1): rate cards, projects, staffing, resources and assignments."""

from datetime import date
from typing import Any
from urllib.parse import quote

import httpx
from pydantic_core import to_jsonable_python

from connectors.base import Connector
from connectors.errors import NotFound, RequestRejected
from connectors.psa_billing import PsaBillingMixin
from connectors.psa_changes import PsaChangesMixin
from models.psa import (
    Assignment,
    AssignmentInput,
    PsaProject,
    PsaProjectInput,
    RateCard,
    Resource,
    ResourceInput,
    StaffingRequest,
    StaffingRequestInput,
)

API = "/api/v1"


def _path(*segments: str) -> str:
    """An API path with each segment escaped, so ids cannot reshape the URL."""
    return "/".join([API, *(quote(s, safe="") for s in segments)])


def _params(**values: str | bool | None) -> dict[str, str]:
    """Query parameters, leaving out the ones not given; booleans as true/false."""
    params: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, bool):
            params[name] = "true" if value else "false"
        elif value is not None:
            params[name] = value
    return params


class PsaConnector(PsaChangesMixin, PsaBillingMixin, Connector):
    """Client for the PSA. One call per method; Temporal retries what is retryable."""

    system = "psa"
    token_path = "/oauth/token"

    def error_message(self, response: httpx.Response) -> tuple[str, list[str]]:
        """Reads `{"error": {"code", "message", "fields"}}`, the PSA's one error shape."""
        try:
            error = response.json()["error"]
            code, message = error["code"], error["message"]
            fields = [str(f) for f in error.get("fields") or []]
        except (ValueError, KeyError, TypeError):
            return super().error_message(response)
        return f"{code}: {message}", fields

    async def _get_or_none(self, path: str) -> Any:
        try:
            response = await self.request("GET", path)
        except NotFound:
            return None
        return response.json()

    async def _get(self, path: str) -> Any:
        response = await self.request("GET", path)
        return response.json()

    async def _post(self, path: str, json: Any = None, idempotency_key: str | None = None) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        response = await self.request("POST", path, json=json, headers=headers)
        return response.json()

    async def get_rate_card(self, code: str) -> RateCard | None:
        """The rate card with this code, or None when the PSA has none."""
        body = await self._get_or_none(_path("rate-cards", code))
        return None if body is None else RateCard.model_validate(body)

    async def create_project(self, data: PsaProjectInput, idempotency_key: str) -> PsaProject:
        """Create the project with its milestones.

        A repeat with the same key answers the first result. When the external id already
        belongs to an active project (created under another key), that project is returned,
        so a create is an upsert by external id; an archived one stays a conflict.
        """
        try:
            body = await self._post(
                _path("projects"), data.model_dump(mode="json"), idempotency_key
            )
        except RequestRejected as exc:
            if exc.status != 409:
                raise
            existing = await self.find_project(data.external_id)
            if existing is None or existing.status != "active":
                raise
            return existing
        return PsaProject.model_validate(body)

    async def get_project(self, project_id: str) -> PsaProject | None:
        """The project, or None when it does not exist."""
        body = await self._get_or_none(_path("projects", project_id))
        return None if body is None else PsaProject.model_validate(body)

    async def list_projects(
        self, *, external_id: str | None = None, status: str | None = None
    ) -> list[PsaProject]:
        """Projects, optionally only those with this external id and/or status."""
        params = {k: v for k, v in (("external_id", external_id), ("status", status)) if v}
        response = await self.request("GET", _path("projects"), params=params)
        return [PsaProject.model_validate(p) for p in response.json()["data"]]

    async def find_project(self, external_id: str) -> PsaProject | None:
        """The live (not archived) project carrying this external id, or None."""
        found = await self.list_projects(external_id=external_id, status="active")
        return found[0] if found else None

    async def archive_project(self, project_id: str) -> bool:
        """Archive the project (its open staffing requests are cancelled with it).

        True when this call archived it; False when it was archived already or is gone,
        which a compensation counts as done.
        """
        project = await self.get_project(project_id)
        if project is None or project.status == "archived":
            return False
        try:
            await self._post(_path("projects", project_id, "archive"))
        except NotFound:
            return False
        return True

    async def create_staffing_request(
        self, data: StaffingRequestInput, idempotency_key: str
    ) -> StaffingRequest:
        """Open a staffing request on an active project, for a role on its rate card."""
        payload = data.model_dump(mode="json", exclude={"project_id"})
        path = _path("projects", data.project_id, "staffing-requests")
        return StaffingRequest.model_validate(await self._post(path, payload, idempotency_key))

    async def cancel_staffing_request(self, request_id: str) -> bool:
        """Cancel the request. True when this call cancelled it; False when it was
        cancelled already or is gone. A filled request raises RequestRejected (409)."""
        body = await self._get_or_none(_path("staffing-requests", request_id))
        if body is None or StaffingRequest.model_validate(body).status == "cancelled":
            return False
        try:
            await self._post(_path("staffing-requests", request_id, "cancel"))
        except NotFound:
            return False
        return True

    async def list_staffing_requests(self, project_id: str) -> list[StaffingRequest]:
        """Every staffing request of the project, whatever its status (NotFound if no project)."""
        response = await self.request("GET", _path("projects", project_id, "staffing-requests"))
        return [StaffingRequest.model_validate(r) for r in response.json()["data"]]

    async def find_staffing_requests(
        self, project_id: str, external_id: str
    ) -> list[StaffingRequest]:
        """The project's staffing requests opened with this external id, whatever their status
        (NotFound if no project)."""
        path = _path("projects", project_id, "staffing-requests")
        response = await self.request("GET", path, params=_params(external_id=external_id))
        return [StaffingRequest.model_validate(r) for r in response.json()["data"]]

    async def list_open_staffing_requests(self, role: str | None = None) -> list[StaffingRequest]:
        """Open staffing requests across every project, oldest first, optionally for one role."""
        params = _params(status="open", role=role)
        response = await self.request("GET", _path("staffing-requests"), params=params)
        return [StaffingRequest.model_validate(r) for r in response.json()["data"]]

    async def reopen_staffing_request(self, request_id: str) -> bool:
        """Open a filled or cancelled request again. True when this call reopened it; False
        when it was open already. NotFound when it does not exist; RequestRejected (409) while
        an active assignment fills it or its project is archived."""
        request = await self._get(_path("staffing-requests", request_id))
        if StaffingRequest.model_validate(request).status == "open":
            return False
        await self._post(_path("staffing-requests", request_id, "reopen"))
        return True

    async def flag_project(self, project_id: str, reason: str) -> None:
        """Add a flag for the project's managers; a reason it already carries is kept once."""
        await self._post(_path("projects", project_id, "flags"), {"reason": reason})

    # ---- resources

    async def get_resource(self, resource_id: str) -> Resource | None:
        """The resource, or None when it does not exist."""
        body = await self._get_or_none(_path("resources", resource_id))
        return None if body is None else Resource.model_validate(body)

    async def find_resource(self, external_id: str) -> Resource | None:
        """The resource carrying this external id (the HCM worker id), active or not, or None."""
        params = _params(external_id=external_id)
        response = await self.request("GET", _path("resources"), params=params)
        found = response.json()["data"]
        return Resource.model_validate(found[0]) if found else None

    async def list_resources(
        self, *, active: bool | None = None, role: str | None = None
    ) -> list[Resource]:
        """Resources in creation order, optionally only (in)active ones and/or one role."""
        params = _params(active=active, role=role)
        response = await self.request("GET", _path("resources"), params=params)
        return [Resource.model_validate(r) for r in response.json()["data"]]

    async def create_resource(self, data: ResourceInput, idempotency_key: str) -> Resource:
        """Create an active resource. A repeat with the same key answers the first result;
        when the external id already has a resource (created under another key), that one is
        returned as it is, active or not, so a create is an upsert by external id."""
        try:
            body = await self._post(
                _path("resources"), data.model_dump(mode="json"), idempotency_key
            )
        except RequestRejected as exc:
            if exc.status != 409:
                raise
            existing = await self.find_resource(data.external_id)
            if existing is None:
                raise
            return existing
        return Resource.model_validate(body)

    async def update_resource(self, resource_id: str, changes: dict[str, object]) -> Resource:
        """Change the given fields (e.g. cost_center, cost_rate) and answer the resource.
        Decimals and dates are sent as strings; an unknown field is a RequestRejected (422)."""
        response = await self.request(
            "PATCH", _path("resources", resource_id), json=to_jsonable_python(changes)
        )
        return Resource.model_validate(response.json())

    async def set_resource_active(self, resource_id: str, active: bool) -> bool:
        """Activate or deactivate the resource; True when this call changed it.

        Deactivating a resource that is gone answers False, which a compensation counts as
        done; reactivating one raises NotFound.
        """
        resource = await self.get_resource(resource_id)
        if resource is None:
            if active:
                raise NotFound(self.system, f"resource {resource_id} does not exist", status=404)
            return False
        if resource.active == active:
            return False
        action = "reactivate" if active else "deactivate"
        await self._post(_path("resources", resource_id, action))
        return True

    # ---- assignments

    async def get_assignment(self, assignment_id: str) -> Assignment | None:
        """The assignment, or None when it does not exist."""
        body = await self._get_or_none(_path("assignments", assignment_id))
        return None if body is None else Assignment.model_validate(body)

    async def list_assignments(
        self,
        *,
        resource_id: str | None = None,
        project_id: str | None = None,
        status: str | None = None,
    ) -> list[Assignment]:
        """Assignments in creation order, filtered by resource, project and/or status."""
        params = _params(resource_id=resource_id, project_id=project_id, status=status)
        response = await self.request("GET", _path("assignments"), params=params)
        return [Assignment.model_validate(a) for a in response.json()["data"]]

    async def create_assignment(self, data: AssignmentInput, idempotency_key: str) -> Assignment:
        """Staff the resource onto the open staffing request, which becomes filled.

        A repeat with the same key answers the first result. When the request is already
        filled by an active assignment of this resource (made under another key), that one is
        returned; any other 409 (request not open, project archived) is a RequestRejected.
        """
        try:
            body = await self._post(
                _path("assignments"), data.model_dump(mode="json"), idempotency_key
            )
        except RequestRejected as exc:
            if exc.status != 409:
                raise
            for existing in await self.list_assignments(
                resource_id=data.resource_id, project_id=data.project_id, status="active"
            ):
                if existing.staffing_request_id == data.staffing_request_id:
                    return existing
            raise
        return Assignment.model_validate(body)

    async def end_assignment(self, assignment_id: str, end_date: date) -> bool:
        """End the assignment on its last day. True when this call ended it; False when it had
        ended already (its first end date stays). NotFound when it does not exist;
        RequestRejected (409) when it was cancelled."""
        assignment = Assignment.model_validate(await self._get(_path("assignments", assignment_id)))
        if assignment.status == "ended":
            return False
        body = {"end_date": end_date.isoformat()}
        await self._post(_path("assignments", assignment_id, "end"), body)
        return True

    async def cancel_assignment(self, assignment_id: str) -> bool:
        """Cancel the assignment, which opens its staffing request again: the undo of a create.
        True when this call cancelled it; False when it was cancelled already or is gone.
        An ended assignment raises RequestRejected (409)."""
        assignment = await self.get_assignment(assignment_id)
        if assignment is None or assignment.status == "cancelled":
            return False
        try:
            await self._post(_path("assignments", assignment_id, "cancel"))
        except NotFound:
            return False
        return True
