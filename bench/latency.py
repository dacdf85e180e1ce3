"""Month-end with every ERP, PSA and CRM request answered `latency_ms` late, as a hosted
system across the internet answers.

The delay is a sandbox fault with no status on every route (bench/counters.py), which also
counts the calls. The ERP sandbox's concurrency limit sits outside the fault middleware, so a
delayed request holds one of its slots, as NetSuite's per-account limit does: the ERP's calls
× latency ÷ limit is a floor no month-end can beat. The naive script runs on a sample at the
same latency and is extrapolated to the month-end's posted entries.
"""

from dataclasses import dataclass

import httpx

from bench.counters import Calls, arm_counters, clear_counters, read_counters, total
from bench.month_end import MonthEndFigures, measure_month_end
from bench.naive import NaiveFigures, measure_naive
from bench.scale import Scale
from bench.stack import Stack
from sandbox.volume import Volume

# Faults outlast the phase, which its timeout ends anyway.
FAULT_MARGIN_SECONDS = 120.0


@dataclass
class LatencyFigures:
    latency_ms: int
    month_end: MonthEndFigures
    calls: Calls
    """Requests each system answered from seeding to the last release."""
    erp_limit: int
    """The ERP sandbox's requests in flight (`[sandbox] erp_concurrency_limit`)."""
    naive: NaiveFigures
    """The naive script on a sample, at the same latency."""
    naive_calls: int
    """The ERP requests the sample made (one per entry, and its connector's token)."""

    def system_calls(self, system: str) -> int:
        return total(self.calls, system)

    @property
    def limited_erp_calls(self) -> int:
        """The ERP's record and SuiteQL calls, which its limit governs (not its tokens)."""
        return self.system_calls("erp") - self.calls.get("erp", {}).get("token", 0)

    @property
    def floor_seconds(self) -> float:
        """What the ERP's limit alone costs: its calls, `erp_limit` at a time."""
        return self.limited_erp_calls * self.latency_ms / 1000 / self.erp_limit

    @property
    def floor_ratio(self) -> float:
        return self.month_end.total_seconds / self.floor_seconds

    @property
    def naive_seconds(self) -> float:
        """The naive script's time for the month-end's posted entries, extrapolated."""
        return self.month_end.posted / self.naive.per_second

    @property
    def speedup(self) -> float:
        return self.month_end.posted_per_second / self.naive.per_second


async def measure_latency(stack: Stack, scale: Scale, latency_ms: int) -> LatencyFigures:
    """Seed a volume of its own, delay every request, run month-end and release every
    invoice; then the naive script on `scale.latency_naive` entries. Faults are cleared
    afterwards, whether or not it succeeded."""
    volume = Volume(projects=scale.projects, entries=scale.entries, period=scale.latency_period)
    lasting = scale.phase_timeout + FAULT_MARGIN_SECONDS
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            # Seeding is an admin route: neither delayed nor counted.
            await arm_counters(http, stack, latency_ms=latency_ms, for_seconds=lasting)
            month = await measure_month_end(stack, volume, scale.release_at_once)
            calls = await read_counters(http, stack)
            await arm_counters(http, stack, ["erp"], latency_ms=latency_ms, for_seconds=lasting)
            naive = await measure_naive(stack, volume, scale.latency_naive)
            naive_calls = total(await read_counters(http, stack, ["erp"]), "erp")
    finally:
        await clear_counters(stack)
    limit = stack.settings.sandbox.erp_concurrency_limit
    return LatencyFigures(latency_ms, month, calls, limit, naive, naive_calls)
