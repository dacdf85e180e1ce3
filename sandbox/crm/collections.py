"""sObject Collections: create, update, get and delete up to 200 records in one request.

Each record goes through the single-record write (Crm._update / Crm._create), so it is
refused with the same errors; a refusal is that record's SaveResult, not the request's
status. With allOrNone, one refusal undoes the whole batch. API writes announce no events
(sandbox/crm/events.py), so a rolled-back batch has none to take back.
"""

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from sandbox.crm.errors import SalesforceError
from sandbox.crm.objects import SOBJECTS, field_list, render, schema_for
from sandbox.crm.service import Crm, RolledBack, Write

LIMIT = 200
ROLLED_BACK = (
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header"
)


class CollectionBody(BaseModel):
    """The body of a create or update: records with `attributes.type` (and `id` to update)."""

    allOrNone: bool = Field(False, description="undo every record when one fails")
    records: list[dict[str, Any]] = Field(description=f"up to {LIMIT} records")


class SaveError(BaseModel):
    statusCode: str
    message: str
    fields: list[str]


class SaveResult(BaseModel):
    """One record's outcome, in the order the records were sent."""

    id: str | None
    success: bool
    errors: list[SaveError]


def _error(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"statusCode": code, "message": message, "fields": fields or []}


def _type_of(record: Any) -> str:
    """The record's sObject type (canonical name); a request without one is malformed."""
    attributes = record.get("attributes") if isinstance(record, dict) else None
    name = attributes.get("type") if isinstance(attributes, dict) else None
    if not isinstance(name, str) or not name:
        raise SalesforceError(
            400, "JSON_PARSER_ERROR", "Each record needs an attributes map with a type"
        )
    if name.lower() not in {s.lower() for s in SOBJECTS}:
        raise SalesforceError(400, "INVALID_TYPE", f"sObject type '{name}' is not supported.")
    return str(schema_for(name, any_case=True))


def _checked(items: list[Any]) -> list[Any]:
    """The records or ids, refused as a whole (400) when there are too many."""
    if len(items) > LIMIT:
        raise SalesforceError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {LIMIT} records into this call",
        )
    return items


def _write_for(record: dict[str, Any], action: Literal["update", "create"]) -> Write:
    """The write a record asks for (refused at once when its id is missing or not wanted)."""
    name = _type_of(record)
    given = record.get("id", record.get("Id"))
    body = {k: v for k, v in record.items() if k not in ("attributes", "id", "Id")}
    if action == "create" and given is not None:
        why = SalesforceError(400, "INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
        return Write("create", name, refused=why)
    if action == "update" and (not isinstance(given, str) or not given):
        why = SalesforceError(400, "MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        return Write("update", name, refused=why)
    return Write(action, name, given or "", body)


def _results(writes: list[Write], crm: Crm, all_or_none: bool) -> list[dict[str, Any]]:
    """Write what can be written; one SaveResult per record, in order."""
    try:
        outcomes, rolled_back = crm.write_all(writes, all_or_none), False
    except RolledBack as exc:
        outcomes, rolled_back = exc.outcomes, True
    results: list[dict[str, Any]] = []
    for write, outcome in zip(writes, outcomes, strict=True):
        if isinstance(outcome, SalesforceError):
            errors = [_error(outcome.code, outcome.message, outcome.fields)]
            results.append({"id": None, "success": False, "errors": errors})
        elif rolled_back:  # it was valid: undone with the rest (a new record has no id)
            errors = [_error("ALL_OR_NONE_OPERATION_ROLLED_BACK", ROLLED_BACK)]
            kept = None if write.action == "create" else outcome
            results.append({"id": kept, "success": False, "errors": errors})
        else:
            results.append({"id": outcome, "success": True, "errors": []})
    return results


def add_collection_routes(router: APIRouter, crm: Crm) -> None:
    """The /composite/sobjects routes, on the bearer-protected data router."""

    @router.post("/composite/sobjects", response_model=list[SaveResult])
    def create_records(body: CollectionBody) -> list[dict[str, Any]]:
        """Create up to 200 records (no `id`); one SaveResult per record, in order."""
        records = _checked(body.records)
        return _results([_write_for(r, "create") for r in records], crm, body.allOrNone)

    @router.patch("/composite/sobjects", response_model=list[SaveResult])
    def update_records(body: CollectionBody) -> list[dict[str, Any]]:
        """Update up to 200 records by `id`; one SaveResult per record, in order."""
        records = _checked(body.records)
        return _results([_write_for(r, "update") for r in records], crm, body.allOrNone)

    @router.delete("/composite/sobjects", response_model=list[SaveResult])
    def delete_records(
        ids: str = Query(description="comma-separated record ids, up to 200"),
        allOrNone: bool = Query(False, description="undo every delete when one fails"),
    ) -> list[dict[str, Any]]:
        """Delete up to 200 records of any type; one result per id, in order."""
        given = _checked([i.strip() for i in ids.split(",") if i.strip()])
        return _results([_delete(i) for i in given], crm, allOrNone)

    @router.get("/composite/sobjects/{sobject}")
    def get_records(
        sobject: str,
        ids: str = Query(description="comma-separated ids of one type"),
        fields: str = Query(description="comma-separated fields to answer"),
    ) -> list[dict[str, Any] | None]:
        """Records of one type by id, in order; null for an id not found or not valid."""
        name = schema_for(sobject, any_case=True)
        wanted = field_list(name, _canonical_fields(name, fields)) or []
        return [_found(crm, name, i.strip(), wanted) for i in ids.split(",") if i.strip()]


def _delete(record_id: str) -> Write:
    """A delete by id: the type is the one its key prefix names."""
    name = next((n for n, s in SOBJECTS.items() if record_id.startswith(s.prefix)), None)
    if name is None:
        why = SalesforceError(400, "MALFORMED_ID", f"malformed id {record_id}", ["Id"])
        return Write("delete", "", record_id, refused=why)
    return Write("delete", name, record_id)


def _canonical_fields(name: str, raw: str) -> str:
    """Field names as the type spells them (Salesforce takes `id,name`)."""
    spelled = {f.lower(): f for f in SOBJECTS[name].fields}
    return ",".join(spelled.get(f.strip().lower(), f.strip()) for f in raw.split(","))


def _found(crm: Crm, name: str, record_id: str, fields: list[str]) -> dict[str, Any] | None:
    try:
        return render(name, crm.record(name, record_id), fields)
    except SalesforceError:
        return None
