"""Routes for assignments: a resource staffed onto a project's staffing request."""

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from sandbox.psa.assignments import AssignmentService
from sandbox.psa.idempotency import Idempotency, IdempotencyKey
from sandbox.psa.staff_schemas import (
    Assignment,
    AssignmentEnd,
    AssignmentInput,
    AssignmentList,
    AssignmentStatus,
)

TAG = "assignments"


def assignment_routes(assignments: AssignmentService, idem: Idempotency) -> APIRouter:
    """GET and POST routes for assignments."""
    router = APIRouter(tags=[TAG])

    @router.get("/assignments")
    def list_assignments(
        resource_id: str | None = None,
        project_id: str | None = None,
        status: Annotated[AssignmentStatus | None, Query()] = None,
    ) -> AssignmentList:
        """Assignments in creation order, filtered by resource, project and/or status."""
        return AssignmentList(data=assignments.assignments(resource_id, project_id, status))

    @router.get("/assignments/{assignment_id}")
    def get_assignment(assignment_id: str) -> Assignment:
        """One assignment."""
        return assignments.assignment(assignment_id)

    @router.post("/assignments", status_code=201, response_model=Assignment)
    def create_assignment(
        data: AssignmentInput, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Staff a resource onto a staffing request, which becomes `filled`. The resource
        must be active, have the request's role and be available by `start_date`, and the
        request must belong to `project_id` (422 naming the field otherwise); the request
        must be open and the project active (409 otherwise)."""
        action = partial(assignments.create_assignment, data)
        return idem.respond(key, request, data, action, 201)

    @router.post("/assignments/{assignment_id}/end", response_model=Assignment)
    def end_assignment(
        assignment_id: str, data: AssignmentEnd, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """End an active assignment on `end_date`, its last day; its staffing request stays
        filled (reopen it to staff someone else). An `end_date` before the start ends it
        without a working day. Ending an ended assignment answers it unchanged; a cancelled
        one answers 409."""
        action = partial(assignments.end_assignment, assignment_id, data.end_date)
        return idem.respond(key, request, data, action)

    @router.post("/assignments/{assignment_id}/cancel", response_model=Assignment)
    def cancel_assignment(
        assignment_id: str, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Cancel an active assignment, the undo of its creation: its staffing request opens
        again (or is cancelled, on an archived project). Cancelling a cancelled assignment
        answers it unchanged; an ended one answers 409."""
        action = partial(assignments.cancel_assignment, assignment_id)
        return idem.respond(key, request, None, action)

    return router
