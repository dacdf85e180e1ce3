"""How workflows call activities: named retry policies and timeouts, in one place.

Transient trouble is retried without an attempt limit; the worker gives up once the failing
system's retry window (`[retry]`, activities/retry_window.py) has closed, and only then does
a saga compensate. Every call heartbeats, and a cancelled call is waited for, so an undo never
runs while the action it undoes is still in flight.
"""

from collections.abc import Callable
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, TypeVar, overload

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.types import (
    MethodAsyncNoParam,
    MethodAsyncSingleParam,
    MethodSyncSingleParam,
)
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from workflows.patches import patched

A = TypeVar("A")
R = TypeVar("R")

CALL_TIMEOUT = timedelta(seconds=30)
HEARTBEAT_TIMEOUT = timedelta(seconds=10)
# Runs that began before it replay as they ran: a cancel did not wait for the call in flight.
CANCEL_PATCH = "cancel-is-an-outcome"


STEP: ContextVar[str | None] = ContextVar("psflow_step", default=None)
"""The step running now (set by Interactive.step): each activity's summary, which the Temporal
UI shows beside it and `psflow history` reads its steps from. Not part of any command."""


SYSTEMS = {"erp": "ERP", "crm": "CRM", "psa": "PSA", "hcm": "HCM"}
SEPARATOR = " · "


def step_summary(method: Callable[..., Any] | None = None) -> str | None:
    """The running step, and the system the activity calls when it calls one: "upsert ERP
    customer · ERP"."""
    step = STEP.get()
    if step is None:
        return None
    definition = getattr(method, "__temporal_activity_definition", None)
    prefix = str(getattr(definition, "name", "")).partition(".")[0]
    system = SYSTEMS.get(prefix)
    return f"{step}{SEPARATOR}{system}" if system else step


def step_of(summary: str) -> str:
    """The step an activity summary names."""
    return summary.partition(SEPARATOR)[0]


def cancellation_type() -> ActivityCancellationType:
    """Wait for a cancelled call to end, so that its undo cannot overtake it."""
    if patched(CANCEL_PATCH):
        return ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
    return ActivityCancellationType.TRY_CANCEL


# Connectors mark validation errors non-retryable; the rest is retried until the window
# closes, at least once a minute so that a system that is back is noticed soon.
SYSTEM_CALL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=0,
)
# Undoing is as patient as doing: an undo gets a window of its own.
COMPENSATION_RETRY = SYSTEM_CALL_RETRY


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
        method,
        arg,
        start_to_close_timeout=CALL_TIMEOUT,
        heartbeat_timeout=HEARTBEAT_TIMEOUT,
        retry_policy=retry,
        cancellation_type=cancellation_type(),
        summary=step_summary(method),
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
        method,
        start_to_close_timeout=CALL_TIMEOUT,
        heartbeat_timeout=HEARTBEAT_TIMEOUT,
        retry_policy=SYSTEM_CALL_RETRY,
        cancellation_type=cancellation_type(),
        summary=step_summary(method),
    )
