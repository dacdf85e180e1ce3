"""Changes to live PSA projects: change orders, forecast revisions, budgets and demand.

A mixin of PsaConnector. Each write is idempotent in the PSA itself (the same change order,
revision, budget or hours again answers the record unchanged), so a retried activity and a
compensation that puts a previous value back are both a plain repeat of the call.
"""

from decimal import Decimal
from typing import Any
from urllib.parse import quote

from connectors.base import Connector
from connectors.errors import NotFound, RequestRejected
from models.change_order import ChangeOrder, ForecastRevision
from models.psa import PsaProject, StaffingRequest

API = "/api/v1"


def _path(*segments: str) -> str:
    """An API path with each segment escaped, so ids cannot reshape the URL."""
    return "/".join([API, *(quote(s, safe="") for s in segments)])


class PsaChangesMixin(Connector):
    """Change orders, forecast revisions, project budgets and staffing hours; PsaConnector
    inherits them."""

    async def _send(self, method: str, path: str, json: Any = None) -> Any:
        response = await self.request(method, path, json=json)
        return response.json() if response.content else None

    # ---- change orders

    async def get_change_order(self, change_order_id: str) -> ChangeOrder | None:
        """The change order as submitted, or None when the PSA has none with this id."""
        try:
            body = await self._send("GET", _path("change-orders", change_order_id))
        except NotFound:
            return None
        return ChangeOrder.model_validate(body)

    async def submit_change_order(self, change_order: ChangeOrder) -> ChangeOrder:
        """Submit the change order to the PSA (status `submitted`); the same one again answers
        the one recorded. RequestRejected (409, naming the fields that differ) when the id is
        taken by another change order; 422 naming `project_id` for an unknown project."""
        body = await self._send(
            "POST", _path("change-orders"), change_order.model_dump(mode="json")
        )
        return ChangeOrder.model_validate(body)

    async def set_change_order_status(
        self, change_order_id: str, status: str, note: str | None = None
    ) -> None:
        """Record that the change order was `applied` or `rejected`; the same status again
        is a no-op. The other outcome once one is recorded is RequestRejected (409); a status
        the PSA does not know is RequestRejected (422 naming `status`)."""
        path = _path("change-orders", change_order_id, "status")
        await self._send("POST", path, {"status": status, "note": note})

    # ---- forecast revisions

    async def publish_forecast(
        self, project_id: str, revision: ForecastRevision
    ) -> ForecastRevision:
        """Publish the change order's forecast revision on the project and answer it as the
        PSA recorded it (with created_at); the same revision again answers the first.
        RequestRejected (409) when the change order already has another revision or the
        project is archived; NotFound when there is no such project."""
        if revision.project_id != project_id:
            raise RequestRejected(
                self.system,
                f"revision of project {revision.project_id} sent to project {project_id}",
                fields=["project_id"],
            )
        body = revision.model_dump(
            mode="json", include={"change_order_id", "budget", "hours_by_role"}
        )
        answer = await self._send("POST", _path("projects", project_id, "forecast-revisions"), body)
        return ForecastRevision.model_validate(answer)

    async def withdraw_forecast(self, project_id: str, change_order_id: str) -> bool:
        """Withdraw the change order's forecast revision: True when this call removed it,
        False when there was none (already withdrawn, or no such project)."""
        path = _path("projects", project_id, "forecast-revisions", change_order_id)
        try:
            await self._send("DELETE", path)
        except NotFound:
            return False
        return True

    async def forecast_revisions(self, project_id: str) -> list[ForecastRevision]:
        """The project's forecast revisions, oldest first (NotFound when no such project)."""
        body = await self._send("GET", _path("projects", project_id, "forecast-revisions"))
        return [ForecastRevision.model_validate(r) for r in body["data"]]

    # ---- budget and demand

    async def set_project_budget(self, project_id: str, budget: Decimal) -> PsaProject:
        """Set the project's budget and answer the project; the same budget again answers it
        unchanged. NotFound for no such project; RequestRejected (409) when it is archived,
        (422 naming `budget`) for a negative budget."""
        path = _path("projects", project_id, "budget")
        return PsaProject.model_validate(await self._send("POST", path, {"budget": str(budget)}))

    async def set_staffing_request_hours(self, request_id: str, hours: Decimal) -> StaffingRequest:
        """Change an open staffing request's hours and answer it; the same hours again answer
        it unchanged. RequestRejected (409) for a filled or cancelled request, (422 naming
        `hours`) for hours not above zero; NotFound for no such request."""
        path = _path("staffing-requests", request_id)
        body = await self._send("PATCH", path, {"hours": str(hours)})
        return StaffingRequest.model_validate(body)
