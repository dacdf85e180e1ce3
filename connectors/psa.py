"""The PSA's REST API (/api/v1): rate cards, delivery projects and staffing requests."""

from typing import Any
from urllib.parse import quote

import httpx

from connectors.base import Connector
from connectors.errors import NotFound, RequestRejected
from models.psa import (
    PsaProject,
    PsaProjectInput,
    RateCard,
    StaffingRequest,
    StaffingRequestInput,
)

API = "/api/v1"


def _path(*segments: str) -> str:
    """An API path with each segment escaped, so ids cannot reshape the URL."""
    return "/".join([API, *(quote(s, safe="") for s in segments)])


class PsaConnector(Connector):
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
