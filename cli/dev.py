"""Long-running commands: the whole local stack (dev, demo) or just a worker."""

import asyncio
import logging
import shutil
from typing import Annotated

import typer
from rich.panel import Panel

from application.temporal import connect, require_search_attributes
from cli.logs import one_line_logging
from cli.output import CliError, console
from cli.state import run, settings_of
from cli.stopping import cancel_on_signals, set_on_signals
from config import ConfigError, Settings
from stack.local import check_ports, has_secret, local_stack, sandbox_urls

app = typer.Typer()


def stack_panel(settings: Settings, *, persist: bool = True, given_secret: bool = True) -> Panel:
    """Where everything is, and how to stop it (`settings`: the running stack's)."""
    from ingress.server import events_url

    urls = sandbox_urls(settings)
    temporal = settings.temporal
    secret = "from [ingress]" if given_secret else "random per system, for this run"
    ingress = events_url(settings)
    sent_to = settings.sandbox.event_webhook_url
    lines = [
        f"Temporal     {temporal.address} (namespace {temporal.namespace})",
        f"Temporal UI  {temporal.ui_url}",
        f"CRM          {urls['crm']}",
        f"ERP          {urls['erp']}",
        f"PSA          {urls['psa']}  (API docs {urls['psa']}/docs)",
        f"HCM          {urls['hcm']}  (API docs {urls['hcm']}/docs)",
        f"ingress      {ingress}  (secret: {secret})",
        f"inbox        {settings.inbox.url}  (approvals in the browser)",
        *([] if sent_to == ingress else [f"events to    {sent_to} (not this ingress)"]),
        f"worker       task queue {temporal.task_queue}",
        f"data         {settings.data_dir}" + ("" if persist else " (Temporal in memory)"),
        "",
        "[bold]Ctrl-C stops everything[/bold]",
    ]
    return Panel("\n".join(lines), title="psflow", expand=False)


@app.command("dev")
def dev_(ctx: typer.Context) -> None:
    """Run Temporal's dev server, event ingress, the sandbox systems, the inbox and a worker,
    until Ctrl-C.

    Temporal keeps its data in <data_dir>/temporal.db between runs.

    Example: psflow dev
    """
    settings = settings_of(ctx)
    one_line_logging()
    run(_dev(settings))


async def _dev(settings: Settings) -> None:
    with cancel_on_signals():
        try:
            async with local_stack(settings) as stack:
                console.print(stack_panel(stack.settings, given_secret=has_secret(settings)))
                await stack.wait_failure()
        except asyncio.CancelledError:
            console.print("stopped the worker, the inbox, the sandbox, ingress and Temporal")


@app.command()
def worker(ctx: typer.Context) -> None:
    """Run a psflow worker against the configured Temporal until Ctrl-C.

    Example: psflow --address temporal.internal:7233 worker
    """
    settings = settings_of(ctx)
    one_line_logging()
    logging.getLogger("psflow.worker").setLevel(logging.INFO)  # start and stop, with counts
    run(_worker(settings))


async def _worker(settings: Settings) -> None:
    from security.codec import plaintext_problem
    from worker import run_worker

    try:
        problem = plaintext_problem(settings)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    if problem:
        raise CliError(problem)
    client = await connect(settings)
    await require_search_attributes(client, settings)
    stop = asyncio.Event()
    temporal = settings.temporal
    console.print(
        f"worker on task queue {temporal.task_queue} at {temporal.address} "
        f"(namespace {temporal.namespace}); Ctrl-C stops it",
        soft_wrap=True,
    )
    with set_on_signals(stop):
        await run_worker(settings, client=client, stop=stop)
    console.print("worker stopped")


@app.command()
def demo(
    ctx: typer.Context,
    keep_running: Annotated[
        bool,
        typer.Option(
            "--keep-running/--exit",
            help="Keep the stack running after the journey (for the UI), or exit.",
        ),
    ] = True,
    tryton: Annotated[
        bool,
        typer.Option(
            "--tryton/--no-tryton",
            help="Close a month with Tryton as the ERP too (its database is prepared once "
            "under <data_dir>/tryton, about 45 s).",
        ),
    ] = True,
) -> None:
    """Run the stack from scratch and walk through the journeys, narrated.

    A closed-won deal becomes a project; a large one waits for approval; bad data waits for a
    correction; an ERP outage is retried through; new hires are provisioned and staffed on the
    new projects after a resource manager approves. Data lives in <data_dir>/demo, wiped first.

    Example: psflow demo --exit
    """
    settings = settings_of(ctx)
    one_line_logging()
    run(_demo(settings, keep_running, tryton))


async def _demo(settings: Settings, keep_running: bool, tryton: bool) -> None:
    from cli.demo import run_journey

    demo_settings = settings.model_copy(update={"data_dir": settings.data_dir / "demo"})
    check_ports(demo_settings)
    shutil.rmtree(demo_settings.data_dir, ignore_errors=True)
    with cancel_on_signals():
        try:
            async with local_stack(demo_settings, persist=False) as stack:
                given = has_secret(demo_settings)
                console.print(stack_panel(stack.settings, persist=False, given_secret=given))
                tryton_dir = settings.data_dir / "tryton" if tryton else None
                journey = asyncio.create_task(run_journey(stack.client, stack.settings, tryton_dir))
                watchdog = asyncio.create_task(stack.wait_failure())
                done, _ = await asyncio.wait(
                    [journey, watchdog], return_when=asyncio.FIRST_COMPLETED
                )
                if journey not in done:
                    journey.cancel()
                    watchdog.result()  # raises why the stack stopped
                watchdog.cancel()
                journey.result()  # raises if the journey went wrong
                if keep_running:
                    console.print("[bold]Ctrl-C stops everything[/bold]")
                    await stack.wait_failure()
        except asyncio.CancelledError:
            console.print("stopped the worker, the inbox, the sandbox, ingress and Temporal")
