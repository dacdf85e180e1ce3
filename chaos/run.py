"""A chaos run from start to census: the stack, the schedule played out, settling, counting."""

import asyncio
import sys
import time
from typing import Any

from temporalio.service import RPCError

from bench.month_end import seed_volume
from bench.sagas import add_deals
from bench.stack import Stack
from chaos.census_billing import BillingReader, BillingRecords, NetSuiteBillingReader, judge_billing
from chaos.census_sagas import NetSuiteSagaReader, SagaReader, judge_customer, judge_saga
from chaos.census_tryton import TrytonBillingReader, TrytonSagaReader, admin_erp, tryton_notes
from chaos.faults import Armed, LostAnswer, arm_at, clear_all, count_lost, lose_answer, writes_on
from chaos.findings import Finding
from chaos.month_end import FinanceDesk, approve_as_finance, start_month_end
from chaos.outcomes import (
    RUNNING,
    billing_outcomes,
    dead_letters,
    open_runs,
    outcome,
    saga_outcomes,
)
from chaos.patience import sleep_until
from chaos.plan import TRYTON, Plan, schedule
from chaos.processes import Supervisor
from chaos.report import Figures
from chaos.sagas import CANCELLABLE_STEPS, SagaRun, cancel_at_steps, start
from chaos.tryton_stack import TrytonStack, stop_erp_at
from connectors import systems
from connectors.crm import CrmConnector
from connectors.erp_port import Erp
from connectors.psa import PsaConnector
from models.billing import month_end_id
from models.time_to_bill import MonthEndTotals
from sandbox.volume import Volume
from stack.tryton_volume import TrytonVolume
from workflows.month_end import NAME as MONTH_END
from workflows.opportunity_to_project import NAME as SAGA
from workflows.time_to_bill import NAME as TIME_TO_BILL

_START = time.monotonic()
SETTLE_LOOK_EVERY = 2.0


def progress(message: str) -> None:
    """A line on stderr, so stdout holds the report alone."""
    print(f"[{time.monotonic() - _START:7.1f} s] {message}", file=sys.stderr, flush=True)


def readers(
    stack: Stack, crm: CrmConnector, psa: PsaConnector, seeded: TrytonVolume | None
) -> tuple[SagaReader, BillingReader, Erp]:
    """The census's readers and its own ERP client (not the worker's): the sandbox NetSuite
    read directly, or, when the volume was `seeded` in Tryton, Tryton as its admin."""
    if seeded is None:
        netsuite = systems.netsuite_erp(stack.settings)
        return (
            NetSuiteSagaReader(crm, netsuite, psa),
            NetSuiteBillingReader(crm, netsuite, psa),
            netsuite,
        )
    tryton = admin_erp(stack.settings.erp.url)
    billing = TrytonBillingReader(crm, tryton, psa, seeded.project_ids)
    return TrytonSagaReader(crm, tryton, psa), billing, tryton


async def _settle(stack: Stack, until: float) -> None:
    """Until no saga, month-end or time-to-bill run is left running, or `until`."""
    while time.monotonic() < until:
        try:
            if not await open_runs(stack.client, [SAGA, MONTH_END, TIME_TO_BILL]):
                return
        except RPCError as exc:  # the server is starting again; keep waiting
            progress(f"  settling: {exc}")
        await asyncio.sleep(SETTLE_LOOK_EVERY)


async def _census(
    stack: Stack,
    runs: list[SagaRun],
    outcomes: dict[str, str],
    billing: dict[str, str],
    volume: Volume,
    seeded: TrytonVolume | None,
) -> tuple[list[Finding], BillingRecords, int]:
    """Every finding from the systems' own APIs; the period's records and the customers
    checked."""
    crm, psa = systems.crm(stack.settings), systems.psa(stack.settings)
    sagas, bills, erp = readers(stack, crm, psa, seeded)
    try:
        records = await asyncio.gather(*(sagas.saga(r.opportunity_id) for r in runs))
        findings: list[Finding] = []
        for run, found in zip(runs, records, strict=True):
            findings += judge_saga(outcomes[run.workflow_id], found)
        live = {w for w, o in outcomes.items() if o == RUNNING}
        accounts = sorted({r.account_id for r in records})
        for customer in await asyncio.gather(*(sagas.customer(a) for a in accounts)):
            findings += judge_customer(customer, live)
        period = await bills.read(volume)
        findings += judge_billing(period, {w for w, o in billing.items() if o == RUNNING})
        return findings, period, len(accounts)
    finally:
        for connector in (crm, erp, psa):
            await connector.aclose()


async def run_chaos(
    plan: Plan, overrides: dict[str, dict[str, Any]] | None = None, keep: bool = False
) -> Figures:
    """Start the stack, play the schedule, settle, count; stop the stack."""
    writes = writes_on(plan.fault_systems)
    sched = schedule(plan, CANCELLABLE_STEPS, len(writes))
    volume = Volume(
        projects=plan.projects, entries=plan.entries, period=plan.period, seed=plan.seed
    )
    stack: Stack
    if plan.erp == TRYTON:
        progress("starting trytond, the dev server (on a database file), the sandbox, the worker")
        stack = TrytonStack(overrides, keep=keep)
    else:
        progress("starting the dev server (on a database file), the sandbox and the worker")
        stack = Stack(
            overrides, bare_worker=False, persistent=True, keep=keep, prefix="psflow-chaos-"
        )
    seeded: TrytonVolume | None = None
    async with stack:
        if keep:
            progress(f"  its folder (kept): {stack.folder}")
        deals = await add_deals(stack, plan.sagas)
        if isinstance(stack, TrytonStack):
            seeded = await stack.seed_volume(volume)
        else:
            await seed_volume(stack, volume)
        runs = [SagaRun(i, deal, sched.cancels.get(i)) for i, deal in enumerate(deals)]
        progress(
            f"chaos for {sched.end:.0f} s: {plan.sagas} sagas, month-end of "
            f"{volume.entries:,} entries over {volume.projects} projects"
        )
        began = time.monotonic()
        end, settle_end = began + sched.end, began + sched.end + plan.settle_seconds
        supervisor = Supervisor(stack, began)
        desk = FinanceDesk()
        outage = Armed(plan.outage_system, 503, plan.outage_seconds)
        storms = [Armed(s.system, 429, s.seconds) for s in sched.storms]
        lost = [LostAnswer(*writes[write]) for _, write in sched.lost_answers]
        if isinstance(stack, TrytonStack) and plan.outage_system == "erp":
            outage_played = stop_erp_at(stack, began + sched.outage_at, outage)
        else:
            outage_played = arm_at(stack, began + sched.outage_at, outage, None)
        watchdog = asyncio.create_task(supervisor.watch())
        finance = asyncio.create_task(approve_as_finance(stack, plan.period, desk, settle_end))
        try:
            await asyncio.gather(
                supervisor.run(sched.kills),
                outage_played,
                *(
                    arm_at(stack, began + s.at, a, s.retry_after)
                    for s, a in zip(sched.storms, storms, strict=True)
                ),
                *(
                    start(stack, r, began + at, plan.fault_systems)
                    for r, at in zip(runs, sched.starts, strict=True)
                ),
                *(
                    lose_answer(stack, began + at, answer)
                    for (at, _), answer in zip(sched.lost_answers, lost, strict=True)
                ),
                cancel_at_steps(stack, runs, end),
                start_month_end(stack, plan.period, began + sched.month_end_at, desk),
            )
            await sleep_until(end)
            await count_lost(stack, lost)
            await clear_all(stack, plan.fault_systems)
            await supervisor.ensure_up()
            progress(f"chaos over; settling for up to {plan.settle_seconds:.0f} s")
            await _settle(stack, settle_end)
            await asyncio.wait([finance], timeout=max(0.0, settle_end - time.monotonic()) + 5)
            progress("counting from the systems' own APIs")
            outcomes = await saga_outcomes(stack.client, [r.workflow_id for r in runs])
            billing = await billing_outcomes(stack.client, plan.period)
            month_end = await outcome(stack.client, month_end_id(plan.period), MonthEndTotals)
            census = await _census(stack, runs, outcomes, billing, volume, seeded)
            findings, period, customers = census
            letters = dead_letters(stack)
        finally:
            watchdog.cancel()
            finance.cancel()
            await asyncio.gather(watchdog, finance, return_exceptions=True)
    notes = [f"finance approval refused for {w}: {why}" for w, why in desk.refused.items()]
    notes += [
        f"saga {r.opportunity_id} not started: {r.start_error}" for r in runs if r.start_error
    ]
    if desk.start_error:
        notes.append(f"month-end not started: {desk.start_error}")
    if seeded is not None:
        notes += tryton_notes(plan, seeded, period)
    progress("done")
    return Figures(
        plan=plan,
        seconds=time.monotonic() - began,
        runs=runs,
        outcomes=outcomes,
        billing=billing,
        month_end=month_end,
        kills=supervisor.kills,
        outage=outage,
        storms=storms,
        lost_answers=lost,
        findings=findings,
        dead_letters=letters,
        entries=(len(period.time), len(period.expenses)),
        customers=customers,
        notes=notes,
    )
