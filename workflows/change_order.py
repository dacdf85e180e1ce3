"""change-order: a budget and staffing change made in ERP, PSA and CRM together, or not at all.

One change order per project at a time (the project-changes lock, in arrival order). Approval
levels grow with the amount; each approver must hold the level's role, must not have raised
the change, and must not have approved another level. Every change is undone to its exact
previous value if a later step fails for good or the run is cancelled, up to the last step:
once the PSA holds the change order as applied, it stays applied and a cancel is too late.
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.change_orders import (
        AmountChange,
        BudgetChange,
        ChangeOrderActivities,
        ChangeOrderStatus,
        ForecastChange,
        LockRequest,
    )
    from activities.policy import PolicyActivities
    from models.brief import DecisionBrief
    from models.change_order import ChangeOrder, ChangeOrderResult, LockGrant, project_lock_id
    from models.change_state import (
        ChangeOrderInput,
        ProjectState,
        StaffingRevision,
    )
    from models.people import Rejection, shown
    from models.policy import ApprovalLevel, ChangeOrderPolicy
    from models.status import RunState, Step
    from workflows import search_attributes as sa
    from workflows.briefs import change_order_brief
    from workflows.calls import call, read
    from workflows.change_rules import change_order_problems
    from workflows.interaction import Interactive
    from workflows.patches import patched
    from workflows.steps import Call, SagaStep

NAME = "change-order"
RECORD = "record change order"
LOCK = "wait for the project"
VALIDATE = "validate change order"
ERP_BUDGET = "update ERP budget"
PSA_BUDGET = "update PSA budget"
STAFFING = "revise staffing demand"
CRM_AMOUNT = "update CRM amount"
FORECAST = "publish forecast change"
OUTCOME = "mark applied in PSA"
DEFAULT_LEVELS = ["project-manager", "finance", "deal-desk"]
STEPS = [
    RECORD, LOCK, VALIDATE, *(f"{role} approval" for role in DEFAULT_LEVELS),
    ERP_BUDGET, PSA_BUDGET, STAFFING, CRM_AMOUNT, FORECAST, OUTCOME,
]  # fmt: skip
GRANTED_SIGNAL = "lock_granted"
LOCK_REASK_PATCH = "lock-reask"
# Re-asks back off like the lock's holder checks: a week queued costs ~150 events.
FIRST_REASK = timedelta(hours=1)
LONGEST_REASK = timedelta(hours=12)


@workflow.defn(name=NAME)
class ChangeOrderWorkflow(Interactive):
    @workflow.init
    def __init__(self, input: ChangeOrderInput) -> None:
        order = input.change_order
        self.init_status(NAME, order.id, STEPS, input)
        self._status.project = order.project_id
        self._granted = False
        self._level: ApprovalLevel | None = None
        self._approved_by: list[str] = []
        self._holding_lock = False
        self._order = order

    def decision_brief(self) -> DecisionBrief:
        return change_order_brief(self._order, self._approved_by)

    @workflow.signal(name=GRANTED_SIGNAL)
    def lock_granted(self, *payload: object) -> None:
        """The project-changes lock says it is this change order's turn (its one argument is
        the project id); anything else is refused in the status events, never a failed task."""
        grant = self._signalled(GRANTED_SIGNAL, LockGrant, payload)
        if grant is None:
            return
        project = self._status.project
        if grant.root != project:
            self._refused_signal(
                GRANTED_SIGNAL, None, f"granted {shown(grant.root)}: this order waits for {project}"
            )
            return
        self._granted = True

    def approval_refusal(self, user: str) -> str | None:
        refusal = self.rejection_refusal(user)
        if refusal is None and user in self._approved_by:
            return f"{user} approved another level already: each level needs another person"
        return refusal

    def rejection_refusal(self, user: str) -> str | None:
        policy, level = self.policy, self._level
        if policy is None or level is None:
            return "the change order is not waiting for an approval"
        person = self.person(user)
        if person is None:
            return (
                f"unknown user {user!r}: known users are {', '.join(u.name for u in policy.users)}"
            )
        if level.role not in person.roles:
            return f"{user} does not have the {level.role} role this level needs"
        if user == self._order.requested_by:
            return f"{user} raised this change order: someone else must decide it"
        return None

    @workflow.run
    async def run(self, input: ChangeOrderInput) -> ChangeOrderResult:
        self._order = order = input.change_order
        try:
            result = await self.run_saga(self._run(order))
        finally:
            await self._release(order)
        self.set_state(RunState.COMPLETED if result.outcome == "applied" else RunState.REJECTED)
        return result

    async def _run(self, order: ChangeOrder) -> ChangeOrderResult:
        # Never undone: a change order cancelled or failed stays submitted in the PSA.
        policy = await self.run_step(
            SagaStep(
                RECORD,
                lambda: self._record(order),
                detail=lambda _: f"{order.budget_change:+} {order.currency} on {order.project_id}",
            )
        )

        async with self.step(LOCK) as step:
            me = workflow.info().workflow_id
            self._holding_lock = True
            request = LockRequest(project_id=order.project_id, requester=me)
            await call(ChangeOrderActivities.request_lock, request)
            step.detail = f"queued on {project_lock_id(order.project_id)}"
            if patched(LOCK_REASK_PATCH):
                await self._until_granted(request)
            else:
                await workflow.wait_condition(lambda: self._granted)
            step.detail = "this change order's turn"

        async with self.step(VALIDATE) as step:
            state = await call(ChangeOrderActivities.project_state, order)
            problems = change_order_problems(order, state, policy)
            if problems:
                step.detail = "; ".join(p.message for p in problems)
                raise ApplicationError(
                    f"change order {order.id} is invalid: "
                    + "; ".join(f"{p.field}: {p.message}" for p in problems),
                    [p.model_dump() for p in problems],
                    type="InvalidChangeOrder",
                    non_retryable=True,
                )
            assert state.project is not None and state.erp_budget is not None
            self._status.customer = state.project.customer_name
            workflow.upsert_search_attributes([sa.PROJECT_ID.value_set(state.project.id)])
            step.detail = f"budget {state.erp_budget} -> {state.erp_budget + order.budget_change}"

        levels = policy.levels_for(order.currency, order.budget_change)
        rejection = await self._approvals(levels)
        if rejection is not None:
            await call(
                ChangeOrderActivities.set_status,
                ChangeOrderStatus(
                    change_order_id=order.id, status="rejected", note=rejection.reason
                ),
            )
            return ChangeOrderResult(
                change_order_id=order.id,
                project_id=order.project_id,
                outcome="rejected",
                approvals=self._approved_by,
                reason=rejection.reason,
            )
        new_budget = await self._apply(order, state)
        return ChangeOrderResult(
            change_order_id=order.id,
            project_id=order.project_id,
            outcome="applied",
            new_budget=new_budget,
            approvals=self._approved_by,
        )

    async def _record(self, order: ChangeOrder) -> ChangeOrderPolicy:
        """Read the policy, then hold the change order in the PSA."""
        self.policy = policy = await read(PolicyActivities.change_order_policy)
        await call(ChangeOrderActivities.record, order)
        return policy

    async def _until_granted(self, request: LockRequest) -> None:
        """Wait for the lock's grant, asking again now and then: a lock that lost its queue
        (terminated, say) learns of this order again, and a lost grant is sent again."""
        wait = FIRST_REASK
        while True:
            try:
                await workflow.wait_condition(lambda: self._granted, timeout=wait)
                return
            except TimeoutError:
                await call(ChangeOrderActivities.request_lock, request)
                wait = min(wait * 2, LONGEST_REASK)

    async def _approvals(self, levels: list[ApprovalLevel]) -> Rejection | None:
        """Each level in turn; the first rejection ends it."""
        names = {f"{level.role} approval" for level in levels}
        for step in list(self._status.steps):
            if step.name.endswith(" approval") and step.name not in names:
                self.skip(
                    step.name,
                    f"not needed for {abs(self._order.budget_change)} {self._order.currency}",
                )
        for level in levels:
            async with self.step(self._approval_step(level).name) as step:
                self._level = level
                decision = await self.wait_for_approval(
                    step, level.role, level.deadline, level.escalation_grace, level.escalate_to
                )
                self._level = None
                if isinstance(decision, Rejection):
                    await self.audit("rejected", decision.reason, decision.user)
                    step.detail = f"rejected by {decision.user}: {decision.reason}"
                    for later in levels[levels.index(level) + 1 :]:
                        self.skip(f"{later.role} approval", "rejected at an earlier level")
                    for name in (ERP_BUDGET, PSA_BUDGET, STAFFING, CRM_AMOUNT, FORECAST, OUTCOME):
                        self.skip(name, "rejected")
                    return decision
                self._approved_by.append(decision.user)
                await self.audit(
                    "approved", decision.comment or f"{level.role} level", decision.user
                )
                step.detail = f"approved by {decision.user}"
        return None

    def _approval_step(self, level: ApprovalLevel) -> Step:
        name = f"{level.role} approval"
        if not any(s.name == name for s in self._status.steps):
            at = next(i for i, s in enumerate(self._status.steps) if s.name == ERP_BUDGET)
            self._status.steps.insert(at, Step(name=name))
        return self._step(name)

    async def _apply(self, order: ChangeOrder, state: ProjectState) -> Decimal:
        """The changes, each undone if a later one fails or the run is cancelled, then the
        PSA's record that the change order is applied."""
        assert state.erp_budget is not None
        for change in self._changes(order, state):
            await self.run_step(change)
        await self._mark_applied(order)
        return state.erp_budget + order.budget_change

    def _changes(self, order: ChangeOrder, state: ProjectState) -> list[SagaStep[Any]]:
        """ERP budget, PSA budget, staffing demand, CRM amount, forecast: each undo puts back
        the value validate read, by a key fixed before its step."""
        assert state.project is not None
        project, was = state.project, state.snapshot()
        new_budget = was.erp_budget + order.budget_change
        job = was.erp_project_external_id
        steps: list[SagaStep[Any]] = [
            SagaStep(
                ERP_BUDGET,
                Call(
                    ChangeOrderActivities.set_erp_budget, BudgetChange(key=job, budget=new_budget)
                ),
                undo=Call(
                    ChangeOrderActivities.set_erp_budget,
                    BudgetChange(key=job, budget=was.erp_budget),
                ),
                key=job,
                undoes=f"restore ERP budget {was.erp_budget}",
                detail=lambda _: f"{was.erp_budget} -> {new_budget} {project.currency}",
            )
        ]

        psa_was = state.psa_budget
        if psa_was is None:
            steps.append(_noted(PSA_BUDGET, "the PSA project has no budget"))
        else:
            psa_budget = psa_was + order.budget_change
            steps.append(
                SagaStep(
                    PSA_BUDGET,
                    Call(
                        ChangeOrderActivities.set_psa_budget,
                        BudgetChange(key=project.id, budget=psa_budget),
                    ),
                    undo=Call(
                        ChangeOrderActivities.set_psa_budget,
                        BudgetChange(key=project.id, budget=psa_was),
                    ),
                    key=project.id,
                    undoes=f"restore PSA budget {psa_was}",
                    detail=lambda _: f"{psa_was} -> {psa_budget}",
                )
            )

        if not order.roles:
            steps.append(_noted(STAFFING, "no staffing change"))
        else:
            info = workflow.info()
            # The first run id outlives a reset, so a reset run finds (not reopens) these.
            revision = StaffingRevision(
                change_order=order,
                request_key=f"{info.workflow_id}/{info.first_execution_run_id}",
                open_requests=state.open_requests,
            )
            steps.append(
                SagaStep(
                    STAFFING,
                    Call(ChangeOrderActivities.revise_staffing, revision),
                    undo=Call(ChangeOrderActivities.restore_staffing, revision.undo()),
                    key=revision.request_key,
                    undoes="restore request hours, cancel opened requests",
                    detail=lambda revised: (
                        f"{len(revised.changed)} requests changed, {len(revised.opened)} opened"
                    ),
                )
            )

        opportunity, amount = was.opportunity_id, was.opportunity_amount
        if opportunity is None or amount is None:
            steps.append(_noted(CRM_AMOUNT, "the project has no opportunity in the CRM"))
        else:
            moved = amount + order.budget_change
            steps.append(
                SagaStep(
                    CRM_AMOUNT,
                    Call(
                        ChangeOrderActivities.set_opportunity_amount,
                        AmountChange(opportunity_id=opportunity, amount=moved),
                    ),
                    undo=Call(
                        ChangeOrderActivities.set_opportunity_amount,
                        AmountChange(opportunity_id=opportunity, amount=amount),
                    ),
                    key=opportunity,
                    undoes=f"restore amount {amount}",
                    detail=lambda _: f"{opportunity}: {amount} -> {moved}",
                )
            )

        forecast = ForecastChange(
            project_id=project.id,
            change_order_id=order.id,
            budget=new_budget,
            hours_by_role={c.role: c.hours_change for c in order.roles},
        )
        steps.append(
            SagaStep(
                FORECAST,
                Call(ChangeOrderActivities.publish_forecast, forecast),
                undo=Call(ChangeOrderActivities.withdraw_forecast, forecast),
                key=f"{project.id}/{order.id}",
                undoes="withdraw the forecast revision",
                detail=lambda _: f"revision {order.id} published",
            )
        )
        return steps

    async def _mark_applied(self, order: ChangeOrder) -> None:
        """The point of no return: the PSA keeps an applied change order applied, so a cancel
        arriving now is too late and the run completes. A failure still undoes the rest."""
        applied = ChangeOrderStatus(
            change_order_id=order.id, status="applied",
            note=f"approved by {', '.join(self._approved_by)}",
        )  # fmt: skip
        await self.run_step(
            SagaStep(
                OUTCOME,
                Call(ChangeOrderActivities.set_status, applied),
                detail=lambda _: applied.note or "",
                final=True,
            )
        )

    async def _release(self, order: ChangeOrder) -> None:
        """Give the project back (also when failed, rejected or cancelled)."""
        if not self._holding_lock:
            return
        me = workflow.info().workflow_id
        handle = workflow.get_external_workflow_handle(project_lock_id(order.project_id))
        try:
            await handle.signal("release", me)
        except FailureError as exc:  # the lock notices an ended holder by itself
            workflow.logger.warning("could not release %s: %s", order.project_id, exc)


async def _nothing() -> None:
    """The action of a step with nothing to change."""


def _noted(name: str, why: str) -> SagaStep[None]:
    """A step that changes nothing here: it shows why."""
    return SagaStep(name, _nothing, detail=lambda _: why)
