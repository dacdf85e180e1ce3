"""`psflow report`: each KPI computed from a small known run in a sandbox of its own."""

import contextlib
import json
import statistics
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import typer
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from cli.report import period
from cli.report_figures import Durations
from config import Settings, load_settings
from models.people import Rejection
from models.reconcile import RECONCILE, ReconcileInput, ReconcileResult
from models.time_to_bill import Outcome
from sandbox.crm.seed import DEMO_OPPORTUNITIES
from sandbox.volume import Volume, volume_projects
from store.audit import audit_entries
from store.db import open_engine
from tests.billing_support import Expected, awaiting_finance, expected, volume_estate
from tests.support import Systems, client_in, env_for, proven, running_worker
from tests.test_opportunity_to_project import start as start_deal
from tests.test_reconcile import cli
from tests.test_time_to_bill import release
from tests.test_time_to_bill import start as start_billing
from workflows.time_to_bill import TimeToBill

# No other test provisions this deal; the period is this module's own.
DEAL = DEMO_OPPORTUNITIES["small_cad"]
VOLUME = Volume(projects=8, entries=240, period="2026-06", seed=62)
TM = "Time and Materials"
NO_RATE = "no rate for role"
KEYS = {
    "since", "until", "project_activation", "time_to_invoice", "unbilled_backlog",
    "approvals_waiting", "failed_syncs", "dead_letters", "reconciliation",
}  # fmt: skip


NAMESPACE = "report-tests"


@pytest.fixture(scope="module")
def estate(
    tmp_path_factory: pytest.TempPathFactory, temporal_env: WorkflowEnvironment
) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("report")
    with volume_estate(folder, temporal_env, NAMESPACE, VOLUME) as config:
        yield config


@pytest.fixture
async def client(temporal_env: WorkflowEnvironment) -> Client:
    """This module's own namespace: its deals' workflow ids are its own."""
    return await client_in(temporal_env, NAMESPACE)


@pytest.fixture
async def own_worker(client: Client, estate: Path) -> AsyncIterator[Settings]:
    settings = load_settings(estate)
    async with running_worker(client, settings, f"psflow-report-{uuid.uuid4()}") as used:
        yield used


def tm_projects(count: int) -> list[Expected]:
    """Open time-and-materials projects with billable time, in project order."""
    found = []
    for project in volume_projects(VOLUME):
        month = expected(VOLUME, project.number)
        if project.billing_type == TM and not project.closed_on and month.time_total:
            found.append(month)
    assert len(found) >= count, "the volume has too few T&M projects"
    return found[:count]


async def report(config: Path, settings: Settings) -> dict[str, Any]:
    today = datetime.now(UTC).date().isoformat()
    env = env_for(config, PSFLOW_TASK_QUEUE=settings.temporal.task_queue)
    result = await cli(env, "report", "--since", today, "--until", today, "--json")
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def backlog(answer: dict[str, Any]) -> dict[str, tuple[Decimal, int]]:
    return {b["currency"]: (Decimal(b["amount"]), b["records"]) for b in answer["unbilled_backlog"]}


async def test_report_figures_come_from_a_known_small_run(
    client: Client, estate: Path, own_worker: Settings
) -> None:
    released, rejected, waiting = tm_projects(3)
    before = await report(estate, own_worker)

    deal = await start_deal(client, own_worker, DEAL)
    assert (await deal.result()).outcome == "completed"
    activated = await deal.describe()

    released_run = await start_billing(client, own_worker, released.project.psa_id, VOLUME.period)
    assert (await release(own_worker, released_run)).outcome is Outcome.RELEASED

    rejected_run = await start_billing(client, own_worker, rejected.project.psa_id, VOLUME.period)
    await awaiting_finance(rejected_run)
    rejection = Rejection(user="fatima", reason="hold until the client signs")
    await rejected_run.execute_update(
        TimeToBill.reject, proven(own_worker, rejected_run.id, "reject", rejection)
    )
    assert (await rejected_run.result()).outcome is Outcome.REJECTED

    failed_run = await start_billing(client, own_worker, "PRJ-NOPE", VOLUME.period)
    with pytest.raises(WorkflowFailureError):
        await failed_run.result()

    waiting_run = await start_billing(client, own_worker, waiting.project.psa_id, VOLUME.period)
    try:
        await awaiting_finance(waiting_run)
        found = await client.execute_workflow(
            RECONCILE,
            ReconcileInput(requested_by="test"),
            id=f"reconcile/report-{uuid.uuid4()}",
            task_queue=own_worker.temporal.task_queue,
            result_type=ReconcileResult,
        )
        after = await report(estate, own_worker)
        env = env_for(estate, PSFLOW_TASK_QUEUE=own_worker.temporal.task_queue, COLUMNS="200")
        today = datetime.now(UTC).date().isoformat()
        shown = await cli(env, "report", "--since", today)
    finally:
        await waiting_run.cancel()
        with contextlib.suppress(WorkflowFailureError):
            await waiting_run.result()

    assert set(after) == KEYS
    today_start = datetime.combine(datetime.now(UTC).date(), time(), UTC)
    assert (after["since"], after["until"]) == (
        today_start.isoformat().replace("+00:00", "Z"),
        (today_start + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
    )

    # Activation: the one deal, start to close of its run.
    assert activated.close_time is not None
    took = (activated.close_time - activated.start_time).total_seconds()
    activation = after["project_activation"]
    assert activation["count"] == 1
    assert activation["max_seconds"] == pytest.approx(took, abs=0.01)

    # Approved time to invoice: each billable entry of the released invoice, from its
    # approval (the volume approves the day after at 17:00 UTC) to the release.
    engine = open_engine(own_worker.resolved_store_url)
    release_at = next(a.at for a in audit_entries(engine, kind="released"))
    waits = sorted(
        (release_at - datetime.combine(e.date + timedelta(days=1), time(17), UTC)).total_seconds()
        for e in released.valid
        if e.billable
    )
    latency = after["time_to_invoice"]
    assert (latency["invoices"], latency["count"]) == (1, len(waits))
    assert latency["max_seconds"] == pytest.approx(waits[-1], abs=0.01)
    assert latency["median_seconds"] == pytest.approx(statistics.median(waits), abs=0.01)

    # Unbilled backlog: the rejected invoice's postings are unbilled again; the released
    # one's are billed. Amounts priced independently from the generated volume.
    currency = rejected.project.currency
    grown = rejected.time_total + rejected.expense_total
    records = sum(1 for e in rejected.valid if e.billable) + sum(
        1 for e in rejected.expenses if e.billable
    )
    was_amount, was_records = backlog(before).get(currency, (Decimal(0), 0))
    now_amount, now_records = backlog(after)[currency]
    assert (now_amount - was_amount, now_records - was_records) == (grown, records)

    waiting_rows = after["approvals_waiting"]
    assert [(w["workflow"], w["waiting_for"], w["count"]) for w in waiting_rows] == [
        ("time-to-bill", "approval", 1)
    ]
    assert after["failed_syncs"] == {"time-to-bill": 1}
    assert after["dead_letters"] == {"open": 1}  # the failed run
    assert after["reconciliation"] == [
        {"kind": c.kind.value, "found": c.found, "runs": 1, "repaired": 0}
        for c in sorted(found.counts, key=lambda c: c.kind.value)
        if c.found
    ]

    # The tables say the same in words.
    text = " ".join(shown.stdout.split())
    assert shown.exit_code == 0, shown.output
    for title in (
        "Time to activate, and to invoice",
        "Unbilled backlog",
        "Waiting for people now",
        "Failed syncs and dead letters",
        "Reconciliation findings",
    ):
        assert title in text
    assert "failed runs: time-to-bill 1" in text


async def test_report_refuses_a_malformed_day(estate: Path) -> None:
    result = await cli(env_for(estate), "report", "--since", "2026-11-31")
    assert result.exit_code == 2
    assert "is not a day: use YYYY-MM-DD" in result.output


async def test_an_entry_billed_on_a_second_invoice_of_the_period_counts_once(
    client: Client, estate: Path, own_worker: Settings
) -> None:
    """A resubmitted entry lands on the period's next invoice: each billed entry is timed
    to the release of its own invoice, not once per release of the period."""
    taken = {m.project.psa_id for m in tm_projects(3)}  # the test above bills these
    month, unrated = next(
        (expected(VOLUME, p.number), e)
        for p in volume_projects(VOLUME)
        if p.billing_type == TM and not p.closed_on and p.psa_id not in taken
        for e in expected(VOLUME, p.number).approved
        if e.billable and e.invalid == NO_RATE
    )
    before = (await report(estate, own_worker))["time_to_invoice"]

    run = await start_billing(client, own_worker, month.project.psa_id, VOLUME.period)
    assert (await release(own_worker, run)).outcome is Outcome.RELEASED
    systems = Systems(own_worker)
    try:
        await systems.psa.update_time_entry(unrated.id, {"role": month.valid[0].role})
        await systems.psa.approve_time_entry(unrated.id, month.project.approver)
    finally:
        await systems.aclose()
    again = await start_billing(client, own_worker, month.project.psa_id, VOLUME.period)
    assert (await release(own_worker, again, "greta")).outcome is Outcome.RELEASED

    after = (await report(estate, own_worker))["time_to_invoice"]
    billed = sum(1 for e in month.valid if e.billable) + 1
    assert (after["invoices"] - before["invoices"], after["count"] - before["count"]) == (2, billed)


def test_durations_use_the_nearest_rank_percentile() -> None:
    tens = Durations.of([timedelta(seconds=n) for n in range(1, 11)])
    assert (tens.count, tens.median_seconds, tens.p90_seconds, tens.max_seconds) == (10, 5.5, 9, 10)
    assert Durations.of([timedelta(seconds=4)]).p90_seconds == 4
    assert Durations.of([]) == Durations()


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(typer.BadParameter, match="--since 2026-11-30 is after --until 2026-11-01"):
        period("2026-11-30", "2026-11-01", date(2026, 12, 1))
    first, end = period(None, "2026-11-30", date(2026, 12, 1))
    assert (first.date(), end.date()) == (date(2026, 11, 1), date(2026, 12, 1))
