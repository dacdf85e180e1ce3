"""Customers and their projects (NetSuite's `job` record)."""

from typing import Any

from sandbox.erp import fields as f
from sandbox.erp import seed as data
from sandbox.erp.errors import invalid
from sandbox.erp.schema import RecordType
from sandbox.records import RecordStore

# Every subsidiary may trade in its base currency and these.
ALWAYS_ALLOWED_CURRENCIES = ("USD", "EUR")

_COMMON_FIELDS: dict[str, f.FieldParser] = {
    "companyName": f.text,
    "entityId": f.text,
    "subsidiary": f.Reference("subsidiary"),
    "currency": f.Reference("currency"),
    "isInactive": f.boolean,
}


def check_currency(store: RecordStore, record: dict[str, Any]) -> None:
    """The record's currency must be its subsidiary's base currency, USD or EUR."""
    subsidiary = store.get("subsidiary", record["subsidiary"]["id"]) or {}
    base = (store.get("currency", subsidiary["currency"]["id"]) or {}).get("symbol")
    currency = store.get("currency", record["currency"]["id"]) or {}
    if currency.get("symbol") not in {base, *ALWAYS_ALLOWED_CURRENCIES}:
        raise invalid(
            "currency",
            record["currency"]["id"],
            f"{currency.get('name')} is not a currency of subsidiary {subsidiary['name']}.",
        )


def _complete_customer(store: RecordStore, record: dict[str, Any], body: dict[str, Any]) -> None:
    CUSTOMER.require(record)
    subsidiary = store.get("subsidiary", record["subsidiary"]["id"]) or {}
    record.setdefault("currency", subsidiary["currency"])
    record.setdefault("entityId", record["companyName"])
    record.setdefault("isInactive", False)
    check_currency(store, record)


def _complete_job(store: RecordStore, record: dict[str, Any], body: dict[str, Any]) -> None:
    if body.get("customer") and not body.get("parent"):
        record["parent"] = record["customer"]
    JOB.require(record)
    record["customer"] = record["parent"]
    parent = store.get("customer", record["parent"]["id"]) or {}
    record.setdefault("subsidiary", parent["subsidiary"])
    if record["subsidiary"]["id"] != parent["subsidiary"]["id"]:
        raise invalid(
            "subsidiary", record["subsidiary"]["id"], "A project's subsidiary is its customer's."
        )
    record.setdefault("currency", parent["currency"])
    record.setdefault("entityId", record["companyName"])
    record.setdefault(
        "entityStatus",
        data.ref(data.DEFAULT_JOB_STATUS, data.JOB_STATUSES[data.DEFAULT_JOB_STATUS]),
    )
    check_currency(store, record)


CUSTOMER = RecordType(
    name="customer",
    fields={
        **_COMMON_FIELDS,
        "terms": f.Reference("term"),
        "custentity_psflow_origin": f.text,
    },
    mandatory={"companyName": "Company Name", "subsidiary": "Primary Subsidiary"},
    complete=_complete_customer,
    dependents=(("job", "parent"),),
)
JOB = RecordType(
    name="job",
    fields={
        **_COMMON_FIELDS,
        "parent": f.Reference("customer"),
        "customer": f.Reference("customer"),
        "jobBillingType": f.Select(data.BILLING_TYPES),
        "entityStatus": f.Select(data.JOB_STATUSES),
        "custentity_psflow_budget": f.amount,
    },
    mandatory={"companyName": "Project Name", "parent": "Customer"},
    complete=_complete_job,
    dependents=(("resourceAllocation", "project"),),
)
