"""The ERP sandbox (NetSuite REST record/v1) and the ERP connector, together and apart."""

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from connectors.erp import ErpConnector, money, planned_end_date
from connectors.errors import NotFound, RateLimited, RequestRejected, SystemUnavailable
from models.erp import ErpCustomerInput, ErpEmployeeInput, ErpProjectInput, LabourForecastInput
from sandbox import catalog
from sandbox.erp.app import RECORD_PATH, TOKEN_PATH, create_app
from tests.vendor_keys import auth, erp_app, settings_for

CLIENT_ID = "psflow"
CLIENT_SECRET = "erp-test-secret"
BASE_URL = "http://erp.test"


KEYS = settings_for(BASE_URL, CLIENT_ID, CLIENT_SECRET)


def make_app(tmp_path: Path, concurrency_limit: int = 5) -> FastAPI:
    return create_app(
        tmp_path / "erp.db",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        concurrency_limit=concurrency_limit,
        **erp_app(KEYS),
    )


def build_connector(transport: httpx.AsyncBaseTransport) -> ErpConnector:
    connector = ErpConnector.build(BASE_URL, auth(KEYS, "erp"), transport=transport)
    assert isinstance(connector, ErpConnector)
    return connector


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return make_app(tmp_path)


@pytest.fixture
async def erp(app: FastAPI) -> AsyncIterator[ErpConnector]:
    connector = build_connector(httpx.ASGITransport(app=app))
    yield connector
    await connector.aclose()


@pytest.fixture
async def raw(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A plain client holding a valid bearer token."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL, auth=auth(KEYS, "erp")
    ) as c:
        yield c


def customer_input(
    external_id: str = "sfdc-001Hs0000000099AAA", **changes: Any
) -> ErpCustomerInput:
    values: dict[str, Any] = {
        "external_id": external_id,
        "company_name": "Initech Software",
        "subsidiary_id": "1",
        "currency": "USD",
        "terms": "Net 30",
        "origin": "opportunity-to-project/006Hs0000000042AAA",
    }
    return ErpCustomerInput(**(values | changes))


def project_input(customer_id: str, **changes: Any) -> ErpProjectInput:
    values: dict[str, Any] = {
        "external_id": "psflow-006Hs0000000042AAA",
        "name": "Initech Billing Platform",
        "customer_id": customer_id,
        "subsidiary_id": "1",
        "currency": "USD",
        "budget": Decimal("250000.50"),
        "billing_type": "Time and Materials",
    }
    return ErpProjectInput(**(values | changes))


def employee_input(external_id: str = "wd-21034", **changes: Any) -> ErpEmployeeInput:
    values: dict[str, Any] = {
        "external_id": external_id,
        "first_name": "Riley",
        "last_name": "Chen",
        "email": "riley.chen@northwind-consulting.example",
        "subsidiary_id": "1",
        "department_id": "101",
        "cost_center": "CC-1100",
        "labor_cost": Decimal("92.50"),
        "currency": "USD",
        "origin": "hire-to-staff/21034",
    }
    return ErpEmployeeInput(**(values | changes))


def forecast_input(**changes: Any) -> LabourForecastInput:
    """160 h of the new hire on a seeded US project, at 92.50 an hour."""
    values: dict[str, Any] = {
        "external_id": "psflow-asg-21034-0001",
        "project_external_id": "LEGACY-P-2024-017",
        "employee_external_id": "wd-21034",
        "hours": Decimal("160"),
        "cost": Decimal("14800.00"),
        "start_date": date(2026, 1, 5),
        "end_date": date(2026, 2, 27),
    }
    return LabourForecastInput(**(values | changes))


def netsuite_error(status: int, detail: str, code: str, path: str | None = None) -> bytes:
    item = {"detail": detail, "o:errorCode": code} | ({"o:errorPath": path} if path else {})
    return json.dumps(
        {"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1", "title": "Error",
         "status": status, "o:errorDetails": [item]}
    ).encode()  # fmt: skip


def mock_erp(answer: Callable[[httpx.Request], httpx.Response]) -> ErpConnector:
    """A connector whose token request succeeds and whose record requests `answer` handles."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN_PATH:
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer"})
        return answer(request)

    return build_connector(httpx.MockTransport(handler))


# ---------------------------------------------------------------- the sandbox's API shape


async def test_create_answers_204_with_location_of_the_new_record(
    raw: httpx.AsyncClient,
) -> None:
    response = await raw.post(
        f"{RECORD_PATH}/customer",
        json={"companyName": "Dunder Paper", "subsidiary": {"id": "1"}, "externalId": "dp-1"},
    )
    assert response.status_code == 204
    assert response.content == b""
    location = response.headers["Location"]
    assert location.startswith(f"{BASE_URL}{RECORD_PATH}/customer/")
    internal_id = location.rsplit("/", 1)[1]
    assert internal_id.isdigit()

    record = (await raw.get(location)).json()
    assert record["id"] == internal_id
    assert record["externalId"] == "dp-1"
    assert record["links"] == [{"rel": "self", "href": location}]
    assert record["subsidiary"] == {"id": "1", "refName": "Northwind Consulting Inc."}
    assert record["currency"] == {"id": "1", "refName": "US Dollar"}
    assert "custentity_psflow_origin" not in record


async def test_records_can_be_read_by_internal_id_and_by_eid(raw: httpx.AsyncClient) -> None:
    external_id = catalog.customer_external_id(catalog.account_id(0))
    by_eid = (await raw.get(f"{RECORD_PATH}/customer/eid:{external_id}")).json()
    by_id = (await raw.get(f"{RECORD_PATH}/customer/{by_eid['id']}")).json()
    assert by_eid == by_id
    assert by_id["companyName"] == "Acme Manufacturing Corp."


async def test_collection_pages_in_netsuites_shape(raw: httpx.AsyncClient) -> None:
    first = (await raw.get(f"{RECORD_PATH}/customer", params={"limit": 3})).json()
    total = first["totalResults"]
    assert first["count"] == 3 and first["hasMore"] is True and first["offset"] == 0
    assert {link["rel"] for link in first["links"]} >= {"self", "next"}
    assert first["items"][0]["links"][0]["rel"] == "self"
    last = (await raw.get(f"{RECORD_PATH}/customer", params={"limit": 3, "offset": 6})).json()
    assert last["count"] == total - 6 and last["hasMore"] is False


@pytest.mark.parametrize("record_type", ["customer", "timeBill", "expenseReport", "invoice"])
async def test_an_offset_past_any_page_is_refused_naming_it(
    raw: httpx.AsyncClient, record_type: str
) -> None:
    answer = await raw.get(f"{RECORD_PATH}/{record_type}", params={"offset": 2**63})
    assert answer.status_code == 400
    assert "offset" in answer.json()["o:errorDetails"][0]["detail"]


async def test_requests_without_a_token_get_netsuites_401(app: FastAPI) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c:
        response = await c.get(f"{RECORD_PATH}/customer")
    assert response.status_code == 401
    detail = response.json()["o:errorDetails"][0]
    assert detail["o:errorCode"] == "INVALID_LOGIN"


async def test_unknown_record_type_and_unknown_route_are_404(raw: httpx.AsyncClient) -> None:
    unknown_type = await raw.get(f"{RECORD_PATH}/spaceship/1")
    unknown_route = await raw.get("/services/rest/nowhere")
    assert unknown_type.status_code == unknown_route.status_code == 404
    assert unknown_type.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_RCRD_TYPE"
    assert unknown_route.json()["status"] == 404


async def test_missing_mandatory_field_is_rejected_naming_it(raw: httpx.AsyncClient) -> None:
    response = await raw.post(f"{RECORD_PATH}/customer", json={"subsidiary": {"id": "1"}})
    body = response.json()
    assert response.status_code == 400
    assert body["title"] == "Bad Request" and body["status"] == 400
    assert body["type"].startswith("https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5")
    assert body["o:errorDetails"][0]["o:errorCode"] == "USER_ERROR"
    assert body["o:errorDetails"][0]["o:errorPath"] == "companyName"


async def test_reference_lists_are_read_only(raw: httpx.AsyncClient) -> None:
    response = await raw.post(f"{RECORD_PATH}/currency", json={"symbol": "CHF"})
    assert response.status_code == 403


async def test_post_with_the_same_idempotency_key_creates_once(raw: httpx.AsyncClient) -> None:
    headers = {"X-NetSuite-Idempotency-Key": "9b0c-1"}
    body = {"companyName": "Dunder Paper", "subsidiary": {"id": "1"}}
    first = await raw.post(f"{RECORD_PATH}/customer", json=body, headers=headers)
    again = await raw.post(f"{RECORD_PATH}/customer", json=body, headers=headers)
    assert first.headers["Location"] == again.headers["Location"]


async def test_reset_restores_the_seed(raw: httpx.AsyncClient) -> None:
    before = (await raw.get(f"{RECORD_PATH}/customer")).json()["totalResults"]
    await raw.post(f"{RECORD_PATH}/customer", json={"companyName": "X", "subsidiary": {"id": "2"}})
    assert (await raw.post("/__admin/reset")).status_code == 204
    after = (await raw.get(f"{RECORD_PATH}/customer")).json()["totalResults"]
    assert after == before


# ---------------------------------------------------------------- connector against sandbox


async def test_seed_has_the_preexisting_customers_without_a_psflow_origin(
    erp: ErpConnector,
) -> None:
    for index in catalog.PREEXISTING_CUSTOMERS:
        name, _, _ = catalog.ACCOUNTS[index]
        external_id = catalog.customer_external_id(catalog.account_id(index))
        customer = await erp.get_customer(external_id)
        assert customer is not None
        assert (customer.company_name, customer.origin) == (name, None)


async def test_unknown_external_id_reads_as_none(erp: ErpConnector) -> None:
    assert await erp.get_customer("sfdc-nobody") is None
    assert await erp.get_project("psflow-nothing") is None
    assert await erp.get_project("") is None


async def test_upsert_twice_by_the_same_external_id_keeps_one_record(
    erp: ErpConnector, raw: httpx.AsyncClient
) -> None:
    count = (await raw.get(f"{RECORD_PATH}/customer")).json()["totalResults"]
    first = await erp.upsert_customer(customer_input())
    second = await erp.upsert_customer(customer_input(company_name="Initech Software Inc."))
    assert second.id == first.id
    assert second.company_name == "Initech Software Inc."
    assert second.origin == "opportunity-to-project/006Hs0000000042AAA"
    assert (await raw.get(f"{RECORD_PATH}/customer")).json()["totalResults"] == count + 1


async def test_upsert_leaves_the_origin_of_an_existing_customer_alone(erp: ErpConnector) -> None:
    external_id = catalog.customer_external_id(catalog.account_id(0))
    customer = await erp.upsert_customer(
        customer_input(external_id, company_name="Acme Manufacturing Corp.")
    )
    assert customer.origin is None


async def test_project_upsert_links_the_customer_and_keeps_the_budget(
    erp: ErpConnector, raw: httpx.AsyncClient
) -> None:
    customer = await erp.upsert_customer(customer_input())
    project = await erp.upsert_project(project_input(customer.id))
    again = await erp.upsert_project(project_input(customer.id))
    assert again == project
    assert project.customer_id == customer.id
    record = (await raw.get(f"{RECORD_PATH}/job/{project.id}")).json()
    assert Decimal(str(record["custentity_psflow_budget"])) == Decimal("250000.50")
    assert record["jobBillingType"] == {"id": "TM", "refName": "Time and Materials"}
    assert record["parent"]["refName"] == "Initech Software"


async def test_delete_then_delete_again_answers_true_then_false(erp: ErpConnector) -> None:
    customer = await erp.upsert_customer(customer_input())
    project = await erp.upsert_project(project_input(customer.id))
    assert await erp.delete_project(project.external_id) is True
    assert await erp.delete_project(project.external_id) is False
    assert await erp.delete_customer(customer.external_id) is True
    assert await erp.delete_customer(customer.external_id) is False
    assert await erp.get_customer(customer.external_id) is None


async def test_customer_with_a_project_cannot_be_deleted(erp: ErpConnector) -> None:
    customer = await erp.upsert_customer(customer_input())
    await erp.upsert_project(project_input(customer.id))
    with pytest.raises(RequestRejected) as caught:
        await erp.delete_customer(customer.external_id)
    assert caught.value.non_retryable is True
    assert caught.value.status == 400
    assert "cannot be deleted because it has dependent records" in caught.value.message
    assert await erp.get_customer(customer.external_id) is not None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"subsidiary_id": "99"}, "subsidiary"),
        ({"currency": "JPY"}, "currency"),
        ({"subsidiary_id": "4", "currency": "GBP"}, "currency"),
        ({"external_id": "opportunity-to-project/006"}, "externalId"),
    ],
)
async def test_validation_error_names_the_field(
    erp: ErpConnector, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(RequestRejected) as caught:
        await erp.upsert_customer(customer_input(**changes))
    assert caught.value.non_retryable is True
    assert caught.value.fields == [field]


async def test_unknown_currency_code_is_rejected_before_sending(erp: ErpConnector) -> None:
    with pytest.raises(RequestRejected) as caught:
        await erp.upsert_customer(customer_input(currency="XTS"))
    assert caught.value.fields == ["currency"]


async def test_project_for_a_missing_customer_names_the_parent(erp: ErpConnector) -> None:
    with pytest.raises(RequestRejected) as caught:
        await erp.upsert_project(project_input("424242"))
    assert caught.value.fields == ["parent"]


async def test_injected_outage_is_retryable_system_unavailable(
    erp: ErpConnector, raw: httpx.AsyncClient
) -> None:
    fault = {"path": f"{RECORD_PATH}/customer/*", "status": 503, "count": 1}
    assert (await raw.post("/__admin/faults", json=fault)).status_code == 201
    with pytest.raises(SystemUnavailable) as caught:
        await erp.get_customer("sfdc-anyone")
    assert caught.value.non_retryable is False
    assert await erp.get_customer("sfdc-anyone") is None


# ---------------------------------------------------------------- employees and allocations


async def test_departments_are_a_read_only_list_from_the_catalog(raw: httpx.AsyncClient) -> None:
    listed = (await raw.get(f"{RECORD_PATH}/department")).json()
    assert {item["id"] for item in listed["items"]} == {
        dep_id for dep_id, _ in catalog.DEPARTMENTS.values()
    }
    data = (await raw.get(f"{RECORD_PATH}/department/eid:DEP-DATA")).json()
    assert (data["id"], data["name"]) == catalog.DEPARTMENTS["DEP-DATA"]
    refused = await raw.post(f"{RECORD_PATH}/department", json={"name": "Sales"})
    assert refused.status_code == 403


async def test_employee_is_created_in_netsuites_shape(raw: httpx.AsyncClient) -> None:
    body = {
        "externalId": "wd-30001",
        "firstName": "Ada",
        "lastName": "Okafor",
        "email": "ada.okafor@northwind-consulting.example",
        "subsidiary": {"id": "2"},
        "department": {"id": "102"},
        "custentity_psflow_cost_center": "CC-2100",
        "laborCost": 70.25,
    }
    created = await raw.post(f"{RECORD_PATH}/employee", json=body)
    assert created.status_code == 204
    record = (await raw.get(created.headers["Location"])).json()
    assert record["entityId"] == "Ada Okafor"
    assert record["subsidiary"] == {"id": "2", "refName": "Northwind Consulting Ltd."}
    assert record["department"] == {"id": "102", "refName": "Architecture"}
    assert (record["laborCost"], record["isInactive"]) == (70.25, False)
    assert "currency" not in record


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lastName": None}, "lastName"),
        ({"laborCost": 0}, "laborCost"),
        ({"email": "ada at northwind"}, "email"),
        ({"department": {"id": "999"}}, "department"),
        ({"custentity_psflow_cost_center": "CC-9999"}, "custentity_psflow_cost_center"),
        ({"custentity_psflow_cost_center": "CC-3100"}, "custentity_psflow_cost_center"),
    ],
)
async def test_invalid_employee_is_refused_naming_the_field(
    raw: httpx.AsyncClient, changes: dict[str, Any], field: str
) -> None:
    body = {
        "firstName": "Ada",
        "lastName": "Okafor",
        "subsidiary": {"id": "1"},
        "custentity_psflow_cost_center": "CC-1100",
    }
    body = {k: v for k, v in (body | changes).items() if v is not None}
    response = await raw.post(f"{RECORD_PATH}/employee", json=body)
    assert response.status_code == 400
    assert response.json()["o:errorDetails"][0]["o:errorPath"] == field


async def test_allocations_filter_by_project_and_a_bad_query_is_400(
    raw: httpx.AsyncClient,
) -> None:
    job = (await raw.get(f"{RECORD_PATH}/job/eid:LEGACY-P-2024-031")).json()
    query = {"q": f"project ANY_OF {job['id']}"}
    found = (await raw.get(f"{RECORD_PATH}/resourceAllocation", params=query)).json()
    assert found["totalResults"] == 1
    allocation = (await raw.get(found["items"][0]["links"][0]["href"])).json()
    assert allocation["allocationResource"]["refName"] == "Mei Tanaka"
    assert allocation["custrecord_psflow_cost"] == 480 * 118.0
    bad = await raw.get(f"{RECORD_PATH}/resourceAllocation", params={"q": "project OR 1"})
    assert bad.status_code == 400
    assert bad.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_PARAMETER"


async def test_allocation_cost_is_kept_as_sent_or_worked_out_when_left_out(
    raw: httpx.AsyncClient,
) -> None:
    employee = (await raw.get(f"{RECORD_PATH}/employee/eid:LEGACY-E-0104")).json()
    job = (await raw.get(f"{RECORD_PATH}/job/eid:LEGACY-P-2024-031")).json()
    body = {
        "allocationResource": {"id": employee["id"]},
        "project": {"id": job["id"]},
        "allocationAmount": 37.5,
        "startDate": "2026-02-02",
        "endDate": "2026-02-06",
    }
    worked_out = await raw.put(f"{RECORD_PATH}/resourceAllocation/eid:ra-1", json=body)
    sent = await raw.put(
        f"{RECORD_PATH}/resourceAllocation/eid:ra-2",
        json=body | {"custrecord_psflow_cost": 2800.0},
    )
    first = (await raw.get(worked_out.headers["Location"])).json()
    second = (await raw.get(sent.headers["Location"])).json()
    assert first["custrecord_psflow_cost"] == 2925.0  # 37.5 h x 78.00
    assert second["custrecord_psflow_cost"] == 2800.0


async def test_seeded_employees_have_no_psflow_origin_and_their_allocations(
    erp: ErpConnector,
) -> None:
    jordan = await erp.get_employee("LEGACY-E-0101")
    assert jordan is not None
    assert (jordan.name, jordan.origin, jordan.labor_cost) == (
        "Jordan Reyes",
        None,
        Decimal("96.5"),
    )
    [forecast] = await erp.list_labour_forecasts("LEGACY-E-0101")
    assert (forecast.hours, forecast.cost) == (Decimal("320"), Decimal("30880"))
    assert forecast.end_date == date(2024, 6, 28)
    assert await erp.get_employee("wd-nobody") is None
    assert await erp.list_labour_forecasts("wd-nobody") == []


async def test_employee_upsert_twice_keeps_one_record_and_the_origin_of_its_create(
    erp: ErpConnector, raw: httpx.AsyncClient
) -> None:
    count = (await raw.get(f"{RECORD_PATH}/employee")).json()["totalResults"]
    first = await erp.upsert_employee(employee_input())
    second = await erp.upsert_employee(
        employee_input(labor_cost=Decimal("97.25"), origin="hire-to-staff/transfer-21034")
    )
    assert second.id == first.id
    assert (second.labor_cost, second.origin) == (Decimal("97.25"), "hire-to-staff/21034")
    assert (second.name, second.subsidiary_id, second.cost_center) == (
        "Riley Chen",
        "1",
        "CC-1100",
    )
    assert (await raw.get(f"{RECORD_PATH}/employee")).json()["totalResults"] == count + 1


async def test_cost_center_of_another_legal_entity_is_refused_naming_the_field(
    erp: ErpConnector,
) -> None:
    with pytest.raises(RequestRejected) as caught:
        await erp.upsert_employee(employee_input(subsidiary_id="2", currency="GBP"))
    assert caught.value.non_retryable is True
    assert caught.value.fields == ["custentity_psflow_cost_center"]
    assert "CC-1100 belongs to Northwind Consulting Inc." in caught.value.message
    assert await erp.get_employee("wd-21034") is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"currency": "EUR"}, "currency"), ({"subsidiary_id": "99"}, "subsidiary")],
)
async def test_labour_cost_outside_the_subsidiary_currency_is_refused_before_writing(
    erp: ErpConnector, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(RequestRejected) as caught:
        await erp.upsert_employee(employee_input(**changes))
    assert caught.value.fields == [field]
    assert await erp.get_employee("wd-21034") is None


async def test_set_inactive_answers_whether_it_changed_anything(erp: ErpConnector) -> None:
    await erp.upsert_employee(employee_input())
    assert await erp.set_employee_inactive("wd-21034", True) is True
    assert await erp.set_employee_inactive("wd-21034", True) is False
    employee = await erp.get_employee("wd-21034")
    assert employee is not None and employee.inactive is True
    assert await erp.set_employee_inactive("wd-21034", False) is True
    with pytest.raises(NotFound):
        await erp.set_employee_inactive("wd-nobody", True)


async def test_labour_forecast_is_created_upserted_and_deleted(
    erp: ErpConnector, raw: httpx.AsyncClient
) -> None:
    employee = await erp.upsert_employee(employee_input())
    created = await erp.upsert_labour_forecast(forecast_input())
    changed = await erp.upsert_labour_forecast(
        forecast_input(hours=Decimal("200"), cost=Decimal("18500"))
    )
    assert changed.id == created.id
    assert (changed.hours, changed.cost, changed.end_date) == (
        Decimal("200"),
        Decimal("18500"),
        date(2026, 2, 27),
    )
    assert await erp.list_labour_forecasts("wd-21034") == [changed]
    record = (await raw.get(f"{RECORD_PATH}/resourceAllocation/{created.id}")).json()
    job = (await raw.get(f"{RECORD_PATH}/job/eid:LEGACY-P-2024-017")).json()
    assert record["allocationResource"] == {"id": employee.id, "refName": "Riley Chen"}
    assert record["project"] == {"id": job["id"], "refName": job["companyName"]}
    assert record["allocationUnit"] == {"id": "HOURS", "refName": "Hours"}
    assert record["allocationType"] == {"id": "1", "refName": "Hard"}
    assert (record["startDate"], record["endDate"]) == ("2026-01-05", "2026-02-27")
    assert await erp.delete_labour_forecast(created.external_id) is True
    assert await erp.delete_labour_forecast(created.external_id) is False
    assert await erp.list_labour_forecasts("wd-21034") == []

    open_ended = await erp.upsert_labour_forecast(forecast_input(end_date=None))
    assert open_ended.end_date == date(2026, 1, 30)


async def test_forecast_for_an_inactive_employee_is_refused(erp: ErpConnector) -> None:
    await erp.upsert_employee(employee_input())
    await erp.set_employee_inactive("wd-21034", True)
    with pytest.raises(RequestRejected) as caught:
        await erp.upsert_labour_forecast(forecast_input())
    assert caught.value.fields == ["allocationResource"]
    assert "inactive" in caught.value.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"end_date": date(2025, 12, 31)}, "endDate"),
        ({"hours": Decimal("0")}, "allocationAmount"),
        ({"project_external_id": "psflow-nothing"}, "project"),
        ({"employee_external_id": "wd-nobody"}, "allocationResource"),
    ],
)
async def test_invalid_forecast_is_refused_naming_the_field(
    erp: ErpConnector, changes: dict[str, Any], field: str
) -> None:
    await erp.upsert_employee(employee_input())
    with pytest.raises(RequestRejected) as caught:
        await erp.upsert_labour_forecast(forecast_input(**changes))
    assert caught.value.non_retryable is True
    assert caught.value.fields == [field]


async def test_employee_or_project_with_allocations_cannot_be_deleted(
    erp: ErpConnector,
) -> None:
    await erp.upsert_employee(employee_input())
    forecast = await erp.upsert_labour_forecast(forecast_input())
    with pytest.raises(RequestRejected) as caught:
        await erp.delete_employee("wd-21034")
    assert caught.value.status == 400
    assert "cannot be deleted because it has dependent records" in caught.value.message
    with pytest.raises(RequestRejected):
        await erp.delete_project("LEGACY-P-2024-017")
    assert await erp.delete_labour_forecast(forecast.external_id) is True
    assert await erp.delete_employee("wd-21034") is True
    assert await erp.delete_employee("wd-21034") is False


# ---------------------------------------------------------------- concurrency governance


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def started(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    for _ in range(500):
        if server.started:
            return
        if serving.done():
            raise RuntimeError("the ERP sandbox could not start")
        await asyncio.sleep(0.01)
    raise TimeoutError("the ERP sandbox did not start within 5 seconds")


async def test_concurrency_limit_answers_429_beyond_n_requests_in_flight(
    tmp_path: Path,
) -> None:
    limit, fired = 3, 8
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            make_app(tmp_path, concurrency_limit=limit),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        await started(server, serving)
        url = f"http://127.0.0.1:{port}"
        keys = settings_for(url, CLIENT_ID, CLIENT_SECRET)
        async with httpx.AsyncClient(base_url=url, auth=auth(keys, "erp")) as client:
            await client.get(f"{RECORD_PATH}/currency/1")  # the token, before the clock
            slow = {"path": f"{RECORD_PATH}/*", "status": None, "latency_ms": 300, "count": 50}
            await client.post("/__admin/faults", json=slow)
            responses = await asyncio.gather(
                *(client.get(f"{RECORD_PATH}/currency/1") for _ in range(fired))
            )
    finally:
        server.should_exit = True
        await serving
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * limit + [429] * (fired - limit)
    blocked = next(r for r in responses if r.status_code == 429).json()
    assert blocked["o:errorDetails"][0] == {
        "detail": "Concurrent request limit exceeded. Request blocked.",
        "o:errorCode": "CONCURRENCY_LIMIT_EXCEEDED",
    }


# ---------------------------------------------------------------- edge cases, mocked


async def test_429_with_retry_after_becomes_rate_limited_with_next_retry_delay() -> None:
    body = netsuite_error(
        429, "Concurrent request limit exceeded. Request blocked.", "CONCURRENCY_LIMIT_EXCEEDED"
    )
    erp = mock_erp(lambda _: httpx.Response(429, content=body, headers={"Retry-After": "7"}))
    with pytest.raises(RateLimited) as caught:
        await erp.get_customer("sfdc-x")
    await erp.aclose()
    assert caught.value.non_retryable is False
    assert caught.value.next_retry_delay == timedelta(seconds=7)
    assert "Concurrent request limit exceeded" in caught.value.message


async def test_5xx_becomes_retryable_system_unavailable() -> None:
    body = netsuite_error(500, "An unexpected error occurred.", "UNEXPECTED_ERROR")
    erp = mock_erp(lambda _: httpx.Response(500, content=body))
    with pytest.raises(SystemUnavailable) as caught:
        await erp.delete_project("psflow-x")
    await erp.aclose()
    assert caught.value.non_retryable is False
    assert "An unexpected error occurred. (UNEXPECTED_ERROR)" in caught.value.message


async def test_404_without_netsuites_missing_record_code_is_not_taken_as_gone() -> None:
    erp = mock_erp(lambda _: httpx.Response(404, text="<html>no such path</html>"))
    with pytest.raises(NotFound):
        await erp.delete_customer("sfdc-x")
    with pytest.raises(NotFound):
        await erp.get_customer("sfdc-x")
    await erp.aclose()


async def test_external_id_is_escaped_in_the_url() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(404, content=netsuite_error(404, "gone", "NONEXISTENT_ID"))

    erp = mock_erp(answer)
    assert await erp.get_customer("a b/c") is None
    await erp.aclose()
    assert seen == [f"{RECORD_PATH}/customer/eid:a%20b%2Fc"]


def test_money_is_sent_exactly_or_not_at_all() -> None:
    assert money(Decimal("250000.50")) == 250000.5
    with pytest.raises(ValueError):
        money(Decimal("12345678901234567.89"))


@pytest.mark.parametrize(
    ("start", "hours", "end"),
    [
        (date(2026, 1, 5), "160", date(2026, 1, 30)),  # Monday, four full weeks
        (date(2026, 1, 9), "12", date(2026, 1, 12)),  # Friday, a day and a half
        (date(2026, 1, 10), "8", date(2026, 1, 12)),  # Saturday: starts on Monday
    ],
)
def test_open_ended_allocation_ends_after_its_hours_at_full_time(
    start: date, hours: str, end: date
) -> None:
    assert planned_end_date(start, Decimal(hours)) == end


async def test_labour_forecasts_are_listed_with_netsuites_collection_filter() -> None:
    queries: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == f"{RECORD_PATH}/employee/eid:wd-1":
            return httpx.Response(200, json={"id": "1042", "externalId": "wd-1"})
        if path == f"{RECORD_PATH}/resourceAllocation":
            queries.append(request.url.params.get("q"))
            return httpx.Response(200, json={"items": [{"id": "7"}], "hasMore": False})
        record = {"id": "7", "externalId": "a-7", "allocationAmount": 8.0,
                  "custrecord_psflow_cost": 740.0, "endDate": "2026-03-06"}  # fmt: skip
        return httpx.Response(200, json=record)

    erp = mock_erp(answer)
    [forecast] = await erp.list_labour_forecasts("wd-1")
    await erp.aclose()
    assert queries == ["allocationResource ANY_OF 1042"]
    assert (forecast.hours, forecast.cost, forecast.end_date) == (
        Decimal("8"),
        Decimal("740"),
        date(2026, 3, 6),
    )
