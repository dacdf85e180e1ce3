"""`temporal workflow reset` to before a creating step: the reset run creates nothing twice.

Requests are keyed by the first execution's run id, which a reset keeps (a new run id would
open every staffing request again).
"""

import asyncio
import json
from collections import Counter
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from config import Settings
from models.hire_to_staff import resource_external_id as eid
from tests.saga_support import fresh_deals
from tests.staffing_support import approved, fresh_worker, hire, only_request, staffed_project
from tests.support import TEMPORAL, Sandbox, Systems
from tests.test_opportunity_to_project import start
from workflows.hire_to_staff import HireToStaff
from workflows.opportunity_to_project import OpportunityToProject


async def reset_to_before(client: Client, handle: WorkflowHandle[Any, Any], activity: str) -> str:
    """Reset the run with the temporal CLI to the workflow task that scheduled `activity`;
    the new run's id."""
    history = await handle.fetch_history()
    task_done = None
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            task_done = event.event_id
        scheduled = event.activity_task_scheduled_event_attributes
        if event.HasField("activity_task_scheduled_event_attributes"):
            if scheduled.activity_type.name == activity:
                break
    else:
        raise AssertionError(f"{handle.id} never scheduled {activity}")
    assert task_done is not None
    reset = await asyncio.create_subprocess_exec(
        TEMPORAL,
        "workflow",
        "reset",
        "--address",
        client.service_client.config.target_host,
        "--namespace",
        client.namespace,
        "--workflow-id",
        handle.id,
        "--run-id",
        history.run_id,
        "--event-id",
        str(task_done),
        "--reason",
        f"test: again from before {activity}",
        "--output",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await reset.communicate()
    assert reset.returncode == 0, err.decode()
    run_id: str = json.loads(out)["runId"]
    assert run_id != history.run_id
    return run_id


async def test_a_reset_to_before_open_staffing_requests_opens_each_request_once(
    client: Client, worker: Settings, systems: Systems, sandbox: Sandbox
) -> None:
    (deal,) = fresh_deals(sandbox, 1)
    handle = await start(client, worker, deal)
    first = await handle.result()
    assert first.outcome == "completed" and first.staffing_request_ids

    run_id = await reset_to_before(client, handle, "psa.open_staffing_requests")
    again = await client.get_workflow_handle_for(
        OpportunityToProject.run, handle.id, run_id=run_id
    ).result()

    assert again.outcome == "completed"
    assert sorted(again.staffing_request_ids) == sorted(first.staffing_request_ids)
    requests = await systems.psa.list_staffing_requests(first.psa_project_id or "")
    assert sorted(r.id for r in requests) == sorted(first.staffing_request_ids)
    assert all(n == 1 for n in Counter(r.role for r in requests).values())


async def test_a_reset_hire_to_before_its_assignment_makes_one_of_each_record(
    client: Client, worker: Settings, systems: Systems, sandbox: Sandbox
) -> None:
    project = await staffed_project(client, worker, sandbox)
    person = await fresh_worker(systems, worker, "Senior Consultant")
    await only_request(systems, project, "Senior Consultant")
    handle = await hire(client, worker, person.id)
    await approved(worker, handle)
    first = await handle.result()
    assert first.outcome == "assigned"

    run_id = await reset_to_before(client, handle, "psa.create_assignment")
    again = await client.get_workflow_handle_for(HireToStaff.run, handle.id, run_id=run_id).result()

    assert (again.outcome, again.assignment_id) == ("assigned", first.assignment_id)
    resources = [r for r in await systems.psa.list_resources() if r.external_id == eid(person.id)]
    assert [r.id for r in resources] == [first.resource_id]
    assignments = await systems.psa.list_assignments(resource_id=first.resource_id)
    assert [(a.id, a.status) for a in assignments] == [(first.assignment_id, "active")]
    forecasts = await systems.erp.list_labour_forecasts(eid(person.id))
    assert [f.id for f in forecasts] == [first.forecast_id]
