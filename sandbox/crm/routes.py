"""The Salesforce REST data routes: sObject records, related lists, upserts and /query."""

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from sandbox.auth import TokenIssuer, bearer_required
from sandbox.crm.errors import SalesforceError, not_found
from sandbox.crm.objects import field_list, render, schema_for
from sandbox.crm.paths import DATA_PREFIX, VERSION
from sandbox.crm.service import Crm
from sandbox.crm.soql import run_soql


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


def data_router(crm: Crm, issuer: TokenIssuer) -> APIRouter:
    """The bearer-protected routes under /services/data/{version}."""
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
        schema_for(sobject)
        return _query_result(crm.listing(sobject, limit))

    @router.get("/sobjects/{sobject}/{record_id}")
    def get_record(sobject: str, record_id: str, fields: str | None = None) -> dict[str, Any]:
        """One record; `fields` (comma-separated) narrows the answer as in Salesforce."""
        record = crm.record(sobject, record_id)
        return render(sobject, record, field_list(sobject, fields))

    @router.patch("/sobjects/{sobject}/{record_id}", status_code=204)
    async def update_record(sobject: str, record_id: str, request: Request) -> Response:
        """Update the given fields; 204 with no body."""
        crm.update(sobject, record_id, await _json_object(request))
        return Response(status_code=204)

    @router.get("/sobjects/{sobject}/{segment}/{rest:path}")
    def get_related_or_external(sobject: str, segment: str, rest: str) -> dict[str, Any]:
        """A related list (`/{Id}/{Relationship}`) or a record by external id."""
        if rest in schema_for(sobject).related:
            return _query_result(crm.related(sobject, segment, rest))
        record = crm.by_external_id(sobject, segment, rest)
        if record is None:
            raise not_found()
        return render(sobject, record)

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
        return _query_result(run_soql(crm, q))

    return router


def _check_version(version: str) -> None:
    if not VERSION.match(version):
        raise not_found()
