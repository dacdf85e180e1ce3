"""project-changes/<project>: lets one change order at a time change a project, in arrival order.

Change orders ask for the project with signal-with-start (`acquire`), are granted it by a
`lock_granted` signal, and give it back with `release`; a holder that asks again is granted
again. A holder that ended without releasing (terminated, say) is noticed by a check that backs
off while it holds. The lock continues as new, holder and queue with it, before its history
passes HISTORY_BOUND; with nobody waiting for a while, it completes.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from activities.change_orders import ChangeOrderActivities
    from models.change_state import LockInput, LockState
    from workflows.calls import call

NAME = "project-changes"
GRANTED_SIGNAL = "lock_granted"
IDLE = timedelta(minutes=10)
FIRST_HOLDER_CHECK = timedelta(minutes=10)
LONGEST_HOLDER_CHECK = timedelta(hours=4)
HISTORY_BOUND = 1_000
"""Events per run, as the README states."""
# It continues as new at its first workflow task past this; that task adds a few events.
CONTINUE_AFTER = HISTORY_BOUND - 100


@workflow.defn(name=NAME)
class ProjectChanges:
    @workflow.init
    def __init__(self, input: LockInput) -> None:
        self._project_id = input.project_id
        self._waiting = list(input.waiting)
        self._holder: str | None = input.holder
        self._regrant = False

    @workflow.signal
    def acquire(self, *payload: object) -> None:
        """Queue a change order workflow (by id) for the project; the holder asking again
        (its grant may have been lost) is granted again."""
        requester = _requester("acquire", payload)
        if requester is None:
            return
        if requester == self._holder:
            self._regrant = True
        elif requester not in self._waiting:
            self._waiting.append(requester)

    @workflow.signal
    def release(self, *payload: object) -> None:
        """The holder is done (or a waiting one gave up)."""
        requester = _requester("release", payload)
        if requester is None:
            return
        if requester == self._holder:
            self._holder = None
        elif requester in self._waiting:
            self._waiting.remove(requester)

    @workflow.query
    def state(self) -> LockState:
        """Who holds the project and who waits for it, in order."""
        return LockState(holder=self._holder, waiting=list(self._waiting))

    @workflow.run
    async def run(self, input: LockInput) -> None:
        check = input.holder_check or FIRST_HOLDER_CHECK
        while not self._history_is_long():
            if self._holder is None:
                if not await self._grant_next():
                    return
                check = FIRST_HOLDER_CHECK
            if self._holder is not None:
                check = await self._until_released(self._holder, check)
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            LockInput(
                project_id=self._project_id,
                waiting=self._waiting,
                holder=self._holder,
                holder_check=check if self._holder else None,
            )
        )

    async def _grant_next(self) -> bool:
        """Grant the first waiting one the project; False when nobody came for IDLE."""
        try:
            await workflow.wait_condition(
                lambda: bool(self._waiting) or self._history_is_long(), timeout=IDLE
            )
        except TimeoutError:
            await workflow.wait_condition(workflow.all_handlers_finished)
            if not self._waiting:
                return False
        if self._waiting:
            holder = self._holder = self._waiting.pop(0)
            if not await self._grant(holder):
                self._holder = None
        return True

    async def _until_released(self, holder: str, check: timedelta) -> timedelta:
        """Until the holder releases or is found ended (the next check's wait is returned
        when the history is long first)."""
        while self._holder == holder:
            if self._regrant:
                self._regrant = False
                if not await self._grant(holder):
                    self._holder = None
                continue
            if self._history_is_long():
                return check
            try:
                await workflow.wait_condition(
                    lambda: self._holder != holder or self._regrant or self._history_is_long(),
                    timeout=check,
                )
            except TimeoutError:
                if not await call(ChangeOrderActivities.is_open, holder):
                    self._holder = None
                check = min(check * 2, LONGEST_HOLDER_CHECK)
        return FIRST_HOLDER_CHECK

    async def _grant(self, holder: str) -> bool:
        """Tell the holder it is its turn; False when it ended while it waited."""
        try:
            handle = workflow.get_external_workflow_handle(holder)
            await handle.signal(GRANTED_SIGNAL, self._project_id)
        except FailureError:
            return False
        return True

    @staticmethod
    def _history_is_long() -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > CONTINUE_AFTER
        )


def _requester(signal: str, payload: tuple[object, ...]) -> str | None:
    """The one workflow id a signal names; anything else (a raw client's mistake) is ignored,
    never a failed workflow task."""
    if len(payload) == 1 and isinstance(payload[0], str) and payload[0]:
        return payload[0]
    workflow.logger.warning("%s ignored: expected one change-order workflow id", signal)
    return None
