"""`psflow bench`: who is free to staff, beside the requests waiting for someone."""

from itertools import zip_longest

import typer
from rich.box import SIMPLE_HEAD
from rich.table import Table

from cli.options import JsonOption
from cli.output import CliError, console, print_json
from cli.render import cells
from cli.state import run, settings_of
from config import Settings
from connectors import systems
from connectors.errors import ConnectorError
from models.psa import Resource, StaffingRequest

app = typer.Typer()


async def bench_of(settings: Settings) -> tuple[list[Resource], list[StaffingRequest]]:
    """Active resources with no active assignment, and every open staffing request."""
    connector = systems.psa(settings)
    try:
        resources = await connector.list_resources(active=True)
        busy = {a.resource_id for a in await connector.list_assignments(status="active")}
        requests = await connector.list_open_staffing_requests()
    except ConnectorError as exc:
        raise CliError(
            f"cannot read the bench from the PSA at {settings.psa.url} ({exc.message}): "
            "start the sandbox with `psflow sandbox up` or `psflow dev`"
        ) from None
    finally:
        await connector.aclose()
    return [r for r in resources if r.id not in busy], requests


@app.command()
def bench(ctx: typer.Context, json: JsonOption = False) -> None:
    """Unassigned resources and open staffing requests, side by side.

    Example: psflow bench --json
    """
    free, requests = run(bench_of(settings_of(ctx)))
    if json:
        print_json(
            {
                "resources": [r.model_dump(mode="json") for r in free],
                "staffing_requests": [r.model_dump(mode="json") for r in requests],
            }
        )
        return
    console.print(bench_table(free, requests))


def bench_table(free: list[Resource], requests: list[StaffingRequest]) -> Table:
    """Free resources on the left, open requests on the right; ids never cut short."""
    table = Table(title=f"Bench: {len(free)} free, {len(requests)} open requests", box=SIMPLE_HEAD)
    table.add_column("resource", no_wrap=True)
    for column in ("name", "role", "location"):
        table.add_column(column)
    table.add_column("request", no_wrap=True)
    table.add_column("role")
    table.add_column("hours", no_wrap=True, justify="right")
    table.add_column("project", no_wrap=True)
    for resource, request in zip_longest(free, requests):
        left = (
            cells(resource.id, resource.name, resource.role, resource.location)
            if resource
            else cells("", "", "", "")
        )
        right = (
            cells(request.id, request.role, str(request.hours), request.project_id)
            if request
            else cells("", "", "", "")
        )
        table.add_row(*left, *right)
    return table
