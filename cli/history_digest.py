"""A workflow's history events as rows a person can read: one per meaningful event."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import BaseModel
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from cli.history_text import words

E = EventType
# Events folded away unless --all-events, by what the footer calls them.
NOISE = {
    E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED: "workflow-task events",
    E.EVENT_TYPE_WORKFLOW_TASK_STARTED: "workflow-task events",
    E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: "workflow-task events",
    E.EVENT_TYPE_ACTIVITY_TASK_STARTED: "activity starts (the attempt is on the outcome)",
    E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: "child start requests",
    E.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED: "signal deliveries",
    E.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED: "cancel deliveries",
}
# Runs that end like this did not undo anything after an activity failed.
SUCCESS = {
    E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


class HistoryRow(BaseModel):
    """One meaningful event; `--json` prints a list of these."""

    time: datetime
    event_id: int
    event_type: str  # Temporal's own name, e.g. ACTIVITY_TASK_COMPLETED
    event: str  # what happened, in plain words
    name: str | None = None  # activity type, update or signal name, step, child workflow type
    user: str | None = None  # who sent or started it, when known
    attempt: int | None = None
    detail: str = ""


@dataclass
class Activity:
    type: str
    scheduled: datetime
    undo: bool  # scheduled while the saga was compensating


@dataclass
class Trail:
    """What later events refer back to, gathered while reading the history in order."""

    may_compensate: bool
    continued_from: str | None = None
    undoing: bool = False  # a saga undoes its steps after a failure for good or a cancel
    activities: dict[int, Activity] = field(default_factory=dict)  # by scheduled event
    attempts: dict[int, int] = field(default_factory=dict)  # started event -> attempt
    timers: dict[int, str] = field(default_factory=dict)  # started event -> duration
    updates: dict[int, tuple[str, str | None]] = field(default_factory=dict)  # name, user
    children: dict[int, str] = field(default_factory=dict)  # initiated event -> type
    step: str | None = None  # the step last shown


@dataclass
class Digest:
    rows: list[HistoryRow]
    hidden: Counter[str]
    events: int
    continued_from: str | None = None


def blank_row(event: HistoryEvent) -> HistoryRow:
    """A row naming the event in words; handlers fill in the rest."""
    name = E.Name(event.event_type)
    return HistoryRow(
        time=event.event_time.ToDatetime(tzinfo=UTC),
        event_id=event.event_id,
        event_type=name.removeprefix("EVENT_TYPE_"),
        event=words(name, "EVENT_TYPE_").replace("canceled", "cancelled"),
    )


def digest(events: Iterable[HistoryEvent], all_events: bool = False) -> Digest:
    """Rows for the events; workflow-task and other plumbing events are only counted, unless
    `all_events`."""
    from cli import history_messages, history_workflow

    handlers = history_workflow.HANDLERS | history_messages.HANDLERS
    listed = list(events)
    last = listed[-1].event_type if listed else None
    # Activities after a failure for good are the saga's undo, unless the run then succeeded.
    trail = Trail(may_compensate=last not in SUCCESS)
    rows: list[HistoryRow] = []
    hidden: Counter[str] = Counter()
    for event in listed:
        row = blank_row(event)
        step = history_workflow.step_row(trail, event, row)
        if step is not None and not all_events:  # --all-events: one row per event
            rows.append(step)
        handler = handlers.get(event.event_type)
        # Every event is read, folded or not: later ones refer back to it. A handler may
        # name a category to fold its event into.
        folded = handler(trail, event, row) if handler is not None else None
        category = folded or NOISE.get(event.event_type)
        if category and not all_events:
            hidden[category] += 1
        else:
            rows.append(row)
    return Digest(rows, hidden, len(listed), trail.continued_from)
