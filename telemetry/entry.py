"""The root span of whatever starts a flow: a CLI command, an ingress request.

Everything the command or request does sits under it in one trace: the reads of the systems
before a start (their HTTP spans), then Temporal's StartWorkflow span, and through it the
workflow, its activities and their HTTP calls.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode

from config import TelemetrySettings
from telemetry.tracing import active, setup_tracing

_tracer = trace.get_tracer("psflow.entry")


@contextmanager
def entry_span(
    settings: TelemetrySettings,
    name: str,
    attributes: Mapping[str, str] | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> Iterator[Span]:
    """`name` as the current span for the block; a no-op span while the process does not trace.

    `headers` are an incoming request's: a W3C `traceparent` there makes this span a child of
    the sender's, so the sender's trace continues here; without them the span is a root.
    Sets tracing up as `[telemetry]` says first, so the spans of the block are exported.
    """
    setup_tracing(settings)
    if not active():
        yield INVALID_SPAN
        return
    parent = propagate.extract(dict(headers)) if headers is not None else None
    with _tracer.start_as_current_span(
        name,
        context=parent,
        kind=SpanKind.SERVER if headers is not None else SpanKind.INTERNAL,
        attributes=dict(attributes or {}),
        record_exception=False,  # an error's message may quote a system's answer
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
