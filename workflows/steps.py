"""One saga step, declared once: its action, its undo, the key the undo finds things by.

A saga reads as a list of these. `Interactive.run_step` (workflows/interaction.py) runs one:
the undo is registered before the action starts, so a step that half-ran, or was cancelled
in flight, is undone as well; the undo is built before the action's result exists, so it
can only find what the action made by its key (an external id, an idempotency key), never
by a value the action returned. Transient trouble is retried as `retry` says, within the
failing system's window (workflows/calls.py); a permanent error or a closed window fails
the step and the saga compensates.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar, overload

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.types import MethodAsyncSingleParam, MethodSyncSingleParam

with workflow.unsafe.imports_passed_through():
    from models.status import CompensationOutcome
    from models.undo import UndoReport
    from workflows.calls import (
        CALL_TIMEOUT,
        COMPENSATION_RETRY,
        HEARTBEAT_TIMEOUT,
        SYSTEM_CALL_RETRY,
        cancellation_type,
        step_summary,
    )

A = TypeVar("A")
R = TypeVar("R")


class Call(Generic[R]):
    """One activity method and its argument, run when the step (or its undo) runs."""

    @overload
    def __init__(self, method: MethodAsyncSingleParam[Any, A, R], arg: A) -> None: ...
    @overload
    def __init__(self, method: MethodSyncSingleParam[Any, A, R], arg: A) -> None: ...
    def __init__(
        self,
        method: MethodAsyncSingleParam[Any, A, R] | MethodSyncSingleParam[Any, A, R],
        arg: A,
    ) -> None:
        self.method = method
        self.arg = arg

    async def run(self, retry: RetryPolicy, limit: timedelta) -> R:
        result: R = await workflow.execute_activity_method(
            self.method,
            self.arg,
            start_to_close_timeout=limit,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=retry,
            cancellation_type=cancellation_type(),
            summary=step_summary(self.method),
        )
        return result


Action = Call[R] | Callable[[], Awaitable[R]]
Undo = Call[Any] | Callable[[], Awaitable[CompensationOutcome | UndoReport]]


@dataclass(frozen=True)
class SagaStep(Generic[R]):
    """A step of a saga.

    `undo` (with `key`, what it finds the record by, and `undoes`, what it does, for the
    compensation log) is left out for a read, or for a fact that is retried, never undone.
    `detail` turns the action's result into the step's line in `psflow status`. A `final`
    step is the point of no return (a change order marked applied, an event recorded): a
    cancel arriving while it runs is too late, and once it is done nothing is undone.
    """

    name: str
    action: Action[R]
    undo: Undo | None = None
    key: str | None = None
    undoes: str = ""
    detail: Callable[[R], str] | None = None
    retry: RetryPolicy = field(default_factory=lambda: SYSTEM_CALL_RETRY)
    timeout: timedelta = CALL_TIMEOUT
    final: bool = False

    def __post_init__(self) -> None:
        if self.undo is not None and not (self.key and self.undoes):
            raise ValueError(f"step {self.name!r}: an undo needs the key it finds things by")
        if self.undo is not None and self.final:
            raise ValueError(f"step {self.name!r}: the point of no return has no undo")

    async def act(self) -> R:
        if isinstance(self.action, Call):
            return await self.action.run(self.retry, self.timeout)
        return await self.action()

    def undo_action(self) -> Callable[[], Awaitable[CompensationOutcome | UndoReport]] | None:
        """The undo as the saga runs it: patient, and 'undone' when the activity says nothing."""
        undo = self.undo
        if undo is None:
            return None
        if not isinstance(undo, Call):
            return undo

        async def run() -> CompensationOutcome | UndoReport:
            outcome = await undo.run(COMPENSATION_RETRY, self.timeout)
            if isinstance(outcome, CompensationOutcome | UndoReport):
                return outcome
            return CompensationOutcome.UNDONE

        return run
