"""The process's tracer provider, its exporter, and the Temporal plugin that traces through it.

Temporal's OpenTelemetryPlugin (temporalio.contrib.opentelemetry) carries the trace context in
Temporal headers from the client to the workflow and from the workflow to each activity. Its
workflow spans live as long as the workflow and keep their ids across replays, because the
provider it needs (`create_tracer_provider`) draws span ids in workflows from Temporal's
deterministic random and ends no span while history is being replayed.
"""

import sys
import threading
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from temporalio.contrib.opentelemetry import (
    OpenTelemetryPlugin,
    ReplaySafeTracerProvider,
    create_tracer_provider,
)
from temporalio.plugin import SimplePlugin

from config import TelemetrySettings
from telemetry.attributes import BusinessAttributes

# Seconds an OTLP export may take: a CLI command waits this long at most for a dead collector.
OTLP_TIMEOUT_SECONDS = 5
_lock = threading.Lock()


def exporter_for(settings: TelemetrySettings) -> SpanExporter | None:
    """The span exporter `[telemetry] traces` names, or None for "none"."""
    if settings.traces == "console":
        # stderr: a command's own output (and its --json) stays clean on stdout.
        return ConsoleSpanExporter(service_name=settings.service_name, out=sys.stderr)
    if settings.traces == "otlp":
        # Imported here: only a process that exports over OTLP pays for protobuf and requests.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=settings.otlp_endpoint, timeout=OTLP_TIMEOUT_SECONDS)
    return None


def build_provider(settings: TelemetrySettings) -> ReplaySafeTracerProvider:
    """A replay-safe provider naming the service; no processor yet."""
    return create_tracer_provider(resource=Resource.create({SERVICE_NAME: settings.service_name}))


def tracing_provider() -> ReplaySafeTracerProvider | None:
    """The process's provider when it is one Temporal's tracing plugin can use."""
    provider = trace.get_tracer_provider()
    return provider if isinstance(provider, ReplaySafeTracerProvider) else None


_active = False


def active() -> bool:
    """Whether new clients, workers and workflow steps trace (after `install`)."""
    return _active and tracing_provider() is not None


def install(provider: ReplaySafeTracerProvider, processor: SpanProcessor) -> None:
    """Make `provider` the process's tracer provider (once), add `processor` and trace."""
    global _active
    with _lock:
        if tracing_provider() is None:
            trace.set_tracer_provider(provider)
        current = tracing_provider()
        if current is None:
            raise RuntimeError("another OpenTelemetry tracer provider was set first")
        current.add_span_processor(processor)
        _active = True


def stop() -> None:
    """New clients, workers and steps trace no more; OpenTelemetry keeps its provider."""
    global _active
    _active = False


_set_up = False


def setup_tracing(settings: TelemetrySettings) -> None:
    """Export spans as `[telemetry] traces` says; once per process, later calls do nothing."""
    global _set_up
    with _lock:
        if _set_up:
            return
        _set_up = True
    exporter = exporter_for(settings)
    if exporter is None:
        return
    # The provider shuts down at exit, sending the spans still queued (a CLI command is short).
    install(build_provider(settings), BatchSpanProcessor(exporter))


def tracing_plugins() -> list[SimplePlugin]:
    """Temporal's tracing plugin and psflow's business attributes, when the process traces.

    Give them to Client.connect: the client's calls start spans, and every worker built on
    that client runs workflows and activities under them.
    """
    if not active():
        return []
    return [
        OpenTelemetryPlugin(add_temporal_spans=True),
        SimplePlugin("psflow.telemetry", interceptors=[BusinessAttributes()]),
    ]


def missing_from(plugins: Sequence[object]) -> list[SimplePlugin]:
    """The tracing plugins a worker should add itself: none if its client already has them."""
    names = {plugin.name() for plugin in plugins if isinstance(plugin, SimplePlugin)}
    return [plugin for plugin in tracing_plugins() if plugin.name() not in names]
