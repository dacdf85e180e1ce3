"""month-end over thousands of entries, a 429 storm and an ERP outage, and long periods."""

import uuid
from collections import Counter

from temporalio.client import Client, WorkflowHandle

from config import Settings
from models.billing import InvoiceStatus, month_end_id, time_to_bill_id
from models.people import Approval
from models.time_to_bill import MonthEndInput, Outcome, TimeToBillInput, TimeToBillResult
from sandbox.volume import Volume, volume_entries, volume_projects
from tests.billing_support import awaiting_finance, expected, posted_entry_ids, seed_volume
from tests.saga_support import cancelled
from tests.support import Sandbox, Systems, proven, running_worker
from tests.test_opportunity_to_project import status_when
from workflows.month_end import MonthEnd
from workflows.time_to_bill import TimeToBill


async def history_length(handle: WorkflowHandle) -> int:
    """Events in the run the handle points at."""
    return len((await handle.fetch_history()).events)


async def test_month_end_posts_every_valid_entry_once_and_drafts_one_invoice_per_project(
    client: Client, worker: Settings, sandbox: Sandbox, systems: Systems
) -> None:
    volume = Volume(projects=24, entries=2_400, period="2026-05", seed=31)
    seed_volume(sandbox, volume)
    # A storm of 429s on the bulk posting path while the projects post.
    sandbox.fault("erp", path="*/upsertList", status=429, count=25, retry_after=1)
    result = await client.execute_workflow(
        MonthEnd.run,
        MonthEndInput(period=volume.period),
        id=month_end_id(volume.period),
        task_queue=worker.temporal.task_queue,
    )
    assert sandbox.armed_faults("erp") == [], "every injected 429 was answered"
    handle = client.get_workflow_handle(month_end_id(volume.period))
    assert await history_length(handle) < 10_000
    billed = {p.psa_id for p in volume_projects(volume)}
    assert result.projects == len(billed)
    assert result.failed == []
    assert result.drafted + result.nothing_to_invoice == len(billed)
    valid = [e for e in volume_entries(volume) if e.status == "approved" and e.invalid is None]
    assert result.posted == len(valid)

    posted: Counter[str] = Counter()
    for project in volume_projects(volume):
        bills = await systems.erp.time_bills_for_project(project.erp_job_id, volume.period)
        source = time_to_bill_id(project.psa_id, volume.period)
        posted.update(b.entry_id for b in bills if b.source == source)
    assert posted == Counter(e.id for e in valid)

    # Each child waits for finance; release one and check its invoice.
    month = expected(volume, 1)
    child = client.get_workflow_handle_for(
        TimeToBill.run, time_to_bill_id(month.project.psa_id, volume.period)
    )
    approval = proven(worker, child.id, "approve", Approval(user="fatima"))
    await child.execute_update(TimeToBill.approve, approval)
    released = await child.result()
    assert released.outcome is Outcome.RELEASED
    assert released.invoice.total == month.invoice_total


async def test_an_erp_outage_during_posting_is_waited_out(
    client: Client, worker: Settings, sandbox: Sandbox, systems: Systems
) -> None:
    volume = Volume(projects=3, entries=600, period="2026-04", seed=32)
    seed_volume(sandbox, volume)
    month = expected(volume, 1)
    sandbox.fault("erp", path="*/upsertList", status=503, down_for_seconds=25)
    handle = await client.start_workflow(
        TimeToBill.run,
        TimeToBillInput(project_id=month.project.psa_id, period=volume.period),
        id=time_to_bill_id(month.project.psa_id, volume.period),
        task_queue=worker.temporal.task_queue,
    )
    await awaiting_finance(handle, within=240)
    assert await posted_entry_ids(systems, month, volume.period) == Counter(
        e.id for e in month.valid
    )
    await handle.cancel()


async def test_a_long_period_continues_as_new_and_still_posts_everything_once(
    client: Client, settings: Settings, sandbox: Sandbox, systems: Systems
) -> None:
    volume = Volume(projects=2, entries=1_200, period="2026-03", seed=33)
    seed_volume(sandbox, volume)
    month = expected(volume, 1)
    small = settings.model_copy(deep=True)
    small.billing.page_size = 25
    small.billing.history_limit = 60
    async with running_worker(client, small, f"psflow-test-{uuid.uuid4()}") as used:
        handle = await client.start_workflow(
            TimeToBill.run,
            TimeToBillInput(project_id=month.project.psa_id, period=volume.period),
            id=time_to_bill_id(month.project.psa_id, volume.period),
            task_queue=used.temporal.task_queue,
        )
        await awaiting_finance(handle, within=120)
        description = await handle.describe()
        assert description.run_id != handle.first_execution_run_id
        assert await history_length(client.get_workflow_handle(handle.id)) < 100
        approval = proven(used, handle.id, "approve", Approval(user="fatima"))
        await handle.execute_update(TimeToBill.approve, approval)
        result = await handle.result()
    assert result.time.created == len(month.valid)
    assert result.invoice.total == month.invoice_total
    assert await posted_entry_ids(systems, month, volume.period) == Counter(
        e.id for e in month.valid
    )


async def test_a_cancelled_child_counts_as_cancelled_neither_failed_nor_drafted(
    client: Client, worker: Settings, sandbox: Sandbox, systems: Systems
) -> None:
    volume = Volume(projects=3, entries=240, period="2025-10", seed=48)
    seed_volume(sandbox, volume)
    held, withdrawn, drafted = volume_projects(volume)
    # The first project's run keeps retrying its read while the others draft.
    path = f"/api/v1/projects/{held.psa_id}/billing"
    sandbox.fault("psa", path=path, status=503, down_for_seconds=120)
    month_end = await client.start_workflow(
        MonthEnd.run,
        MonthEndInput(period=volume.period),
        id=month_end_id(volume.period),
        task_queue=worker.temporal.task_queue,
    )
    watched = client.get_workflow_handle(month_end.id)
    await status_when(watched, lambda s: "2 drafted" in (s.steps[0].detail or ""), 60)

    def child(psa_id: str) -> WorkflowHandle[TimeToBill, TimeToBillResult]:
        return client.get_workflow_handle_for(
            TimeToBill.run, time_to_bill_id(psa_id, volume.period)
        )

    await cancelled(child(withdrawn.psa_id))  # drafted: its draft is voided
    status = await status_when(watched, lambda s: "cancelled" in (s.steps[0].detail or ""))
    assert "1 drafted" in (status.steps[0].detail or ""), status.steps[0].detail
    await cancelled(child(held.psa_id))  # before its draft
    totals = await month_end.result()

    assert (totals.projects, totals.drafted, totals.failed) == (3, 1, [])
    assert totals.cancelled == [withdrawn.psa_id, held.psa_id] and totals.cancelled_count == 2
    assert set(totals.invoiced) == {drafted.currency}
    voided = await systems.erp.invoices_for_project(withdrawn.erp_job_id)
    assert [i.status for i in voided] == [InvoiceStatus.VOIDED]
    assert await systems.erp.invoices_for_project(held.erp_job_id) == []
