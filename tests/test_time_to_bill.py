"""time-to-bill end to end: PSA volume posted to the ERP, invoiced, released, status in CRM."""

import asyncio
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from typer.testing import CliRunner, Result

from activities.invoicing import InvoicingActivities
from cli.main import app
from config import Settings
from models.billing import ExceptionState, InvoiceStatus, time_to_bill_id
from models.people import Approval, Rejection
from models.status import CompensationOutcome, RunState
from models.time_to_bill import Outcome, TimeToBillInput, TimeToBillResult
from models.undo import UndoReport
from sandbox.rates import rate_for
from sandbox.volume import Volume
from store.db import open_engine
from store.exceptions import list_exceptions
from tests.billing_support import (
    Expected,
    awaiting_finance,
    pick_project,
    posted_entry_ids,
    seed_volume,
)
from tests.support import Sandbox, Systems, env_for, proven
from workflows.time_to_bill import TimeToBill

TM = "Time and Materials"
runner = CliRunner()


async def cli(env: dict[str, str], *args: str) -> Result:
    """The psflow CLI in a thread (it runs its own event loop), as a user would run it."""
    return await asyncio.to_thread(runner.invoke, app, list(args), env=env)


async def start(
    client: Client, settings: Settings, project_id: str, period: str
) -> WorkflowHandle[TimeToBill, TimeToBillResult]:
    return await client.start_workflow(
        TimeToBill.run,
        TimeToBillInput(project_id=project_id, period=period),
        id=time_to_bill_id(project_id, period),
        task_queue=settings.temporal.task_queue,
    )


async def approve(
    settings: Settings,
    handle: WorkflowHandle[TimeToBill, TimeToBillResult],
    approver: str = "fatima",
) -> None:
    """Approve the waiting invoice as `approver`, proven by `settings`' (the worker's) issuer."""
    approval = proven(settings, handle.id, "approve", Approval(user=approver))
    await handle.execute_update(TimeToBill.approve, approval)


async def release(
    settings: Settings,
    handle: WorkflowHandle[TimeToBill, TimeToBillResult],
    approver: str = "fatima",
) -> TimeToBillResult:
    await awaiting_finance(handle)
    await approve(settings, handle, approver)
    return await handle.result()


async def test_a_projects_month_is_posted_priced_invoiced_and_released(
    client: Client, worker: Settings, sandbox: Sandbox, systems: Systems
) -> None:
    volume = Volume(projects=6, entries=900, period="2026-10", seed=21)
    seed_volume(sandbox, volume)
    month = pick_project(volume, billing_type=TM, with_invalid=True)

    handle = await start(client, worker, month.project.psa_id, volume.period)
    result = await release(worker, handle)

    assert result.outcome is Outcome.RELEASED
    posted = await posted_entry_ids(systems, month, volume.period)
    assert posted == Counter(e.id for e in month.valid)
    invoice = await systems.erp.get_invoice(result.invoice.external_id)
    assert invoice is not None and invoice.status is InvoiceStatus.RELEASED
    assert invoice.total == month.invoice_total
    assert invoice.time_count == sum(1 for e in month.valid if e.billable)
    # Released is final: the draft's undo (a cancel during the release) keeps it, saying why.
    kept = await InvoicingActivities(systems.erp, systems.crm).void_invoice(invoice.external_id)
    assert isinstance(kept, UndoReport) and kept.outcome is CompensationOutcome.KEPT
    assert (await systems.erp.get_invoice(invoice.external_id)) == invoice

    engine = open_engine(worker.resolved_store_url)
    exceptions = list_exceptions(engine, project_id=month.project.psa_id, period=volume.period)
    assert {e.entry_id: e.reason for e in exceptions} == month.invalid
    assert all(e.state is ExceptionState.OPEN for e in exceptions)

    in_crm = await systems.crm.invoice_status(month.project.opportunity_id)
    assert in_crm is not None
    assert (in_crm.status, in_crm.invoice_number, in_crm.total, in_crm.period) == (
        InvoiceStatus.RELEASED,
        invoice.number,
        invoice.total,
        volume.period,
    )

    # A rerun of the period posts nothing twice and drafts no second invoice.
    rerun = await (await start(client, worker, month.project.psa_id, volume.period)).result()
    assert rerun.outcome is Outcome.NOTHING_TO_INVOICE
    assert rerun.time.created == 0 and rerun.time.unchanged == len(month.valid)
    assert await posted_entry_ids(systems, month, volume.period) == posted
    invoices = await systems.erp.invoices_for_project(month.project.erp_job_id)
    assert [i.external_id for i in invoices] == [invoice.external_id]


async def test_a_finance_approver_who_approved_time_on_the_invoice_is_refused(
    client: Client, worker: Settings, sandbox: Sandbox, systems: Systems
) -> None:
    volume = Volume(projects=6, entries=900, period="2026-09", seed=22)
    seed_volume(sandbox, volume)
    month = pick_project(volume, billing_type=TM, with_invalid=False)
    # finn (finance) approves one billable entry of the project in the PSA.
    entry = next(e for e in month.valid if e.billable)
    await systems.psa.update_time_entry(entry.id, {"notes": "corrected by finance"})
    await systems.psa.approve_time_entry(entry.id, "finn")

    handle = await start(client, worker, month.project.psa_id, volume.period)
    await awaiting_finance(handle)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        finn = proven(worker, handle.id, "approve", Approval(user="finn"))
        await handle.execute_update(TimeToBill.approve, finn)
    assert "segregation of duties" in str(refused.value.cause)
    with pytest.raises(WorkflowUpdateFailedError) as not_finance:
        paula = proven(worker, handle.id, "approve", Approval(user="paula"))
        await handle.execute_update(TimeToBill.approve, paula)
    assert "finance" in str(not_finance.value.cause)
    assert (await handle.query(TimeToBill.status)).state is RunState.WAITING

    result = await release(worker, handle, "fatima")
    assert result.outcome is Outcome.RELEASED


async def test_a_rejected_invoice_is_voided_and_a_rerun_invoices_the_same_time(
    client: Client, worker: Settings, sandbox: Sandbox, systems: Systems
) -> None:
    volume = Volume(projects=6, entries=900, period="2026-08", seed=23)
    seed_volume(sandbox, volume)
    month = pick_project(volume, billing_type=TM, with_invalid=False)

    handle = await start(client, worker, month.project.psa_id, volume.period)
    await awaiting_finance(handle)
    rejection = Rejection(user="fatima", reason="wrong PO")
    await handle.execute_update(TimeToBill.reject, proven(worker, handle.id, "reject", rejection))
    rejected = await handle.result()
    assert rejected.outcome is Outcome.REJECTED
    voided = await systems.erp.get_invoice(rejected.invoice.external_id)
    assert voided is not None and voided.status is InvoiceStatus.VOIDED

    again = await release(worker, await start(client, worker, month.project.psa_id, volume.period))
    assert again.outcome is Outcome.RELEASED
    assert again.invoice.total == month.invoice_total
    assert await posted_entry_ids(systems, month, volume.period) == Counter(
        e.id for e in month.valid
    )


async def approved_into_a_refusal(
    client: Client, worker: Settings, sandbox: Sandbox, volume: Volume, system: str, path: str
) -> tuple[Expected, WorkflowHandle[TimeToBill, TimeToBillResult], str]:
    """A project's run of `volume` approved by finance while `system` refuses the PATCH at
    `path` once (400): the project, the failed run and why it failed."""
    seed_volume(sandbox, volume)
    month = pick_project(volume, billing_type=TM, with_invalid=False)
    handle = await start(client, worker, month.project.psa_id, volume.period)
    await awaiting_finance(handle)
    sandbox.fault(system, path=path, method="PATCH", status=400, count=1)
    await approve(worker, handle)
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    return month, handle, str(failed.value.cause)


async def test_a_failed_release_voids_the_draft_so_a_rerun_invoices_the_postings(
    client: Client, worker: Settings, sandbox: Sandbox, systems: Systems
) -> None:
    volume = Volume(projects=6, entries=900, period="2026-07", seed=24)
    month, handle, cause = await approved_into_a_refusal(
        client, worker, sandbox, volume, "erp", "*/record/v1/invoice/*"
    )
    assert "invoice" in cause
    status = await handle.query(TimeToBill.status)
    assert status.state is RunState.FAILED
    drafted = await systems.erp.invoices_for_project(month.project.erp_job_id)
    assert [i.status for i in drafted] == [InvoiceStatus.VOIDED]

    sandbox.clear_faults()
    again = await release(worker, await start(client, worker, month.project.psa_id, volume.period))
    assert again.invoice.total == month.invoice_total


async def test_a_status_the_crm_refuses_fails_the_released_run_naming_reconciliation(
    client: Client, worker: Settings, sandbox: Sandbox, systems: Systems
) -> None:
    volume = Volume(projects=6, entries=900, period="2024-11", seed=27)
    month, _, cause = await approved_into_a_refusal(
        client, worker, sandbox, volume, "crm", "*/composite/sobjects"
    )
    assert "is released, but its status did not reach the CRM" in cause
    assert "reconciliation lists it as invoice_status drift" in cause
    invoices = await systems.erp.invoices_for_project(month.project.erp_job_id)
    assert [i.status for i in invoices] == [InvoiceStatus.RELEASED]


async def test_an_exception_fixed_in_the_psa_and_resubmitted_lands_on_the_next_invoice(
    client: Client, worker: Settings, sandbox: Sandbox, systems: Systems, config_file: Path
) -> None:
    volume = Volume(projects=6, entries=900, period="2026-06", seed=25)
    seed_volume(sandbox, volume)
    month = pick_project(
        volume, billing_type=TM, with_invalid=True, billable_invalid="no rate for role"
    )
    first = await release(worker, await start(client, worker, month.project.psa_id, volume.period))

    engine = open_engine(worker.resolved_store_url)
    unrated = [
        e
        for e in list_exceptions(engine, project_id=month.project.psa_id, period=volume.period)
        if e.reason == "no rate for role"
    ]
    entries = [await systems.psa.get_time_entry(e.entry_id) for e in unrated]
    billable = next(e for e in entries if e is not None and e.billable)
    unrated = [e for e in unrated if e.entry_id == billable.id]
    await systems.psa.update_time_entry(billable.id, {"role": "Consultant"})
    fixed = await systems.psa.approve_time_entry(billable.id, month.project.approver)

    env = env_for(config_file, PSFLOW_TASK_QUEUE=worker.temporal.task_queue)
    listed = await cli(env, "exceptions", "list", "--project", month.project.psa_id, "--json")
    assert billable.id in {e["entry_id"] for e in json.loads(listed.stdout)}
    done = await cli(env, "exceptions", "resubmit", str(unrated[0].id), "--as", "fatima")
    assert done.exit_code == 0, done.output
    handle = client.get_workflow_handle_for(
        TimeToBill.run, time_to_bill_id(month.project.psa_id, volume.period)
    )
    second = await release(worker, handle, "greta")

    assert second.invoice.number != first.invoice.number
    invoice = await systems.erp.get_invoice(second.invoice.external_id)
    rate = rate_for(month.project.rate_card, "Consultant", fixed.date)
    assert invoice is not None and rate is not None
    assert invoice.time_count == 1
    assert invoice.total == (fixed.hours * rate).quantize(Decimal("0.01"))
    resolved = list_exceptions(engine, state=ExceptionState.RESOLVED)
    assert billable.id in {e.entry_id for e in resolved}
