"""change-order under ordinary trouble: a cancel at any moment, outages waited out, a bad
lock grant refused. Each ends with the project's lock free for the next change order."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from config import Settings
from models.change_order import ChangeOrder, RoleChange, project_lock_id
from models.psa import StaffingRequestInput
from models.status import CompensationOutcome, RunState, StepState, WorkflowStatus
from sandbox.volume import volume_projects
from tests.billing_support import awaiting_finance as awaiting_approval
from tests.billing_support import seed_volume
from tests.saga_support import cancelled, dead_letters_of, status_of, when_running
from tests.staffing_support import when_in_flight
from tests.support import Sandbox, Systems
from tests.test_change_order import (
    STAFFING_POST,
    USD_PROJECT,
    VOLUME,
    Before,
    _step,
    approval,
    approve,
    before,
    order,
    start,
)
from tests.test_opportunity_to_project import status_when
from workflows.change_order import (
    CRM_AMOUNT,
    ERP_BUDGET,
    FORECAST,
    GRANTED_SIGNAL,
    LOCK,
    OUTCOME,
    PSA_BUDGET,
    STAFFING,
    ChangeOrderWorkflow,
)

# More hours on an open request and a request opened: both must be put back.
ROLES = [
    RoleChange(role="Consultant", hours_change=Decimal(40)),
    RoleChange(role="Senior Consultant", hours_change=Decimal(80)),
]
ERP_JOB = f"*/job/eid:{USD_PROJECT.external_id}"
OPPORTUNITY = f"*/sobjects/Opportunity/{USD_PROJECT.opportunity_id}"
# Each step's call held 3 s in its system, so the cancel arrives while it is in flight.
IN_FLIGHT = [
    (ERP_BUDGET, "changes.set_erp_budget", "erp", ERP_JOB, "PATCH"),
    (PSA_BUDGET, "changes.set_psa_budget", "psa", "/api/v1/projects/*/budget", "POST"),
    (STAFFING, "changes.revise_staffing", "psa", STAFFING_POST, "POST"),
    (CRM_AMOUNT, "changes.set_opportunity_amount", "crm", OPPORTUNITY, "PATCH"),
    (FORECAST, "changes.publish_forecast", "psa", "/api/v1/projects/*/forecast-revisions", "POST"),
]
OTHER_PROJECT = next(
    p
    for p in volume_projects(VOLUME)
    if p.currency == "USD" and p.closed_on is None and p.psa_id != USD_PROJECT.psa_id
)


@pytest.fixture
async def project(sandbox: Sandbox, client: Client) -> AsyncIterator[None]:
    """A fresh volume; the locks of both USD projects are ended with the test."""
    seed_volume(sandbox, VOLUME)
    yield
    for held in (USD_PROJECT, OTHER_PROJECT):
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(project_lock_id(held.psa_id)).terminate("test done")


async def open_consultant_request(systems: Systems) -> None:
    request = StaffingRequestInput(
        project_id=USD_PROJECT.psa_id, role="Consultant", hours=Decimal(100),
        start_date=date(2026, 12, 1),
    )  # fmt: skip
    await systems.psa.create_staffing_request(request, f"co-resilience-{uuid.uuid4()}")


async def psa_status(systems: Systems, co: ChangeOrder) -> str:
    """The change order's status as the PSA holds it."""
    response = await systems.psa.request("GET", f"/api/v1/change-orders/{co.id}")
    status: str = response.json()["status"]
    return status


def assert_restored(now: Before, was: Before) -> None:
    """Every value as it was; requests the change opened are cancelled (not deleted)."""
    opened = {k: v for k, v in now.requests.items() if k not in was.requests}
    assert all(state == "cancelled" for _, _, state in opened.values()), opened
    kept = {k: v for k, v in now.requests.items() if k in was.requests}
    assert replace(now, requests=kept) == was


async def assert_next_gets_its_turn(client: Client, worker: Settings, number: int) -> None:
    """The lock was given back: a change order started now reaches its approval (the lock's
    own check for an ended holder comes only after 10 minutes)."""
    following = await start(client, worker, order(number, "5000"))
    await awaiting_approval(following, within=30)
    await cancelled(following)


def assert_no_task_failed(events: list[EventType.ValueType]) -> None:
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in events


@pytest.mark.parametrize(
    ("step", "activity", "system", "path", "method"), IN_FLIGHT, ids=[s[0] for s in IN_FLIGHT]
)
async def test_a_cancel_while_a_change_is_in_flight_puts_every_system_back(
    client: Client, worker: Settings, systems: Systems, sandbox: Sandbox, project: None,
    step: str, activity: str, system: str, path: str, method: str,
) -> None:  # fmt: skip
    await open_consultant_request(systems)
    was = await before(systems)
    index = [s[0] for s in IN_FLIGHT].index(step)
    co = order(200 + index, "10000", roles=ROLES)
    handle = await start(client, worker, co)
    await awaiting_approval(handle)
    sandbox.fault(system, path=path, method=method, status=None, latency_ms=3000, count=1)
    await handle.execute_update(ChangeOrderWorkflow.approve, approval(worker, handle, "victor"))
    await when_running(handle, step)
    await when_in_flight(handle, activity)

    status = await asyncio.wait_for(cancelled(handle), 60)
    assert sandbox.armed_faults(system) == [], "the slow call was made"
    assert _step(status, step).state == StepState.CANCELLED
    changed = [s[0] for s in IN_FLIGHT[: index + 1]]
    if was.psa_budget is None:
        changed.remove(PSA_BUDGET)
    assert [c.step for c in status.compensations] == changed[::-1]
    assert all(c.outcome == CompensationOutcome.UNDONE for c in status.compensations)
    assert dead_letters_of(worker, handle.id) == []
    assert_restored(await before(systems), was)
    assert await psa_status(systems, co) == "submitted"
    await assert_next_gets_its_turn(client, worker, 210 + index)


async def test_a_cancel_while_marking_applied_is_too_late_and_the_order_completes(
    client: Client, worker: Settings, systems: Systems, sandbox: Sandbox, project: None
) -> None:
    was = await before(systems)
    co = order(216, "10000")
    handle = await start(client, worker, co)
    await awaiting_approval(handle)
    # Held long enough that the cancel reaches the activity (heartbeats go out every 8 s).
    path = f"/api/v1/change-orders/{co.id}/status"
    sandbox.fault("psa", path=path, method="POST", status=None, latency_ms=10_000, count=1)
    await handle.execute_update(ChangeOrderWorkflow.approve, approval(worker, handle, "victor"))
    await when_running(handle, OUTCOME)
    await when_in_flight(handle, "changes.set_status")

    await handle.cancel()
    result = await asyncio.wait_for(handle.result(), 60)
    assert result.outcome == "applied"
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    status = await status_of(handle)
    assert status.state == RunState.COMPLETED and status.compensations == []
    assert _step(status, OUTCOME).state == StepState.DONE
    now = await before(systems)
    assert (now.erp_budget, now.amount) == (was.erp_budget + 10000, was.amount + 10000)
    assert now.forecasts == was.forecasts + 1
    assert await psa_status(systems, co) == "applied"
    assert dead_letters_of(worker, handle.id) == []
    await assert_next_gets_its_turn(client, worker, 217)


async def test_a_cancel_while_waiting_for_an_approval_changes_nothing(
    client: Client, worker: Settings, systems: Systems, project: None
) -> None:
    was = await before(systems)
    co = order(218, "50000")
    handle = await start(client, worker, co)
    await approve(worker, handle, "victor")
    await awaiting_approval(handle)  # the finance level

    status = await cancelled(handle)
    assert _step(status, "finance approval").state == StepState.CANCELLED
    assert status.compensations == []
    assert await before(systems) == was
    assert await psa_status(systems, co) == "submitted"
    assert dead_letters_of(worker, handle.id) == []
    await assert_next_gets_its_turn(client, worker, 219)


async def test_erp_psa_and_crm_outages_longer_than_five_attempts_are_waited_out(
    client: Client, worker: Settings, systems: Systems, sandbox: Sandbox, project: None
) -> None:
    # Five failures each, every one saying when to come back (Retry-After: 1, honoured).
    erp_was = await systems.erp.get_project(USD_PROJECT.external_id)
    crm_was = await systems.crm.get_opportunity(OTHER_PROJECT.opportunity_id)
    assert erp_was is not None and erp_was.budget is not None
    sandbox.fault("erp", path=ERP_JOB, method="PATCH", status=503, count=5, retry_after=1)
    other_budget = f"/api/v1/projects/{OTHER_PROJECT.psa_id}/budget"
    sandbox.fault("psa", path=other_budget, method="POST", status=503, count=5, retry_after=1)
    other_deal = f"*/sobjects/Opportunity/{OTHER_PROJECT.opportunity_id}"
    sandbox.fault("crm", path=other_deal, method="PATCH", status=503, count=5, retry_after=1)
    orders = [order(220, "10000"), order(221, "10000", project_id=OTHER_PROJECT.psa_id)]
    handles = [await start(client, worker, co) for co in orders]
    for handle in handles:
        await approve(worker, handle, "victor")

    for handle, co in zip(handles, orders, strict=True):
        result = await asyncio.wait_for(handle.result(), 120)
        assert result.outcome == "applied"
        status = await status_of(handle)
        assert status.compensations == [] and dead_letters_of(worker, handle.id) == []
        assert await psa_status(systems, co) == "applied"
    assert [sandbox.armed_faults(system) for system in ("erp", "psa", "crm")] == [[], [], []]
    erp_now = await systems.erp.get_project(USD_PROJECT.external_id)
    assert erp_now is not None and erp_now.budget == erp_was.budget + 10000
    crm_now = await systems.crm.get_opportunity(OTHER_PROJECT.opportunity_id)
    assert crm_now.amount == crm_was.amount + 10000


async def test_a_malformed_lock_grant_is_refused_and_the_order_keeps_its_place(
    client: Client, worker: Settings, systems: Systems, project: None
) -> None:
    first = await start(client, worker, order(222, "5000"))
    await awaiting_approval(first)
    second = await start(client, worker, order(223, "5000", requested_by="victor"))
    await status_when(second, lambda s: (_step(s, LOCK).detail or "").startswith("queued"))

    bad: list[list[object]] = [[], [42], [USD_PROJECT.psa_id, "again"], ["PRJ-V00001"]]
    for args in bad:
        await second.signal(GRANTED_SIGNAL, args=args)

    def refusals(s: WorkflowStatus) -> list[str]:
        return [e.detail for e in s.events if e.kind == "refused"]

    status = await status_when(second, lambda s: len(refusals(s)) == len(bad))
    assert _step(status, LOCK).state == StepState.RUNNING, "still queued"
    found = refusals(status)
    assert found[0].startswith("lock_granted refused: 0 arguments given, one expected")
    assert "valid string" in found[1]
    assert found[2].startswith("lock_granted refused: 2 arguments given")
    assert found[3].startswith("lock_granted refused: granted 'PRJ-V00001'")
    assert all(f.endswith('send "PRJ-V00001"') for f in found[:3])
    events = [e.event_type async for e in second.fetch_history_events()]
    assert_no_task_failed(events)

    await approve(worker, first, "victor")
    assert (await first.result()).outcome == "applied"
    await approve(worker, second, "paula")
    assert (await second.result()).outcome == "applied"
