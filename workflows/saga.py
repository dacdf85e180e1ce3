"""The compensation stack every saga shares, with a log a person can query."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.status import Compensation, CompensationOutcome

Undo = Callable[[], Awaitable[CompensationOutcome]]


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
                outcome = await entry.undo()
                detail = None
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
    """The innermost cause's message: what actually went wrong."""
    cause: BaseException = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    return str(cause) or type(cause).__name__
