"""Serving the ingress app with uvicorn: `psflow ingress` and the local stack (`psflow dev`)."""

import asyncio

import uvicorn
from temporalio.client import Client

from config import Settings
from ingress.app import create_app


def events_url(settings: Settings) -> str:
    """The URL the systems deliver to (`<url>/crm`, `/hcm`, `/psa`), reachable from this host."""
    config = settings.ingress
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host
    return f"http://{host}:{config.port}/events"


async def serve(
    settings: Settings, client: Client | None = None, ready: asyncio.Event | None = None
) -> None:
    """Serve ingress on [ingress] host and port until cancelled; set `ready` once it listens.

    Raises OSError when it cannot listen (uvicorn would exit the whole process instead).
    """
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

    async def listen() -> None:
        try:
            await server.serve()
        except SystemExit:
            raise OSError(
                f"ingress cannot listen on {config.host}:{config.port}: is the port in use?"
            ) from None

    task = asyncio.create_task(listen())
    try:
        while not server.started:
            if task.done():
                task.result()  # raises why it stopped
                raise OSError(f"ingress stopped before listening on {config.host}:{config.port}")
            await asyncio.sleep(0.05)
        if ready is not None:
            ready.set()
        await asyncio.shield(task)
    finally:
        # Cancelled: let uvicorn shut down (close its socket, finish requests) rather than
        # cancelling it mid-request.
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
