"""record/v1 routes for timeBill, expenseReport and invoice, over their own SQLite tables.

They are registered before the generic `/{record_type}/{key:path}` routes, so these paths
(including `POST /{timeBill|expenseReport}/upsertList`) never reach the JSON RecordStore.
Collections take `q` on the indexed fields only: for time bills and expense reports id,
externalId, customer (the project), employee (timeBill) or entity (expenseReport), tranDate
(ON, BEFORE, AFTER, ON_OR_BEFORE, ON_OR_AFTER), isBillable, invoice (EMPTY for unbilled) and
custcol_psflow_source; for invoices id, externalId, job, entity, custbody_psflow_period and
custbody_psflow_status.
"""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from sandbox.auth import UNAUTHORIZED, TokenIssuer, bearer_required
from sandbox.erp import access, invoices, postings, query, views
from sandbox.erp.billing_query import BILLING_TYPES, EXPENSE_REPORT, FILTERS, INVOICE, TIME_BILL
from sandbox.erp.billing_records import NAMES, Lookups, refuse_if_billed
from sandbox.erp.billing_store import BillingStore
from sandbox.erp.errors import NetSuiteError, not_found, unauthorized
from sandbox.erp.fields import external_id as checked_external_id
from sandbox.erp.properties import named, validation_mode
from sandbox.erp.protocol import (
    BEARER,
    BEARER_DESCRIPTION,
    EID_PREFIX,
    MAX_OFFSET,
    MAX_PAGE_SIZE,
    RECORD_PATH,
)
from sandbox.records import RecordStore

JsonObject = Annotated[dict[str, Any], Body()]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Q = Annotated[str | None, Query(description="filter, e.g. customer ANY_OF 700001")]


async def json_body(request: Request) -> dict[str, Any]:
    """The request body, which must be a JSON object."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise NetSuiteError(
            400, "Invalid request: the body must be a JSON object.", "INVALID_CONTENT"
        )
    return body


def find(billing: BillingStore, kind: str, key: str) -> dict[str, Any] | None:
    """The record for an internal id or eid:<external id>, if there is one."""
    if key.startswith(EID_PREFIX):
        id = billing.id_for_external(kind, checked_external_id(key.removeprefix(EID_PREFIX)))
        return billing.get(kind, id) if id else None
    return billing.get(kind, key)


def load(billing: BillingStore, kind: str, key: str) -> dict[str, Any]:
    """The record; 404 NONEXISTENT_ID when there is none."""
    record = find(billing, kind, key)
    if record is None:
        raise not_found()
    return record


def _read(
    request: Request,
    store: RecordStore,
    billing: BillingStore,
    kind: str,
    key: str,
    fields: str | None,
    expand: bool,
) -> dict[str, Any]:
    key, _, sub = key.partition("/")
    record = load(billing, kind, key)
    if sub:
        return views.subresource(request, store, kind, record, sub)
    return views.shown(request, kind, record, fields, expand)


def billing_router(store: RecordStore, billing: BillingStore, issuer: TokenIssuer) -> APIRouter:
    """The routes of the three billing record types, all behind the bearer token."""
    router = APIRouter(
        prefix=RECORD_PATH,
        tags=["record/v1 billing"],
        dependencies=[Depends(bearer_required(issuer, unauthorized, BEARER, BEARER_DESCRIPTION))],
        responses=UNAUTHORIZED | {400: {"description": "A body that is not a JSON object"}},
    )
    for kind in BILLING_TYPES:
        _collection_route(router, billing, kind)
    for kind in (TIME_BILL, EXPENSE_REPORT):
        _posting_routes(router, store, billing, kind)
    _invoice_routes(router, store, billing)
    return router


def _collection_route(router: APIRouter, billing: BillingStore, kind: str) -> None:
    @router.get(f"/{kind}", name=f"list_{kind}")
    async def list_records(
        request: Request, limit: Limit = MAX_PAGE_SIZE, offset: Offset = 0, q: Q = None
    ) -> dict[str, Any]:
        """A page of ids in NetSuite's collection shape, filtered by q."""
        conditions = query.parse(q, FILTERS[kind]) if q is not None else []
        found, total = billing.search(kind, conditions, (limit, offset))
        ids = [r["id"] for r in found]
        return access.collection_page(request, kind, ids, total, (limit, offset), q)


def _posting_routes(
    router: APIRouter, store: RecordStore, billing: BillingStore, kind: str
) -> None:
    @router.post(f"/{kind}/upsertList", name=f"upsert_list_{kind}", response_model=None)
    async def upsert_list(request: Request) -> JSONResponse:
        """Create or update up to 200 records by externalId; one write response each.

        Body {"records": [{"externalId": ..., <fields>}, ...]}."""
        # Read and answered as plain JSON: no model to validate 200 records against twice.
        body = await json_body(request)
        validation_mode(request)  # a bad header fails the request, not each record

        def spelled(record: dict[str, Any]) -> dict[str, Any]:
            return named(request, record, NAMES[kind])

        return JSONResponse(postings.upsert_list(kind, store, billing, body, spelled))

    @router.post(f"/{kind}", status_code=204, name=f"create_{kind}")
    async def create(request: Request, body: JsonObject) -> Response:
        """Create one record: 204 with its URL in Location."""
        body = named(request, body, NAMES[kind])
        external_id = body.get("externalId")
        if external_id is not None:
            checked_external_id(external_id)
        with billing.transaction():
            saved, _ = postings.write(kind, billing, Lookups(store), None, body, external_id)
        return access.created(request, kind, saved["id"])

    @router.get(f"/{kind}/{{key:path}}", name=f"get_{kind}")
    async def get(
        key: str, request: Request, fields: views.Fields = None, expand: views.Expand = False
    ) -> dict[str, Any]:
        """One record by internal id or eid:<external id>, or a sub-resource of it
        (`{id}/employee`: the record a reference field points at)."""
        return _read(request, store, billing, kind, key, fields, expand)

    @router.patch(f"/{kind}/{{key:path}}", status_code=204, name=f"update_{kind}")
    async def update(key: str, request: Request, body: JsonObject) -> Response:
        """Set the given fields; a billed record cannot change."""
        body = named(request, body, NAMES[kind])
        current = load(billing, kind, key)
        external_id = body.get("externalId", current.get("externalId"))
        if external_id is not None:
            checked_external_id(external_id)
        with billing.transaction():
            postings.write(kind, billing, Lookups(store), current, body, external_id)
        return Response(status_code=204)

    @router.put(f"/{kind}/{{key:path}}", status_code=204, name=f"upsert_{kind}")
    async def upsert(key: str, request: Request, body: JsonObject) -> Response:
        """Upsert by eid:<external id>."""
        if not key.startswith(EID_PREFIX):
            detail = "The upsert operation requires an external ID (eid:...) in the request URL."
            raise NetSuiteError(400, detail, "INVALID_REQUEST")
        external_id = checked_external_id(key.removeprefix(EID_PREFIX))
        body = {k: v for k, v in named(request, body, NAMES[kind]).items()
                if k != "externalId"}  # fmt: skip
        current = find(billing, kind, key)
        with billing.transaction():
            saved, _ = postings.write(kind, billing, Lookups(store), current, body, external_id)
        return access.created(request, kind, saved["id"])

    @router.delete(f"/{kind}/{{key:path}}", status_code=204, name=f"delete_{kind}")
    async def delete(key: str) -> Response:
        """Delete a record that is not billed."""
        current = load(billing, kind, key)
        refuse_if_billed(current)
        billing.delete(kind, current["id"])
        return Response(status_code=204)


def _invoice_routes(router: APIRouter, store: RecordStore, billing: BillingStore) -> None:
    @router.post(f"/{INVOICE}", status_code=204)
    async def create_invoice(request: Request, body: JsonObject) -> Response:
        """Draft an invoice for a project and period: 204 with its URL in Location."""
        body = named(request, body, invoices.NAMES)
        return access.created(request, INVOICE, invoices.create(store, billing, body))

    @router.get(f"/{INVOICE}/{{key:path}}")
    async def get_invoice(
        key: str, request: Request, fields: views.Fields = None, expand: views.Expand = False
    ) -> dict[str, Any]:
        """One invoice by internal id or eid:<external id>, its lines inline with
        expandSubResources=true; or a sub-resource: `{id}/item`, `{id}/item/{line}`,
        `{id}/job`."""
        return _read(request, store, billing, INVOICE, key, fields, expand)

    @router.patch(f"/{INVOICE}/{{key:path}}", status_code=204)
    async def update_invoice(key: str, request: Request, body: JsonObject) -> Response:
        """Move the invoice's status (custbody_psflow_status) or change its externalId."""
        body = named(request, body, invoices.NAMES)
        invoices.change(billing, load(billing, INVOICE, key), body)
        return Response(status_code=204)

    refused: dict[int | str, dict[str, Any]] = {
        405: {"description": "Invoices are drafted with POST and voided with PATCH"}
    }

    @router.put(f"/{INVOICE}/{{key:path}}", responses=refused)
    @router.delete(f"/{INVOICE}/{{key:path}}", responses=refused)
    async def refuse_invoice_write(key: str) -> Response:
        """Invoices are drafted with POST and voided with PATCH."""
        detail = "Draft an invoice with POST and void it with PATCH custbody_psflow_status."
        raise NetSuiteError(405, detail, "INVALID_REQUEST")
