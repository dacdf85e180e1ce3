"""The benchmark's phases in order, on one stack, each figure beside its baseline."""

import asyncio
import sys
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from bench.counters import CpuReading, cpu_used, total
from bench.latency import LatencyFigures, measure_latency
from bench.memory import measure_memory
from bench.month_end import MonthEndFigures
from bench.naive import measure_naive
from bench.reconcile import describe, measure_reconcile
from bench.report import Figures, render
from bench.sagas import measure_sagas
from bench.scale import Scale, volume_series
from bench.stack import Stack, rss_mib
from bench.volumes import VolumeFigures, month_end_on_fresh_worker
from sandbox.volume import Volume

_START = time.perf_counter()
T = TypeVar("T")


def progress(message: str) -> None:
    """A line on stderr, so stdout holds the table alone."""
    print(f"[{time.perf_counter() - _START:7.1f} s] {message}", file=sys.stderr, flush=True)


def cpu_report(before: CpuReading, after: CpuReading) -> str:
    """CPU seconds each process used between two readings (a restarted one from zero)."""
    used = cpu_used(before, after)
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


def _month_end_progress(m: MonthEndFigures, peak_mib: float) -> None:
    progress(
        f"  seeded in {m.seed_seconds:.0f} s; drafted at {m.draft_seconds:.0f} s, released at "
        f"{m.total_seconds:.0f} s ({m.posted_per_second:,.0f} posted/s); worker peak "
        f"{peak_mib:.0f} MiB; cpu s per 1,000 posted: server "
        f"{m.cpu_per_thousand('temporal'):.2f}, worker {m.cpu_per_thousand('worker'):.2f}"
    )


async def _volumes(
    stack: Stack, scale: Scale, main: VolumeFigures, volumes: list[Volume]
) -> list[VolumeFigures]:
    """Month-end at each volume on a fresh worker (the main one is measured already)."""
    measured = []
    for volume in volumes:
        if volume == main.month_end.volume:
            measured.append(main)
            continue
        title = f"month-end at volume: {volume.entries:,} entries, a fresh worker"
        work = month_end_on_fresh_worker(stack, volume, scale.release_at_once)
        figures = await _phase(stack, scale, title, work)
        _month_end_progress(figures.month_end, figures.peak_mib)
        measured.append(figures)
    return measured


async def _latency(stack: Stack, scale: Scale) -> LatencyFigures:
    title = f"month-end at {scale.latency_ms} ms per request: {scale.entries:,} entries"
    lat = await _phase(stack, scale, title, measure_latency(stack, scale, scale.latency_ms))
    calls = ", ".join(f"{s} {lat.system_calls(s):,}" for s in lat.calls)
    progress(
        f"  released at {lat.month_end.total_seconds:.0f} s ({calls} calls); ERP floor "
        f"{lat.floor_seconds:.0f} s (x{lat.floor_ratio:.2f}); naive "
        f"{lat.naive.per_second:.1f}/s (month-end x{lat.speedup:.0f})"
    )
    return lat


async def measure(scale: Scale, overrides: dict[str, dict[str, Any]] | None = None) -> Figures:
    """Start everything, measure every figure, stop everything."""
    progress("starting the dev server, the sandbox and the workers")
    async with Stack(overrides) as stack:
        title = f"saga throughput: {scale.sagas} sagas, then as many bare workflows"
        sagas = await _phase(stack, scale, title, measure_sagas(stack, scale.sagas))
        progress(f"  {sagas.sagas_per_second:.1f} sagas/s, {sagas.bare_per_second:.1f} bare/s")
        saga_peak = rss_mib(stack.worker_pid, "VmHWM")
        series = volume_series(scale)
        volume = next(v for v in series if v.period == scale.period)
        title = f"month-end: {volume.entries:,} entries over {volume.projects:,} projects"
        work = month_end_on_fresh_worker(stack, volume, scale.release_at_once, count_release=True)
        main = await _phase(stack, scale, title, work)
        month = main.month_end
        _month_end_progress(month, main.peak_mib)
        erp, crm = total(month.release_calls, "erp"), total(month.release_calls, "crm")
        progress(f"  release: {erp:,} ERP and {crm:,} CRM calls for {month.drafted:,} invoices")
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
        volumes = await _volumes(stack, scale, main, series)
        latency = await _latency(stack, scale) if scale.latency_ms else None
        figures = Figures(
            settings=stack.settings,
            sagas=sagas,
            month_end=month,
            naive=naive,
            peak_mib=max(saga_peak, main.peak_mib),
            memory=memory,
            reconcile=reconciled,
            saga_peak_mib=saga_peak,
            month_end_peak_mib=main.peak_mib,
            volumes=volumes,
            latency=latency,
        )
    progress("done")
    return figures


async def run(scale: Scale, overrides: dict[str, dict[str, Any]] | None = None) -> str:
    """The benchmark's table."""
    return render(await measure(scale, overrides))
