"""The Tryton ERP connector against a real trytond 8.0 (tests/tryton_support.py): the prepared
database, the integration user's limits, each operation and its idempotence, the re-login."""

import sqlite3
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest

from connectors.errors import AuthenticationFailed, NotFound, RecordInUse, RequestRejected
from connectors.tryton import TrytonErpConnector
from models.erp import ErpCustomerInput, ErpEmployeeInput, ErpProjectInput
from stack.tryton import TrytonServer, copy_database, prepare_template
from tests.tryton_support import DATA_DIR, tryton, tryton_template_seconds

__all__ = ["tryton", "tryton_template_seconds"]  # the fixtures this module uses

KEY = "psflow_external_id"


@pytest.fixture
async def erp(tryton: TrytonServer) -> AsyncIterator[TrytonErpConnector]:
    connector = TrytonErpConnector.build(tryton.url, tryton.login, tryton.password)
    yield connector
    await connector.aclose()


def customer(key: str, **changes: str) -> ErpCustomerInput:
    values = {
        "external_id": key,
        "company_name": "Initech Software",
        "subsidiary_id": "1",
        "currency": "USD",
        "terms": "Net 30",
        "origin": "opportunity-to-project/006A",
    }
    return ErpCustomerInput.model_validate({**values, **changes})  # fmt: skip


def employee(key: str, **changes: object) -> ErpEmployeeInput:
    values = {
        "external_id": key,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "subsidiary_id": "2",
        "department_id": "101",
        "cost_center": "CC-2100",
        "labor_cost": Decimal("61.00"),
        "currency": "GBP",
        "origin": "hire-to-staff/W1",
    }
    return ErpEmployeeInput.model_validate({**values, **changes})  # fmt: skip


async def project(erp: TrytonErpConnector, key: str, **changes: object) -> ErpProjectInput:
    owner = await erp.upsert_customer(customer(f"c-{key}"))
    values = {
        "external_id": key,
        "name": "Initech ERP rollout",
        "customer_id": owner.id,
        "subsidiary_id": "1",
        "currency": "USD",
        "budget": Decimal("125000.00"),
        "billing_type": "Time and Materials",
    }
    return ErpProjectInput.model_validate({**values, **changes})  # fmt: skip


def test_prepared_database_is_made_once_then_copied(
    tryton: TrytonServer, tryton_template_seconds: float, tmp_path: Path
) -> None:
    started = time.monotonic()
    template = prepare_template(DATA_DIR)  # found, not made again
    copy_database(template, tmp_path, "copy")
    second = time.monotonic() - started
    print(f"template: first {tryton_template_seconds:.1f} s, then {second:.2f} s with a copy")
    assert second < 2.0
    with sqlite3.connect(tmp_path / "copy.sqlite") as db:
        (parties,) = db.execute("SELECT count(*) FROM party_party").fetchone()
        (login,) = db.execute("SELECT login FROM res_user WHERE login = 'psflow'").fetchone()
    assert parties >= 17 and login == "psflow"  # the seed is in the copy


async def test_integration_user_cannot_write_what_it_should_not(
    erp: TrytonErpConnector,
) -> None:
    with pytest.raises(RequestRejected, match="not allowed"):
        await erp.rpc.model("company.company", "write", [1], {"header": "x"})
    acme = await erp.get_customer("sfdc-001Hs0000000001IAA")
    assert acme is not None
    with pytest.raises(RequestRejected, match="not allowed") as refused:
        await erp.rpc.model("party.party", "write", [int(acme.id)], {"code": "ACME"})
    assert refused.value.fields == ["code"]  # Tryton says "Party.Code": the label, named


async def test_customer_upsert_twice_is_one_party_keeping_its_origin(
    erp: TrytonErpConnector,
) -> None:
    key = f"sfdc-{uuid4().hex[:12]}"
    first = await erp.upsert_customer(customer(key))
    again = await erp.upsert_customer(customer(key, company_name="Initech", origin="other/1"))
    assert again.id == first.id and again.company_name == "Initech"
    assert again.origin == "opportunity-to-project/006A"
    rows = await erp.rpc.model(
        "party.party", "search_read", [(KEY, "=", key)], 0, None, None,
        ["name", "customer_payment_term.name"], company=1,
    )  # fmt: skip
    assert [(r["name"], r["customer_payment_term."]["name"]) for r in rows] == [
        ("Initech", "Net 30")
    ]
    assert await erp.get_customer(key) == again
    assert await erp.delete_customer(key) is True
    assert await erp.delete_customer(key) is False
    assert await erp.get_customer(key) is None


async def test_customer_refusals_name_the_field(erp: TrytonErpConnector) -> None:
    with pytest.raises(RequestRejected) as no_term:
        await erp.upsert_customer(customer("sfdc-bad", terms="Net 90"))
    assert no_term.value.fields == ["terms"]
    data = await project(erp, f"P-{uuid4().hex[:8]}", name="")
    with pytest.raises(RequestRejected) as no_name:  # Tryton's own validation
        await erp.upsert_project(data)
    assert no_name.value.fields == ["name"]
    with pytest.raises(RecordInUse):  # Acme has a project
        await erp.delete_customer("sfdc-001Hs0000000001IAA")


async def test_project_upsert_twice_is_one_work_then_deleted(erp: TrytonErpConnector) -> None:
    key = f"P-{uuid4().hex[:8]}"
    data = await project(erp, key)
    first = await erp.upsert_project(data)
    again = await erp.upsert_project(data.model_copy(update={"budget": Decimal("130000")}))
    assert again.id == first.id and again.budget == Decimal("130000") and again.currency == "USD"
    rows = await erp.rpc.model(
        "project.work", "search_read", [(KEY, "=", key)], 0, None, None,
        ["type", "party", "company", "project_invoice_method", "psflow_budget"],
    )  # fmt: skip
    assert [(r["type"], str(r["party"]), r["company"], r["project_invoice_method"]) for r in rows] \
        == [("project", data.customer_id, 1, "timesheet")]  # fmt: skip
    with pytest.raises(RequestRejected) as wrong:
        await erp.upsert_project(data.model_copy(update={"currency": "EUR"}))
    assert wrong.value.fields == ["currency"]
    assert await erp.close_or_delete_project(key) == "deleted"
    assert await erp.delete_project(key) is False
    assert await erp.get_project(key) is None


async def test_project_with_time_is_closed_not_deleted(erp: TrytonErpConnector) -> None:
    key = f"P-{uuid4().hex[:8]}"
    made = await erp.upsert_project(await project(erp, key))
    await erp.rpc.model("project.work", "write", [int(made.id)], {"timesheet_available": True})
    [work] = await erp.rpc.model("project.work", "read", [int(made.id)], ["timesheet_works"])
    staff = await erp.get_employee("LEGACY-E-0101")
    assert staff is not None
    await erp.rpc.model("timesheet.line", "create", [{
        "company": 1, "employee": int(staff.id), "work": work["timesheet_works"][0],
        "date": {"__class__": "date", "year": 2026, "month": 5, "day": 4},
        "duration": {"__class__": "timedelta", "seconds": 8 * 3600},
    }])  # fmt: skip
    assert await erp.close_or_delete_project(key) == "closed"
    [row] = await erp.rpc.model("project.work", "read", [int(made.id)], ["status.name"])
    assert row["status."]["name"] == "Done"
    assert await erp.get_project(key) is not None


async def test_employee_upsert_twice_is_one_employee_with_its_cost(
    erp: TrytonErpConnector,
) -> None:
    key = f"W-{uuid4().hex[:8]}"
    first = await erp.upsert_employee(employee(key))
    again = await erp.upsert_employee(employee(key, labor_cost=Decimal("64.50"), origin="x"))
    assert again.id == first.id and again.subsidiary_id == "2"
    assert again.labor_cost == Decimal("64.50") and again.origin == "hire-to-staff/W1"
    assert await erp.rpc.model("company.employee", "search_count", [(KEY, "=", key)]) == 1
    prices = await erp.rpc.model(
        "company.employee_cost_price", "search_read", [("employee", "=", int(first.id))],
        0, None, None, ["cost_price"],
    )  # fmt: skip
    assert [p["cost_price"] for p in prices] == [Decimal("64.50")]  # today's price corrected
    with pytest.raises(RequestRejected) as wrong:
        await erp.upsert_employee(employee(key, currency="USD"))
    assert wrong.value.fields == ["currency"]


async def test_employee_inactive_and_active_again(erp: TrytonErpConnector) -> None:
    key = f"W-{uuid4().hex[:8]}"
    await erp.upsert_employee(employee(key))
    assert await erp.set_employee_inactive(key, True) is True
    assert await erp.set_employee_inactive(key, True) is False
    gone = await erp.get_employee(key)
    assert gone is not None and gone.inactive
    assert await erp.set_employee_inactive(key, False) is True
    back = await erp.get_employee(key)
    assert back is not None and not back.inactive
    with pytest.raises(NotFound):
        await erp.set_employee_inactive("W-nobody", True)


async def test_expired_session_logs_in_again_once(erp: TrytonErpConnector) -> None:
    assert await erp.get_customer("sfdc-001Hs0000000001IAA") is not None
    before = erp.rpc.logins
    # the server forgets the session, as it does after 300 s idle: the next call gets a 401
    await erp.rpc._send("common.db.logout", [], erp.rpc._authorization)
    assert await erp.get_customer("sfdc-001Hs0000000001IAA") is not None
    assert erp.rpc.logins == before + 1


async def test_wrong_password_is_refused(tryton: TrytonServer) -> None:
    erp = TrytonErpConnector.build(tryton.url, tryton.login, "not-the-password")
    try:
        with pytest.raises(AuthenticationFailed):
            await erp.get_customer("sfdc-001Hs0000000001IAA")
    finally:
        await erp.aclose()
