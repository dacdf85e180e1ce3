"""The Salesforce REST data routes: sObject records, related lists, upserts, sObject
Collections (sandbox/crm/collections.py) and /query."""

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from sandbox.auth import UNAUTHORIZED, TokenIssuer, bearer_required
from sandbox.crm.collections import add_collection_routes
from sandbox.crm.describe import basic_info, describe, limits
from sandbox.crm.errors import SalesforceError, not_found
from sandbox.crm.objects import field_list, render, schema_for
from sandbox.crm.paths import API_VERSION, DATA_PREFIX
from sandbox.crm.service import Crm
from sandbox.crm.soql import QueryRunner


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise SalesforceError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    return body


def query_result(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"totalSize": len(records), "done": True, "records": records}


def data_router(crm: Crm, issuer: TokenIssuer) -> APIRouter:
    """The bearer-protected routes under /services/data/{version}."""
    unauthorized = bearer_required(
        issuer,
        lambda: SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid"),
        "SalesforceAccessToken",
        "An access token from POST /services/oauth2/token: the JWT bearer flow or client "
        "credentials. Calls go to the instance_url its answer names.",
    )
    runner = QueryRunner(crm)
    calls = [0]  # API requests today, as `limits` counts them

    def counted() -> None:
        calls[0] += 1

    router = APIRouter(
        prefix=DATA_PREFIX + "/{version}",
        dependencies=[Depends(unauthorized), Depends(_check_version), Depends(counted)],
        tags=["Salesforce REST"],
        responses=UNAUTHORIZED,
    )

    @router.get("/limits")
    def org_limits() -> dict[str, Any]:
        """The org's limits; DailyApiRequests counts the calls made today."""
        return limits(calls[0])

    @router.get("/sobjects/{sobject}/describe")
    def describe_sobject(version: str, sobject: str) -> dict[str, Any]:
        """The object's fields: type, label, createable/updateable, external id, picklist."""
        return describe(version, schema_for(sobject, any_case=True))

    @router.get("/sobjects/{sobject}")
    def sobject_info(version: str, sobject: str) -> dict[str, Any]:
        """The object's basic information and recently viewed records."""
        return basic_info(version, schema_for(sobject, any_case=True))

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
            return query_result(crm.related(sobject, segment, rest))
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
    def query(version: str, q: str) -> dict[str, Any]:
        """SOQL (sandbox/crm/soql_parse.py says how much); over 2,000 records come a batch at
        a time through nextRecordsUrl."""
        return runner.run(q, version)

    @router.get("/query/{locator}")
    def query_more(version: str, locator: str) -> dict[str, Any]:
        """The next batch of a query's records."""
        return runner.more(locator, version)

    add_collection_routes(router, crm)
    return router


def _check_version(version: str) -> None:
    """Only the versions /services/data lists are served."""
    if version != API_VERSION:
        raise not_found()
