"""reconcile: compare the CRM, ERP and PSA, store each drift found, repair what policy allows.

Run by a Temporal Schedule (`psflow schedules apply`) or once (`psflow reconcile --now`).
Checks page through the systems in activities, which store the findings and hand back only
counts and the ids to repair. Repairs start workflows by business key (a running one is
found, never started twice) or write the ERP's invoice status to the CRM: every invoice-status
repair of a run in one activity, 200 opportunities to a CRM request.
"""

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.reconcile import ReconcileActivities
    from activities.reconcile_rules import periods_back
    from models.reconcile import (
        RECONCILE,
        CheckPage,
        CheckRequest,
        FindingKind,
        InvoiceRepairRequest,
        KindCount,
        ReconcileInput,
        ReconcileResult,
        RepairOutcome,
        RepairRequest,
        RepairTarget,
    )
    from models.status import RunState
    from telemetry import kpis
    from workflows.calls import (
        HEARTBEAT_TIMEOUT,
        SYSTEM_CALL_RETRY,
        call,
        cancellation_type,
        read,
        step_summary,
    )
    from workflows.interaction import Interactive
    from workflows.patches import patched

CHECK_TIMEOUT = timedelta(minutes=5)
# Runs that began before it wrote each invoice status in a `reconcile.repair` of its own.
INVOICE_REPAIRS_PATCH = "invoice-repairs-together"
CHECKS = [
    ("closed-won deals have projects", FindingKind.MISSING_PROJECT),
    ("PSA projects have ERP projects", FindingKind.PSA_WITHOUT_ERP),
    ("approved time is posted", FindingKind.UNPOSTED_TIME),
    ("invoice status matches", FindingKind.INVOICE_STATUS),
]
REPAIRS = "repair"
STEPS = [name for name, _ in CHECKS] + [REPAIRS]
METHODS = {
    FindingKind.MISSING_PROJECT: ReconcileActivities.check_opportunities,
    FindingKind.PSA_WITHOUT_ERP: ReconcileActivities.check_psa_projects,
    FindingKind.UNPOSTED_TIME: ReconcileActivities.check_unposted_time,
    FindingKind.INVOICE_STATUS: ReconcileActivities.check_invoice_status,
}


@workflow.defn(name=RECONCILE)
class Reconcile(Interactive):
    @workflow.init
    def __init__(self, input: ReconcileInput) -> None:
        self.init_status(RECONCILE, workflow.info().workflow_id, STEPS, input)
        self._counts = {kind: KindCount(kind=kind) for _, kind in CHECKS}
        self._targets: list[RepairTarget] = []

    @workflow.run
    async def run(self, input: ReconcileInput) -> ReconcileResult:
        return await self.ending(self._run(input))

    async def _run(self, input: ReconcileInput) -> ReconcileResult:
        policy = await read(ReconcileActivities.policy)
        info = workflow.info()
        run_id = f"{info.workflow_id}/{info.run_id}"
        now = workflow.now()
        periods = input.periods or periods_back(now, policy.lookback_months)
        for name, kind in CHECKS:
            async with self.step(name) as step:
                for period in periods if kind == FindingKind.UNPOSTED_TIME else [None]:
                    token: str | None = None
                    while True:
                        request = CheckRequest(
                            run_id=run_id,
                            now=now,
                            policy=policy,
                            page_token=token,
                            period=period,
                            room=policy.max_repairs - len(self._targets),
                        )
                        page = await self._check(kind, request)
                        self._counts[kind].found += page.found
                        self._targets += page.targets
                        token = page.next_page_token
                        if token is None:
                            break
                step.detail = f"{self._counts[kind].found} found"
        found = {kind.value: count.found for kind, count in self._counts.items()}
        kpis.reconcile_findings(workflow.metric_meter(), found, now)  # no command: no patch
        lines = []
        async with self.step(REPAIRS) as step:
            together = await self._repair_invoice_statuses(run_id)
            for index, target in enumerate(self._targets):
                outcome = together.get(index)
                if outcome is None:  # not an invoice status, or a run from before the patch
                    outcome = await call(
                        ReconcileActivities.repair,
                        RepairRequest(
                            run_id=run_id, target=target, requested_by=input.requested_by
                        ),
                    )
                lines.append(f"{target.kind.value} {target.business_key}: {outcome.outcome}")
                self._counts[target.kind].repaired += int(outcome.repaired)
            step.detail = f"{len(self._targets)} attempted"
        self.set_state(RunState.COMPLETED)
        return ReconcileResult(run_id=run_id, counts=list(self._counts.values()), repairs=lines)

    async def _check(self, kind: FindingKind, request: CheckRequest) -> CheckPage:
        return await workflow.execute_activity_method(
            METHODS[kind],
            request,
            start_to_close_timeout=CHECK_TIMEOUT,
            retry_policy=SYSTEM_CALL_RETRY,
        )

    async def _repair_invoice_statuses(self, run_id: str) -> dict[int, RepairOutcome]:
        """The invoice-status repairs, all in one activity: their outcomes by target index."""
        indexes = [i for i, t in enumerate(self._targets) if t.kind == FindingKind.INVOICE_STATUS]
        if not indexes or not patched(INVOICE_REPAIRS_PATCH):
            return {}
        method = ReconcileActivities.repair_invoice_statuses
        result = await workflow.execute_activity_method(
            method,
            InvoiceRepairRequest(run_id=run_id, targets=[self._targets[i] for i in indexes]),
            start_to_close_timeout=CHECK_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=SYSTEM_CALL_RETRY,
            cancellation_type=cancellation_type(),
            summary=step_summary(method),
        )
        return dict(zip(indexes, result.outcomes, strict=True))
