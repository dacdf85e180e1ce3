"""Serving the inbox on [inbox] host and port."""

import asyncio

from temporalio.client import Client

from application.serving import serve_app
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
    try:
        app = create_app(settings, engine, client)
        await serve_app(app, config.host, config.port, "the inbox", ready)
    finally:
        engine.dispose()
