"""Employees: who works for which subsidiary, in which department and cost center, at what
hourly labour cost.

NetSuite's employee record carries no currency: laborCost is in the base currency of the
employee's subsidiary, so the sandbox refuses a `currency` field like any unknown field.
"""

from typing import Any

from sandbox import catalog
from sandbox.erp import fields as f
from sandbox.erp.errors import invalid
from sandbox.erp.schema import RecordType
from sandbox.records import RecordStore

COST_CENTER_FIELD = "custentity_psflow_cost_center"
# cost center code -> (subsidiary id, name); the HCM's codes, kept as they are
COST_CENTERS = {
    code: (catalog.LEGAL_ENTITIES[entity][0], name)
    for code, (entity, name) in catalog.COST_CENTERS.items()
}


def _cost_center(store: RecordStore, field: str, value: Any) -> str:
    code = f.text(store, field, value)
    if code not in COST_CENTERS:
        raise invalid(field, value, "No such cost center.")
    return code


def _complete(store: RecordStore, record: dict[str, Any], body: dict[str, Any]) -> None:
    EMPLOYEE.require(record)
    record.setdefault("entityId", f"{record['firstName']} {record['lastName']}")
    record.setdefault("isInactive", False)
    code = record.get(COST_CENTER_FIELD)
    subsidiary = record["subsidiary"]
    if code and COST_CENTERS[code][0] != subsidiary["id"]:
        owner = (store.get("subsidiary", COST_CENTERS[code][0]) or {}).get("name")
        raise invalid(
            COST_CENTER_FIELD,
            code,
            f"Cost center {code} belongs to {owner}, not to {subsidiary['refName']}.",
        )


EMPLOYEE = RecordType(
    name="employee",
    fields={
        "entityId": f.text,
        "firstName": f.text,
        "lastName": f.text,
        "email": f.email,
        "title": f.text,
        "subsidiary": f.Reference("subsidiary"),
        "department": f.Reference("department"),
        COST_CENTER_FIELD: _cost_center,
        "laborCost": f.positive_amount,
        "isInactive": f.boolean,
        "custentity_psflow_origin": f.text,
    },
    mandatory={"firstName": "First Name", "lastName": "Last Name", "subsidiary": "Subsidiary"},
    complete=_complete,
    dependents=(("resourceAllocation", "allocationResource"),),
)
