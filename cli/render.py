"""Rich views of a workflow's status and of a list of workflows."""

from collections.abc import Sequence

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from cli.output import age, due, when
from models.retrying import Retrying
from models.status import Step, WorkflowStatus, retried_step

STATE_STYLES = {
    "done": "green",
    "completed": "bold green",
    "running": "cyan",
    "retrying": "bold yellow",
    "waiting": "yellow",
    "compensating": "magenta",
    "compensated": "magenta",
    "undone": "magenta",
    "already gone": "magenta",
    "failed": "bold red",
    "rejected": "red",
    "cancelled": "red",
    "terminated": "red",
    "timed out": "red",
    "pending": "dim",
    "skipped": "dim",
    "kept": "dim",
}


def styled(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def cells(*values: str | None) -> list[Text]:
    """Table cells as plain text (data may contain [brackets] that are not markup)."""
    return [Text(value or "") for value in values]


def fields_table(rows: Sequence[tuple[str, str]], title: str | None = None) -> Table:
    """One record as name/value rows (psflow exceptions show, psflow dlq show, ...)."""
    table = Table(title=title, show_header=False, box=box.SIMPLE_HEAD)
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows:
        table.add_row(name, value)
    return table


def status_view(status: WorkflowStatus) -> RenderableType:
    """Header, steps, what it waits for, compensations, events and the error."""
    header = Text.assemble(
        (status.workflow_id, "bold"),
        "  ",
        styled(status.state),
        f"  customer: {status.customer or '-'}",
    )
    parts: list[RenderableType] = [header, _steps(status)]
    retried = retried_step(status)
    if retried is not None:
        parts.append(_retrying(retried))
    if status.waiting_for is not None:
        parts.append(_waiting(status))
    if status.compensations:
        parts.append(_compensations(status))
    if status.events:
        parts.append(_events(status))
    if status.error:
        parts.append(Text.assemble(("error: ", "bold red"), status.error))
    return Group(*parts)


def _steps(status: WorkflowStatus) -> Table:
    table = Table(title="steps", title_justify="left", expand=False)
    for column in ("step", "state", "started", "ended", "detail"):
        table.add_column(column)
    for step in status.steps:
        name, started, ended, detail = cells(
            step.name, when(step.started_at), when(step.ended_at), step.detail
        )
        state = styled("retrying" if step.retrying and step.state == "running" else step.state)
        if step.retrying and not step.detail:
            detail = Text(f"{_who(step.retrying)}, attempt {step.retrying.attempt}")
        table.add_row(name, state, started, ended, detail)
    return table


def _who(retrying: Retrying) -> str:
    return retrying.system or retrying.activity


def _retrying(step: Step) -> Panel:
    """System, attempt, since when, the next try and the last error."""
    retry = step.retrying
    assert retry is not None
    lines = Text()
    lines.append(_who(retry), style="bold yellow")
    lines.append(f" ({retry.activity}), attempt {retry.attempt}")
    lines.append(f"\nsince {when(retry.since)} ({age(retry.since)} ago)")
    if retry.last_attempt_at:
        lines.append(f", last try {when(retry.last_attempt_at)}")
    if retry.next_try:
        lines.append(f", next try {when(retry.next_try)} ({due(retry.next_try)})")
    else:
        lines.append(", an attempt is running now")
    if retry.gives_up_at:
        lines.append(f"\ngives up at {when(retry.gives_up_at)}", style="red")
    if retry.last_error:
        lines.append("\nlast error: ", style="bold")
        lines.append(retry.last_error)
    title = f"retrying: {step.name}"
    return Panel(lines, title=title, title_align="left", border_style="yellow")


def _waiting(status: WorkflowStatus) -> Panel:
    wait = status.waiting_for
    assert wait is not None
    lines = Text()
    lines.append(f"{wait.kind}", style="bold yellow")
    lines.append(f" since {when(wait.since)} ({age(wait.since)} ago)")
    if wait.deadline:
        lines.append(f", deadline {when(wait.deadline)}")
    if wait.role:
        lines.append(f"\nrole: {wait.role}")
    if wait.escalated_at:
        lines.append(f"\nescalated at {when(wait.escalated_at)}", style="red")
    for problem in wait.problems:
        lines.append(f"\n- {problem.field}: ", style="bold")
        lines.append(problem.message)
    hint = {
        "approval": f"psflow approve {status.workflow_id} --as USER",
        "correction": f"psflow correct {status.workflow_id} --as USER --set field=value",
    }.get(wait.kind)
    if hint:
        lines.append(f"\nnext: {hint}", style="dim")
    return Panel(lines, title="waiting for", title_align="left", border_style="yellow")


def _compensations(status: WorkflowStatus) -> Table:
    table = Table(title="compensations", title_justify="left")
    for column in ("step", "action", "outcome", "at", "detail"):
        table.add_column(column)
    for c in status.compensations:
        step, action, at, detail = cells(c.step, c.action, when(c.at), c.detail)
        table.add_row(step, action, styled(c.outcome), at, detail)
    return table


def _events(status: WorkflowStatus) -> Table:
    table = Table(title="events", title_justify="left")
    for column in ("at", "event", "user", "detail"):
        table.add_column(column)
    for event in status.events:
        table.add_row(*cells(when(event.at), event.kind, event.user, event.detail))
    return table


def list_table(rows: Sequence[tuple[WorkflowStatus, str | None]], width: int = 160) -> Table:
    """One line per (status, current step): id, type, state, step, waiting for, since, and
    what the run is about (a customer, project or worker id; a name for runs from before).

    A run whose step Temporal is retrying shows as retrying, waiting for the failing system.

    The type repeats the id's prefix, so a narrow `width` leaves it out and lets the id fold.
    """
    wide = width >= 120
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("workflow id", no_wrap=wide, overflow="fold")  # whole when it fits
    if wide:
        table.add_column("type", overflow="fold")
    table.add_column("state", no_wrap=True, min_width=9)
    table.add_column("step", overflow="fold")
    table.add_column("waiting for", overflow="fold")
    table.add_column("since", no_wrap=True)
    table.add_column("about", overflow="fold")
    for status, step in rows:
        waiting_for, waiting_since = _waits_on(status)
        workflow_id, workflow, step_name, waiting, since, customer = cells(
            status.workflow_id,
            status.workflow,
            step or "-",
            waiting_for,
            waiting_since,
            status.customer or "-",
        )
        retried = retried_step(status) is not None and status.state == "running"
        state = styled("retrying" if retried else status.state)
        if wide:
            table.add_row(workflow_id, workflow, state, step_name, waiting, since, customer)
        else:
            table.add_row(workflow_id, state, step_name, waiting, since, customer)
    return table


def _waits_on(status: WorkflowStatus) -> tuple[str, str]:
    """What the run waits for and since when: a person, else a system Temporal is retrying."""
    if status.waiting_for is not None:
        return str(status.waiting_for.kind), f"{age(status.waiting_for.since)} ago"
    retried = retried_step(status)
    if retried is not None and retried.retrying is not None:
        retry = retried.retrying
        return f"{_who(retry)} (attempt {retry.attempt})", f"{age(retry.since)} ago"
    return "-", "-"
