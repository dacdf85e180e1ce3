"""worker-change: a transfer or termination in the HCM follows into the PSA and the ERP."""

from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.employees import EmployeeActivities
    from activities.hcm import HcmActivities
    from activities.policy import PolicyActivities
    from activities.staffing import AssignmentEnd, ProjectFlag, ResourceChange, StaffingActivities
    from activities.store import StoreActivities
    from models.erp import ErpEmployee, ErpEmployeeInput, LabourForecastInput
    from models.hcm import Worker, WorkerEvent, WorkerEventKind
    from models.hire_to_staff import WorkerChangeResult, resource_external_id
    from models.policy import StaffingPolicy
    from models.psa import Assignment, Resource
    from models.status import RunState
    from workflows.calls import call, read, undo
    from workflows.interaction import Interactive
    from workflows.staffing_rules import employee_input, forecast_cost

NAME = "worker-change"
CHECK = "check event order"
READ = "read worker"
MOVE_RESOURCE = "move PSA resource"
MOVE_EMPLOYEE = "move ERP employee"
FORECASTS = "recompute forecasts"
END_ASSIGNMENTS = "end assignments and reopen requests"
DEACTIVATE_RESOURCE = "deactivate PSA resource"
DEACTIVATE_EMPLOYEE = "deactivate ERP employee"
RECORD = "record event"
STEPS = {
    WorkerEventKind.TRANSFER: [CHECK, READ, MOVE_RESOURCE, MOVE_EMPLOYEE, FORECASTS, RECORD],
    WorkerEventKind.TERMINATION: [
        CHECK,
        READ,
        END_ASSIGNMENTS,
        DEACTIVATE_RESOURCE,
        DEACTIVATE_EMPLOYEE,
        RECORD,
    ],
}


@workflow.defn(name=NAME)
class WorkerChange(Interactive):
    """Apply one HCM event once, in order: a stale or repeated event changes nothing.

    A transfer undoes itself if it cannot finish. A termination is a fact: its steps are
    retried, never undone.
    """

    @workflow.init
    def __init__(self, event: WorkerEvent) -> None:
        if event.kind not in STEPS:
            raise ApplicationError(
                f"worker-change takes transfer and termination events, not {event.kind}: "
                "a hire starts hire-to-staff",
                type="UnsupportedEvent",
                non_retryable=True,
            )
        self.init_status(NAME, f"{event.worker_id}/{event.event_id}", STEPS[event.kind], event)

    @workflow.run
    async def run(self, event: WorkerEvent) -> WorkerChangeResult:
        result = await self.run_saga(self._run(event))
        self.set_state(RunState.COMPLETED)
        return result

    async def _run(self, event: WorkerEvent) -> WorkerChangeResult:
        async with self.step(CHECK) as step:
            stale = await call(StoreActivities.event_staleness, event)
            if stale:
                step.detail = stale
                for name in STEPS[event.kind][1:]:
                    self.skip(name, "event ignored")
                return WorkerChangeResult(
                    worker_id=event.worker_id,
                    event_id=event.event_id,
                    outcome="ignored",
                    reason=stale,
                )
            step.detail = f"{event.kind.value} effective {event.effective_date}"

        async with self.step(READ) as step:
            worker = await call(HcmActivities.get_worker, event.worker_id)
            self._status.customer = worker.name
            step.detail = f"{worker.name}: {worker.legal_entity}, {worker.cost_center}"

        if event.kind == WorkerEventKind.TRANSFER:
            result = await self._transfer(event, worker)
        else:
            result = await self._terminate(event, worker)

        async with self.step(RECORD):
            await call(StoreActivities.mark_event_applied, event)
        return result

    async def _transfer(self, event: WorkerEvent, worker: Worker) -> WorkerChangeResult:
        external_id = resource_external_id(worker.id)
        policy: StaffingPolicy = await read(PolicyActivities.staffing_policy)
        if not (worker.legal_entity and worker.cost_center and worker.cost_rate):
            raise ApplicationError(
                f"worker {worker.id} lacks legal entity, cost center or cost rate after the "
                "transfer: fix it in the HCM and send the event again",
                type="InvalidTransfer",
                non_retryable=True,
            )

        async with self.step(MOVE_RESOURCE) as step:
            before = await call(StaffingActivities.get_resource, external_id)
            if before is None:
                raise ApplicationError(
                    f"worker {worker.id} has no PSA resource: run hire-to-staff first",
                    type="NotProvisioned",
                    non_retryable=True,
                )
            self.saga.on_failure(
                MOVE_RESOURCE,
                "restore the resource's costing",
                lambda: undo(StaffingActivities.restore_resource, _costing(external_id, before)),
            )
            await call(
                StaffingActivities.update_resource,
                ResourceChange(
                    external_id=external_id,
                    changes={
                        "legal_entity": worker.legal_entity,
                        "cost_center": worker.cost_center,
                        "cost_rate": str(worker.cost_rate),
                        "currency": worker.currency or before.currency,
                    },
                ),
            )
            step.detail = f"{before.cost_center} -> {worker.cost_center}"

        async with self.step(MOVE_EMPLOYEE) as step:
            previous = await call(EmployeeActivities.get_employee, external_id)
            moved = employee_input(worker, policy)
            if previous is not None:
                restored = _restore_employee(moved, previous)
                self.saga.on_failure(
                    MOVE_EMPLOYEE,
                    "restore the employee's costing",
                    lambda: undo(EmployeeActivities.restore_employee, restored),
                )
            employee = await call(EmployeeActivities.upsert_employee, moved)
            step.detail = f"subsidiary {employee.subsidiary_id}, labour cost {employee.labor_cost}"

        async with self.step(FORECASTS) as step:
            assignments = await call(StaffingActivities.active_assignments, external_id)
            for assignment in assignments:
                await self._forecast(external_id, assignment, worker.cost_rate, before.cost_rate)
            step.detail = f"{len(assignments)} assignment forecasts at {worker.cost_rate}/h"

        return WorkerChangeResult(worker_id=worker.id, event_id=event.event_id, outcome="applied")

    async def _forecast(
        self, external_id: str, assignment: Assignment, rate: Decimal, old_rate: Decimal
    ) -> None:
        project_eid = await call(StaffingActivities.project_external_id, assignment.project_id)

        def forecast(cost_rate: Decimal) -> LabourForecastInput:
            return LabourForecastInput(
                external_id=f"{external_id}-{assignment.staffing_request_id}",
                project_external_id=project_eid or "",
                employee_external_id=external_id,
                hours=assignment.hours,
                cost=forecast_cost(assignment.hours, cost_rate),
                start_date=assignment.start_date,
                end_date=assignment.end_date,
            )

        previous = forecast(old_rate)
        self.saga.on_failure(
            FORECASTS,
            f"restore the forecast of {assignment.id}",
            lambda: undo(EmployeeActivities.restore_labour_forecast, previous),
        )
        await call(EmployeeActivities.push_labour_forecast, forecast(rate))

    async def _terminate(self, event: WorkerEvent, worker: Worker) -> WorkerChangeResult:
        external_id = resource_external_id(worker.id)
        last_day = worker.termination_date or event.effective_date
        ended: list[str] = []
        reopened: list[str] = []
        flagged: list[str] = []
        async with self.step(END_ASSIGNMENTS) as step:
            for assignment in await call(StaffingActivities.active_assignments, external_id):
                await call(
                    StaffingActivities.end_assignment,
                    AssignmentEnd(assignment_id=assignment.id, end_date=last_day),
                )
                if not await call(
                    StaffingActivities.reopen_request, assignment.staffing_request_id
                ):
                    ended.append(assignment.id)
                    continue
                await call(
                    StaffingActivities.flag_project,
                    ProjectFlag(
                        project_id=assignment.project_id,
                        reason=f"{worker.name} leaves on {last_day}: staffing request "
                        f"{assignment.staffing_request_id} is open again",
                    ),
                )
                ended.append(assignment.id)
                reopened.append(assignment.staffing_request_id)
                flagged.append(assignment.project_id)
            step.detail = f"{len(ended)} assignments ended on {last_day}"

        async with self.step(DEACTIVATE_RESOURCE):
            await call(StaffingActivities.deactivate_resource, external_id)
        async with self.step(DEACTIVATE_EMPLOYEE):
            await call(EmployeeActivities.set_employee_inactive, external_id)
        return WorkerChangeResult(
            worker_id=worker.id,
            event_id=event.event_id,
            outcome="applied",
            ended_assignments=ended,
            reopened_requests=reopened,
            flagged_projects=sorted(set(flagged)),
        )


def _costing(external_id: str, resource: Resource) -> ResourceChange:
    return ResourceChange(
        external_id=external_id,
        changes={
            "legal_entity": resource.legal_entity,
            "cost_center": resource.cost_center,
            "cost_rate": str(resource.cost_rate),
            "currency": resource.currency,
        },
    )


def _restore_employee(moved: ErpEmployeeInput, previous: ErpEmployee) -> ErpEmployeeInput:
    return moved.model_copy(
        update={
            "subsidiary_id": previous.subsidiary_id,
            "cost_center": previous.cost_center,
            "labor_cost": previous.labor_cost,
        }
    )
