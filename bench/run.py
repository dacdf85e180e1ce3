"""The benchmark's phases in order, on one stack, each figure beside its baseline."""

import asyncio
import sys
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from bench.memory import measure_memory
from bench.month_end import measure_month_end
from bench.naive import measure_naive
from bench.reconcile import describe, measure_reconcile
from bench.report import Figures, render
from bench.sagas import measure_sagas
from bench.scale import Scale
from bench.stack import Stack, rss_mib
from sandbox.volume import Volume

_START = time.perf_counter()
T = TypeVar("T")


def progress(message: str) -> None:
    """A line on stderr, so stdout holds the table alone."""
    print(f"[{time.perf_counter() - _START:7.1f} s] {message}", file=sys.stderr, flush=True)


def cpu_report(before: dict[str, tuple[int, float]], after: dict[str, tuple[int, float]]) -> str:
    """CPU seconds each process used between two readings (a restarted one from zero)."""
    used = {}
    for name, (pid, seconds) in after.items():
        earlier_pid, earlier = before.get(name, (pid, 0.0))
        used[name] = seconds - (earlier if earlier_pid == pid else 0.0)
    return "  cpu s: " + ", ".join(f"{n} {s:.1f}" for n, s in used.items())


def parse_overrides(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """`section.key=value` pairs (e.g. worker.max_concurrent_activities=200) as config
    sections; values read as int, float or true/false where they look like one."""
    overrides: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        section, dot, key = name.partition(".")
        if not sep or not dot:
            raise ValueError(f"{pair!r} is not section.key=value")
        value: Any = raw
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        else:
            for kind in (int, float):
                try:
                    value = kind(raw)
                    break
                except ValueError:
                    continue
        overrides.setdefault(section, {})[key] = value
    return overrides


async def _phase(stack: Stack, scale: Scale, title: str, work: Awaitable[T]) -> T:
    """One phase, with its CPU use on stderr; a failure or overrun names the worker's last
    words (a workflow task failing in the worker shows nowhere else)."""
    progress(title)
    before = stack.cpu()
    try:
        async with asyncio.timeout(scale.phase_timeout):
            result = await work
    except Exception as exc:
        overran = isinstance(exc, TimeoutError)
        why = f"not done within {scale.phase_timeout:.0f} s" if overran else exc
        last = stack.tail("worker")
        raise RuntimeError(f"{title}: {why}; the worker's last lines:\n{last}") from exc
    progress(cpu_report(before, stack.cpu()))
    return result


async def measure(scale: Scale, overrides: dict[str, dict[str, Any]] | None = None) -> Figures:
    """Start everything, measure every figure, stop everything."""
    progress("starting the dev server, the sandbox and the workers")
    async with Stack(overrides) as stack:
        title = f"saga throughput: {scale.sagas} sagas, then as many bare workflows"
        sagas = await _phase(stack, scale, title, measure_sagas(stack, scale.sagas))
        progress(f"  {sagas.sagas_per_second:.1f} sagas/s, {sagas.bare_per_second:.1f} bare/s")
        volume = Volume(projects=scale.projects, entries=scale.entries, period=scale.period)
        title = f"month-end: {volume.entries:,} entries over {volume.projects:,} projects"
        work = measure_month_end(stack, volume, scale.release_at_once)
        month = await _phase(stack, scale, title, work)
        progress(
            f"  seeded in {month.seed_seconds:.0f} s; drafted at {month.draft_seconds:.0f} s, "
            f"released at {month.total_seconds:.0f} s"
        )
        peak = rss_mib(stack.worker_pid, "VmHWM")
        title = "reconciliation after month-end"
        after = measure_reconcile(stack, "after month-end", [volume.period])
        reconciled = await _phase(stack, scale, title, after)
        progress(f"  {describe(reconciled)}")
        title = f"naive script: {scale.naive:,} entries, one call each"
        naive = await _phase(stack, scale, title, measure_naive(stack, volume, scale.naive))
        progress(f"  {naive.per_second:.0f} entries/s")
        title = f"memory: a fresh worker, then {scale.waiting:,} runs waiting for finance"
        memory = await _phase(stack, scale, title, measure_memory(stack, scale))
        progress(f"  idle {memory.idle_mib:.0f} MiB, waiting {memory.waiting_mib:.0f} MiB")
        figures = Figures(stack.settings, sagas, month, naive, peak, memory, reconciled)
    progress("done")
    return figures


async def run(scale: Scale, overrides: dict[str, dict[str, Any]] | None = None) -> str:
    """The benchmark's table."""
    return render(await measure(scale, overrides))
