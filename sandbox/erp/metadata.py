"""NetSuite's metadata catalog: which record types there are, and each one's fields as JSON
Schema (`GET /services/rest/record/v1/metadata-catalog` and `.../metadata-catalog/{type}`).

Custom fields carry `x-ns-custom-field: true`, which is how a client (psflow's `systems
check`) learns whether the fields it writes exist. The sandbox answers JSON Schema for every
Accept header; real NetSuite also answers OpenAPI fragments (application/swagger+json).
"""

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request

from sandbox.auth import UNAUTHORIZED, TokenIssuer, bearer_required
from sandbox.erp import fields as f
from sandbox.erp import invoices
from sandbox.erp.billing_query import BILLING_TYPES, INVOICE
from sandbox.erp.billing_records import FIELDS, REFERENCES
from sandbox.erp.errors import NetSuiteError, unauthorized
from sandbox.erp.protocol import BEARER, BEARER_DESCRIPTION, RECORD_PATH
from sandbox.erp.registry import READ_ONLY_TYPES, WRITABLE
from sandbox.erp.schema import IGNORED_FIELDS

CATALOG = "metadata-catalog"
_REFERENCE = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "refName": {"type": "string"}},
}
_READ_ONLY: dict[str, dict[str, Any]] = {
    "id": {"type": "string"},
    "externalId": {"type": "string"},
    "dateCreated": {"type": "string", "format": "date-time"},
    "lastModifiedDate": {"type": "string", "format": "date-time"},
}
_INVOICE: dict[str, dict[str, Any]] = {
    "tranId": {"type": "string"},
    "tranDate": {"type": "string", "format": "date"},
    "memo": {"type": "string"},
    "total": {"type": "number"},
    "item": {"type": "object", "title": "Items (sublist)"},
    invoices.STATUS_FIELD: {"type": "string", "enum": list(invoices.TRANSITIONS)},
    invoices.PERIOD_FIELD: {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
    "custbody_psflow_source": {"type": "string"},
    "custbody_psflow_time_count": {"type": "integer"},
    "custbody_psflow_expense_count": {"type": "integer"},
    "custbody_psflow_approvers": {"type": "array", "items": {"type": "string"}},
}


def _field(parser: f.FieldParser) -> dict[str, Any]:
    if isinstance(parser, f.Reference | f.Select):
        return dict(_REFERENCE)
    if parser is f.boolean:
        return {"type": "boolean"}
    if parser in (f.amount, f.positive_amount):
        return {"type": "number"}
    if parser is f.iso_date:
        return {"type": "string", "format": "date"}
    return {"type": "string"}


def _properties(record_type: str) -> Mapping[str, dict[str, Any]]:
    if record_type in WRITABLE:
        return {name: _field(p) for name, p in WRITABLE[record_type].fields.items()}
    if record_type == INVOICE:
        refs = {name: dict(_REFERENCE) for name in ("job", "entity", "currency", "subsidiary")}
        return refs | _INVOICE
    if record_type in FIELDS:
        refs = {name: dict(_REFERENCE) for name in REFERENCES[record_type]}
        return {name: _field(p) for name, p in FIELDS[record_type].items()} | refs
    return {"name": {"type": "string"}}


def schema(record_type: str) -> dict[str, Any]:
    """The record type's fields as JSON Schema; read-only ones marked."""
    properties: dict[str, dict[str, Any]] = {}
    for name, definition in _properties(record_type).items():
        if name.startswith(("custbody", "custcol", "custentity")):
            definition = definition | {"x-ns-custom-field": True}
        properties[name] = definition
    for name, definition in _READ_ONLY.items():
        properties[name] = definition | {"readOnly": True}
    if record_type == INVOICE:
        changed_later = {invoices.STATUS_FIELD, "links"}
        for name in invoices.NAMES - invoices.CREATE_FIELDS - IGNORED_FIELDS - changed_later:
            properties[name] = properties.get(name, {"type": "string"}) | {"readOnly": True}
    return {
        "type": "object",
        "title": record_type,
        "properties": dict(sorted(properties.items())),
        "x-ns-writable": record_type not in READ_ONLY_TYPES,
    }


def metadata_router(issuer: TokenIssuer) -> APIRouter:
    """The catalog routes, behind the bearer token; registered before the record routes,
    whose paths they match."""
    router = APIRouter(
        prefix=f"{RECORD_PATH}/{CATALOG}",
        tags=["record/v1 metadata"],
        dependencies=[Depends(bearer_required(issuer, unauthorized, BEARER, BEARER_DESCRIPTION))],
        responses=UNAUTHORIZED | {404: {"description": "No such record type"}},
    )
    types = sorted({*WRITABLE, *READ_ONLY_TYPES, *BILLING_TYPES})

    @router.get("")
    async def catalog(request: Request) -> dict[str, Any]:
        """Every record type, with links to its schema and its records."""
        base = f"{str(request.base_url).rstrip('/')}{RECORD_PATH}"
        items = [
            {
                "name": name,
                "links": [
                    {
                        "rel": "canonical",
                        "href": f"{base}/{CATALOG}/{name}",
                        "mediaType": "application/schema+json",
                    },
                    {"rel": "describes", "href": f"{base}/{name}"},
                ],
            }
            for name in types
        ]
        return {"items": items, "links": [{"rel": "self", "href": f"{base}/{CATALOG}"}]}

    @router.get("/{record_type}")
    async def describe(record_type: str) -> dict[str, Any]:
        """One record type's fields as JSON Schema."""
        if record_type not in types:
            detail = f"Record type '{record_type}' does not exist."
            raise NetSuiteError(404, detail, "INVALID_RCRD_TYPE")
        return schema(record_type)

    return router
