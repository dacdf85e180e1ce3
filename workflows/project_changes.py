"""project-changes/<project>: lets one change order at a time change a project, in arrival order.

Change orders ask for the project with signal-with-start (`acquire`), are granted it by a
`lock_granted` signal, and give it back with `release`. A holder that ended without releasing
(terminated, say) is noticed and skipped. With nobody waiting for a while, it completes.
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
HOLDER_CHECK = timedelta(minutes=10)
GRANTS_PER_RUN = 200


@workflow.defn(name=NAME)
class ProjectChanges:
    @workflow.init
    def __init__(self, input: LockInput) -> None:
        self._waiting = list(input.waiting)
        self._holder: str | None = None

    @workflow.signal
    def acquire(self, requester: str) -> None:
        """Queue a change order workflow (by id) for the project."""
        if requester != self._holder and requester not in self._waiting:
            self._waiting.append(requester)

    @workflow.signal
    def release(self, requester: str) -> None:
        """The holder is done (or a waiting one gave up)."""
        if requester == self._holder:
            self._holder = None
        elif requester in self._waiting:
            self._waiting.remove(requester)

    @workflow.query
    def state(self) -> LockState:
        return LockState(holder=self._holder, waiting=list(self._waiting))

    @workflow.run
    async def run(self, input: LockInput) -> None:
        for _ in range(GRANTS_PER_RUN):
            try:
                await workflow.wait_condition(lambda: bool(self._waiting), timeout=IDLE)
            except TimeoutError:
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._waiting:
                    return
            holder = self._holder = self._waiting.pop(0)
            try:
                handle = workflow.get_external_workflow_handle(holder)
                await handle.signal(GRANTED_SIGNAL, input.project_id)
            except FailureError:
                self._holder = None  # it ended while it waited
                continue
            await self._until_released(holder)
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(LockInput(project_id=input.project_id, waiting=self._waiting))

    async def _until_released(self, holder: str) -> None:
        """Until the holder releases, or is found to have ended without doing so."""
        while self._holder == holder:
            try:
                await workflow.wait_condition(lambda: self._holder != holder, timeout=HOLDER_CHECK)
            except TimeoutError:
                if not await call(ChangeOrderActivities.is_open, holder):
                    self._holder = None
