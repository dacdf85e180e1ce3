"""What Salesforce tells a client about its objects and its limits: `sobjects/{Type}/describe`
(fields with type, label, createable/updateable, external id, picklist values),
`sobjects/{Type}` basic info, and `limits`."""

from typing import Any

from sandbox.crm.objects import PICKLISTS, SOBJECTS
from sandbox.crm.paths import DATA_PREFIX

TYPES = {"id": "id", "str": "string", "num": "double", "date": "date", "bool": "boolean"}
CURRENCY_FIELDS = {"Amount", "UnitPrice", "TotalPrice", "Amount__c", "Last_Invoice_Amount__c"}
DAILY_API_REQUESTS = 15_000


def _label(name: str) -> str:
    words = name.removesuffix("__c").removesuffix("__r").replace("_", " ")
    return words.strip() or name


def _field(sobject: str, name: str, kind: str) -> dict[str, Any]:
    schema = SOBJECTS[sobject]
    picklist = PICKLISTS.get((sobject, name))
    field_type = "picklist" if picklist else TYPES[kind]
    if name in CURRENCY_FIELDS:
        field_type = "currency"
    writable = name not in schema.read_only
    return {
        "name": name,
        "label": picklist[0] if picklist else _label(name),
        "type": field_type,
        "custom": name.endswith("__c"),
        "createable": writable,
        "updateable": writable,
        "nillable": name not in schema.required and name != "Id",
        "externalId": name in schema.external_ids,
        "unique": name in schema.external_ids or name == "Id",
        "picklistValues": [
            {"value": v, "label": v, "active": True, "defaultValue": False}
            for v in (picklist[1] if picklist else ())
        ],
    }


def _urls(version: str, sobject: str) -> dict[str, str]:
    base = f"{DATA_PREFIX}/{version}/sobjects/{sobject}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def basic_info(version: str, sobject: str) -> dict[str, Any]:
    """The answer to GET sobjects/{Type}: the object's summary and recent items."""
    schema = SOBJECTS[sobject]
    summary = {
        "name": sobject, "label": _label(sobject), "keyPrefix": schema.prefix,
        "custom": sobject.endswith("__c"), "createable": True, "updateable": True,
        "deletable": False, "queryable": True, "urls": _urls(version, sobject),
    }  # fmt: skip
    return {"objectDescribe": summary, "recentItems": []}


def describe(version: str, sobject: str) -> dict[str, Any]:
    """The answer to GET sobjects/{Type}/describe."""
    schema = SOBJECTS[sobject]
    info: dict[str, Any] = basic_info(version, sobject)["objectDescribe"]
    fields = [_field(sobject, name, kind) for name, kind in schema.fields.items()]
    return info | {"fields": fields}


def limits(used_today: int) -> dict[str, Any]:
    """The org's limits, as GET limits answers them."""
    return {
        "DailyApiRequests": {
            "Max": DAILY_API_REQUESTS,
            "Remaining": DAILY_API_REQUESTS - used_today,
        },
        "DailyBulkV2QueryJobs": {"Max": 10_000, "Remaining": 10_000},
        "SingleEmail": {"Max": 5_000, "Remaining": 5_000},
    }
