"""hire-to-staff: a hired worker becomes a PSA resource and ERP employee, then gets staffed."""

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.employees import EmployeeActivities, EmployeeRemoval
    from activities.hcm import HcmActivities
    from activities.policy import PolicyActivities
    from activities.staffing import AssignmentCreation, ResourceProvisioning, StaffingActivities
    from models.brief import DecisionBrief
    from models.erp import LabourForecast, LabourForecastInput
    from models.hcm import Worker
    from models.hire_to_staff import HireToStaffInput, HireToStaffResult, resource_external_id
    from models.people import Rejection
    from models.policy import StaffingPolicy
    from models.psa import AssignmentInput, ResourceInput, StaffingRequest
    from models.status import FieldProblem, RunState
    from workflows import search_attributes as sa
    from workflows.briefs import hire_brief
    from workflows.calls import call, read
    from workflows.interaction import Interactive
    from workflows.patches import patched
    from workflows.staffing_rules import (
        CORRECTABLE_FIELDS,
        best_match,
        employee_input,
        forecast_cost,
        worker_problems,
    )
    from workflows.steps import Call, SagaStep

NAME = "hire-to-staff"
READ = "read worker"
VALIDATE = "validate worker"
RESOURCE = "provision PSA resource"
EMPLOYEE = "provision ERP employee"
MATCH = "match staffing request"
APPROVE = "resource-manager approval"
ASSIGN = "assign to project"
FORECAST = "push labour forecast"
STEPS = [READ, VALIDATE, RESOURCE, EMPLOYEE, MATCH, APPROVE, ASSIGN, FORECAST]
# Runs that provisioned their resource before resources recorded the run that made them
# active undo by deactivating it unconditionally.
RESOURCE_ORIGIN_PATCH = "resource-origin"


@workflow.defn(name=NAME)
class HireToStaff(Interactive):
    """Validate the hire, provision them downstream, then staff them on the best open request."""

    @workflow.init
    def __init__(self, input: HireToStaffInput) -> None:
        self.init_status(NAME, input.worker_id, STEPS, input)
        self.correctable = CORRECTABLE_FIELDS
        self._worker: Worker | None = None
        self._match: StaffingRequest | None = None

    @workflow.run
    async def run(self, input: HireToStaffInput) -> HireToStaffResult:
        result = await self.run_saga(self._run(input))
        self.set_state(RunState.COMPLETED)
        return result

    async def _run(self, input: HireToStaffInput) -> HireToStaffResult:
        async with self.step(READ) as step:
            self._worker = worker = await call(HcmActivities.get_worker, input.worker_id)
            self.policy = policy = await read(PolicyActivities.staffing_policy)
            self._status.customer = worker.name
            workflow.upsert_search_attributes([sa.WORKER_ID.value_set(worker.id)])
            if worker.status != "active" and worker.termination_date is not None:
                raise ApplicationError(
                    f"worker {worker.id} was terminated on {worker.termination_date}: "
                    "there is nobody to staff",
                    type="WorkerTerminated",
                    non_retryable=True,
                )
            step.detail = f"{worker.name}, {worker.role or 'no role'}"

        async with self.step(VALIDATE) as step:
            checked = await self.correct_until_valid(worker, step, self._problems)
            if isinstance(checked, Rejection):
                await self.audit("rejected", checked.reason or "rejected", checked.user)
                step.detail = f"rejected by {checked.user}"
                return HireToStaffResult(
                    worker_id=worker.id, outcome="not provisioned", reason=checked.reason
                )
            self._worker = worker = checked

        key = self._status.workflow_id
        # Keys are per run (a new run after a compensated one creates afresh), and survive
        # a reset, which keeps the first run's id.
        request_key = f"{key}/{workflow.info().first_execution_run_id}"
        external_id = resource_external_id(worker.id)
        assert worker.role and worker.legal_entity and worker.cost_center and worker.department
        assert worker.cost_rate is not None

        if patched(RESOURCE_ORIGIN_PATCH):
            undo_resource: Call[Any] = Call(StaffingActivities.deprovision_resource, external_id)
            undoes = "deactivate the PSA resource if this run made it active"
        else:
            undo_resource = Call(StaffingActivities.deactivate_resource, external_id)
            undoes = "deactivate the PSA resource"
        resource = await self.run_step(
            SagaStep(
                RESOURCE,
                Call(
                    StaffingActivities.provision_resource,
                    ResourceProvisioning(
                        idempotency_key=f"{request_key}/resource",
                        resource=ResourceInput(
                            external_id=external_id,
                            name=worker.name,
                            email=worker.email,
                            role=worker.role,
                            skills=worker.skills,
                            location=worker.location,
                            legal_entity=worker.legal_entity,
                            cost_center=worker.cost_center,
                            cost_rate=worker.cost_rate,
                            currency=worker.currency or "USD",
                            available_from=worker.hire_date,
                        ),
                    ),
                ),
                undo=undo_resource,
                key=external_id,
                undoes=undoes,
                detail=lambda r: f"resource {r.id}",
            )
        )
        employee = await self.run_step(
            SagaStep(
                EMPLOYEE,
                Call(EmployeeActivities.upsert_employee, employee_input(worker, policy)),
                undo=Call(
                    EmployeeActivities.remove_employee,
                    EmployeeRemoval(external_id=external_id, origin=key),
                ),
                key=external_id,
                undoes="remove the ERP employee if psflow created it",
                detail=lambda e: f"employee {e.id}",
            )
        )

        async with self.step(MATCH) as step:
            request = best_match(worker, await call(StaffingActivities.open_requests, worker.role))
            self._match = request
            if request is None:
                step.detail = f"no open {worker.role} request: on the bench"
                for name in (APPROVE, ASSIGN, FORECAST):
                    self.skip(name, "no match")
                workflow.upsert_search_attributes([sa.STEP.value_set("on bench")])
                return HireToStaffResult(
                    worker_id=worker.id,
                    outcome="on bench",
                    reason=f"no open staffing request for {worker.role}",
                    resource_id=resource.id,
                    employee_id=employee.id,
                )
            step.detail = f"proposed {request.id} ({request.hours} h) on {request.project_id}"

        async with self.step(APPROVE) as step:
            rule = policy.approval
            decision = await self.wait_for_approval(
                step, rule.role, rule.deadline, rule.escalation_grace, rule.escalate_to
            )
            if isinstance(decision, Rejection):
                await self.audit("rejected", decision.reason or "rejected", decision.user)
                step.detail = f"rejected by {decision.user}: on the bench"
                for name in (ASSIGN, FORECAST):
                    self.skip(name, "assignment rejected")
                return HireToStaffResult(
                    worker_id=worker.id,
                    outcome="on bench",
                    reason=decision.reason or f"assignment rejected by {decision.user}",
                    resource_id=resource.id,
                    employee_id=employee.id,
                )
            await self.audit(
                "approved", decision.comment or f"assign to {request.id}", decision.user
            )
            step.detail = f"approved by {decision.user}"

        return await self._staff(worker, request, resource.id, employee.id, request_key)

    async def _staff(
        self,
        worker: Worker,
        request: StaffingRequest,
        resource_id: str,
        employee_id: str,
        request_key: str,
    ) -> HireToStaffResult:
        external_id = resource_external_id(worker.id)
        cost_rate = worker.cost_rate
        assert cost_rate is not None
        creation = AssignmentCreation(
            idempotency_key=f"{request_key}/assignment",
            assignment=AssignmentInput(
                resource_id=resource_id,
                project_id=request.project_id,
                staffing_request_id=request.id,
                hours=request.hours,
                start_date=max(worker.hire_date, request.start_date or worker.hire_date),
            ),
        )
        assignment = await self.run_step(
            SagaStep(
                ASSIGN,
                Call(StaffingActivities.create_assignment, creation),
                undo=Call(StaffingActivities.cancel_assignment, creation),
                key=request.id,
                undoes="cancel the assignment to the staffing request",
                detail=lambda a: f"assignment {a.id} on {request.project_id}",
            )
        )

        forecast_id = f"{external_id}-{request.id}"

        async def push_forecast() -> tuple[str | None, LabourForecast | None]:
            project_eid = await call(StaffingActivities.project_external_id, request.project_id)
            forecast = await call(
                EmployeeActivities.push_labour_forecast,
                LabourForecastInput(
                    external_id=forecast_id,
                    project_external_id=project_eid or "",
                    employee_external_id=external_id,
                    hours=assignment.hours,
                    cost=forecast_cost(assignment.hours, cost_rate),
                    start_date=assignment.start_date,
                ),
            )
            return project_eid, forecast

        def pushed(outcome: tuple[str | None, LabourForecast | None]) -> str:
            project_eid, forecast = outcome
            if forecast is None:
                return f"the ERP has no project {project_eid}: nothing to forecast against"
            return f"{forecast.hours} h, {forecast.cost} on ERP project {project_eid}"

        _, forecast = await self.run_step(
            SagaStep(
                FORECAST,
                push_forecast,
                undo=Call(EmployeeActivities.remove_labour_forecast, forecast_id),
                key=forecast_id,
                undoes="delete the labour forecast",
                detail=pushed,
            )
        )

        return HireToStaffResult(
            worker_id=worker.id,
            outcome="assigned",
            resource_id=resource_id,
            employee_id=employee_id,
            assignment_id=assignment.id,
            project_id=request.project_id,
            forecast_id=forecast.id if forecast else None,
        )

    def decision_brief(self) -> DecisionBrief:
        if self._worker is None:
            return super().decision_brief()
        return hire_brief(self._worker, self._match)

    async def _problems(self, worker: Worker) -> list[FieldProblem]:
        assert isinstance(self.policy, StaffingPolicy)
        return worker_problems(worker, self.policy, await self._manager_known(worker))

    async def _manager_known(self, worker: Worker) -> bool:
        if not worker.manager_id:
            return False
        return await call(HcmActivities.worker_exists, worker.manager_id)
