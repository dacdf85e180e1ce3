"""Reconciliation: each kind of drift seeded into a sandbox of its own is found, the kinds
policy allows are repaired (and only those), a repair running is not started twice, and
`psflow schedules apply` is idempotent."""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import (
    Client,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    WorkflowExecutionStatus,
    WorkflowFailureError,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner, Result

from activities.reconcile import NO_REPAIR, NOT_ALLOWED
from activities.reconcile_rules import invoice_drift, periods_back, unposted_time
from application.repairs import latest_run
from cli.main import app
from cli.reconcile import DRIFT_FOUND
from cli.schedules import wanted_schedule
from config import Settings, load_settings
from models.billing import (
    ApprovalState,
    BillingMilestone,
    Invoice,
    InvoiceDraftInput,
    InvoiceStatus,
    InvoiceStatusUpdate,
    TimeEntry,
    time_to_bill_id,
)
from models.opportunity_to_project import OpportunityToProjectInput, workflow_id
from models.psa import PsaProjectInput
from models.reconcile import SCHEDULE_ID, FindingKind, OpportunityLinks
from sandbox.crm.seed import DEMO_OPPORTUNITIES
from sandbox.volume import Volume, volume_projects
from store.db import open_engine
from store.findings import findings_of_run
from tests.billing_support import volume_estate
from tests.support import Sandbox, Systems, client_in, env_for, running_worker

# No other test provisions this deal, so its workflow id is free on the shared Temporal.
DEAL = DEMO_OPPORTUNITIES["small_eur"]
VOLUME = Volume(projects=3, entries=60, period="2026-05", seed=61)
TODAY = datetime.now(UTC).date()
runner = CliRunner()


def _months_since(period: str) -> int:
    year, month = (int(p) for p in period.split("-"))
    return (TODAY.year - year) * 12 + TODAY.month - month + 1


POLICY = f"""
[reconcile]
repair = ["missing_project", "invoice_status"]
unposted_after_hours = 1
max_repairs = 5
closed_won_since = "{TODAY.isoformat()}"
lookback_months = {_months_since(VOLUME.period)}
every = "2h"
"""


NAMESPACE = "reconcile-tests"


@pytest.fixture(scope="module")
def estate(
    tmp_path_factory: pytest.TempPathFactory, temporal_env: WorkflowEnvironment
) -> Iterator[Path]:
    """A sandbox of this module's own, so that its drift is the only drift there is."""
    folder = tmp_path_factory.mktemp("reconcile")
    with volume_estate(folder, temporal_env, NAMESPACE, VOLUME, POLICY) as config:
        yield config


@pytest.fixture
async def client(temporal_env: WorkflowEnvironment) -> Client:
    """This module's own namespace: its deals' workflow ids are its own."""
    return await client_in(temporal_env, NAMESPACE)


@pytest.fixture
async def own_worker(client: Client, estate: Path) -> AsyncIterator[Settings]:
    settings = load_settings(estate)
    async with running_worker(client, settings, f"psflow-reconcile-{uuid.uuid4()}") as used:
        yield used


async def cli(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(runner.invoke, app, list(args), env=env)


async def reconcile_now(config: Path, settings: Settings) -> dict[str, Any]:
    env = env_for(config, PSFLOW_TASK_QUEUE=settings.temporal.task_queue)
    result = await cli(env, "reconcile", "--now", "--json")
    assert result.exit_code == DRIFT_FOUND, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def by_kind(answer: dict[str, Any], kind: FindingKind) -> dict[str, dict[str, Any]]:
    return {f["business_key"]: f for f in answer["findings"] if f["kind"] == kind.value}


async def seed_drift(systems: Systems) -> dict[str, str]:
    """One of each kind of drift; what identifies each."""
    # A deal closed today whose opportunity-to-project never ran. Its legal entity is
    # unknown, so the repair waits for a correction: still running when the next run looks.
    url = systems.crm._url("Opportunity", DEAL)
    await systems.crm.request(
        "PATCH", url, json={"CloseDate": TODAY.isoformat(), "Legal_Entity__c": "XX99"}
    )
    # A PSA project made by hand with no ERP job behind it.
    project = await systems.psa.create_project(
        PsaProjectInput(
            external_id=f"manual-{uuid.uuid4().hex[:8]}",
            name="Hand-made workshop",
            customer_name="Northwind",
            erp_project_id="999999",
            currency="USD",
            budget=Decimal("5000"),
            billing_type="Time and Materials",
            rate_card="STD-USD-2026",
            start_date=TODAY,
            milestones=[],
        ),
        idempotency_key=str(uuid.uuid4()),
    )
    # A released invoice the CRM still shows as approved.
    opportunity, invoice = await seed_invoice_drift(systems, 0)
    return {"psa_project": project.id, "invoice": invoice, "opportunity": opportunity}


async def seed_invoice_drift(systems: Systems, index: int) -> tuple[str, str]:
    """A volume project's invoice released in the ERP that the CRM still shows as approved:
    its opportunity and the invoice's number."""
    volume_project = volume_projects(VOLUME)[index]
    done = BillingMilestone(
        id=f"M-RECON-{uuid.uuid4().hex[:6]}", name="Workshop", due_date=date(2026, 5, 31),
        amount=Decimal("1200"), completed_on=date(2026, 5, 31),
    )  # fmt: skip
    invoice = await systems.erp.draft_invoice(
        InvoiceDraftInput(
            external_id=f"recon-{uuid.uuid4().hex[:8]}",
            project_id=volume_project.erp_job_id,
            currency=volume_project.currency,
            period=VOLUME.period,
            source="reconcile-test",
            milestones=[done],
        )
    )
    await systems.erp.set_invoice_status(invoice.external_id, InvoiceStatus.APPROVED)
    released = await systems.erp.set_invoice_status(invoice.external_id, InvoiceStatus.RELEASED)
    await systems.crm.set_invoice_status(
        InvoiceStatusUpdate(
            opportunity_id=volume_project.opportunity_id,
            invoice_number=released.number,
            status=InvoiceStatus.APPROVED,
            total=released.total,
            currency=released.currency,
            period=VOLUME.period,
        )
    )
    return volume_project.opportunity_id, released.number


async def test_reconciliation_finds_each_kind_of_drift_and_repairs_only_what_policy_allows(
    client: Client, estate: Path, own_worker: Settings
) -> None:
    systems = Systems(own_worker)
    repair_id = workflow_id(DEAL)
    try:
        seeded = await seed_drift(systems)
        first = await reconcile_now(estate, own_worker)

        missing = by_kind(first, FindingKind.MISSING_PROJECT)
        assert list(missing) == [DEAL], "only the deal closed since the cut-off counts"
        assert "has no ERP and no PSA project" in missing[DEAL]["detail"]
        assert missing[DEAL]["repair"] == f"started {repair_id}"

        orphan = by_kind(first, FindingKind.PSA_WITHOUT_ERP)[seeded["psa_project"]]
        assert "has no ERP project" in orphan["detail"]
        assert orphan["repair"] == NO_REPAIR

        unposted = by_kind(first, FindingKind.UNPOSTED_TIME)
        billed = [p for p in volume_projects(VOLUME)]
        assert unposted, "the volume's approved time was never posted"
        assert set(unposted) <= {f"{p.psa_id}/{VOLUME.period}" for p in billed}
        assert all(f["repair"] == NOT_ALLOWED for f in unposted.values())
        assert all("not in the ERP 1 h after approval" in f["detail"] for f in unposted.values())

        drift = by_kind(first, FindingKind.INVOICE_STATUS)[seeded["opportunity"]]
        assert f"invoice {seeded['invoice']} Approved" in drift["detail"]
        assert drift["repair"] == f"written to CRM: {seeded['invoice']} released"

        # The outside systems: the deal's workflow runs, the CRM shows the release,
        # and no time-to-bill was started (policy does not allow that repair).
        status, run_id = await latest_run(client, repair_id)
        assert status == WorkflowExecutionStatus.RUNNING
        crm_invoice = await systems.crm.invoice_status(seeded["opportunity"])
        assert crm_invoice is not None and crm_invoice.status == InvoiceStatus.RELEASED
        for project in billed:
            assert await latest_run(client, time_to_bill_id(project.psa_id, VOLUME.period)) == (
                None,
                None,
            )

        # A second run finds the deal again, but its repair runs: not started twice.
        second = await reconcile_now(estate, own_worker)
        assert by_kind(second, FindingKind.MISSING_PROJECT)[DEAL]["repair"] == (
            f"already running: {repair_id}"
        )
        assert await latest_run(client, repair_id) == (WorkflowExecutionStatus.RUNNING, run_id)
        assert seeded["opportunity"] not in by_kind(second, FindingKind.INVOICE_STATUS)
        assert second["run_id"] != first["run_id"]

        # Without --now: the latest run's findings as a table.
        env = env_for(estate, PSFLOW_TASK_QUEUE=own_worker.temporal.task_queue)
        shown = await cli({**env, "COLUMNS": "250"}, "reconcile")
        assert shown.exit_code == DRIFT_FOUND, shown.output
        assert second["run_id"] in " ".join(shown.stdout.split())
        assert "missing_project" in shown.stdout and "already running" in shown.stdout
    finally:
        handle = client.get_workflow_handle(repair_id)
        if (await latest_run(client, repair_id))[0] == WorkflowExecutionStatus.RUNNING:
            await handle.cancel()
            with contextlib.suppress(Exception):  # cancelled: it compensates, then ends
                await asyncio.wait_for(handle.result(), 60)
        await systems.aclose()


async def test_without_now_it_shows_the_latest_completed_run_not_a_failed_ones_partial_findings(
    client: Client, estate: Path, own_worker: Settings
) -> None:
    env = env_for(estate, PSFLOW_TASK_QUEUE=own_worker.temporal.task_queue)
    empty = await cli(env, "reconcile")
    assert empty.exit_code == 0, empty.output
    assert "no reconciliation has run yet" in empty.stdout
    completed = await reconcile_now(estate, own_worker)

    # The next run fails for good in its last check, after storing the earlier checks' pages.
    sandbox = Sandbox(estate)
    invoices = "FROM transaction WHERE type = 'CustInvc'"
    sandbox.fault("erp", path="*/suiteql", body_contains=invoices, status=400, count=10)
    try:
        failed = await cli(env, "reconcile", "--now")
    finally:
        sandbox.clear_faults()
    assert failed.exit_code == 1, failed.output
    failed_id = failed.output.split("error: ", 1)[1].split(" failed", 1)[0]
    status, run_id = await latest_run(client, failed_id)
    assert status == WorkflowExecutionStatus.FAILED
    partial = findings_of_run(open_engine(own_worker.resolved_store_url), f"{failed_id}/{run_id}")
    assert partial and FindingKind.INVOICE_STATUS not in {f.kind for f in partial}

    shown = await cli(env, "reconcile", "--json")
    assert shown.exit_code == DRIFT_FOUND, shown.output
    answer = json.loads(shown.stdout)
    assert answer == completed
    table = await cli({**env, "COLUMNS": "250"}, "reconcile")
    assert table.exit_code == DRIFT_FOUND, table.output
    assert f"run {completed['run_id']}" in " ".join(table.stdout.split())


async def test_schedules_apply_creates_once_then_only_updates_what_changed(
    client: Client, estate: Path
) -> None:
    settings = load_settings(estate)
    queue = f"psflow-schedule-{uuid.uuid4()}"
    env = env_for(estate, PSFLOW_TASK_QUEUE=queue)
    handle = client.get_schedule_handle(SCHEDULE_ID)
    await _delete(handle)
    try:
        created = await cli(env, "schedules", "apply")
        assert created.exit_code == 0, created.output
        assert " ".join(created.stdout.split()) == (
            f"created schedule {SCHEDULE_ID}: reconcile every 2h on task queue {queue}"
        )
        again = await cli(env, "schedules", "apply")
        assert " ".join(again.stdout.split()) == (
            f"schedule {SCHEDULE_ID} is up to date: reconcile every 2h on task queue {queue}"
        )
        changed = await cli({**env, "PSFLOW_RECONCILE_EVERY": "30m"}, "schedules", "apply")
        assert " ".join(changed.stdout.split()) == (
            f"updated schedule {SCHEDULE_ID}: interval 2h -> 30m; catch-up window 2h -> 30m"
        )
        schedule = (await handle.describe()).schedule
        assert [i.every for i in schedule.spec.intervals] == [timedelta(minutes=30)]
        action = schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.task_queue) == ("reconcile", queue)
        assert settings.reconcile.every == timedelta(hours=2)
    finally:
        await _delete(handle)


async def test_schedules_apply_brings_an_older_schedule_up_to_date_and_keeps_it_paused(
    client: Client, estate: Path
) -> None:
    queue = f"psflow-schedule-{uuid.uuid4()}"
    env = env_for(estate, PSFLOW_TASK_QUEUE=queue)
    handle = client.get_schedule_handle(SCHEDULE_ID)
    await _delete(handle)
    # As an earlier psflow created it: no catch-up window (Temporal's default, a year).
    older = wanted_schedule(load_settings(estate, env={"PSFLOW_TASK_QUEUE": queue}))
    older.policy = SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP)
    await client.create_schedule(SCHEDULE_ID, older)
    try:
        await handle.pause(note="ERP maintenance")
        applied = await cli(env, "schedules", "apply")
        assert applied.exit_code == 0, applied.output
        assert " ".join(applied.stdout.split()) == (
            f"updated schedule {SCHEDULE_ID}: catch-up window 365d -> 2h"
        )
        described = (await handle.describe()).schedule
        assert described.policy.catchup_window == timedelta(hours=2)
        assert described.state.paused and described.state.note == "ERP maintenance"
    finally:
        await _delete(handle)


async def _delete(handle: Any) -> None:
    try:
        await handle.delete()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise


async def test_a_bad_interval_is_named_with_its_fix(estate: Path) -> None:
    env = env_for(estate, PSFLOW_RECONCILE_EVERY="10s")
    result = await cli(env, "schedules", "apply")
    assert result.exit_code == 1
    assert "every must be at least 1 minute" in result.output


async def test_a_deal_whose_saga_ended_is_left_to_a_person_not_started_again(
    client: Client, estate: Path, own_worker: Settings
) -> None:
    """A saga that failed (a dead letter already says so) is not started on every run."""
    systems = Systems(own_worker)
    deal = DEMO_OPPORTUNITIES["open"]
    try:
        # Started while the deal was still open: it fails at once.
        with pytest.raises(WorkflowFailureError):
            await client.execute_workflow(
                "opportunity-to-project",
                OpportunityToProjectInput(opportunity_id=deal, requested_by="sam"),
                id=workflow_id(deal),
                task_queue=own_worker.temporal.task_queue,
            )
        url = systems.crm._url("Opportunity", deal)
        await systems.crm.request(
            "PATCH", url, json={"StageName": "Closed Won", "CloseDate": TODAY.isoformat()}
        )
        found = by_kind(await reconcile_now(estate, own_worker), FindingKind.MISSING_PROJECT)
        assert found[deal]["repair"] == (
            f"not started: {workflow_id(deal)} ended failed; {NO_REPAIR}"
        )
        assert (await latest_run(client, workflow_id(deal)))[0] == WorkflowExecutionStatus.FAILED
    finally:
        await systems.aclose()


async def test_a_runs_invoice_status_repairs_are_written_in_one_crm_request(
    estate: Path, own_worker: Settings
) -> None:
    systems = Systems(own_worker)
    sandbox = Sandbox(estate)
    try:
        seeded = dict([await seed_invoice_drift(systems, i) for i in range(VOLUME.projects)])
        # Faults that fail nothing (no status): their hits count the CRM writes.
        collection = "*/composite/sobjects"
        sandbox.fault("crm", path=collection, method="PATCH", status=None, count=1000)
        for opportunity in seeded:
            sandbox.fault("crm", path=f"*/sobjects/Opportunity/{opportunity}", method="PATCH",
                          status=None, count=1000)  # fmt: skip
        answer = await reconcile_now(estate, own_worker)
        hits = {f["path"]: f["hits"] for f in sandbox.armed_faults("crm")}
    finally:
        sandbox.clear_faults()
    try:
        repaired = by_kind(answer, FindingKind.INVOICE_STATUS)
        assert {o: repaired[o]["repair"] for o in seeded} == {
            o: f"written to CRM: {number} released" for o, number in seeded.items()
        }
        assert hits.pop(collection) == 1
        assert set(hits.values()) == {0}, "no opportunity was written on its own"
        for opportunity, number in seeded.items():
            shown = await systems.crm.invoice_status(opportunity)
            assert shown is not None
            assert (shown.invoice_number, shown.status) == (number, InvoiceStatus.RELEASED)
    finally:
        await systems.aclose()


# ---- the rules alone -------------------------------------------------------------------


def _invoice(number: str, status: InvoiceStatus) -> Invoice:
    return Invoice(
        id=number, external_id=f"eid-{number}", number=number, project_id="7", customer_id="3",
        currency="USD", period="2026-05", status=status, total=Decimal("10"), lines=[],
        time_count=0, expense_count=0, approvers=[], source="s",
    )  # fmt: skip


def test_invoice_drift_ignores_drafts_and_names_the_invoice_to_write() -> None:
    deal = OpportunityLinks(id="006A", name="Deal", invoice_number=None, invoice_status=None)
    assert invoice_drift(deal, [_invoice("INV-1", InvoiceStatus.DRAFT)]) is None
    newer = invoice_drift(
        deal.model_copy(update={"invoice_number": "INV-1", "invoice_status": "Released"}),
        [_invoice("INV-1", InvoiceStatus.RELEASED), _invoice("INV-2", InvoiceStatus.RELEASED)],
    )
    assert newer is not None and newer.target is not None
    assert newer.target.invoice_external_id == "eid-INV-2"
    unknown = invoice_drift(
        deal.model_copy(update={"invoice_number": "INV-9", "invoice_status": "Released"}), []
    )
    assert unknown is not None and unknown.target is None
    assert "which the ERP does not have" in unknown.detail


def test_unposted_time_counts_only_old_unposted_entries_that_are_not_exceptions() -> None:
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)

    def entry(id: str, hours_ago: float) -> TimeEntry:
        return TimeEntry(
            id=id, worker_id="1", project_id="P", date=date(2026, 11, 2), hours=Decimal(2),
            role="Consultant", billable=True, cost_center="CC", status=ApprovalState.APPROVED,
            approved_at=now - timedelta(hours=hours_ago),
        )  # fmt: skip

    entries = [entry("a", 30), entry("b", 30), entry("c", 30), entry("d", 2)]
    found = unposted_time("P", "2026-11", entries, {"a"}, {"b"}, now, 24)
    assert found is not None and found.business_key == "P/2026-11"
    assert found.detail.startswith("1 approved time entries (2 h)")
    assert unposted_time("P", "2026-11", entries[:2], {"a"}, {"b"}, now, 24) is None
    assert periods_back(now, 3) == ["2026-09", "2026-10", "2026-11"]
    assert periods_back(datetime(2026, 1, 5, tzinfo=UTC), 2) == ["2025-12", "2026-01"]
