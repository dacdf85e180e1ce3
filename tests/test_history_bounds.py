"""The history bounds the README states for workflows that can live for days or weeks: each
waits through its whole deadline and escalation on the time-skipping test server and stays
under its bound, and a month-end run stays under its limit plus one page of projects.
(The project-changes lock and change-order: tests/test_project_changes.py.)"""

import uuid
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from config import Settings
from models.billing import month_end_id, time_to_bill_id
from models.hire_to_staff import HireToStaffInput, hire_workflow_id
from models.identity import Identity
from models.opportunity_to_project import OpportunityToProjectInput, workflow_id
from models.people import Approval
from models.status import WaitKind, WorkflowStatus
from models.time_to_bill import MonthEndInput, Outcome, TimeToBillInput
from sandbox.hcm.seed import DEMO_WORKERS
from sandbox.volume import Volume
from security.issuer import LOCAL_ISSUER, issue_proof
from store.db import open_engine
from tests.billing_support import pick_project, seed_volume
from tests.saga_support import fresh_deals, fresh_prehire
from tests.support import Sandbox, Systems, running_worker
from tests.test_hire_to_staff import hcm_event, open_only_request
from tests.test_opportunity_to_project import status_when, waiting_for
from workflows.hire_to_staff import HireToStaff
from workflows.month_end import PROJECTS_PER_PAGE, MonthEnd
from workflows.opportunity_to_project import OpportunityToProject
from workflows.time_to_bill import TimeToBill

# Events in a run approved only after its deadline passed and the wait was escalated, as the
# README states them; each correction, amount change or refused signal adds a few more.
DEAL_WAIT = 150
HIRE_WAIT = 150
INVOICE_WAIT = 150
"""Time-to-bill after its last posting page; posting continues as new at the first page past
`[billing] history_limit` (tests/test_month_end.py), each page adding at most POSTING_PAGE."""
POSTING_PAGE = 10
MONTH_END_PROJECT = 12
"""Events a project's child adds to its month-end run."""


async def events_in(handle: WorkflowHandle) -> int:
    return len((await handle.fetch_history()).events)


async def proven_approval(
    env: WorkflowEnvironment, settings: Settings, handle: WorkflowHandle[Any, Any], user: str
) -> Approval:
    """`user`'s approval with a proof from `settings`' issuer, issued at the test server's
    time (ahead of the clock by the time it skipped), which is when the run checks it."""
    identity = Identity(user=user, subject=f"test-{user}", issuer=LOCAL_ISSUER)
    engine = open_engine(settings.resolved_store_url)
    try:
        now = await env.get_current_time(handle)
        proof = issue_proof(engine, identity, handle.id, "approve", now)
    finally:
        engine.dispose()
    return Approval(user=user, proof=proof)


async def approve_after_escalation(
    env: WorkflowEnvironment,
    settings: Settings,
    handle: WorkflowHandle,
    deadline: timedelta,
    user: str,
) -> None:
    """Approve only once the deadline has passed and the wait was escalated: the longest
    wait that still goes on to do everything after it (`settings`: the worker's)."""
    await status_when(handle, waiting_for(WaitKind.APPROVAL))
    await env.sleep(deadline + timedelta(hours=1))
    await handle.execute_update("approve", await proven_approval(env, settings, handle, user))


def escalations(status: WorkflowStatus) -> int:
    return [e.kind for e in status.events].count("escalated")


async def test_a_deal_approved_after_escalation_stays_under_its_bound(
    skipping_env: WorkflowEnvironment, settings: Settings, sandbox: Sandbox
) -> None:
    client = skipping_env.client
    (deal,) = fresh_deals(sandbox, 1, like="large_usd")
    async with running_worker(client, settings, f"psflow-test-{uuid.uuid4()}") as used:
        handle = await client.start_workflow(
            OpportunityToProject.run,
            OpportunityToProjectInput(opportunity_id=deal),
            id=workflow_id(deal),
            task_queue=used.temporal.task_queue,
        )
        await approve_after_escalation(
            skipping_env, used, handle, settings.policy.approval.deadline, "dana"
        )
        result = await handle.result()
        status = await handle.query(OpportunityToProject.status)
        events = await events_in(handle)
    assert result.outcome == "completed" and escalations(status) == 1
    assert events < DEAL_WAIT, events


async def test_a_hire_approved_after_escalation_stays_under_its_bound(
    skipping_env: WorkflowEnvironment, settings: Settings, sandbox: Sandbox, systems: Systems
) -> None:
    client = skipping_env.client
    async with running_worker(client, settings, f"psflow-test-{uuid.uuid4()}") as used:
        (spare,) = fresh_deals(sandbox, 1)
        deal = await client.execute_workflow(
            OpportunityToProject.run,
            OpportunityToProjectInput(opportunity_id=spare),
            id=workflow_id(spare),
            task_queue=used.temporal.task_queue,
        )
        worker_id = fresh_prehire(sandbox, DEMO_WORKERS["prehire_consultant_us"])
        hcm_event(sandbox, "hire", worker_id)
        person = await systems.hcm.get_worker(worker_id)
        await open_only_request(systems, deal.psa_project_id, person.role)
        handle = await client.start_workflow(
            HireToStaff.run,
            HireToStaffInput(worker_id=worker_id),
            id=hire_workflow_id(worker_id),
            task_queue=used.temporal.task_queue,
        )
        await approve_after_escalation(
            skipping_env, used, handle, settings.staffing.approval.deadline, "rita"
        )
        result = await handle.result()
        status = await handle.query(HireToStaff.status)
        events = await events_in(handle)
    assert result.outcome == "assigned" and escalations(status) == 1
    assert events < HIRE_WAIT, events


async def test_an_invoice_released_after_escalation_stays_under_its_bound(
    skipping_env: WorkflowEnvironment, settings: Settings, sandbox: Sandbox
) -> None:
    volume = Volume(projects=3, entries=300, period="2026-06", seed=44)
    seed_volume(sandbox, volume)
    month = pick_project(volume, billing_type="Time and Materials", with_invalid=False)
    small = settings.model_copy(deep=True)
    small.billing.page_size = 25  # several pages, so posting is not the whole story
    client = skipping_env.client
    async with running_worker(client, small, f"psflow-test-{uuid.uuid4()}") as used:
        handle = await client.start_workflow(
            TimeToBill.run,
            TimeToBillInput(project_id=month.project.psa_id, period=volume.period),
            id=time_to_bill_id(month.project.psa_id, volume.period),
            task_queue=used.temporal.task_queue,
        )
        await approve_after_escalation(
            skipping_env, used, handle, settings.billing.approval.deadline, "fatima"
        )
        result = await handle.result()
        status = await handle.query(TimeToBill.status)
        events = (await handle.fetch_history()).events
    pages = [
        i
        for i, e in enumerate(events)
        if e.activity_task_scheduled_event_attributes.activity_type.name == "billing.post_page"
    ]
    after_posting = len(events) - pages[-1]
    per_page = (pages[-1] - pages[0]) / (len(pages) - 1)
    assert result.outcome is Outcome.RELEASED and escalations(status) == 1 and len(pages) > 3
    assert after_posting < INVOICE_WAIT, after_posting
    assert per_page <= POSTING_PAGE, per_page


async def test_a_month_end_run_stays_under_its_limit_and_a_page_of_projects(
    client: Client, settings: Settings, sandbox: Sandbox
) -> None:
    volume = Volume(projects=PROJECTS_PER_PAGE + 20, entries=2_400, period="2025-11", seed=45)
    seed_volume(sandbox, volume)
    small = settings.model_copy(deep=True)
    small.billing.history_limit = 50  # past it after the first page of projects
    async with running_worker(client, small, f"psflow-test-{uuid.uuid4()}") as used:
        handle = await client.start_workflow(
            MonthEnd.run,
            MonthEndInput(period=volume.period),
            id=month_end_id(volume.period),
            task_queue=used.temporal.task_queue,
        )
        totals = await handle.result()
        first = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
        last = client.get_workflow_handle(handle.id)
        runs = [await events_in(first), await events_in(last)]
    assert totals.projects > PROJECTS_PER_PAGE and totals.failed == []
    assert (await last.describe()).run_id != handle.first_execution_run_id
    assert max(runs) < small.billing.history_limit + PROJECTS_PER_PAGE * MONTH_END_PROJECT, runs
