"""change-order end to end: tiers of approval, exact undo at every step, one at a time."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError

from config import Settings
from models.change_order import (
    ChangeOrder,
    ChangeOrderResult,
    RoleChange,
    change_order_workflow_id,
    project_lock_id,
)
from models.change_state import ChangeOrderInput
from models.people import Approval, Rejection
from models.psa import StaffingRequestInput
from models.status import CompensationOutcome, RunState, Step, StepState, WorkflowStatus
from sandbox.volume import Volume, volume_projects
from tests.billing_support import awaiting_finance as awaiting_approval
from tests.billing_support import seed_volume
from tests.support import Sandbox, Systems, env_for, proven, sign_in
from tests.test_opportunity_to_project import status_when
from tests.test_time_to_bill import cli
from workflows.change_order import ChangeOrderWorkflow

Handle = WorkflowHandle[ChangeOrderWorkflow, ChangeOrderResult]
VOLUME = Volume(projects=8, entries=400, period="2026-01", seed=51)
USD_PROJECT = next(
    p
    for p in volume_projects(VOLUME)
    if p.currency == "USD" and p.closed_on is None and p.billing_type == "Time and Materials"
)


@dataclass
class Before:
    erp_budget: Decimal
    psa_budget: Decimal | None
    amount: Decimal
    requests: dict[str, tuple[str, Decimal, str]]
    """id -> (role, hours, status)"""
    forecasts: int


async def before(systems: Systems) -> Before:
    project = USD_PROJECT
    erp = await systems.erp.get_project(project.external_id)
    psa = await systems.psa.get_project(project.psa_id)
    deal = await systems.crm.get_opportunity(project.opportunity_id)
    requests = await systems.psa.list_staffing_requests(project.psa_id)
    forecasts = await systems.psa.forecast_revisions(project.psa_id)
    assert erp is not None and erp.budget is not None and psa is not None
    return Before(
        erp_budget=erp.budget,
        psa_budget=psa.budget,
        amount=deal.amount,
        requests={r.id: (r.role, r.hours, r.status) for r in requests},
        forecasts=len(forecasts),
    )


@pytest.fixture
async def project(sandbox: Sandbox, client: Client) -> AsyncIterator[None]:
    """A fresh volume: the USD project with its ERP job, PSA project and opportunity.

    Each test has its own task queue, so the project's lock workflow (which lives on the
    queue of whoever started it) is ended with the test.
    """
    seed_volume(sandbox, VOLUME)
    yield
    lock = client.get_workflow_handle(project_lock_id(USD_PROJECT.psa_id))
    with contextlib.suppress(RPCError):
        await lock.terminate("test finished")


def order(number: int, change: str, **extra: object) -> ChangeOrder:
    fields: dict[str, object] = {
        "id": f"CO-TEST-{number:04d}",
        "project_id": USD_PROJECT.psa_id,
        "requested_by": "paula",
        "reason": "Phase 2 data migration",
        "currency": "USD",
        "budget_change": Decimal(change),
        "effective_date": date(2026, 12, 1),
        "roles": [RoleChange(role="Senior Consultant", hours_change=Decimal(80))],
    }
    return ChangeOrder.model_validate(fields | extra)


async def start(client: Client, settings: Settings, co: ChangeOrder) -> Handle:
    return await client.start_workflow(
        ChangeOrderWorkflow.run,
        ChangeOrderInput(change_order=co),
        id=change_order_workflow_id(co.id),
        task_queue=settings.temporal.task_queue,
    )


def approval(settings: Settings, handle: Handle, user: str) -> Approval:
    """`user`'s approval of the run, proven by `settings`' (the worker's) issuer."""
    return proven(settings, handle.id, "approve", Approval(user=user))


async def approve(settings: Settings, handle: Handle, user: str) -> None:
    await awaiting_approval(handle)
    await handle.execute_update(ChangeOrderWorkflow.approve, approval(settings, handle, user))


async def assert_unchanged(systems: Systems, was: Before) -> None:
    now = await before(systems)
    assert now == was


@pytest.mark.parametrize(
    ("change", "approvers"),
    [
        ("10000", ["victor"]),
        ("50000", ["victor", "fatima"]),
        ("150000", ["victor", "fatima", "dana"]),
    ],
    ids=["project manager", "and finance", "and deal desk"],
)
async def test_each_tier_needs_its_levels_then_moves_every_system(
    client: Client, worker: Settings, systems: Systems, project: None, change: str,
    approvers: list[str],
) -> None:  # fmt: skip
    was = await before(systems)
    co = order(len(approvers), change)
    handle = await start(client, worker, co)
    for user in approvers:
        await approve(worker, handle, user)
    result = await handle.result()

    assert result.outcome == "applied" and result.approvals == approvers
    now = await before(systems)
    assert now.erp_budget == was.erp_budget + Decimal(change)
    assert now.psa_budget == (was.psa_budget or 0) + Decimal(change)
    assert now.amount == was.amount + Decimal(change)
    opened = {k: v for k, v in now.requests.items() if k not in was.requests}
    assert list(opened.values()) == [("Senior Consultant", Decimal(80), "open")]
    assert now.forecasts == was.forecasts + 1
    status = await handle.query(ChangeOrderWorkflow.status)
    states = {s.name: s.state for s in status.steps}
    levels = ["project-manager approval", "finance approval", "deal-desk approval"]
    needed = len(approvers)
    assert [states[name] for name in levels] == [StepState.DONE] * needed + [StepState.SKIPPED] * (
        3 - needed
    )


@pytest.mark.parametrize("level", [0, 1, 2], ids=["project manager", "finance", "deal desk"])
async def test_a_rejection_at_any_level_changes_nothing(
    client: Client, worker: Settings, systems: Systems, project: None, level: int
) -> None:
    was = await before(systems)
    handle = await start(client, worker, order(10 + level, "150000"))
    for user in ["victor", "fatima", "dana"][:level]:
        await approve(worker, handle, user)
    await awaiting_approval(handle)
    deciders = ["victor", "fatima", "dana"]
    rejection = Rejection(user=deciders[level], reason="not in the SOW")
    await handle.execute_update(
        ChangeOrderWorkflow.reject, proven(worker, handle.id, "reject", rejection)
    )
    result = await handle.result()
    assert result.outcome == "rejected" and result.reason == "not in the SOW"
    await assert_unchanged(systems, was)
    assert (await handle.query(ChangeOrderWorkflow.status)).state == RunState.REJECTED


async def test_approvers_are_refused_for_role_requester_and_a_second_level(
    client: Client, worker: Settings, systems: Systems, project: None
) -> None:
    handle = await start(client, worker, order(20, "50000", requested_by="victor"))
    await awaiting_approval(handle)
    refusals = {}
    for user in ("victor", "fatima", "nobody"):
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(ChangeOrderWorkflow.approve, approval(worker, handle, user))
        refusals[user] = str(refused.value.cause)
    assert "raised this change order" in refusals["victor"]
    assert "does not have the project-manager role" in refusals["fatima"]
    assert "unknown user 'nobody'" in refusals["nobody"]
    await approve(worker, handle, "paula")
    await awaiting_approval(handle)
    with pytest.raises(WorkflowUpdateFailedError) as again:
        await handle.execute_update(ChangeOrderWorkflow.approve, approval(worker, handle, "paula"))
    assert "does not have the finance role" in str(again.value.cause)
    await approve(worker, handle, "greta")
    assert (await handle.result()).approvals == ["paula", "greta"]


FAULTS = [
    ("psa", "/api/v1/projects/*/budget", "POST", "update PSA budget"),
    ("psa", "/api/v1/projects/*/staffing-requests", "POST", "revise staffing demand"),
    ("crm", "*/sobjects/Opportunity/*", "PATCH", "update CRM amount"),
    ("psa", "/api/v1/projects/*/forecast-revisions", "POST", "publish forecast change"),
    ("psa", "/api/v1/change-orders/*/status", "POST", "mark applied in PSA"),
]


@pytest.mark.parametrize(("system", "path", "method", "step"), FAULTS, ids=[f[3] for f in FAULTS])
async def test_a_fault_at_each_later_step_restores_every_system_exactly(
    client: Client, worker: Settings, systems: Systems, sandbox: Sandbox, project: None,
    system: str, path: str, method: str, step: str,
) -> None:  # fmt: skip
    was = await before(systems)
    handle = await start(
        client, worker, order(30 + FAULTS.index((system, path, method, step)), "10000")
    )
    await awaiting_approval(handle)
    sandbox.fault(system, path=path, method=method, status=400, count=1)
    await handle.execute_update(ChangeOrderWorkflow.approve, approval(worker, handle, "victor"))
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    sandbox.clear_faults()
    status = await handle.query(ChangeOrderWorkflow.status)
    assert status.state == RunState.FAILED
    assert next(s for s in status.steps if s.name == step).state == StepState.FAILED
    restored = await before(systems)
    # Requests the change opened are cancelled, not deleted: compare the rest exactly.
    opened = {k: v for k, v in restored.requests.items() if k not in was.requests}
    assert all(state == "cancelled" for _, _, state in opened.values())
    restored.requests = {k: v for k, v in restored.requests.items() if k in was.requests}
    assert restored == was


STAFFING_POST = "/api/v1/projects/*/staffing-requests"


async def test_a_request_opened_before_a_later_role_fails_for_good_is_cancelled(
    client: Client, worker: Settings, systems: Systems, sandbox: Sandbox, project: None
) -> None:
    existing = await systems.psa.create_staffing_request(
        StaffingRequestInput(
            project_id=USD_PROJECT.psa_id, role="Consultant", hours=Decimal(100),
            start_date=date(2026, 12, 1),
        ),
        f"co-test-existing-{USD_PROJECT.psa_id}",
    )  # fmt: skip
    was = await before(systems)
    roles = [
        RoleChange(role="Consultant", hours_change=Decimal(40)),  # more hours on the open one
        RoleChange(role="Senior Consultant", hours_change=Decimal(80)),  # opened
        RoleChange(role="Analyst", hours_change=Decimal(24)),  # refused for good
    ]
    handle = await start(client, worker, order(36, "10000", roles=roles))
    await awaiting_approval(handle)
    # Role 2's request is held a moment in the PSA, long enough to arm a refusal for role 3's.
    sandbox.fault("psa", path=STAFFING_POST, method="POST", status=None, latency_ms=2000)
    await handle.execute_update(ChangeOrderWorkflow.approve, approval(worker, handle, "victor"))
    for _ in range(400):
        if not any(f["remaining"] for f in sandbox.armed_faults("psa")):
            break
        await asyncio.sleep(0.05)
    sandbox.fault("psa", path=STAFFING_POST, method="POST", status=400, count=1)
    with pytest.raises(WorkflowFailureError):
        await handle.result()

    restored = await before(systems)
    opened = {k: v for k, v in restored.requests.items() if k not in was.requests}
    assert list(opened.values()) == [("Senior Consultant", Decimal(80), "cancelled")]
    assert restored.requests[existing.id] == ("Consultant", Decimal(100), "open")
    restored.requests = {k: v for k, v in restored.requests.items() if k in was.requests}
    assert restored == was
    status = await handle.query(ChangeOrderWorkflow.status)
    assert _step(status, "revise staffing demand").state == StepState.FAILED
    undone = {c.step: c.outcome for c in status.compensations}
    assert undone["revise staffing demand"] == CompensationOutcome.UNDONE


async def test_two_change_orders_on_one_project_apply_one_after_the_other(
    client: Client, worker: Settings, systems: Systems, project: None
) -> None:
    was = await before(systems)
    first = await start(client, worker, order(40, "7000"))
    await awaiting_approval(first)
    second = await start(client, worker, order(41, "5000", requested_by="victor"))
    queued = await status_when(
        second, lambda s: (_step(s, "wait for the project").detail or "").startswith("queued")
    )
    assert _step(queued, "wait for the project").state == StepState.RUNNING
    assert _step(queued, "validate change order").state == StepState.PENDING
    await approve(worker, first, "victor")
    await approve(worker, second, "paula")
    results = await asyncio.gather(first.result(), second.result())
    assert [r.outcome for r in results] == ["applied", "applied"]
    now = await before(systems)
    assert now.erp_budget == was.erp_budget + Decimal(12000)
    assert now.amount == was.amount + Decimal(12000)
    spans = []
    for handle in (first, second):
        steps = {s.name: s for s in (await handle.query(ChangeOrderWorkflow.status)).steps}
        spans.append(
            (steps["validate change order"].started_at, steps["mark applied in PSA"].ended_at)
        )
    earlier, later = sorted(spans)
    assert earlier[1] <= later[0], "the second validated only after the first was applied"


async def test_the_cli_refuses_a_change_order_the_live_project_cannot_take(
    client: Client, worker: Settings, project: None, config_file: Path, tmp_path: Path
) -> None:
    env = env_for(config_file, PSFLOW_TASK_QUEUE=worker.temporal.task_queue)
    bad = order(50, "-90000000", currency="EUR", roles=[{"role": "Astronaut", "hours_change": 8}])
    (tmp_path / "bad.json").write_text(bad.model_dump_json())
    refused = await cli(env, "start", "change-order", "--file", str(tmp_path / "bad.json"))
    assert refused.exit_code == 1
    line = refused.stderr.strip()
    assert line.startswith("error: change order CO-TEST-0050 is refused: ")
    assert "currency: EUR differs from the project's USD" in line
    assert "budget_change: would leave -" in line
    assert "roles[0].role: Astronaut is not on rate card STD-USD-2026" in line
    with pytest.raises(RPCError):
        await client.get_workflow_handle(change_order_workflow_id(bad.id)).describe()

    good = order(51, "2500")
    (tmp_path / "co.json").write_text(good.model_dump_json())
    started = await cli(env, "start", "change-order", "--file", str(tmp_path / "co.json"))
    assert started.exit_code == 0, started.output
    assert "change-order/CO-TEST-0051 started" in started.stdout
    handle = client.get_workflow_handle_for(
        ChangeOrderWorkflow.run, change_order_workflow_id(good.id)
    )
    await awaiting_approval(handle)
    await asyncio.to_thread(sign_in, env, "victor")
    approved = await cli(env, "approve", handle.id, "--as", "victor")
    assert approved.exit_code == 0, approved.output
    assert (await handle.result()).outcome == "applied"
    # Held in the PSA since: it can be started from there too (and is found, not restarted).
    again = await cli(env, "start", "change-order", good.id)
    assert again.exit_code == 1 and "already ran (completed)" in again.stderr


def _step(status: WorkflowStatus, name: str) -> Step:
    return next(s for s in status.steps if s.name == name)
