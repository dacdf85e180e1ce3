"""The HCM sandbox: a local stand-in for Workday that speaks a Workday-style REST API."""

import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query
from pydantic import BaseModel, Field

from sandbox.auth import UNAUTHORIZED, TokenIssuer, bearer_required, validation_answered_400
from sandbox.faults import ADMIN_PREFIX, FaultBook, FaultMiddleware, admin_router
from sandbox.hcm.events import EventBook, events_router
from sandbox.hcm.seed import WORKER, add_prehires, seed
from sandbox.hcm.workday import (
    HANDLERS,
    WorkdayError,
    find_worker,
    render_worker,
    status_error_body,
    worker_not_found,
)
from sandbox.records import RecordStore
from sandbox.vendor_auth import WorkdayTokens

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def token_path(tenant: str) -> str:
    return f"/ccx/oauth2/{tenant}/token"


def api_prefix(tenant: str) -> str:
    return f"/ccx/api/v1/{tenant}"


def description(tenant: str) -> str:
    return f"""
Workers of tenant `{tenant}`, in the shape of Workday's REST API.

**Authentication.** An API client's refresh-token grant at `POST {token_path(tenant)}`
(`grant_type=refresh_token`, `refresh_token`; the client id and secret by HTTP Basic); send
the access token as `Authorization: Bearer <token>`.

**Paging.** `GET {api_prefix(tenant)}/workers?limit=&offset=` answers
`{{"total": N, "data": [...]}}`, ordered by Employee_ID; `limit` is 20 by default, at most 100.

**Worker ids.** `GET {api_prefix(tenant)}/workers/{{id}}` takes the 32-hex Workday id (WID),
`Employee_ID=21034`, or the bare Employee_ID `21034`. A pre-hire has `isActive: false` and no
`terminationDate`; the cost rate is the custom field `customFields.costRate`
(`{{"amount": "95.00", "currency": "USD"}}`).

**Errors.** `{{"error": "...", "errors": [{{"error": "...", "field": "..."}}]}}`.

**Events (sandbox only).** `POST /__admin/events` applies a hire, transfer or termination and
POSTs the event to the configured webhook (signed in the `Psflow-Signature` header), retrying
with backoff; `GET /__admin/events` lists them with their delivery state;
`POST /__admin/events/{{id}}/redeliver` sends one again.
"""


def _unauthorized() -> WorkdayError:
    return WorkdayError(401, "invalid request: a valid bearer token is required")


class Workers:
    """Reads of the stored workers, rendered as Workday answers them."""

    def __init__(self, store: RecordStore, tenant: str) -> None:
        self.store = store
        self.tenant = tenant

    def page(self, limit: int, offset: int) -> dict[str, Any]:
        records = sorted(self.store.all(WORKER), key=lambda r: (len(r["id"]), r["id"]))
        by_id = {r["id"]: r for r in records}
        data = [render_worker(r, self.tenant, by_id) for r in records[offset : offset + limit]]
        return {"total": len(records), "data": data}

    def one(self, ref: str) -> dict[str, Any]:
        record = find_worker(self.store, ref)
        if record is None:
            raise worker_not_found(ref)
        manager = find_worker(self.store, record["manager_id"]) if record["manager_id"] else None
        managers = {manager["id"]: manager} if manager else {}
        return render_worker(record, self.tenant, managers)


def workers_router(workers: Workers, issuer: TokenIssuer) -> APIRouter:
    """The tenant's worker routes, behind the bearer token."""
    tenant = workers.tenant
    bearer = bearer_required(
        issuer,
        _unauthorized,
        "WorkdayAccessToken",
        f"An access token from the API client's refresh-token grant at POST "
        f"{token_path(tenant)} (client id and secret by HTTP Basic).",
    )
    router = APIRouter(
        prefix=api_prefix("{tenant}"),
        dependencies=[Depends(bearer)],
        tags=["workers"],
        responses=UNAUTHORIZED,
    )

    def check_tenant(name: str) -> None:
        if name != tenant:
            raise WorkdayError(404, f"tenant {name} not found", [("unknown tenant", "tenant")])

    @router.get("/workers")
    def list_workers(
        tenant: str,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """A page of workers (active, pre-hire and terminated) and how many there are."""
        check_tenant(tenant)
        return workers.page(limit, offset)

    @router.get("/workers/{id}")
    def get_worker(tenant: str, id: str) -> dict[str, Any]:
        """One worker by WID, `Employee_ID=...` or bare Employee_ID."""
        check_tenant(tenant)
        return workers.one(id)

    return router


class PrehiresRequest(BaseModel):
    """Pre-hires to add, each made as a named one, so that a test has workers of its own."""

    like: str = Field(description="Employee_ID of a named pre-hire, e.g. 30004 (no cost center)")
    count: int = Field(1, ge=1, le=100)


def seed_router(store: RecordStore, lock: threading.RLock) -> APIRouter:
    router = APIRouter(prefix=f"{ADMIN_PREFIX}/seed", tags=["sandbox admin"])

    @router.post("/prehires", status_code=201)
    def seed_prehires(request: PrehiresRequest) -> dict[str, list[str]]:
        """Add pre-hires made as a named one; their Employee_IDs."""
        with lock:
            try:
                return {"workers": add_prehires(store, request.like, request.count)}
            except ValueError as exc:
                raise HTTPException(422, str(exc)) from None

    return router


def create_app(
    db_path: Path,
    *,
    client_id: str,
    client_secret: str,
    tenant: str,
    refresh_token: str | None = None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    delivery_attempts: int = 5,
    delivery_backoff_seconds: float = 0.5,
) -> FastAPI:
    """The HCM sandbox on a SQLite file, seeded when the file is new.

    Worker events are POSTed to `webhook_url` (when set), signed with `webhook_secret` (when
    set), each tried `delivery_attempts` times, waiting `delivery_backoff_seconds` and
    doubling between tries.
    """
    store = RecordStore(db_path)
    if store.is_empty():
        seed(store)
    lock = threading.RLock()
    book = EventBook(
        store,
        lock,
        webhook_url,
        secret=webhook_secret,
        attempts=delivery_attempts,
        backoff_seconds=delivery_backoff_seconds,
    )

    def reset() -> None:
        book.deliverer.cancel_all()
        with lock:
            store.clear()
            seed(store)

    faults = FaultBook()
    issuer = WorkdayTokens(client_id, client_secret, refresh_token=refresh_token)
    app = FastAPI(
        title="HCM API (Workday-style)",
        version="1.0.0",
        description=description(tenant),
        openapi_tags=[
            {"name": "workers", "description": "Workers and their employment data."},
            {"name": "auth", "description": "OAuth 2.0 refresh-token grant for API clients."},
            {"name": "sandbox admin", "description": "Faults, reset and events (sandbox only)."},
        ],
    )
    validation_answered_400(app, "Bad request: Workday's error names the field")
    for exc_type, handler in HANDLERS.items():
        app.add_exception_handler(exc_type, handler)
    app.add_middleware(FaultMiddleware, book=faults, error_body=status_error_body)
    app.include_router(issuer.router(token_path(tenant)))
    app.include_router(workers_router(Workers(store, tenant), issuer))
    app.include_router(events_router(book))
    app.include_router(seed_router(store, lock))
    app.include_router(admin_router(faults, reset))
    return app
