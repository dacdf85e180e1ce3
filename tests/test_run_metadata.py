"""What an SRE sees of a run in the Temporal UI, read back through the client: its summary
and details from the start, each activity's summary (step and system), and the current
details following its status."""

from datetime import UTC, datetime
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHandle

from application import runs
from cli.history_text import decode
from config import Settings
from models.change_order import ChangeOrder
from models.change_state import ChangeOrderInput
from models.people import Approval
from models.run_metadata import current_details, start_metadata
from models.status import RunState, Step, StepState, WaitingFor, WaitKind, WorkflowStatus
from models.time_to_bill import TimeToBillInput
from security.codec import codec_from, reveal
from tests.support import Sandbox, proven
from tests.test_opportunity_to_project import status_when, waiting_for


async def details_of(handle: WorkflowHandle[Any, Any]) -> str:
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return metadata.current_details


async def test_a_run_shows_its_summary_activities_and_current_state_in_the_ui(
    client: Client, worker: Settings, sandbox: Sandbox
) -> None:
    async with httpx.AsyncClient(base_url=sandbox.urls["crm"], timeout=10) as admin:
        added = await admin.post("/__admin/seed/deals", json={"count": 1, "like": "large_usd"})
    deal = added.json()["opportunities"][0]
    kind = runs.kind_named("opportunity-to-project")
    handle, _ = await runs.start(client, worker, kind, deal, "sam")

    description = await handle.describe()
    assert await description.static_summary() == f"Deal {deal} to a project"
    assert "Started by sam." in (await description.static_details() or "")

    await status_when(handle, waiting_for(WaitKind.APPROVAL))
    waiting = await details_of(handle)
    assert "**waiting**" in waiting and "step: deal-desk approval" in waiting
    assert "waits for approval (deal-desk) since" in waiting
    assert f"next: `psflow approve {handle.id} --as USER`" in waiting

    approval = proven(worker, handle.id, "approve", Approval(user="morgan"))
    await handle.execute_update("approve", approval)
    await handle.result()
    assert (await details_of(handle)).startswith("**completed**, 9 of 9 steps done")

    events = (await handle.fetch_history()).events
    codec = codec_from(worker.codec)
    for event in events:
        reveal(event, codec)  # summaries are encrypted like every payload
    summaries = [
        (e.activity_task_scheduled_event_attributes.activity_type.name,
         decode(e.user_metadata.summary))
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.user_metadata.HasField("summary")
    ]  # fmt: skip
    assert ("erp.upsert_customer", "upsert ERP customer · ERP") in summaries
    assert ("psa.create_project", "create PSA project · PSA") in summaries
    assert ("policy.deal_policy", "read opportunity") in summaries  # psflow's own: the step


def test_summaries_hold_ids_and_amounts_and_details_name_what_to_do() -> None:
    order = ChangeOrder.model_validate(
        {"id": "CO-2026-0042", "project_id": "PRJ-V00001", "requested_by": "paula",
         "reason": "scope", "currency": "USD", "budget_change": "-1200.00",
         "effective_date": "2026-12-01"}
    )  # fmt: skip
    assert start_metadata(ChangeOrderInput(change_order=order)).summary == (
        "Change order CO-2026-0042 on PRJ-V00001: -1200.00 USD"
    )
    assert start_metadata(TimeToBillInput(project_id="PRJ-V00001", period="2026-10")).summary == (
        "Bill project PRJ-V00001 for 2026-10"
    )
    since = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    status = WorkflowStatus(
        workflow_id="opportunity-to-project/006A",
        workflow="opportunity-to-project",
        state=RunState.WAITING,
        business_key="006A",
        steps=[Step(name="validate deal", state=StepState.WAITING)],
        waiting_for=WaitingFor(kind=WaitKind.CORRECTION, since=since),
    )
    shown = current_details(status, stalled_on="ERP")
    assert "next: `psflow correct opportunity-to-project/006A --set FIELD=VALUE`" in shown
    assert "stalled on ERP" in shown and "2026-12-02 09:00 UTC" in shown
