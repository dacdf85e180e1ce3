"""What a stopping worker says about its activities: how many were running when it was told
to stop, how many finished within the grace period, and how many it handed back to Temporal
(cancelled at the end of the grace period, or failed while stopping: Temporal runs them again
on another worker, and activities are idempotent).
"""

from dataclasses import dataclass
from typing import Any

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor


@dataclass
class ShutdownCounts:
    running: int = 0
    finished_while_stopping: int = 0
    handed_back: int = 0


class InFlight(Interceptor):
    """Worker interceptor counting the activities in flight and how they end at shutdown."""

    def __init__(self) -> None:
        self.counts = ShutdownCounts()
        self.stopping = False

    def stop(self) -> int:
        """The worker is told to stop: the activities running now. One ending before the SDK
        learns of the stop (a few event-loop turns later) still counts as finished while
        stopping, so that every one running now is counted finished or handed back."""
        self.stopping = True
        return self.counts.running

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Counting(next, self)


class _Counting(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, in_flight: InFlight) -> None:
        super().__init__(next)
        self._in_flight = in_flight
        self._counts = in_flight.counts

    def _stopping(self) -> bool:
        return self._in_flight.stopping or activity.is_worker_shutdown()

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        self._counts.running += 1
        try:
            result = await super().execute_activity(input)
        except BaseException:
            if self._stopping():
                self._counts.handed_back += 1
            raise
        else:
            if self._stopping():
                self._counts.finished_while_stopping += 1
            return result
        finally:
            self._counts.running -= 1
