"""Serving a front door's ASGI app with uvicorn until cancelled: ingress and the inbox."""

import asyncio

import uvicorn
from starlette.types import ASGIApp


async def serve_app(
    app: ASGIApp, host: str, port: int, name: str, ready: asyncio.Event | None = None
) -> None:
    """Serve `app` until cancelled; set `ready` once it listens. Raises OSError when it
    cannot listen (uvicorn would exit the whole process instead)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    )

    async def listen() -> None:
        try:
            await server.serve()
        except SystemExit:
            raise OSError(f"{name} cannot listen on {host}:{port}: is the port in use?") from None

    task = asyncio.create_task(listen())
    try:
        while not server.started:
            if task.done():
                task.result()  # raises why it stopped
                raise OSError(f"{name} stopped before listening on {host}:{port}")
            await asyncio.sleep(0.05)
        if ready is not None:
            ready.set()
        await asyncio.shield(task)
    finally:
        # Cancelled: let uvicorn shut down (close its socket, finish requests) rather than
        # cancelling it mid-request.
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
