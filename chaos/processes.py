"""SIGKILLs of the worker and the dev server at the scheduled moments, each restarted after a
pause; a watchdog restarts a worker that died on its own, and counts it."""

import asyncio
import sys
import time
from dataclasses import dataclass, field

from bench.stack import Stack
from chaos.patience import sleep_until
from chaos.plan import Kill

WORKER = "worker"
SERVER = "temporal"
RESTART_ATTEMPTS = 5


@dataclass
class Kills:
    worker: int = 0
    server: int = 0
    unplanned_worker_exits: int = 0
    """Worker exits the harness did not cause (the watchdog restarted it)."""
    log: list[str] = field(default_factory=list)


class Supervisor:
    """Kills and restarts the stack's worker and server; one at a time, in schedule order."""

    def __init__(self, stack: Stack, started: float) -> None:
        self.stack = stack
        self.started = started
        self.kills = Kills()
        self._lock = asyncio.Lock()  # a kill and the watchdog never restart at once

    def _note(self, text: str) -> None:
        line = f"[{time.monotonic() - self.started:6.1f} s] {text}"
        self.kills.log.append(line)
        print(line, file=sys.stderr, flush=True)

    async def run(self, kills: list[Kill]) -> None:
        """Each kill at its moment, the process back after its pause."""
        for kill in kills:
            await sleep_until(self.started + kill.at)
            async with self._lock:
                if kill.process == WORKER:
                    await self._kill_worker(kill.down_for)
                else:
                    await self._kill_server(kill.down_for)

    async def _kill_worker(self, down_for: float) -> None:
        self.stack.kill(WORKER)
        self.kills.worker += 1
        self._note(f"worker SIGKILLed; back in {down_for} s")
        await asyncio.sleep(down_for)
        await self._start_worker()

    async def _kill_server(self, down_for: float) -> None:
        self.stack.kill(SERVER)
        self.kills.server += 1
        self._note(f"dev server SIGKILLed; back in {down_for} s")
        await asyncio.sleep(down_for)
        await self.stack.restart_server()
        if not self.stack.running(WORKER):
            self._note("the worker did not outlive the server")
            await self._start_worker()

    async def _start_worker(self) -> None:
        for attempt in range(1, RESTART_ATTEMPTS + 1):
            try:
                await self.stack.start_worker()
                return
            except RuntimeError:
                if attempt == RESTART_ATTEMPTS:
                    raise
                await asyncio.sleep(1)

    async def watch(self) -> None:
        """Restart a worker that exits without being killed (until cancelled)."""
        while True:
            await asyncio.sleep(1)
            async with self._lock:
                if not self.stack.running(WORKER):
                    self.kills.unplanned_worker_exits += 1
                    self._note(f"the worker exited on its own:\n{self.stack.tail(WORKER)}")
                    await self._start_worker()

    async def ensure_up(self) -> None:
        """Server and worker running (the chaos is over)."""
        async with self._lock:
            if not self.stack.running(SERVER):
                await self.stack.restart_server()
            if not self.stack.running(WORKER):
                await self._start_worker()
