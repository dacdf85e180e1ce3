"""`psflow inbox`: serve the approvals inbox until Ctrl-C."""

import logging
from typing import Annotated

import typer

from application.temporal import connect
from cli.logs import one_line_logging
from cli.output import CliError, console, fail
from cli.state import run, settings_of
from config import Settings
from stack.local import port_free

app = typer.Typer()


@app.command()
def inbox(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default: [inbox] host).", show_default=False),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port to listen on (default: [inbox] port, 8720).", show_default=False),
    ] = None,
) -> None:
    """Serve the approvals inbox: approvers sign in, see what waits for their roles, and
    approve, reject or correct it in the browser.

    Serve it over HTTPS (behind a TLS proxy, with [inbox] public_url): its cookies are Secure.

    Example: psflow inbox --port 8720
    """
    settings = settings_of(ctx)
    update = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = settings.model_copy(update={"inbox": settings.inbox.model_copy(update=update)})
    if not port_free(settings.inbox.host, settings.inbox.port):
        fail(
            f"port {settings.inbox.port} on {settings.inbox.host} is in use: "
            "stop what holds it, or pass --port"
        )
    one_line_logging()
    logging.getLogger("psflow.inbox").setLevel(logging.INFO)
    run(_serve(settings))


async def _serve(settings: Settings) -> None:
    from inbox.server import serve

    try:
        client = await connect(settings)
    except CliError as exc:
        client = None
        console.print(f"warning: {exc}; the inbox connects when it is up", soft_wrap=True)
    console.print(
        f"inbox on {settings.inbox.url} (Temporal {settings.temporal.address}); Ctrl-C stops it",
        soft_wrap=True,
    )
    try:
        await serve(settings, client)
    except OSError as exc:
        raise CliError(str(exc)) from None
    console.print("inbox stopped")
