"""opportunity-to-project under ordinary trouble: outages waited out, cancels at every step."""

import asyncio
from datetime import timedelta

import pytest
from temporalio.client import Client, WorkflowFailureError

from config import Settings
from connectors.errors import error_type
from models.opportunity_to_project import OpportunityToProjectResult, project_external_id
from models.status import CompensationOutcome, RunState, StepState
from tests.saga_support import (
    assert_undone_after_cancel,
    cancelled,
    dead_letters_of,
    fresh_deals,
    status_of,
    when_running,
    worker_with_windows,
)
from tests.support import Sandbox, Systems
from tests.test_opportunity_to_project import assert_nothing_left, start

ERP_JOB = "*/record/v1/job/*"
CRM_OPPORTUNITY = "*/sobjects/Opportunity/*"
PSA_PROJECTS = "/api/v1/projects"


async def assert_provisioned(systems: Systems, result: OpportunityToProjectResult) -> None:
    eid = project_external_id(result.opportunity_id)
    assert [p.id for p in await systems.psa.list_projects(external_id=eid)] == [
        result.psa_project_id
    ]
    job = await systems.erp.get_project(eid)
    assert job is not None and job.id == result.erp_project_id
    deal = await systems.crm.get_opportunity(result.opportunity_id)
    assert (deal.erp_project_id, deal.psa_project_id) == (job.id, result.psa_project_id)


async def test_outages_longer_than_five_attempts_are_waited_out_without_compensating(
    client: Client, worker: Settings, systems: Systems, sandbox: Sandbox
) -> None:
    erp_deal, crm_deal, psa_deal = fresh_deals(sandbox, 3)
    # Each longer than the five attempts (about 15 s) a step used to get before it gave up.
    sandbox.fault("psa", path=PSA_PROJECTS, method="POST", status=503, down_for_seconds=20)
    # The ERP and the CRM say when to come back (Retry-After: 1), which is honoured.
    job = f"*/job/eid:{project_external_id(erp_deal)}"
    sandbox.fault("erp", path=job, status=503, count=5, retry_after=1)
    deal = f"*/Opportunity/{crm_deal}"
    sandbox.fault("crm", path=deal, method="PATCH", status=502, count=5, retry_after=1)
    handles = [await start(client, worker, deal) for deal in (erp_deal, crm_deal, psa_deal)]

    for handle in handles:
        result = await handle.result()
        assert result.outcome == "completed"
        await assert_provisioned(systems, result)
        status = await status_of(handle)
        assert status.compensations == [] and dead_letters_of(worker, handle.id) == []
    assert sandbox.armed_faults("erp") == [] and sandbox.armed_faults("crm") == []


async def test_an_outage_longer_than_the_window_compensates_naming_the_system(
    client: Client, settings: Settings, systems: Systems, sandbox: Sandbox
) -> None:
    (deal,) = fresh_deals(sandbox, 1)
    path = f"*/job/eid:{project_external_id(deal)}"
    sandbox.fault("erp", path=path, method="PUT", status=503, down_for_seconds=60)
    async with worker_with_windows(client, settings, erp=timedelta(seconds=4)) as used:
        handle = await start(client, used, deal)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        status = await status_of(handle)

    assert status.state == RunState.FAILED
    assert status.error is not None and status.error.startswith("ERP still failing after 4 s")
    assert "503" in status.error
    undone = [c.step for c in status.compensations]
    assert undone == ["create ERP project", "upsert ERP customer"]
    sandbox.clear_faults()
    await assert_nothing_left(systems, deal, handle.id)
    assert len(dead_letters_of(used, handle.id)) == 1


async def test_a_permanent_refusal_compensates_at_once(
    client: Client, worker: Settings, systems: Systems, sandbox: Sandbox
) -> None:
    (deal,) = fresh_deals(sandbox, 1)
    sandbox.fault("psa", path=PSA_PROJECTS, method="POST", status=422, count=1)
    handle = await start(client, worker, deal)
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert error_type(failed.value) == "SagaFailed"
    status = await status_of(handle)
    assert {s.name: s.state for s in status.steps}["create PSA project"] == StepState.FAILED
    assert all(c.outcome != CompensationOutcome.FAILED for c in status.compensations)
    await assert_nothing_left(systems, deal, handle.id)


@pytest.mark.parametrize(
    ("step", "system", "path", "method"),
    [
        ("upsert ERP customer", "erp", "*/record/v1/customer/*", "GET"),
        ("create ERP project", "erp", ERP_JOB, "PUT"),
        ("create PSA project", "psa", PSA_PROJECTS, "POST"),
        ("open staffing requests", "psa", "/api/v1/projects/*/staffing-requests", "POST"),
        ("publish baseline forecast", "psa", "/api/v1/projects/*/forecast-revisions", "POST"),
        ("write ids back to CRM", "crm", CRM_OPPORTUNITY, "PATCH"),
    ],
)
async def test_a_cancel_while_a_step_is_in_flight_leaves_every_system_as_before(
    client: Client,
    worker: Settings,
    systems: Systems,
    sandbox: Sandbox,
    step: str,
    system: str,
    path: str,
    method: str,
) -> None:
    (deal,) = fresh_deals(sandbox, 1)
    # The step's call takes 3 s, so the cancel arrives while it is in flight.
    sandbox.fault(system, path=path, method=method, status=None, latency_ms=3000, count=1)
    handle = await start(client, worker, deal)
    await when_running(handle, step)
    await handle.query("status")

    status = await cancelled(handle)
    assert_undone_after_cancel(status, step, worker, handle.id)
    await assert_nothing_left(systems, deal, handle.id)


async def test_a_cancel_while_an_attempt_is_failing_still_ends_cancelled(
    client: Client, worker: Settings, systems: Systems, sandbox: Sandbox
) -> None:
    (deal,) = fresh_deals(sandbox, 1)
    # Every ERP job call fails after 3 s: the cancel meets an attempt that then fails.
    path = f"*/job/eid:{project_external_id(deal)}"
    sandbox.fault("erp", path=path, method="PUT", status=503, latency_ms=3000, count=1)
    handle = await start(client, worker, deal)
    await when_running(handle, "create ERP project")

    status = await cancelled(handle)
    assert {s.name: s.state for s in status.steps}["create ERP project"] == StepState.CANCELLED
    assert dead_letters_of(worker, handle.id) == []
    await assert_nothing_left(systems, deal, handle.id)


async def test_a_cancel_during_a_read_stops_before_the_next_step_writes(
    client: Client, worker: Settings, sandbox: Sandbox
) -> None:
    (deal,) = fresh_deals(sandbox, 1)
    sandbox.fault("psa", path="/api/v1/rate-cards/*", status=None, latency_ms=3000, count=1)
    handle = await start(client, worker, deal)
    await when_running(handle, "validate deal")

    status = await cancelled(handle)
    states = {s.name: s.state for s in status.steps}
    assert states["upsert ERP customer"] == StepState.PENDING
    assert status.compensations == []


async def test_a_long_call_heartbeats_so_a_dead_worker_would_be_noticed_in_seconds(
    client: Client, worker: Settings, sandbox: Sandbox
) -> None:
    (deal,) = fresh_deals(sandbox, 1)
    path = f"*/job/eid:{project_external_id(deal)}"
    sandbox.fault("erp", path=path, method="PUT", status=None, latency_ms=6000, count=1)
    handle = await start(client, worker, deal)
    await when_running(handle, "create ERP project")
    await asyncio.sleep(4.5)  # past the first beat, a third of the 10-s heartbeat timeout

    pending = (await handle.describe()).raw_description.pending_activities
    assert [p.activity_type.name for p in pending] == ["erp.upsert_project"]
    assert pending[0].HasField("last_heartbeat_time")
    assert (await handle.result()).outcome == "completed"
