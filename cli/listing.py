"""`psflow list`: workflows by business terms (application/listing.py collects them)."""

from datetime import timedelta
from typing import Annotated

import typer

from application import runs
from application.listing import QUERY_CONCURRENCY, STALLED_AFTER, Row, collect
from application.temporal import connect
from cli.options import JsonOption, duration_option
from cli.output import console, print_json, span
from cli.render import list_table
from cli.state import run, settings_of
from config import Settings

app = typer.Typer()


@app.command("list")
def list_(
    ctx: typer.Context,
    waiting: Annotated[
        bool, typer.Option("--waiting", help="Only those waiting for a person, oldest first.")
    ] = False,
    workflow: Annotated[
        str | None,
        typer.Option(
            "--workflow", metavar="TYPE", help="Only this type, e.g. opportunity-to-project."
        ),
    ] = None,
    include_closed: Annotated[
        bool, typer.Option("--all", help="Include completed, failed and cancelled ones.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many workflows.")] = 200,
    stalled: Annotated[
        bool,
        typer.Option(
            "--stalled",
            help="Only running ones whose step Temporal has been retrying for at least "
            "--for, longest first. Temporal's list does not index retries: every running "
            f"workflow is described, {QUERY_CONCURRENCY} at a time.",
        ),
    ] = False,
    stalled_for: Annotated[
        str | None,
        typer.Option(
            "--for",
            metavar="DURATION",
            help=f"With --stalled: retrying at least this long, e.g. 30s, 10m, 2h "
            f"(default {span(STALLED_AFTER.total_seconds())}).",
            show_default=False,
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """List psflow workflows with their state, step and what they wait for: a person, or a
    system whose step Temporal is retrying.

    Example: psflow list --waiting --workflow opportunity-to-project
    Example: psflow list --stalled --for 30m
    """
    if stalled_for is not None and not stalled:
        raise typer.BadParameter("--for goes with --stalled", param_hint="--for")
    if stalled and include_closed:
        raise typer.BadParameter("--stalled lists running workflows only", param_hint="--all")
    threshold = None
    if stalled:
        threshold = duration_option(stalled_for, "--for") if stalled_for else STALLED_AFTER
    settings = settings_of(ctx)
    rows = run(_list(settings, workflow, waiting, include_closed, limit, threshold))
    if json:
        print_json([status.model_dump(mode="json") for status, _ in rows])
    elif rows:
        console.print(list_table(rows, console.width))
    elif threshold is not None:
        longer = span(threshold.total_seconds())
        console.print(f"no running workflow has had a step retrying for {longer}", style="dim")
    else:
        console.print("no workflows match", style="dim")


async def _list(
    settings: Settings,
    workflow: str | None,
    waiting: bool,
    include_closed: bool,
    limit: int,
    stalled_for: timedelta | None = None,
) -> list[Row]:
    types = [runs.kind_named(workflow).name] if workflow else sorted(runs.workflow_types())
    client = await connect(settings)
    return await collect(
        client,
        settings,
        types=types,
        waiting=waiting,
        include_closed=include_closed,
        limit=limit,
        stalled_for=stalled_for,
    )
