"""An event's trace: the ingress request is the root (or continues the sender's trace), and the
workflow it starts, its activities and their HTTP calls sit under it."""

import uuid

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic import SecretStr

import worker
from config import Settings
from ingress.app import create_app
from models.opportunity_to_project import OpportunityToProjectResult, workflow_id
from tests.support import Sandbox, running_worker
from tests.test_ingress import closed_won, signed
from tests.test_telemetry import (
    RUN,
    START,
    assert_no_secrets,
    attributes,
    children,
    fresh_deal,
    spans,  # noqa: F401  (the module's in-memory exporter)
)

SENDER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SENDER_SPAN = "00f067aa0ba902b7"


async def test_an_event_continues_the_senders_trace_through_the_run_it_starts(
    spans: InMemorySpanExporter,  # noqa: F811
    settings: Settings,
    sandbox: Sandbox,
) -> None:
    opportunity_id = await fresh_deal(sandbox)
    key = workflow_id(opportunity_id)
    queue = f"psflow-test-{uuid.uuid4()}"
    traced = await worker.connect(settings)
    secret = "trace-test-secret"
    async with running_worker(traced, settings, queue) as running:
        receiving = running.model_copy(deep=True)
        receiving.ingress.secret = SecretStr(secret)
        request = signed(closed_won(opportunity_id), secret)
        request["headers"]["traceparent"] = f"00-{SENDER_TRACE}-{SENDER_SPAN}-01"
        app = create_app(receiving, client=traced)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as http:
            answer = await http.post("/events/crm", **request)
        assert answer.status_code == 202, answer.text
        handle = traced.get_workflow_handle(key, result_type=OpportunityToProjectResult)
        await handle.result()
        finished = spans.get_finished_spans()

    trace = [s for s in finished if f"{s.context.trace_id:032x}" == SENDER_TRACE]
    (root,) = [s for s in trace if s.name == "POST /events/crm"]
    assert root.kind == SpanKind.SERVER
    assert root.parent is not None and f"{root.parent.span_id:016x}" == SENDER_SPAN
    assert attributes(root) == {
        "psflow.workflow.type": "opportunity-to-project",
        "psflow.workflow.id": key,
        "psflow.business_key": opportunity_id,
    }
    (start,) = [s for s in children(root, trace) if s.name == START]
    (run,) = children(start, trace)
    assert run.name == RUN
    ids = {s.context.span_id for s in trace}
    orphans = [s.name for s in trace if s is not root and s.parent.span_id not in ids]
    assert orphans == []
    systems = {attributes(s).get("psflow.system") for s in trace} - {None}
    assert systems == {"crm", "erp", "psa"}
    assert_no_secrets(finished, settings)
