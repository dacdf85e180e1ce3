"""One client span per connector request: system, method, path, status, retry classification.

Never on a span: headers (the Authorization bearer token), the query string, request or
response bodies, or an error's message (it may quote the system's answer).
"""

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from connectors.errors import ConnectorError

SYSTEM = "psflow.system"
RETRY = "psflow.retry"
"""`retryable` or `permanent` when the request failed; absent when it succeeded."""
METHOD = "http.request.method"
PATH = "url.path"
STATUS = "http.response.status_code"

_tracer = trace.get_tracer("psflow.connectors")


@contextmanager
def request_span(system: str, method: str, url: str, base_url: httpx.URL) -> Iterator[Span]:
    """`<METHOD> <system>` around one request (its token fetch included)."""
    target = httpx.URL(url)
    server = target if target.is_absolute_url else base_url
    # A relative url is appended to the base url's path, as httpx does.
    path = target.path if target.is_absolute_url else base_url.path.rstrip("/") + target.path
    attributes: dict[str, str | int] = {
        SYSTEM: system,
        METHOD: method,
        PATH: path,
        "server.address": server.host,
    }
    if server.port:
        attributes["server.port"] = server.port
    with _tracer.start_as_current_span(
        f"{method} {system}",
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except ConnectorError as exc:
            if exc.status is not None:
                span.set_attribute(STATUS, exc.status)
            span.set_attribute(RETRY, "retryable" if exc.retryable else "permanent")
            span.set_attribute("error.type", type(exc).__name__)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
