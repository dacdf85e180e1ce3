"""time-to-bill: a project's approved time and expenses for a period, posted, priced, invoiced.

Pages of entries are posted by id (history holds page tokens and counts); a long period
continues as new. The draft invoice waits for a finance approver who approved none of the time
on it; a failure, rejection or cancel before release voids it (found by its external id, fixed
before the draft), which frees the postings for a rerun. Released is the point of no return: a
cancel or failure after it undoes nothing. Time entries the PSA approves meanwhile:
workflows/time_approvals.py.
"""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    FailureError,
    is_cancelled_exception,
)

with workflow.unsafe.imports_passed_through():
    from activities.billing import BillingActivities
    from activities.invoicing import Drafted, InvoiceStatusChange, InvoicingActivities
    from activities.policy import PolicyActivities
    from activities.psa import PsaActivities
    from models.billing import (
        EntryKind,
        Invoice,
        InvoiceDraftInput,
        InvoiceStatus,
        InvoiceStatusUpdate,
        period_bounds,
        time_to_bill_id,
    )
    from models.brief import DecisionBrief
    from models.people import Rejection
    from models.policy import BillingPolicy
    from models.psa import RateCard
    from models.status import CompensationOutcome, RunState
    from models.time_to_bill import (
        BillingContext,
        BillingProgress,
        InvoiceSummary,
        Outcome,
        PageRequest,
        Phase,
        PostedPage,
        ProjectRead,
        ProjectReady,
        ReadyState,
        TimeToBillInput,
        TimeToBillResult,
    )
    from workflows import search_attributes as sa
    from workflows.briefs import invoice_brief
    from workflows.calls import HEARTBEAT_TIMEOUT, SYSTEM_CALL_RETRY, call, read
    from workflows.patches import patched
    from workflows.saga import root_message, uninterrupted
    from workflows.steps import Call, SagaStep
    from workflows.time_approvals import FollowsTimeApprovals, time_detail

NAME = "time-to-bill"
READ = "read project"
POST_TIME = "post time"
POST_EXPENSES = "post expenses"
DRAFT = "draft invoice"
APPROVE = "finance approval"
RELEASE = "release invoice"
CRM_STATUS = "invoice status to CRM"
STEPS = [READ, POST_TIME, POST_EXPENSES, DRAFT, APPROVE, RELEASE, CRM_STATUS]
READY_SIGNAL = "project_ready"
# A page posts up to 1,000 entries; it heartbeats, so a dead worker is noticed in seconds.
PAGE_TIMEOUT = timedelta(minutes=2)
AUDIT_POSTINGS_PATCH = "audit-postings"
# Runs cancelled before these replay as they ran: a cancel did not stop a run whose call in
# flight finished anyway, and the month-end heard "failed" or nothing; a cancel did not wait
# for the page in flight.
CANCEL_PATCH = "cancel-ends-billing"
PAGE_CANCEL_PATCH = "page-cancel-waits"
# Runs started before it read the project, its rate card and the policy in three activities,
# audited postings in activities of their own, read the invoice around each move (six ERP
# calls, not two) and audited the approval and the release one step at a time.
LEAN_BILLING_PATCH = "lean-billing"
APPROVED, RELEASED = InvoiceStatus.APPROVED, InvoiceStatus.RELEASED


def history_is_long(limit: int) -> bool:
    """Time to continue as new: past the policy's limit, or Temporal suggests it."""
    info = workflow.info()
    return info.is_continue_as_new_suggested() or info.get_current_history_length() > limit


def stop_if_cancelled() -> None:
    """An activity that finished although the run was cancelled returns normally: stop here."""
    if workflow.cancellation_reason() is not None and patched(CANCEL_PATCH):
        raise asyncio.CancelledError()


@workflow.defn(name=NAME)
class TimeToBill(FollowsTimeApprovals):
    @workflow.init
    def __init__(self, input: TimeToBillInput) -> None:
        # A retry reruns the whole period (safe: postings are keyed by entry), not one page on.
        fresh = input.model_copy(update={"progress": None})
        self.init_status(NAME, f"{input.project_id}/{input.period}", STEPS, fresh)
        self._invoice: Invoice | None = None
        self._told_parent = False
        self._told_drafted = False
        self._released = False
        self.init_time_approvals(input.period, input.progress, POST_TIME)
        self._status.project = input.project_id

    def approval_refusal(self, user: str) -> str | None:
        refusal = super().approval_refusal(user)
        if refusal is None and self._invoice and user in self._invoice.approvers:
            return (
                f"{user} approved time or expenses on invoice {self._invoice.number}: "
                "segregation of duties needs a finance approver who approved none of it"
            )
        return refusal

    def decision_brief(self) -> DecisionBrief:
        return invoice_brief(self._invoice) if self._invoice else super().decision_brief()

    @workflow.run
    async def run(self, input: TimeToBillInput) -> TimeToBillResult:
        try:
            result = await self.run_saga(self._run(input))
        except (asyncio.CancelledError, ApplicationError, FailureError) as exc:
            failed = ProjectReady(
                project_id=input.project_id, state=ReadyState.FAILED, error=str(exc)
            )
            if not is_cancelled_exception(exc):
                await self._tell_parent(failed)
            elif workflow.info().parent is not None and patched(CANCEL_PATCH):
                if not self._invoice_stands():
                    await self._tell_parent(self._cancelled(input))
            elif isinstance(exc, FailureError):  # as runs cancelled before CANCEL_PATCH did
                await self._tell_parent(failed)
            raise
        done = result.outcome is not Outcome.REJECTED
        self.set_state(RunState.COMPLETED if done else RunState.REJECTED)
        return result

    async def _run(self, input: TimeToBillInput) -> TimeToBillResult:
        source = time_to_bill_id(input.project_id, input.period)
        progress = input.progress or BillingProgress(invoice_key=f"INV-{workflow.uuid4().hex[:12]}")
        self.progress = progress
        found = await self.run_step(
            SagaStep(
                READ,
                lambda: self._read(input.project_id),
                detail=lambda r: (
                    f"{r.project.name}: {r.project.billing_type}, {r.project.currency}"
                ),
            )
        )
        project, policy = found.project, found.policy
        context = BillingContext(
            project=project,
            rate_card=found.rate_card,
            cost_centers=sorted(policy.cost_centers),
            period=input.period,
            source=source,
        )
        await self._post_all(input, context, progress, policy)

        first, last = period_bounds(input.period)
        drafted: Drafted = await self.run_step(
            SagaStep(
                DRAFT,
                Call(
                    InvoicingActivities.draft_invoice,
                    InvoiceDraftInput(
                        external_id=progress.invoice_key,
                        project_id=project.erp_project_id,
                        currency=project.currency,
                        period=input.period,
                        source=source,
                        milestones=[
                            m
                            for m in project.milestones
                            if m.completed_on and m.completed_on <= last
                        ],
                    ),
                ),
                undo=Call(InvoicingActivities.void_invoice, progress.invoice_key),
                key=progress.invoice_key,
                undoes="void the draft invoice, freeing its postings",
                detail=lambda d: (
                    f"invoice {d.invoice.number}: {d.invoice.total} {d.invoice.currency}"
                    if d.invoice
                    else f"nothing unbilled for {first} to {last}"
                ),
            )
        )
        if drafted.invoice is None:
            return await self._nothing_to_invoice(input, progress)
        self._invoice = invoice = drafted.invoice
        self._told_drafted = True
        await self._tell_parent(self._ready(input, progress, ReadyState.DRAFTED))

        async with self.step(APPROVE) as step:
            rule = policy.approval
            decision = await self.wait_for_approval(
                step, rule.role, rule.deadline, rule.escalation_grace, rule.escalate_to
            )
            if isinstance(decision, Rejection):
                await self.audit("rejected", decision.reason, decision.user)
                step.detail = f"rejected by {decision.user}: {decision.reason}"
                await uninterrupted(self.saga.compensate())  # a cancel now leaves no draft
                return self._result(input, progress, Outcome.REJECTED, decision.reason)
            approved = self.audit("approved", decision.comment or "approved", decision.user)
            if lean := patched(LEAN_BILLING_PATCH):
                # The decision's audit row and the ERP's approval are independent: one task.
                move = InvoiceStatusChange(external_id=invoice.external_id, status=APPROVED)
                await asyncio.gather(approved, call(InvoicingActivities.move_invoice, move))
                stop_if_cancelled()
            else:
                await approved
            step.detail = f"approved by {decision.user}"

        ready = invoice
        self._invoice = invoice = await self.run_step(
            SagaStep(
                RELEASE,
                lambda: self._release_moved(ready) if lean else self._release(ready),
                detail=lambda i: f"invoice {i.number} released",
            )
        )
        # Released means sent: from here it takes a credit memo, not a void.
        self.saga.settle()
        self._released = True
        released = f"invoice {invoice.number}: {invoice.total} {invoice.currency}"
        if not lean or project.opportunity_id is None:
            await self.audit("released", released)

        if project.opportunity_id is None:
            async with self.step(CRM_STATUS) as step:
                step.detail = "project has no opportunity in the CRM"
        else:
            update = InvoiceStatusUpdate(
                opportunity_id=project.opportunity_id,
                invoice_number=invoice.number,
                status=invoice.status,
                total=invoice.total,
                currency=invoice.currency,
                period=input.period,
            )
            await self.run_step(
                SagaStep(
                    CRM_STATUS,
                    lambda: self._status_and_audit(update, released if lean else None),
                    detail=lambda _: f"opportunity {update.opportunity_id}: {update.status.value}",
                )
            )
        return self._result(input, progress, Outcome.RELEASED)

    async def _read(self, project_id: str) -> ProjectRead:
        """The project, the billing policy and the project's rate card, or a refusal."""
        policy: BillingPolicy | None
        card: RateCard | None
        if patched(LEAN_BILLING_PATCH):
            setup = await call(BillingActivities.setup, project_id)
            project, policy, card = setup.project, setup.policy, setup.rate_card
        else:
            project = await call(BillingActivities.billing_project, project_id)
            policy = await read(PolicyActivities.billing_policy) if project else None
            card = await call(PsaActivities.get_rate_card, project.rate_card) if project else None
        if project is None or policy is None:
            raise ApplicationError(f"PSA project {project_id} does not exist", non_retryable=True)
        self.policy = policy
        if card is None or card.currency != project.currency:
            problem = "does not exist" if card is None else f"prices in {card.currency}"
            raise ApplicationError(
                f"rate card {project.rate_card} of project {project.id} {problem}; "
                f"the project bills in {project.currency}: fix the project in the PSA",
                non_retryable=True,
            )
        self._status.customer = project.customer_name
        workflow.upsert_search_attributes([sa.PROJECT_ID.value_set(project.id)])
        return ProjectRead(project, policy, card)

    async def _release(self, drafted: Invoice) -> Invoice:
        """Draft -> approved -> released, reading the invoice at each move (runs started
        before LEAN_BILLING_PATCH); a cancel between the two stops before releasing."""
        change = InvoiceStatusChange(external_id=drafted.external_id, status=APPROVED)
        await call(InvoicingActivities.set_invoice_status, change)
        stop_if_cancelled()
        change = change.model_copy(update={"status": InvoiceStatus.RELEASED})
        return await call(InvoicingActivities.set_invoice_status, change)

    async def _release_moved(self, approved: Invoice) -> Invoice:
        """Approved -> released: one ERP call; the invoice is as drafted, now released, with
        the number the release gave it if any (an ERP that numbers on posting)."""
        change = InvoiceStatusChange(external_id=approved.external_id, status=RELEASED)
        number = await call(InvoicingActivities.move_invoice, change)
        if number:
            return approved.model_copy(update={"status": RELEASED, "number": number})
        return approved.model_copy(update={"status": RELEASED})

    async def _status_and_audit(self, update: InvoiceStatusUpdate, released: str | None) -> None:
        """The CRM status, and beside it (in the same task) the release's audit row, which
        is kept whether the CRM takes the status or not."""
        if released is None:
            return await self._status_to_crm(update)
        crm, audited = await asyncio.gather(
            self._status_to_crm(update), self.audit("released", released), return_exceptions=True
        )
        for outcome in (crm, audited):
            if isinstance(outcome, BaseException):
                raise outcome
        return None

    async def _status_to_crm(self, update: InvoiceStatusUpdate) -> None:
        """Within the CRM's retry window; past it the run fails, saying the invoice is out."""
        try:
            await call(InvoicingActivities.invoice_status_to_crm, update)
        except ActivityError as exc:
            if is_cancelled_exception(exc):
                raise
            raise ApplicationError(
                f"invoice {update.invoice_number} is released, but its status did not reach "
                f"the CRM ({root_message(exc)}); reconciliation lists it as invoice_status drift",
                type="InvoiceStatusNotInCrm",
                non_retryable=True,
            ) from exc

    async def _post_all(
        self,
        input: TimeToBillInput,
        context: BillingContext,
        progress: BillingProgress,
        policy: BillingPolicy,
    ) -> None:
        """Post every page of time, then of expenses; continue as new when history grows.
        A page only upserts, so a retried page posts nothing twice."""
        for phase, name, kind in (
            (Phase.TIME, POST_TIME, EntryKind.TIME),
            (Phase.EXPENSES, POST_EXPENSES, EntryKind.EXPENSE),
        ):
            if progress.phase is Phase.INVOICE or (
                progress.phase is Phase.EXPENSES and phase is Phase.TIME
            ):
                self._step(name).detail = self._totals(progress, phase)
                continue
            lean = patched(LEAN_BILLING_PATCH)  # each page audits itself
            async with self.step(name) as step:
                while True:
                    request = PageRequest(
                        context=context,
                        kind=kind,
                        page_token=progress.page_token,
                        page_size=policy.page_size,
                        audit_as=name if lean else None,
                    )
                    page = await self._post_page(request, lean)
                    if phase is Phase.TIME:
                        progress.time = progress.time.add(page)
                    else:
                        progress.expenses = progress.expenses.add(page)
                    progress.page_token = page.next_page_token
                    step.detail = self._totals(progress, phase)
                    stop_if_cancelled()
                    if progress.page_token is None:
                        break
                    if history_is_long(policy.history_limit):
                        await workflow.wait_condition(workflow.all_handlers_finished)
                        workflow.continue_as_new(input.model_copy(update={"progress": progress}))
            if not lean and patched(AUDIT_POSTINGS_PATCH):
                await self.audit_log("posted", f"{name}: {self._totals(progress, phase)}")
            progress.phase = Phase.EXPENSES if phase is Phase.TIME else Phase.INVOICE

    @staticmethod
    async def _post_page(request: PageRequest, lean: bool) -> PostedPage:
        """One page, called as a step's action is: retry window, heartbeat, a cancel waited
        for. Runs that began before did not wait, and replay so."""
        if lean or patched(PAGE_CANCEL_PATCH):
            return await Call(BillingActivities.post_page, request).run(
                SYSTEM_CALL_RETRY, PAGE_TIMEOUT
            )
        page: PostedPage = await workflow.execute_activity_method(
            BillingActivities.post_page,
            request,
            start_to_close_timeout=PAGE_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=SYSTEM_CALL_RETRY,
        )
        return page

    @staticmethod
    def _totals(progress: BillingProgress, phase: Phase) -> str:
        if phase is Phase.TIME:
            return time_detail(progress)
        return progress.expenses.summary("in expenses")

    async def _nothing_to_invoice(
        self, input: TimeToBillInput, progress: BillingProgress
    ) -> TimeToBillResult:
        for name in (APPROVE, RELEASE, CRM_STATUS):
            self.skip(name, "nothing to invoice")
        await self._tell_parent(self._ready(input, progress, ReadyState.NOTHING_TO_INVOICE))
        return self._result(input, progress, Outcome.NOTHING_TO_INVOICE)

    def _ready(
        self, input: TimeToBillInput, progress: BillingProgress, state: ReadyState
    ) -> ProjectReady:
        return ProjectReady(
            project_id=input.project_id,
            state=state,
            posted=progress.time.created + progress.time.unchanged,
            exceptions=progress.time.exceptions + progress.expenses.exceptions,
            invoice=InvoiceSummary.of(self._invoice) if self._invoice else None,
        )

    def _invoice_stands(self) -> bool:
        """Released, before the cancel or while it came (the void kept it): still invoiced."""
        kept = CompensationOutcome.KEPT
        return self._released or any(c.step == DRAFT and c.outcome is kept for c in self.saga.log)

    def _cancelled(self, input: TimeToBillInput) -> ProjectReady:
        """A cancelled run's word to the month-end. It names the invoice only if it told the
        month-end of the draft, now void, so that the month-end stops counting it."""
        if self.progress is None:
            return ProjectReady(project_id=input.project_id, state=ReadyState.CANCELLED)
        ready = self._ready(input, self.progress, ReadyState.CANCELLED)
        if not self._told_drafted:
            ready.invoice = None
        return ready

    def _result(
        self,
        input: TimeToBillInput,
        progress: BillingProgress,
        outcome: Outcome,
        reason: str | None = None,
    ) -> TimeToBillResult:
        return TimeToBillResult(
            project_id=input.project_id,
            period=input.period,
            outcome=outcome,
            time=progress.time,
            expenses=progress.expenses,
            invoice=InvoiceSummary.of(self._invoice) if self._invoice else None,
            reason=reason,
            late_time_entries=len(progress.late_time_entries),
        )

    async def _tell_parent(self, ready: ProjectReady) -> None:
        """Let a month-end parent start its next project; never fatal. Once, but for a
        cancel after the draft was reported: the month-end then no longer counts it."""
        parent = workflow.info().parent
        if parent is None:
            return
        if self._told_parent and ready.state is not ReadyState.CANCELLED:
            return
        self._told_parent = True
        try:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                READY_SIGNAL, ready
            )
        except FailureError:
            workflow.logger.warning("month-end %s no longer listens", parent.workflow_id)
