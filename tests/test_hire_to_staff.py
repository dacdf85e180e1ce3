"""hire-to-staff and worker-change end to end: real dev server, worker and sandbox HTTP."""

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError

from config import Settings
from models.hcm import WorkerEvent
from models.hire_to_staff import (
    HireToStaffInput,
    change_workflow_id,
    hire_workflow_id,
    resource_external_id,
)
from models.opportunity_to_project import OpportunityToProjectInput, workflow_id
from models.people import Approval, Correction, Rejection
from models.psa import StaffingRequestInput
from models.status import RunState, StepState, WaitKind
from sandbox.catalog import COST_CENTERS
from sandbox.crm.seed import SPARE_CLOSED_WON
from sandbox.hcm.seed import DEMO_WORKERS
from store.audit import audit_entries
from store.db import open_engine
from tests.saga_support import worker_with_windows
from tests.support import Sandbox, Systems, proven
from tests.test_opportunity_to_project import status_when, waiting_for
from workflows.hire_to_staff import HireToStaff
from workflows.opportunity_to_project import OpportunityToProject
from workflows.worker_change import WorkerChange


async def hire(client: Client, settings: Settings, worker_id: str):
    return await client.start_workflow(
        HireToStaff.run,
        HireToStaffInput(worker_id=worker_id),
        id=hire_workflow_id(worker_id),
        task_queue=settings.temporal.task_queue,
    )


async def apply_event(client: Client, settings: Settings, event: WorkerEvent):
    return await client.execute_workflow(
        WorkerChange.run,
        event,
        id=change_workflow_id(event),
        task_queue=settings.temporal.task_queue,
    )


def hcm_event(sandbox: Sandbox, kind: str, worker_id: str, **changes: str) -> WorkerEvent:
    """Make the sandbox HCM record an event, as its webhook would announce it."""
    response = httpx.post(
        f"{sandbox.urls['hcm']}/__admin/events",
        json={"kind": kind, "worker_id": worker_id, "changes": changes},
        timeout=10,
    )
    response.raise_for_status()
    return WorkerEvent.model_validate(response.json())


async def open_only_request(systems: Systems, project_id: str, role: str) -> str:
    """Leave one open request for the role: the one on this project."""
    for request in await systems.psa.list_open_staffing_requests(role):
        await systems.psa.cancel_staffing_request(request.id)
    request = await systems.psa.create_staffing_request(
        StaffingRequestInput(
            project_id=project_id, role=role, hours=Decimal(120), start_date="2026-12-01"
        ),
        f"test-request-{project_id}-{role}",
    )
    return request.id


async def test_hire_is_provisioned_matched_approved_assigned_then_transferred_and_terminated(
    client: Client, worker: Settings, systems: Systems, sandbox: Sandbox
) -> None:
    deal = await client.execute_workflow(
        OpportunityToProject.run,
        OpportunityToProjectInput(opportunity_id=SPARE_CLOSED_WON[6]),
        id=workflow_id(SPARE_CLOSED_WON[6]),
        task_queue=worker.temporal.task_queue,
    )
    worker_id = DEMO_WORKERS["prehire_consultant_us"]
    hcm_event(sandbox, "hire", worker_id)
    person = await systems.hcm.get_worker(worker_id)
    request_id = await open_only_request(systems, deal.psa_project_id, person.role)

    handle = await hire(client, worker, worker_id)
    status = await status_when(handle, waiting_for(WaitKind.APPROVAL))
    assert status.waiting_for.role == "resource-manager"
    assert request_id in {s.name: s for s in status.steps}["match staffing request"].detail
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        approval = proven(worker, handle.id, "approve", Approval(user="dana"))
        await handle.execute_update(HireToStaff.approve, approval)
    assert "does not have the resource-manager role" in str(refused.value.cause)

    approval = proven(worker, handle.id, "approve", Approval(user="rita"))
    await handle.execute_update(HireToStaff.approve, approval)
    result = await handle.result()

    external_id = resource_external_id(worker_id)
    assert result.outcome == "assigned" and result.project_id == deal.psa_project_id
    resource = await systems.psa.find_resource(external_id)
    employee = await systems.erp.get_employee(external_id)
    assert resource is not None and resource.active and resource.role == person.role
    assert employee is not None and employee.labor_cost == person.cost_rate
    [assignment] = await systems.psa.list_assignments(resource_id=resource.id, status="active")
    assert assignment.staffing_request_id == request_id
    [forecast] = await systems.erp.list_labour_forecasts(external_id)
    assert forecast.cost == assignment.hours * person.cost_rate

    transfer = hcm_event(sandbox, "transfer", worker_id, cost_center="CC-1200", cost_rate="120")
    moved = await apply_event(client, worker, transfer)
    assert moved.outcome == "applied"
    resource = await systems.psa.find_resource(external_id)
    assert resource.cost_center == "CC-1200" and resource.cost_rate == Decimal(120)
    assert (await systems.erp.get_employee(external_id)).labor_cost == Decimal(120)
    [forecast] = await systems.erp.list_labour_forecasts(external_id)
    assert forecast.cost == assignment.hours * 120

    again = await apply_event(client, worker, transfer)
    assert again.outcome == "ignored" and "already applied" in (again.reason or "")
    older = transfer.model_copy(update={"event_id": transfer.event_id + "-late", "sequence": 0})
    late = await apply_event(client, worker, older)
    assert late.outcome == "ignored" and "older than" in (late.reason or "")

    termination = hcm_event(sandbox, "termination", worker_id)
    left = await apply_event(client, worker, termination)
    assert left.ended_assignments == [assignment.id]
    assert left.reopened_requests == [request_id]
    ended = await systems.psa.list_assignments(resource_id=resource.id)
    assert [a.status for a in ended] == ["ended"]
    assert (await systems.psa.find_resource(external_id)) is None or not (
        await systems.psa.find_resource(external_id)
    ).active
    assert (await systems.erp.get_employee(external_id)).inactive
    project = await systems.psa.get_project(deal.psa_project_id)
    assert any(person.last_name in flag for flag in project.flags)
    reopened = await systems.psa.list_open_staffing_requests(person.role)
    assert request_id in [r.id for r in reopened]


async def test_missing_cost_center_waits_for_correction_naming_it(
    client: Client, worker: Settings, systems: Systems, sandbox: Sandbox
) -> None:
    worker_id = DEMO_WORKERS["prehire_missing_cost_center"]
    hcm_event(sandbox, "hire", worker_id)
    person = await systems.hcm.get_worker(worker_id)
    handle = await hire(client, worker, worker_id)
    status = await status_when(handle, waiting_for(WaitKind.CORRECTION))
    assert [p.field for p in status.waiting_for.problems] == ["cost_center"]
    assert await systems.psa.find_resource(resource_external_id(worker_id)) is None

    center = next(c for c, (entity, _) in COST_CENTERS.items() if entity == person.legal_entity)
    fix = Correction(user="rita", fields={"cost_center": center, "cost_rate": "137.25"})
    await handle.execute_update(HireToStaff.correct, proven(worker, handle.id, "correct", fix))
    # After the correction it either finds nobody to staff, or proposes a match.
    status = await status_when(
        handle,
        lambda s: s.state == RunState.COMPLETED or waiting_for(WaitKind.APPROVAL)(s),
    )
    # The audit trail names the changed pay field but never repeats its value.
    audited = audit_entries(open_engine(worker.resolved_store_url), workflow_id=handle.id)
    corrected = [e.detail for e in audited if e.kind == "corrected"]
    noted = [e.detail for e in status.events if e.kind == "corrected"]
    assert corrected == noted == [f"cost_center={center}, cost_rate=(changed)"]
    if status.waiting_for is not None:
        rejection = proven(worker, handle.id, "reject", Rejection(user="rita", reason="later"))
        await handle.execute_update(HireToStaff.reject, rejection)
    result = await handle.result()
    assert result.outcome in ("assigned", "on bench")
    resource = await systems.psa.find_resource(resource_external_id(worker_id))
    assert resource is not None and resource.cost_center == center
    assert resource.cost_rate == Decimal("137.25")


async def test_erp_down_after_psa_provisioning_leaves_nothing_half_made(
    client: Client, settings: Settings, systems: Systems, sandbox: Sandbox
) -> None:
    worker_id = DEMO_WORKERS["prehire_analyst_uk"]
    hcm_event(sandbox, "hire", worker_id)
    # Down for longer than the ERP's retry window; the undos' reads and deletes still work.
    sandbox.fault(
        "erp", path="*/record/v1/employee/*", method="PUT", status=503, down_for_seconds=60
    )
    async with worker_with_windows(client, settings, erp=timedelta(seconds=3)) as used:
        handle = await hire(client, used, worker_id)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        status = await handle.query(HireToStaff.status)

    assert status.state == RunState.FAILED
    assert {s.name: s.state for s in status.steps}["provision ERP employee"] == StepState.FAILED
    assert (status.error or "").startswith("ERP still failing after 3 s")
    sandbox.clear_faults()
    external_id = resource_external_id(worker_id)
    resource = await systems.psa.find_resource(external_id)
    assert resource is None or not resource.active
    assert await systems.erp.get_employee(external_id) is None
