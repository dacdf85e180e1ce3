"""The PSA sandbox: a documented REST API for rate cards, projects, staffing and resources."""

import threading
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI

from sandbox.auth import TokenIssuer, bearer_required
from sandbox.faults import FaultBook, FaultMiddleware, admin_router
from sandbox.psa.assignments import AssignmentService
from sandbox.psa.change_orders import ChangeOrderService
from sandbox.psa.errors import ERRORS, install_error_handlers, status_error_body, unauthorized
from sandbox.psa.events import change_order_submitted, time_entry_approved
from sandbox.psa.idempotency import Idempotency
from sandbox.psa.resources import ResourceService
from sandbox.psa.routes_assignments import assignment_routes
from sandbox.psa.routes_billing import billing_routes
from sandbox.psa.routes_changes import change_routes
from sandbox.psa.routes_projects import project_routes
from sandbox.psa.routes_resources import resource_routes
from sandbox.psa.routes_staffing import staffing_routes
from sandbox.psa.routes_time import time_routes
from sandbox.psa.seed import seed
from sandbox.psa.service import PsaService
from sandbox.psa.timesheet_service import TimesheetService
from sandbox.psa.timesheets import TimesheetStore
from sandbox.psa.volume_seed import volume_admin_router
from sandbox.records import RecordStore
from sandbox.webhooks import Outbox

API_PREFIX = "/api/v1"
TOKEN_PATH = "/oauth/token"

DESCRIPTION = f"""
Rate cards, delivery projects with milestones and budgets, staffing requests, resources
(consultants) and their assignments to projects, time entries and expenses with their
approvals, what billing needs of each project, and change orders with the forecast revisions
they publish.

**Authentication.** Get a bearer token with the OAuth 2.0 client-credentials grant
(`POST {TOKEN_PATH}`, form fields `grant_type=client_credentials`, `client_id`,
`client_secret`) and send it as `Authorization: Bearer <token>` on every `{API_PREFIX}` call.

**Idempotent requests.** Every `POST` (and `PATCH`) accepts an `Idempotency-Key` header (any
unique string up to 255 characters, e.g. a UUID or a business key). The first response to a
key, status and body, is remembered; a repeat with the same key and the same method, path and
body gets that response again, with the header `Idempotent-Replayed: true`, and changes
nothing. The same key with a different request answers `422` with code
`idempotency_key_reused`. Requests rejected by validation (`422`) and requests that never
reached the API (`429`, `5xx`) are not remembered, so a key can be retried after correcting
the input or after an outage. State changes (archive, cancel, reopen, deactivate, end, flag)
are idempotent in themselves: repeating one answers the record unchanged.

**External ids.** `external_id` is the caller's own id. For a project it is unique among
projects that are not archived (archiving frees it); for a resource it is the HCM worker id
and unique among all resources, active or not. Creating a second record with a taken
external id answers `409` with code `conflict`, naming the existing record. A staffing
request may carry one too, not unique: `GET /projects/{{id}}/staffing-requests?external_id=`
finds the requests a caller opened under it, even when it never saw the answer.

**Staffing.** A staffing request is `open` until an assignment fills it (`filled`) or it is
withdrawn (`cancelled`). Cancelling an assignment opens its request again; ending one leaves
the request filled.

**Change orders.** A change order (`POST /change-orders`) is identified by the caller's id:
submitting the same one again answers the one recorded, another body under that id answers
`409`. It is `submitted` until `POST /change-orders/{{id}}/status` makes it `applied` or
`rejected`, and then stays so. Applying one sets the project's budget
(`POST /projects/{{id}}/budget`), changes the hours of open staffing requests
(`PATCH /staffing-requests/{{id}}`) and publishes a forecast revision
(`POST /projects/{{id}}/forecast-revisions`, one per change order, withdrawn with `DELETE`).
Each of these answers the record unchanged when asked for what it already holds, so an undo
restores the previous values with the same calls.

**Time and expenses.** Time entries and expenses are `submitted` when recorded, then
`approved` or `rejected` by a project manager; changing an approved or rejected one submits it
again. Lists are paged: `page_size` (at most 1000) records in id order and an opaque
`next_page_token`, null on the last page, passed back as `page_token`.

**Errors.** Every error has one shape:
`{{"error": {{"code": "...", "message": "...", "fields": ["..."]}}}}`, where `fields` names
the request fields at fault. Money and hours are decimal strings, e.g. `"12500.00"`.
"""

TAGS = [
    {"name": "rate cards", "description": "Hourly rates per role, one card per currency."},
    {"name": "projects", "description": "Delivery projects with budgets, milestones and flags."},
    {"name": "staffing requests", "description": "Demand for a role on a project."},
    {"name": "resources", "description": "Consultants, one per HCM worker, with cost rates."},
    {"name": "assignments", "description": "A resource staffed onto a staffing request."},
    {"name": "change orders", "description": "Scope and budget changes to live projects."},
    {"name": "forecast revisions", "description": "A change order's forecast, per project."},
    {"name": "time entries", "description": "Hours worked on projects, approved by managers."},
    {"name": "expenses", "description": "Costs incurred on projects, approved by managers."},
    {"name": "billing", "description": "Approved work by period and projects' billing terms."},
    {"name": "auth", "description": "OAuth 2.0 client-credentials tokens."},
    {"name": "sandbox admin", "description": "Fault injection and reset (sandbox only)."},
]


def api_router(
    store: RecordStore,
    sheets: TimesheetStore,
    idem: Idempotency,
    issuer: TokenIssuer,
    outbox: Outbox | None = None,
) -> APIRouter:
    """Every /api/v1 route, behind the bearer token; new change orders and time approvals
    are announced through `outbox`."""
    bearer = bearer_required(
        issuer,
        unauthorized,
        "PsaAccessToken",
        f"An access token from OAuth 2.0 client credentials at POST {TOKEN_PATH}.",
    )
    router = APIRouter(
        prefix=API_PREFIX,
        dependencies=[Depends(bearer)],
        responses=ERRORS,
    )
    psa = PsaService(store)
    resources = ResourceService(store)
    router.include_router(project_routes(psa, idem))
    router.include_router(staffing_routes(psa, idem))
    router.include_router(resource_routes(resources, idem))
    router.include_router(assignment_routes(AssignmentService(store, psa), idem))
    timesheets = TimesheetService(sheets, store)
    approved = time_entry_approved(outbox) if outbox else None
    router.include_router(time_routes(timesheets, idem, approved))
    router.include_router(billing_routes(psa, timesheets, idem))
    submitted = change_order_submitted(outbox) if outbox else None
    router.include_router(change_routes(ChangeOrderService(store), idem, submitted))
    return router


def create_app(
    db_path: Path,
    *,
    client_id: str,
    client_secret: str,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    delivery_attempts: int = 5,
    delivery_backoff_seconds: float = 0.5,
) -> FastAPI:
    """The PSA sandbox on a SQLite file, seeded when the file is new. Change orders submitted
    and time entries approved are announced to `webhook_url` (when set)."""
    store = RecordStore(db_path)
    sheets = TimesheetStore(db_path)
    if store.is_empty():
        seed(store)
    # One write at a time, so checks and the writes they allow cannot interleave.
    lock = threading.RLock()
    outbox = Outbox(
        store,
        "PSA",
        webhook_url,
        secret=webhook_secret,
        attempts=delivery_attempts,
        backoff_seconds=delivery_backoff_seconds,
    )

    def reset() -> None:
        outbox.deliverer.cancel_all()
        with lock:
            store.clear()
            sheets.clear()
            seed(store)

    book = FaultBook()
    issuer = TokenIssuer(client_id, client_secret)
    app = FastAPI(title="PSA API", version="1.2.0", description=DESCRIPTION, openapi_tags=TAGS)
    install_error_handlers(app)
    app.add_middleware(FaultMiddleware, book=book, error_body=status_error_body)
    app.include_router(issuer.router(TOKEN_PATH))
    app.include_router(api_router(store, sheets, Idempotency(store, lock), issuer, outbox))
    app.include_router(outbox.router())
    app.include_router(admin_router(book, reset))
    app.include_router(volume_admin_router(store, sheets, lock))
    return app
