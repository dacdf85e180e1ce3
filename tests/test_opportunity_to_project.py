"""opportunity-to-project end to end: real dev server, real worker, real HTTP to the sandbox."""

import asyncio
import uuid
from collections.abc import Callable

import pytest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy

from config import Settings
from connectors.errors import error_type
from models.erp import customer_external_id
from models.opportunity_to_project import (
    OpportunityToProjectInput,
    OpportunityToProjectResult,
    project_external_id,
    workflow_id,
)
from models.people import Approval, Correction, Rejection
from models.status import RunState, StepState, WaitKind, WorkflowStatus
from sandbox.crm.seed import DEMO_OPPORTUNITIES, SPARE_CLOSED_WON
from tests.support import Sandbox, Systems, proven
from workflows.opportunity_to_project import OpportunityToProject

Handle = WorkflowHandle[OpportunityToProject, OpportunityToProjectResult]


async def start(client: Client, settings: Settings, opportunity_id: str) -> Handle:
    return await client.start_workflow(
        OpportunityToProject.run,
        OpportunityToProjectInput(opportunity_id=opportunity_id, requested_by="test"),
        id=workflow_id(opportunity_id),
        task_queue=settings.temporal.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def status_when(
    handle: Handle, ready: Callable[[WorkflowStatus], bool], within: float = 30
) -> WorkflowStatus:
    """Poll the status query until `ready` holds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        status = await handle.query(OpportunityToProject.status)
        if ready(status):
            return status
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"status never got there: {status.model_dump_json(indent=1)}")
        await asyncio.sleep(0.2)


def waiting_for(kind: WaitKind) -> Callable[[WorkflowStatus], bool]:
    return lambda s: s.waiting_for is not None and s.waiting_for.kind == kind


async def assert_nothing_left(systems: Systems, opportunity_id: str, workflow: str) -> None:
    """No psflow-created record stays behind in any system, and the CRM is as it was."""
    eid = project_external_id(opportunity_id)
    assert await systems.erp.get_project(eid) is None
    project = await systems.psa.find_project(eid)
    if project is not None:
        assert project.status == "archived"
        requests = await systems.psa.list_staffing_requests(project.id)
        assert all(r.status == "cancelled" for r in requests)
    deal = await systems.crm.get_opportunity(opportunity_id)
    assert deal.erp_project_id is None and deal.psa_project_id is None
    customer = await systems.erp.get_customer(customer_external_id(deal.account.id))
    assert customer is None or customer.origin != workflow


async def test_closed_won_deal_becomes_linked_records_in_every_system(
    client: Client, worker: Settings, systems: Systems
) -> None:
    opportunity_id = DEMO_OPPORTUNITIES["small_usd"]
    handle = await start(client, worker, opportunity_id)
    result = await handle.result()

    assert result.outcome == "completed"
    deal = await systems.crm.get_opportunity(opportunity_id)
    erp_project = await systems.erp.get_project(project_external_id(opportunity_id))
    psa_project = await systems.psa.find_project(project_external_id(opportunity_id))
    customer = await systems.erp.get_customer(customer_external_id(deal.account.id))
    assert erp_project is not None and psa_project is not None and customer is not None
    assert deal.erp_project_id == erp_project.id == result.erp_project_id
    assert deal.psa_project_id == psa_project.id == result.psa_project_id
    assert erp_project.customer_id == customer.id == result.erp_customer_id
    billing = await systems.psa.billing_project(psa_project.id)
    assert billing is not None and billing.opportunity_id == opportunity_id
    [baseline] = await systems.psa.forecast_revisions(psa_project.id)
    assert (baseline.change_order_id, baseline.budget) == ("baseline", deal.amount)
    requests = await systems.psa.list_staffing_requests(psa_project.id)
    assert sorted(r.role for r in requests) == sorted({line.role for line in deal.lines})
    assert sorted(r.id for r in requests) == sorted(result.staffing_request_ids)

    status = await handle.query(OpportunityToProject.status)
    assert status.state == RunState.COMPLETED
    states = {s.name: s.state for s in status.steps}
    assert states.pop("deal-desk approval") == StepState.SKIPPED
    assert set(states.values()) == {StepState.DONE}
    assert status.compensations == []


async def test_large_deal_waits_for_a_deal_desk_approver_who_does_not_own_it(
    client: Client, worker: Settings, systems: Systems
) -> None:
    opportunity_id = DEMO_OPPORTUNITIES["large_owned_by_dana"]
    handle = await start(client, worker, opportunity_id)
    status = await status_when(handle, waiting_for(WaitKind.APPROVAL))
    assert status.state == RunState.WAITING and status.waiting_for.role == "deal-desk"

    refusals = {
        "sam": "does not have the deal-desk role",
        "dana": "owns this deal",
        "nobody": "unknown user 'nobody'",
    }
    for user, reason in refusals.items():
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            approval = proven(worker, handle.id, "approve", Approval(user=user))
            await handle.execute_update(OpportunityToProject.approve, approval)
        assert reason in str(refused.value.cause)
    still = await handle.query(OpportunityToProject.status)
    assert still.waiting_for is not None and still.waiting_for.kind == WaitKind.APPROVAL

    approval = Approval(user="morgan", comment="within policy")
    await handle.execute_update(
        OpportunityToProject.approve, proven(worker, handle.id, "approve", approval)
    )
    result = await handle.result()
    assert result.outcome == "completed"
    assert (await systems.erp.get_project(project_external_id(opportunity_id))) is not None
    events = (await handle.query(OpportunityToProject.status)).events
    assert [(e.kind, e.user) for e in events] == [("approved", "morgan")]


async def test_rejected_deal_creates_nothing(
    client: Client, worker: Settings, systems: Systems
) -> None:
    opportunity_id = DEMO_OPPORTUNITIES["large_usd"]
    handle = await start(client, worker, opportunity_id)
    await status_when(handle, waiting_for(WaitKind.APPROVAL))

    rejection = Rejection(user="dana", reason="margin too thin")
    await handle.execute_update(
        OpportunityToProject.reject, proven(worker, handle.id, "reject", rejection)
    )
    result = await handle.result()

    assert result.outcome == "rejected" and result.reason == "margin too thin"
    status = await handle.query(OpportunityToProject.status)
    assert status.state == RunState.REJECTED
    await assert_nothing_left(systems, opportunity_id, handle.id)


async def test_invalid_legal_entity_waits_for_correction_then_completes(
    client: Client, worker: Settings, systems: Systems
) -> None:
    opportunity_id = DEMO_OPPORTUNITIES["unknown_legal_entity"]
    handle = await start(client, worker, opportunity_id)
    status = await status_when(handle, waiting_for(WaitKind.CORRECTION))
    assert [p.field for p in status.waiting_for.problems] == ["legal_entity"]
    assert "XX99" in status.waiting_for.problems[0].message

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        wrong = Correction(user="dana", fields={"stage": "won"})
        await handle.execute_update(
            OpportunityToProject.correct, proven(worker, handle.id, "correct", wrong)
        )
    assert "cannot correct stage" in str(refused.value.cause)

    fix = Correction(user="dana", fields={"legal_entity": "US01"})
    await handle.execute_update(
        OpportunityToProject.correct, proven(worker, handle.id, "correct", fix)
    )
    result = await handle.result()
    assert result.outcome == "completed"
    deal = await systems.crm.get_opportunity(opportunity_id)
    assert deal.legal_entity == "US01" and deal.erp_project_id == result.erp_project_id


async def test_deal_not_closed_won_fails_with_a_clear_message(
    client: Client, worker: Settings
) -> None:
    handle = await start(client, worker, DEMO_OPPORTUNITIES["open"])
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert "not Closed Won" in str(failed.value.cause)
    assert error_type(failed.value) == "SagaFailed"


@pytest.mark.parametrize(
    ("spare", "system", "path", "failed_step"),
    [
        (0, "psa", "/api/v1/projects", "create PSA project"),
        (1, "psa", "/api/v1/projects/*/staffing-requests", "open staffing requests"),
        (2, "crm", "*/sobjects/Opportunity/*", "write ids back to CRM"),
    ],
)
async def test_permanent_failure_at_a_later_step_undoes_everything(
    client: Client,
    worker: Settings,
    systems: Systems,
    sandbox: Sandbox,
    spare: int,
    system: str,
    path: str,
    failed_step: str,
) -> None:
    opportunity_id = SPARE_CLOSED_WON[spare]
    method = "PATCH" if system == "crm" else "POST"
    # Refused for good (a 400 is never retried), then back for the compensations.
    sandbox.fault(system, path=path, method=method, status=400, count=1)
    handle = await start(client, worker, opportunity_id)

    with pytest.raises(WorkflowFailureError):
        await handle.result()

    status = await handle.query(OpportunityToProject.status)
    assert status.state == RunState.FAILED
    assert {s.name: s.state for s in status.steps}[failed_step] == StepState.FAILED
    assert "400" in (status.error or "")
    undone = [c.step for c in status.compensations]
    assert undone[-1] == "upsert ERP customer" and failed_step in undone
    assert all(c.outcome.value != "failed" for c in status.compensations)
    await assert_nothing_left(systems, opportunity_id, handle.id)
    # What an SRE searches for: failed runs, by the step they failed at.
    query = f"WorkflowId = '{handle.id}' AND PsflowStep = '{failed_step}'"
    for _ in range(50):
        found = [e async for e in client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.2)
    assert [e.status for e in found] == [WorkflowExecutionStatus.FAILED]


async def test_rate_limits_and_outage_bursts_are_retried_without_duplicates(
    client: Client, worker: Settings, systems: Systems, sandbox: Sandbox
) -> None:
    opportunity_id = SPARE_CLOSED_WON[3]
    sandbox.fault("erp", path="*/record/v1/job/*", method="PUT", status=429, retry_after=2)
    sandbox.fault("psa", path="/api/v1/projects", method="POST", status=503, count=2)
    handle = await start(client, worker, opportunity_id)
    result = await handle.result()

    assert result.outcome == "completed"
    eid = project_external_id(opportunity_id)
    projects = await systems.psa.list_projects(external_id=eid)
    assert [p.id for p in projects] == [result.psa_project_id]
    assert (await systems.erp.get_project(eid)).id == result.erp_project_id


async def test_the_same_start_five_times_at_once_makes_one_workflow(
    client: Client, worker: Settings, systems: Systems
) -> None:
    opportunity_id = SPARE_CLOSED_WON[4]
    handles = await asyncio.gather(*(start(client, worker, opportunity_id) for _ in range(5)))
    assert len({h.result_run_id for h in handles}) == 1
    result = await handles[0].result()
    projects = await systems.psa.list_projects(external_id=project_external_id(opportunity_id))
    assert len(projects) == 1 and result.outcome == "completed"


def unique_queue() -> str:
    return f"psflow-test-{uuid.uuid4()}"
