"""What a change order needs of the running sandbox, over HTTP through psflow's connectors:
budgets, actuals, staffing hours, change orders, forecast revisions, the opportunity amount,
each idempotent and each restorable to the value it had."""

import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from config import Settings
from connectors.errors import NotFound, RequestRejected
from models.billing import TimePosting, time_bill_external_id
from models.change_order import ChangeOrder, ForecastRevision, RoleChange
from models.erp import ErpEmployeeInput, ErpProjectInput
from models.psa import PsaProject, PsaProjectInput, StaffingRequest, StaffingRequestInput
from sandbox import catalog
from sandbox.volume import Volume, volume_projects
from tests.billing_support import seed_volume
from tests.support import Sandbox, Systems

ACME = catalog.customer_external_id(catalog.account_id(0))
BUDGET = Decimal("500000")


def tag() -> str:
    return uuid.uuid4().hex[:10]


async def psa_project(systems: Systems) -> PsaProject:
    key = f"co-test-{tag()}"
    data = PsaProjectInput(
        external_id=key, name=f"Change order test {key}", customer_name="Acme",
        erp_project_id="5120", currency="USD", budget=Decimal("150000.00"),
        billing_type="Time and Materials", rate_card="STD-USD-2026",
        start_date=date(2026, 5, 4), milestones=[],
    )  # fmt: skip
    return await systems.psa.create_project(data, key)


async def open_request(systems: Systems, project: PsaProject) -> StaffingRequest:
    data = StaffingRequestInput(
        project_id=project.id, role="Consultant", hours=Decimal("320"), start_date=date(2026, 5, 4)
    )
    return await systems.psa.create_staffing_request(data, f"sr-{project.id}")


async def erp_job(systems: Systems) -> tuple[str, str]:
    """A fresh ERP project: (external id, internal id)."""
    customer = await systems.erp.get_customer(ACME)
    assert customer is not None
    key = f"co-{tag()}"
    project = await systems.erp.upsert_project(
        ErpProjectInput(
            external_id=key, name=f"Change order {key}", customer_id=customer.id,
            subsidiary_id="1", currency="USD", budget=BUDGET, billing_type="Time and Materials",
        )
    )  # fmt: skip
    return key, project.id


def change_order(project_id: str, **changes: Any) -> ChangeOrder:
    values: dict[str, Any] = {
        "id": f"CO-{tag()}", "project_id": project_id, "requested_by": "sam",
        "reason": "Phase 2 adds the reporting module", "currency": "USD",
        "budget_change": Decimal("25000.00"), "effective_date": date(2026, 7, 1),
        "roles": [RoleChange(role="Consultant", hours_change=Decimal("80"))],
    }  # fmt: skip
    return ChangeOrder(**(values | changes))


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A plain PSA client holding a token, for status codes and the error shape."""
    async with httpx.AsyncClient(base_url=settings.psa.url, timeout=30) as client:
        form = {
            "grant_type": "client_credentials",
            "client_id": settings.psa.client_id,
            "client_secret": settings.psa.secret("psa"),
        }
        token = (await client.post("/oauth/token", data=form)).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


# ---- ERP: budget and actuals


async def test_erp_budget_moves_repeats_unchanged_and_restores(systems: Systems) -> None:
    key, _ = await erp_job(systems)
    before = await systems.erp.get_project(key)
    assert before is not None and (before.budget, before.currency) == (BUDGET, "USD")

    moved = await systems.erp.set_project_budget(key, Decimal("525000.50"))
    again = await systems.erp.set_project_budget(key, Decimal("525000.50"))
    assert moved.budget == again.budget == Decimal("525000.50")
    restored = await systems.erp.set_project_budget(key, BUDGET)

    assert restored == before == await systems.erp.get_project(key)


async def test_erp_budget_refusals_name_the_record_or_field(systems: Systems) -> None:
    with pytest.raises(NotFound) as missing:
        await systems.erp.set_project_budget(f"co-missing-{tag()}", BUDGET)
    key, _ = await erp_job(systems)
    with pytest.raises(RequestRejected) as negative:
        await systems.erp.set_project_budget(key, Decimal("-1"))

    assert missing.value.fields == ["externalId"] and missing.value.non_retryable
    assert negative.value.fields == ["custentity_psflow_budget"]
    after = await systems.erp.get_project(key)
    assert after is not None and after.budget == BUDGET


async def test_erp_actuals_sum_billable_time_over_every_period(systems: Systems) -> None:
    _, job = await erp_job(systems)
    _, other_job = await erp_job(systems)
    employee = await systems.erp.upsert_employee(
        ErpEmployeeInput(
            external_id=f"hcm-co-{tag()}", first_name="Ada", last_name="Actuals",
            subsidiary_id="1", department_id="101", cost_center="CC-1100",
            labor_cost=Decimal("90"), currency="USD", origin="test",
        )
    )  # fmt: skip
    assert await systems.erp.project_actuals(job) == 0

    def time(n: int, on: date, project: str, rate: Decimal | None) -> TimePosting:
        entry = f"TE-CO-{project}-{n}"
        return TimePosting(
            external_id=time_bill_external_id(entry), entry_id=entry, employee_id=employee.id,
            project_id=project, date=on, hours=Decimal("7.5"), role="Consultant",
            billable=rate is not None, rate=rate, amount=Decimal("7.5") * (rate or 0),
            cost_center="CC-1100", approver="paula", source=f"time-to-bill/{project}",
        )  # fmt: skip

    postings = [
        time(1, date(2026, 8, 3), job, Decimal("190")),
        time(2, date(2026, 9, 1), job, Decimal("190.10")),
        time(3, date(2026, 9, 2), job, None),
        time(4, date(2026, 9, 2), other_job, Decimal("450")),
    ]
    results = await systems.erp.upsert_time_bills(postings)
    assert all(r.outcome != "failed" for r in results), results

    assert await systems.erp.project_actuals(job) == Decimal("1425.00") + Decimal("1425.75")
    with pytest.raises(NotFound):
        await systems.erp.project_actuals("999999")


# ---- PSA: staffing hours and the project budget


async def test_open_request_hours_change_repeat_and_restore(systems: Systems) -> None:
    request = await open_request(systems, await psa_project(systems))

    changed = await systems.psa.set_staffing_request_hours(request.id, Decimal("400"))
    again = await systems.psa.set_staffing_request_hours(request.id, Decimal("400"))
    restored = await systems.psa.set_staffing_request_hours(request.id, request.hours)

    assert changed.hours == again.hours == Decimal("400")
    assert restored == request
    assert await systems.psa.list_staffing_requests(request.project_id) == [request]


async def test_hours_of_a_closed_request_or_not_above_zero_are_refused(
    systems: Systems, api: httpx.AsyncClient
) -> None:
    request = await open_request(systems, await psa_project(systems))
    for hours in ("0", "-8"):
        error = error_of(await api.patch(f"/api/v1/staffing-requests/{request.id}",
                                         json={"hours": hours}), 422)  # fmt: skip
        assert error["fields"] == ["hours"]
    extra = await api.patch(f"/api/v1/staffing-requests/{request.id}", json={"role": "Partner"})
    assert set(error_of(extra, 422)["fields"]) == {"hours", "role"}

    await systems.psa.cancel_staffing_request(request.id)
    with pytest.raises(RequestRejected) as closed:
        await systems.psa.set_staffing_request_hours(request.id, Decimal("400"))
    with pytest.raises(NotFound):
        await systems.psa.set_staffing_request_hours("SR-999999999", Decimal("400"))

    assert closed.value.status == 409 and "cancelled" in closed.value.message


async def test_requests_are_found_by_the_external_id_they_were_opened_with(
    systems: Systems,
) -> None:
    project = await psa_project(systems)
    key = f"change-order/CO-{tag()}/run/Consultant"
    data = StaffingRequestInput(
        project_id=project.id, role="Consultant", hours=Decimal("40"),
        start_date=date(2026, 5, 4), external_id=key,
    )  # fmt: skip
    opened = await systems.psa.create_staffing_request(data, key)
    other = await open_request(systems, project)

    assert opened.external_id == key and other.external_id is None
    assert await systems.psa.find_staffing_requests(project.id, key) == [opened]
    assert await systems.psa.find_staffing_requests(project.id, f"{key}-other") == []
    await systems.psa.cancel_staffing_request(opened.id)
    [cancelled] = await systems.psa.find_staffing_requests(project.id, key)
    assert cancelled.status == "cancelled"
    with pytest.raises(NotFound):
        await systems.psa.find_staffing_requests("PRJ-999999999", key)


async def test_psa_budget_moves_repeats_unchanged_and_restores(
    systems: Systems, api: httpx.AsyncClient
) -> None:
    project = await psa_project(systems)
    assert project.budget == Decimal("150000.00") and project.currency == "USD"

    moved = await systems.psa.set_project_budget(project.id, Decimal("175000.00"))
    again = await systems.psa.set_project_budget(project.id, Decimal("175000.00"))
    restored = await systems.psa.set_project_budget(project.id, project.budget or Decimal(0))

    assert moved.budget == again.budget == Decimal("175000.00")
    assert restored == project == await systems.psa.get_project(project.id)
    negative = await api.post(f"/api/v1/projects/{project.id}/budget", json={"budget": "-1"})
    assert error_of(negative, 422)["fields"] == ["budget"]
    await systems.psa.archive_project(project.id)
    with pytest.raises(RequestRejected) as archived:
        await systems.psa.set_project_budget(project.id, Decimal("1"))
    assert archived.value.status == 409


# ---- PSA: change orders


async def test_change_order_is_held_once_by_its_id(
    systems: Systems, api: httpx.AsyncClient
) -> None:
    order = change_order((await psa_project(systems)).id)
    assert await systems.psa.get_change_order(order.id) is None

    body = order.model_dump(mode="json")
    first = await api.post("/api/v1/change-orders", json=body)
    repeat = await api.post("/api/v1/change-orders", json=body | {"budget_change": "25000"})

    assert (first.status_code, repeat.status_code) == (201, 200)
    assert first.json()["status"] == "submitted" and repeat.json() == first.json()
    assert await systems.psa.submit_change_order(order) == order
    assert await systems.psa.get_change_order(order.id) == order
    other = order.model_copy(update={"budget_change": Decimal("1"), "reason": "Other"})
    with pytest.raises(RequestRejected) as taken:
        await systems.psa.submit_change_order(other)
    assert taken.value.status == 409
    assert taken.value.fields == ["reason", "budget_change"]


async def test_invalid_change_order_is_refused_naming_each_field(
    systems: Systems, api: httpx.AsyncClient
) -> None:
    with pytest.raises(RequestRejected) as unknown:
        await systems.psa.submit_change_order(change_order("PRJ-999999999"))
    body = change_order("PRJ-1").model_dump(mode="json")
    broken = body | {"id": "no spaces", "reason": "  ", "currency": "usd"}

    assert unknown.value.status == 422 and unknown.value.fields == ["project_id"]
    error = error_of(await api.post("/api/v1/change-orders", json=broken), 422)
    assert error["fields"] == ["id", "reason", "currency"]


async def test_change_order_status_is_recorded_once_and_listed(
    systems: Systems, api: httpx.AsyncClient
) -> None:
    project = await psa_project(systems)
    applied, rejected, waiting = (change_order(project.id) for _ in range(3))
    for order in (applied, rejected, waiting):
        await systems.psa.submit_change_order(order)

    await systems.psa.set_change_order_status(applied.id, "applied", "all three systems moved")
    await systems.psa.set_change_order_status(applied.id, "applied", "again")
    await systems.psa.set_change_order_status(rejected.id, "rejected", "over budget")
    with pytest.raises(RequestRejected) as flipped:
        await systems.psa.set_change_order_status(applied.id, "rejected", None)
    with pytest.raises(NotFound):
        await systems.psa.set_change_order_status("CO-missing", "applied", None)
    unknown = await api.post(f"/api/v1/change-orders/{waiting.id}/status", json={"status": "x"})

    assert flipped.value.status == 409
    assert error_of(unknown, 422)["fields"] == ["status"]
    listed = (await api.get("/api/v1/change-orders", params={"project_id": project.id})).json()
    assert [(o["id"], o["status"], o["note"]) for o in listed["data"]] == [
        (applied.id, "applied", "all three systems moved"),
        (rejected.id, "rejected", "over budget"),
        (waiting.id, "submitted", None),
    ]
    params = {"project_id": project.id, "status": "submitted"}
    only = (await api.get("/api/v1/change-orders", params=params)).json()["data"]
    assert [o["id"] for o in only] == [waiting.id]


# ---- PSA: forecast revisions


async def test_forecast_revision_publishes_once_and_withdraws(
    systems: Systems, api: httpx.AsyncClient
) -> None:
    project = await psa_project(systems)
    first, second = (change_order(project.id) for _ in range(2))

    def revision(order: ChangeOrder, budget: str) -> ForecastRevision:
        hours = {"Consultant": Decimal("80"), "Analyst": Decimal("-16")}
        return ForecastRevision(change_order_id=order.id, project_id=project.id,
                                budget=Decimal(budget), hours_by_role=hours)  # fmt: skip

    published = await systems.psa.publish_forecast(project.id, revision(first, "175000.00"))
    body = revision(first, "175000").model_dump(mode="json", exclude={"project_id", "created_at"})
    repeat = await api.post(f"/api/v1/projects/{project.id}/forecast-revisions", json=body)
    later = await systems.psa.publish_forecast(project.id, revision(second, "180000.00"))

    assert published.created_at is not None
    assert repeat.status_code == 200 and ForecastRevision.model_validate(repeat.json()) == published
    assert await systems.psa.forecast_revisions(project.id) == [published, later]
    with pytest.raises(RequestRejected) as other:
        await systems.psa.publish_forecast(project.id, revision(first, "1.00"))
    assert other.value.status == 409 and other.value.fields == ["budget"]

    assert await systems.psa.withdraw_forecast(project.id, first.id) is True
    assert await systems.psa.withdraw_forecast(project.id, first.id) is False
    assert await systems.psa.forecast_revisions(project.id) == [later]
    again = await api.post(f"/api/v1/projects/{project.id}/forecast-revisions", json=body)
    assert again.status_code == 201


async def test_forecast_revision_refusals(systems: Systems, api: httpx.AsyncClient) -> None:
    project = await psa_project(systems)
    wrong = ForecastRevision(change_order_id="CO-1", project_id="PRJ-other", budget=Decimal(1))
    with pytest.raises(RequestRejected) as mismatch:
        await systems.psa.publish_forecast(project.id, wrong)
    with pytest.raises(NotFound):
        await systems.psa.forecast_revisions("PRJ-999999999")
    negative = {"change_order_id": "CO-1", "budget": "-5", "hours_by_role": {}}
    response = await api.post(f"/api/v1/projects/{project.id}/forecast-revisions", json=negative)

    assert mismatch.value.fields == ["project_id"]
    assert error_of(response, 422)["fields"] == ["budget"]
    assert await systems.psa.withdraw_forecast("PRJ-999999999", "CO-1") is False


async def test_each_project_has_its_own_revision_under_one_change_order_id(
    systems: Systems,
) -> None:
    first, second = await psa_project(systems), await psa_project(systems)
    for project, budget in ((first, "150000.00"), (second, "90000.00")):
        baseline = ForecastRevision(
            change_order_id="baseline", project_id=project.id, budget=Decimal(budget)
        )
        await systems.psa.publish_forecast(project.id, baseline)

    assert await systems.psa.withdraw_forecast(first.id, "baseline") is True
    assert await systems.psa.forecast_revisions(first.id) == []
    [kept] = await systems.psa.forecast_revisions(second.id)
    assert (kept.change_order_id, kept.budget) == ("baseline", Decimal("90000.00"))


async def test_new_routes_are_documented(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]

    assert "patch" in paths["/api/v1/staffing-requests/{request_id}"]
    assert {"get", "post"} <= set(paths["/api/v1/change-orders"])
    assert "post" in paths["/api/v1/change-orders/{change_order_id}/status"]
    assert "post" in paths["/api/v1/projects/{project_id}/budget"]
    revisions = "/api/v1/projects/{project_id}/forecast-revisions"
    assert {"get", "post"} <= set(paths[revisions])
    assert "delete" in paths[revisions + "/{change_order_id}"]


# ---- CRM: the opportunity amount


async def test_closed_won_amount_moves_repeats_and_restores(
    systems: Systems, sandbox: Sandbox
) -> None:
    volume = Volume(projects=2, entries=40, period="2025-12", seed=61)
    seed_volume(sandbox, volume)
    opportunity_id = volume_projects(volume)[0].opportunity_id
    before = await systems.crm.get_opportunity(opportunity_id)
    assert before.stage == "Closed Won"

    await systems.crm.set_opportunity_amount(opportunity_id, before.amount + Decimal("25000.50"))
    await systems.crm.set_opportunity_amount(opportunity_id, before.amount + Decimal("25000.50"))
    moved = await systems.crm.get_opportunity(opportunity_id)
    await systems.crm.set_opportunity_amount(opportunity_id, before.amount)

    assert moved.amount == before.amount + Decimal("25000.50")
    assert await systems.crm.get_opportunity(opportunity_id) == before
    with pytest.raises(RequestRejected) as inexact:
        await systems.crm.set_opportunity_amount(opportunity_id, Decimal("0.1000000000000000001"))
    assert inexact.value.fields == ["Amount"]
