"""Serving the inbox on [inbox] host and port."""

import asyncio

import uvicorn
from temporalio.client import Client

from config import Settings
from inbox.app import create_app
from store.db import open_engine


async def serve(
    settings: Settings, client: Client | None = None, ready: asyncio.Event | None = None
) -> None:
    """Serve the inbox until cancelled; set `ready` once it listens. Raises OSError when it
    cannot listen (uvicorn would exit the whole process instead)."""
    config = settings.inbox
    engine = open_engine(settings.resolved_store_url)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, engine, client),
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
                f"the inbox cannot listen on {config.host}:{config.port}: is the port in use?"
            ) from None

    task = asyncio.create_task(listen())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise OSError(f"the inbox stopped before listening on {config.host}:{config.port}")
            await asyncio.sleep(0.05)
        if ready is not None:
            ready.set()
        await asyncio.shield(task)
    finally:
        server.should_exit = True  # let uvicorn finish its requests rather than cancel them
        await asyncio.gather(task, return_exceptions=True)
        engine.dispose()
