"""Routes for staffing requests: demand for a role on a project."""

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from sandbox.psa.change_schemas import StaffingRequestChanges
from sandbox.psa.idempotency import Idempotency, IdempotencyKey
from sandbox.psa.schemas import (
    StaffingRequest,
    StaffingRequestInput,
    StaffingRequestList,
    StaffingStatus,
)
from sandbox.psa.service import PsaService

TAG = "staffing requests"


def staffing_routes(psa: PsaService, idem: Idempotency) -> APIRouter:
    """GET, POST and PATCH routes for staffing requests."""
    router = APIRouter(tags=[TAG])

    @router.get("/projects/{project_id}/staffing-requests")
    def list_project_staffing_requests(
        project_id: str, external_id: str | None = None
    ) -> StaffingRequestList:
        """Every staffing request of a project, whatever its status; `?external_id=` only
        those the caller gave that id."""
        return StaffingRequestList(data=psa.staffing_requests(project_id, external_id))

    @router.get("/staffing-requests")
    def list_staffing_requests(
        status: Annotated[StaffingStatus | None, Query()] = None,
        role: str | None = None,
    ) -> StaffingRequestList:
        """Staffing requests across every project, oldest first, filtered by status and/or
        role: `?status=open` is the demand waiting for consultants."""
        return StaffingRequestList(data=psa.all_staffing_requests(status, role))

    @router.get("/staffing-requests/{request_id}")
    def get_staffing_request(request_id: str) -> StaffingRequest:
        """One staffing request."""
        return psa.staffing_request(request_id)

    @router.post(
        "/projects/{project_id}/staffing-requests",
        status_code=201,
        response_model=StaffingRequest,
    )
    def create_staffing_request(
        project_id: str, data: StaffingRequestInput, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Open a staffing request on an active project, for a role on its rate card,
        optionally asking for skills and a location."""
        action = partial(psa.create_staffing_request, project_id, data)
        return idem.respond(key, request, data, action, 201)

    @router.patch("/staffing-requests/{request_id}", response_model=StaffingRequest)
    def update_staffing_request(
        request_id: str,
        data: StaffingRequestChanges,
        request: Request,
        key: IdempotencyKey = None,
    ) -> JSONResponse:
        """Change the hours of an open staffing request (hours above zero; other fields
        answer 422). The same hours again answer it unchanged; a filled or cancelled request
        answers 409."""
        action = partial(psa.set_staffing_hours, request_id, data.hours)
        return idem.respond(key, request, data, action)

    @router.post("/staffing-requests/{request_id}/cancel", response_model=StaffingRequest)
    def cancel_staffing_request(
        request_id: str, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Cancel an open staffing request; cancelling a cancelled one answers it unchanged.
        A filled request cannot be cancelled (409)."""
        return idem.respond(key, request, None, partial(psa.cancel_staffing_request, request_id))

    @router.post("/staffing-requests/{request_id}/reopen", response_model=StaffingRequest)
    def reopen_staffing_request(
        request_id: str, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Open a filled or cancelled staffing request again; reopening an open one answers
        it unchanged. 409 when its project is archived or an active assignment still fills
        it (end or cancel the assignment first)."""
        return idem.respond(key, request, None, partial(psa.reopen_staffing_request, request_id))

    return router
