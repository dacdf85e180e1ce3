"""Rows for the workflow's own events: start and end, activities, timers, markers, steps."""

from collections.abc import Callable

from temporalio.api.enums.v1 import EventType, RetryState, TimeoutType
from temporalio.api.history.v1 import HistoryEvent

from cli.history_digest import Activity, HistoryRow, Trail
from cli.history_text import (
    decode,
    decode_all,
    failure_text,
    first,
    short,
    span,
    starter,
    summary,
    words,
)
from workflows import search_attributes as sa
from workflows.calls import step_of

E = EventType
PATCH_MARKER = "core_patch"  # what workflow.patched records, with {"id", "deprecated"}
PATCH_DATA = "patch-data"
LOCAL_ACTIVITY_MARKER = "core_local_activity"  # with "data" {"activity_type", ...}, "result"
# The SDK tags a patched run with this search attribute; the marker already says it.
CHANGE_VERSION = "TemporalChangeVersion"


def started(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.workflow_execution_started_event_attributes
    value = first(a.input)
    row.event, row.name, row.user = "workflow started", a.workflow_type.name, starter(value)
    notes = [f"{a.workflow_type.name} {summary(value)}".strip()]
    if a.continued_execution_run_id:
        trail.continued_from = a.continued_execution_run_id
        notes.append(f"continued from run {a.continued_execution_run_id}")
    if a.HasField("parent_workflow_execution"):
        notes.append(f"child of {a.parent_workflow_execution.workflow_id}")
    if a.attempt > 1:
        notes.append(f"attempt {a.attempt}")
    if row.user is None and a.identity:
        notes.append(f"via {a.identity}")
    row.detail = short("; ".join(notes))


def completed(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    row.event = "workflow completed"
    row.detail = summary(first(event.workflow_execution_completed_event_attributes.result))


def failed(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    failure = event.workflow_execution_failed_event_attributes.failure
    row.event, row.name = "workflow failed", failure.application_failure_info.type or None
    cause = failure_text(failure)
    # e.g. "SagaFailed, root cause SystemUnavailable: psa: ... 503"
    wrapped = row.name and failure.HasField("cause") and not cause.startswith(row.name)
    row.detail = short(f"{row.name}, root cause {cause}" if wrapped else cause)


def cancelled(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    details = decode_all(event.workflow_execution_canceled_event_attributes.details)
    row.event, row.detail = "workflow cancelled", summary(details[0] if details else None)


def cancel_requested(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.workflow_execution_cancel_requested_event_attributes
    trail.undoing = trail.may_compensate
    row.event = "cancel requested"
    row.detail = short(a.cause or (f"via {a.identity}" if a.identity else ""))


def terminated(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.workflow_execution_terminated_event_attributes
    row.event, row.detail = "workflow terminated", short(a.reason or "no reason given")
    row.user = a.identity or None


def timed_out(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    state = event.workflow_execution_timed_out_event_attributes.retry_state
    row.event, row.detail = "workflow timed out", retry_words(state)


def continued(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.workflow_execution_continued_as_new_event_attributes
    row.event = "continued as new"
    row.detail = short(f"new run {a.new_execution_run_id}; input {summary(first(a.input))}")


def task_failed(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.workflow_task_failed_event_attributes
    row.detail = failure_text(a.failure) if a.HasField("failure") else ""


# ---- activities ---------------------------------------------------------------------------

STORE_PREFIX = "store."


def scheduled(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.activity_task_scheduled_event_attributes
    # psflow's own bookkeeping (audit, dead letters) is never an undo of a step.
    bookkeeping = a.activity_type.name.startswith(STORE_PREFIX)
    activity = Activity(a.activity_type.name, row.time, trail.undoing and not bookkeeping)
    trail.activities[event.event_id] = activity
    row.event, row.name = activity_word(activity, "scheduled"), activity.type
    row.detail = short(f"{activity.type} {summary(first(a.input), 60)}".strip())


def activity_started(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.activity_task_started_event_attributes
    trail.attempts[event.event_id] = a.attempt
    activity = trail.activities.get(a.scheduled_event_id)
    row.event, row.attempt = activity_word(activity, "started"), a.attempt
    row.name = activity.type if activity else None
    row.detail = f"{row.name or '?'}, attempt {a.attempt}"


def activity_completed(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.activity_task_completed_event_attributes
    outcome(trail, row, "completed", a.scheduled_event_id, a.started_event_id)
    result = summary(first(a.result), 60)
    row.detail = short(f"{row.detail} → {result}" if result else row.detail)


def activity_failed(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.activity_task_failed_event_attributes
    outcome(trail, row, "failed", a.scheduled_event_id, a.started_event_id)
    row.detail = short(f"{row.detail}, {retry_words(a.retry_state)}: {failure_text(a.failure)}")
    trail.undoing = trail.may_compensate


def activity_timed_out(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.activity_task_timed_out_event_attributes
    outcome(trail, row, "timed out", a.scheduled_event_id, a.started_event_id)
    kind = words(TimeoutType.Name(a.failure.timeout_failure_info.timeout_type), "TIMEOUT_TYPE_")
    row.detail = short(f"{row.detail}, {kind} timeout, {retry_words(a.retry_state)}")
    trail.undoing = trail.may_compensate


def activity_cancelled(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.activity_task_canceled_event_attributes
    outcome(trail, row, "cancelled", a.scheduled_event_id, a.started_event_id)


def outcome(trail: Trail, row: HistoryRow, what: str, scheduled_id: int, started_id: int) -> None:
    """An activity's end: its type, the attempt that ended it, how long since scheduling."""
    activity = trail.activities.get(scheduled_id)
    row.event, row.attempt = activity_word(activity, what), trail.attempts.get(started_id)
    row.name = activity.type if activity else None
    took = f", {span(row.time - activity.scheduled)}" if activity else ""
    attempt = f", attempt {row.attempt}" if row.attempt else ""
    row.detail = f"{row.name or '?'}{attempt}{took}"


def activity_word(activity: Activity | None, what: str) -> str:
    return f"{'compensation' if activity and activity.undo else 'activity'} {what}"


def retry_words(state: RetryState.ValueType) -> str:
    if state == RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED:
        return "retries exhausted"
    if state == RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE:
        return "not retryable"
    return words(RetryState.Name(state), "RETRY_STATE_")


# ---- timers, markers, search attributes ---------------------------------------------------


def timer_started(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.timer_started_event_attributes
    trail.timers[event.event_id] = span(a.start_to_fire_timeout)
    until = row.time + a.start_to_fire_timeout.ToTimedelta()
    row.name = a.timer_id
    row.detail = f"{trail.timers[event.event_id]}, fires at {until:%Y-%m-%d %H:%M} UTC"
    if event.user_metadata.HasField("summary"):
        row.detail += f"; {summary(decode(event.user_metadata.summary))}"


def timer_ended(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    fired = event.event_type == E.EVENT_TYPE_TIMER_FIRED
    a = event.timer_fired_event_attributes if fired else event.timer_canceled_event_attributes
    row.name = a.timer_id
    row.detail = f"{trail.timers.get(a.started_event_id, '?')} timer"


def marker(trail: Trail, event: HistoryEvent, row: HistoryRow) -> None:
    a = event.marker_recorded_event_attributes
    row.name = a.marker_name
    patch = first(a.details[PATCH_DATA]) if PATCH_DATA in a.details else None
    if a.marker_name == PATCH_MARKER and isinstance(patch, dict) and patch.get("id"):
        row.event, row.detail = "patched", str(patch["id"])
        row.detail += " (deprecated)" if patch.get("deprecated") else ""
    elif a.marker_name == LOCAL_ACTIVITY_MARKER and "data" in a.details:
        data = first(a.details["data"])
        kind = data.get("activity_type") if isinstance(data, dict) else None
        row.event, row.name = "local activity", str(kind or "?")
        result = summary(first(a.details["result"]), 60) if "result" in a.details else ""
        row.detail = short(f"{row.name} → {result}" if result else row.name)
    else:
        row.event, row.detail = "marker", a.marker_name


def upsert(trail: Trail, event: HistoryEvent, row: HistoryRow) -> str | None:
    """psflow's search attributes in words: the step, what it waits for, the customer."""
    fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
    values = {name: decode(p) for name, p in fields.indexed_fields.items()}
    if set(values) == {CHANGE_VERSION}:
        return "patch version tags"
    parts: list[tuple[str, str]] = []
    if values.get(sa.STEP.name):
        row.name = trail.step = str(values[sa.STEP.name])
        parts.append(("step", row.name))
    if sa.WAITING_FOR.name in values:
        waiting = values[sa.WAITING_FOR.name]
        parts.append(("waiting", f"for {waiting}" if waiting else "ended"))
    subjects = {k.name for k in sa.SUBJECTS}
    about = [str(values[name]) for name in subjects if values.get(name)]
    if about:
        parts.append(("about", ", ".join(sorted(about))))
    known = {sa.STEP.name, sa.WAITING_FOR.name, sa.WAITING_SINCE.name} | subjects
    others = {k: v for k, v in values.items() if k not in known | {CHANGE_VERSION}}
    if others:
        parts.append(("search attributes", summary(others)))
    row.event = parts[0][0] if parts else "search attributes"
    texts = [text if label == row.event else f"{label} {text}" for label, text in parts]
    row.detail = short("; ".join(texts))
    return None


def step_row(trail: Trail, event: HistoryEvent, row: HistoryRow) -> HistoryRow | None:
    """A `step` row before the first activity (or local one) of a step, named by its summary
    (runs that no longer show every step as a search attribute); None within the same step."""
    local = (
        event.event_type == E.EVENT_TYPE_MARKER_RECORDED
        and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
    )
    if event.event_type != E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED and not local:
        return None
    if not event.user_metadata.HasField("summary"):
        return None
    summary = decode(event.user_metadata.summary)
    if not isinstance(summary, str) or step_of(summary) == trail.step:
        return None
    step = step_of(summary)
    trail.step = step
    return row.model_copy(update={"event": "step", "name": step, "detail": step})


Handler = Callable[[Trail, HistoryEvent, HistoryRow], str | None]
HANDLERS: dict[int, Handler] = {
    E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: started,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: completed,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: failed,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: cancelled,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED: cancel_requested,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: terminated,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: timed_out,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: continued,
    E.EVENT_TYPE_WORKFLOW_TASK_FAILED: task_failed,
    E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: scheduled,
    E.EVENT_TYPE_ACTIVITY_TASK_STARTED: activity_started,
    E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: activity_completed,
    E.EVENT_TYPE_ACTIVITY_TASK_FAILED: activity_failed,
    E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: activity_timed_out,
    E.EVENT_TYPE_ACTIVITY_TASK_CANCELED: activity_cancelled,
    E.EVENT_TYPE_TIMER_STARTED: timer_started,
    E.EVENT_TYPE_TIMER_FIRED: timer_ended,
    E.EVENT_TYPE_TIMER_CANCELED: timer_ended,
    E.EVENT_TYPE_MARKER_RECORDED: marker,
    E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: upsert,
}
