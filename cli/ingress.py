"""`psflow ingress`: serve the signed event webhooks until Ctrl-C."""

import logging
import socket
from typing import Annotated

import typer
import uvicorn

from cli.client import connect, require_search_attributes
from cli.logs import one_line_logging
from cli.output import CliError, console, fail
from cli.state import run, settings_of
from config import Settings

app = typer.Typer()


def ingress_problem(settings: Settings) -> str | None:
    """Why ingress cannot serve with these settings, as one line with the fix."""
    config = settings.ingress
    if config.secret is None or not config.secret.get_secret_value():
        return (
            'ingress.secret is not set: put `secret = "..."` under [ingress] in the config '
            "file or set PSFLOW_INGRESS_SECRET (the senders sign with the same secret)"
        )
    if config.tolerance_seconds <= 0:
        return "ingress.tolerance_seconds must be a positive number of seconds, e.g. 300"
    return None


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


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
    settings = settings_of(ctx)
    problem = ingress_problem(settings)
    if problem:
        fail(problem)
    update = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = settings.model_copy(update={"ingress": settings.ingress.model_copy(update=update)})
    if not _port_free(settings.ingress.host, settings.ingress.port):
        fail(
            f"port {settings.ingress.port} on {settings.ingress.host} is in use: "
            "stop what holds it, or pass --port"
        )
    one_line_logging()
    logging.getLogger("psflow.ingress").setLevel(logging.INFO)
    run(_serve(settings))


async def _serve(settings: Settings) -> None:
    from ingress.app import create_app

    try:
        client = await connect(settings)
        await require_search_attributes(client, settings)
    except CliError as exc:
        client = None
        console.print(f"warning: {exc}; events are answered 503 until it is up", soft_wrap=True)
    config = settings.ingress
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, client),
            host=config.host,
            port=config.port,
            log_level="warning",
            lifespan="off",
        )
    )
    console.print(
        f"ingress on http://{config.host}:{config.port}/events/{{crm,hcm,psa}} "
        f"(Temporal {settings.temporal.address}, task queue {settings.temporal.task_queue}); "
        "Ctrl-C stops it",
        soft_wrap=True,
    )
    await server.serve()
    console.print("ingress stopped")
