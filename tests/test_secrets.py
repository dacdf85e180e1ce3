"""No credential appears in any history, log line, printed line or span of a full demo run,
and no customer's or worker's name outside the encrypted payloads.

The demo journey runs in this process on a stack of its own (Temporal dev server, sandbox,
worker, as `psflow demo` runs it) with logging at DEBUG, the connectors' client secrets unique
to this run, and every bearer token the sandbox issues recorded. Then every workflow's history
is read raw (a client without the codec) and decrypted, and searched with every log record,
everything printed and every span for those secrets, the tokens, the codec keys and the secret
the sandbox signs its events to ingress with.
"""

import asyncio
import logging
import secrets
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from cli.demo import run_journey
from config import TelemetrySettings, load_settings
from ingress.app import SENDERS
from sandbox.catalog import ACCOUNTS
from sandbox.hcm.seed import _NAMED
from security.codec import codec_from, reveal
from stack.local import local_stack
from telemetry import tracing
from tests.support import CODEC_KEYS, free_port, write_settings

SYSTEMS = ("crm", "erp", "psa", "hcm")


class Records(logging.Handler):
    """Every log record, formatted with its traceback, as a line of text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def debug_logs() -> Iterator[Records]:
    root = logging.getLogger()
    records, level = Records(), root.level
    root.addHandler(records)
    root.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(records)
        root.setLevel(level)


@pytest.fixture
def issued_tokens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every bearer token the sandbox hands out (sandbox/auth.py draws them here)."""
    tokens: list[str] = []
    draw = secrets.token_urlsafe

    def recorded(nbytes: int | None = None) -> str:
        value = draw(nbytes)
        if sys._getframe(1).f_globals.get("__name__") == "sandbox.auth":
            tokens.append(value)
        return value

    monkeypatch.setattr(secrets, "token_urlsafe", recorded)
    return tokens


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span the demo's worker, connectors and sandbox clients finish, in memory."""
    exporter = InMemorySpanExporter()
    tracing.install(tracing.build_provider(TelemetrySettings()), SimpleSpanProcessor(exporter))
    try:
        yield exporter
    finally:
        tracing.stop()
        exporter.clear()


async def test_no_credential_in_any_history_log_line_or_span_of_the_demo(
    tmp_path: Path,
    debug_logs: Records,
    issued_tokens: list[str],
    spans: InMemorySpanExporter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_settings(
        tmp_path, f"127.0.0.1:{free_port()}", ui_url=f"http://localhost:{free_port()}"
    )
    client_secrets = {s: f"{s}-secret-{uuid.uuid4().hex}" for s in SYSTEMS}
    env = {f"PSFLOW_{s.upper()}_CLIENT_SECRET": v for s, v in client_secrets.items()}
    refresh_token = f"refresh-{uuid.uuid4().hex}"
    env["PSFLOW_HCM_REFRESH_TOKEN"] = refresh_token
    settings = load_settings(config, env=env)
    settings = settings.model_copy(update={"data_dir": tmp_path / "demo"})

    stored: list[bytes] = []  # each history as the server holds it
    revealed: list[bytes] = []  # and decrypted, as the worker and the codec server see it
    codec = codec_from(settings.codec)
    async with local_stack(settings, persist=False) as stack:
        # the stack's own, one per system, for signing events
        ingress_secrets = [stack.settings.ingress.secret_for(s) or "" for s in SENDERS]
        assert all(ingress_secrets)
        journey = asyncio.create_task(run_journey(stack.client, stack.settings))
        watchdog = asyncio.create_task(stack.wait_failure())  # a worker or sandbox that stops
        await asyncio.wait([journey, watchdog], return_when=asyncio.FIRST_COMPLETED)
        if not journey.done():
            journey.cancel()
            watchdog.result()
        watchdog.cancel()
        journey.result()
        plain = Client(
            stack.client.service_client,
            namespace=settings.temporal.namespace,
            data_converter=pydantic_data_converter,  # no codec: what the server holds
        )
        visible: list[str] = []  # the search attributes the server's visibility store holds
        async for execution in plain.list_workflows():
            visible.append(repr(execution.search_attributes))
            handle = plain.get_workflow_handle(execution.id, run_id=execution.run_id)
            history = await handle.fetch_history()
            for event in history.events:
                stored.append(event.SerializeToString())
                opened = HistoryEvent.FromString(event.SerializeToString())
                assert reveal(opened, codec) == 0
                revealed.append(opened.SerializeToString())

    printed = capsys.readouterr()
    finished = spans.get_finished_spans()
    assert "demo complete" in printed.out
    assert len(stored) > 500 and issued_tokens  # the journey ran, and tokens were issued
    assert any(b"json/plain" in event for event in revealed)  # decrypted for the search

    # The demo keys the CRM and ERP connectors sign with: a line of each key's body.
    key_lines = [settings.key_file(system).read_text().splitlines()[1] for system in ("crm", "erp")]
    needles = [*client_secrets.values(), *issued_tokens, *CODEC_KEYS.values(), *ingress_secrets]
    needles += [refresh_token, *key_lines]
    haystacks = {
        "history (raw)": b"\n".join(stored).decode(errors="replace"),
        "history (decrypted)": b"\n".join(revealed).decode(errors="replace"),
        "log lines": "\n".join(debug_logs.lines),
        "printed output": printed.out + printed.err,
        "spans": "\n".join(span.to_json() for span in finished),
    }
    assert len(debug_logs.lines) > 100  # DEBUG was on: the HTTP calls are logged
    # Traced: every system's requests (each behind its credentials) are among the spans.
    called = {(span.attributes or {}).get("psflow.system") for span in finished}
    assert called >= set(SYSTEMS), f"no traced request to {set(SYSTEMS) - called}"
    for where, text in haystacks.items():
        leaked = [n[:6] + "..." for n in needles if n in text]
        assert not leaked, f"credentials in {where}: {leaked}"

    # Names of customers and workers stay in the encrypted payloads: search attributes (which
    # the server keeps in clear), spans and baggage hold ids.
    names = [name for name, _, _ in ACCOUNTS] + [f"{w.first_name} {w.last_name}" for w in _NAMED]
    outside_the_codec = {
        "history (raw)": haystacks["history (raw)"],
        "search attributes": "\n".join(visible),
        "spans": haystacks["spans"],
    }
    assert any(name in haystacks["history (decrypted)"] for name in names)  # they were there
    for where, text in outside_the_codec.items():
        found = [name for name in names if name in text]
        assert not found, f"names in {where}: {found[:5]}"
