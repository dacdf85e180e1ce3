"""Serving the ingress app with uvicorn: `psflow ingress` and the local stack (`psflow dev`)."""

import asyncio

from temporalio.client import Client

from application.serving import serve_app
from config import Settings
from ingress.app import create_app
from store.db import open_engine
from telemetry.metrics import on_metrics_runtime


def events_url(settings: Settings) -> str:
    """The URL the systems deliver to (`<url>/crm`, `/hcm`, `/psa`), reachable from this host."""
    config = settings.ingress
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host
    return f"http://{host}:{config.port}/events"


async def serve(
    settings: Settings, client: Client | None = None, ready: asyncio.Event | None = None
) -> None:
    """Serve ingress on [ingress] host and port until cancelled; set `ready` once it listens.

    Raises OSError when it cannot listen (uvicorn would exit the whole process instead),
    StoreError when psflow's store, which records the signatures seen, cannot be used, and
    ConfigError when `[telemetry] metrics_address` cannot be served.
    """
    config = settings.ingress
    if client is not None:  # its requests' metrics beside ingress's own, on one /metrics
        client = await on_metrics_runtime(client, settings.telemetry)
    engine = open_engine(settings.resolved_store_url)  # an old store is refused before serving
    try:
        app = create_app(settings, client, engine=engine)
        await serve_app(app, config.host, config.port, "ingress", ready)
    finally:
        engine.dispose()
