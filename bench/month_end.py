"""Month-end at volume: seed the period, run month-end until every project is drafted, then
approve every invoice as a finance user who approved no time, and wait for each release."""

import asyncio
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
from sqlalchemy import Engine
from temporalio.client import Client, WorkflowHandle

from bench.counters import Calls, arm_counters, cpu_used, read_counters
from bench.stack import Stack
from models.billing import month_end_id
from models.identity import Identity
from models.people import Approval
from models.time_to_bill import MonthEndInput, MonthEndTotals, Outcome, TimeToBillResult
from sandbox.volume import Volume
from security.issuer import LOCAL_ISSUER, issue_proof
from store.db import open_engine
from workflows import search_attributes as sa
from workflows.month_end import MonthEnd
from workflows.time_to_bill import NAME as TIME_TO_BILL
from workflows.time_to_bill import TimeToBill

# A finance user with no time approvals in the volume (its approvers are project managers).
APPROVER = "fatima"
LIST_TIMEOUT = 60.0
# Counted during the release: the invoice's own calls and the deal's status.
RELEASE_SYSTEMS = ("erp", "crm")


@dataclass
class MonthEndFigures:
    volume: Volume
    posted: int
    drafted: int
    seed_seconds: float
    draft_seconds: float
    """From starting month-end to its result: every project posted and drafted."""
    total_seconds: float
    """From starting month-end to the last invoice released."""
    at_once: int
    """Approvals in flight during the release."""
    latencies: list[float] = field(default_factory=list)
    """Approve update returned -> result available, for each invoice."""
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds per process from starting month-end to the last release."""
    events: int = 0
    """History events of one released time-to-bill run."""
    release_calls: Calls = field(default_factory=dict)
    """Requests ERP and CRM answered from the first approval to the last release (if
    counted)."""

    @property
    def posted_per_second(self) -> float:
        return self.posted / self.total_seconds

    def cpu_per_thousand(self, process: str) -> float:
        """CPU seconds a process used per 1,000 posted entries."""
        return self.cpu.get(process, 0.0) * 1000 / self.posted


async def seed_volume(stack: Stack, volume: Volume) -> float:
    """Replace the sandbox's volume in PSA, ERP and CRM; the seconds it took."""
    body = {
        "projects": volume.projects,
        "entries": volume.entries,
        "period": volume.period,
        "seed": volume.seed,
    }
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=600) as http:
        for system in ("psa", "erp", "crm"):
            response = await http.post(f"{stack.url(system)}/__admin/seed/volume", json=body)
            response.raise_for_status()
    return time.perf_counter() - started


async def run_month_end(stack: Stack, period: str) -> MonthEndTotals:
    """Month-end for the period, until every project is drafted (or has nothing to bill)."""
    totals = await stack.client.execute_workflow(
        MonthEnd.run,
        MonthEndInput(period=period),
        id=month_end_id(period),
        task_queue=stack.settings.temporal.task_queue,
    )
    if totals.failed_count:
        raise RuntimeError(f"month-end {period}: {totals.failed_count} failed: {totals.failed}")
    return totals


async def waiting_for_finance(client: Client, period: str, expected: int) -> list[str]:
    """The ids of the period's time-to-bill runs waiting for a finance approval, as finance
    would list them (one visibility query, as `psflow list --waiting` does); polled until all
    `expected` drafted runs show, since a run marks itself waiting a moment after drafting."""
    query = (
        f"WorkflowType = '{TIME_TO_BILL}' AND ExecutionStatus = 'Running' AND "
        f"{sa.WAITING_FOR.name} = 'approval'"
    )
    deadline = time.monotonic() + LIST_TIMEOUT
    while True:
        ids = [
            e.id
            async for e in client.list_workflows(query, page_size=1000)
            if e.id.startswith("time-to-bill/") and e.id.endswith(f"/{period}")
        ]
        if len(ids) >= expected or time.monotonic() > deadline:
            return ids
        await asyncio.sleep(0.2)


@contextmanager
def issuer_store(stack: Stack) -> Iterator[Engine]:
    """The stack's store, whose issuer proves finance's approvals (its keys are the ones the
    worker gives runs); disposed at the end."""
    engine = open_engine(stack.settings.resolved_store_url)
    try:
        yield engine
    finally:
        engine.dispose()


def finance_approval(engine: Engine, workflow_id: str, comment: str) -> Approval:
    """APPROVER's approval of the run, with a proof from the issuer of `engine`'s store."""
    who = Identity(user=APPROVER, subject=f"bench-{APPROVER}", issuer=LOCAL_ISSUER)
    proof = issue_proof(engine, who, workflow_id, "approve")
    return Approval(user=APPROVER, comment=comment, proof=proof)


async def approve_and_wait(client: Client, engine: Engine, workflow_id: str) -> float:
    """Approve as finance (proven by `engine`'s issuer); seconds from the update's answer to
    the released result."""
    # Declared: mypy's inference against the SDK's union-of-protocols parameter is unreliable.
    handle: WorkflowHandle[TimeToBill, TimeToBillResult] = client.get_workflow_handle_for(
        TimeToBill.run, workflow_id
    )
    await handle.execute_update(TimeToBill.approve, finance_approval(engine, workflow_id, "bench"))
    approved = time.perf_counter()
    result = await handle.result()
    latency = time.perf_counter() - approved
    if result.outcome is not Outcome.RELEASED:
        raise RuntimeError(f"{workflow_id} ended {result.outcome}: {result.reason}")
    return latency


async def release_all(
    client: Client, engine: Engine, ids: Sequence[str], at_once: int
) -> list[float]:
    """Approve every run, `at_once` in flight; each one's approval-to-released latency."""
    limit = asyncio.Semaphore(at_once)

    async def one(workflow_id: str) -> float:
        async with limit:
            return await approve_and_wait(client, engine, workflow_id)

    return list(await asyncio.gather(*(one(i) for i in ids)))


async def history_events(client: Client, workflow_id: str) -> int:
    """How many events a run's history holds."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return len(history.events)


async def _release(
    stack: Stack, ids: Sequence[str], at_once: int, count: bool
) -> tuple[list[float], Calls]:
    """Release every run; with `count`, the ERP's and CRM's requests meanwhile (nothing else
    calls them then: month-end has drafted every invoice before its result)."""
    with issuer_store(stack) as engine:
        if not count:
            return await release_all(stack.client, engine, ids, at_once), {}
        async with httpx.AsyncClient(timeout=30) as http:
            await arm_counters(http, stack, RELEASE_SYSTEMS)
            try:
                latencies = await release_all(stack.client, engine, ids, at_once)
            finally:
                calls = await read_counters(http, stack, RELEASE_SYSTEMS)
    return latencies, calls


async def measure_month_end(
    stack: Stack, volume: Volume, at_once: int, *, count_release: bool = False
) -> MonthEndFigures:
    """Seed, then time month-end from its start to the last invoice released; with
    `count_release`, count the ERP and CRM calls of the release."""
    seed_seconds = await seed_volume(stack, volume)
    cpu_before = stack.cpu()
    started = time.perf_counter()
    totals = await run_month_end(stack, volume.period)
    drafted = time.perf_counter()
    ids = await waiting_for_finance(stack.client, volume.period, totals.drafted)
    if len(ids) != totals.drafted:
        raise RuntimeError(f"{totals.drafted} drafted but {len(ids)} wait for finance")
    latencies, calls = await _release(stack, ids, at_once, count_release)
    total_seconds = time.perf_counter() - started
    cpu = cpu_used(cpu_before, stack.cpu())
    return MonthEndFigures(
        volume=volume,
        posted=totals.posted,
        drafted=totals.drafted,
        seed_seconds=seed_seconds,
        draft_seconds=drafted - started,
        total_seconds=total_seconds,
        at_once=at_once,
        latencies=latencies,
        cpu=cpu,
        events=await history_events(stack.client, ids[0]) if ids else 0,
        release_calls=calls,
    )
