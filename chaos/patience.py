"""Temporal calls that wait out the harness's own server kills."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

T = TypeVar("T")

# What a client sees while the dev server is down or starting again.
TRANSIENT = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.UNKNOWN,
    RPCStatusCode.INTERNAL,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
}
GIVE_UP_AFTER = 180.0


async def patient(call: Callable[[], Awaitable[T]], give_up_after: float = GIVE_UP_AFTER) -> T:
    """`call()` again every half second while Temporal is unreachable, up to `give_up_after`."""
    deadline = time.monotonic() + give_up_after
    while True:
        try:
            return await call()
        except RPCError as exc:
            if exc.status not in TRANSIENT or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.5)


async def start_once(
    client: Client, workflow: str, arg: object, *, id: str, task_queue: str
) -> str | None:
    """Start the workflow unless it was started already (a start the server took before it
    died counts); None, or why it could not be started."""

    async def once() -> None:
        await client.start_workflow(
            workflow,
            arg,
            id=id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )

    try:
        await patient(once)
    except WorkflowAlreadyStartedError:
        pass
    except RPCError as exc:
        return str(exc)
    return None


async def sleep_until(moment: float) -> None:
    """Sleep until a time.monotonic() moment (at once if it has passed)."""
    await asyncio.sleep(max(0.0, moment - time.monotonic()))
