"""The record/v1 routes: list, create, read, update, upsert and delete, behind the token."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from sandbox.auth import UNAUTHORIZED, TokenIssuer, bearer_required
from sandbox.erp import access, views
from sandbox.erp.errors import NetSuiteError, unauthorized
from sandbox.erp.fields import external_id as checked_external_id
from sandbox.erp.properties import named
from sandbox.erp.protocol import (
    BEARER,
    BEARER_DESCRIPTION,
    EID_PREFIX,
    IDEMPOTENCY_HEADER,
    MAX_OFFSET,
    MAX_PAGE_SIZE,
    RECORD_PATH,
)
from sandbox.erp.registry import known_type, writable
from sandbox.records import RecordStore

JsonObject = Annotated[dict[str, Any], Body()]


def record_router(store: RecordStore, issuer: TokenIssuer) -> APIRouter:
    """The record/v1 routes, all behind the bearer token."""
    router = APIRouter(
        prefix=RECORD_PATH,
        tags=["record/v1"],
        dependencies=[Depends(bearer_required(issuer, unauthorized, BEARER, BEARER_DESCRIPTION))],
        responses=UNAUTHORIZED,
    )

    @router.get("/{record_type}")
    async def list_records(
        record_type: str,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
        q: Annotated[str | None, Query(description="filter, e.g. project ANY_OF 1004")] = None,
    ) -> dict[str, Any]:
        """A page of a record type's ids, in NetSuite's collection shape, filtered by q."""
        definition = known_type(record_type)
        return access.collection(request, store, definition, record_type, (limit, offset), q)

    @router.post("/{record_type}", status_code=204)
    async def create_record(record_type: str, request: Request, body: JsonObject) -> Response:
        """Create a record: 204 with its URL in Location (repeatable with an idempotency key)."""
        definition = writable(record_type)
        body = named(request, body, definition.names)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        seen = store.remembered(f"{record_type}:{key}") if key else None
        if seen is not None:
            return access.created(request, record_type, seen[1]["id"])
        external_id = body.get("externalId")
        if external_id is not None:
            checked_external_id(external_id)
        id = access.insert(store, definition, body, external_id)
        if key:
            store.remember(f"{record_type}:{key}", 204, {"id": id})
        return access.created(request, record_type, id)

    @router.get("/{record_type}/{key:path}")
    async def get_record(
        record_type: str,
        key: str,
        request: Request,
        fields: views.Fields = None,
        expand: views.Expand = False,
    ) -> dict[str, Any]:
        """One record by internal id or eid:<external id>, or a sub-resource of it
        (`{id}/subsidiary`: the record a reference field points at)."""
        known_type(record_type)
        key, _, sub = key.partition("/")
        _, record = access.load(store, record_type, key)
        if sub:
            return views.subresource(request, store, record_type, record, sub)
        return views.shown(request, record_type, record, fields, expand)

    @router.patch("/{record_type}/{key:path}", status_code=204)
    async def update_record(
        record_type: str, key: str, request: Request, body: JsonObject
    ) -> Response:
        """Set the given fields of an existing record."""
        definition = writable(record_type)
        body = named(request, body, definition.names)
        id, current = access.load(store, record_type, key)
        access.update(store, definition, id, current, body)
        return Response(status_code=204)

    @router.put("/{record_type}/{key:path}", status_code=204)
    async def upsert_record(
        record_type: str, key: str, request: Request, body: JsonObject
    ) -> Response:
        """Upsert by eid:<external id>: create when missing, otherwise set the given fields."""
        definition = writable(record_type)
        if not key.startswith(EID_PREFIX):
            detail = "The upsert operation requires an external ID (eid:...) in the request URL."
            raise NetSuiteError(400, detail, "INVALID_REQUEST")
        external_id = checked_external_id(key.removeprefix(EID_PREFIX))
        body = {k: v for k, v in named(request, body, definition.names).items()
                if k != "externalId"}  # fmt: skip
        id = store.id_for_external(record_type, external_id)
        current = store.get(record_type, id) if id else None
        if id is None or current is None:
            id = access.insert(store, definition, body, external_id)
        else:
            access.update(store, definition, id, current, body)
        return access.created(request, record_type, id)

    @router.delete("/{record_type}/{key:path}", status_code=204)
    async def delete_record(record_type: str, key: str) -> Response:
        """Delete a record; one that others depend on (a customer's projects, an employee's or
        a project's resource allocations) cannot be deleted."""
        definition = writable(record_type)
        id, _ = access.load(store, record_type, key)
        access.delete(store, definition, id)
        return Response(status_code=204)

    return router
