"""The sagas end to end with Tryton as the ERP (tests/tryton_support.py): a real worker whose
`[erp] kind` is tryton, the suite's CRM, PSA and HCM sandboxes, and what Tryton's own records
say afterwards, found by psflow's external ids: as Tryton's admin, and labour forecasts as
psflow's Tryton user (the only one psflow's module lets read them)."""

import contextlib
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from config import Settings
from connectors.tryton_rpc import TrytonRpc
from models.change_order import (
    ChangeOrder,
    ChangeOrderResult,
    change_order_workflow_id,
    project_lock_id,
)
from models.change_state import ChangeOrderInput
from models.erp import customer_external_id
from models.hire_to_staff import resource_external_id
from models.opportunity_to_project import (
    OpportunityToProjectResult,
    project_external_id,
    workflow_id,
)
from models.people import Approval
from models.status import CompensationOutcome, RunState
from sandbox.hcm.seed import DEMO_WORKERS
from stack.tryton import ADMIN_PASSWORD, TrytonServer
from tests.billing_support import awaiting_finance as awaiting_approval
from tests.saga_support import fresh_prehire
from tests.staffing_support import approved, hire, only_request
from tests.support import Sandbox, Systems, proven, running_worker
from tests.test_hire_to_staff import apply_event, hcm_event
from tests.test_opportunity_to_project import start
from tests.tryton_support import tryton, tryton_template_seconds
from workflows.change_order import ERP_BUDGET, ChangeOrderWorkflow
from workflows.opportunity_to_project import CUSTOMER, ERP_PROJECT, OpportunityToProject

__all__ = ["tryton", "tryton_template_seconds"]  # the fixtures this module uses

KEY = "psflow_external_id"
FORECAST = "psflow.labour_forecast"
FORECAST_FIELDS = ["work", "employee", "hours", "cost", "start_date"]
US_SUBSIDIARY = "1"
# The same seed and count give the same deals: US01 accounts 5 and 6, in USD, neither a
# customer Tryton starts with, so the runs here create their parties.
DEALS_SEED = 6
PROJECT_FIELDS = ["name", "type", "party", "company", "psflow_budget", "project_invoice_method"]
EMPLOYEE_FIELDS = [
    "party.name", "company", "psflow_cost_center", "cost_price", "active", "end_date",
    "psflow_origin",
]  # fmt: skip


@pytest.fixture(scope="module")
def tryton_settings(settings: Settings, tryton: TrytonServer) -> Settings:
    """The suite's settings with Tryton as the ERP; a Tryton that keeps failing fails its
    step within the test's time, naming why."""
    erp = settings.erp.model_copy(update=tryton.erp_settings())
    changed = settings.model_copy(update={"erp": erp}, deep=True)
    changed.retry.erp = timedelta(seconds=30)
    return changed


@pytest.fixture
async def tryton_worker(client: Client, tryton_settings: Settings) -> AsyncIterator[Settings]:
    """A psflow worker on Tryton, on a task queue of this test's own."""
    async with running_worker(client, tryton_settings, f"psflow-test-{uuid4()}") as used:
        yield used


@pytest.fixture(scope="module")
def deals(sandbox: Sandbox) -> list[str]:
    """Two closed-won USD deals of this module's own: one provisioned, one compensated."""
    response = httpx.post(
        f"{sandbox.urls['crm']}/__admin/seed/deals",
        json={"count": 2, "seed": DEALS_SEED},
        timeout=10,
    )
    response.raise_for_status()
    added: list[str] = response.json()["opportunities"]
    return added


@pytest.fixture(scope="module")
async def provisioned(
    temporal_env: WorkflowEnvironment, tryton_settings: Settings, deals: list[str]
) -> OpportunityToProjectResult:
    """The second deal made a project by opportunity-to-project on Tryton, for the hire and
    the change orders too."""
    client = temporal_env.client
    async with running_worker(client, tryton_settings, f"psflow-test-{uuid4()}") as used:
        result = await (await start(client, used, deals[1])).result()
    assert result.outcome == "completed", result
    return result


@pytest.fixture
async def books(tryton: TrytonServer) -> AsyncIterator[TrytonRpc]:
    """Tryton's admin, who sees every company's records."""
    rpc = TrytonRpc(httpx.AsyncClient(base_url=tryton.url), "admin", ADMIN_PASSWORD)
    yield rpc
    await rpc.aclose()


@pytest.fixture
async def integration(tryton: TrytonServer) -> AsyncIterator[TrytonRpc]:
    """psflow's own Tryton user, the only one psflow's module lets read labour forecasts."""
    rpc = TrytonRpc(httpx.AsyncClient(base_url=tryton.url), tryton.login, tryton.password)
    yield rpc
    await rpc.aclose()


async def found(
    rpc: TrytonRpc, model: str, external_id: str, fields: list[str], **context: Any
) -> list[dict[str, Any]]:
    """Tryton's records of `model` with psflow's external id, inactive ones too."""
    rows: list[dict[str, Any]] = await rpc.model(
        model, "search_read", [(KEY, "=", external_id)], 0, None, None, fields,
        active_test=False, **context,
    )  # fmt: skip
    return rows


async def company_of(books: TrytonRpc, subsidiary_id: str) -> int:
    """The Tryton company standing for a NetSuite subsidiary."""
    [company] = await books.model(
        "company.company", "search",
        [("party.psflow_external_id", "=", f"subsidiary-{subsidiary_id}")], 0, None, None,
    )  # fmt: skip
    return int(company)


async def budget_in_tryton(books: TrytonRpc, opportunity_id: str) -> Decimal:
    eid = project_external_id(opportunity_id)
    [project] = await found(books, "project.work", eid, ["psflow_budget"])
    return Decimal(str(project["psflow_budget"]))


async def test_a_closed_won_deal_becomes_a_party_and_project_in_trytons_us_company(
    provisioned: OpportunityToProjectResult, systems: Systems, books: TrytonRpc
) -> None:
    opportunity_id = provisioned.opportunity_id
    deal = await systems.crm.get_opportunity(opportunity_id)
    company = await company_of(books, US_SUBSIDIARY)
    workflow = workflow_id(opportunity_id)

    customer_eid = customer_external_id(deal.account.id)
    fields = ["name", "psflow_origin", "customer_payment_term.name"]
    [party] = await found(books, "party.party", customer_eid, fields, company=company)
    assert (party["name"], party["psflow_origin"]) == (deal.account.name, workflow)
    assert party["customer_payment_term."]["name"] == deal.billing_terms  # the company's term
    assert str(party["id"]) == provisioned.erp_customer_id

    eid = project_external_id(opportunity_id)
    [project] = await found(books, "project.work", eid, PROJECT_FIELDS)
    assert (project["name"], project["type"]) == (deal.name, "project")
    assert (project["party"], project["company"]) == (party["id"], company)
    assert deal.currency == "USD" and Decimal(str(project["psflow_budget"])) == deal.amount
    method = {"Time and Materials": "timesheet", "Fixed Fee": "manual"}[deal.billing_type or ""]
    assert project["project_invoice_method"] == method

    tryton_id = str(project["id"])
    assert provisioned.erp_project_id == tryton_id
    assert deal.erp_project_id == tryton_id and deal.psa_project_id == provisioned.psa_project_id
    billing = await systems.psa.billing_project(provisioned.psa_project_id or "")
    assert billing is not None and billing.erp_project_id == tryton_id
    assert billing.external_id == eid


async def test_a_hire_is_employed_and_forecast_in_tryton_then_transferred_and_ended(
    client: Client,
    tryton_worker: Settings,
    provisioned: OpportunityToProjectResult,
    systems: Systems,
    sandbox: Sandbox,
    books: TrytonRpc,
    integration: TrytonRpc,
) -> None:
    worker_id = fresh_prehire(sandbox, DEMO_WORKERS["prehire_consultant_us"])
    hcm_event(sandbox, "hire", worker_id)
    person = await systems.hcm.get_worker(worker_id)
    assert person.legal_entity == "US01" and person.cost_rate is not None
    project_id = provisioned.psa_project_id or ""
    request_id = await only_request(systems, project_id, person.role or "")

    handle = await hire(client, tryton_worker, worker_id)
    await approved(tryton_worker, handle)
    result = await handle.result()
    assert result.outcome == "assigned" and result.project_id == project_id

    key = resource_external_id(worker_id)
    company = await company_of(books, US_SUBSIDIARY)
    [employee] = await found(books, "company.employee", key, EMPLOYEE_FIELDS)
    assert employee["party."]["name"] == f"{person.first_name} {person.last_name}"
    assert (employee["company"], employee["psflow_cost_center"]) == (company, person.cost_center)
    assert Decimal(str(employee["cost_price"])) == person.cost_rate
    assert employee["active"] and employee["end_date"] is None
    assert employee["psflow_origin"] == handle.id and str(employee["id"]) == result.employee_id

    forecast_eid = f"{key}-{request_id}"
    [forecast] = await found(integration, FORECAST, forecast_eid, FORECAST_FIELDS)
    assert str(forecast["id"]) == result.forecast_id
    assert forecast["work"] == int(provisioned.erp_project_id or 0)
    assert forecast["employee"] == employee["id"]
    hours = Decimal(80)  # only_request's
    assert Decimal(str(forecast["hours"])) == hours
    assert Decimal(str(forecast["cost"])) == hours * person.cost_rate

    transfer = hcm_event(sandbox, "transfer", worker_id, cost_center="CC-1200", cost_rate="120")
    assert (await apply_event(client, tryton_worker, transfer)).outcome == "applied"
    [moved] = await found(books, "company.employee", key, EMPLOYEE_FIELDS)
    assert moved["psflow_cost_center"] == "CC-1200"
    assert Decimal(str(moved["cost_price"])) == Decimal(120)
    [forecast] = await found(integration, FORECAST, forecast_eid, FORECAST_FIELDS)
    assert Decimal(str(forecast["cost"])) == hours * 120

    termination = hcm_event(sandbox, "termination", worker_id)
    left = await apply_event(client, tryton_worker, termination)
    assert left.outcome == "applied" and left.reopened_requests == [request_id]
    [ended] = await found(books, "company.employee", key, EMPLOYEE_FIELDS)
    assert not ended["active"] and ended["end_date"] is not None
    assert ended["end_date"] <= termination.effective_date  # employed no longer than in the HCM


def change_order(project_id: str, budget_change: str) -> ChangeOrder:
    return ChangeOrder(
        id=f"CO-TRYTON-{uuid4().hex[:8]}",
        project_id=project_id,
        requested_by="paula",
        reason="Phase 2 data migration",
        currency="USD",
        budget_change=Decimal(budget_change),
        effective_date=date(2026, 12, 1),
    )


async def applied_by_victor(
    client: Client, settings: Settings, order: ChangeOrder
) -> ChangeOrderResult:
    """Start the change order, let the project manager approve it; its result."""
    handle = await client.start_workflow(
        ChangeOrderWorkflow.run,
        ChangeOrderInput(change_order=order),
        id=change_order_workflow_id(order.id),
        task_queue=settings.temporal.task_queue,
    )
    await awaiting_approval(handle)
    approval = proven(settings, handle.id, "approve", Approval(user="victor"))
    await handle.execute_update(ChangeOrderWorkflow.approve, approval)
    return await handle.result()


async def test_a_change_order_moves_trytons_budget_and_a_failed_one_puts_it_back(
    client: Client,
    tryton_worker: Settings,
    provisioned: OpportunityToProjectResult,
    systems: Systems,
    sandbox: Sandbox,
    books: TrytonRpc,
) -> None:
    opportunity_id, project_id = provisioned.opportunity_id, provisioned.psa_project_id or ""
    was = await budget_in_tryton(books, opportunity_id)
    try:
        result = await applied_by_victor(client, tryton_worker, change_order(project_id, "10000"))
        assert result.outcome == "applied" and result.new_budget == was + 10000
        assert await budget_in_tryton(books, opportunity_id) == was + 10000
        deal = await systems.crm.get_opportunity(opportunity_id)
        assert deal.amount == was + 10000  # the deal was provisioned at its amount

        # The PSA refuses its budget once the ERP's has moved: the ERP's is put back.
        sandbox.fault("psa", path="/api/v1/projects/*/budget", method="POST", status=400, count=1)
        failing = change_order(project_id, "5000")
        with pytest.raises(WorkflowFailureError):
            await applied_by_victor(client, tryton_worker, failing)
        handle = client.get_workflow_handle_for(
            ChangeOrderWorkflow.run, change_order_workflow_id(failing.id)
        )
        status = await handle.query(ChangeOrderWorkflow.status)
        assert status.state == RunState.FAILED
        undone = {c.step: c.outcome for c in status.compensations}
        assert undone[ERP_BUDGET] == CompensationOutcome.UNDONE
        assert await budget_in_tryton(books, opportunity_id) == was + 10000
    finally:
        lock = client.get_workflow_handle(project_lock_id(project_id))
        with contextlib.suppress(RPCError):
            await lock.terminate("test finished")


async def test_a_psa_refusal_after_the_tryton_project_deletes_it_and_its_new_customer(
    client: Client,
    tryton_worker: Settings,
    deals: list[str],
    systems: Systems,
    sandbox: Sandbox,
    books: TrytonRpc,
) -> None:
    opportunity_id = deals[0]
    sandbox.fault("psa", path="/api/v1/projects", method="POST", status=400, count=1)
    handle = await start(client, tryton_worker, opportunity_id)
    with pytest.raises(WorkflowFailureError):
        await handle.result()

    status = await handle.query(OpportunityToProject.status)
    assert status.state == RunState.FAILED
    undone = {c.step: c.outcome for c in status.compensations}
    assert undone[ERP_PROJECT] == undone[CUSTOMER] == CompensationOutcome.UNDONE
    deal = await systems.crm.get_opportunity(opportunity_id)
    assert deal.erp_project_id is None and deal.psa_project_id is None
    eid = project_external_id(opportunity_id)
    assert await found(books, "project.work", eid, ["id"]) == []
    assert await found(books, "party.party", customer_external_id(deal.account.id), ["id"]) == []
