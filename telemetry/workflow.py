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
from opentelemetry.context import Context
from opentelemetry.trace import Status, StatusCode
from temporalio import workflow

from telemetry.attributes import CUSTOMER, PROJECT, STEP, workflow_attributes
from telemetry.tracing import active

_tracer = trace.get_tracer("psflow.workflow")


@contextmanager
def step_span(step: str, customer_id: str | None, project: str | None = None) -> Iterator[None]:
    """`Step:<step>` around the step's activities; the step, customer and project (when
    known) go to them as baggage."""
    if not active():
        yield
        return
    known = {STEP: step, CUSTOMER: customer_id, PROJECT: project}
    business = {key: value for key, value in known.items() if value}
    carried: Context | None = None  # None: the current context
    for key, value in business.items():
        carried = baggage.set_baggage(key, value, carried)
    info = workflow.info()
    attributes = workflow_attributes(info.workflow_type, info.workflow_id) | business
    span = _tracer.start_span(f"Step:{step}", context=carried, attributes=attributes)
    token = context.attach(trace.set_span_in_context(span, carried))
    try:
        yield
    except BaseException as exc:
        # Not its message: it may quote an outside system's answer.
        _end(span, Status(StatusCode.ERROR, type(exc).__name__))
        raise
    else:
        _end(span)
    finally:
        context.detach(token)


def _end(span: trace.Span, status: Status | None = None) -> None:
    # Outside its event loop a run is being closed by the garbage collector (its worker
    # stopped without evicting it): another worker replays it and ends this span, same id.
    if workflow.in_workflow():
        if status is not None:
            span.set_status(status)
        span.end()
