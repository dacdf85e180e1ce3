"""The chaos stack with Tryton as the ERP (`python -m chaos --erp tryton`): a trytond of the
run's own, on a fresh copy of the prepared database (stack/tryton.py) in the run's folder, is
the worker's ERP; the sandbox NetSuite still runs, but nothing calls it.

The ERP outage is what it would be with Tryton: trytond SIGKILLed for the outage's length,
then started again on the same database and port. A trytond has no fault routes, so 429
storms, lost answers and slowed steps stay on the CRM and PSA (Plan.fault_systems).
"""

import asyncio
import re
import subprocess
from pathlib import Path
from typing import Any

from bench.stack import ROOT, Stack
from chaos.faults import Armed
from chaos.patience import sleep_until
from connectors.tryton import TrytonErpConnector
from sandbox.volume import Volume
from stack.tryton import (
    SQLITE_CONCURRENCY,
    TrytonServer,
    copy_database,
    free_port,
    prepare_template,
    start_trytond,
    stop_trytond,
)
from stack.tryton_volume import TrytonVolume, seed_linked

TEMPLATES = ROOT / ".psflow" / "tryton"
"""Where the prepared database is kept between runs (the tests' place too: built once)."""
DATABASE = "psflow"
# A log record per failed activity attempt (temporalio's), and how a connector says the ERP
# could not be reached (connectors/base.py)
RECORD_START = re.compile(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")
FAILED_ATTEMPT = "Completing activity as failed"
UNREACHED = re.compile(r"erp: POST \S* ?(failed: \w+|timed out)")


class TrytonStack(Stack):
    """The chaos stack (bench/stack.py) with `[erp] kind = "tryton"` at a trytond of its own."""

    def __init__(
        self, overrides: dict[str, dict[str, Any]] | None = None, *, keep: bool = False
    ) -> None:
        super().__init__(
            overrides, bare_worker=False, persistent=True, keep=keep, prefix="psflow-chaos-"
        )
        self.tryton_dir = self.folder / "tryton"
        self._port = free_port()
        self._trytond: subprocess.Popen[bytes] | None = None
        self._server: TrytonServer | None = None

    @property
    def tryton(self) -> TrytonServer:
        assert self._server is not None, "trytond was never started"
        return self._server

    async def _start(self) -> None:
        template = await asyncio.to_thread(prepare_template, TEMPLATES)
        copy_database(template, self.tryton_dir / "databases", DATABASE)
        await self.start_erp()
        erp = {
            "kind": "tryton",
            "url": self.tryton.url,
            "login": self.tryton.login,
            "password": self.tryton.password,
            "concurrency": SQLITE_CONCURRENCY,
        }
        self.overrides = {**self.overrides, "erp": {**self.overrides.get("erp", {}), **erp}}
        await super()._start()

    async def start_erp(self) -> None:
        """trytond on the run's database and port, answering once this returns."""
        log = self.tryton_dir / f"trytond-{self._port}.log"
        if log.exists():  # start_trytond writes a new log: keep the one before the kill
            log.rename(log.with_suffix(f".{log.stat().st_mtime_ns}.log"))
        self._trytond, self._server = await asyncio.to_thread(
            start_trytond, self.tryton_dir, self.tryton_dir / "databases", DATABASE, self._port
        )

    def kill_erp(self) -> None:
        """SIGKILL trytond, as a crash would end it; it stays down until started again."""
        if self._trytond is not None:
            self._trytond.kill()
            self._trytond.wait()
            self._trytond = None

    async def stop(self) -> None:
        """The worker first (it calls trytond), then trytond, then the rest."""
        if "worker" in self.processes:
            self.processes.pop("worker").stop()
        if self._trytond is not None:
            stop_trytond(self._trytond)
            self._trytond = None
        await super().stop()

    async def seed_volume(self, volume: Volume) -> TrytonVolume:
        """The volume in Tryton (as psflow's integration user), then in the PSA and the CRM
        with Tryton's project ids."""
        erp = TrytonErpConnector.build(self.tryton.url, self.tryton.login, self.tryton.password)
        try:
            return await seed_linked(volume, erp, [self.url("psa"), self.url("crm")])
        finally:
            await erp.aclose()


def unreached_attempts(log: Path, since: int) -> int:
    """Activity attempts the worker logged as failed for want of the ERP, from byte `since`."""
    if not log.exists():
        return 0
    text = log.read_bytes()[since:].decode(errors="replace")
    return sum(1 for r in RECORD_START.split(text) if FAILED_ATTEMPT in r and UNREACHED.search(r))


async def stop_erp_at(stack: TrytonStack, moment: float, outage: Armed) -> None:
    """The ERP outage with Tryton: trytond SIGKILLed at the time.monotonic() `moment` and
    started again on its database `outage.seconds` later; `outage.refused` counts the
    activity attempts that could not reach it meanwhile."""
    await sleep_until(moment)
    log = stack.folder / "worker.log"
    since = log.stat().st_size if log.exists() else 0
    outage.stopped = True
    stack.kill_erp()
    await asyncio.sleep(outage.seconds)
    await stack.start_erp()
    outage.refused = unreached_attempts(log, since)
