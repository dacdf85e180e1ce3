"""Which step Temporal is retrying, from the server's pending-activity information.

A workflow does not know that its activity is being retried; the server does. `describe()`
lists the pending activities (attempt, last failure, next attempt). The server moves an
activity's `scheduled_time` to each new attempt, so when it was first scheduled is read from
the end of the history instead.
"""

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest
from temporalio.client import Client, WorkflowExecutionDescription
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.service import RPCError

from models.retrying import Retrying, cut
from models.status import WorkflowStatus, current_step

SYSTEMS = {"crm": "CRM", "erp": "ERP", "psa": "PSA", "hcm": "HCM", "store": "store"}
HISTORY_PAGE = 50
HISTORY_PAGES = 4  # how far back the activity's scheduling is looked for
SCHEDULED = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED


def is_retrying(info: PendingActivityInfo) -> bool:
    """Past its first attempt, or its first attempt already failed."""
    return info.attempt > 1 or info.HasField("last_failure")


def retrying_activity(description: WorkflowExecutionDescription) -> PendingActivityInfo | None:
    """The pending activity with the most attempts, if any is being retried."""
    pending = description.raw_description.pending_activities
    return max((p for p in pending if is_retrying(p)), key=lambda p: p.attempt, default=None)


def system_of(activity_type: str, details: Mapping[str, Any]) -> str | None:
    """The system the error names, else the one in the activity's name (erp.upsert_customer,
    ErpActivities.upsert_customer, changes.set_psa_budget)."""
    named = details.get("system")
    if isinstance(named, str) and named:
        return SYSTEMS.get(named.lower(), named)
    for word in re.split(r"[._\W]+|(?<=[a-z])(?=[A-Z])", activity_type):
        if word.lower() in SYSTEMS:
            return SYSTEMS[word.lower()]
    return None


async def decoded_failure(
    converter: DataConverter, failure: Failure
) -> tuple[str | None, dict[str, Any]]:
    """The failure's message and its first detail (a ConnectorError's system and status).

    Decoded with the client's converter: with a codec, both are encrypted on the server."""
    copy = Failure()
    copy.CopyFrom(failure)  # decoding works in place
    try:
        error = await converter.decode_failure(copy)
    except Exception:  # a key no longer listed, a converter that does not match
        return failure.message or None, {}
    message = error.message if isinstance(error, FailureError) else str(error)
    details: dict[str, Any] = {}
    if isinstance(error, ApplicationError) and error.details:
        first = error.details[0]
        details = first if isinstance(first, dict) else {}
    return message or None, details


def moment(message: Message, field: str) -> datetime | None:
    """A Timestamp field as an aware datetime, or None when unset."""
    if not message.HasField(field):
        return None
    value: Timestamp = getattr(message, field)
    return value.ToDatetime(tzinfo=UTC)


def retrying_from(
    info: PendingActivityInfo, message: str | None, details: Mapping[str, Any], since: datetime
) -> Retrying:
    """The Retrying model of one pending activity whose failure is already decoded."""
    running = info.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
    status = details.get("status")
    return Retrying(
        activity=info.activity_type.name,
        system=system_of(info.activity_type.name, details),
        attempt=info.attempt,
        last_error=cut(" ".join(message.split())) if message else None,
        http_status=status if isinstance(status, int) else None,
        since=since,
        last_attempt_at=moment(info, "last_attempt_complete_time"),
        next_try=None if running else moment(info, "next_attempt_schedule_time"),
        gives_up_at=moment(info, "expiration_time"),
    )


async def first_scheduled(
    client: Client, description: WorkflowExecutionDescription, activity_id: str
) -> datetime | None:
    """When the activity was scheduled: its event, read from the end of the history."""
    request = GetWorkflowExecutionHistoryReverseRequest(
        namespace=client.namespace,
        execution=WorkflowExecution(workflow_id=description.id, run_id=description.run_id),
        maximum_page_size=HISTORY_PAGE,
    )
    for _ in range(HISTORY_PAGES):
        try:
            page = await client.workflow_service.get_workflow_execution_history_reverse(request)
        except RPCError:
            return None
        for event in page.history.events:
            attributes = event.activity_task_scheduled_event_attributes
            if event.event_type == SCHEDULED and attributes.activity_id == activity_id:
                return moment(event, "event_time")
        if not page.next_page_token:
            return None
        request.next_page_token = page.next_page_token
    return None


async def retrying_of(
    client: Client, description: WorkflowExecutionDescription, started: datetime | None = None
) -> Retrying | None:
    """What the workflow's retried activity says, or None when nothing is being retried.

    `started` (the step's start) stands in when the scheduling event is out of reach."""
    info = retrying_activity(description)
    if info is None:
        return None
    message: str | None = None
    details: dict[str, Any] = {}
    if info.HasField("last_failure"):
        message, details = await decoded_failure(client.data_converter, info.last_failure)
    since = await first_scheduled(client, description, info.activity_id) or started
    if since is None:
        times = ("last_started_time", "last_attempt_complete_time", "scheduled_time")
        since = min((t for f in times if (t := moment(info, f))), default=datetime.now(UTC))
    return retrying_from(info, message, details, since)


def attach(status: WorkflowStatus, retrying: Retrying | None) -> WorkflowStatus:
    """Put `retrying` on the step in progress (else the last one that ran, e.g. while
    compensating); returns the status."""
    name = current_step(status)
    for step in status.steps:
        step.retrying = retrying if step.name == name else None
    return status


async def with_retrying(
    client: Client, description: WorkflowExecutionDescription, status: WorkflowStatus
) -> WorkflowStatus:
    """The status with what Temporal is retrying on its step in progress."""
    name = current_step(status)
    started = next((s.started_at for s in status.steps if s.name == name), None)
    return attach(status, await retrying_of(client, description, started))
