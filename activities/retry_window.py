"""How long an activity's transient trouble is waited out, and what it does while it waits.

Workflows retry steps without an attempt limit; this worker interceptor closes the window:
a retryable failure after the window of the system it names (`[retry]`) becomes
non-retryable, so the saga compensates. It also heartbeats an activity given a heartbeat
timeout, so that a cancellation or a dead worker is noticed within seconds, and lets a
cancelled activity finish its call before it reports the cancellation: the undo that
follows must never overtake the action it undoes.
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from connectors.errors import ConnectorError
from models.retrying import STALL_SIGNAL, Stall

UNNAMED = "store"  # failures that name no system: psflow's own store, or a defect
# The attempt whose retryable failure makes a run show itself stalled (about 3 s of trouble:
# one-off 429s and blips stay quiet).
STALLED_AT_ATTEMPT = 3
log = logging.getLogger(__name__)


class RetryWindowClosed(ApplicationError):
    """A step kept failing for longer than its system's retry window."""

    def __init__(self, system: str, window: timedelta, attempt: int, last: str) -> None:
        super().__init__(
            f"{system.upper()} still failing after {_words(window)} "
            f"({attempt} attempts), giving up: {last}",
            {"system": system, "window_seconds": window.total_seconds(), "attempt": attempt},
            type="RetryWindowClosed",
            non_retryable=True,
        )


class AttemptsTimedOut(ApplicationError):
    """No attempt of a step finished (each timed out, or its worker died) for far too long."""

    def __init__(self, waited: timedelta, attempt: int) -> None:
        super().__init__(
            f"no attempt finished in {_words(waited)} ({attempt} attempts): each timed out "
            "or its worker stopped, giving up",
            {"attempt": attempt},
            type="RetryWindowClosed",
            non_retryable=True,
        )


class RetryWindowInterceptor(Interceptor):
    """Worker interceptor: retry windows per system, heartbeats, cancellation that waits."""

    def __init__(self, windows: dict[str, timedelta], client: Client | None = None) -> None:
        """`client`: tells a run when its step stalls on a system and when it is through."""
        self.windows = windows
        self.client = client

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next, self.windows, self.client)


class _Inbound(ActivityInboundInterceptor):
    def __init__(
        self,
        next: ActivityInboundInterceptor,
        windows: dict[str, timedelta],
        client: Client | None,
    ) -> None:
        super().__init__(next)
        self._windows = windows
        self._longest = max(windows.values())
        self._client = client

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        waited = _waited(info)
        # Timeouts never reach the error check below: bound them by twice the longest
        # window, so that a system's own window always closes first.
        if info.attempt > 1 and waited > 2 * self._longest:
            raise AttemptsTimedOut(2 * self._longest, info.attempt)
        beating = _heartbeat(info.heartbeat_timeout) if info.heartbeat_timeout else None
        try:
            result = await _finish_before_cancelling(super().execute_activity(input))
        except Exception as exc:
            closed = self._closed(exc, info)
            if closed:
                raise closed from exc
            if info.attempt == STALLED_AT_ATTEMPT and _retryable(exc):
                await self._tell(info, _system(exc), recovered=False)
            raise
        else:
            if info.attempt > STALLED_AT_ATTEMPT:
                await self._tell(info, "", recovered=True)
            return result
        finally:
            if beating:
                beating.cancel()

    async def _tell(self, info: activity.Info, system: str, *, recovered: bool) -> None:
        """Signal the run (a failure to is only logged: the step's own outcome matters)."""
        if self._client is None or not info.workflow_id:
            return
        stall = Stall(
            system=system.upper(),
            activity=info.activity_type,
            attempt=info.attempt,
            recovered=recovered,
        )
        handle = self._client.get_workflow_handle(info.workflow_id, run_id=info.workflow_run_id)
        try:
            await handle.signal(STALL_SIGNAL, stall)
        except RPCError as exc:  # the run has ended meanwhile, or the server is busy
            log.warning("could not tell %s its step stalled: %s", info.workflow_id, exc)

    def _closed(self, exc: Exception, info: activity.Info) -> ApplicationError | None:
        """The error to raise instead of `exc` once its system's window has closed."""
        if not _retryable(exc):
            return None
        system = _system(exc)
        window = self._windows.get(system, self._windows[UNNAMED])
        if _waited(info) < window:
            return None
        last = exc.message if isinstance(exc, ApplicationError) else str(exc)
        return RetryWindowClosed(system, window, info.attempt, last or type(exc).__name__)


def _retryable(exc: Exception) -> bool:
    return not (isinstance(exc, ApplicationError) and exc.non_retryable)


def _system(exc: Exception) -> str:
    return exc.system if isinstance(exc, ConnectorError) else UNNAMED


def _waited(info: activity.Info) -> timedelta:
    return datetime.now(UTC) - info.scheduled_time


def _heartbeat(timeout: timedelta) -> asyncio.Task[None]:
    """Beat a third of the timeout apart, the first after as long: most calls end before
    it, and cost the server no heartbeat at all."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(max(timeout.total_seconds() / 3, 0.5))
            activity.heartbeat()

    return asyncio.create_task(beat())


async def _finish_before_cancelling(body: Any) -> Any:
    """Run the activity; if cancelled meanwhile, let its call end, then report cancelled."""
    task = asyncio.ensure_future(body)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                continue
            except BaseException:  # the cancellation is what gets reported
                break
        raise


def _words(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    parts.append(f"{seconds} s" if seconds or not any(parts) else "")
    return " ".join(p for p in parts if p)
