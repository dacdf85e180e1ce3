"""time-to-bill: a project's approved time and expenses for a period, posted, priced, invoiced.

Pages of entries are posted by id (history holds page tokens and counts); a long period
continues as new. The draft invoice waits for a finance approver who approved none of the time
on it; a failure or rejection after the draft voids it, which frees the postings for a rerun.
Time entries the PSA approves meanwhile: workflows/time_approvals.py.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError

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
    from models.people import Rejection
    from models.policy import BillingPolicy
    from models.status import RunState
    from models.time_to_bill import (
        BillingContext,
        BillingProgress,
        InvoiceSummary,
        Outcome,
        PageRequest,
        Phase,
        ProjectReady,
        ReadyState,
        TimeToBillInput,
        TimeToBillResult,
    )
    from workflows import search_attributes as sa
    from workflows.calls import call, read, undo
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
# Posting outlasts an ERP outage or a 429 storm: it only ever upserts, so retrying is safe.
POSTING_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=20),
    maximum_attempts=0,
)
POSTING_DEADLINE = timedelta(hours=2)
PAGE_TIMEOUT = timedelta(minutes=2)
AUDIT_POSTINGS_PATCH = "audit-postings"


def history_is_long(limit: int) -> bool:
    """Time to continue as new: past the policy's limit, or Temporal suggests it."""
    info = workflow.info()
    return info.is_continue_as_new_suggested() or info.get_current_history_length() > limit


@workflow.defn(name=NAME)
class TimeToBill(FollowsTimeApprovals):
    @workflow.init
    def __init__(self, input: TimeToBillInput) -> None:
        # A retry reruns the whole period (safe: postings are keyed by entry), not one page on.
        fresh = input.model_copy(update={"progress": None})
        self.init_status(NAME, f"{input.project_id}/{input.period}", STEPS, fresh)
        self._invoice: Invoice | None = None
        self._told_parent = False
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

    @workflow.run
    async def run(self, input: TimeToBillInput) -> TimeToBillResult:
        try:
            result = await self.run_saga(self._run(input))
        except (ApplicationError, FailureError) as exc:
            await self._tell_parent(
                ProjectReady(project_id=input.project_id, state=ReadyState.FAILED, error=str(exc))
            )
            raise
        done = result.outcome is not Outcome.REJECTED
        self.set_state(RunState.COMPLETED if done else RunState.REJECTED)
        return result

    async def _run(self, input: TimeToBillInput) -> TimeToBillResult:
        source = time_to_bill_id(input.project_id, input.period)
        progress = input.progress or BillingProgress(invoice_key=f"INV-{workflow.uuid4().hex[:12]}")
        self.progress = progress
        async with self.step(READ) as step:
            project = await call(BillingActivities.billing_project, input.project_id)
            if project is None:
                raise ApplicationError(
                    f"PSA project {input.project_id} does not exist", non_retryable=True
                )
            self.policy = policy = await read(PolicyActivities.billing_policy)
            card = await call(PsaActivities.get_rate_card, project.rate_card)
            if card is None or card.currency != project.currency:
                problem = "does not exist" if card is None else f"prices in {card.currency}"
                raise ApplicationError(
                    f"rate card {project.rate_card} of project {project.id} {problem}; "
                    f"the project bills in {project.currency}: fix the project in the PSA",
                    non_retryable=True,
                )
            self._status.customer = project.customer_name
            workflow.upsert_search_attributes([sa.CUSTOMER.value_set(project.customer_name)])
            step.detail = f"{project.name}: {project.billing_type}, {project.currency}"
        context = BillingContext(
            project=project,
            rate_card=card,
            cost_centers=sorted(policy.cost_centers),
            period=input.period,
            source=source,
        )
        await self._post_all(input, context, progress, policy)

        async with self.step(DRAFT) as step:
            first, last = period_bounds(input.period)
            milestones = [
                m for m in project.milestones if m.completed_on and m.completed_on <= last
            ]
            self.saga.on_failure(
                DRAFT,
                f"void draft invoice {progress.invoice_key}",
                lambda: undo(InvoicingActivities.void_invoice, progress.invoice_key),
            )
            drafted: Drafted = await call(
                InvoicingActivities.draft_invoice,
                InvoiceDraftInput(
                    external_id=progress.invoice_key,
                    project_id=project.erp_project_id,
                    currency=project.currency,
                    period=input.period,
                    source=source,
                    milestones=milestones,
                ),
            )
            if drafted.invoice is None:
                step.detail = f"nothing unbilled for {first} to {last}"
                return await self._nothing_to_invoice(input, progress)
            self._invoice = invoice = drafted.invoice
            step.detail = f"invoice {invoice.number}: {invoice.total} {invoice.currency}"
        await self._tell_parent(self._ready(input, progress, ReadyState.DRAFTED))

        async with self.step(APPROVE) as step:
            rule = policy.approval
            decision = await self.wait_for_approval(
                step, rule.role, rule.deadline, rule.escalation_grace, rule.escalate_to
            )
            if isinstance(decision, Rejection):
                await self.audit("rejected", decision.reason, decision.user)
                step.detail = f"rejected by {decision.user}: {decision.reason}"
                await self.saga.compensate()
                return self._result(input, progress, Outcome.REJECTED, decision.reason)
            await self.audit("approved", decision.comment or "approved", decision.user)
            step.detail = f"approved by {decision.user}"

        async with self.step(RELEASE) as step:
            change = InvoiceStatusChange(
                external_id=invoice.external_id, status=InvoiceStatus.APPROVED
            )
            await call(InvoicingActivities.set_invoice_status, change)
            change.status = InvoiceStatus.RELEASED
            self._invoice = invoice = await call(InvoicingActivities.set_invoice_status, change)
            # Released means sent: from here it takes a credit memo, not a void.
            self.saga.settle()
            step.detail = f"invoice {invoice.number} released"
        await self.audit(
            "released", f"invoice {invoice.number}: {invoice.total} {invoice.currency}"
        )

        async with self.step(CRM_STATUS) as step:
            if project.opportunity_id is None:
                step.detail = "project has no opportunity in the CRM"
            else:
                await call(
                    InvoicingActivities.invoice_status_to_crm,
                    InvoiceStatusUpdate(
                        opportunity_id=project.opportunity_id,
                        invoice_number=invoice.number,
                        status=invoice.status,
                        total=invoice.total,
                        currency=invoice.currency,
                        period=input.period,
                    ),
                    POSTING_RETRY,
                )
                step.detail = f"opportunity {project.opportunity_id}: {invoice.status.value}"
        return self._result(input, progress, Outcome.RELEASED)

    async def _post_all(
        self,
        input: TimeToBillInput,
        context: BillingContext,
        progress: BillingProgress,
        policy: BillingPolicy,
    ) -> None:
        """Post every page of time, then of expenses; continue as new when history grows."""
        for phase, name, kind in (
            (Phase.TIME, POST_TIME, EntryKind.TIME),
            (Phase.EXPENSES, POST_EXPENSES, EntryKind.EXPENSE),
        ):
            if progress.phase is Phase.INVOICE or (
                progress.phase is Phase.EXPENSES and phase is Phase.TIME
            ):
                self._step(name).detail = self._totals(progress, phase)
                continue
            async with self.step(name) as step:
                while True:
                    page = await workflow.execute_activity_method(
                        BillingActivities.post_page,
                        PageRequest(
                            context=context,
                            kind=kind,
                            page_token=progress.page_token,
                            page_size=policy.page_size,
                        ),
                        start_to_close_timeout=PAGE_TIMEOUT,
                        schedule_to_close_timeout=POSTING_DEADLINE,
                        retry_policy=POSTING_RETRY,
                    )
                    if phase is Phase.TIME:
                        progress.time = progress.time.add(page)
                    else:
                        progress.expenses = progress.expenses.add(page)
                    progress.page_token = page.next_page_token
                    step.detail = self._totals(progress, phase)
                    if progress.page_token is None:
                        break
                    if history_is_long(policy.history_limit):
                        await workflow.wait_condition(workflow.all_handlers_finished)
                        workflow.continue_as_new(input.model_copy(update={"progress": progress}))
            if workflow.patched(AUDIT_POSTINGS_PATCH):
                await self.audit_log("posted", f"{name}: {self._totals(progress, phase)}")
            progress.phase = Phase.EXPENSES if phase is Phase.TIME else Phase.INVOICE

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
        """Let a month-end parent start its next project; once, and never fatal."""
        parent = workflow.info().parent
        if parent is None or self._told_parent:
            return
        self._told_parent = True
        try:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                READY_SIGNAL, ready
            )
        except FailureError:
            workflow.logger.warning("month-end %s no longer listens", parent.workflow_id)
