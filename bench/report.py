"""The one markdown table the benchmark prints."""

import math
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass, field
from importlib.metadata import version

from bench.latency import LatencyFigures
from bench.memory import MemoryFigures
from bench.month_end import MonthEndFigures
from bench.naive import NaiveFigures
from bench.reconcile import ReconcileFigures
from bench.report_load import cpu_rows, history_row, latency_rows, release_calls_row, volume_rows
from bench.sagas import SagaFigures
from bench.stack import TEMPORAL
from bench.volumes import VolumeFigures
from config import Settings
from sandbox.volume import Volume

HEADER = ["measure", "psflow", "baseline", "ratio"]


@dataclass
class Figures:
    settings: Settings
    sagas: SagaFigures
    month_end: MonthEndFigures
    naive: NaiveFigures
    peak_mib: float
    """The worker's peak RSS (VmHWM): the higher of the sagas' worker and the month-end's
    (a worker started just before it)."""
    memory: MemoryFigures
    reconcile: ReconcileFigures | None = None
    """One reconcile run over the month-end's period once every invoice is released."""
    saga_peak_mib: float = 0.0
    """The first worker's peak RSS, through the sagas."""
    month_end_peak_mib: float = 0.0
    """The peak RSS of the worker started just before the main month-end."""
    volumes: list[VolumeFigures] = field(default_factory=list)
    """Month-end at each volume on a fresh worker, the main one among them."""
    latency: LatencyFigures | None = None
    """Month-end with every request delayed, and the naive script at the same delay."""


def p95(values: list[float]) -> float:
    """The 95th percentile, nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _latency(values: list[float]) -> tuple[str, str]:
    return f"median {statistics.median(values):.3f} s", f"p95 {p95(values):.3f} s"


def _temporal_version() -> str:
    answer = subprocess.run([str(TEMPORAL), "--version"], capture_output=True, text=True)
    return answer.stdout.strip().removeprefix("temporal version ") or "unknown"


def machine_rows(settings: Settings) -> list[list[str]]:
    w, billing = settings.worker, settings.billing
    versions = (
        f"Python {platform.python_version()}, temporalio {version('temporalio')}, "
        f"psflow {version('psflow')}, Temporal CLI {_temporal_version()}"
    )
    tuning = (
        f"activities {w.max_concurrent_activities}, workflow tasks "
        f"{w.max_concurrent_workflow_tasks}, pollers {w.workflow_pollers} wf / "
        f"{w.activity_pollers} act, cache {w.max_cached_workflows}, eager activities "
        f"{'on' if w.eager_activities else 'off'}, sandbox passthrough "
        f"{'all' if w.sandbox_passthrough else 'default'}; ERP connector "
        f"{settings.erp.concurrency} / sandbox limit {settings.sandbox.erp_concurrency_limit}; "
        f"page {billing.page_size}, month-end concurrency {billing.month_end_concurrency}"
    )
    return [
        ["machine", f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}", "", ""],
        ["versions", versions, "", ""],
        ["settings", tuning, "", ""],
    ]


def figure_rows(f: Figures) -> list[list[str]]:
    s, m, n, mem = f.sagas, f.month_end, f.naive, f.memory
    v = m.volume
    per_run = (mem.waiting_mib - mem.idle_mib) * 1024 / mem.waiting
    return [
        [
            f"saga throughput ({s.sagas} at once, {s.activities} activities each)",
            f"{s.sagas_per_second:.1f} opportunity-to-project/s ({s.saga_seconds:.1f} s)",
            f"{s.bare_per_second:.1f} bare workflows/s ({s.bare_seconds:.1f} s)",
            f"{s.ratio:.2f}",
        ],
        [
            "saga throughput against bare workflows making the same calls (engine overhead)",
            f"{s.sagas_per_second:.1f} opportunity-to-project/s",
            f"{s.same_calls_per_second:.1f} bare workflows with the saga's activities/s "
            f"({s.same_calls_seconds:.1f} s)",
            f"{s.engine_ratio:.2f}",
        ],
        [
            f"month-end {v.entries:,} entries / {v.projects:,} projects: posted, drafted, "
            "approved, released",
            f"{m.posted_per_second:,.0f} posted entries/s ({m.posted:,} posted, {m.drafted:,} "
            f"invoices; drafted at {m.draft_seconds:.0f} s, released at {m.total_seconds:.0f} s)",
            f"naive script: {n.per_second:,.0f} entries/s ({n.entries:,} one call each, "
            f"{n.seconds:.0f} s)",
            f"{m.posted_per_second / n.per_second:.1f}",
        ],
        [
            f"worker memory (RSS), {mem.waiting:,} waiting for approval",
            f"{mem.waiting_mib:.0f} MiB ({per_run:.0f} KiB per waiting run)",
            f"idle: {mem.idle_mib:.0f} MiB",
            f"{mem.waiting_mib / mem.idle_mib:.2f}",
        ],
        [
            "worker peak RSS through sagas and month-end",
            f"{f.peak_mib:.0f} MiB",
            f"sagas {f.saga_peak_mib:.0f} MiB; month-end {v.entries:,} on a fresh worker "
            f"{f.month_end_peak_mib:.0f} MiB",
            "",
        ],
        [
            f"approval to released, one at a time ({len(mem.latencies)}, {mem.waiting:,} waiting)",
            *_latency(mem.latencies),
            "",
        ],
        [
            f"approval to released, month-end release ({m.drafted:,}, {m.at_once} at once)",
            *_latency(m.latencies),
            "",
        ],
        *([_reconcile_row(f.reconcile, v)] if f.reconcile else []),
        history_row(s, m),
        release_calls_row(m),
        *volume_rows(f.volumes),
        *cpu_rows(f.volumes, f.latency),
        *(latency_rows(f.latency) if f.latency else []),
    ]


def _reconcile_row(r: ReconcileFigures, v: Volume) -> list[str]:
    calls = ", ".join(f"{system} {r.system_calls(system):,}" for system in r.calls)
    return [
        f"reconciliation after month-end ({v.projects:,} projects, {v.entries:,} entries)",
        f"{r.seconds:.1f} s, {r.total_calls:,} HTTP calls ({calls})",
        f"history {r.events} events, {r.history_bytes / 1024:.0f} KiB",
        "",
    ]


def render(f: Figures) -> str:
    """The markdown table: machine and versions, then every figure."""
    rows = [HEADER, ["---"] * len(HEADER), *machine_rows(f.settings), *figure_rows(f)]
    return "\n".join("| " + " | ".join(cell.replace("|", "/") for cell in r) + " |" for r in rows)
