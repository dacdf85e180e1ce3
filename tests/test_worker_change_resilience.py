"""worker-change under ordinary trouble: a transfer cancelled mid-step puts everything back."""

import asyncio

import pytest
from temporalio.client import Client

from config import Settings
from models.hire_to_staff import change_workflow_id
from models.hire_to_staff import resource_external_id as eid
from tests.saga_support import assert_undone_after_cancel, cancelled
from tests.staffing_support import (
    fields,
    fresh_worker,
    hire,
    on_the_bench,
    other_cost_center,
    when_in_flight,
)
from tests.support import Sandbox, Systems
from tests.test_hire_to_staff import hcm_event
from workflows.worker_change import MOVE_EMPLOYEE, MOVE_RESOURCE, WorkerChange

COSTING = ("legal_entity", "cost_center", "cost_rate", "currency", "active")
EMPLOYEE_COSTING = ("subsidiary_id", "cost_center", "labor_cost", "inactive")


@pytest.mark.parametrize(
    ("step", "activity", "system", "path", "method"),
    [
        (MOVE_RESOURCE, "psa.update_resource", "psa", "/api/v1/resources/*", "PATCH"),
        (MOVE_EMPLOYEE, "erp.upsert_employee", "erp", "*/record/v1/employee/eid:{eid}", "PUT"),
    ],
)
async def test_a_cancel_while_a_transfer_step_is_in_flight_restores_the_previous_values(
    client: Client,
    worker: Settings,
    systems: Systems,
    sandbox: Sandbox,
    step: str,
    activity: str,
    system: str,
    path: str,
    method: str,
) -> None:
    person = await fresh_worker(systems, worker, "Consultant")
    await on_the_bench(worker, await hire(client, worker, person.id))
    external_id = eid(person.id)
    resource = await systems.psa.find_resource(external_id)
    employee = await systems.erp.get_employee(external_id)
    assert resource is not None and employee is not None

    center = other_cost_center(person)
    transfer = hcm_event(sandbox, "transfer", person.id, cost_center=center, cost_rate="150")
    # The step's call takes 3 s, so the cancel arrives while it is in flight.
    fault = {"path": path.format(eid=external_id), "method": method, "status": None}
    sandbox.fault(system, **fault, latency_ms=3000, count=1)
    handle = await client.start_workflow(
        WorkerChange.run,
        transfer,
        id=change_workflow_id(transfer),
        task_queue=worker.temporal.task_queue,
    )
    await when_in_flight(handle, activity)

    status = await asyncio.wait_for(cancelled(handle), 60)
    assert sandbox.armed_faults(system) == [], "the slow call was made"
    assert_undone_after_cancel(status, step, worker, handle.id)
    after = await systems.psa.find_resource(external_id)
    assert after is not None and fields(after, *COSTING) == fields(resource, *COSTING)
    moved_back = await systems.erp.get_employee(external_id)
    assert moved_back is not None
    assert fields(moved_back, *EMPLOYEE_COSTING) == fields(employee, *EMPLOYEE_COSTING)
