"""Worker memory idle and with many time-to-bill runs waiting for finance, and the
approval-to-released latency of invoices released one at a time on a quiet system."""

import asyncio
import math
from dataclasses import dataclass, field

from bench.month_end import (
    approve_and_wait,
    issuer_store,
    run_month_end,
    seed_volume,
    waiting_for_finance,
)
from bench.scale import Scale
from bench.stack import Stack, rss_mib
from sandbox.volume import Volume

# A few volume projects draft nothing (closed, or only invalid or unbillable time).
SPARE_SHARE = 1.08
ENTRIES_PER_PROJECT = 4


@dataclass
class MemoryFigures:
    idle_mib: float
    waiting: int
    waiting_mib: float
    latencies: list[float] = field(default_factory=list)
    """Approval-to-released seconds of invoices approved one after another."""


async def measure_memory(stack: Stack, scale: Scale) -> MemoryFigures:
    """A fresh worker's RSS idle, then with at least `scale.waiting` runs waiting for finance;
    then release `scale.one_by_one` of them one after another and time each."""
    await stack.start_worker()
    await asyncio.sleep(scale.settle_seconds)
    idle = rss_mib(stack.worker_pid)
    projects = math.ceil(scale.waiting * SPARE_SHARE) + 2
    period = scale.waiting_period
    volume = Volume(projects=projects, entries=projects * ENTRIES_PER_PROJECT, period=period)
    await seed_volume(stack, volume)
    totals = await run_month_end(stack, period)
    ids = await waiting_for_finance(stack.client, period, totals.drafted)
    if len(ids) < scale.waiting:
        raise RuntimeError(f"only {len(ids)} of {projects} projects wait for finance")
    await asyncio.sleep(scale.settle_seconds)
    loaded = rss_mib(stack.worker_pid)
    with issuer_store(stack) as engine:
        latencies = [
            await approve_and_wait(stack.client, engine, i) for i in ids[: scale.one_by_one]
        ]
    return MemoryFigures(idle, len(ids), loaded, latencies)
