"""`psflow ingress`: serve the signed event webhooks until Ctrl-C."""

import logging
from typing import Annotated

import typer

from application.temporal import connect, require_search_attributes
from cli.logs import one_line_logging
from cli.output import CliError, console, fail
from cli.state import run, settings_of
from config import ConfigError, Settings
from stack.local import port_free

app = typer.Typer()


@app.command()
def ingress(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default: [ingress] host).", show_default=False),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port to listen on (default: [ingress] port, 8710).", show_default=False),
    ] = None,
) -> None:
    """Serve the event webhooks: POST /events/crm, /events/hcm and /events/psa.

    Each request must carry a Psflow-Signature made with [ingress] secret. An event is
    answered 202 once Temporal holds the workflow it starts; 503 while Temporal is down.

    Example: PSFLOW_INGRESS_SECRET=... psflow ingress --port 8710
    """
    from ingress.app import config_problem

    settings = settings_of(ctx)
    problem = config_problem(settings)
    if problem:
        fail(problem)
    update = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = settings.model_copy(update={"ingress": settings.ingress.model_copy(update=update)})
    if not port_free(settings.ingress.host, settings.ingress.port):
        fail(
            f"port {settings.ingress.port} on {settings.ingress.host} is in use: "
            "stop what holds it, or pass --port"
        )
    one_line_logging()
    logging.getLogger("psflow.ingress").setLevel(logging.INFO)
    run(_serve(settings))


async def _serve(settings: Settings) -> None:
    from ingress.server import serve

    try:
        client = await connect(settings)
        await require_search_attributes(client, settings)
    except CliError as exc:
        client = None
        console.print(f"warning: {exc}; events are answered 503 until it is up", soft_wrap=True)
    config = settings.ingress
    console.print(
        f"ingress on http://{config.host}:{config.port}/events/{{crm,hcm,psa}} "
        f"(Temporal {settings.temporal.address}, task queue {settings.temporal.task_queue}); "
        "Ctrl-C stops it",
        soft_wrap=True,
    )
    try:
        await serve(settings, client)
    except (OSError, ConfigError) as exc:  # ConfigError: the metrics port is taken
        raise CliError(str(exc)) from None
    console.print("ingress stopped")
