"""hire-to-staff: a hired worker becomes a PSA resource and ERP employee, then gets staffed."""

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.employees import EmployeeActivities, EmployeeRemoval
    from activities.hcm import HcmActivities
    from activities.policy import PolicyActivities
    from activities.staffing import AssignmentCreation, ResourceProvisioning, StaffingActivities
    from models.erp import LabourForecastInput
    from models.hcm import Worker
    from models.hire_to_staff import HireToStaffInput, HireToStaffResult, resource_external_id
    from models.people import Rejection
    from models.policy import StaffingPolicy
    from models.psa import AssignmentInput, ResourceInput, StaffingRequest
    from models.status import FieldProblem, RunState
    from workflows import search_attributes as sa
    from workflows.calls import call, read, undo
    from workflows.interaction import Interactive
    from workflows.staffing_rules import (
        CORRECTABLE_FIELDS,
        best_match,
        employee_input,
        forecast_cost,
        worker_problems,
    )

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


@workflow.defn(name=NAME)
class HireToStaff(Interactive):
    """Validate the hire, provision them downstream, then staff them on the best open request."""

    @workflow.init
    def __init__(self, input: HireToStaffInput) -> None:
        self.init_status(NAME, input.worker_id, STEPS, input)
        self.correctable = CORRECTABLE_FIELDS

    @workflow.run
    async def run(self, input: HireToStaffInput) -> HireToStaffResult:
        result = await self.run_saga(self._run(input))
        self.set_state(RunState.COMPLETED)
        return result

    async def _run(self, input: HireToStaffInput) -> HireToStaffResult:
        async with self.step(READ) as step:
            worker = await call(HcmActivities.get_worker, input.worker_id)
            self.policy = policy = await read(PolicyActivities.staffing_policy)
            self._status.customer = worker.name
            workflow.upsert_search_attributes([sa.CUSTOMER.value_set(worker.name)])
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
            worker = checked

        key = self._status.workflow_id
        request_key = f"{key}/{workflow.info().run_id}"
        external_id = resource_external_id(worker.id)
        assert worker.role and worker.legal_entity and worker.cost_center and worker.department
        assert worker.cost_rate is not None

        async with self.step(RESOURCE) as step:
            self.saga.on_failure(
                RESOURCE,
                f"deactivate PSA resource {external_id}",
                lambda: undo(StaffingActivities.deactivate_resource, external_id),
            )
            resource = await call(
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
            )
            step.detail = f"resource {resource.id}"

        async with self.step(EMPLOYEE) as step:
            removal = EmployeeRemoval(external_id=external_id, origin=key)
            self.saga.on_failure(
                EMPLOYEE,
                f"remove ERP employee {external_id}",
                lambda: undo(EmployeeActivities.remove_employee, removal),
            )
            employee = await call(
                EmployeeActivities.upsert_employee,
                employee_input(worker, policy),
            )
            step.detail = f"employee {employee.id}"

        async with self.step(MATCH) as step:
            request = best_match(worker, await call(StaffingActivities.open_requests, worker.role))
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
        assert worker.cost_rate is not None
        async with self.step(ASSIGN) as step:
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
            self.saga.on_failure(
                ASSIGN,
                f"cancel the assignment to {request.id}",
                lambda: undo(StaffingActivities.cancel_assignment, creation),
            )
            assignment = await call(StaffingActivities.create_assignment, creation)
            step.detail = f"assignment {assignment.id} on {request.project_id}"

        async with self.step(FORECAST) as step:
            project_eid = await call(StaffingActivities.project_external_id, request.project_id)
            forecast_id = f"{external_id}-{request.id}"
            self.saga.on_failure(
                FORECAST,
                f"delete labour forecast {forecast_id}",
                lambda: undo(EmployeeActivities.remove_labour_forecast, forecast_id),
            )
            forecast = await call(
                EmployeeActivities.push_labour_forecast,
                LabourForecastInput(
                    external_id=forecast_id,
                    project_external_id=project_eid or "",
                    employee_external_id=external_id,
                    hours=assignment.hours,
                    cost=forecast_cost(assignment.hours, worker.cost_rate),
                    start_date=assignment.start_date,
                ),
            )
            step.detail = (
                f"{forecast.hours} h, {forecast.cost} on ERP project {project_eid}"
                if forecast
                else f"the ERP has no project {project_eid}: nothing to forecast against"
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

    async def _problems(self, worker: Worker) -> list[FieldProblem]:
        assert isinstance(self.policy, StaffingPolicy)
        return worker_problems(worker, self.policy, await self._manager_known(worker))

    async def _manager_known(self, worker: Worker) -> bool:
        if not worker.manager_id:
            return False
        return await call(HcmActivities.worker_exists, worker.manager_id)
