"""Time bills and expense reports: their fields, and the checks NetSuite makes on a write.

timeBill (NetSuite's Track Time): employee {id}, customer {id} (the project, NetSuite's
customer:job), hours as NetSuite's duration "H:MM" (7.5 hours is "7:30"), tranDate, isBillable,
rate (the hourly bill rate), price (the price level; a rate sets it to -1 Custom), memo and
the custom columns custcol_psflow_role, custcol_psflow_cost_center, custcol_psflow_approver,
custcol_psflow_source and custcol_psflow_amount (hours x rate to the cent, worked out when left
out). invoice {id} is read-only: the invoice that bills it, absent while unbilled.

expenseReport: the sandbox keeps one expense line per report, its fields on the record itself:
entity {id} (the employee), customer {id} (the project), tranDate, amount, currency {id} (the
project's currency; another is refused), isBillable, memo, custcol_psflow_category,
custcol_psflow_cost_center, custcol_psflow_approver, custcol_psflow_source, invoice {id}.

NetSuite refuses time and expenses of an inactive employee, and a record already billed on an
invoice cannot be changed (writing the same values again is not a change).
"""

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.erp import fields as f
from sandbox.erp import seed as data
from sandbox.erp.billing_query import EXPENSE_REPORT, TIME_BILL
from sandbox.erp.employees import COST_CENTERS
from sandbox.erp.errors import NetSuiteError, invalid
from sandbox.records import RecordStore

CENT = Decimal("0.01")
DURATION = re.compile(r"(\d{1,3}):([0-5]\d)")
PRICE_LEVELS = {"-1": "Custom", "1": "Base Price"}
CUSTOM_PRICE = "-1"
AMOUNT_FIELD = "custcol_psflow_amount"
READ_ONLY = frozenset({"id", "links", "externalId", "dateCreated", "lastModifiedDate", "invoice"})
_STAMPS = ("dateCreated", "lastModifiedDate")


class Lookups:
    """The employees, projects and currencies one request refers to, each read once."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self._seen: dict[tuple[str, str], dict[str, Any] | None] = {}

    def get(self, kind: str, id: str) -> dict[str, Any] | None:
        if (kind, id) not in self._seen:
            self._seen[kind, id] = self.store.get(kind, id)
        return self._seen[kind, id]

    def reference(self, kind: str, field: str, value: Any) -> dict[str, Any]:
        """The record that {"id": ...} or {"externalId": ...} names; INVALID_KEY_OR_REF if none."""
        id = value.get("id") if isinstance(value, dict) else None
        if id is None and isinstance(value, dict) and isinstance(value.get("externalId"), str):
            id = self.store.id_for_external(kind, value["externalId"])
        target = self.get(kind, str(id)) if isinstance(id, str | int) else None
        if target is None:
            shown = value.get("id", value.get("externalId")) if isinstance(value, dict) else value
            detail = f"Invalid {field} reference key {shown}."
            raise NetSuiteError(400, detail, "INVALID_KEY_OR_REF", field)
        return target


def duration(value: Any, field: str = "hours") -> str:
    """NetSuite's duration "H:MM", above zero."""
    match = DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None or (int(match[1]), int(match[2])) == (0, 0):
        raise invalid(field, value, 'Provide a duration above zero as "H:MM", e.g. "7:30".')
    return f"{int(match[1])}:{match[2]}"


def hours_of(value: str) -> Decimal:
    """A duration "H:MM" in hours."""
    hours, minutes = value.split(":")
    return Decimal(hours) + Decimal(minutes) / 60


def json_decimal(value: Any) -> Decimal:
    return Decimal(repr(value)) if value is not None else Decimal(0)


def _cost_center(store: RecordStore, field: str, value: Any) -> str:
    code = f.text(store, field, value)
    if code not in COST_CENTERS:
        raise invalid(field, value, "No such cost center.")
    return code


_COMMON: dict[str, f.FieldParser] = {
    "tranDate": f.iso_date,
    "isBillable": f.boolean,
    "memo": f.text,
    "custcol_psflow_cost_center": _cost_center,
    "custcol_psflow_approver": f.text,
    "custcol_psflow_source": f.text,
}
FIELDS: dict[str, dict[str, f.FieldParser]] = {
    TIME_BILL: {
        **_COMMON,
        "hours": lambda _, field, value: duration(value, field),
        "rate": f.amount,
        "price": f.Select(PRICE_LEVELS),
        "custcol_psflow_role": f.text,
        AMOUNT_FIELD: f.amount,
    },
    EXPENSE_REPORT: {**_COMMON, "amount": f.positive_amount, "custcol_psflow_category": f.text},
}
# reference field -> the record type it points at
REFERENCES = {
    TIME_BILL: {"employee": "employee", "customer": "job"},
    EXPENSE_REPORT: {"entity": "employee", "customer": "job", "currency": "currency"},
}
# every property a body may name, read-only ones included
NAMES = {kind: frozenset({*FIELDS[kind], *REFERENCES[kind], *READ_ONLY}) for kind in FIELDS}
MANDATORY = {
    TIME_BILL: {"employee": "Employee", "customer": "Customer", "hours": "Duration",
                "tranDate": "Date"},
    EXPENSE_REPORT: {"entity": "Employee", "customer": "Customer", "tranDate": "Date",
                     "amount": "Amount"},
}  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _complete(kind: str, lookups: Lookups, record: dict[str, Any], body: dict[str, Any]) -> None:
    missing = [label for name, label in MANDATORY[kind].items() if not record.get(name)]
    if missing:
        detail = f"Please enter value(s) for: {', '.join(missing)}."
        raise NetSuiteError(400, detail, "USER_ERROR", missing[0])
    employee_field = "employee" if kind == TIME_BILL else "entity"
    employee = lookups.get("employee", record[employee_field]["id"]) or {}
    if employee.get("isInactive"):
        detail = f"Employee {record[employee_field]['refName']} is inactive: no time or expenses."
        raise NetSuiteError(400, detail, "INACTIVE_RCRD", employee_field)
    record.setdefault("isBillable", False)
    job = lookups.get("job", record["customer"]["id"]) or {}
    if kind == EXPENSE_REPORT:
        record.setdefault("currency", job.get("currency"))
        if (record.get("currency") or {}).get("id") != (job.get("currency") or {}).get("id"):
            why = f"The project's currency is {(job.get('currency') or {}).get('refName')}."
            raise invalid("currency", record["currency"]["id"], why)
    elif record.get("rate") is not None:
        record.setdefault("price", data.ref(CUSTOM_PRICE, PRICE_LEVELS[CUSTOM_PRICE]))
        if body.get(AMOUNT_FIELD) is None and ("rate" in body or "hours" in body):
            amount = hours_of(record["hours"]) * json_decimal(record["rate"])
            record[AMOUNT_FIELD] = float(amount.quantize(CENT, ROUND_HALF_UP))


def build(
    kind: str, lookups: Lookups, current: dict[str, Any] | None, body: dict[str, Any]
) -> dict[str, Any]:
    """The record as it would be saved: the body applied to `current`, checked as NetSuite
    would; raises NetSuiteError naming the field at fault."""
    record = dict(current or {})
    record.pop("invoice", None)
    for name, value in body.items():
        if name in READ_ONLY:
            if name == "invoice" and value is not None:
                detail = "invoice is set by the invoice that bills the record."
                raise NetSuiteError(400, detail, "READ_ONLY_FLD", name)
            continue
        if value is None:
            record.pop(name, None)
        elif name in REFERENCES[kind]:
            target = lookups.reference(REFERENCES[kind][name], name, value)
            record[name] = data.ref(str(target["id"]), f.display_name(target))
        elif name in FIELDS[kind]:
            record[name] = FIELDS[kind][name](lookups.store, name, value)
        else:
            detail = f"Invalid field name: {name}."
            raise NetSuiteError(400, detail, "INVALID_FLD", name)
    _complete(kind, lookups, record, body)
    return record


def unchanged(current: dict[str, Any], record: dict[str, Any]) -> bool:
    """Whether saving `record` over `current` would change nothing but the timestamps."""

    def content(r: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in r.items() if k not in (*_STAMPS, "invoice", "id", "links")}

    return content(current) == content(record)


def refuse_if_billed(current: dict[str, Any] | None) -> None:
    """A record on an invoice (draft, approved or released) cannot change."""
    if current is not None and current.get("invoice"):
        number = current["invoice"]["refName"]
        detail = f"This record is billed on invoice {number} and cannot be changed."
        raise NetSuiteError(400, detail, "RCRD_BILLED", "invoice")


def stamp(record: dict[str, Any], external_id: str | None, *, new: bool) -> dict[str, Any]:
    """The record with its external id and timestamps set."""
    now = _now()
    if new:
        record["dateCreated"] = now
    record["lastModifiedDate"] = now
    record["externalId"] = external_id
    return record
