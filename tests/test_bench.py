"""The benchmark's own code paths in miniature, so `make bench` cannot rot unnoticed.

Its own dev server, sandbox and workers, tiny numbers; nothing here times anything.
"""

import math
from pathlib import Path

from bench.report import render
from bench.run import measure, parse_overrides
from bench.scale import TINY
from config import WorkerSettings, load_settings
from worker import worker_options

ROWS = [
    "machine",
    "versions",
    "settings",
    "saga throughput",
    "month-end",
    "worker memory",
    "worker peak RSS",
    "approval to released, one at a time",
    "approval to released, month-end release",
    "reconciliation after month-end",
]


def positive(*values: float) -> bool:
    return all(math.isfinite(v) and v > 0 for v in values)


async def test_the_benchmark_measures_every_figure_and_prints_one_row_each() -> None:
    figures = await measure(TINY, parse_overrides(["billing.page_size=50"]))

    s, m, n, mem = figures.sagas, figures.month_end, figures.naive, figures.memory
    assert s.sagas == TINY.sagas and s.activities > 0
    assert positive(s.sagas_per_second, s.bare_per_second, s.ratio)
    assert m.posted > 0 and m.drafted > 0 and len(m.latencies) == m.drafted
    assert positive(m.posted_per_second, m.draft_seconds, m.total_seconds, *m.latencies)
    assert n.entries == TINY.naive and positive(n.per_second)
    assert mem.waiting >= TINY.waiting and len(mem.latencies) == TINY.one_by_one
    assert positive(mem.idle_mib, mem.waiting_mib, figures.peak_mib, *mem.latencies)
    assert figures.settings.billing.page_size == 50, "overrides reach the stack's config"
    r = figures.reconcile
    assert r is not None and r.events > 0 and r.largest_event_bytes > 0
    assert r.system_calls("psa") > 0 and r.system_calls("erp") > 0 and r.system_calls("crm") > 0
    assert r.found["unposted_time"] == 0, "month-end posted every valid entry"

    table = render(figures).splitlines()
    assert table[0].startswith("| measure |") and set(table[1]) <= set("|- ")
    labels = [line.split("|")[1].strip() for line in table[2:]]
    assert len(labels) == len(ROWS)
    for row, label in zip(ROWS, labels, strict=True):
        assert label.startswith(row), f"{label!r} is not the {row!r} row"
    assert all(line.count("|") == 5 for line in table)


def test_overrides_read_numbers_and_booleans() -> None:
    pairs = ["worker.max_concurrent_activities=200", "worker.eager_activities=false"]
    assert parse_overrides(pairs) == {
        "worker": {"max_concurrent_activities": 200, "eager_activities": False}
    }


def test_worker_tuning_comes_from_the_worker_section_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "psflow.toml"
    config.write_text("[worker]\nmax_concurrent_activities = 40\neager_activities = false\n")
    settings = load_settings(config, env={"PSFLOW_WORKER_WORKFLOW_POLLERS": "3"})
    options = worker_options(settings.worker)
    assert options["max_concurrent_activities"] == 40
    assert options["disable_eager_activity_execution"] is True
    assert options["workflow_task_poller_behavior"].maximum == 3
    assert "workflow_runner" not in options, "the default sandbox stays unless asked"
    assert "workflow_runner" in worker_options(WorkerSettings(sandbox_passthrough=True))
