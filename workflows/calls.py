"""How workflows call activities: named retry policies and timeouts, in one place."""

from datetime import timedelta
from typing import Any, TypeVar, overload

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.types import (
    MethodAsyncNoParam,
    MethodAsyncSingleParam,
    MethodSyncSingleParam,
)

A = TypeVar("A")
R = TypeVar("R")

CALL_TIMEOUT = timedelta(seconds=30)

# Connectors mark validation errors non-retryable; everything else is retried this long.
SYSTEM_CALL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
)
# Undoing is worth more patience than doing.
COMPENSATION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=10,
)


# Activity methods are async (connector calls) or sync (store writes); both run the same way.
@overload
async def call(
    method: MethodAsyncSingleParam[Any, A, R], arg: A, retry: RetryPolicy = ...
) -> R: ...
@overload
async def call(method: MethodSyncSingleParam[Any, A, R], arg: A, retry: RetryPolicy = ...) -> R: ...
async def call(
    method: MethodAsyncSingleParam[Any, A, R] | MethodSyncSingleParam[Any, A, R],
    arg: A,
    retry: RetryPolicy = SYSTEM_CALL_RETRY,
) -> R:
    """Run one activity method with psflow's timeout and retry policy."""
    return await workflow.execute_activity_method(
        method, arg, start_to_close_timeout=CALL_TIMEOUT, retry_policy=retry
    )


@overload
async def undo(method: MethodAsyncSingleParam[Any, A, R], arg: A) -> R: ...
@overload
async def undo(method: MethodSyncSingleParam[Any, A, R], arg: A) -> R: ...
async def undo(
    method: MethodAsyncSingleParam[Any, A, R] | MethodSyncSingleParam[Any, A, R], arg: A
) -> R:
    """Run one compensating activity with the compensation retry policy."""
    return await call(method, arg, COMPENSATION_RETRY)


async def read(method: MethodAsyncNoParam[Any, R]) -> R:
    """Run one activity method that takes no argument (the worker's configured policy)."""
    return await workflow.execute_activity_method(
        method, start_to_close_timeout=CALL_TIMEOUT, retry_policy=SYSTEM_CALL_RETRY
    )
