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
    from models.hire_to_staff import TerminationEnded, WorkerChangeResult, resource_external_id
    from models.policy import StaffingPolicy
    from models.psa import Assignment, Resource
    from models.status import CompensationOutcome, RunState
    from workflows.calls import call, read, undo
    from workflows.interaction import Interactive
    from workflows.staffing_rules import employee_input, forecast_cost
    from workflows.steps import Call, SagaStep

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

        # An event recorded as applied is never undone: a cancel arriving now is too late.
        await self.run_step(
            SagaStep(RECORD, Call(StoreActivities.mark_event_applied, event), final=True)
        )
        return result

    async def _transfer(self, event: WorkerEvent, worker: Worker) -> WorkerChangeResult:
        external_id = resource_external_id(worker.id)
        policy: StaffingPolicy = await read(PolicyActivities.staffing_policy)
        entity, center, rate = worker.legal_entity, worker.cost_center, worker.cost_rate
        if not (entity and center and rate):
            raise ApplicationError(
                f"worker {worker.id} lacks legal entity, cost center or cost rate after the "
                "transfer: fix it in the HCM and send the event again",
                type="InvalidTransfer",
                non_retryable=True,
            )

        # Each move reads the record inside its step, just before changing it; its undo puts
        # what it read back (nothing was changed if the read never came back).
        resource_before: list[Resource] = []
        employee_before: list[ErpEmployee | None] = []
        forecasts_before: list[LabourForecastInput] = []

        async def move_resource() -> Resource:
            before = await call(StaffingActivities.get_resource, external_id)
            if before is None:
                raise ApplicationError(
                    f"worker {worker.id} has no PSA resource: run hire-to-staff first",
                    type="NotProvisioned",
                    non_retryable=True,
                )
            resource_before.append(before)
            await call(
                StaffingActivities.update_resource,
                ResourceChange(
                    external_id=external_id,
                    changes={
                        "legal_entity": entity,
                        "cost_center": center,
                        "cost_rate": str(rate),
                        "currency": worker.currency or before.currency,
                    },
                ),
            )
            return before

        async def restore_resource() -> CompensationOutcome:
            if not resource_before:
                return CompensationOutcome.ALREADY_GONE
            previous = _costing(external_id, resource_before[0])
            return await undo(StaffingActivities.restore_resource, previous)

        before = await self.run_step(
            SagaStep(
                MOVE_RESOURCE,
                move_resource,
                undo=restore_resource,
                key=external_id,
                undoes="restore the resource's costing",
                detail=lambda b: f"{b.cost_center} -> {worker.cost_center}",
            )
        )

        moved = employee_input(worker, policy)

        async def move_employee() -> ErpEmployee:
            employee_before.append(await call(EmployeeActivities.get_employee, external_id))
            return await call(EmployeeActivities.upsert_employee, moved)

        async def restore_employee() -> CompensationOutcome:
            if not employee_before:
                return CompensationOutcome.ALREADY_GONE
            previous = employee_before[0]
            if previous is None:  # the move created it: it stays
                return CompensationOutcome.KEPT
            return await undo(
                EmployeeActivities.restore_employee, _restore_employee(moved, previous)
            )

        await self.run_step(
            SagaStep(
                MOVE_EMPLOYEE,
                move_employee,
                undo=restore_employee,
                key=external_id,
                undoes="restore the employee's costing",
                detail=lambda e: f"subsidiary {e.subsidiary_id}, labour cost {e.labor_cost}",
            )
        )

        async def recompute_forecasts() -> int:
            assignments = await call(StaffingActivities.active_assignments, external_id)
            for assignment in assignments:
                project_eid = await call(
                    StaffingActivities.project_external_id, assignment.project_id
                )
                forecasts_before.append(
                    _forecast(external_id, assignment, project_eid, before.cost_rate)
                )
                await call(
                    EmployeeActivities.push_labour_forecast,
                    _forecast(external_id, assignment, project_eid, rate),
                )
            return len(assignments)

        async def restore_forecasts() -> CompensationOutcome:
            outcome = CompensationOutcome.ALREADY_GONE
            for previous in reversed(forecasts_before):
                restored = await undo(EmployeeActivities.restore_labour_forecast, previous)
                if restored == CompensationOutcome.UNDONE:
                    outcome = CompensationOutcome.UNDONE
            return outcome

        await self.run_step(
            SagaStep(
                FORECASTS,
                recompute_forecasts,
                undo=restore_forecasts,
                key=external_id,
                undoes="restore the forecasts of the worker's assignments",
                detail=lambda n: f"{n} assignment forecasts at {rate}/h",
            )
        )

        return WorkerChangeResult(worker_id=worker.id, event_id=event.event_id, outcome="applied")

    async def _terminate(self, event: WorkerEvent, worker: Worker) -> WorkerChangeResult:
        """A termination is a fact: its steps are retried until they hold, never undone."""
        external_id = resource_external_id(worker.id)
        last_day = worker.termination_date or event.effective_date

        async def end_assignments() -> TerminationEnded:
            ended = TerminationEnded([], [], [])
            for assignment in await call(StaffingActivities.active_assignments, external_id):
                await call(
                    StaffingActivities.end_assignment,
                    AssignmentEnd(assignment_id=assignment.id, end_date=last_day),
                )
                ended.assignments.append(assignment.id)
                if not await call(
                    StaffingActivities.reopen_request, assignment.staffing_request_id
                ):
                    continue
                await call(
                    StaffingActivities.flag_project,
                    ProjectFlag(
                        project_id=assignment.project_id,
                        reason=f"{worker.name} leaves on {last_day}: staffing request "
                        f"{assignment.staffing_request_id} is open again",
                    ),
                )
                ended.requests.append(assignment.staffing_request_id)
                ended.projects.append(assignment.project_id)
            return ended

        ended = await self.run_step(
            SagaStep(
                END_ASSIGNMENTS,
                end_assignments,
                detail=lambda e: f"{len(e.assignments)} assignments ended on {last_day}",
            )
        )
        await self.run_step(
            SagaStep(DEACTIVATE_RESOURCE, Call(StaffingActivities.deactivate_resource, external_id))
        )
        await self.run_step(
            SagaStep(
                DEACTIVATE_EMPLOYEE, Call(EmployeeActivities.set_employee_inactive, external_id)
            )
        )
        return WorkerChangeResult(
            worker_id=worker.id,
            event_id=event.event_id,
            outcome="applied",
            ended_assignments=ended.assignments,
            reopened_requests=ended.requests,
            flagged_projects=sorted(set(ended.projects)),
        )


def _forecast(
    external_id: str, assignment: Assignment, project_eid: str | None, cost_rate: Decimal
) -> LabourForecastInput:
    return LabourForecastInput(
        external_id=f"{external_id}-{assignment.staffing_request_id}",
        project_external_id=project_eid or "",
        employee_external_id=external_id,
        hours=assignment.hours,
        cost=forecast_cost(assignment.hours, cost_rate),
        start_date=assignment.start_date,
        end_date=assignment.end_date,
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
