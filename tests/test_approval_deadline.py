"""Approval deadlines on the time-skipping test server: escalate once, then reject."""

import uuid
from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from config import Settings
from models.billing import InvoiceStatus, time_to_bill_id
from models.change_order import change_order_workflow_id
from models.change_state import ChangeOrderInput
from models.opportunity_to_project import OpportunityToProjectInput, workflow_id
from models.status import RunState
from models.time_to_bill import Outcome, TimeToBillInput
from sandbox.crm.seed import DEMO_OPPORTUNITIES
from sandbox.volume import Volume
from tests.billing_support import pick_project, seed_volume
from tests.histories.record import CHANGE_VOLUME
from tests.support import Sandbox, Systems, running_worker
from tests.test_change_order import before
from tests.test_change_order import order as change_order
from tests.test_opportunity_to_project import assert_nothing_left
from workflows.change_order import ChangeOrderWorkflow
from workflows.opportunity_to_project import OpportunityToProject
from workflows.time_to_bill import TimeToBill


async def test_unanswered_approval_escalates_once_then_rejects_leaving_nothing(
    skipping_env: WorkflowEnvironment, settings: Settings, systems: Systems
) -> None:
    opportunity_id = DEMO_OPPORTUNITIES["large_cad"]
    client = skipping_env.client
    async with running_worker(client, settings, f"psflow-test-{uuid.uuid4()}") as used:
        handle = await client.start_workflow(
            OpportunityToProject.run,
            OpportunityToProjectInput(opportunity_id=opportunity_id),
            id=workflow_id(opportunity_id),
            task_queue=used.temporal.task_queue,
        )
        result = await handle.result()
        status = await handle.query(OpportunityToProject.status)

    policy = settings.policy.approval
    assert result.outcome == "rejected"
    assert "no approval within" in (result.reason or "")
    assert status.state == RunState.REJECTED
    escalated, rejected = status.events
    assert escalated.kind == "escalated" and policy.escalate_to in escalated.detail
    assert rejected.kind == "rejected" and rejected.user == "psflow"
    waited = rejected.at - escalated.at
    assert policy.escalation_grace <= waited < policy.escalation_grace + timedelta(minutes=1)
    await assert_nothing_left(systems, opportunity_id, handle.id)


async def test_an_invoice_nobody_releases_escalates_to_the_finance_lead_then_is_voided(
    skipping_env: WorkflowEnvironment, settings: Settings, systems: Systems, sandbox: Sandbox
) -> None:
    volume = Volume(projects=6, entries=600, period="2026-02", seed=41)
    seed_volume(sandbox, volume)
    month = pick_project(volume, billing_type="Time and Materials", with_invalid=False)
    client = skipping_env.client
    async with running_worker(client, settings, f"psflow-test-{uuid.uuid4()}") as used:
        result = await client.execute_workflow(
            TimeToBill.run,
            TimeToBillInput(project_id=month.project.psa_id, period=volume.period),
            id=time_to_bill_id(month.project.psa_id, volume.period),
            task_queue=used.temporal.task_queue,
        )
        handle = client.get_workflow_handle_for(
            TimeToBill.run, time_to_bill_id(month.project.psa_id, volume.period)
        )
        status = await handle.query(TimeToBill.status)

    policy = settings.billing.approval
    assert result.outcome is Outcome.REJECTED and "no approval within" in (result.reason or "")
    escalated, rejected = status.events
    assert escalated.kind == "escalated" and "greta" in escalated.detail
    assert rejected.user == "psflow"
    assert policy.escalation_grace <= rejected.at - escalated.at
    assert result.invoice is not None
    invoice = await systems.erp.get_invoice(result.invoice.external_id)
    assert invoice is not None and invoice.status is InvoiceStatus.VOIDED


async def test_a_change_order_nobody_approves_escalates_then_is_rejected_changing_nothing(
    skipping_env: WorkflowEnvironment, settings: Settings, systems: Systems, sandbox: Sandbox
) -> None:
    seed_volume(sandbox, CHANGE_VOLUME)
    was = await before(systems)
    client = skipping_env.client
    co = change_order(70, "50000")
    async with running_worker(client, settings, f"psflow-test-{uuid.uuid4()}") as used:
        result = await client.execute_workflow(
            ChangeOrderWorkflow.run,
            ChangeOrderInput(change_order=co),
            id=change_order_workflow_id(co.id),
            task_queue=used.temporal.task_queue,
        )
        workflow_id = change_order_workflow_id(co.id)
        handle = client.get_workflow_handle_for(ChangeOrderWorkflow.run, workflow_id)
        status = await handle.query(ChangeOrderWorkflow.status)

    first_level = settings.change_orders.levels[0]
    assert result.outcome == "rejected" and "no approval within" in (result.reason or "")
    escalated, rejected = status.events
    assert escalated.kind == "escalated" and first_level.escalate_to in escalated.detail
    assert rejected.user == "psflow"
    assert await before(systems) == was
