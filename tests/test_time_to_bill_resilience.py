"""time-to-bill under ordinary trouble: an ERP outage at the draft, a CRM that stays down,
and a cancel at every step: before release the draft is voided, after it nothing is undone."""

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from config import Settings
from models.billing import InvoiceStatus
from models.status import CompensationOutcome, RunState, StepState
from models.time_to_bill import Outcome, TimeToBillResult
from sandbox.volume import Volume
from tests.billing_support import (
    Expected,
    awaiting_finance,
    pick_project,
    posted_entry_ids,
    seed_volume,
)
from tests.saga_support import (
    cancelled,
    dead_letters_of,
    status_of,
    when_running,
    worker_with_windows,
)
from tests.support import Sandbox, Systems
from tests.test_time_to_bill import TM, approve, release, start
from workflows.time_to_bill import (
    APPROVE,
    CRM_STATUS,
    DRAFT,
    POST_TIME,
    TimeToBill,
)

INVOICES = "*/record/v1/invoice*"
TIME_BILLS = "*/record/v1/timeBill/upsertList"
# The invoice status goes to the CRM as sObject Collections writes (connectors/crm_status_batch.py).
STATUS_WRITES = "*/composite/sobjects"
Handle = WorkflowHandle[TimeToBill, TimeToBillResult]
STARTED = PendingActivityState.PENDING_ACTIVITY_STATE_STARTED


def month_of(sandbox: Sandbox, period: str, seed: int) -> Expected:
    """A small volume seeded for the period, and its Time and Materials project's month."""
    volume = Volume(projects=3, entries=240, period=period, seed=seed)
    seed_volume(sandbox, volume)
    return pick_project(volume, billing_type=TM, with_invalid=False)


async def scheduled(handle: Handle, activity: str) -> list[tuple[int, timedelta]]:
    """(attempt it last started as, heartbeat timeout) of each call of the activity."""
    events = (await handle.fetch_history()).events
    calls = {
        e.event_id: e.activity_task_scheduled_event_attributes
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == activity
    }
    attempts = {
        e.activity_task_started_event_attributes.scheduled_event_id: (
            e.activity_task_started_event_attributes.attempt
        )
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    }
    return [(attempts.get(i, 0), c.heartbeat_timeout.ToTimedelta()) for i, c in calls.items()]


async def when_started(handle: Handle, step: str, activity: str) -> None:
    """Once `step` runs and a worker has started its `activity` (in flight, not queued)."""
    await when_running(handle, step)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while loop.time() < deadline:
        pending = (await handle.describe()).raw_description.pending_activities
        if any(a.activity_type.name == activity and a.state == STARTED for a in pending):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{activity} never started")


async def assert_a_rerun_bills_it_once(
    client: Client, worker: Settings, systems: Systems, month: Expected, period: str
) -> None:
    """No invoice of the cancelled run is left open, and a rerun invoices all its postings."""
    invoices = await systems.erp.invoices_for_project(month.project.erp_job_id)
    assert all(i.status is InvoiceStatus.VOIDED for i in invoices), invoices
    again = await release(worker, await start(client, worker, month.project.psa_id, period))
    assert again.outcome is Outcome.RELEASED
    assert again.invoice is not None and again.invoice.total == month.invoice_total
    posted = await posted_entry_ids(systems, month, period)
    assert posted == Counter(e.id for e in month.valid)


async def test_an_erp_outage_at_the_draft_is_waited_out(
    client: Client, worker: Settings, sandbox: Sandbox, systems: Systems
) -> None:
    month = month_of(sandbox, "2025-03", 41)
    # Down for longer than the five attempts the draft used to get before it gave up; the
    # ERP asks for a retry every second (Retry-After: 1), which is honoured.
    sandbox.fault("erp", path=INVOICES, status=503, down_for_seconds=8, retry_after=1)
    handle = await start(client, worker, month.project.psa_id, "2025-03")
    result = await release(worker, handle)

    assert result.outcome is Outcome.RELEASED
    assert result.invoice is not None and result.invoice.total == month.invoice_total
    ((attempt, _),) = await scheduled(handle, "erp.draft_invoice")
    assert attempt > 5
    status = await status_of(handle)
    assert status.compensations == [] and dead_letters_of(worker, handle.id) == []


async def test_a_psa_outage_while_posting_is_waited_out(
    client: Client, worker: Settings, sandbox: Sandbox, systems: Systems
) -> None:
    month = month_of(sandbox, "2025-02", 40)
    # The PSA's time entries fail five times (Retry-After: 1): more than a page used to get.
    entries = "/api/v1/time-entries*"
    sandbox.fault("psa", path=entries, method="GET", status=503, count=5, retry_after=1)
    handle = await start(client, worker, month.project.psa_id, "2025-02")
    result = await release(worker, handle)

    assert result.outcome is Outcome.RELEASED
    assert result.invoice is not None and result.invoice.total == month.invoice_total
    assert sandbox.armed_faults("psa") == []
    status = await status_of(handle)
    assert status.compensations == [] and dead_letters_of(worker, handle.id) == []


async def test_a_crm_down_past_its_window_fails_the_run_with_the_invoice_released(
    client: Client, settings: Settings, sandbox: Sandbox, systems: Systems
) -> None:
    month = month_of(sandbox, "2025-04", 42)
    sandbox.fault("crm", path=STATUS_WRITES, method="PATCH", status=503, down_for_seconds=60)
    async with worker_with_windows(client, settings, crm=timedelta(seconds=4)) as used:
        handle = await start(client, used, month.project.psa_id, "2025-04")
        await awaiting_finance(handle)
        await approve(used, handle)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        status = await status_of(handle)

    assert status.state == RunState.FAILED
    assert {s.name: s.state for s in status.steps}[CRM_STATUS] == StepState.FAILED
    assert status.error is not None and "is released" in status.error
    assert "CRM still failing after 4 s" in status.error
    assert status.compensations == []  # released is final: nothing to undo
    invoices = await systems.erp.invoices_for_project(month.project.erp_job_id)
    assert [i.status for i in invoices] == [InvoiceStatus.RELEASED]
    assert len(dead_letters_of(used, handle.id)) == 1


@pytest.mark.parametrize(
    ("step", "period", "slow"),
    [
        (POST_TIME, "2025-05", ("erp", TIME_BILLS, "POST", "billing.post_page")),
        (DRAFT, "2025-06", ("erp", INVOICES, "POST", "erp.draft_invoice")),
        (APPROVE, "2025-07", None),
        # The ERP approval is the approval step's last call, before anything is released.
        (APPROVE, "2025-08", ("erp", INVOICES, "PATCH", "erp.move_invoice")),
    ],
    ids=["posting", "drafting", "awaiting-finance", "approving-in-the-erp"],
)
async def test_a_cancel_before_release_voids_the_draft_and_frees_the_postings(
    client: Client,
    worker: Settings,
    sandbox: Sandbox,
    systems: Systems,
    step: str,
    period: str,
    slow: tuple[str, str, str, str] | None,
) -> None:
    month = month_of(sandbox, period, 43)
    if slow:
        # The step's first call takes 3 s, so the cancel arrives while it is in flight.
        system, path, method, _ = slow
        sandbox.fault(system, path=path, method=method, status=None, latency_ms=3000, count=1)
    handle = await start(client, worker, month.project.psa_id, period)
    if step == APPROVE:
        await awaiting_finance(handle)
    if step == APPROVE and slow:
        await approve(worker, handle)
    if slow:
        await when_started(handle, step, slow[3])

    status = await cancelled(handle)
    assert {s.name: s.state for s in status.steps}[step] == StepState.CANCELLED
    undone = [] if step == POST_TIME else [(DRAFT, CompensationOutcome.UNDONE)]
    assert [(c.step, c.outcome) for c in status.compensations] == undone
    assert dead_letters_of(worker, handle.id) == []
    if step == POST_TIME:  # a page heartbeats: a dead worker is noticed in seconds
        beats = [beat for _, beat in await scheduled(handle, "billing.post_page")]
        assert beats and all(timedelta(0) < b <= timedelta(seconds=10) for b in beats)
    await assert_a_rerun_bills_it_once(client, worker, systems, month, period)


async def test_a_cancel_after_release_undoes_nothing(
    client: Client, worker: Settings, sandbox: Sandbox, systems: Systems
) -> None:
    month = month_of(sandbox, "2025-01", 45)
    sandbox.fault("crm", path=STATUS_WRITES, method="PATCH", status=None, latency_ms=3000)
    handle = await start(client, worker, month.project.psa_id, "2025-01")
    await awaiting_finance(handle)
    await approve(worker, handle)
    await when_started(handle, CRM_STATUS, "crm.set_invoice_status")

    status = await cancelled(handle)
    assert {s.name: s.state for s in status.steps}[CRM_STATUS] == StepState.CANCELLED
    assert status.compensations == []
    invoices = await systems.erp.invoices_for_project(month.project.erp_job_id)
    assert [i.status for i in invoices] == [InvoiceStatus.RELEASED]
    assert dead_letters_of(worker, handle.id) == []
