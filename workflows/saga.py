"""The compensation stack every saga shares, with a log a person can query."""

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.status import Compensation, CompensationOutcome
    from models.undo import UndoReport

# An undo answers its outcome, or an UndoReport when it has a reason to give (a record kept).
Undo = Callable[[], Awaitable[CompensationOutcome | UndoReport]]
T = TypeVar("T")


@dataclass
class _Entry:
    step: str
    action: str
    undo: Undo


class Saga:
    """Undo actions registered before each step runs, so a half-done step is undone too.

    Every undo must be idempotent: "already gone" is a successful outcome.
    """

    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self.log: list[Compensation] = []

    def __bool__(self) -> bool:
        return bool(self._entries)

    def on_failure(self, step: str, action: str, undo: Undo) -> None:
        """Register how to undo `step` if the saga fails later (or during it)."""
        self._entries.append(_Entry(step, action, undo))

    def settle(self) -> None:
        """Past the point of no return: what came before is no longer undone."""
        self._entries.clear()

    async def compensate(self) -> list[Compensation]:
        """Run every registered undo in reverse order; one failing does not stop the rest."""
        while self._entries:
            entry = self._entries.pop()
            try:
                done = await entry.undo()
                outcome, detail = (
                    (done.outcome, done.reason) if isinstance(done, UndoReport) else (done, None)
                )
            except Exception as exc:  # an undo that fails for good is reported, not fatal
                outcome = CompensationOutcome.FAILED
                detail = root_message(exc)
                workflow.logger.error("compensation %r failed: %s", entry.action, detail)
            self.log.append(
                Compensation(
                    step=entry.step,
                    action=entry.action,
                    outcome=outcome,
                    at=workflow.now(),
                    detail=detail,
                )
            )
        return self.log


def root_message(exc: BaseException) -> str:
    """What actually went wrong: the outermost application error's message (a closed retry
    window names its system and the last error), else the innermost cause's."""
    cause: BaseException = exc
    while not isinstance(cause, ApplicationError) and cause.__cause__ is not None:
        cause = cause.__cause__
    if isinstance(cause, ApplicationError) and cause.message:
        return cause.message
    return str(cause) or type(cause).__name__


async def uninterrupted(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` to its end even if the awaiting task is cancelled meanwhile."""
    task = asyncio.ensure_future(work)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                return task.result()
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()  # the cancellation is handled: keep waiting
