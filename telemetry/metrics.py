"""The worker's Temporal SDK metrics on a Prometheus endpoint (`[telemetry] metrics_address`).

The SDK's core records the metrics (workflow and activity task latencies and counts, polls,
cache, slots, requests) and serves them itself at http://<metrics_address>/metrics, from the
Temporal Runtime the worker's client connects with; psflow's own (`psflow_*`, telemetry/kpis.py)
are recorded on the same runtime's meters.
"""

import dataclasses
from collections.abc import Iterable

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import ServiceClient

from config import ConfigError, TelemetrySettings
from telemetry import kpis

# One runtime per address: the port can be bound once per process.
_runtimes: dict[str, Runtime] = {}


def metrics_runtime(settings: TelemetrySettings) -> Runtime | None:
    """A Temporal runtime serving Prometheus metrics, or None when metrics_address is unset."""
    address = settings.metrics_address
    if not address:
        return None
    if address not in _runtimes:
        config = TelemetryConfig(metrics=PrometheusConfig(bind_address=address))
        try:
            _runtimes[address] = Runtime(telemetry=config)
        except ValueError as exc:
            raise ConfigError(
                f"cannot serve metrics on {address} ({exc}): set [telemetry] metrics_address "
                "or PSFLOW_METRICS_ADDRESS to a free IP:port, or empty to turn metrics off"
            ) from None
    return _runtimes[address]


async def on_metrics_runtime(client: Client, settings: TelemetrySettings) -> Client:
    """`client`, or the same client connected again on the metrics runtime if it is not on it.

    A client's runtime is chosen when it connects; a worker handed a client built elsewhere
    (psflow dev, a test) still reports its metrics this way.
    """
    runtime = metrics_runtime(settings)
    if runtime is None or client.service_client.config.runtime is runtime:
        return client
    service = await ServiceClient.connect(
        dataclasses.replace(client.service_client.config, runtime=runtime)
    )
    config = client.config()
    config["service_client"] = service
    return Client(**config)


def kpis_at_zero(
    client: Client, settings: TelemetrySettings, task_queue: str, workflow_types: Iterable[str]
) -> None:
    """Start the worker's psflow counters at 0, on the runtime its client is on (metrics on)."""
    runtime = metrics_runtime(settings)
    if runtime is not None:
        kpis.zeros_at_start(runtime.metric_meter, client.namespace, task_queue, workflow_types)
