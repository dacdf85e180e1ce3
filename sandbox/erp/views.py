"""How a record reads back, as NetSuite's GET answers it.

Every field with a value, or only those `fields=` names (with `links` and `id`); a sublist
(an invoice's `item`) as a link unless `expandSubResources=true` puts its lines inline. Its
sub-resources have URLs of their own: the sublist (`invoice/{id}/item`), one line of it
(`invoice/{id}/item/{line}`) and the record a reference field points at
(`job/{id}/customer`, `employee/{id}/subsidiary`).
"""

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Query, Request

from sandbox.erp import access, invoices
from sandbox.erp.billing_query import INVOICE
from sandbox.erp.billing_records import NAMES, REFERENCES
from sandbox.erp.errors import NetSuiteError, not_found
from sandbox.erp.fields import Reference
from sandbox.erp.registry import WRITABLE
from sandbox.records import RecordStore

Fields = Annotated[
    str | None, Query(description="Only these fields, comma-separated (e.g. tranId,total)")
]
Expand = Annotated[
    bool, Query(alias="expandSubResources", description="Sublists inline, not as links")
]

SUBLISTS = {INVOICE: ("item",)}
_INVOICE_REFERENCES = {
    "job": "job", "entity": "customer", "currency": "currency", "subsidiary": "subsidiary",
}  # fmt: skip


def references(record_type: str) -> dict[str, str]:
    """Reference field -> the record type it points at."""
    if record_type in WRITABLE:
        parsers = WRITABLE[record_type].fields.items()
        return {name: p.kind for name, p in parsers if isinstance(p, Reference)}
    if record_type == INVOICE:
        return _INVOICE_REFERENCES
    return REFERENCES.get(record_type, {})


def _names(record_type: str, record: dict[str, Any]) -> Iterable[str]:
    if record_type in WRITABLE:
        return WRITABLE[record_type].names
    if record_type == INVOICE:
        return invoices.NAMES
    return NAMES.get(record_type, record.keys())


def sublist(base: str, name: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """A sublist with its lines, each with its own link."""
    return {
        "links": [{"rel": "self", "href": f"{base}/{name}"}],
        "items": [line_view(base, name, line) for line in lines],
        "count": len(lines),
        "hasMore": False,
        "offset": 0,
        "totalResults": len(lines),
    }


def line_view(base: str, name: str, line: dict[str, Any]) -> dict[str, Any]:
    """One sublist line, with its link."""
    return {"links": [{"rel": "self", "href": f"{base}/{name}/{line.get('line')}"}], **line}


def _picked(record_type: str, record: dict[str, Any], fields: str) -> set[str]:
    spelling = {name.lower(): name for name in _names(record_type, record)}
    wanted = set()
    for given in (part.strip() for part in fields.split(",")):
        if not given:
            continue
        if given.lower() not in spelling:
            detail = f"Invalid field name in fields: {given}. It is not a field of {record_type}."
            raise NetSuiteError(400, detail, "INVALID_PARAMETER", query_param="fields")
        wanted.add(spelling[given.lower()])
    return wanted


def shown(
    request: Request,
    record_type: str,
    record: dict[str, Any],
    fields: str | None = None,
    expand: bool = False,
) -> dict[str, Any]:
    """The record as GET answers it."""
    body = access.render(request, record_type, record)
    base = access.href(request, record_type, record["id"])
    for name in SUBLISTS.get(record_type, ()):
        if name in body:
            lines = (record.get(name) or {}).get("items") or []
            link = {"links": [{"rel": "self", "href": f"{base}/{name}"}]}
            body[name] = sublist(base, name, lines) if expand else link
    if fields is not None:
        wanted = _picked(record_type, record, fields) | {"links", "id"}
        body = {k: v for k, v in body.items() if k in wanted}
    return body


def subresource(
    request: Request, store: RecordStore, record_type: str, record: dict[str, Any], path: str
) -> dict[str, Any]:
    """A record's sublist, one line of it, or the record a reference field points at."""
    name, _, line = path.partition("/")
    base = access.href(request, record_type, record["id"])
    sublists = {n.lower(): n for n in SUBLISTS.get(record_type, ())}
    if name.lower() in sublists:
        canonical = sublists[name.lower()]
        lines = (record.get(canonical) or {}).get("items") or []
        if not line:
            return sublist(base, canonical, lines)
        found = next((item for item in lines if str(item.get("line")) == line), None)
        if found is None:
            raise not_found()
        return line_view(base, canonical, found)
    pointers = {field.lower(): (field, kind) for field, kind in references(record_type).items()}
    if name.lower() in pointers and not line:
        field, kind = pointers[name.lower()]
        target_id = str((record.get(field) or {}).get("id") or "")
        target = store.get(kind, target_id) if target_id else None
        if target is None:
            raise not_found()
        return access.render(request, kind, target)
    detail = f"Invalid URL: {record_type} has no sublist or reference field {name}."
    raise NetSuiteError(404, detail, "INVALID_URL")
