"""The stopping worker's counts: every activity running when it is told to stop is counted
finished while stopping or handed back, even one ending before the SDK learns of the stop."""

import asyncio
from typing import Any

import pytest
from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput

from activities.in_flight import InFlight


class Held(ActivityInboundInterceptor):
    """The activity itself: runs until `release` is set, then returns or raises."""

    def __init__(self, fail: bool = False) -> None:
        self.release = asyncio.Event()
        self.fail = fail

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        await self.release.wait()
        if self.fail:
            raise RuntimeError("the call failed")
        return "done"


@pytest.mark.parametrize("fail", [False, True], ids=["finished", "failed"])
async def test_an_activity_ending_before_the_sdk_hears_of_the_stop_is_still_counted(
    monkeypatch: pytest.MonkeyPatch, fail: bool
) -> None:
    # The SDK sets its shutdown flag a few event-loop turns after psflow is told to stop.
    monkeypatch.setattr(activity, "is_worker_shutdown", lambda: False)
    counting = InFlight()
    held = Held(fail)
    running = asyncio.create_task(
        counting.intercept_activity(held).execute_activity(None)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0)

    assert counting.stop() == 1
    held.release.set()
    await asyncio.gather(running, return_exceptions=True)

    counts = counting.counts
    assert (counts.running, counts.finished_while_stopping, counts.handed_back) == (
        (0, 0, 1) if fail else (0, 1, 0)
    )
