"""hire-to-staff under ordinary trouble: cancels at every creating step, outages waited out."""

import asyncio
import uuid

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from config import Settings
from models.hire_to_staff import resource_external_id as eid
from models.status import WaitKind
from tests.saga_support import (
    assert_undone_after_cancel,
    cancelled,
    dead_letters_of,
    status_of,
    when_running,
)
from tests.staffing_support import (
    HireHandle,
    approved,
    assert_nothing_hired,
    fresh_worker,
    hire,
    only_request,
    staffed_project,
    when_in_flight,
)
from tests.support import Sandbox, Systems, running_worker
from tests.test_opportunity_to_project import status_when, waiting_for
from workflows.hire_to_staff import ASSIGN, EMPLOYEE, FORECAST, RESOURCE

ERP_EMPLOYEE = "*/record/v1/employee/eid:{eid}"
ERP_FORECAST = "*/record/v1/resourceAllocation/eid:{eid}-*"


@pytest.fixture(scope="module")
async def project(temporal_env: WorkflowEnvironment, settings: Settings, sandbox: Sandbox) -> str:
    """One staffed project for the module's hires (made by opportunity-to-project)."""
    client = temporal_env.client
    async with running_worker(client, settings, f"psflow-test-{uuid.uuid4()}") as used:
        return await staffed_project(client, used, sandbox)


@pytest.mark.parametrize(
    ("step", "activity", "system", "path", "method"),
    [
        (RESOURCE, "psa.provision_resource", "psa", "/api/v1/resources", "POST"),
        (EMPLOYEE, "erp.upsert_employee", "erp", ERP_EMPLOYEE, "PUT"),
        (ASSIGN, "psa.create_assignment", "psa", "/api/v1/assignments", "POST"),
        (FORECAST, "erp.push_labour_forecast", "erp", ERP_FORECAST, "PUT"),
    ],
)
async def test_a_cancel_while_a_hire_step_is_in_flight_leaves_no_trace_in_any_system(
    client: Client,
    worker: Settings,
    systems: Systems,
    sandbox: Sandbox,
    project: str,
    step: str,
    activity: str,
    system: str,
    path: str,
    method: str,
) -> None:
    person = await fresh_worker(systems, worker, "Consultant")
    request_id = await only_request(systems, project, "Consultant")
    # The step's call takes 3 s, so the cancel arrives while it is in flight.
    fault = {"path": path.format(eid=eid(person.id)), "method": method, "status": None}
    fault |= {"latency_ms": 3000, "count": 1}
    after_approval = step in (ASSIGN, FORECAST)
    if not after_approval:
        sandbox.fault(system, **fault)
    handle = await hire(client, worker, person.id)
    if after_approval:
        await status_when(handle, waiting_for(WaitKind.APPROVAL))
        sandbox.fault(system, **fault)
        await approved(worker, handle)
    await when_in_flight(handle, activity)

    status = await asyncio.wait_for(cancelled(handle), 60)
    assert sandbox.armed_faults(system) == [], "the slow call was made"
    assert_undone_after_cancel(status, step, worker, handle.id)
    await assert_nothing_hired(systems, person.id, request_id)


async def staffed(handle: HireHandle, systems: Systems, settings: Settings) -> None:
    """Approve the match; the hire ends assigned, nothing undone, no dead letter."""
    await approved(settings, handle, within=120)
    result = await handle.result()
    assert result.outcome == "assigned", result
    status = await status_of(handle)
    assert status.compensations == [] and dead_letters_of(settings, handle.id) == []
    external_id = eid(result.worker_id)
    resource = await systems.psa.find_resource(external_id)
    assert resource is not None and resource.active
    assert (await systems.erp.get_employee(external_id)) is not None
    active = await systems.psa.list_assignments(resource_id=resource.id, status="active")
    assert [a.id for a in active] == [result.assignment_id]
    forecasts = await systems.erp.list_labour_forecasts(external_id)
    assert [f.id for f in forecasts] == [result.forecast_id]


async def test_outages_of_hcm_psa_and_erp_longer_than_five_attempts_are_waited_out(
    client: Client, worker: Settings, systems: Systems, sandbox: Sandbox, project: str
) -> None:
    roles = ("Analyst", "Consultant", "Senior Consultant")  # one request each, one hire each
    by_hcm, by_psa, by_erp = [await fresh_worker(systems, worker, role) for role in roles]
    for person in (by_hcm, by_psa, by_erp):
        await only_request(systems, project, person.role or "")
    # Five 503s each: every attempt a step used to get fails, the sixth (after ~31 s) passes.
    sandbox.fault("hcm", path=f"*/workers/{by_hcm.id}", method="GET", status=503, count=5)
    erp_path = ERP_EMPLOYEE.format(eid=eid(by_erp.id))
    sandbox.fault("erp", path=erp_path, method="PUT", status=503, count=5)
    hcm_run = await hire(client, worker, by_hcm.id)
    erp_run = await hire(client, worker, by_erp.id)
    # The PSA fails resource creation once the ERP run is past it: the PSA run alone meets
    # it (the HCM run gets there after the fifth failure).
    await when_running(erp_run, EMPLOYEE)
    sandbox.fault("psa", path="/api/v1/resources", method="POST", status=503, count=5)
    psa_run = await hire(client, worker, by_psa.id)

    await asyncio.gather(*(staffed(run, systems, worker) for run in (hcm_run, psa_run, erp_run)))
    for system in ("hcm", "psa", "erp"):
        assert sandbox.armed_faults(system) == [], f"all five {system} failures were met"
