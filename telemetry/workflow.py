"""A span per business step inside a workflow, safe to replay.

Workflow code imports this through `workflow.unsafe.imports_passed_through()`. Its spans come
from the replay-safe provider Temporal's tracing plugin needs (see telemetry.tracing): span
ids are drawn from the workflow's deterministic random and no span ends while history is
replayed, so a replay neither duplicates spans nor changes a command. While the process does
not trace, it does nothing.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import baggage, context, trace
from opentelemetry.trace import Status, StatusCode
from temporalio import workflow

from telemetry.attributes import CUSTOMER, STEP, workflow_attributes
from telemetry.tracing import active

_tracer = trace.get_tracer("psflow.workflow")


@contextmanager
def step_span(step: str, customer: str | None) -> Iterator[None]:
    """`Step:<step>` around the step's activities; the step and customer go to them as baggage."""
    if not active():
        yield
        return
    carried = baggage.set_baggage(STEP, step)
    if customer:
        carried = baggage.set_baggage(CUSTOMER, customer, carried)
    info = workflow.info()
    attributes = workflow_attributes(info.workflow_type, info.workflow_id) | {STEP: step}
    if customer:
        attributes[CUSTOMER] = customer
    span = _tracer.start_span(f"Step:{step}", context=carried, attributes=attributes)
    with _attached(trace.set_span_in_context(span, carried)):
        try:
            yield
        except BaseException as exc:
            # Not its message: it may quote an outside system's answer.
            _end(span, Status(StatusCode.ERROR, type(exc).__name__))
            raise
        _end(span)


def _end(span: trace.Span, status: Status | None = None) -> None:
    # Outside the workflow's event loop the run was evicted and is being torn down: its
    # replay opens this span again, with the same id, and ends it then.
    if workflow.in_workflow():
        if status is not None:
            span.set_status(status)
        span.end()


@contextmanager
def _attached(carried: context.Context) -> Iterator[None]:
    token = context.attach(carried)
    try:
        yield
    finally:
        try:
            token.var.reset(token)
        except ValueError:
            pass  # torn down in another contextvars.Context (an evicted run): nothing to undo
