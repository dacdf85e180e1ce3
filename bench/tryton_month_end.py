"""Month-end against a Tryton ERP: `python -m bench.tryton_month_end [--quick] [--netsuite]`.

Starts a Temporal dev server, the sandbox (its NetSuite idle), a trytond on a fresh copy of
the prepared database (stack/tryton.py) logging every JSON-RPC call with its duration, and
the psflow worker with `[erp] kind = "tryton"` (its PSFLOW_ERP_* variables, as `psflow sandbox
up --erp tryton` gives them). Seeds the volume in Tryton (stack/tryton_volume.py) and in the
PSA (with Tryton's project ids) and CRM, then times month-end from its start to the last
invoice released, as bench/month_end.py does for NetSuite.

Tryton's own time is what trytond logs for the calls it answered in that window: their
durations summed (calls overlap, so the sum may pass the wall time) and the CPU seconds its
process used. Not part of `make test` or `make bench`: about 1.5 minutes on 2 cores
(bench/README.md, "Month-end against Tryton").
"""

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.counters import cpu_used
from bench.month_end import (
    issuer_store,
    measure_month_end,
    release_all,
    run_month_end,
    waiting_for_finance,
)
from bench.stack import ROOT, Stack, cpu_seconds, free_port
from connectors.tryton import TrytonErpConnector
from sandbox.volume import Volume
from stack.tryton import (
    TrytonServer,
    copy_database,
    prepare_template,
    start_trytond,
    stop_trytond,
)
from stack.tryton_sandbox import worker_variables
from stack.tryton_volume import seed_linked
from store.exceptions import list_exceptions

FULL = Volume(projects=50, entries=10_000)
QUICK = Volume(projects=10, entries=1_000)
# The prepared database is kept where the tests keep it, so either one builds it for both.
TEMPLATES = ROOT / ".psflow" / "tryton"
DATABASE = "psflow"
INFO = "20"
# trytond's line for each call it answered: <model>.<method>(<args>) from <who> in <n> ms
CALL = re.compile(r" trytond\.protocols\.dispatcher ([\w.]+)\(.* in (\d+) ms$")
REFUSED = "refused by the ERP"
AT_ONCE = 20  # approvals in flight during the release, as `make bench` releases


@dataclass
class Calls:
    """Calls trytond answered, by `model.method`: how many, and milliseconds in all."""

    count: Counter[str] = field(default_factory=Counter)
    milliseconds: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return self.count.total()

    @property
    def seconds(self) -> float:
        return self.milliseconds.total() / 1000


def tryton_calls(log: str) -> Calls:
    """The calls in a stretch of trytond's log (its INFO lines, one per call)."""
    calls = Calls()
    for line in log.splitlines():
        found = CALL.search(line)
        if found:
            calls.count[found[1]] += 1
            calls.milliseconds[found[1]] += int(found[2])
    return calls


@dataclass
class TrytonMonthEndFigures:
    volume: Volume
    seed_seconds: float
    posted: int
    exceptions: int
    refused: int
    """Exceptions Tryton gave (an employee of another company than the project's)."""
    drafted: int
    draft_seconds: float
    total_seconds: float
    calls: Calls
    cpu: dict[str, float]
    """CPU seconds per process, from starting month-end to the last release."""

    def describe(self) -> str:
        v, c = self.volume, self.calls
        busiest = ", ".join(
            f"{name} {c.count[name]} / {c.milliseconds[name] / 1000:.1f} s"
            for name, _ in c.milliseconds.most_common(5)
        )
        cpu = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.cpu.items())
        return "\n".join(
            [
                f"month-end against Tryton, {v.entries:,} entries / {v.projects} projects "
                f"({v.period}, seed {v.seed}; seeded in {self.seed_seconds:.1f} s)",
                f"  {self.total_seconds:.1f} s to the last release (drafted at "
                f"{self.draft_seconds:.1f} s), {self.posted:,} posted "
                f"({self.posted / self.total_seconds:.0f}/s), {self.drafted} invoices",
                f"  {self.exceptions} exceptions, {self.refused} of them refused by Tryton",
                f"  Tryton: {c.total:,} calls, {c.seconds:.1f} s answering them "
                f"(busiest: {busiest})",
                f"  CPU: {cpu}",
            ]
        )


class TrytonStack(Stack):
    """The bench's stack whose psflow worker uses a trytond in the stack's folder."""

    def __init__(self) -> None:
        super().__init__(bare_worker=False, prefix="psflow-bench-tryton-")
        self.tryton_dir = self.folder / "tryton"
        self.tryton: TrytonServer | None = None
        self.trytond: subprocess.Popen[bytes] | None = None
        self._erp_variables: dict[str, str] = {}

    def start_tryton(self) -> TrytonServer:
        """trytond on a fresh copy of the prepared database, logging each call it answers."""
        template = prepare_template(TEMPLATES)
        copy_database(template, self.tryton_dir / "databases", DATABASE)
        os.environ["TRYTOND_LOGGING_LEVEL"] = INFO  # trytond reads it from its environment
        try:
            process, server = start_trytond(
                self.tryton_dir, self.tryton_dir / "databases", DATABASE, free_port()
            )
        finally:
            del os.environ["TRYTOND_LOGGING_LEVEL"]
        self.trytond = process
        self.tryton = server
        password = self.tryton_dir / "erp-password"
        password.touch(mode=0o600)
        password.write_text(server.password)
        self._erp_variables = worker_variables(server, password)
        return server

    @property
    def tryton_log(self) -> Path:
        assert self.tryton is not None, "trytond is not started"
        return self.tryton.config.with_suffix(".log")

    def _child_env(self) -> dict[str, str]:
        return super()._child_env() | self._erp_variables

    def cpu(self) -> dict[str, tuple[int, float]]:
        """As the stack's, with trytond's."""
        assert self.trytond is not None, "trytond is not started"
        pid = self.trytond.pid
        return super().cpu() | {"tryton": (pid, cpu_seconds(pid))}

    async def stop(self) -> None:
        """The stack's processes, then trytond."""
        await super().stop()
        if self.trytond is not None:
            stop_trytond(self.trytond)
            self.trytond = None


async def seed(stack: TrytonStack, volume: Volume) -> float:
    """The volume in Tryton, then in the PSA and the CRM (naming Tryton's project ids)."""
    assert stack.tryton is not None
    started = time.perf_counter()
    erp = TrytonErpConnector.build(stack.tryton.url, stack.tryton.login, stack.tryton.password)
    try:
        await seed_linked(volume, erp, [stack.url("psa"), stack.url("crm")])
    finally:
        await erp.aclose()
    return time.perf_counter() - started


async def measure(stack: TrytonStack, volume: Volume, at_once: int) -> TrytonMonthEndFigures:
    """Seed, then month-end from its start to the last invoice released."""
    seed_seconds = await seed(stack, volume)
    offset = stack.tryton_log.stat().st_size
    cpu_before = stack.cpu()
    started = time.perf_counter()
    totals = await run_month_end(stack, volume.period)
    drafted = time.perf_counter()
    ids = await waiting_for_finance(stack.client, volume.period, totals.drafted)
    if len(ids) != totals.drafted:
        raise RuntimeError(f"{totals.drafted} drafted but {len(ids)} wait for finance")
    with issuer_store(stack) as engine:
        await release_all(stack.client, engine, ids, at_once)
        found = list_exceptions(engine, period=volume.period)
    total = time.perf_counter() - started
    cpu = cpu_used(cpu_before, stack.cpu())
    with stack.tryton_log.open("rb") as log:
        log.seek(offset)
        calls = tryton_calls(log.read().decode(errors="replace"))
    return TrytonMonthEndFigures(
        volume=volume,
        seed_seconds=seed_seconds,
        posted=totals.posted,
        exceptions=totals.exceptions,
        refused=sum(1 for x in found if x.reason == REFUSED),
        drafted=totals.drafted,
        draft_seconds=drafted - started,
        total_seconds=total,
        calls=calls,
        cpu=cpu,
    )


async def run(volume: Volume, at_once: int) -> TrytonMonthEndFigures:
    """The whole run on a stack of its own, stopped at the end."""
    stack = TrytonStack()
    try:
        stack.start_tryton()
        async with stack:
            print(
                f"seeding {volume.entries:,} entries over {volume.projects} projects",
                file=sys.stderr,
            )
            return await measure(stack, volume, at_once)
    finally:
        await stack.stop()


async def run_netsuite(volume: Volume, at_once: int) -> str:
    """The same volume's month-end against the sandbox NetSuite, on a stack of its own."""
    async with Stack(bare_worker=False) as stack:
        f = await measure_month_end(stack, volume, at_once)
    cpu = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in f.cpu.items())
    return (
        f"the same against the sandbox NetSuite: {f.total_seconds:.1f} s to the last release "
        f"(drafted at {f.draft_seconds:.1f} s), {f.posted:,} posted, {f.drafted} invoices\n"
        f"  CPU: {cpu}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tryton_month_end", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 entries over 10 projects")
    parser.add_argument(
        "--netsuite", action="store_true", help="then the same volume against the sandbox NetSuite"
    )
    args = parser.parse_args()
    volume = QUICK if args.quick else FULL
    print(asyncio.run(run(volume, at_once=AT_ONCE)).describe())
    if args.netsuite:
        print(asyncio.run(run_netsuite(volume, at_once=AT_ONCE)))


if __name__ == "__main__":
    main()
