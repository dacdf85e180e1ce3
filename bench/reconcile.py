"""Reconciliation at month-end volume: one `reconcile` run, timed, its HTTP calls to each
system counted and its history weighed.

`python -m bench.reconcile [--quick]` runs it alone: seed the volume, reconcile (nothing
posted yet: every project has unposted time), run month-end and release every invoice,
reconcile again (what a scheduled run sees after the close). `python -m bench` runs the
second one after its own month-end.

The calls are counted by the sandbox itself (bench/counters.py).
"""

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field

import httpx

from bench.counters import Calls, arm_counters, read_counters
from bench.month_end import measure_month_end, seed_volume
from bench.stack import Stack
from models.reconcile import RECONCILE, ReconcileInput, ReconcileResult
from sandbox.volume import Volume


@dataclass
class ReconcileFigures:
    label: str
    seconds: float
    calls: Calls
    events: int
    history_bytes: int
    largest_event_bytes: int
    found: dict[str, int] = field(default_factory=dict)

    def system_calls(self, system: str) -> int:
        return sum(self.calls.get(system, {}).values())

    @property
    def total_calls(self) -> int:
        return sum(self.system_calls(s) for s in self.calls)


async def measure_reconcile(stack: Stack, label: str, periods: list[str]) -> ReconcileFigures:
    """One reconcile run over `periods` on the stack's worker, start to result."""
    workflow_id = f"{RECONCILE}/bench-{label}-{time.time_ns()}"
    async with httpx.AsyncClient(timeout=30) as http:
        await arm_counters(http, stack)
        started = time.perf_counter()
        result = await stack.client.execute_workflow(
            RECONCILE,
            ReconcileInput(requested_by="bench", periods=periods),
            id=workflow_id,
            task_queue=stack.settings.temporal.task_queue,
            result_type=ReconcileResult,
        )
        seconds = time.perf_counter() - started
        calls = await read_counters(http, stack)
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
