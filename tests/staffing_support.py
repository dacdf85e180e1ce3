"""What the hire-to-staff and worker-change resilience tests share: fresh workers of their
own, a staffed project, runs driven past their approval, and leftovers looked for."""

import asyncio
import uuid
from decimal import Decimal
from typing import Any

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowHandle

from config import Settings
from models.hcm import Worker
from models.hire_to_staff import HireToStaffInput, HireToStaffResult, hire_workflow_id
from models.hire_to_staff import resource_external_id as eid
from models.people import Approval, Rejection
from models.psa import StaffingRequestInput
from models.status import RunState, WaitKind, WorkflowStatus
from sandbox.catalog import COST_CENTERS
from tests.saga_support import fresh_deals
from tests.support import Sandbox, Systems, proven
from tests.test_opportunity_to_project import start, status_when, waiting_for
from workflows.hire_to_staff import HireToStaff
from workflows.staffing_rules import worker_problems

HireHandle = WorkflowHandle[HireToStaff, HireToStaffResult]
RESOURCE_MANAGER = "rita"
_claimed: set[str] = set()


async def fresh_worker(
    systems: Systems, settings: Settings, role: str, legal_entity: str = "US01"
) -> Worker:
    """A valid active HCM worker of `role` whom no test has provisioned (nothing in PSA or
    ERP): one of the seeded workers beyond the named demo ones, which no other test uses,
    each handed out once per session."""
    everyone = await systems.hcm.all_workers()
    ids = {person.id for person in everyone}
    for person in everyone:
        if (
            person.id in _claimed
            or int(person.id) < 21001
            or person.status != "active"
            or person.termination_date is not None
            or (person.role, person.legal_entity) != (role, legal_entity)
            or worker_problems(person, settings.staffing, person.manager_id in ids)
        ):
            continue
        _claimed.add(person.id)
        if await systems.psa.find_resource(eid(person.id)) is None and (
            await systems.erp.get_employee(eid(person.id)) is None
        ):
            return person
    raise AssertionError(f"no unprovisioned active {role} in {legal_entity} left in the HCM")


def other_cost_center(person: Worker) -> str:
    """Another cost center of the worker's legal entity, for a transfer."""
    return next(
        center
        for center, (entity, _) in COST_CENTERS.items()
        if entity == person.legal_entity and center != person.cost_center
    )


async def staffed_project(client: Client, settings: Settings, sandbox: Sandbox) -> str:
    """A PSA project of a fresh deal, with its ERP job, for hires to be staffed on."""
    (deal,) = fresh_deals(sandbox, 1)
    result = await (await start(client, settings, deal)).result()
    assert result.outcome == "completed" and result.psa_project_id
    return result.psa_project_id


async def only_request(systems: Systems, project_id: str, role: str) -> str:
    """Leave one open request for the role, on the project: the one a hire is matched to."""
    for request in await systems.psa.list_open_staffing_requests(role):
        await systems.psa.cancel_staffing_request(request.id)
    request = await systems.psa.create_staffing_request(
        StaffingRequestInput(
            project_id=project_id, role=role, hours=Decimal(80), start_date="2026-12-01"
        ),
        f"test-request-{uuid.uuid4()}",
    )
    return request.id


async def hire(client: Client, settings: Settings, worker_id: str) -> HireHandle:
    return await client.start_workflow(
        HireToStaff.run,
        HireToStaffInput(worker_id=worker_id),
        id=hire_workflow_id(worker_id),
        task_queue=settings.temporal.task_queue,
    )


async def approved(settings: Settings, handle: HireHandle, within: float = 90) -> None:
    """Wait for the resource-manager approval and give it (`settings`: the worker's)."""
    await status_when(handle, waiting_for(WaitKind.APPROVAL), within=within)
    approval = proven(settings, handle.id, "approve", Approval(user=RESOURCE_MANAGER))
    await handle.execute_update(HireToStaff.approve, approval)


async def on_the_bench(settings: Settings, handle: HireHandle) -> HireToStaffResult:
    """Let the hire finish provisioned but unassigned (a proposed match is rejected by
    `settings`' worker's resource manager)."""

    def settled(status: WorkflowStatus) -> bool:
        return status.state == RunState.COMPLETED or waiting_for(WaitKind.APPROVAL)(status)

    status = await status_when(handle, settled, within=60)
    if status.state != RunState.COMPLETED:
        rejection = Rejection(user=RESOURCE_MANAGER, reason="staffed elsewhere")
        await handle.execute_update(
            HireToStaff.reject, proven(settings, handle.id, "reject", rejection)
        )
    result = await handle.result()
    assert result.outcome == "on bench", result
    return result


async def when_in_flight(
    handle: WorkflowHandle[Any, Any], activity: str, within: float = 60
) -> None:
    """Poll until a worker has started `activity`: the step's call is being made."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    started = PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
    while loop.time() < deadline:
        description = await handle.describe()
        if any(
            pending.activity_type.name == activity and pending.state == started
            for pending in description.raw_description.pending_activities
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{activity} never started in {handle.id}")


async def assert_nothing_hired(systems: Systems, worker_id: str, request_id: str) -> None:
    """No trace of the hire: resource inactive (or never made), no employee, no assignment,
    no forecast, and the staffing request open again."""
    external_id = eid(worker_id)
    resource = await systems.psa.find_resource(external_id)
    assert resource is None or not resource.active, resource
    # The ERP refuses to delete an employee with allocations: gone means no forecast either.
    assert await systems.erp.get_employee(external_id) is None
    assert await systems.erp.list_labour_forecasts(external_id) == []
    if resource is not None:
        assignments = await systems.psa.list_assignments(resource_id=resource.id)
        assert all(a.status == "cancelled" for a in assignments), assignments
    assert request_id in {r.id for r in await systems.psa.list_open_staffing_requests()}


def fields(model: Any, *names: str) -> dict[str, Any]:
    return {name: getattr(model, name) for name in names}
