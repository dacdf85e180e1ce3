"""Traces and metrics: `[telemetry]` decides where they go; the worker and the CLI wire them in.

- `client_plugins(settings)`: set the process's tracing up once, and the plugins a Temporal
  client needs to trace (none when traces are off).
- `worker_plugins(settings, client)`: what a worker adds when its client was built without them.
- `entry_span(settings.telemetry, name, ...)`: the root span of a CLI command or ingress request.
- `metrics_runtime` / `on_metrics_runtime`: the worker's SDK metrics on a Prometheus endpoint;
  `kpis_at_zero`: psflow's own counters there from the start (telemetry/kpis.py records them).
"""

from collections.abc import Sequence

from temporalio.client import Client
from temporalio.plugin import SimplePlugin

from config import Settings
from telemetry.entry import entry_span
from telemetry.metrics import kpis_at_zero, metrics_runtime, on_metrics_runtime
from telemetry.tracing import missing_from, setup_tracing, tracing_plugins

__all__ = [
    "client_plugins",
    "entry_span",
    "kpis_at_zero",
    "metrics_runtime",
    "on_metrics_runtime",
    "worker_plugins",
]


def client_plugins(settings: Settings) -> list[SimplePlugin]:
    """Set tracing up as `[telemetry]` says (once per process); the client's tracing plugins."""
    setup_tracing(settings.telemetry)
    return tracing_plugins()


def worker_plugins(settings: Settings, client: Client) -> Sequence[SimplePlugin]:
    """Tracing plugins for a worker whose client lacks them (a client built elsewhere)."""
    setup_tracing(settings.telemetry)
    return missing_from(client.config()["plugins"])
