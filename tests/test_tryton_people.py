"""Tryton's employees and labour forecasts against a real trytond 8.0 (tests/tryton_support.py):
the forecast upsert and its idempotence, its refusals with NetSuite's field names, the list,
the deletes (an employee in use is RecordInUse, which the hire's undo turns into inactive),
and the read of many employees at once."""

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from activities.employees import EmployeeActivities, EmployeeRemoval
from connectors.errors import RecordInUse, RequestRejected
from connectors.tryton import TrytonErpConnector
from models.erp import (
    ErpCustomerInput,
    ErpEmployeeInput,
    ErpProject,
    ErpProjectInput,
    LabourForecastInput,
)
from models.status import CompensationOutcome
from stack.tryton import TrytonServer
from tests.tryton_support import tryton, tryton_template_seconds

__all__ = ["tryton", "tryton_template_seconds"]  # the fixtures this module uses

KEY = "psflow_external_id"
FORECAST = "psflow.labour_forecast"
ORIGIN = "hire-to-staff/W1"


@pytest.fixture
async def erp(tryton: TrytonServer) -> AsyncIterator[TrytonErpConnector]:
    connector = TrytonErpConnector.build(tryton.url, tryton.login, tryton.password)
    yield connector
    await connector.aclose()


def employee(key: str, **changes: object) -> ErpEmployeeInput:
    values = {
        "external_id": key,
        "first_name": "Riley",
        "last_name": "Chen",
        "subsidiary_id": "1",
        "department_id": "101",
        "cost_center": "CC-1100",
        "labor_cost": Decimal("92.50"),
        "currency": "USD",
        "origin": ORIGIN,
    }
    return ErpEmployeeInput.model_validate({**values, **changes})  # fmt: skip


async def project(erp: TrytonErpConnector) -> ErpProject:
    """A new project in subsidiary 1's company, the employees' own."""
    key = f"P-{uuid4().hex[:8]}"
    owner = await erp.upsert_customer(ErpCustomerInput(
        external_id=f"c-{key}", company_name="Initech Software", subsidiary_id="1",
        currency="USD", terms="Net 30", origin="opportunity-to-project/006A",
    ))  # fmt: skip
    return await erp.upsert_project(ErpProjectInput(
        external_id=key, name="Initech ERP rollout", customer_id=owner.id, subsidiary_id="1",
        currency="USD", budget=Decimal("125000.00"), billing_type="Time and Materials",
    ))  # fmt: skip


def forecast(key: str, project_key: str, employee_key: str, **changes: Any) -> LabourForecastInput:
    values = {
        "external_id": key,
        "project_external_id": project_key,
        "employee_external_id": employee_key,
        "hours": Decimal("160"),
        "cost": Decimal("14800.00"),
        "start_date": date(2026, 1, 5),
        "end_date": date(2026, 1, 30),
    }
    return LabourForecastInput.model_validate({**values, **changes})


async def staffed(erp: TrytonErpConnector) -> tuple[str, ErpProject]:
    """A new employee (its external id) and a new project to plan it on."""
    key = f"W-{uuid4().hex[:8]}"
    await erp.upsert_employee(employee(key))
    return key, await project(erp)


async def test_forecast_upsert_twice_is_one_record_then_deleted(erp: TrytonErpConnector) -> None:
    person, work = await staffed(erp)
    key = f"{person}-R1"
    first = await erp.upsert_labour_forecast(forecast(key, work.external_id, person))
    again = await erp.upsert_labour_forecast(
        forecast(key, work.external_id, person, hours=Decimal("200"), cost=Decimal("18500"))
    )
    assert again.id == first.id and again.external_id == key
    assert (again.hours, again.cost, again.end_date) == (
        Decimal("200"), Decimal("18500"), date(2026, 1, 30),
    )  # fmt: skip
    rows = await erp.rpc.model(
        FORECAST, "search_read", [(KEY, "=", key)], 0, None, None,
        ["work", "employee.psflow_external_id", "start_date"],
    )  # fmt: skip
    assert [(str(r["work"]), r["employee."][KEY], r["start_date"]) for r in rows] == [
        (work.id, person, date(2026, 1, 5))
    ]
    assert await erp.list_labour_forecasts(person) == [again]
    assert await erp.delete_labour_forecast(key) is True
    assert await erp.delete_labour_forecast(key) is False
    assert await erp.list_labour_forecasts(person) == []


async def test_forecasts_are_listed_oldest_first_open_ended_kept(erp: TrytonErpConnector) -> None:
    person, work = await staffed(erp)
    older = await erp.upsert_labour_forecast(forecast(f"{person}-R1", work.external_id, person))
    newer = await erp.upsert_labour_forecast(
        forecast(f"{person}-R2", work.external_id, person, end_date=None)
    )
    assert newer.end_date is None  # Tryton needs no end date, unlike NetSuite
    assert await erp.list_labour_forecasts(person) == [older, newer]
    await erp.set_employee_inactive(person, True)
    assert await erp.list_labour_forecasts(person) == [older, newer]
    assert await erp.list_labour_forecasts("W-nobody") == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"project_external_id": "P-nothing"}, "project"),
        ({"employee_external_id": "W-nobody"}, "allocationResource"),
        ({"hours": Decimal("0")}, "allocationAmount"),
        ({"end_date": date(2025, 12, 31)}, "endDate"),
    ],
)
async def test_invalid_forecast_is_refused_naming_the_field(
    erp: TrytonErpConnector, changes: dict[str, Any], field: str
) -> None:
    person, work = await staffed(erp)
    key = f"{person}-R1"
    with pytest.raises(RequestRejected) as caught:
        await erp.upsert_labour_forecast(forecast(key, work.external_id, person, **changes))
    assert caught.value.non_retryable is True
    assert caught.value.fields == [field]
    assert await erp.rpc.model(FORECAST, "search_count", [(KEY, "=", key)]) == 0


async def test_forecast_for_an_inactive_employee_is_refused(erp: TrytonErpConnector) -> None:
    person, work = await staffed(erp)
    await erp.set_employee_inactive(person, True)
    with pytest.raises(RequestRejected) as caught:
        await erp.upsert_labour_forecast(forecast(f"{person}-R1", work.external_id, person))
    assert caught.value.fields == ["allocationResource"]
    assert "inactive" in caught.value.message


async def test_employee_deleted_once_its_party_kept(erp: TrytonErpConnector) -> None:
    key = f"W-{uuid4().hex[:8]}"
    await erp.upsert_employee(employee(key))
    assert await erp.delete_employee(key) is True
    assert await erp.delete_employee(key) is False
    assert await erp.get_employee(key) is None
    person = [("psflow_external_id", "=", f"person-{key}")]
    assert await erp.rpc.model("party.party", "search_count", person) == 1
    again = await erp.upsert_employee(employee(key))  # the same party again
    assert await erp.rpc.model("party.party", "search_count", person) == 1
    assert again.name == "Riley Chen" and not again.inactive


async def test_employee_with_a_forecast_is_in_use_until_it_is_deleted(
    erp: TrytonErpConnector,
) -> None:
    person, work = await staffed(erp)
    planned = await erp.upsert_labour_forecast(forecast(f"{person}-R1", work.external_id, person))
    with pytest.raises(RecordInUse) as caught:
        await erp.delete_employee(person)
    assert caught.value.status == 400 and caught.value.non_retryable is True
    assert person in caught.value.message
    assert await erp.get_employee(person) is not None
    assert await erp.delete_labour_forecast(planned.external_id) is True
    assert await erp.delete_employee(person) is True


async def test_employee_with_time_is_in_use_and_the_undo_makes_it_inactive(
    erp: TrytonErpConnector,
) -> None:
    person, work = await staffed(erp)
    made = await erp.get_employee(person)
    assert made is not None
    await erp.rpc.model("project.work", "write", [int(work.id)], {"timesheet_available": True})
    [row] = await erp.rpc.model("project.work", "read", [int(work.id)], ["timesheet_works"])
    await erp.rpc.model("timesheet.line", "create", [{
        "company": 1, "employee": int(made.id), "work": row["timesheet_works"][0],
        "date": date(2026, 5, 4), "duration": {"__class__": "timedelta", "seconds": 8 * 3600},
    }])  # fmt: skip
    with pytest.raises(RecordInUse):
        await erp.delete_employee(person)
    undo = EmployeeActivities(erp).remove_employee
    assert await undo(EmployeeRemoval(external_id=person, origin=ORIGIN)) == (
        CompensationOutcome.UNDONE
    )
    kept = await erp.get_employee(person)
    assert kept is not None and kept.inactive


async def test_employees_by_external_id_reads_them_at_once(erp: TrytonErpConnector) -> None:
    active, gone = f"W-{uuid4().hex[:8]}", f"W-{uuid4().hex[:8]}"
    await erp.upsert_employee(employee(active))
    await erp.upsert_employee(employee(gone, subsidiary_id="2", currency="GBP"))
    await erp.set_employee_inactive(gone, True)
    wanted = [active, "LEGACY-E-0101", gone, "W-nobody", active, ""]
    found = await erp.employees_by_external_id(wanted)
    assert sorted(found) == sorted([active, "LEGACY-E-0101", gone])
    for key, read in found.items():
        assert read == await erp.get_employee(key)
    assert found[gone].inactive and found[gone].subsidiary_id == "2"
    assert found["LEGACY-E-0101"].name == "Jordan Reyes"
    assert await erp.employees_by_external_id([]) == {}
