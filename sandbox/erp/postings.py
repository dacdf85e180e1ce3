"""Writing time bills and expense reports, one at a time or 200 at once (upsertList).

`POST /services/rest/record/v1/{timeBill|expenseReport}/upsertList` is the sandbox's stand-in
for SOAP's upsertList: body {"records": [{"externalId": ..., <fields>}, ...]}, at most 200
records (more is 400 EXCEEDED_MAX_RECORDS, naming the limit), each created or updated by its
externalId. It answers 200 {"writeResponseList": [{"externalId", "internalId", "created",
"status": {"isSuccess", "statusDetail": [{"code", "message"}]}}]} in request order: a record
that fails (inactive employee, unknown project, already billed, a bad value) does not fail
the others. The whole list is written in one transaction.
"""

from collections.abc import Callable
from typing import Any

from sandbox.erp import billing_records as records
from sandbox.erp.billing_store import BillingStore
from sandbox.erp.errors import NetSuiteError, invalid
from sandbox.erp.fields import external_id as checked_external_id
from sandbox.records import RecordStore

MAX_UPSERT_RECORDS = 200


def write(
    kind: str,
    billing: BillingStore,
    lookups: records.Lookups,
    current: dict[str, Any] | None,
    body: dict[str, Any],
    external_id: str | None,
    *,
    check_external_id: bool = True,
) -> tuple[dict[str, Any], bool]:
    """Create (current None) or update one record; (the record, whether it was created).

    Writing the same values again changes nothing, even on a billed record. Without
    `check_external_id` the caller has made sure no other record holds the external id.
    """
    record = records.build(kind, lookups, current, body)
    if current is not None:
        record["externalId"] = current.get("externalId")
        if "externalId" in body and body["externalId"] != current.get("externalId"):
            record["externalId"] = external_id
        if records.unchanged(current, record):
            return current, False
        records.refuse_if_billed(current)
    records.stamp(record, record.get("externalId") if current else external_id, new=not current)
    if check_external_id and record["externalId"] is not None:
        owner = billing.id_for_external(kind, record["externalId"])
        if owner is not None and owner != (current or {}).get("id"):
            detail = "A record with this external ID already exists."
            raise invalid("externalId", record["externalId"], detail)
    record["id"] = billing.save(kind, current["id"] if current else None, record)
    if current is not None and current.get("invoice"):
        record["invoice"] = current["invoice"]
    return record, current is None


def _response(
    external_id: Any, id: str | None, created: bool, error: NetSuiteError | None
) -> dict[str, Any]:
    details = []
    if error is not None:
        item = error.body["o:errorDetails"][0]
        details.append({"code": item["o:errorCode"], "message": item["detail"]})
    return {
        "externalId": external_id,
        "internalId": id,
        "created": created,
        "status": {"isSuccess": error is None, "statusDetail": details},
    }


def upsert_list(
    kind: str,
    store: RecordStore,
    billing: BillingStore,
    body: dict[str, Any],
    named: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """Upsert each record of `body["records"]` by its externalId; the write responses.

    `named` spells each record's property names as the record type does (or refuses one)."""
    given = body.get("records")
    if not isinstance(given, list) or not all(isinstance(i, dict) for i in given):
        detail = 'Provide the records to upsert as {"records": [{...}, ...]}.'
        raise NetSuiteError(400, detail, "INVALID_CONTENT", "records")
    if len(given) > MAX_UPSERT_RECORDS:
        detail = (
            f"upsertList takes at most {MAX_UPSERT_RECORDS} records in one request; "
            f"this one has {len(given)}."
        )
        raise NetSuiteError(400, detail, "EXCEEDED_MAX_RECORDS", "records")
    items: list[dict[str, Any] | NetSuiteError] = []
    for item in given:
        try:
            items.append(named(item))
        except NetSuiteError as error:
            items.append(error)
    keys = [
        i["externalId"]
        for i in items
        if isinstance(i, dict) and isinstance(i.get("externalId"), str)
    ]
    existing = billing.by_external_ids(kind, keys)
    lookups = records.Lookups(store)
    responses = []
    with billing.transaction():
        for original, item in zip(given, items, strict=True):
            if isinstance(item, NetSuiteError):
                responses.append(_response(original.get("externalId"), None, False, item))
                continue
            key = item.get("externalId")
            current = existing.get(key) if isinstance(key, str) else None
            try:
                if key is None:
                    raise NetSuiteError(
                        400, "upsertList needs an externalId on every record.", "USER_ERROR",
                        "externalId",
                    )  # fmt: skip
                external_id = checked_external_id(key)
                # every holder of these external ids is in `existing`
                saved, created = write(
                    kind, billing, lookups, current, item, external_id, check_external_id=False
                )
            except NetSuiteError as error:
                responses.append(_response(key, (current or {}).get("id"), False, error))
                continue
            existing[external_id] = saved  # a later record of the list updates this one
            responses.append(_response(key, saved["id"], created, None))
    return {"writeResponseList": responses}
