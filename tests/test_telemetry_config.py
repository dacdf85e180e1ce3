"""`[telemetry]`: which exporter traces go to, and the worker's metrics where it says."""

import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from temporalio.client import Client

from config import ConfigError, Settings, TelemetrySettings, load_settings
from models.opportunity_to_project import (
    OpportunityToProjectInput,
    OpportunityToProjectResult,
    workflow_id,
)
from telemetry import tracing
from telemetry.metrics import metrics_runtime
from tests.support import Sandbox, free_port, running_worker
from tests.test_telemetry import fresh_deal


def test_telemetry_is_configured_by_file_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "psflow.toml"
    config.write_text(
        '[telemetry]\nservice_name = "psflow-eu"\ntraces = "otlp"\n'
        'otlp_endpoint = "http://collector:4318/v1/traces"\nmetrics_address = "0.0.0.0:9464"\n'
    )
    from_file = load_settings(config, env={}).telemetry
    assert from_file == TelemetrySettings(
        service_name="psflow-eu",
        traces="otlp",
        otlp_endpoint="http://collector:4318/v1/traces",
        metrics_address="0.0.0.0:9464",
    )
    exporter = tracing.exporter_for(from_file)
    assert isinstance(exporter, OTLPSpanExporter)
    assert exporter._endpoint == "http://collector:4318/v1/traces"

    env = {"PSFLOW_TRACES": "console", "PSFLOW_METRICS_ADDRESS": "", "PSFLOW_SERVICE_NAME": "x"}
    from_env = load_settings(config, env=env).telemetry
    assert (from_env.traces, from_env.metrics_address, from_env.service_name) == (
        "console",
        None,
        "x",
    )
    assert isinstance(tracing.exporter_for(from_env), ConsoleSpanExporter)
    assert tracing.exporter_for(TelemetrySettings()) is None  # traces = "none", the default

    with pytest.raises(ConfigError, match="metrics_address '9464' must be host:port"):
        load_settings(config, env={"PSFLOW_METRICS_ADDRESS": "9464"})
    with pytest.raises(ConfigError, match="traces"):
        load_settings(config, env={"PSFLOW_TRACES": "jaeger"})


def test_a_metrics_port_in_use_is_refused_with_the_setting_to_change() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(ConfigError) as refused:
            metrics_runtime(TelemetrySettings(metrics_address=address))
    message = str(refused.value)
    assert message.startswith(f"cannot serve metrics on {address}")
    assert "PSFLOW_METRICS_ADDRESS" in message and "\n" not in message


def test_otlp_sends_spans_to_the_configured_endpoint() -> None:
    received: list[tuple[str, str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        settings = TelemetrySettings(
            service_name="psflow-otlp-test",
            traces="otlp",
            otlp_endpoint=f"http://127.0.0.1:{server.server_port}/v1/traces",
        )
        exporter = tracing.exporter_for(settings)
        assert exporter is not None
        provider = tracing.build_provider(settings)  # not the process's: nothing else sees it
        provider.add_span_processor(BatchSpanProcessor(exporter))
        provider.get_tracer("test").start_span("GET crm").end()
        assert provider.force_flush(10_000)
        provider.shutdown()
    finally:
        server.shutdown()
        server.server_close()

    ((path, content_type, body),) = received
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    assert b"GET crm" in body and b"psflow-otlp-test" in body


async def test_the_worker_serves_temporal_sdk_metrics_for_prometheus(
    client: Client, settings: Settings, sandbox: Sandbox
) -> None:
    address = f"127.0.0.1:{free_port()}"
    metered = settings.model_copy(deep=True)
    metered.telemetry.metrics_address = address
    opportunity_id = await fresh_deal(sandbox)
    async with running_worker(client, metered, f"psflow-test-{uuid.uuid4()}") as used:
        handle = await client.start_workflow(
            "opportunity-to-project",
            OpportunityToProjectInput(opportunity_id=opportunity_id, requested_by="test"),
            id=workflow_id(opportunity_id),
            task_queue=used.temporal.task_queue,
            result_type=OpportunityToProjectResult,
        )
        assert (await handle.result()).outcome == "completed"
        async with httpx.AsyncClient(timeout=10) as http:
            page = (await http.get(f"http://{address}/metrics")).text

    queue = f'task_queue="{used.temporal.task_queue}"'
    ours = [line for line in page.splitlines() if line.startswith("temporal_") and queue in line]
    counted = {line.split("{")[0]: float(line.rsplit(" ", 1)[1]) for line in ours}
    assert counted["temporal_workflow_completed"] >= 1
    assert counted["temporal_workflow_task_execution_latency_count"] >= 1
    assert counted["temporal_activity_execution_latency_count"] >= 1
    assert counted["temporal_activity_task_received"] >= 1
