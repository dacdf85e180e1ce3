"""Traces and metrics: one run is one trace, from `psflow start` to every HTTP call; Prometheus.

The spans are caught by an in-memory exporter on the process's tracer provider; the worker,
its client and the CLI are wired as in production (worker.connect, cli.client.connect).
"""

import asyncio
import gc
import logging
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from temporalio.api.enums.v1 import EventType
from typer.testing import CliRunner, Result

import worker
from cli.main import app
from config import Settings, TelemetrySettings
from connectors.auth import SalesforceClientCredentials
from connectors.crm import CrmConnector
from connectors.errors import NotFound, SystemUnavailable
from models.opportunity_to_project import (
    OpportunityToProjectInput,
    OpportunityToProjectResult,
    workflow_id,
)
from models.status import StepState, WaitKind, WorkflowStatus
from telemetry import entry_span, tracing
from tests.support import Sandbox, Systems, env_for, running_worker
from tests.test_opportunity_to_project import status_when, waiting_for
from workflows.opportunity_to_project import OpportunityToProject

runner = CliRunner()
COMMAND = "psflow start"
RUN = "RunWorkflow:opportunity-to-project"
START = "StartWorkflow:opportunity-to-project"
# Every attribute a span may carry; anything else (a header, a body) would be a leak.
ALLOWED_KEYS = {
    "temporalWorkflowID",
    "temporalRunID",
    "temporalActivityID",
    "temporalActivityType",
    "temporalUpdateID",
    "psflow.workflow.type",
    "psflow.workflow.id",
    "psflow.business_key",
    "psflow.customer_id",
    "psflow.project",
    "psflow.step",
    "psflow.activity",
    "psflow.system",
    "psflow.retry",
    "http.request.method",
    "http.response.status_code",
    "url.path",
    "server.address",
    "server.port",
    "error.type",
}


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span this process finishes while the module runs."""
    exporter = InMemorySpanExporter()
    provider = tracing.build_provider(TelemetrySettings())
    tracing.install(provider, SimpleSpanProcessor(exporter))
    try:
        yield exporter
    finally:
        tracing.stop()  # later tests' clients and workers do not trace
        exporter.clear()
        exporter.shutdown()


async def cli(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(runner.invoke, app, list(args), env=env)


async def fresh_deal(sandbox: Sandbox) -> str:
    """A closed-won deal no other test touches, provisioned without an approval."""
    async with httpx.AsyncClient(base_url=sandbox.urls["crm"], timeout=10) as admin:
        added = await admin.post("/__admin/seed/deals", json={"count": 1})
    added.raise_for_status()
    deal: str = added.json()["opportunities"][0]
    return deal


def children(span: ReadableSpan, tree: list[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in tree if s.parent is not None and s.parent.span_id == span.context.span_id]


async def test_a_run_is_one_trace_from_the_cli_through_workflow_activities_and_http_calls(
    spans: InMemorySpanExporter,
    settings: Settings,
    sandbox: Sandbox,
    systems: Systems,
    config_file: Path,
) -> None:
    opportunity_id = await fresh_deal(sandbox)
    key = workflow_id(opportunity_id)
    queue = f"psflow-test-{uuid.uuid4()}"
    traced = await worker.connect(settings)  # the worker's own client, tracing plugins and all
    # No cache: every workflow task replays the run so far, which must add no span twice.
    uncached = settings.model_copy(deep=True)
    uncached.worker.max_cached_workflows = 0
    async with running_worker(traced, uncached, queue):
        env = env_for(config_file, PSFLOW_TASK_QUEUE=queue)
        started = await cli(env, "start", "opportunity-to-project", opportunity_id, "--as", "sam")
        assert started.exit_code == 0, started.output
        handle = traced.get_workflow_handle(key, result_type=OpportunityToProjectResult)
        result = await handle.result()
        finished = spans.get_finished_spans()  # before the status query, a trace of its own
        status = await handle.query("status", result_type=WorkflowStatus)
        history = [event async for event in handle.fetch_history_events()]

    trace = one_trace(finished, key)
    # The command is the root: its check read the CRM, then it started the workflow.
    root = trace[0]
    assert root.name == COMMAND and root.parent is None
    assert attributes(root) == {
        "psflow.workflow.type": "opportunity-to-project",
        "psflow.workflow.id": key,
        "psflow.business_key": opportunity_id,
    }
    check, start = children(root, trace)
    assert (check.name, attributes(check)["psflow.system"]) == ("GET crm", "crm")
    assert opportunity_id in str(attributes(check)["url.path"])
    assert start.name == START
    (run,) = children(start, trace)
    assert run.name == RUN
    ids = [s.context.span_id for s in trace]
    assert len(ids) == len(set(ids)), "a span was exported twice"
    assert [s.name for s in trace].count(RUN) == 1
    assert (
        attributes(run).items()
        >= {
            "psflow.workflow.type": "opportunity-to-project",
            "psflow.workflow.id": key,
            "psflow.business_key": opportunity_id,
        }.items()
    )

    # workflow -> step -> activity: every activity the history scheduled, each under its step.
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    starts = [s for s in trace if s.name.startswith("StartActivity:")]
    runs = [s for s in trace if s.name.startswith("RunActivity:")]
    assert sorted(s.name.split(":", 1)[1] for s in runs) == sorted(scheduled)
    assert sorted(s.name.split(":", 1)[1] for s in starts) == sorted(scheduled)
    steps = {s.context.span_id: s for s in children(run, trace) if s.name.startswith("Step:")}
    done = [step.name for step in status.steps if step.state == StepState.DONE]
    assert sorted(s.name.removeprefix("Step:") for s in steps.values()) == sorted(done)
    account = (await systems.crm.get_opportunity(opportunity_id)).account
    for activity_run in runs:
        (start,) = [s for s in starts if s.context.span_id == activity_run.parent.span_id]
        assert start.parent.span_id in steps or start.parent.span_id == run.context.span_id
        assert attributes(activity_run)["psflow.workflow.id"] == key
        assert attributes(activity_run)["psflow.business_key"] == opportunity_id
        if start.parent.span_id in steps:
            step = attributes(steps[start.parent.span_id])["psflow.step"]
            assert attributes(activity_run)["psflow.step"] == step
            if step != "read opportunity":  # the customer is known once the deal is read
                assert attributes(activity_run)["psflow.customer_id"] == account.id
                assert account.name not in str(attributes(activity_run))  # ids, not names
            # The project is known once the PSA has it: every later step's activities carry it.
            later = step in ("open staffing requests", "publish baseline forecast")
            later = later or step == "write ids back to CRM"
            project = attributes(activity_run).get("psflow.project")
            assert project == (result.psa_project_id if later else None), step

    # activity -> HTTP call: every request to each system, under the activity that made it.
    calls = [s for s in trace if "psflow.system" in attributes(s) and s is not check]
    assert {attributes(c)["psflow.system"] for c in calls} == {"crm", "erp", "psa"}
    run_ids = {s.context.span_id for s in runs}
    for call in calls:
        assert call.parent.span_id in run_ids
        assert (
            call.name
            == f"{attributes(call)['http.request.method']} {attributes(call)['psflow.system']}"
        )
        status_code = int(attributes(call)["http.response.status_code"])
        # A lookup by external id that finds nothing yet (a new customer) is a 404.
        lookup = attributes(call)["http.request.method"] == "GET" and status_code == 404
        assert 200 <= status_code < 300 or lookup
        assert attributes(call)["url.path"].startswith("/")
    for activity_run in runs:  # only the policy and the store are no outside system
        if not activity_run.name.startswith(("RunActivity:policy.", "RunActivity:store.")):
            assert children(activity_run, trace), f"{activity_run.name} made no traced call"
    assert result.psa_project_id in " ".join(attributes(c)["url.path"] for c in calls)

    assert_no_secrets(spans.get_finished_spans(), settings)


async def test_a_refused_start_is_one_trace_of_the_command_and_its_failed_check(
    spans: InMemorySpanExporter, config_file: Path, sandbox: Sandbox
) -> None:
    missing = "006Hs00000000ZZZZZ"
    refused = await cli(
        env_for(config_file), "start", "opportunity-to-project", missing, "--as", "sam"
    )
    assert refused.exit_code == 1, refused.output

    (root,) = [
        s
        for s in spans.get_finished_spans()
        if s.name == COMMAND and attributes(s).get("psflow.business_key") == missing
    ]
    trace = [s for s in spans.get_finished_spans() if s.context.trace_id == root.context.trace_id]
    assert root.parent is None and root.status.status_code == StatusCode.ERROR
    assert root.status.description == "AppError"
    (check,) = children(root, trace)
    assert check.name == "GET crm"
    assert attributes(check)["psflow.retry"] == "permanent"
    assert [s.name for s in trace if s.name.startswith("StartWorkflow")] == []


def attributes(span: ReadableSpan) -> dict[str, object]:
    return dict(span.attributes or {})


def one_trace(finished: tuple[ReadableSpan, ...], key: str) -> list[ReadableSpan]:
    """The run's spans, root first: all of one trace id, each span's parent among them."""
    mine = [
        s
        for s in finished
        if key in (attributes(s).get("temporalWorkflowID"), attributes(s).get("psflow.workflow.id"))
    ]
    assert mine, "no span names the workflow"
    trace_ids = {s.context.trace_id for s in mine}
    assert len(trace_ids) == 1, "the run's spans are in more than one trace"
    trace = [s for s in finished if s.context.trace_id in trace_ids]
    ids = {s.context.span_id for s in trace}
    roots = [s for s in trace if s.parent is None]
    assert len(roots) == 1, [s.name for s in roots]
    orphans = [s.name for s in trace if s.parent is not None and s.parent.span_id not in ids]
    assert orphans == [], "spans whose parent is not in the trace"
    return roots + [s for s in trace if s.parent is not None]


def assert_no_secrets(finished: tuple[ReadableSpan, ...], settings: Settings) -> None:
    """No client secret, bearer token or credential field in any span, and no unknown key."""
    secrets = [
        system.client_secret.get_secret_value()
        for system in (settings.crm, settings.erp, settings.psa, settings.hcm)
    ]
    for span in finished:
        text = span.to_json()
        for secret in secrets:
            assert secret not in text, f"{span.name} holds a client secret"
        for word in ("Bearer", "Authorization", "access_token", "client_secret"):
            assert word.lower() not in text.lower(), f"{span.name} mentions {word}"
        assert set(attributes(span)) <= ALLOWED_KEYS, (
            f"{span.name}: {set(attributes(span)) - ALLOWED_KEYS}"
        )


async def test_a_failed_request_is_classified_on_its_span_without_token_or_query(
    spans: InMemorySpanExporter,
) -> None:
    token = "tok-a1b2c3d4e5f6"

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == CrmConnector.token_path:
            return httpx.Response(200, json={"access_token": token, "token_type": "Bearer"})
        if request.url.path.endswith("/busy"):
            return httpx.Response(503, headers={"Retry-After": "3"}, text="down for maintenance")
        return httpx.Response(404, json=[{"message": "no such row", "errorCode": "NOT_FOUND"}])

    secret = "s3cret-value"
    token_url = "http://crm.test" + CrmConnector.token_path
    basic = SalesforceClientCredentials("crm", token_url, "psflow", secret, basic=True)
    crm = CrmConnector.build("http://crm.test", basic, transport=httpx.MockTransport(answer))
    try:
        with pytest.raises(SystemUnavailable):
            await crm.request("GET", "/services/data/v60.0/busy?q=SELECT+Name")
        with pytest.raises(NotFound):
            await crm.request("GET", "/services/data/v60.0/sobjects/Account/001")
    finally:
        await crm.aclose()

    busy, missing = [s for s in spans.get_finished_spans() if s.name == "GET crm"][-2:]
    assert attributes(busy) == {
        "psflow.system": "crm",
        "http.request.method": "GET",
        "url.path": "/services/data/v60.0/busy",
        "server.address": "crm.test",
        "http.response.status_code": 503,
        "psflow.retry": "retryable",
        "error.type": "SystemUnavailable",
    }
    assert attributes(missing)["psflow.retry"] == "permanent"
    assert attributes(missing)["error.type"] == "NotFound"
    for span in (busy, missing):
        text = span.to_json()
        assert token not in text and "s3cret-value" not in text
        assert "SELECT" not in text and "maintenance" not in text and "no such row" not in text


async def test_a_stopped_worker_tears_its_waiting_runs_down_inside_their_event_loops(
    spans: InMemorySpanExporter,
    settings: Settings,
    sandbox: Sandbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every deal waits for an approval: the run is idle in the worker's cache when it stops.
    strict = settings.model_copy(deep=True)
    approval = strict.policy.approval
    approval.thresholds = dict.fromkeys(approval.thresholds, Decimal("0"))
    traced = await worker.connect(strict)
    opportunity_id = await fresh_deal(sandbox)
    async with running_worker(traced, strict, f"psflow-test-{uuid.uuid4()}") as used:
        handle = await traced.start_workflow(
            OpportunityToProject.run,
            OpportunityToProjectInput(opportunity_id=opportunity_id, requested_by="sam"),
            id=workflow_id(opportunity_id),
            task_queue=used.temporal.task_queue,
        )
        await status_when(handle, waiting_for(WaitKind.APPROVAL))
    try:
        with caplog.at_level(logging.DEBUG):
            gc.collect()  # a run left in a stopped worker's cache would be closed here
        torn = [r.getMessage() for r in caplog.records if r.name.startswith("opentelemetry")]
        assert torn == [], "a run was torn down outside its event loop"
    finally:
        await handle.terminate("test over")


def test_an_entry_span_continues_the_trace_of_a_sender_that_sent_traceparent(
    spans: InMemorySpanExporter,
) -> None:
    sender_trace, sender_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    headers = {"traceparent": f"00-{sender_trace}-{sender_span}-01", "content-type": "x"}
    with entry_span(TelemetrySettings(), "POST /events/crm", headers=headers):
        pass
    with entry_span(TelemetrySettings(), "psflow start"):
        pass

    joined, command = spans.get_finished_spans()[-2:]
    assert joined.kind == SpanKind.SERVER and joined.parent is not None
    assert format(joined.context.trace_id, "032x") == sender_trace
    assert format(joined.parent.span_id, "016x") == sender_span
    assert command.kind == SpanKind.INTERNAL and command.parent is None
