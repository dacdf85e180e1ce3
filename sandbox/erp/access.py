"""Reading and writing records in the store: ids, external ids, timestamps, pages, links."""

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response

from sandbox.erp import query
from sandbox.erp.errors import has_dependents, invalid, not_found
from sandbox.erp.fields import external_id as checked_external_id
from sandbox.erp.protocol import EID_PREFIX, RECORD_PATH
from sandbox.erp.schema import IGNORED_FIELDS, RecordType
from sandbox.records import RecordStore


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def href(request: Request, record_type: str, id: str) -> str:
    """The record's URL, as its self link and the Location of a create."""
    return f"{str(request.base_url).rstrip('/')}{RECORD_PATH}/{record_type}/{id}"


def find(store: RecordStore, record_type: str, key: str) -> str | None:
    """The internal id for an internal id or an `eid:` external id, if the record exists."""
    if key.startswith(EID_PREFIX):
        external_id = checked_external_id(key.removeprefix(EID_PREFIX))
        return store.id_for_external(record_type, external_id)
    return key if store.get(record_type, key) is not None else None


def load(store: RecordStore, record_type: str, key: str) -> tuple[str, dict[str, Any]]:
    """The record's internal id and body; 404 NONEXISTENT_ID when there is none."""
    id = find(store, record_type, key)
    record = store.get(record_type, id) if id else None
    if id is None or record is None:
        raise not_found()
    return id, record


def render(request: Request, record_type: str, record: dict[str, Any]) -> dict[str, Any]:
    """The record as GET answers it: a self link, then every field that has a value."""
    links = [{"rel": "self", "href": href(request, record_type, record["id"])}]
    return {"links": links, **{k: v for k, v in record.items() if v is not None}}


def created(request: Request, record_type: str, id: str) -> Response:
    """NetSuite's answer to a create or upsert: 204 with the record's URL in Location."""
    return Response(status_code=204, headers={"Location": href(request, record_type, id)})


def insert(
    store: RecordStore, definition: RecordType, body: dict[str, Any], external_id: str | None
) -> str:
    """Create a record from the body; its new internal id."""
    if external_id is not None and store.id_for_external(definition.name, external_id):
        raise invalid("externalId", external_id, "A record with this external ID already exists.")
    record = definition.build(store, None, body)
    id = str(store.next_number(definition.sequence, definition.first_id))
    now = _now()
    record.update(id=id, externalId=external_id, dateCreated=now, lastModifiedDate=now)
    store.insert(definition.name, id, record, external_id)
    return id


def update(
    store: RecordStore,
    definition: RecordType,
    id: str,
    current: dict[str, Any],
    body: dict[str, Any],
) -> None:
    """Set the body's fields on an existing record (an external id may be set or changed)."""
    record = definition.build(store, current, body)
    if "externalId" in body and body["externalId"] != current.get("externalId"):
        external_id = checked_external_id(body["externalId"])
        if store.id_for_external(definition.name, external_id):
            raise invalid("externalId", external_id, "Another record has this external ID.")
        record["externalId"] = external_id
        store.set_external_id(definition.name, id, external_id)
    record["lastModifiedDate"] = _now()
    store.update(definition.name, id, record)


def delete(store: RecordStore, definition: RecordType, id: str) -> None:
    """Delete a record nothing depends on; 400 RECORD_HAS_DEPENDENTS otherwise."""
    if definition.dependent_of(store, id):
        raise has_dependents()
    store.delete(definition.name, id)


def collection(
    request: Request,
    store: RecordStore,
    definition: RecordType | None,
    record_type: str,
    page: tuple[int, int],
    q: str | None = None,
) -> dict[str, Any]:
    """One page (limit, offset) of the ids of a record type, filtered by `q`."""
    records = sorted(store.all(record_type), key=lambda r: int(r["id"]))
    if q is not None:
        names = None if definition is None else {*definition.fields, *IGNORED_FIELDS}
        conditions = query.parse(q, names)
        records = [r for r in records if query.matches(r, conditions)]
    limit, offset = page
    shown = [r["id"] for r in records[offset : offset + limit]]
    return collection_page(request, record_type, shown, len(records), page, q)


def collection_page(
    request: Request,
    record_type: str,
    ids: list[str],
    total: int,
    page: tuple[int, int],
    q: str | None = None,
) -> dict[str, Any]:
    """NetSuite's collection answer for one page (limit, offset) of `total` records."""
    limit, offset = page
    base = f"{str(request.base_url).rstrip('/')}{RECORD_PATH}/{record_type}"
    filtered = {"q": q} if q is not None else {}

    def link(rel: str, at: int) -> dict[str, str]:
        params = urlencode({"limit": limit, "offset": at, **filtered})
        return {"rel": rel, "href": f"{base}?{params}"}

    last = max(0, (total - 1) // limit * limit)
    links = [link("first", 0), link("self", offset), link("last", last)]
    if offset + limit < total:
        links.append(link("next", offset + limit))
    if offset > 0:
        links.append(link("previous", max(0, offset - limit)))
    items = [
        {"links": [{"rel": "self", "href": href(request, record_type, id)}], "id": id} for id in ids
    ]
    return {
        "links": links,
        "count": len(items),
        "hasMore": offset + limit < total,
        "items": items,
        "offset": offset,
        "totalResults": total,
    }
