"""Routes for time entries and expenses: listing by page, entry, correction and approval."""

from functools import partial
from inspect import cleandoc
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from sandbox.psa.events import AnnounceApproval
from sandbox.psa.idempotency import Idempotency, IdempotencyKey
from sandbox.psa.time_schemas import (
    ApprovalInput,
    ApprovalStatus,
    Expense,
    ExpenseChanges,
    ExpenseInput,
    ExpensePage,
    PageSize,
    Period,
    RejectionInput,
    TimeEntry,
    TimeEntryChanges,
    TimeEntryInput,
    TimeEntryPage,
)
from sandbox.psa.timesheet_service import TimesheetService
from sandbox.psa.timesheets import EXPENSE, TIME, Sheet


def _sheet_routes(
    service: TimesheetService,
    idem: Idempotency,
    sheet: Sheet,
    models: tuple[type[BaseModel], type[BaseModel], type[BaseModel], type[BaseModel]],
    path: str,
    tag: str,
    announce: AnnounceApproval | None = None,
) -> APIRouter:
    """The list, read, create, change, approve and reject routes of one sheet; `announce`
    hears each approval."""
    record_model, input_model, changes_model, page_model = models
    noun = sheet.noun
    router = APIRouter(prefix=path, tags=[tag])

    @router.get(
        "",
        response_model=page_model,
        description=cleandoc(f"""
        A page of {noun} records ordered by id, filtered by project, period (the month of
        the date, YYYY-MM), status and worker. Pass `next_page_token` back as `page_token`
        for the next page; it is null on the last page."""),
    )
    def list_records(
        project_id: str | None = None,
        period: Annotated[Period | None, Query()] = None,
        status: Annotated[ApprovalStatus | None, Query()] = None,
        worker_id: str | None = None,
        page_size: Annotated[PageSize, Query()] = 500,
        page_token: str | None = None,
    ) -> JSONResponse:
        filters = {
            "project_id": project_id,
            "period": period,
            "status": status,
            "worker_id": worker_id,
        }
        return JSONResponse(service.page(sheet, filters, page_size, page_token))

    @router.get("/{record_id}", response_model=record_model, description=f"One {noun}.")
    def get_record(record_id: str) -> BaseModel:
        return service.get(sheet, record_id)

    @router.post(
        "",
        status_code=201,
        response_model=record_model,
        description=cleandoc(f"""
        Record a {noun} for an active resource (by HCM worker id) on a project that is not
        archived. New records are `submitted`, waiting for a project manager."""),
    )
    def create_record(
        data: input_model,  # type: ignore[valid-type]
        request: Request,
        key: IdempotencyKey = None,
    ) -> JSONResponse:
        return idem.respond(key, request, data, partial(service.create, sheet, data), 201)

    @router.patch(
        "/{record_id}",
        response_model=record_model,
        description=cleandoc(f"""
        Change the fields given (unknown fields and nulls answer 422). Changing an approved
        or rejected {noun} submits it again for approval; a change to nothing changes
        nothing."""),
    )
    def update_record(
        record_id: str,
        data: changes_model,  # type: ignore[valid-type]
        request: Request,
        key: IdempotencyKey = None,
    ) -> JSONResponse:
        return idem.respond(key, request, data, partial(service.update, sheet, record_id, data))

    @router.post(
        "/{record_id}/approve",
        response_model=record_model,
        description=cleandoc(f"""
        Approve a submitted {noun}, recording who and when. Approving an approved one
        answers it unchanged; a rejected one must be changed (submitted) first: 409."""),
    )
    def approve_record(
        record_id: str, data: ApprovalInput, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        action = partial(service.approve, sheet, record_id, data.approver)
        if announce is None:
            return idem.respond(key, request, data, action)
        with idem.lock:  # the status before and the approval, with no write between
            before = str(service.get(sheet, record_id).status)
            response = idem.respond(key, request, data, action)
        announce(response, before)
        return response

    @router.post(
        "/{record_id}/reject",
        response_model=record_model,
        description=cleandoc(f"""
        Reject a submitted {noun} with a reason. Rejecting a rejected one answers it
        unchanged; an approved one cannot be rejected: 409."""),
    )
    def reject_record(
        record_id: str, data: RejectionInput, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        action = partial(service.reject, sheet, record_id, data.approver, data.reason)
        return idem.respond(key, request, data, action)

    return router


def time_routes(
    service: TimesheetService, idem: Idempotency, announce: AnnounceApproval | None = None
) -> APIRouter:
    """The routes of /time-entries and /expenses; `announce` hears time entry approvals."""
    router = APIRouter()
    time_models = (TimeEntry, TimeEntryInput, TimeEntryChanges, TimeEntryPage)
    expense_models = (Expense, ExpenseInput, ExpenseChanges, ExpensePage)
    router.include_router(
        _sheet_routes(service, idem, TIME, time_models, "/time-entries", "time entries", announce)
    )
    router.include_router(
        _sheet_routes(service, idem, EXPENSE, expense_models, "/expenses", "expenses")
    )
    return router
