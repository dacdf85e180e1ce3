"""Routes for changes to live projects: change orders and the forecast revisions they publish."""

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from sandbox.psa.change_orders import ChangeOrderService
from sandbox.psa.change_schemas import (
    ChangeOrder,
    ChangeOrderInput,
    ChangeOrderList,
    ChangeOrderStatus,
    ChangeOrderStatusInput,
    ForecastRevision,
    ForecastRevisionInput,
    ForecastRevisionList,
)
from sandbox.psa.events import Announce
from sandbox.psa.idempotency import Idempotency, IdempotencyKey

CHANGE_ORDERS = "change orders"
FORECASTS = "forecast revisions"


def _answered(model: type[Any], description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "description": description}}


def change_routes(
    changes: ChangeOrderService, idem: Idempotency, announce: Announce | None = None
) -> APIRouter:
    """Change order and forecast revision routes; `announce` hears each new change order."""
    router = APIRouter()

    @router.post(
        "/change-orders",
        status_code=201,
        response_model=ChangeOrder,
        responses=_answered(ChangeOrder, "The same change order was submitted before"),
        tags=[CHANGE_ORDERS],
    )
    def submit_change_order(
        data: ChangeOrderInput, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Submit a change order for a project (201, status `submitted`). Submitting the same
        change order again answers the one recorded (200); another body under a taken id
        answers 409, naming the fields that differ. A project the PSA does not have is 422
        naming `project_id`."""
        response = idem.respond(key, request, data, partial(changes.submit, data), 201)
        if announce is not None:
            announce(response)
        return response

    @router.get("/change-orders", tags=[CHANGE_ORDERS])
    def list_change_orders(
        project_id: str | None = None,
        status: Annotated[ChangeOrderStatus | None, Query()] = None,
    ) -> ChangeOrderList:
        """Change orders in the order they were submitted, filtered by project and status."""
        return ChangeOrderList(data=changes.change_orders(project_id, status))

    @router.get("/change-orders/{change_order_id}", tags=[CHANGE_ORDERS])
    def get_change_order(change_order_id: str) -> ChangeOrder:
        """One change order with its status."""
        return changes.change_order(change_order_id)

    @router.post(
        "/change-orders/{change_order_id}/status", response_model=ChangeOrder, tags=[CHANGE_ORDERS]
    )
    def set_change_order_status(
        change_order_id: str,
        data: ChangeOrderStatusInput,
        request: Request,
        key: IdempotencyKey = None,
    ) -> JSONResponse:
        """Record that a submitted change order was `applied` or `rejected`, with a note.
        The same status again answers it unchanged (the first note stays); the other
        outcome, once one is recorded, answers 409."""
        action = partial(changes.set_status, change_order_id, data.status, data.note)
        return idem.respond(key, request, data, action)

    @router.get("/projects/{project_id}/forecast-revisions", tags=[FORECASTS])
    def list_forecast_revisions(project_id: str) -> ForecastRevisionList:
        """The project's forecast revisions, oldest first."""
        return ForecastRevisionList(data=changes.revisions(project_id))

    @router.post(
        "/projects/{project_id}/forecast-revisions",
        status_code=201,
        response_model=ForecastRevision,
        responses=_answered(ForecastRevision, "The same revision was published before"),
        tags=[FORECASTS],
    )
    def publish_forecast_revision(
        project_id: str, data: ForecastRevisionInput, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Publish a change order's forecast change on the project: its budget and the hours
        per role it revises (201). One revision per change order: the same body again
        answers it (200), another body answers 409 naming the fields that differ. An
        archived project answers 409."""
        action = partial(changes.publish, project_id, data)
        return idem.respond(key, request, data, action, 201)

    @router.delete(
        "/projects/{project_id}/forecast-revisions/{change_order_id}",
        status_code=204,
        tags=[FORECASTS],
    )
    def withdraw_forecast_revision(project_id: str, change_order_id: str) -> Response:
        """Withdraw a change order's forecast revision (204); 404 when the project has none
        for that change order, e.g. because it was withdrawn already."""
        with idem.lock:
            changes.withdraw(project_id, change_order_id)
        return Response(status_code=204)

    return router
