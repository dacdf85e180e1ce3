"""What an undo reports: `kept` only when the system has a reason to keep the record.

Undo activities run against the sandbox over HTTP; a run's compensation log shows an undo
that raises as `failed` with the system's words, and one that returns as its outcome.
"""

import dataclasses
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import ActivityEnvironment

from activities.employees import EmployeeActivities, EmployeeRemoval
from activities.erp import CustomerRemoval, ErpActivities
from activities.staffing import ResourceProvisioning, StaffingActivities
from config import Settings
from connectors.errors import RecordInUse, RequestRejected
from models.erp import ErpCustomerInput, ErpEmployeeInput, ErpProjectInput, LabourForecastInput
from models.hire_to_staff import hire_workflow_id, resource_external_id
from models.psa import ResourceInput
from models.status import CompensationOutcome, RunState
from models.undo import UndoReport
from sandbox.hcm.seed import SPARE_PREHIRES
from tests.support import Sandbox, Systems
from tests.test_hire_to_staff import hcm_event, hire
from workflows.hire_to_staff import HireToStaff

ORIGIN = "opportunity-to-project/undo-test"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def our_customer_with_a_project(systems: Systems) -> tuple[str, str]:
    """A customer this business key created, and a project of it: (customer eid, project eid)."""
    customer = await systems.erp.upsert_customer(
        ErpCustomerInput(
            external_id=unique("sfdc-undo"), company_name="Undo Test Ltd", subsidiary_id="1",
            currency="USD", terms="Net 30", origin=ORIGIN,
        )
    )  # fmt: skip
    project = await systems.erp.upsert_project(
        ErpProjectInput(
            external_id=unique("psflow-undo"), name="Undo Test", customer_id=customer.id,
            subsidiary_id="1", currency="USD", budget=Decimal(1000),
            billing_type="Time and Materials",
        )
    )  # fmt: skip
    return customer.external_id, project.external_id


async def our_employee(systems: Systems) -> str:
    employee = await systems.erp.upsert_employee(
        ErpEmployeeInput(
            external_id=unique("hcm-undo"), first_name="Una", last_name="Doe", subsidiary_id="1",
            department_id="101", cost_center="CC-1100", labor_cost=Decimal("80.00"),
            currency="USD", origin=ORIGIN,
        )
    )  # fmt: skip
    return employee.external_id


async def test_a_customer_other_projects_depend_on_is_kept(systems: Systems) -> None:
    customer_eid, project_eid = await our_customer_with_a_project(systems)
    removal = CustomerRemoval(external_id=customer_eid, origin=ORIGIN)

    outcome = await ActivityEnvironment().run(ErpActivities(systems.erp).remove_customer, removal)

    assert outcome == CompensationOutcome.KEPT
    assert await systems.erp.get_customer(customer_eid) is not None
    with pytest.raises(RecordInUse, match="has dependent records"):
        await systems.erp.delete_customer(customer_eid)
    await systems.erp.delete_project(project_eid)
    await systems.erp.delete_customer(customer_eid)


async def test_any_other_refusal_to_delete_a_customer_fails_the_undo(
    systems: Systems, sandbox: Sandbox
) -> None:
    customer_eid, project_eid = await our_customer_with_a_project(systems)
    await systems.erp.delete_project(project_eid)  # nothing depends on it any more
    sandbox.fault("erp", path="*/record/v1/customer/*", method="DELETE", status=400)
    removal = CustomerRemoval(external_id=customer_eid, origin=ORIGIN)

    with pytest.raises(RequestRejected) as caught:
        await ActivityEnvironment().run(ErpActivities(systems.erp).remove_customer, removal)

    # The saga reports this undo as failed, with the ERP's own words.
    assert not isinstance(caught.value, RecordInUse)
    assert caught.value.non_retryable and caught.value.status == 400
    assert "injected fault (USER_ERROR)" in caught.value.message
    assert await systems.erp.get_customer(customer_eid) is not None
    await systems.erp.delete_customer(customer_eid)


async def test_an_employee_allocations_depend_on_is_made_inactive_not_deleted(
    systems: Systems,
) -> None:
    customer_eid, project_eid = await our_customer_with_a_project(systems)
    employee_eid = await our_employee(systems)
    allocation = await systems.erp.upsert_labour_forecast(
        LabourForecastInput(
            external_id=unique("psflow-asg-undo"), project_external_id=project_eid,
            employee_external_id=employee_eid, hours=Decimal(8), cost=Decimal("640.00"),
            start_date=date(2026, 12, 1),
        )
    )  # fmt: skip
    removal = EmployeeRemoval(external_id=employee_eid, origin=ORIGIN)

    undo = EmployeeActivities(systems.erp).remove_employee
    outcome = await ActivityEnvironment().run(undo, removal)

    assert outcome == CompensationOutcome.UNDONE
    employee = await systems.erp.get_employee(employee_eid)
    assert employee is not None and employee.inactive
    await systems.erp.delete_labour_forecast(allocation.external_id)
    for delete, eid in (
        (systems.erp.delete_employee, employee_eid),
        (systems.erp.delete_project, project_eid),
        (systems.erp.delete_customer, customer_eid),
    ):
        await delete(eid)


async def test_any_other_refusal_to_delete_an_employee_fails_the_undo(
    systems: Systems, sandbox: Sandbox
) -> None:
    employee_eid = await our_employee(systems)
    sandbox.fault("erp", path="*/record/v1/employee/*", method="DELETE", status=400)
    removal = EmployeeRemoval(external_id=employee_eid, origin=ORIGIN)

    undo = EmployeeActivities(systems.erp).remove_employee
    with pytest.raises(RequestRejected) as caught:
        await ActivityEnvironment().run(undo, removal)

    assert not isinstance(caught.value, RecordInUse)
    assert caught.value.non_retryable and caught.value.status == 400
    employee = await systems.erp.get_employee(employee_eid)
    assert employee is not None and not employee.inactive  # neither deleted nor deactivated
    await systems.erp.delete_employee(employee_eid)


# ---------------------------------------------------------------- the PSA resource of a hire


def in_workflow(workflow_id: str) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=workflow_id)
    return env


def resource_input(**changes: Any) -> ResourceInput:
    values: dict[str, Any] = {
        "external_id": unique("hcm-undo"), "name": "Una Doe", "role": "Consultant",
        "legal_entity": "US01", "cost_center": "CC-1100", "cost_rate": Decimal("80.00"),
        "currency": "USD", "available_from": date(2026, 12, 1),
    }  # fmt: skip
    return ResourceInput(**(values | changes))


async def test_the_hire_undo_deactivates_a_resource_the_run_created_or_reactivated(
    systems: Systems,
) -> None:
    run = in_workflow(hire_workflow_id(unique("w")))
    staffing = StaffingActivities(systems.psa)
    made = resource_input()
    inactive = await systems.psa.create_resource(resource_input(), unique("by-hand"))
    await systems.psa.set_resource_active(inactive.id, False)

    for data in (made, resource_input(external_id=inactive.external_id)):
        provisioning = ResourceProvisioning(resource=data, idempotency_key=unique("key"))
        resource = await run.run(staffing.provision_resource, provisioning)
        assert resource.active and resource.origin == run.info.workflow_id

        report = await run.run(staffing.deprovision_resource, data.external_id)

        assert report == UndoReport(outcome=CompensationOutcome.UNDONE)
        after = await systems.psa.find_resource(data.external_id)
        assert after is not None and not after.active


async def test_the_hire_undo_keeps_a_resource_that_was_active_before_the_run(
    systems: Systems,
) -> None:
    run = in_workflow(hire_workflow_id(unique("w")))
    staffing = StaffingActivities(systems.psa)
    before = await systems.psa.create_resource(resource_input(), unique("by-hand"))
    provisioning = ResourceProvisioning(
        resource=resource_input(external_id=before.external_id), idempotency_key=unique("key")
    )
    assert await run.run(staffing.provision_resource, provisioning) == before

    report = await run.run(staffing.deprovision_resource, before.external_id)

    assert report.outcome == CompensationOutcome.KEPT
    assert report.reason == f"resource {before.id} was made active outside psflow, not by this run"
    after = await systems.psa.find_resource(before.external_id)
    assert after is not None and after.active


async def test_a_failed_hire_leaves_a_resource_active_before_it_active_and_says_why(
    client: Client, worker: Settings, systems: Systems, sandbox: Sandbox
) -> None:
    worker_id = SPARE_PREHIRES[1]
    external_id = resource_external_id(worker_id)
    hired = await systems.hcm.get_worker(worker_id)
    assert hired.role and hired.legal_entity and hired.cost_center and hired.cost_rate
    # A resource manager set the new hire up in the PSA by hand before psflow ran.
    before = await systems.psa.create_resource(
        ResourceInput(
            external_id=external_id, name=hired.name, role=hired.role,
            legal_entity=hired.legal_entity, cost_center=hired.cost_center,
            cost_rate=hired.cost_rate, currency=hired.currency or "USD",
            available_from=hired.hire_date,
        ),
        unique("by-hand"),
    )  # fmt: skip
    hcm_event(sandbox, "hire", worker_id)
    # The ERP refuses the employee for good: the run compensates.
    sandbox.fault("erp", path="*/record/v1/employee/*", method="PUT", status=400)

    handle = await hire(client, worker, worker_id)
    with pytest.raises(WorkflowFailureError):
        await handle.result()

    status = await handle.query(HireToStaff.status)
    assert status.state == RunState.FAILED
    undone = {c.step: (c.outcome, c.detail) for c in status.compensations}
    assert undone["provision PSA resource"] == (
        CompensationOutcome.KEPT,
        f"resource {before.id} was made active outside psflow, not by this run",
    )
    after = await systems.psa.find_resource(external_id)
    assert after is not None and after.active and after.id == before.id
    assert await systems.erp.get_employee(external_id) is None
