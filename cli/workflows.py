"""Commands on one workflow: start, status, watch, cancel."""

from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.text import Text

from application import runs
from application.change_orders import checked_input
from application.prechecks import precheck
from application.temporal import connect, require_search_attributes, status_of, ui_link
from cli.options import AsOption, JsonOption, WorkflowIdArg, resolve_user
from cli.output import CliError, console, print_json
from cli.render import status_view, styled
from cli.state import run, settings_of
from config import Settings
from models.status import RunState, WorkflowStatus
from telemetry import entry_span
from telemetry.attributes import WORKFLOW_TYPE, workflow_attributes

app = typer.Typer()


@app.command()
def start(
    ctx: typer.Context,
    workflow: Annotated[
        str, typer.Argument(help="Workflow name, e.g. opportunity-to-project.", show_default=False)
    ],
    key: Annotated[
        str | None,
        typer.Argument(
            help="Business key, e.g. the 18-character CRM opportunity id.", show_default=False
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            metavar="FILE",
            help="A change order as JSON (change-order only).",
            show_default=False,
        ),
    ] = None,
    as_user: AsOption = None,
) -> None:
    """Start a workflow for a business key, or find the one already running for it.

    The key is checked in its system first (an unknown opportunity starts nothing); a change
    order is checked against the live project and contract.

    Example: psflow start opportunity-to-project 006Hs0000000001IAA --as sam
    Example: psflow start change-order --file co.json --as paula
    """
    settings = settings_of(ctx)
    run(_start(settings, workflow, key, file, resolve_user(as_user)))


async def _start(
    settings: Settings, workflow: str, key: str | None, file: Path | None, user: str
) -> None:
    kind = runs.kind_named(workflow)
    # One trace: the checks' reads of the systems, then the start and the whole run under it.
    with entry_span(settings.telemetry, "psflow start", {WORKFLOW_TYPE: kind.name}) as span:
        arguments = None
        if kind.name == "change-order":
            key, arguments = await checked_input(settings, key, file)
        elif file is not None or key is None:
            raise CliError(
                f"give the {workflow} key ({kind.key_help}); --file is for change orders"
            )
        else:
            runs.input_for(kind, key, user)  # a malformed key fails before anything is contacted
        span.set_attributes(workflow_attributes(kind.name, kind.workflow_id(key)))
        client = await connect(settings)
        await require_search_attributes(client, settings)
        await precheck(settings, kind.name, key)
        handle, already = await runs.start(client, settings, kind, key, user, arguments)
    verb = "already running" if already else "started"
    console.print(f"[bold]{handle.id}[/bold] {verb}")
    console.print(f"UI: {ui_link(settings, handle.id)}", soft_wrap=True)
    console.print(f"follow it: psflow watch {handle.id}", style="dim", soft_wrap=True)


@app.command()
def status(ctx: typer.Context, workflow_id: WorkflowIdArg, json: JsonOption = False) -> None:
    """Show a workflow's steps, what it waits for, its compensations and events.

    Example: psflow status opportunity-to-project/006Hs0000000001IAA --json
    """
    settings = settings_of(ctx)
    result = run(_status(settings, workflow_id))
    if json:
        print_json(result.model_dump(mode="json"))
        return
    console.print(status_view(result))
    console.print(f"UI: {ui_link(settings, workflow_id)}", style="dim", soft_wrap=True)


async def _status(settings: Settings, workflow_id: str) -> WorkflowStatus:
    client = await connect(settings)
    return await status_of(client, settings, workflow_id)


@app.command()
def watch(ctx: typer.Context, workflow_id: WorkflowIdArg) -> None:
    """Follow a workflow live until it ends; exit 0 if it completed, 1 otherwise.

    Example: psflow watch opportunity-to-project/006Hs0000000001IAA
    """
    settings = settings_of(ctx)
    try:
        final, state = run(_watch(settings, workflow_id))
    except KeyboardInterrupt:
        console.print("stopped watching; the workflow carries on")
        raise typer.Exit(130) from None
    console.print(Text.assemble(workflow_id, " ", styled(state)), soft_wrap=True)
    if final.error:
        console.print(f"reason: {final.error}", soft_wrap=True)
    if state != RunState.COMPLETED:
        raise typer.Exit(1)


async def _watch(settings: Settings, workflow_id: str) -> tuple[WorkflowStatus, str]:
    client = await connect(settings)
    first = await status_of(client, settings, workflow_id)
    with Live(status_view(first), console=console, refresh_per_second=4) as live:
        result = await runs.follow(
            client, settings, workflow_id, on_status=lambda s: live.update(status_view(s))
        )
    if not console.is_terminal:
        console.line()  # Live leaves no line break when writing to a file or pipe
    return result


@app.command()
def cancel(ctx: typer.Context, workflow_id: WorkflowIdArg) -> None:
    """Ask a running workflow to cancel: it undoes what it did, then ends as cancelled.

    Example: psflow cancel opportunity-to-project/006Hs0000000001IAA
    """
    settings = settings_of(ctx)
    run(_cancel(settings, workflow_id))
    console.print(
        f"asked {workflow_id} to cancel: it undoes its finished steps in reverse, "
        "then ends as cancelled",
        soft_wrap=True,
    )
    console.print(f"follow it: psflow watch {workflow_id}", style="dim", soft_wrap=True)


async def _cancel(settings: Settings, workflow_id: str) -> None:
    client = await connect(settings)
    await runs.cancel(client, settings, workflow_id)
