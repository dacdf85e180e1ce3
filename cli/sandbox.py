"""`psflow sandbox`: run the local CRM, ERP, PSA and HCM, inject faults, reset their data,
seed month-end volume, and send HCM worker events."""

import time
from datetime import datetime
from typing import Annotated, Any

import typer

from application import runs
from application.temporal import connect, require_search_attributes, ui_link
from cli import sandbox_admin
from cli.options import AsOption, resolve_user
from cli.output import CliError, console, fail, print_json
from cli.people import parse_fields
from cli.sandbox_admin import System
from cli.sandbox_seed import (
    SEED_SYSTEMS,
    as_json,
    check_period_option,
    previous_month,
    seed_table,
)
from cli.sandbox_up import ErpKind, sandbox_up
from cli.state import run, settings_of
from cli.tryton_seed import seed_with_tryton
from config import Settings
from models.hcm import WorkerEvent, WorkerEventKind

app = typer.Typer(
    help="Run the sandbox CRM, ERP, PSA and HCM; inject faults; reset their data; "
    "seed month-end volume; send HCM worker events.\n\n"
    "Example: psflow sandbox fault erp --path '*/record/v1/job*' --status 503 --count 2",
    no_args_is_help=True,
)

SystemArg = Annotated[System, typer.Argument(case_sensitive=False, help="crm, erp, psa or hcm.")]


@app.command()
def up(
    ctx: typer.Context,
    erp: Annotated[
        ErpKind,
        typer.Option(
            case_sensitive=False,
            help="The ERP: the sandbox NetSuite, or a Tryton on the same port (its database "
            "in <data_dir>/tryton; prints the settings a worker needs to use it).",
        ),
    ] = ErpKind.NETSUITE,
) -> None:
    """Serve the sandbox systems until Ctrl-C (data in <data_dir>/sandbox).

    Example: psflow sandbox up --erp tryton
    """
    sandbox_up(settings_of(ctx), erp)


@app.command()
def fault(
    ctx: typer.Context,
    system: SystemArg,
    path: Annotated[
        str | None,
        typer.Option(help="Glob over the path, e.g. '*/record/v1/job*'.", show_default=False),
    ] = None,
    method: Annotated[str, typer.Option(help="HTTP method, or * for any.")] = "*",
    status: Annotated[int, typer.Option(help="Status to answer (e.g. 503, 429).")] = 503,
    count: Annotated[int, typer.Option(min=1, help="How many matching calls fail.")] = 1,
    retry_after: Annotated[
        float | None, typer.Option(help="Retry-After seconds to send.", show_default=False)
    ] = None,
    latency_ms: Annotated[int, typer.Option(min=0, help="Delay before answering.")] = 0,
    down_for: Annotated[
        float | None,
        typer.Option(
            min=0.001,
            metavar="SECONDS",
            help="Fail every matching call for this long instead.",
            show_default=False,
        ),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every armed fault.")] = False,
) -> None:
    """Make a sandbox route fail, slow down or go down for a while; or clear its faults.

    Example: psflow sandbox fault erp --path '*/record/v1/job*' --status 429 --retry-after 1
    """
    settings = settings_of(ctx)
    if clear:
        run(sandbox_admin.clear_faults(settings, system))
        console.print(f"sandbox {system.value.upper()}: faults cleared")
        return
    if path is None:
        fail("give --path GLOB for the route to fail (or --clear to remove the faults)")
    spec: dict[str, Any] = {
        "path": path,
        "method": method.upper(),
        "status": status,
        "count": count,
        "retry_after": retry_after,
        "latency_ms": latency_ms,
        "down_for_seconds": down_for,
    }
    run(sandbox_admin.add_fault(settings, system, spec))
    calls = "calls" if method == "*" else f"{method.upper()} calls"
    answer = f"answer {status}" + (f" with Retry-After {retry_after:g}" if retry_after else "")
    if latency_ms:
        answer += f" after {latency_ms} ms"
    times = "time" if count == 1 else "times"
    when = f"for the next {down_for:g}s" if down_for else f"the next {count} {times}"
    console.print(
        f"sandbox {system.value.upper()}: {calls} to {path} {answer}, {when}", soft_wrap=True
    )


@app.command()
def reset(
    ctx: typer.Context,
    system: Annotated[
        System | None,
        typer.Argument(case_sensitive=False, help="crm, erp, psa or hcm (default: all)."),
    ] = None,
) -> None:
    """Reseed a sandbox system's data and clear its faults (all systems by default).

    Example: psflow sandbox reset erp
    """
    settings = settings_of(ctx)
    systems = [system] if system else list(System)
    run(_reset(settings, systems))
    console.print("reset: " + ", ".join(s.value.upper() for s in systems))


async def _reset(settings: Settings, systems: list[System]) -> None:
    for system in systems:
        await sandbox_admin.reset(settings, system)


@app.command("seed")
def seed_volume(
    ctx: typer.Context,
    time_entries: Annotated[
        int,
        typer.Option(
            min=1, metavar="N", help="Time entries to generate (e.g. 100000).", show_default=False
        ),
    ],
    projects: Annotated[int, typer.Option(min=1, help="Projects to spread them over.")] = 500,
    period: Annotated[
        str | None,
        typer.Option(
            metavar="YYYY-MM",
            callback=check_period_option,
            help="The month the entries fall in (default: the previous calendar month).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Same seed, same data in every system.")] = 7,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print each system's answer as JSON.")
    ] = False,
) -> None:
    """Generate month-end volume in the PSA, ERP and CRM, replacing earlier volume data.

    Each system derives its slice from the same options, so the three agree. With
    `[erp] kind = "tryton"` the volume goes into Tryton first (added: Tryton keeps what it
    posted), and the PSA takes Tryton's project ids.

    Example: psflow sandbox seed --time-entries 100000 --projects 500 --period 2026-10
    """
    if time_entries < projects:
        raise typer.BadParameter(
            f"{time_entries} is fewer than --projects ({projects}): every project gets time",
            param_hint="'--time-entries'",
        )
    settings = settings_of(ctx)
    body = {
        "projects": projects,
        "entries": time_entries,
        "period": period or previous_month(),
        "seed": seed,
    }
    began = time.monotonic()
    if settings.erp.kind == "tryton":
        results, _ = run(seed_with_tryton(settings, body))
    else:
        results = run(sandbox_admin.seed_volumes(settings, SEED_SYSTEMS, body))
    took = time.monotonic() - began
    if json_output:
        print_json(body | {"seconds": round(took, 3), "systems": [as_json(r) for r in results]})
    else:
        console.print(seed_table(body, results, took))
    errors = [r.error for r in results if r.error]
    if errors:
        fail("; ".join(errors))


@app.command()
def event(
    ctx: typer.Context,
    kind: Annotated[
        WorkerEventKind,
        typer.Argument(metavar="KIND", case_sensitive=False, help="hire, transfer or termination."),
    ],
    worker_id: Annotated[
        str,
        typer.Argument(
            metavar="WORKER_ID", help="Employee_ID (e.g. 30001) or WID.", show_default=False
        ),
    ],
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="FIELD=VALUE",
            help="A changed field for a transfer or hire (legal_entity, cost_center, cost_rate, "
            "currency, department, manager_id, location, role); repeat for several.",
        ),
    ] = None,
    effective_date: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            metavar="YYYY-MM-DD",
            help="When it takes effect (default: the hire date for a hire, else today).",
            show_default=False,
        ),
    ] = None,
    start: Annotated[
        bool,
        typer.Option(
            "--start",
            help="Also start the workflow the event calls for (hire-to-staff for a hire, "
            "worker-change otherwise), as event ingress would.",
        ),
    ] = False,
    as_user: AsOption = None,
) -> None:
    """Hire, transfer or terminate a sandbox HCM worker; prints the event id.

    The HCM sends the event to sandbox.event_webhook_url, retrying while it fails.

    Example: psflow sandbox event transfer 20001 --set cost_center=CC-1200 --start
    """
    try:
        changes = parse_fields(set_) if set_ else {}
    except CliError as exc:
        fail(str(exc))
    settings = settings_of(ctx)
    when = effective_date.date() if effective_date else None
    recorded = run(sandbox_admin.worker_event(settings, kind.value, worker_id, changes, when))
    console.print(
        f"{recorded['event_id']}  {kind.value} of worker {recorded['worker_id']} "
        f"effective {recorded['effective_date']} (sequence {recorded['sequence']})",
        soft_wrap=True,
    )
    if start:
        workflow_id = run(_start_for(settings, recorded, resolve_user(as_user)))
        console.print(f"started {workflow_id}  {ui_link(settings, workflow_id)}", soft_wrap=True)


async def _start_for(settings: Settings, recorded: dict[str, Any], user: str) -> str:
    client = await connect(settings)
    await require_search_attributes(client, settings)
    event = WorkerEvent.model_validate(recorded)
    return (await runs.start_for_event(client, settings, event, user)).id
