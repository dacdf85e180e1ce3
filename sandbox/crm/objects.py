"""The sObject table: each type's fields and rules, record ids, rendering and validation."""

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sandbox.crm.errors import SalesforceError, not_found
from sandbox.crm.paths import API_VERSION, DATA_PREFIX

ID_CHARS = re.compile(r"^[A-Za-z0-9]+$")
CHECKSUM_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
# Salesforce stage -> (IsClosed, IsWon)
STAGES = {
    "Prospecting": (False, False),
    "Qualification": (False, False),
    "Needs Analysis": (False, False),
    "Proposal/Price Quote": (False, False),
    "Negotiation/Review": (False, False),
    "Closed Won": (True, True),
    "Closed Lost": (True, False),
}
# The restricted picklist of the latest invoice's status, as the ERP moves it.
INVOICE_STATUSES = ("Draft", "Approved", "Released", "Voided")
# (object, field) -> (field label, allowed values): Salesforce's restricted picklists
PICKLISTS: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("Opportunity", "StageName"): ("Stage", tuple(STAGES)),
    ("Opportunity", "Invoice_Status__c"): ("Invoice Status", INVOICE_STATUSES),
}


@dataclass(frozen=True)
class SObject:
    """One object type: its key prefix, fields (name -> str/num/date/bool/id) and rules."""

    prefix: str
    fields: dict[str, str]
    read_only: frozenset[str] = frozenset({"Id"})
    required: frozenset[str] = frozenset({"Name"})
    external_ids: frozenset[str] = frozenset()
    related: dict[str, tuple[str, str]] = field(default_factory=dict)


SOBJECTS = {
    "Opportunity": SObject(
        "006",
        {
            "Id": "id", "Name": "str", "AccountId": "str", "OwnerId": "str", "StageName": "str",
            "IsClosed": "bool", "IsWon": "bool", "Amount": "num", "CurrencyIsoCode": "str",
            "CloseDate": "date", "Rate_Card__c": "str", "Legal_Entity__c": "str",
            "Billing_Terms__c": "str", "Billing_Type__c": "str", "Start_Date__c": "date",
            "ERP_Project_Id__c": "str", "PSA_Project_Id__c": "str",
            "Invoice_Status__c": "str", "Last_Invoice_Number__c": "str",
            "Last_Invoice_Amount__c": "num", "Last_Invoiced_Period__c": "str",
        },
        read_only=frozenset({"Id", "IsClosed", "IsWon"}),
        required=frozenset({"Name", "StageName", "CloseDate"}),
        related={
            "OpportunityLineItems": ("OpportunityLineItem", "OpportunityId"),
            "Project_Milestones__r": ("Project_Milestone__c", "Opportunity__c"),
        },
    ),
    "Account": SObject(
        "001",
        {
            "Id": "id", "Name": "str", "BillingCountry": "str", "Legal_Entity__c": "str",
            "Psflow_External_Id__c": "str", "Invoice_Status__c": "str",
        },
        external_ids=frozenset({"Psflow_External_Id__c"}),
    ),
    "User": SObject(
        "005",
        {"Id": "id", "Name": "str", "Username": "str", "Email": "str", "IsActive": "bool"},
    ),
    "OpportunityLineItem": SObject(
        "00k",
        {
            "Id": "id", "OpportunityId": "str", "Role__c": "str", "Quantity": "num",
            "UnitPrice": "num", "TotalPrice": "num",
        },
        read_only=frozenset({"Id", "OpportunityId", "TotalPrice"}),
        required=frozenset(),
    ),
    "Project_Milestone__c": SObject(
        "a0M",
        {
            "Id": "id", "Name": "str", "Opportunity__c": "str", "Due_Date__c": "date",
            "Amount__c": "num",
        },
        read_only=frozenset({"Id", "Opportunity__c"}),
    ),
}  # fmt: skip


def _checksum(base: str) -> str:
    suffix = ""
    for start in range(0, 15, 5):
        chunk = base[start : start + 5]
        suffix += CHECKSUM_CHARS[sum(1 << i for i, ch in enumerate(chunk) if ch.isupper())]
    return suffix


def normalise_id(sobject: SObject, value: str) -> str:
    """The 18-character form of a record id given as 15 or 18 characters.

    As Salesforce does, a segment that is not id-shaped at all is read as an external-id
    field name and answers 404; an id-shaped value whose checksum does not match answers
    400 MALFORMED_ID; a well-formed id of another object type answers 404.
    """
    if len(value) not in (15, 18) or not ID_CHARS.match(value):
        raise SalesforceError(
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {value}",
        )
    full = value[:15] + _checksum(value[:15])
    if len(value) == 18 and value[15:].upper() != full[15:]:
        raise SalesforceError(400, "MALFORMED_ID", f"malformed id {value}")
    if not full.startswith(sobject.prefix):
        raise not_found()
    return full


def schema_for(name: str, *, any_case: bool = False) -> Any:
    """The schema of an object type (its canonical name, with `any_case`, where object names
    are taken in any case); 404 for a type the sandbox does not know."""
    if any_case:
        found = next((s for s in SOBJECTS if s.lower() == name.lower()), None)
        if found is None:
            raise not_found()
        return found
    schema = SOBJECTS.get(name)
    if schema is None:
        raise not_found()
    return schema


def _attributes(name: str, record_id: str) -> dict[str, str]:
    url = f"{DATA_PREFIX}/{API_VERSION}/sobjects/{name}/{record_id}"
    return {"type": name, "url": url}


def render(name: str, record: dict[str, Any], fields: list[str] | None = None) -> dict[str, Any]:
    """A record as Salesforce answers it, with its attributes and the asked-for fields."""
    names = fields if fields is not None else list(SOBJECTS[name].fields)
    return {"attributes": _attributes(name, record["Id"])} | {f: record.get(f) for f in names}


def field_list(name: str, raw: str | None) -> list[str] | None:
    """The fields of a comma-separated list, refusing any the type lacks."""
    if raw is None:
        return None
    fields = [f.strip() for f in raw.split(",") if f.strip()]
    unknown = [f for f in fields if f not in SOBJECTS[name].fields]
    if unknown:
        raise _no_such_column(name, unknown[0])
    return fields


def _no_such_column(name: str, column: str) -> SalesforceError:
    message = f"No such column '{column}' on sobject of type {name}"
    return SalesforceError(400, "INVALID_FIELD", message, [column])


def check_value(name: str, column: str, kind: str, value: Any) -> None:
    """Refuse a value the field's kind, required flag or picklist rejects."""
    if value is None:
        if column in SOBJECTS[name].required:
            raise SalesforceError(
                400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{column}]", [column]
            )
        return
    if not _valid(kind, value):
        raise SalesforceError(
            400,
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {kind} from value {value!r} for field {column}",
            [column],
        )
    picklist = PICKLISTS.get((name, column))
    if picklist is not None and value not in picklist[1]:
        raise SalesforceError(
            400,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{picklist[0]}: bad value for restricted picklist field: {value}",
            [column],
        )


def _valid(kind: str, value: Any) -> bool:
    if kind == "num":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "date":
        return isinstance(value, str) and _is_date(value)
    return isinstance(value, str)


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def validate_changes(name: str, changes: dict[str, Any]) -> dict[str, Any]:
    """The changes a PATCH body asks for, refused the way Salesforce refuses them."""
    schema = SOBJECTS[name]
    changes = {k: v for k, v in changes.items() if k != "attributes"}
    for column, value in changes.items():
        if column not in schema.fields:
            raise _no_such_column(name, column)
        if column in schema.read_only:
            raise SalesforceError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {column}. Please check the security "
                "settings of this field and verify that it is read/write for your profile "
                "or permission set.",
                [column],
            )
        check_value(name, column, schema.fields[column], value)
    return changes


def derived(name: str, record: dict[str, Any]) -> dict[str, Any]:
    """Fields Salesforce computes from others."""
    if name == "Opportunity":
        is_closed, is_won = STAGES.get(record["StageName"], (False, False))
        return {"IsClosed": is_closed, "IsWon": is_won}
    if name == "OpportunityLineItem":
        return {"TotalPrice": (record.get("Quantity") or 0) * (record.get("UnitPrice") or 0)}
    return {}
