"""Rows for messages: signals and updates from people (and who sent them), child workflows,
signals to other workflows."""

from collections.abc import Callable

from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType, StartChildWorkflowExecutionFailedCause
from temporalio.api.history.v1 import HistoryEvent

from cli.history_digest import HistoryRow, Trail
from cli.history_text import failure_text, first, person, short, summary, words

E = EventType
CHILD_FAILED_CAUSE = "START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_"


def signalled(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.workflow_execution_signaled_event_attributes
    request(row, "signal received", a.signal_name, a.input)
    if row.user is None and a.identity:
        row.detail += f" (via {a.identity})"


def update_admitted(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    message = event.workflow_execution_update_admitted_event_attributes.request.input
    request(row, "update admitted", message.name, message.args)


def update_accepted(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.workflow_execution_update_accepted_event_attributes
    message = a.accepted_request.input
    request(row, "update accepted", message.name, message.args)
    trail.updates[event.event_id] = (message.name, row.user)


def update_rejected(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.workflow_execution_update_rejected_event_attributes
    request(row, "update rejected", a.rejected_request.input.name, a.rejected_request.input.args)
    row.detail = short(f"{row.name}: {failure_text(a.failure)}")


def update_completed(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.workflow_execution_update_completed_event_attributes
    name, user = trail.updates.get(a.accepted_event_id, ("update", None))
    row.name, row.user = name, user
    if a.outcome.HasField("failure"):
        row.event, row.detail = "update failed", short(f"{name}: {failure_text(a.outcome.failure)}")
        return
    row.event = "update completed"
    answer = summary(first(a.outcome.success))
    row.detail = short(f"{name}: {answer}" if answer else name)


def request(row: HistoryRow, what: str, name: str, args: Payloads) -> None:
    """A signal or update: its name, who sent it (the payload's `user`) and what they said."""
    user, said = person(first(args))
    row.event, row.name, row.user = what, name, user
    row.detail = short(f"{name}: {said}" if said else name)


def signal_sent(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.signal_external_workflow_execution_initiated_event_attributes
    row.event, row.name = "signal sent", a.signal_name
    said = summary(first(a.input), 80)
    row.detail = short(f"{a.signal_name} to {a.workflow_execution.workflow_id} {said}")


def signal_not_sent(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.signal_external_workflow_execution_failed_event_attributes
    row.event, row.detail = "signal not delivered", a.workflow_execution.workflow_id


# ---- child workflows ----------------------------------------------------------------------


def child_initiated(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.start_child_workflow_execution_initiated_event_attributes
    trail.children[event.event_id] = a.workflow_type.name
    row.event, row.name, row.detail = "child requested", a.workflow_type.name, a.workflow_id


def child_not_started(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.start_child_workflow_execution_failed_event_attributes
    cause = words(StartChildWorkflowExecutionFailedCause.Name(a.cause), CHILD_FAILED_CAUSE)
    row.event, row.name = "child not started", a.workflow_type.name
    row.detail = short(f"{a.workflow_id}: {cause}")


def child_started(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.child_workflow_execution_started_event_attributes
    row.event, row.name = "child started", a.workflow_type.name
    row.detail = short(f"{a.workflow_execution.workflow_id} ({a.workflow_type.name})")


def child_closed(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    """Completed, failed, cancelled, timed out or terminated: one shape, its own outcome."""
    a = getattr(event, event.WhichOneof("attributes") or "")
    row.event = "child " + row.event.removeprefix("child workflow execution ")
    row.name = a.workflow_type.name or trail.children.get(a.initiated_event_id)
    outcome = ""
    if event.event_type == E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
        outcome = summary(first(a.result), 80)
    elif event.event_type == E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
        outcome = failure_text(a.failure)
    child = a.workflow_execution.workflow_id
    row.detail = short(f"{child}: {outcome}" if outcome else child)


Handler = Callable[[Trail, HistoryEvent, HistoryRow], str | None]
HANDLERS: dict[int, Handler] = {
    E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: signalled,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED: update_admitted,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: update_accepted,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED: update_rejected,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: update_completed,
    E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: signal_sent,
    E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED: signal_not_sent,
    E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: child_initiated,
    E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED: child_not_started,
    E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED: child_started,
    E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED: child_closed,
    E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED: child_closed,
    E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED: child_closed,
    E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT: child_closed,
    E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED: child_closed,
}
