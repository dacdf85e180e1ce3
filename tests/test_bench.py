"""The benchmark's own code paths in miniature, so `make bench` cannot rot unnoticed.

Its own dev server, sandbox and workers, tiny numbers; nothing here times anything.
"""

import math
from pathlib import Path

from bench.counters import total
from bench.report import render
from bench.run import measure, parse_overrides
from bench.scale import TINY
from config import WorkerSettings, load_settings
from worker import PROOF_MODULES, worker_options

ROWS = [
    "machine",
    "versions",
    "settings",
    "saga throughput",
    "saga throughput against bare workflows making the same calls",
    "month-end",
    "worker memory",
    "worker peak RSS",
    "approval to released, one at a time",
    "approval to released, month-end release",
    "reconciliation after month-end",
    "history events per run",
    "ERP calls per invoice",
    *(f"month-end at {entries:,} entries" for entries in TINY.volumes),
    *(f"CPU s per 1,000 posted entries, month-end at {entries:,}" for entries in TINY.volumes),
    f"CPU s per 1,000 posted entries, month-end at {TINY.latency_ms} ms",
    f"month-end at {TINY.latency_ms} ms per request (",
    f"month-end at {TINY.latency_ms} ms per request against the naive script",
]


def positive(*values: float) -> bool:
    return all(math.isfinite(v) and v > 0 for v in values)


async def test_the_benchmark_measures_every_figure_and_prints_one_row_each() -> None:
    figures = await measure(TINY, parse_overrides(["billing.page_size=50"]))

    s, m, n, mem = figures.sagas, figures.month_end, figures.naive, figures.memory
    assert s.sagas == TINY.sagas and s.activities > 0
    assert positive(s.sagas_per_second, s.bare_per_second, s.ratio)
    assert positive(s.same_calls_per_second, s.engine_ratio)
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
    assert s.events > 0 and m.events > 0
    assert total(m.release_calls, "erp") > 0 and total(m.release_calls, "crm") > 0
    assert [v.month_end.volume.entries for v in figures.volumes] == list(TINY.volumes)
    assert len({v.month_end.volume.period for v in figures.volumes}) == len(TINY.volumes)
    assert any(v.month_end is m for v in figures.volumes), "the main month-end is one of them"
    assert figures.peak_mib == max(figures.saga_peak_mib, figures.month_end_peak_mib)
    for v in figures.volumes:
        me = v.month_end
        assert me.posted > 0 and len(me.latencies) == me.drafted
        assert positive(me.total_seconds, me.posted_per_second, v.peak_mib)
        assert positive(me.cpu_per_thousand("temporal"), me.cpu_per_thousand("worker"))
    lat = figures.latency
    assert lat is not None and lat.latency_ms == TINY.latency_ms
    assert lat.naive.entries == TINY.latency_naive <= lat.naive_calls
    assert all(lat.system_calls(s) > 0 for s in ("erp", "psa", "crm"))
    lm = lat.month_end
    assert lm.posted > 0 and lm.volume.period == TINY.latency_period
    assert positive(lm.total_seconds, lat.floor_seconds, lat.floor_ratio, lat.naive_seconds)
    assert positive(lat.speedup, lm.cpu_per_thousand("temporal"), lm.cpu_per_thousand("worker"))
    assert lat.month_end.total_seconds >= lat.floor_seconds, "nothing beats the ERP's limit"

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
    # the sandbox checks psflow's workflow code; only the proof libraries pass through it
    default = options["workflow_runner"].restrictions
    assert not default.passthrough_all_modules
    assert set(PROOF_MODULES) <= default.passthrough_modules
    asked = worker_options(WorkerSettings(sandbox_passthrough=True))["workflow_runner"]
    assert asked.restrictions.passthrough_all_modules
