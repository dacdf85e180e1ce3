"""opportunity-to-project: a closed-won deal becomes customer, projects and staffing requests."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.change_orders import ChangeOrderActivities, ForecastChange
    from activities.crm import CrmActivities, OpportunityUpdate
    from activities.erp import CustomerRemoval, ErpActivities
    from activities.policy import PolicyActivities
    from activities.psa import ProjectCreation, PsaActivities, StaffingPlan
    from activities.store import StoreActivities
    from models.audit import RecordLink
    from models.brief import DecisionBrief
    from models.crm import Opportunity
    from models.erp import customer_external_id
    from models.opportunity_to_project import (
        OpportunityToProjectInput,
        OpportunityToProjectResult,
        erp_customer_for,
        erp_project_for,
        project_external_id,
        psa_project_for,
    )
    from models.people import Rejection
    from models.policy import DealPolicy
    from models.psa import RateCard
    from models.status import FieldProblem, RunState, Step, StepState
    from workflows import search_attributes as sa
    from workflows.briefs import deal_brief
    from workflows.calls import call, read
    from workflows.deal_changes import FollowsDealChanges
    from workflows.deal_rules import (
        CORRECTABLE_FIELDS,
        corrections_made,
        deal_problems,
        field_value,
        hours_by_role,
        needs_approval,
        require_closed_won,
    )
    from workflows.patches import patched
    from workflows.steps import Call, SagaStep

NAME = "opportunity-to-project"
READ = "read opportunity"
VALIDATE = "validate deal"
APPROVE = "deal-desk approval"
CUSTOMER = "upsert ERP customer"
ERP_PROJECT = "create ERP project"
PSA_PROJECT = "create PSA project"
STAFFING = "open staffing requests"
FORECAST = "publish baseline forecast"
WRITE_BACK = "write ids back to CRM"
STEPS = [
    READ, VALIDATE, APPROVE, CUSTOMER, ERP_PROJECT, PSA_PROJECT, STAFFING, FORECAST, WRITE_BACK
]  # fmt: skip
# Runs started before the baseline forecast step existed replay without it.
BASELINE_FORECAST_PATCH = "baseline-forecast"
BASELINE = "baseline"


@workflow.defn(name=NAME)
class OpportunityToProject(FollowsDealChanges):
    """Read and validate the deal, get approval if policy asks, then create in ERP, PSA, CRM.

    An amount change before provisioning has the deal read again (workflows/deal_changes.py)."""

    @workflow.init
    def __init__(self, input: OpportunityToProjectInput) -> None:
        self.init_status(NAME, input.opportunity_id, STEPS, input)
        self._deal: Opportunity | None = None
        self._card: RateCard | None = None
        self.correctable = CORRECTABLE_FIELDS
        self.init_deal_changes()

    @workflow.run
    async def run(self, input: OpportunityToProjectInput) -> OpportunityToProjectResult:
        result = await self.run_saga(self._run(input))
        done = result.outcome == "completed"
        self.set_state(RunState.COMPLETED if done else RunState.REJECTED)
        return result

    async def _run(self, input: OpportunityToProjectInput) -> OpportunityToProjectResult:
        async with self.step(READ) as step:
            self.reading()
            original = await call(CrmActivities.get_opportunity, input.opportunity_id)
            self._deal = original
            self.policy = policy = await read(PolicyActivities.deal_policy)
            self._status.customer = original.account.name
            self._status.customer_id = original.account.id
            workflow.upsert_search_attributes([sa.CUSTOMER_ID.value_set(original.account.id)])
            require_closed_won(original)
            step.detail = f"{original.name}: {original.amount} {original.currency}"

        deal = original
        while True:  # again after an amount change, until a decision on the current amount
            async with self.step(VALIDATE) as step:
                if self.changed_since_read():
                    original, deal = await self.read_again(original, deal)
                checked = await self.correct_until_valid(deal, step, self._problems)
                if isinstance(checked, Rejection):
                    return await self._rejected(input.opportunity_id, checked, step)
                self._deal = deal = checked
            if self.changed_since_read():
                continue
            if not needs_approval(deal, policy):
                self.skip(
                    APPROVE, f"{deal.amount} {deal.currency} is within the approval threshold"
                )
                break
            async with self.step(APPROVE) as step:
                step.detail = f"for {deal.amount} {deal.currency}"
                decision = await self.approval_unless_changed(step, policy.approval)
                if decision is None:
                    step.state = StepState.PENDING
                    step.detail = "withdrawn: the amount changed"
                    continue
                if isinstance(decision, Rejection):
                    return await self._rejected(input.opportunity_id, decision, step)
                await self.audit("approved", decision.comment or "approved", decision.user)
                step.detail = f"approved by {decision.user} for {deal.amount} {deal.currency}"
            break

        self.amount_used = True
        return await self._provision(original, deal, policy)

    async def _provision(
        self, original: Opportunity, deal: Opportunity, policy: DealPolicy
    ) -> OpportunityToProjectResult:
        """Create in ERP and PSA, then write the ids back; each undo registered first."""
        key = self._status.workflow_id
        # Keys are per run (a new run after a compensated one creates afresh), and survive
        # a reset, which keeps the first run's id.
        request_key = f"{key}/{workflow.info().first_execution_run_id}"
        assert deal.legal_entity is not None and deal.billing_terms and deal.billing_type
        subsidiary = policy.legal_entities[deal.legal_entity]
        customer_eid = customer_external_id(deal.account.id)
        project_eid = project_external_id(deal.id)

        upsert = await self.run_step(
            SagaStep(
                CUSTOMER,
                Call(ErpActivities.upsert_customer, erp_customer_for(deal, subsidiary, key)),
                undo=Call(
                    ErpActivities.remove_customer,
                    CustomerRemoval(external_id=customer_eid, origin=key),
                ),
                key=customer_eid,
                undoes="remove the ERP customer if psflow created it",
                detail=lambda u: (
                    f"{'created' if u.created_by_us else 'existing'} customer {u.customer.id}"
                ),
            )
        )
        customer = upsert.customer
        erp_project = await self.run_step(
            SagaStep(
                ERP_PROJECT,
                Call(ErpActivities.upsert_project, erp_project_for(deal, customer.id, subsidiary)),
                undo=Call(ErpActivities.remove_project, project_eid),
                key=project_eid,
                undoes="delete the ERP project",
                detail=lambda p: f"ERP project {p.id}",
            )
        )
        start_date = deal.start_date or deal.close_date
        psa_project = await self.run_step(
            SagaStep(
                PSA_PROJECT,
                Call(
                    PsaActivities.create_project,
                    ProjectCreation(
                        idempotency_key=f"{request_key}/psa-project",
                        project=psa_project_for(deal, erp_project.id),
                    ),
                ),
                undo=Call(PsaActivities.archive_project, project_eid),
                key=project_eid,
                undoes="archive the PSA project",
                detail=lambda p: f"PSA project {p.id}",
            )
        )
        self._status.project = psa_project.id
        requests = await self.run_step(
            SagaStep(
                STAFFING,
                Call(
                    PsaActivities.open_staffing_requests,
                    StaffingPlan(
                        project_id=psa_project.id,
                        start_date=start_date,
                        hours_by_role=hours_by_role(deal),
                        idempotency_prefix=f"{request_key}/staffing",
                    ),
                ),
                undo=Call(PsaActivities.cancel_staffing_requests, project_eid),
                key=project_eid,
                undoes="cancel the project's staffing requests",
                detail=lambda opened: f"{len(opened)} staffing requests",
            )
        )
        if patched(BASELINE_FORECAST_PATCH):
            forecast = ForecastChange(
                project_id=psa_project.id,
                change_order_id=BASELINE,
                budget=deal.amount,
                hours_by_role=hours_by_role(deal),
            )
            await self.run_step(
                SagaStep(
                    FORECAST,
                    Call(ChangeOrderActivities.publish_forecast, forecast),
                    undo=Call(ChangeOrderActivities.withdraw_forecast, forecast),
                    key=f"{psa_project.id}/{BASELINE}",
                    undoes="withdraw the baseline forecast",
                    detail=lambda _: (
                        f"budget {deal.amount} {deal.currency}, change orders revise it"
                    ),
                )
            )
        else:
            self.skip(FORECAST, "started before baseline forecasts were published")

        changes = corrections_made(original, deal) | {
            "erp_project_id": erp_project.id,
            "psa_project_id": psa_project.id,
        }
        await self.run_step(
            SagaStep(
                WRITE_BACK,
                Call(
                    CrmActivities.update_opportunity,
                    OpportunityUpdate(opportunity_id=deal.id, changes=dict(changes)),
                ),
                undo=Call(
                    CrmActivities.update_opportunity,
                    OpportunityUpdate(
                        opportunity_id=deal.id,
                        changes={k: field_value(original, k) for k in changes},
                    ),
                ),
                key=deal.id,
                undoes="restore the opportunity's fields",
                detail=lambda _: ", ".join(f"{k}={v}" for k, v in changes.items()),
            )
        )

        await call(
            StoreActivities.record_links,
            [
                RecordLink(
                    business_key=deal.id,
                    system=system,
                    record_type=kind,
                    record_id=record_id,
                    workflow_id=key,
                )
                for system, kind, record_id in [
                    ("erp", "customer", customer.id),
                    ("erp", "job", erp_project.id),
                    ("psa", "project", psa_project.id),
                    *[("psa", "staffing-request", r.id) for r in requests],
                ]
            ],
        )
        return OpportunityToProjectResult(
            opportunity_id=deal.id,
            outcome="completed",
            erp_customer_id=customer.id,
            erp_project_id=erp_project.id,
            psa_project_id=psa_project.id,
            staffing_request_ids=[r.id for r in requests],
        )

    # ---- validation and correction ------------------------------------------------------

    async def _problems(self, deal: Opportunity) -> list[FieldProblem]:
        assert isinstance(self.policy, DealPolicy)
        return deal_problems(deal, await self._rate_card(deal), self.policy)

    async def _rate_card(self, deal: Opportunity) -> RateCard | None:
        if not deal.rate_card:
            return None
        self._card = await call(PsaActivities.get_rate_card, deal.rate_card)
        return self._card

    def decision_brief(self) -> DecisionBrief:
        if self._deal is None:
            return super().decision_brief()
        return deal_brief(self._deal, self._card, self.policy)

    async def _rejected(
        self, opportunity_id: str, rejection: Rejection, step: Step
    ) -> OpportunityToProjectResult:
        step.detail = f"rejected by {rejection.user}: {rejection.reason or 'no reason given'}"
        await self.audit("rejected", rejection.reason or "rejected", rejection.user)
        return OpportunityToProjectResult(
            opportunity_id=opportunity_id, outcome="rejected", reason=rejection.reason
        )

    # ---- who may approve, reject or correct -------------------------------------------

    def approval_refusal(self, user: str) -> str | None:
        problem = self.rejection_refusal(user)
        if problem:
            return problem
        person = self.person(user)
        if person and self._deal and person.crm_user_id == self._deal.owner_id:
            return f"{user} owns this deal and cannot approve it (segregation of duties)"
        return None
