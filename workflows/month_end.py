"""month-end: time-to-bill for every project with approved time in a period, a few at once.

A project holds one of the slots until its invoice is drafted (its child says so by signal),
not until finance releases it, so waiting approvals never stall the close. Children outlive
the parent, which continues as new between pages of projects when its history grows.

A cancelled child is counted as cancelled, neither failed nor drafted: nothing of it is
invoiced and a rerun of its period bills what it posted. One cancelled after its draft was
counted (while this run of the month-end still runs) is moved from drafted to cancelled.
"""

import asyncio

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError, is_cancelled_exception
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.billing import BillingActivities, ProjectsPageRequest
    from activities.policy import PolicyActivities
    from models.billing import time_to_bill_id
    from models.run_metadata import start_metadata
    from models.status import RunState
    from models.time_to_bill import (
        MonthEndInput,
        MonthEndTotals,
        ProjectReady,
        ReadyState,
        TimeToBillInput,
        TimeToBillResult,
    )
    from workflows.calls import call, read
    from workflows.interaction import Interactive
    from workflows.saga import root_message
    from workflows.time_to_bill import READY_SIGNAL, TimeToBill, history_is_long

NAME = "month-end"
PROJECTS = "post and draft every project"
STEPS = [PROJECTS]
PROJECTS_PER_PAGE = 100


@workflow.defn(name=NAME)
class MonthEnd(Interactive):
    @workflow.init
    def __init__(self, input: MonthEndInput) -> None:
        self.init_status(NAME, input.period, STEPS, input)
        self._totals = input.totals
        self._ready: dict[str, ProjectReady] = {}
        self._awaiting: set[str] = set()
        self._drafted: set[str] = set()
        """This run's projects counted as drafted (a cancel may withdraw them)."""
        self._run_number = input.run

    @workflow.signal(name=READY_SIGNAL)
    def project_ready(self, ready: ProjectReady) -> None:
        """A child has drafted its invoice (or found nothing to bill, failed, was cancelled);
        or, cancelled after its draft was counted, withdraws it."""
        project_id = ready.project_id
        if project_id in self._awaiting:
            self._ready[project_id] = ready  # the last word counts
        elif ready.state is ReadyState.CANCELLED and project_id in self._drafted:
            self._drafted.discard(project_id)
            self._totals = self._totals.withdraw(ready)
            self._step(PROJECTS).detail = self._progress()

    @workflow.run
    async def run(self, input: MonthEndInput) -> MonthEndTotals:
        return await self.ending(self._run(input))

    async def _run(self, input: MonthEndInput) -> MonthEndTotals:
        policy = await read(PolicyActivities.billing_policy)
        slots = asyncio.Semaphore(policy.month_end_concurrency)
        token = input.page_token
        async with self.step(PROJECTS) as step:
            step.detail = self._progress()
            while True:
                page = await call(
                    BillingActivities.projects_with_approved_time,
                    ProjectsPageRequest(
                        period=input.period, page_token=token, page_size=PROJECTS_PER_PAGE
                    ),
                )
                await asyncio.gather(
                    *(self._bill(project_id, input.period, slots) for project_id in page.items)
                )
                token = page.next_page_token
                if token is None:
                    break
                if history_is_long(policy.history_limit):
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    workflow.continue_as_new(
                        MonthEndInput(
                            period=input.period,
                            page_token=token,
                            totals=self._totals,
                            run=input.run + 1,
                        )
                    )
        self.set_state(RunState.COMPLETED)
        return self._totals

    async def _bill(self, project_id: str, period: str, slots: asyncio.Semaphore) -> None:
        async with slots:
            self._awaiting.add(project_id)  # before the start: a child may answer at once
            try:
                child = TimeToBillInput(project_id=project_id, period=period)
                about = start_metadata(child)
                handle = await workflow.start_child_workflow(
                    TimeToBill.run,
                    child,
                    id=time_to_bill_id(project_id, period),
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    static_summary=about.summary,
                    static_details=about.details,
                )
            except WorkflowAlreadyStartedError:
                self._awaiting.discard(project_id)
                self._record(ProjectReady(project_id=project_id, state=ReadyState.ALREADY_RUNNING))
                return
            await workflow.wait_condition(lambda: project_id in self._ready or handle.done())
            self._awaiting.discard(project_id)
            told: ProjectReady | None = self._ready.pop(project_id, None)
            report = told or self._ended(project_id, handle)
            if report.state is ReadyState.DRAFTED:
                self._drafted.add(project_id)
            self._record(report)

    @staticmethod
    def _ended(
        project_id: str, handle: ChildWorkflowHandle[TimeToBill, TimeToBillResult]
    ) -> ProjectReady:
        """The report of a child that ended without telling (e.g. terminated)."""
        error = None if handle.cancelled() else handle.exception()
        if error is not None and is_cancelled_exception(error):
            return ProjectReady(project_id=project_id, state=ReadyState.CANCELLED)
        return ProjectReady(
            project_id=project_id,
            state=ReadyState.FAILED,
            error=root_message(error) if error else "ended without reporting",
        )

    def _record(self, report: ProjectReady) -> None:
        self._totals = self._totals.add(report)
        self._step(PROJECTS).detail = self._progress()

    def _progress(self) -> str:
        run = self._run_number
        t = self._totals
        text = (
            f"{t.projects} projects: {t.drafted} drafted, {t.nothing_to_invoice} with nothing "
            f"to invoice, {t.failed_count} failed, {t.already_running} already running"
        )
        if t.cancelled_count:
            text += f", {t.cancelled_count} cancelled (not invoiced: rerun their period)"
        return f"{text} (run {run})" if run > 1 else text
