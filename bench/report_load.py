"""The table's rows on load: month-end at several volumes and at latency, CPU per posted
entry, ERP calls per released invoice, events per run."""

from bench.counters import total
from bench.latency import LatencyFigures
from bench.month_end import MonthEndFigures
from bench.sagas import SagaFigures
from bench.volumes import VolumeFigures

# The targets the rows are read against.
FLOOR_TARGET = 1.5
NAIVE_TARGET = 100
ERP_CALLS_TARGET = 4


def history_row(s: SagaFigures, m: MonthEndFigures) -> list[str]:
    return [
        "history events per run",
        f"time-to-bill: {m.events} events (one released in month-end {m.volume.entries:,})",
        f"opportunity-to-project: {s.events} events (the warm-up saga)",
        "",
    ]


def release_calls_row(m: MonthEndFigures) -> list[str]:
    """ERP calls per invoice from approval to released (CRM status included)."""
    erp, crm = total(m.release_calls, "erp"), total(m.release_calls, "crm")
    released = max(m.drafted, 1)
    return [
        f"ERP calls per invoice, drafted to released with CRM status ({m.drafted:,} released)",
        f"{erp / released:.1f} ERP calls per invoice ({erp:,} calls; target ≤ {ERP_CALLS_TARGET})",
        f"CRM: {crm / released:.1f} calls per invoice ({crm:,} calls)",
        "",
    ]


def _volume_label(m: MonthEndFigures) -> str:
    return f"{m.volume.entries:,} entries / {m.volume.projects:,} projects"


def volume_rows(volumes: list[VolumeFigures]) -> list[list[str]]:
    """Per volume: start to last release, posted entries/s, the fresh worker's peak RSS."""
    return [
        [
            f"month-end at {_volume_label(v.month_end)}, fresh worker",
            f"{v.month_end.posted_per_second:,.0f} posted entries/s ({v.month_end.posted:,} "
            f"posted; released at {v.month_end.total_seconds:.0f} s)",
            f"worker peak RSS {v.peak_mib:.0f} MiB",
            "",
        ]
        for v in volumes
    ]


def cpu_row(m: MonthEndFigures, what: str) -> list[str]:
    """Dev server and psflow worker CPU seconds per 1,000 posted entries, start to release."""
    return [
        f"CPU s per 1,000 posted entries, month-end {what}",
        f"dev server {m.cpu_per_thousand('temporal'):.2f} s",
        f"psflow worker {m.cpu_per_thousand('worker'):.2f} s",
        "",
    ]


def cpu_rows(volumes: list[VolumeFigures], latency: LatencyFigures | None) -> list[list[str]]:
    rows = [cpu_row(v.month_end, f"at {v.month_end.volume.entries:,}") for v in volumes]
    if latency:
        rows.append(cpu_row(latency.month_end, f"at {latency.latency_ms} ms per request"))
    return rows


def latency_rows(lat: LatencyFigures) -> list[list[str]]:
    """Month-end with every request delayed: against the ERP's floor and the naive script."""
    m, n, ms = lat.month_end, lat.naive, lat.latency_ms
    calls = " / ".join(f"{s.upper()} {lat.system_calls(s):,}" for s in ("erp", "psa", "crm"))
    erp = lat.limited_erp_calls
    return [
        [
            f"month-end at {ms} ms per request ({_volume_label(m)}): released, calls",
            f"{m.total_seconds:.1f} s to the last release, {m.posted_per_second:,.0f} posted "
            f"entries/s ({m.posted:,} posted; {calls} calls)",
            f"ERP floor: {erp:,} record and SuiteQL calls × {ms} ms ÷ limit {lat.erp_limit} "
            f"= {lat.floor_seconds:.1f} s",
            f"{lat.floor_ratio:.2f} (target ≤ {FLOOR_TARGET})",
        ],
        [
            f"month-end at {ms} ms per request against the naive script",
            f"{m.posted_per_second:,.1f} posted entries/s",
            f"naive script: {n.per_second:.2f} entries/s ({n.entries:,} one call each, "
            f"{lat.naive_calls:,} ERP calls with its token and a read before timing, "
            f"{n.seconds:.1f} s; extrapolated to {m.posted:,} entries: {lat.naive_seconds:,.0f} s)",
            f"{lat.speedup:.0f} (target ≥ {NAIVE_TARGET})",
        ],
    ]
