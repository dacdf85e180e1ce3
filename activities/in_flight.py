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

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Counting(next, self.counts)


class _Counting(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, counts: ShutdownCounts) -> None:
        super().__init__(next)
        self._counts = counts

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        self._counts.running += 1
        try:
            result = await super().execute_activity(input)
        except BaseException:
            if activity.is_worker_shutdown():
                self._counts.handed_back += 1
            raise
        else:
            if activity.is_worker_shutdown():
                self._counts.finished_while_stopping += 1
            return result
        finally:
            self._counts.running -= 1
