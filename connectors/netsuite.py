"""NetSuite record bodies for the ERP connector: canonical models to record JSON and back.

Money goes out as a JSON number: NetSuite's currency fields are numbers in its record
schema, and a float carries any amount below 10**13 with cents exactly (15 significant
digits); larger or finer amounts are refused before sending rather than rounded.
"""

import math
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

from models.erp import (
    ErpCustomer,
    ErpCustomerInput,
    ErpEmployee,
    ErpEmployeeInput,
    ErpProject,
    ErpProjectInput,
    LabourForecast,
    LabourForecastInput,
)

RECORD_PATH = "/services/rest/record/v1"
# NetSuite's error code for a record that does not exist (as opposed to a wrong URL).
MISSING_RECORD_CODE = "NONEXISTENT_ID"
# Its 400 for a delete refused while other records (projects, allocations) point at the record.
DEPENDENTS_CODE = "RECORD_HAS_DEPENDENTS"
# psflow's billing types -> NetSuite's project billing type ids
BILLING_TYPE_IDS = {"Time and Materials": "TM", "Fixed Fee": "FFM"}
PAGE_SIZE = 1000
COST_CENTER_FIELD = "custentity_psflow_cost_center"
ALLOCATION_COST_FIELD = "custrecord_psflow_cost"
ORIGIN_FIELD = "custentity_psflow_origin"
# An approved assignment books the employee: NetSuite's "Hard" allocation type.
HARD_ALLOCATION_TYPE = "1"
# A full-time working day, Monday to Friday: how an open-ended allocation is laid out.
HOURS_PER_DAY = Decimal(8)


def money(amount: Decimal) -> float:
    """An amount as a JSON number, refusing any the float would not carry exactly."""
    value = float(amount)
    if Decimal(repr(value)) != amount:
        raise ValueError(f"amount {amount} cannot be sent exactly as a JSON number")
    return value


def planned_end_date(start: date, hours: Decimal) -> date:
    """The last working day (Monday to Friday) of `hours` worked full time from `start`.

    NetSuite requires an allocation's end date; an assignment without one runs this long.
    """
    day = start
    while day.weekday() >= 5:
        day += timedelta(days=1)
    remaining = max(1, math.ceil(hours / HOURS_PER_DAY)) - 1
    while remaining:
        day += timedelta(days=1)
        if day.weekday() < 5:
            remaining -= 1
    return day


# ------------------------------------------------------------ reading records


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response body, which must be a JSON object."""
    body = response.json()
    if not isinstance(body, dict):
        raise TypeError(f"expected a JSON object, got {type(body).__name__}")
    return body


def reference_id(record: dict[str, Any], field: str) -> str:
    """The internal id in a reference field (`{"id": ...}`), or "" when there is none."""
    value = record.get(field)
    return str(value["id"]) if isinstance(value, dict) and "id" in value else ""


def json_decimal(value: Any) -> Decimal:
    """A JSON number as the Decimal it was written from (its shortest repr)."""
    return Decimal(str(value)) if value is not None else Decimal(0)


def customer_from_record(record: dict[str, Any]) -> ErpCustomer:
    """A NetSuite customer record as an ErpCustomer."""
    return ErpCustomer(
        id=str(record["id"]),
        external_id=str(record.get("externalId") or ""),
        company_name=str(record.get("companyName") or ""),
        origin=record.get(ORIGIN_FIELD) or None,
    )


def project_from_record(record: dict[str, Any]) -> ErpProject:
    """A NetSuite job record as an ErpProject."""
    return ErpProject(
        id=str(record["id"]),
        external_id=str(record.get("externalId") or ""),
        name=str(record.get("companyName") or record.get("entityId") or ""),
        customer_id=reference_id(record, "parent"),
    )


def employee_from_record(record: dict[str, Any]) -> ErpEmployee:
    """A NetSuite employee record as an ErpEmployee."""
    full_name = f"{record.get('firstName') or ''} {record.get('lastName') or ''}".strip()
    return ErpEmployee(
        id=str(record["id"]),
        external_id=str(record.get("externalId") or ""),
        name=full_name or str(record.get("entityId") or ""),
        subsidiary_id=reference_id(record, "subsidiary"),
        cost_center=str(record.get(COST_CENTER_FIELD) or ""),
        labor_cost=json_decimal(record.get("laborCost")),
        inactive=bool(record.get("isInactive")),
        origin=record.get(ORIGIN_FIELD) or None,
    )


def forecast_from_record(record: dict[str, Any]) -> LabourForecast:
    """A NetSuite resourceAllocation record as a LabourForecast."""
    end = record.get("endDate")
    return LabourForecast(
        id=str(record["id"]),
        external_id=str(record.get("externalId") or ""),
        hours=json_decimal(record.get("allocationAmount")),
        cost=json_decimal(record.get(ALLOCATION_COST_FIELD)),
        end_date=date.fromisoformat(end) if isinstance(end, str) else None,
    )


# ------------------------------------------------------------ building record bodies


def customer_body(
    data: ErpCustomerInput, currency_id: str, term_id: str, *, create: bool
) -> dict[str, Any]:
    """The customer record to PUT; the origin only when the customer is created."""
    body: dict[str, Any] = {
        "companyName": data.company_name,
        "subsidiary": {"id": data.subsidiary_id},
        "currency": {"id": currency_id},
        "terms": {"id": term_id},
    }
    if create:
        body[ORIGIN_FIELD] = data.origin
    return body


def project_body(data: ErpProjectInput, currency_id: str) -> dict[str, Any]:
    """The job record to PUT, under customer `data.customer_id`."""
    return {
        "companyName": data.name,
        "parent": {"id": data.customer_id},
        "subsidiary": {"id": data.subsidiary_id},
        "currency": {"id": currency_id},
        "jobBillingType": {"id": BILLING_TYPE_IDS.get(data.billing_type, data.billing_type)},
        "custentity_psflow_budget": money(data.budget),
    }


def employee_body(data: ErpEmployeeInput, *, create: bool) -> dict[str, Any]:
    """The employee record to PUT; the origin only when the employee is created."""
    body: dict[str, Any] = {
        "firstName": data.first_name,
        "lastName": data.last_name,
        "email": data.email,
        "subsidiary": {"id": data.subsidiary_id},
        "department": {"id": data.department_id},
        COST_CENTER_FIELD: data.cost_center,
        "laborCost": money(data.labor_cost),
    }
    if create:
        body[ORIGIN_FIELD] = data.origin
    return body


def forecast_body(data: LabourForecastInput, project_id: str, employee_id: str) -> dict[str, Any]:
    """The resourceAllocation record to PUT: a hard allocation in hours.

    Without an end date the allocation ends on `planned_end_date`.
    """
    end = data.end_date or planned_end_date(data.start_date, data.hours)
    return {
        "allocationResource": {"id": employee_id},
        "project": {"id": project_id},
        "allocationAmount": money(data.hours),
        "allocationUnit": {"id": "HOURS"},
        "allocationType": {"id": HARD_ALLOCATION_TYPE},
        "startDate": data.start_date.isoformat(),
        "endDate": end.isoformat(),
        ALLOCATION_COST_FIELD: money(data.cost),
    }
