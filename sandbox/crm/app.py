"""CRM sandbox: a local stand-in for Salesforce that speaks the Salesforce REST API's shape.

Routes live under /services/data/{version}/ (any "vNN.N"), tokens come from
/services/oauth2/token, and errors use Salesforce's list body
`[{"message": ..., "errorCode": ..., "fields": [...]}]`.
"""

import re
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.auth import TokenIssuer, bearer_required
from sandbox.crm.seed import seed
from sandbox.faults import FaultBook, FaultMiddleware, admin_router
from sandbox.records import RecordStore

API_VERSION = "v60.0"
TOKEN_PATH = "/services/oauth2/token"
DATA_PREFIX = "/services/data"
VERSION = re.compile(r"^v\d+\.\d$")
ID_CHARS = re.compile(r"^[A-Za-z0-9]+$")
CHECKSUM_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
CODES = {
    400: "BAD_REQUEST",
    401: "INVALID_SESSION_ID",
    403: "INSUFFICIENT_ACCESS",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "REQUEST_LIMIT_EXCEEDED",
    503: "SERVER_UNAVAILABLE",
}
# Salesforce stage -> (IsClosed, IsWon)
STAGES = {
    "Prospecting": (False, False),
    "Qualification": (False, False),
    "Needs Analysis": (False, False),
    "Proposal/Price Quote": (False, False),
    "Negotiation/Review": (False, False),
    "Closed Won": (True, True),
    "Closed Lost": (True, False),
}


@dataclass(frozen=True)
class SObject:
    """One object type: its key prefix, fields (name -> str/num/date/bool/id) and rules."""

    prefix: str
    fields: dict[str, str]
    read_only: frozenset[str] = frozenset({"Id"})
    required: frozenset[str] = frozenset({"Name"})
    external_ids: frozenset[str] = frozenset()
    related: dict[str, tuple[str, str]] = field(default_factory=dict)


SOBJECTS = {
    "Opportunity": SObject(
        "006",
        {
            "Id": "id", "Name": "str", "AccountId": "str", "OwnerId": "str", "StageName": "str",
            "IsClosed": "bool", "IsWon": "bool", "Amount": "num", "CurrencyIsoCode": "str",
            "CloseDate": "date", "Rate_Card__c": "str", "Legal_Entity__c": "str",
            "Billing_Terms__c": "str", "Billing_Type__c": "str", "Start_Date__c": "date",
            "ERP_Project_Id__c": "str", "PSA_Project_Id__c": "str",
        },
        read_only=frozenset({"Id", "IsClosed", "IsWon"}),
        required=frozenset({"Name", "StageName", "CloseDate"}),
        related={
            "OpportunityLineItems": ("OpportunityLineItem", "OpportunityId"),
            "Project_Milestones__r": ("Project_Milestone__c", "Opportunity__c"),
        },
    ),
    "Account": SObject(
        "001",
        {
            "Id": "id", "Name": "str", "BillingCountry": "str", "Legal_Entity__c": "str",
            "Psflow_External_Id__c": "str", "Invoice_Status__c": "str",
        },
        external_ids=frozenset({"Psflow_External_Id__c"}),
    ),
    "User": SObject(
        "005",
        {"Id": "id", "Name": "str", "Username": "str", "Email": "str", "IsActive": "bool"},
    ),
    "OpportunityLineItem": SObject(
        "00k",
        {
            "Id": "id", "OpportunityId": "str", "Role__c": "str", "Quantity": "num",
            "UnitPrice": "num", "TotalPrice": "num",
        },
        read_only=frozenset({"Id", "OpportunityId", "TotalPrice"}),
        required=frozenset(),
    ),
    "Project_Milestone__c": SObject(
        "a0M",
        {
            "Id": "id", "Name": "str", "Opportunity__c": "str", "Due_Date__c": "date",
            "Amount__c": "num",
        },
        read_only=frozenset({"Id", "Opportunity__c"}),
    ),
}  # fmt: skip


class SalesforceError(Exception):
    """An error answered in Salesforce's list body."""

    def __init__(
        self, status: int, code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []

    def body(self) -> list[dict[str, Any]]:
        error: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields:
            error["fields"] = self.fields
        return [error]


def error_body(status: int, message: str) -> list[dict[str, Any]]:
    """Salesforce's error body for a status, as the fault middleware answers it."""
    return SalesforceError(status, CODES.get(status, "UNKNOWN_EXCEPTION"), message).body()


def not_found() -> SalesforceError:
    return SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")


def _checksum(base: str) -> str:
    suffix = ""
    for start in range(0, 15, 5):
        chunk = base[start : start + 5]
        suffix += CHECKSUM_CHARS[sum(1 << i for i, ch in enumerate(chunk) if ch.isupper())]
    return suffix


def normalise_id(sobject: SObject, value: str) -> str:
    """The 18-character form of a record id given as 15 or 18 characters.

    As Salesforce does, a segment that is not id-shaped at all is read as an external-id
    field name and answers 404; an id-shaped value whose checksum does not match answers
    400 MALFORMED_ID; a well-formed id of another object type answers 404.
    """
    if len(value) not in (15, 18) or not ID_CHARS.match(value):
        raise SalesforceError(
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {value}",
        )
    full = value[:15] + _checksum(value[:15])
    if len(value) == 18 and value[15:].upper() != full[15:]:
        raise SalesforceError(400, "MALFORMED_ID", f"malformed id {value}")
    if not full.startswith(sobject.prefix):
        raise not_found()
    return full


def _schema(name: str) -> SObject:
    schema = SOBJECTS.get(name)
    if schema is None:
        raise not_found()
    return schema


def _attributes(name: str, record_id: str) -> dict[str, str]:
    url = f"{DATA_PREFIX}/{API_VERSION}/sobjects/{name}/{record_id}"
    return {"type": name, "url": url}


def _render(name: str, record: dict[str, Any], fields: list[str] | None = None) -> dict[str, Any]:
    names = fields if fields is not None else list(SOBJECTS[name].fields)
    return {"attributes": _attributes(name, record["Id"])} | {f: record.get(f) for f in names}


def _field_list(name: str, raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    fields = [f.strip() for f in raw.split(",") if f.strip()]
    unknown = [f for f in fields if f not in SOBJECTS[name].fields]
    if unknown:
        raise _no_such_column(name, unknown[0])
    return fields


def _no_such_column(name: str, column: str) -> SalesforceError:
    message = f"No such column '{column}' on sobject of type {name}"
    return SalesforceError(400, "INVALID_FIELD", message, [column])


def _check_value(name: str, column: str, kind: str, value: Any) -> None:
    if value is None:
        if column in SOBJECTS[name].required:
            raise SalesforceError(
                400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{column}]", [column]
            )
        return
    if not _valid(kind, value):
        raise SalesforceError(
            400,
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {kind} from value {value!r} for field {column}",
            [column],
        )
    if column == "StageName" and value not in STAGES:
        raise SalesforceError(
            400,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"Stage: bad value for restricted picklist field: {value}",
            [column],
        )


def _valid(kind: str, value: Any) -> bool:
    if kind == "num":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "date":
        return isinstance(value, str) and _is_date(value)
    return isinstance(value, str)


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def validate_changes(name: str, changes: dict[str, Any]) -> dict[str, Any]:
    """The changes a PATCH body asks for, refused the way Salesforce refuses them."""
    schema = SOBJECTS[name]
    changes = {k: v for k, v in changes.items() if k != "attributes"}
    for column, value in changes.items():
        if column not in schema.fields:
            raise _no_such_column(name, column)
        if column in schema.read_only:
            raise SalesforceError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {column}. Please check the security "
                "settings of this field and verify that it is read/write for your profile "
                "or permission set.",
                [column],
            )
        _check_value(name, column, schema.fields[column], value)
    return changes


def _derived(name: str, record: dict[str, Any]) -> dict[str, Any]:
    """Fields Salesforce computes from others."""
    if name == "Opportunity":
        is_closed, is_won = STAGES.get(record["StageName"], (False, False))
        return {"IsClosed": is_closed, "IsWon": is_won}
    if name == "OpportunityLineItem":
        return {"TotalPrice": (record.get("Quantity") or 0) * (record.get("UnitPrice") or 0)}
    return {}


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise SalesforceError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    return body


def _query_result(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"totalSize": len(records), "done": True, "records": records}


class Crm:
    """The record operations behind the routes."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        # Routes run in a thread pool: one writer at a time keeps upserts and resets atomic.
        self._writing = threading.Lock()

    def record(self, name: str, raw_id: str) -> dict[str, Any]:
        record = self.store.get(name, normalise_id(_schema(name), raw_id))
        if record is None:
            raise not_found()
        return record

    def update(self, name: str, raw_id: str, body: dict[str, Any]) -> None:
        """Apply a PATCH body to one record."""
        with self._writing:
            self._update(name, raw_id, body)

    def _update(self, name: str, raw_id: str, body: dict[str, Any]) -> None:
        current = self.record(name, raw_id)
        changes = validate_changes(name, body)
        for column in SOBJECTS[name].external_ids & changes.keys():
            self._claim_external_id(name, current["Id"], column, changes[column])
        self.store.update(name, current["Id"], changes | _derived(name, current | changes))

    def _claim_external_id(self, name: str, record_id: str, column: str, value: Any) -> None:
        holder = self.store.id_for_external(name, value) if value is not None else None
        if holder not in (None, record_id):
            raise SalesforceError(
                400,
                "DUPLICATE_VALUE",
                f"duplicate value found: {column} duplicates value on record with id: {holder}",
                [column],
            )
        self.store.set_external_id(name, record_id, value)

    def related(self, name: str, raw_id: str, relationship: str) -> list[dict[str, Any]]:
        child, parent_field = _schema(name).related[relationship]
        parent = self.record(name, raw_id)
        records = self.store.find(child, **{parent_field: parent["Id"]})
        return [_render(child, r) for r in sorted(records, key=lambda r: r["Id"])]

    def by_external_id(self, name: str, column: str, value: str) -> dict[str, Any] | None:
        if column not in _schema(name).external_ids:
            raise SalesforceError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {column}",
            )
        record_id = self.store.id_for_external(name, value)
        return self.store.get(name, record_id) if record_id else None

    def upsert(self, name: str, column: str, value: str, body: dict[str, Any]) -> tuple[str, bool]:
        """Update the record holding this external id, or create it; (id, created)."""
        if column in body and body[column] != value:
            raise SalesforceError(
                400, "INVALID_FIELD", f"{column} in the body does not match the URL", [column]
            )
        with self._writing:
            existing = self.by_external_id(name, column, value)
            if existing is not None:
                self._update(name, existing["Id"], body)
                return existing["Id"], False
            return self._create(name, column, value, body), True

    def _create(self, name: str, column: str, value: str, body: dict[str, Any]) -> str:
        changes = validate_changes(name, body)
        schema = SOBJECTS[name]
        record = {f: None for f in schema.fields} | changes | {column: value}
        for required in schema.required:
            _check_value(name, required, schema.fields[required], record[required])
        record["Id"] = normalise_id(schema, f"{schema.prefix}Hs{self.store.next_number(name):010d}")
        self.store.insert(name, record["Id"], record | _derived(name, record), external_id=value)
        return str(record["Id"])

    def listing(self, name: str, limit: int) -> list[dict[str, Any]]:
        records = sorted(self.store.all(name), key=lambda r: r["Id"])
        return [_render(name, r) for r in records[:limit]]

    def reset(self) -> None:
        """Back to the seed; tokens already issued stay valid."""
        with self._writing:
            self.store.clear()
            seed(self.store)


def _data_router(crm: Crm, issuer: TokenIssuer) -> APIRouter:
    unauthorized = bearer_required(
        issuer, lambda: SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid")
    )
    router = APIRouter(
        prefix=DATA_PREFIX + "/{version}",
        dependencies=[Depends(unauthorized), Depends(_check_version)],
        tags=["Salesforce REST"],
    )

    @router.get("/sobjects/{sobject}")
    def list_records(sobject: str, limit: int = Query(200, ge=1, le=2000)) -> dict[str, Any]:
        """Records of a type, as a query result.

        Real Salesforce answers this URL with the object's basic description; psflow lists
        records with SOQL through /query. This listing is for demos and tests.
        """
        _schema(sobject)
        return _query_result(crm.listing(sobject, limit))

    @router.get("/sobjects/{sobject}/{record_id}")
    def get_record(sobject: str, record_id: str, fields: str | None = None) -> dict[str, Any]:
        """One record; `fields` (comma-separated) narrows the answer as in Salesforce."""
        record = crm.record(sobject, record_id)
        return _render(sobject, record, _field_list(sobject, fields))

    @router.patch("/sobjects/{sobject}/{record_id}", status_code=204)
    async def update_record(sobject: str, record_id: str, request: Request) -> Response:
        """Update the given fields; 204 with no body."""
        crm.update(sobject, record_id, await _json_object(request))
        return Response(status_code=204)

    @router.get("/sobjects/{sobject}/{segment}/{rest:path}")
    def get_related_or_external(sobject: str, segment: str, rest: str) -> dict[str, Any]:
        """A related list (`/{Id}/{Relationship}`) or a record by external id."""
        if rest in _schema(sobject).related:
            return _query_result(crm.related(sobject, segment, rest))
        record = crm.by_external_id(sobject, segment, rest)
        if record is None:
            raise not_found()
        return _render(sobject, record)

    @router.patch("/sobjects/{sobject}/{column}/{value:path}")
    async def upsert_record(
        sobject: str, column: str, value: str, request: Request
    ) -> JSONResponse:
        """Upsert by external id: 201 when created, 200 when an existing record was updated."""
        record_id, created = crm.upsert(sobject, column, value, await _json_object(request))
        body = {"id": record_id, "success": True, "errors": [], "created": created}
        return JSONResponse(body, status_code=201 if created else 200)

    @router.get("/query")
    def query(q: str) -> dict[str, Any]:
        """A small SOQL subset: SELECT fields FROM Type [WHERE F = 'v' [AND ...]] [LIMIT n]."""
        return _query_result(_run_soql(crm, q))

    return router


SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>[\w\s,]+?)\s+FROM\s+(?P<sobject>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE,
)
CONDITION = re.compile(r"^\s*(\w+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(true|false|null))\s*$", re.I)


def _run_soql(crm: Crm, q: str) -> list[dict[str, Any]]:
    match = SOQL.match(q)
    if match is None:
        raise SalesforceError(400, "MALFORMED_QUERY", f"unsupported query: {q}")
    name = match["sobject"]
    if name not in SOBJECTS:
        raise SalesforceError(
            400, "INVALID_TYPE", f"sObject type '{name}' is not supported.", [name]
        )
    fields = _field_list(name, match["fields"]) or ["Id"]
    equals = _conditions(name, match["where"])
    records = sorted(crm.store.find(name, **equals), key=lambda r: r["Id"])
    if match["limit"]:
        records = records[: int(match["limit"])]
    return [_render(name, r, fields) for r in records]


def _conditions(name: str, where: str | None) -> dict[str, Any]:
    equals: dict[str, Any] = {}
    parts = re.split(r"\s+AND\s+", where, flags=re.IGNORECASE) if where else []
    for part in parts:
        condition = CONDITION.match(part)
        if condition is None:
            raise SalesforceError(400, "MALFORMED_QUERY", f"unsupported condition: {part}")
        column, text, literal = condition.groups()
        _field_list(name, column)
        literals = {"true": True, "false": False, "null": None}
        equals[column] = text.replace("\\'", "'") if text is not None else literals[literal.lower()]
    return equals


def _check_version(version: str) -> None:
    if not VERSION.match(version):
        raise not_found()


def _salesforce_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SalesforceError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Salesforce's shapes for routing errors: list bodies for data, OAuth bodies for tokens."""
    assert isinstance(exc, StarletteHTTPException)
    path = request.url.path
    if path.startswith(DATA_PREFIX):
        return JSONResponse(error_body(exc.status_code, str(exc.detail)), exc.status_code)
    if path == TOKEN_PATH:
        body = {"error": str(exc.detail), "error_description": str(exc.detail)}
        return JSONResponse(body, exc.status_code)
    return await http_exception_handler(request, exc)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if request.url.path == TOKEN_PATH:
        return JSONResponse({"error": "invalid_request", "error_description": "bad form"}, 400)
    message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return JSONResponse(error_body(400, message), 400)


def create_app(db_path: Path, *, client_id: str, client_secret: str) -> FastAPI:
    """The CRM sandbox app on a SQLite file, seeded with demo data when the file is new."""
    store = RecordStore(db_path)
    if store.is_empty():
        seed(store)
    crm = Crm(store)
    issuer = TokenIssuer(client_id, client_secret)
    book = FaultBook()
    app = FastAPI(title="psflow CRM sandbox (Salesforce REST)")
    app.add_exception_handler(SalesforceError, _salesforce_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.include_router(issuer.router(TOKEN_PATH))
    app.include_router(admin_router(book, crm.reset))
    app.include_router(_data_router(crm, issuer))

    @app.get(DATA_PREFIX)
    def versions() -> list[dict[str, str]]:
        """The API versions this sandbox answers, as Salesforce lists them."""
        return [{"label": "Spring '24", "url": f"{DATA_PREFIX}/{API_VERSION}", "version": "60.0"}]

    app.add_middleware(FaultMiddleware, book=book, error_body=error_body)
    return app
