"""`psflow history ID`: a workflow's event history as a table a person can read."""

from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import quote

import typer
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from application.temporal import closed_state, connect, rpc_problem, ui_link
from cli.history_digest import Digest, digest
from cli.history_text import failure_text
from cli.options import WorkflowIdArg
from cli.output import CliError, console, print_json, when
from cli.render import styled
from cli.state import run, settings_of
from config import Settings
from security.codec import reveal

app = typer.Typer()

EVENT_STYLES = {
    "workflow started": "bold",
    "workflow completed": "bold green",
    "step": "bold",
    "waiting": "yellow",
    "activity completed": "green",
    "timer fired": "yellow",
    "update accepted": "cyan",
    "update completed": "cyan",
    "signal received": "cyan",
    "continued as new": "bold",
}
BAD_WORDS = ("failed", "timed out", "terminated", "rejected", "not started", "not delivered")


@dataclass
class RunHistory:
    """One run's history with what Temporal says about it now."""

    workflow_id: str
    run_id: str
    workflow_type: str
    state: str
    digest: Digest
    in_progress: list[str] = field(default_factory=list)  # activities retrying or running


@app.command()
def history(
    ctx: typer.Context,
    workflow_id: WorkflowIdArg,
    run_id: Annotated[
        str | None,
        typer.Option("--run", metavar="RUN_ID", help="A specific run (default: the latest)."),
    ] = None,
    all_events: Annotated[
        bool,
        typer.Option("--all-events", help="Include workflow-task and other plumbing events."),
    ] = False,
    json: Annotated[
        bool, typer.Option("--json", help="Print the rows as a JSON list instead of a table.")
    ] = False,
) -> None:
    """Show a workflow's event history: steps, activities and their attempts, timers, signals
    and updates with who sent them, failures and compensations.

    Example: psflow history opportunity-to-project/006Hs0000000003IAA
    """
    settings = settings_of(ctx)
    found = run(_history(settings, workflow_id, run_id, all_events))
    if json:
        print_json([row.model_dump(mode="json") for row in found.digest.rows])
        return
    console.print(history_view(found, all_events))
    console.print(f"UI: {run_link(settings, found)}", style="dim", soft_wrap=True)


async def _history(
    settings: Settings, workflow_id: str, run_id: str | None, all_events: bool
) -> RunHistory:
    client = await connect(settings)
    try:
        return await fetch(client, workflow_id, run_id, all_events)
    except RPCError as exc:
        if run_id and exc.status == RPCStatusCode.NOT_FOUND:
            raise CliError(
                f"no run {run_id} of workflow {workflow_id}: "
                f"`psflow history {workflow_id}` shows the latest run"
            ) from None
        if run_id and exc.status == RPCStatusCode.INVALID_ARGUMENT:
            raise CliError(f"{run_id} is not a run id: {exc.message}") from None
        raise rpc_problem(exc, settings, workflow_id) from None


async def fetch(
    client: Client, workflow_id: str, run_id: str | None, all_events: bool = False
) -> RunHistory:
    """The run's description and every event of its history, read into rows."""
    description = await client.get_workflow_handle(workflow_id, run_id=run_id).describe()
    # Pin the run described, so a run that continues as new meanwhile cannot mix the two.
    handle = client.get_workflow_handle(workflow_id, run_id=description.run_id)
    events = [event async for event in handle.fetch_history_events()]
    for message in (*events, description.raw_description):
        reveal(message, client.data_converter.payload_codec)  # encrypted payloads, in clear
    in_progress = []
    for pending in description.raw_description.pending_activities:
        line = f"{pending.activity_type.name}, attempt {pending.attempt}"
        if pending.HasField("last_failure"):
            line += f", last failure: {failure_text(pending.last_failure)}"
        in_progress.append(line)
    return RunHistory(
        workflow_id=workflow_id,
        run_id=description.run_id,
        workflow_type=description.workflow_type,
        state=closed_state(description.status),
        digest=digest(events, all_events),
        in_progress=in_progress,
    )


def run_link(settings: Settings, found: RunHistory) -> str:
    """The same run's history in the Temporal UI."""
    return f"{ui_link(settings, found.workflow_id)}/{quote(found.run_id, safe='')}/history"


def history_view(found: RunHistory, all_events: bool = False) -> RenderableType:
    """Header (id, state, run), one row per event, then what is folded away or in progress."""
    header = Text.assemble(
        (found.workflow_id, "bold"), "  ", styled(found.state), f"  {found.workflow_type}"
    )
    run_line = f"run {found.run_id}, {found.digest.events} events"
    if found.digest.continued_from:
        run_line += f"; continued from run {found.digest.continued_from}"
    parts: list[RenderableType] = [header, Text(run_line, style="dim"), _table(found.digest)]
    if found.digest.hidden and not all_events:
        counts = ", ".join(f"{n} {what}" for what, n in found.digest.hidden.items())
        parts.append(Text(f"not shown (--all-events shows them): {counts}", style="dim"))
    for line in found.in_progress:
        parts.append(Text.assemble(("in progress: ", "bold yellow"), line))
    return Group(*parts)


def _table(result: Digest) -> Table:
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("time", no_wrap=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("event", no_wrap=True)
    table.add_column("who", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for row in result.rows:
        table.add_row(
            Text(when(row.time)),
            Text(str(row.event_id), style="dim"),
            Text(row.event, style=_style(row.event)),
            Text(row.user or ""),
            Text(row.detail),
        )
    return table


def _style(event: str) -> str:
    if any(word in event for word in BAD_WORDS):
        return "bold red" if event.startswith("workflow") else "red"
    if event.startswith("compensation") or event in ("cancel requested", "workflow cancelled"):
        return "magenta"
    return EVENT_STYLES.get(event, "")
