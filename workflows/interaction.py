"""The base every psflow workflow extends: steps, the saga, waits for people, dead letters.

The decisions people send and the status query are in workflows/decisions.py. Waits have
deadlines; an approval that times out escalates once, then rejects.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import NoReturn, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.store import StoreActivities
    from models.audit import AuditEntry
    from models.dead_letter import FailedRun
    from models.people import Correction, Rejection
    from models.retrying import STALL_SIGNAL, Stall
    from models.run_metadata import current_details
    from models.status import (
        FieldProblem,
        RunState,
        Step,
        StepState,
        WaitingFor,
        WaitKind,
        WorkflowStatus,
    )
    from telemetry import kpis
    from telemetry.workflow import step_span
    from workflows import search_attributes as sa
    from workflows.calls import CANCEL_PATCH, STEP, step_summary
    from workflows.decisions import Decision, Decisions
    from workflows.patches import patched
    from workflows.saga import Saga, root_message, uninterrupted
    from workflows.steps import SagaStep

STORE_TIMEOUT = timedelta(seconds=30)
# Runs started before it upserted PsflowStep at every step; since, only where the run stops
# (waits for a person, stalls on a system) and where it ends.
QUIET_STEPS_PATCH = "steps-shown-when-stopped"
DEAD_LETTERS_PATCH = "dead-letters"
# Runs started before it wrote audit rows in activities of their own; since, in local
# activities: a row in psflow's own store is no task for the server to dispatch.
LOCAL_AUDIT_PATCH = "audit-rows-local"
# Runs started before it took signalled decisions on the user's word; since, with a proof.
PROVEN_SIGNALS_PATCH = "proven-decisions"
# A store that stays down must not keep a failed run open for ever: its failure is in Temporal.
DEAD_LETTER_RETRY = RetryPolicy(maximum_attempts=10, maximum_interval=timedelta(minutes=1))
R = TypeVar("R")
S = TypeVar("S")
M = TypeVar("M", bound=BaseModel)


class Interactive(Decisions):
    """Base for psflow workflows: steps, waits for people, the saga, and the status query."""

    def init_status(
        self,
        workflow_name: str,
        business_key: str,
        steps: list[str],
        input: BaseModel | None = None,
    ) -> None:
        """`input` is what a dead letter keeps, so that a retry can start the run again."""
        self._input = input
        self._status = WorkflowStatus(
            workflow_id=workflow.info().workflow_id,
            workflow=workflow_name,
            state=RunState.RUNNING,
            business_key=business_key,
            steps=[Step(name=name) for name in steps],
        )
        self.saga = Saga()
        self._decision: Decision | None = None
        self._corrections: list[Correction] = []
        self._stalled_on: str | None = None
        self._used_proofs = set()
        self.proven_signals = patched(PROVEN_SIGNALS_PATCH)

    # ---- steps and events ----------------------------------------------------------------

    async def audit(self, kind: str, detail: str, user: str | None = None) -> None:
        """Record in the status and in the store's audit log."""
        self.note(kind, detail, user)
        await self.audit_log(kind, detail, user)

    async def audit_log(self, kind: str, detail: str, user: str | None = None) -> None:
        """Record in the store's audit log only: psflow's own acts (postings), which the
        steps already show, stay out of the status events."""
        proven = (
            self.decided_by if user and self.decided_by and self.decided_by.user == user else None
        )
        entry = AuditEntry(
            at=workflow.now(),
            workflow_id=self._status.workflow_id,
            kind=kind,
            user=user,
            detail=detail,
            subject=proven.subject if proven else None,
            issuer=proven.issuer if proven else None,
        )
        if patched(LOCAL_AUDIT_PATCH):
            await workflow.execute_local_activity_method(
                StoreActivities.record_audit,
                entry,
                start_to_close_timeout=STORE_TIMEOUT,
                summary=step_summary(),
            )
            return
        await workflow.execute_activity_method(
            StoreActivities.record_audit,
            entry,
            start_to_close_timeout=STORE_TIMEOUT,
            summary=step_summary(),
        )

    def _step(self, name: str) -> Step:
        return next(s for s in self._status.steps if s.name == name)

    @asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[Step]:
        """Mark a step running, then done, or failed if its body raises."""
        step = self._step(name)
        step.state = StepState.RUNNING
        step.started_at = workflow.now()
        self.show_details()
        if not patched(QUIET_STEPS_PATCH):
            workflow.upsert_search_attributes([sa.STEP.value_set(name)])
        outer = STEP.get()
        STEP.set(name)  # each activity's summary, shown beside it in the UI
        with step_span(name, self._status.customer_id, self._status.project):  # no command
            try:
                yield step
            except BaseException as exc:
                if is_cancelled_exception(exc):
                    step.state = StepState.CANCELLED
                    step.detail = step.detail or "cancelled"
                else:
                    step.state = StepState.FAILED
                    step.detail = step.detail or root_message(exc)
                step.ended_at = workflow.now()
                self.show_details()
                raise
            finally:
                STEP.set(outer)
        if step.state in (StepState.RUNNING, StepState.WAITING):
            step.state = StepState.DONE
        step.ended_at = workflow.now()
        self.show_details()

    async def run_step(self, declared: SagaStep[S]) -> S:
        """Run one declared step: its undo registered first, then its action.

        An action that returns after the run was cancelled (it could not be stopped in
        flight) still ends the run as cancelled, and its undo runs with the others.
        """
        _stop_if_cancelled()  # a read just before may have finished despite the cancel
        async with self.step(declared.name) as step:
            undo = declared.undo_action()
            if undo is not None:
                self.saga.on_failure(declared.name, f"{declared.undoes} ({declared.key})", undo)
            if declared.final:  # a cancel now is too late; nothing before is undone after
                result = await uninterrupted(declared.act())
                self.saga.settle()
            else:
                try:
                    result = await declared.act()
                except (ActivityError, ApplicationError) as exc:
                    _stop_if_cancelled(exc)  # an attempt that failed after the cancel request
                    raise
                _stop_if_cancelled()
            if declared.detail is not None:
                step.detail = declared.detail(result)
        return result

    # ---- what the search attributes and the Temporal UI show ----------------------------------

    def show_details(self) -> None:
        """The run's current details (Temporal user metadata, no command): its status."""
        workflow.set_current_details(current_details(self._status, self._stalled_on))

    @workflow.signal(name=STALL_SIGNAL)
    def system_stalled(self, stall: Stall) -> None:
        """The worker says a step keeps failing on a system (or is through again): findable
        as PsflowStalledOn, with its step as PsflowStep, while it lasts."""
        if stall.recovered:
            if self._stalled_on is not None:
                kpis.step_recovered(workflow.metric_meter(), self._stalled_on)
                self._stalled_on = None
                self.show_details()
                shown = [] if self._status.waiting_for else [sa.STEP.value_unset()]
                workflow.upsert_search_attributes([sa.STALLED_ON.value_unset(), *shown])
            return
        kpis.step_stalled(workflow.metric_meter(), stall.system)
        self._stalled_on = stall.system
        self.show_details()
        running = [s.name for s in self._status.steps if s.state == StepState.RUNNING]
        step = running[-1] if running else stall.activity
        workflow.upsert_search_attributes(
            [sa.STALLED_ON.value_set(stall.system), sa.STEP.value_set(step)]
        )

    def show_end(self) -> None:
        """PsflowStep: the step the run ended at (failed, cancelled, or its last one)."""
        if not patched(QUIET_STEPS_PATCH):
            return
        steps = self._status.steps
        ended = [s for s in steps if s.state in (StepState.FAILED, StepState.CANCELLED)] or [
            s for s in steps if s.state not in (StepState.PENDING, StepState.SKIPPED)
        ]
        shown = [sa.STEP.value_set(ended[-1].name)] if ended else []
        if self._stalled_on is not None:
            self._stalled_on = None
            shown.append(sa.STALLED_ON.value_unset())
        self.show_details()
        if shown:
            workflow.upsert_search_attributes(shown)

    async def ending(self, body: Awaitable[R]) -> R:
        """Run the whole body, then show the step it ended at (not when it continues as new)."""
        try:
            result = await body
        except workflow.ContinueAsNewError:
            raise
        except BaseException:
            self.show_end()
            raise
        self.show_end()
        return result

    def skip(self, name: str, why: str) -> None:
        step = self._step(name)
        step.state = StepState.SKIPPED
        step.detail = why

    def set_state(self, state: RunState) -> None:
        self._status.state = state
        self.show_details()

    async def run_saga(self, body: Awaitable[R]) -> R:
        """Run the business steps; on a failure for good or a cancellation, compensate first.

        A failure ends the workflow as a SagaFailed ApplicationError naming the root cause.
        """
        return await self.ending(self._saga_body(body))

    async def _saga_body(self, body: Awaitable[R]) -> R:
        try:
            return await body
        except (asyncio.CancelledError, ActivityError, ApplicationError) as exc:
            cancelled = is_cancelled_exception(exc) or workflow.cancellation_reason() is not None
            if cancelled and not isinstance(exc, asyncio.CancelledError):
                cancelled = patched(CANCEL_PATCH)  # earlier runs failed instead
            if not cancelled:
                return await self._failed(exc)
            # Cancelled is an outcome, not a failure: no dead letter.
            await self._compensate()
            self.set_state(RunState.CANCELLED)
            if is_cancelled_exception(exc):
                raise
            raise asyncio.CancelledError() from exc

    async def _failed(self, exc: BaseException) -> NoReturn:
        """Undo, leave a dead letter, and fail the run as SagaFailed naming the root cause."""
        failed = [s.name for s in self._status.steps if s.state == StepState.FAILED]
        await self._compensate()
        self.set_state(RunState.FAILED)
        self._status.error = root_message(exc)
        if patched(DEAD_LETTERS_PATCH):
            await self._dead_letter(failed[0] if failed else None, self._status.error)
        run = f"{self._status.workflow} for {self._status.business_key}"
        raise ApplicationError(
            f"{run} failed: {self._status.error}",
            type="SagaFailed",
            non_retryable=True,
        ) from exc

    async def _dead_letter(self, step: str | None, error: str) -> None:
        """Leave the failed run in the store's dead letters, with the input to retry it from."""
        info = workflow.info()
        failed = FailedRun(
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            workflow_type=info.workflow_type,
            business_key=self._status.business_key,
            step=step,
            error=error,
            input=self._input.model_dump(mode="json") if self._input else {},
            failed_at=workflow.now(),
        )
        try:
            await workflow.execute_activity_method(
                StoreActivities.record_dead_letter,
                failed,
                start_to_close_timeout=STORE_TIMEOUT,
                retry_policy=DEAD_LETTER_RETRY,
            )
        except ActivityError as exc:
            workflow.logger.error("dead letter for %s not stored: %s", info.workflow_id, exc)
        else:
            kpis.dead_letter_opened(workflow.metric_meter())  # a metric is no command

    async def _compensate(self) -> None:
        """Undo in reverse; a cancel request arriving meanwhile does not stop it half-way."""
        if self.saga:
            self.set_state(RunState.COMPENSATING)
            await uninterrupted(self.saga.compensate())

    # ---- waiting for people -----------------------------------------------------------------

    def _start_wait(self, waiting: WaitingFor, step: Step) -> None:
        self._status.waiting_for = waiting
        self._status.state = RunState.WAITING
        step.state = StepState.WAITING
        self.show_details()
        shown = [sa.STEP.value_set(step.name)] if patched(QUIET_STEPS_PATCH) else []
        workflow.upsert_search_attributes(
            [
                sa.WAITING_FOR.value_set(waiting.kind.value),
                sa.WAITING_SINCE.value_set(waiting.since),
                *shown,
            ]
        )

    def _end_wait(self, step: Step) -> None:
        self._status.waiting_for = None
        self._status.state = RunState.RUNNING
        step.state = StepState.RUNNING
        self.show_details()
        shown = [sa.STEP.value_unset()] if patched(QUIET_STEPS_PATCH) else []
        workflow.upsert_search_attributes(
            [sa.WAITING_FOR.value_unset(), sa.WAITING_SINCE.value_unset(), *shown]
        )

    async def wait_for_approval(
        self, step: Step, role: str, deadline: timedelta, grace: timedelta, escalate_to: str
    ) -> Decision:
        """Wait for approve/reject; escalate once at the deadline; reject after the grace."""
        since = workflow.now()
        waiting = WaitingFor(
            kind=WaitKind.APPROVAL, since=since, deadline=since + deadline, role=role
        )
        self._decision = None
        self._start_wait(waiting, step)
        decided = lambda: self._decision is not None and workflow.all_handlers_finished()  # noqa: E731
        try:
            if not await self._wait(decided, deadline):
                waiting.escalated_at = workflow.now()
                waiting.deadline = waiting.escalated_at + grace
                await self.audit(
                    "escalated",
                    f"no {role} approval within {deadline}; escalated to {escalate_to}",
                )
                if not await self._wait(decided, grace):
                    self._decision = Rejection(
                        user="psflow",
                        reason=f"no approval within {deadline + grace} "
                        f"(escalated to {escalate_to})",
                    )
        finally:
            self._end_wait(step)
        assert self._decision is not None
        return self._decision

    async def wait_for_correction(
        self, step: Step, problems: list[FieldProblem]
    ) -> Correction | Rejection:
        """Wait until someone corrects the named fields (or rejects the whole thing)."""
        self._decision = None
        self._start_wait(
            WaitingFor(kind=WaitKind.CORRECTION, since=workflow.now(), problems=problems), step
        )
        try:
            await workflow.wait_condition(
                lambda: (
                    (bool(self._corrections) or isinstance(self._decision, Rejection))
                    and workflow.all_handlers_finished()
                )
            )
        finally:
            self._end_wait(step)
        if isinstance(self._decision, Rejection):
            return self._decision
        return self._corrections.pop(0)

    async def correct_until_valid(
        self,
        subject: M,
        step: Step,
        problems_of: Callable[[M], Awaitable[list[FieldProblem]]],
    ) -> M | Rejection:
        """`subject` once it has no problems, after as many corrections as it takes.

        Each correction is applied to the subject, audited, and the rules run again; a
        rejection while waiting ends the wait. A correction that does not fit the subject's
        model is refused (a status event) and the wait goes on: it never fails the task.
        """
        problems = await problems_of(subject)
        try:
            while problems:
                self.correcting = subject  # what the `correct` validator checks against
                step.detail = "; ".join(p.message for p in problems)
                answer = await self.wait_for_correction(step, problems)
                if isinstance(answer, Rejection):
                    return answer
                fixed = self.apply_correction(subject, answer)
                if fixed is None:
                    continue
                subject = fixed
                await self.audit("corrected", answer.summary(), answer.user)
                problems = await problems_of(subject)
        finally:
            self.correcting = None
        step.detail = "valid"
        return subject

    @staticmethod
    async def _wait(condition: Callable[[], bool], limit: timedelta) -> bool:
        try:
            await workflow.wait_condition(condition, timeout=limit)
        except TimeoutError:
            return False
        return True


def _stop_if_cancelled(cause: BaseException | None = None) -> None:
    """Raise the cancellation a finished (or failed) activity kept from the workflow."""
    if workflow.cancellation_reason() is not None and patched(CANCEL_PATCH):
        raise asyncio.CancelledError() from cause
