"""The ERP sandbox: NetSuite's REST record API (SuiteTalk REST, record/v1) over SQLite.

Customers and projects (NetSuite's `job` record) can be created, read, updated, upserted by
external id and deleted; subsidiaries, currencies and terms are read-only reference lists.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from math import inf
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.auth import TokenIssuer, bearer_required
from sandbox.erp import seed as data
from sandbox.faults import FaultBook, FaultMiddleware, admin_router
from sandbox.records import RecordStore

TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"
RECORD_PATH = "/services/rest/record/v1"
WRITABLE_TYPES = ("customer", "job")
READ_ONLY_TYPES = ("subsidiary", "currency", "term")
# Every subsidiary may trade in its base currency and these.
ALWAYS_ALLOWED_CURRENCIES = ("USD", "EUR")
MAX_PAGE_SIZE = 1000
EXTERNAL_ID = re.compile(r"[A-Za-z0-9_-]+")
EID_PREFIX = "eid:"
IDEMPOTENCY_HEADER = "X-NetSuite-Idempotency-Key"
JsonObject = Annotated[dict[str, Any], Body()]

NOT_FOUND_DETAIL = "The record instance does not exist. Provide a valid record instance ID."
INVALID_LOGIN_DETAIL = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI "
    "at Setup > Users/Roles > User Management > View Login Audit Trail."
)
CONCURRENCY_DETAIL = "Concurrent request limit exceeded. Request blocked."
DEPENDENTS_DETAIL = "This record cannot be deleted because it has dependent records."

# ---------------------------------------------------------------- errors in NetSuite's shape

_RFC9110_SECTIONS = {
    400: "15.5.1", 401: "15.5.2", 403: "15.5.4", 404: "15.5.5", 405: "15.5.6", 408: "15.5.9",
    409: "15.5.10", 415: "15.5.16", 422: "15.5.21", 500: "15.6.1", 501: "15.6.2",
    502: "15.6.3", 503: "15.6.4", 504: "15.6.5",
}  # fmt: skip
_DEFAULT_CODES = {
    400: "USER_ERROR",
    401: "INVALID_LOGIN",
    403: "INSUFFICIENT_PERMISSION",
    404: "NONEXISTENT_ID",
    405: "INVALID_REQUEST",
    429: "CONCURRENCY_LIMIT_EXCEEDED",
}


def _problem_type(status: int) -> str:
    if status == 429:
        return "https://www.rfc-editor.org/rfc/rfc6585.html#section-4"
    section = _RFC9110_SECTIONS.get(status, "15.5.1" if status < 500 else "15.6.1")
    return f"https://www.rfc-editor.org/rfc/rfc9110.html#section-{section}"


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_body(
    status: int, detail: str, code: str | None = None, path: str | None = None
) -> dict[str, Any]:
    """A NetSuite REST error body: RFC 9457 problem details plus o:errorDetails."""
    item: dict[str, Any] = {
        "detail": detail,
        "o:errorCode": code or _DEFAULT_CODES.get(status, "UNEXPECTED_ERROR"),
    }
    if path:
        item["o:errorPath"] = path
    return {
        "type": _problem_type(status),
        "title": _title(status),
        "status": status,
        "o:errorDetails": [item],
    }


class NetSuiteError(Exception):
    """An error the sandbox answers in NetSuite's format."""

    def __init__(
        self, status: int, detail: str, code: str | None = None, path: str | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.body = error_body(status, detail, code, path)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status)


def _invalid(field: str, value: Any, why: str = "") -> NetSuiteError:
    detail = (
        "Error while accessing a resource. You have entered an Invalid Field Value "
        f"{value} for the following field: {field}"
    )
    return NetSuiteError(400, detail + (f". {why}" if why else ""), "INVALID_VALUE", field)


def _not_found() -> NetSuiteError:
    return NetSuiteError(404, NOT_FOUND_DETAIL, "NONEXISTENT_ID")


def _unauthorized() -> NetSuiteError:
    return NetSuiteError(401, INVALID_LOGIN_DETAIL, "INVALID_LOGIN")


# ---------------------------------------------------------------- concurrency governance


class ConcurrencyLimit:
    """NetSuite's per-account limit on record requests in flight; beyond it, 429 at once."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(RECORD_PATH):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            body = error_body(429, CONCURRENCY_DETAIL, "CONCURRENCY_LIMIT_EXCEEDED")
            await JSONResponse(body, status_code=429)(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


# ---------------------------------------------------------------- field values

FieldParser = Callable[[RecordStore, str, Any], Any]


def _text(store: RecordStore, field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid(field, value)
    return value.strip()


def _boolean(store: RecordStore, field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _invalid(field, value)
    return value


def _amount(store: RecordStore, field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < inf:
        raise _invalid(field, value, "Provide a non-negative number.")
    return float(value)


def _reference_to(kind: str) -> FieldParser:
    """A parser for {"id": ...} (or {"externalId": ...}) pointing at a record of `kind`."""

    def parse(store: RecordStore, field: str, value: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            raise _invalid(field, value)
        id = value.get("id")
        if id is None and isinstance(value.get("externalId"), str):
            id = store.id_for_external(kind, value["externalId"])
        target = store.get(kind, str(id)) if isinstance(id, str | int) else None
        if target is None:
            raise _invalid(field, value.get("id", value.get("externalId")))
        return data.ref(str(id), target.get("name") or target["companyName"])

    return parse


def _select(options: dict[str, str]) -> FieldParser:
    """A parser for {"id": ...} naming one of a fixed list of options."""

    def parse(store: RecordStore, field: str, value: Any) -> dict[str, str]:
        id = value.get("id") if isinstance(value, dict) else None
        if str(id) not in options:
            raise _invalid(field, id)
        return data.ref(str(id), options[str(id)])

    return parse


_COMMON_FIELDS: dict[str, FieldParser] = {
    "companyName": _text,
    "entityId": _text,
    "subsidiary": _reference_to("subsidiary"),
    "currency": _reference_to("currency"),
    "isInactive": _boolean,
}
FIELDS: dict[str, dict[str, FieldParser]] = {
    "customer": {
        **_COMMON_FIELDS,
        "terms": _reference_to("term"),
        "custentity_psflow_origin": _text,
    },
    "job": {
        **_COMMON_FIELDS,
        "parent": _reference_to("customer"),
        "customer": _reference_to("customer"),
        "jobBillingType": _select(data.BILLING_TYPES),
        "entityStatus": _select(data.JOB_STATUSES),
        "custentity_psflow_budget": _amount,
    },
}
# Read-only fields a client may echo back; they are ignored.
IGNORED_FIELDS = {"id", "links", "externalId", "dateCreated", "lastModifiedDate"}
MANDATORY = {
    "customer": {"companyName": "Company Name", "subsidiary": "Primary Subsidiary"},
    "job": {"companyName": "Project Name", "parent": "Customer"},
}


def _apply(
    store: RecordStore, record_type: str, current: dict[str, Any], body: dict[str, Any]
) -> dict[str, Any]:
    """The record with the body's fields set (null clears a field)."""
    fields = FIELDS[record_type]
    record = dict(current)
    for name, value in body.items():
        if name in IGNORED_FIELDS:
            continue
        if name not in fields:
            raise NetSuiteError(
                400, f"Error while accessing a resource. Invalid field name: {name}.", path=name
            )
        if value is None:
            record.pop(name, None)
        else:
            record[name] = fields[name](store, name, value)
    return record


def _require(record_type: str, record: dict[str, Any]) -> None:
    missing = [(f, label) for f, label in MANDATORY[record_type].items() if not record.get(f)]
    if missing:
        labels = ", ".join(label for _, label in missing)
        detail = f"Error while accessing a resource. Please enter value(s) for: {labels}."
        raise NetSuiteError(400, detail, "USER_ERROR", missing[0][0])


def _check_currency(store: RecordStore, record: dict[str, Any]) -> None:
    subsidiary = store.get("subsidiary", record["subsidiary"]["id"]) or {}
    base = (store.get("currency", subsidiary["currency"]["id"]) or {}).get("symbol")
    currency = store.get("currency", record["currency"]["id"]) or {}
    if currency.get("symbol") not in {base, *ALWAYS_ALLOWED_CURRENCIES}:
        raise _invalid(
            "currency",
            record["currency"]["id"],
            f"{currency.get('name')} is not a currency of subsidiary {subsidiary['name']}.",
        )


def _complete_customer(store: RecordStore, record: dict[str, Any]) -> None:
    _require("customer", record)
    subsidiary = store.get("subsidiary", record["subsidiary"]["id"]) or {}
    record.setdefault("currency", subsidiary["currency"])
    record.setdefault("entityId", record["companyName"])
    record.setdefault("isInactive", False)
    _check_currency(store, record)


def _complete_job(store: RecordStore, record: dict[str, Any], body: dict[str, Any]) -> None:
    if body.get("customer") and not body.get("parent"):
        record["parent"] = record["customer"]
    _require("job", record)
    record["customer"] = record["parent"]
    parent = store.get("customer", record["parent"]["id"]) or {}
    record.setdefault("subsidiary", parent["subsidiary"])
    if record["subsidiary"]["id"] != parent["subsidiary"]["id"]:
        raise _invalid(
            "subsidiary", record["subsidiary"]["id"], "A project's subsidiary is its customer's."
        )
    record.setdefault("currency", parent["currency"])
    record.setdefault("entityId", record["companyName"])
    record.setdefault(
        "entityStatus",
        data.ref(data.DEFAULT_JOB_STATUS, data.JOB_STATUSES[data.DEFAULT_JOB_STATUS]),
    )
    _check_currency(store, record)


def build_record(
    store: RecordStore, record_type: str, current: dict[str, Any] | None, body: dict[str, Any]
) -> dict[str, Any]:
    """A customer or job as it would be saved, validated as NetSuite would."""
    record = _apply(store, record_type, current or {}, body)
    if record_type == "customer":
        _complete_customer(store, record)
    else:
        _complete_job(store, record, body)
    return record


# ---------------------------------------------------------------- record access


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _href(request: Request, record_type: str, id: str) -> str:
    return f"{str(request.base_url).rstrip('/')}{RECORD_PATH}/{record_type}/{id}"


def _known_type(record_type: str, *, writing: bool = False) -> None:
    if record_type not in (*WRITABLE_TYPES, *READ_ONLY_TYPES):
        raise NetSuiteError(
            404, f"Record type '{record_type}' does not exist.", "INVALID_RCRD_TYPE"
        )
    if writing and record_type in READ_ONLY_TYPES:
        detail = f"Permission Violation: the integration role may only view '{record_type}'."
        raise NetSuiteError(403, detail, "INSUFFICIENT_PERMISSION")


def _external_id(value: Any, field: str = "externalId") -> str:
    if not isinstance(value, str) or not EXTERNAL_ID.fullmatch(value):
        raise _invalid(field, value, "An external ID may hold letters, digits, _ and - only.")
    return value


def _find(store: RecordStore, record_type: str, key: str) -> str | None:
    """The internal id for an internal id or an `eid:` external id, if the record exists."""
    if key.startswith(EID_PREFIX):
        external_id = _external_id(key.removeprefix(EID_PREFIX))
        return store.id_for_external(record_type, external_id)
    return key if store.get(record_type, key) is not None else None


def _load(store: RecordStore, record_type: str, key: str) -> tuple[str, dict[str, Any]]:
    id = _find(store, record_type, key)
    record = store.get(record_type, id) if id else None
    if id is None or record is None:
        raise _not_found()
    return id, record


def _render(request: Request, record_type: str, record: dict[str, Any]) -> dict[str, Any]:
    links = [{"rel": "self", "href": _href(request, record_type, record["id"])}]
    return {"links": links, **{k: v for k, v in record.items() if v is not None}}


def _created(request: Request, record_type: str, id: str) -> Response:
    return Response(status_code=204, headers={"Location": _href(request, record_type, id)})


def _insert(
    store: RecordStore, record_type: str, body: dict[str, Any], external_id: str | None
) -> str:
    if external_id is not None and store.id_for_external(record_type, external_id):
        raise _invalid("externalId", external_id, "A record with this external ID already exists.")
    record = build_record(store, record_type, None, body)
    id = str(store.next_number(data.ENTITY_SEQUENCE, data.ENTITY_START))
    now = _now()
    record.update(id=id, externalId=external_id, dateCreated=now, lastModifiedDate=now)
    store.insert(record_type, id, record, external_id)
    return id


def _update(
    store: RecordStore, record_type: str, id: str, current: dict[str, Any], body: dict[str, Any]
) -> None:
    record = build_record(store, record_type, current, body)
    if "externalId" in body and body["externalId"] != current.get("externalId"):
        external_id = _external_id(body["externalId"])
        if store.id_for_external(record_type, external_id):
            raise _invalid("externalId", external_id, "Another record has this external ID.")
        record["externalId"] = external_id
        store.set_external_id(record_type, id, external_id)
    record["lastModifiedDate"] = _now()
    store.update(record_type, id, record)


def _collection(
    request: Request, store: RecordStore, record_type: str, limit: int, offset: int
) -> dict[str, Any]:
    records = sorted(store.all(record_type), key=lambda r: int(r["id"]))
    page = records[offset : offset + limit]
    base = f"{str(request.base_url).rstrip('/')}{RECORD_PATH}/{record_type}"

    def link(rel: str, at: int) -> dict[str, str]:
        return {"rel": rel, "href": f"{base}?limit={limit}&offset={at}"}

    last = max(0, (len(records) - 1) // limit * limit)
    links = [link("first", 0), link("self", offset), link("last", last)]
    if offset + limit < len(records):
        links.append(link("next", offset + limit))
    if offset > 0:
        links.append(link("previous", max(0, offset - limit)))
    items = [
        {"links": [{"rel": "self", "href": _href(request, record_type, r["id"])}], "id": r["id"]}
        for r in page
    ]
    return {
        "links": links,
        "count": len(items),
        "hasMore": offset + limit < len(records),
        "items": items,
        "offset": offset,
        "totalResults": len(records),
    }


# ---------------------------------------------------------------- routes


def record_router(store: RecordStore, issuer: TokenIssuer) -> APIRouter:
    """The record/v1 routes, all behind the bearer token."""
    router = APIRouter(
        prefix=RECORD_PATH,
        tags=["record/v1"],
        dependencies=[Depends(bearer_required(issuer, _unauthorized))],
    )

    @router.get("/{record_type}")
    async def list_records(
        record_type: str,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """A page of a record type's ids, in NetSuite's collection shape."""
        _known_type(record_type)
        return _collection(request, store, record_type, limit, offset)

    @router.post("/{record_type}", status_code=204)
    async def create_record(record_type: str, request: Request, body: JsonObject) -> Response:
        """Create a record: 204 with its URL in Location (repeatable with an idempotency key)."""
        _known_type(record_type, writing=True)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        seen = store.remembered(f"{record_type}:{key}") if key else None
        if seen is not None:
            return _created(request, record_type, seen[1]["id"])
        external_id = body.get("externalId")
        if external_id is not None:
            _external_id(external_id)
        id = _insert(store, record_type, body, external_id)
        if key:
            store.remember(f"{record_type}:{key}", 204, {"id": id})
        return _created(request, record_type, id)

    @router.get("/{record_type}/{key:path}")
    async def get_record(record_type: str, key: str, request: Request) -> dict[str, Any]:
        """One record by internal id or eid:<external id>."""
        _known_type(record_type)
        _, record = _load(store, record_type, key)
        return _render(request, record_type, record)

    @router.patch("/{record_type}/{key:path}", status_code=204)
    async def update_record(record_type: str, key: str, body: JsonObject) -> Response:
        """Set the given fields of an existing record."""
        _known_type(record_type, writing=True)
        id, current = _load(store, record_type, key)
        _update(store, record_type, id, current, body)
        return Response(status_code=204)

    @router.put("/{record_type}/{key:path}", status_code=204)
    async def upsert_record(
        record_type: str, key: str, request: Request, body: JsonObject
    ) -> Response:
        """Upsert by eid:<external id>: create when missing, otherwise set the given fields."""
        _known_type(record_type, writing=True)
        if not key.startswith(EID_PREFIX):
            detail = "The upsert operation requires an external ID (eid:...) in the request URL."
            raise NetSuiteError(400, detail, "INVALID_REQUEST")
        external_id = _external_id(key.removeprefix(EID_PREFIX))
        body = {k: v for k, v in body.items() if k != "externalId"}
        id = store.id_for_external(record_type, external_id)
        current = store.get(record_type, id) if id else None
        if id is None or current is None:
            id = _insert(store, record_type, body, external_id)
        else:
            _update(store, record_type, id, current, body)
        return _created(request, record_type, id)

    @router.delete("/{record_type}/{key:path}", status_code=204)
    async def delete_record(record_type: str, key: str) -> Response:
        """Delete a record; a customer with projects cannot be deleted."""
        _known_type(record_type, writing=True)
        id, _ = _load(store, record_type, key)
        if record_type == "customer" and any(job["parent"]["id"] == id for job in store.all("job")):
            raise NetSuiteError(400, DEPENDENTS_DETAIL, "RECORD_HAS_DEPENDENTS")
        store.delete(record_type, id)
        return Response(status_code=204)

    return router


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NetSuiteError)
    async def netsuite_error(request: Request, exc: NetSuiteError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if request.url.path == TOKEN_PATH:
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        detail = "Invalid URL." if exc.status_code == 404 else str(exc.detail)
        code = "INVALID_URL" if exc.status_code == 404 else None
        return NetSuiteError(exc.status_code, detail, code).response()

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        detail = f"Invalid request: {where or 'body'}: {first.get('msg', 'invalid')}."
        return NetSuiteError(400, detail, "INVALID_CONTENT", where or None).response()


def create_app(
    db_path: Path, *, client_id: str, client_secret: str, concurrency_limit: int = 5
) -> FastAPI:
    """The ERP sandbox app; seeds its database on first start."""
    store = RecordStore(db_path)
    if store.is_empty():
        data.seed(store)

    def reset() -> None:
        store.clear()
        data.seed(store)

    book = FaultBook()
    issuer = TokenIssuer(client_id, client_secret)
    app = FastAPI(title="psflow ERP sandbox (NetSuite REST record/v1)")
    app.include_router(issuer.router(TOKEN_PATH))
    app.include_router(record_router(store, issuer))
    app.include_router(admin_router(book, reset))
    _install_error_handlers(app)
    # Added last, so outermost: requests delayed by an injected fault still count as in flight.
    app.add_middleware(FaultMiddleware, book=book, error_body=error_body)
    app.add_middleware(ConcurrencyLimit, limit=concurrency_limit)
    return app
