"""Resource allocations: an employee planned on a project for some hours between two dates.

psflow keeps the labour cost of each allocation in custrecord_psflow_cost: allocationAmount
(hours) x the employee's laborCost, in the employee's subsidiary currency. A custom field, it
is stored as sent (a restored forecast may carry an earlier rate); left out, the sandbox works
it out to the cent, as a script on the real account would.
"""

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.erp import fields as f
from sandbox.erp import seed as data
from sandbox.erp.errors import invalid
from sandbox.erp.schema import RecordType
from sandbox.records import RecordStore

COST_FIELD = "custrecord_psflow_cost"
CENT = Decimal("0.01")


def labour_cost(hours: float, labor_cost: float) -> Decimal:
    """Hours x hourly labour cost, rounded half up to the cent."""
    return (Decimal(repr(hours)) * Decimal(repr(labor_cost))).quantize(CENT, ROUND_HALF_UP)


def _complete(store: RecordStore, record: dict[str, Any], body: dict[str, Any]) -> None:
    RESOURCE_ALLOCATION.require(record)
    record.setdefault("allocationUnit", data.ref("HOURS", data.ALLOCATION_UNITS["HOURS"]))
    record.setdefault("allocationType", data.ref("1", data.ALLOCATION_TYPES["1"]))
    if record["endDate"] < record["startDate"]:
        raise invalid("endDate", record["endDate"], "The end date is before the start date.")
    resource = record["allocationResource"]
    employee = store.get("employee", resource["id"]) or {}
    if employee.get("isInactive"):
        raise invalid(
            "allocationResource", resource["id"], f"Employee {resource['refName']} is inactive."
        )
    if body.get(COST_FIELD) is None and employee.get("laborCost") is not None:
        cost = labour_cost(record["allocationAmount"], employee["laborCost"])
        record[COST_FIELD] = float(cost)


RESOURCE_ALLOCATION = RecordType(
    name="resourceAllocation",
    fields={
        "allocationResource": f.Reference("employee"),
        "project": f.Reference("job"),
        "allocationAmount": f.positive_amount,
        "allocationUnit": f.Select(data.ALLOCATION_UNITS),
        "allocationType": f.Select(data.ALLOCATION_TYPES),
        "startDate": f.iso_date,
        "endDate": f.iso_date,
        "notes": f.text,
        COST_FIELD: f.amount,
    },
    mandatory={
        "allocationResource": "Resource",
        "project": "Project",
        "allocationAmount": "Allocate",
        "startDate": "Start Date",
        "endDate": "End Date",
    },
    complete=_complete,
    sequence=data.ALLOCATION_SEQUENCE,
    first_id=data.ALLOCATION_START,
)
