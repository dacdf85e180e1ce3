"""Reconciliation at month-end volume: one `reconcile` run, timed, its HTTP calls to each
system counted and its history weighed.

`python -m bench.reconcile [--quick]` runs it alone: seed the volume, reconcile (nothing
posted yet: every project has unposted time), run month-end and release every invoice,
reconcile again (what a scheduled run sees after the close). `python -m bench` runs the
second one after its own month-end.

The calls are counted by the sandbox itself: a fault with no status and no latency passes
every request through and counts it (`hits` in `GET /__admin/faults`), one per route kind.
"""

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field

import httpx

from bench.month_end import measure_month_end, seed_volume
from bench.stack import Stack
from models.reconcile import RECONCILE, ReconcileInput, ReconcileResult
from sandbox.volume import Volume

# Counted route kinds per system, most specific first (a request counts under the first).
ROUTES = {
    "crm": {"SOQL": "*/query*", "other": "*"},
    "erp": {
        "job": "*/record/v1/job*",
        "invoice": "*/record/v1/invoice*",
        "SuiteQL": "*/suiteql*",
        "other": "*",
    },
    "psa": {
        "projects": "*/api/v1/projects*",
        "billing projects": "*/api/v1/billing/projects*",
        "time entries": "*/api/v1/time-entries*",
        "other": "*",
    },
}
PASS_THROUGH = {"status": None, "latency_ms": 0, "count": 1_000_000_000}


@dataclass
class ReconcileFigures:
    label: str
    seconds: float
    calls: dict[str, dict[str, int]]
    """system -> route kind -> requests."""
    events: int
    history_bytes: int
    largest_event_bytes: int
    found: dict[str, int] = field(default_factory=dict)

    def system_calls(self, system: str) -> int:
        return sum(self.calls.get(system, {}).values())

    @property
    def total_calls(self) -> int:
        return sum(self.system_calls(s) for s in self.calls)


async def _arm_counters(http: httpx.AsyncClient, stack: Stack) -> None:
    for system, routes in ROUTES.items():
        url = f"{stack.url(system)}/__admin/faults"
        (await http.delete(url)).raise_for_status()
        for pattern in routes.values():
            (await http.post(url, json={"path": pattern, **PASS_THROUGH})).raise_for_status()


async def _read_counters(http: httpx.AsyncClient, stack: Stack) -> dict[str, dict[str, int]]:
    calls = {}
    for system, routes in ROUTES.items():
        url = f"{stack.url(system)}/__admin/faults"
        hits = {f["path"]: f["hits"] for f in (await http.get(url)).json()}
        calls[system] = {name: hits.get(pattern, 0) for name, pattern in routes.items()}
        (await http.delete(url)).raise_for_status()
    return calls


async def measure_reconcile(stack: Stack, label: str, periods: list[str]) -> ReconcileFigures:
    """One reconcile run over `periods` on the stack's worker, start to result."""
    workflow_id = f"{RECONCILE}/bench-{label}-{time.time_ns()}"
    async with httpx.AsyncClient(timeout=30) as http:
        await _arm_counters(http, stack)
        started = time.perf_counter()
        result = await stack.client.execute_workflow(
            RECONCILE,
            ReconcileInput(requested_by="bench", periods=periods),
            id=workflow_id,
            task_queue=stack.settings.temporal.task_queue,
            result_type=ReconcileResult,
        )
        seconds = time.perf_counter() - started
        calls = await _read_counters(http, stack)
    history = await stack.client.get_workflow_handle(workflow_id).fetch_history()
    sizes = [event.ByteSize() for event in history.events]
    return ReconcileFigures(
        label=label,
        seconds=seconds,
        calls=calls,
        events=len(sizes),
        history_bytes=sum(sizes),
        largest_event_bytes=max(sizes),
        found={c.kind.value: c.found for c in result.counts},
    )


def describe(f: ReconcileFigures) -> str:
    """One line: time, calls by system and route, history, findings."""
    systems = "; ".join(
        f"{system} {f.system_calls(system)} ("
        + ", ".join(f"{name} {n}" for name, n in routes.items() if n)
        + ")"
        for system, routes in f.calls.items()
    )
    found = ", ".join(f"{kind} {n}" for kind, n in f.found.items())
    return (
        f"{f.label}: {f.seconds:.1f} s, {f.total_calls:,} HTTP calls [{systems}], "
        f"history {f.events} events / {f.history_bytes / 1024:.0f} KiB "
        f"(largest event {f.largest_event_bytes / 1024:.1f} KiB); found {found}"
    )


async def _standalone(volume: Volume, at_once: int) -> list[ReconcileFigures]:
    async with Stack() as stack:
        print(
            f"seeding {volume.entries:,} entries over {volume.projects:,} projects", file=sys.stderr
        )
        await seed_volume(stack, volume)
        before = await measure_reconcile(stack, "before month-end", [volume.period])
        print(describe(before), file=sys.stderr)
        await measure_month_end(stack, volume, at_once)
        after = await measure_reconcile(stack, "after month-end", [volume.period])
        print(describe(after), file=sys.stderr)
        return [before, after]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5,000 entries over 50 projects")
    args = parser.parse_args()
    volume = Volume(projects=50, entries=5_000) if args.quick else Volume()
    for figures in asyncio.run(_standalone(volume, at_once=20)):
        print(describe(figures))


if __name__ == "__main__":
    main()
