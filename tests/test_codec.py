"""Payload encryption: histories hold no cost rate in clear, the codec server decodes only with
its token, keys rotate by id, and runs started in clear go on once encryption is turned on."""

import asyncio
import base64
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli.codec_server import MAX_BODY_BYTES, codec_app, ui_origins
from cli.main import app
from config import CodecSettings, ConfigError, Settings, load_settings
from models.hire_to_staff import HireToStaffInput, hire_workflow_id
from models.opportunity_to_project import OpportunityToProjectInput, workflow_id
from models.people import Approval, Correction, Rejection
from models.status import RunState, WaitKind
from sandbox.catalog import COST_CENTERS
from sandbox.crm.seed import SPARE_CLOSED_WON
from sandbox.hcm.seed import DEMO_WORKERS
from security.codec import KEY_ID, CodecError, codec_from, data_converter, parse_keys, reveal
from tests.support import (
    BIN,
    CODEC_KEYS,
    TEMPORAL,
    Sandbox,
    Systems,
    env_for,
    free_port,
    proven,
    running_worker,
    write_settings,
)
from tests.test_hire_to_staff import open_only_request
from tests.test_opportunity_to_project import status_when, waiting_for
from workflows.hire_to_staff import HireToStaff
from workflows.opportunity_to_project import OpportunityToProject
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

TOKEN = "test-codec-token"  # tests/support.py CODEC_TOML
OLD, NEW = "2026-05", "2026-11"
UI = "http://localhost:8233"


@dataclass
class Estate:
    """A dev server and sandbox of this module's own: it runs workflows in clear as well."""

    env: WorkflowEnvironment
    config: Path
    settings: Settings
    systems: Systems

    def client(self, converter: DataConverter) -> Client:
        base = self.env.client
        return Client(base.service_client, namespace=base.namespace, data_converter=converter)


@pytest.fixture(scope="module")
async def estate(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Estate]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=TEMPORAL, search_attributes=SEARCH_ATTRIBUTES
    )
    async with env:
        folder = tmp_path_factory.mktemp("codec-estate")
        config = write_settings(folder, env.client.service_client.config.target_host)
        box = Sandbox(config)
        box.start()
        settings = load_settings(config)
        systems = Systems(settings)
        try:
            yield Estate(env, config, settings, systems)
        finally:
            await systems.aclose()
            box.stop()


def keyed(settings: Settings, current: str | None, *key_ids: str) -> Settings:
    codec = CodecSettings(keys={k: SecretStr(CODEC_KEYS[k]) for k in key_ids}, current=current)
    return settings.model_copy(update={"codec": codec})


def raw(history: WorkflowHistory) -> bytes:
    """Every byte of the history as the server keeps it, and its JSON form."""
    events = b"".join(event.SerializeToString() for event in history.events)
    return events + history.to_json().encode()


def event_payloads(event: HistoryEvent) -> list[Payload]:
    """A signal's input, an activity's input and result: where cost rates and salaries travel."""
    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        return list(event.workflow_execution_signaled_event_attributes.input.payloads)
    if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        return list(event.activity_task_completed_event_attributes.result.payloads)
    if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        return list(event.activity_task_scheduled_event_attributes.input.payloads)
    return []


def payloads(history: WorkflowHistory) -> list[Payload]:
    return [p for event in history.events for p in event_payloads(event)]


def revealed(history: WorkflowHistory, settings: Settings) -> str:
    """The activities' payloads decrypted (on copies: the history stays as stored)."""
    codec = codec_from(settings.codec)
    text = []
    for stored in history.events:
        event = HistoryEvent.FromString(stored.SerializeToString())
        assert reveal(event, codec) == 0
        text += [p.data.decode(errors="replace") for p in event_payloads(event)]
    return "\n".join(text)


async def hire_and_assign(
    client: Client, settings: Settings, systems: Systems, worker_id: str
) -> None:
    """A closed-won deal gives a project with one open request for the worker's role; hire
    (on the task queue of `settings`, the worker's)."""
    queue = settings.temporal.task_queue
    opportunity = SPARE_CLOSED_WON[0]
    deal = await client.execute_workflow(
        OpportunityToProject.run,
        OpportunityToProjectInput(opportunity_id=opportunity),
        id=workflow_id(opportunity),
        task_queue=queue,
    )
    person = await systems.hcm.get_worker(worker_id)
    await open_only_request(systems, deal.psa_project_id, person.role)
    handle = await client.start_workflow(
        HireToStaff.run, HireToStaffInput(worker_id=worker_id), id=hire_workflow_id(worker_id),
        task_queue=queue,
    )  # fmt: skip
    await status_when(handle, waiting_for(WaitKind.APPROVAL), within=60)  # type: ignore[arg-type]
    approval = proven(settings, handle.id, "approve", Approval(user="rita"))
    await handle.execute_update(HireToStaff.approve, approval)
    assert (await handle.result()).outcome == "assigned"


def serve_codec(config: Path, port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [str(BIN / "psflow"), "codec-server", "--port", str(port)], env=env_for(config)
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.post(f"http://127.0.0.1:{port}/decode", timeout=1)
            return server
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError("the codec server did not start") from None
            time.sleep(0.1)


def ask_codec_server(
    config: Path, settings: Settings, encrypted: list[Payload], rate: bytes
) -> None:
    """`psflow codec-server` over HTTP, as the web UI and `temporal --codec-endpoint` call it."""
    port = free_port()
    server = serve_codec(config, port)
    try:
        body = json_format.MessageToDict(Payloads(payloads=encrypted))
        url = f"http://127.0.0.1:{port}/decode"
        headers = {"X-Namespace": "default", "Content-Type": "application/json"}
        for refused in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            answer = httpx.post(url, json=body, headers=headers | refused, timeout=10)
            assert answer.status_code == 401 and "payloads" not in answer.json()
            assert rate not in answer.content
        answer = httpx.post(
            f"http://127.0.0.1:{port}/default/decode",
            json=body,
            headers=headers | {"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        decoded = json_format.ParseDict(answer.json(), Payloads()).payloads
        assert len(decoded) == len(encrypted)
        assert all(p.metadata["encoding"] in (b"json/plain", b"binary/null") for p in decoded)
        assert any(rate in p.data for p in decoded)

        # The web UI's preflight from its own origin is allowed, with the headers it sends.
        preflight = httpx.options(
            url,
            headers={
                "Origin": settings.temporal.ui_url,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
            },
            timeout=10,
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == settings.temporal.ui_url
        plain_payload = pydantic_data_converter.payload_converter.to_payload({"a": "1"})
        encoded = httpx.post(
            f"http://127.0.0.1:{port}/encode",
            json=json_format.MessageToDict(Payloads(payloads=[plain_payload])),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        [sealed] = json_format.ParseDict(encoded.json(), Payloads()).payloads
        assert sealed.metadata[KEY_ID] == NEW.encode() and b'"a"' not in sealed.data
    finally:
        server.terminate()
        server.wait(timeout=10)


async def test_hire_history_holds_no_cost_rate_in_clear_and_codec_server_needs_the_token(
    estate: Estate,
) -> None:
    settings = estate.settings  # [codec] on: both keys, current 2026-11
    client = estate.client(data_converter(settings))
    worker_id = DEMO_WORKERS["prehire_senior_us"]
    person = await estate.systems.hcm.get_worker(worker_id)
    assert person.cost_rate is not None
    rate = str(person.cost_rate).encode()
    async with running_worker(client, settings, f"codec-{uuid.uuid4()}") as used:
        await hire_and_assign(client, used, estate.systems, worker_id)

    # Read with a client that has no codec: what the server, and anyone reading it, holds.
    plain = estate.client(pydantic_data_converter)
    history = await plain.get_workflow_handle(hire_workflow_id(worker_id)).fetch_history()
    assert rate in revealed(history, settings).encode()  # it is there, once decrypted
    stored = raw(history)
    assert rate not in stored and b"cost_rate" not in stored and b"labor" not in stored
    encrypted = payloads(history)
    assert encrypted and all(p.metadata["encoding"] == b"binary/encrypted" for p in encrypted)
    assert {p.metadata[KEY_ID] for p in encrypted} == {NEW.encode()}

    await asyncio.to_thread(ask_codec_server, estate.config, settings, encrypted, rate)


async def test_run_started_in_clear_goes_on_encrypted_through_a_key_rotation(
    estate: Estate,
) -> None:
    worker_id = DEMO_WORKERS["prehire_missing_cost_center"]
    queue = f"codec-{uuid.uuid4()}"
    off, old, rotated = (
        keyed(estate.settings, None),
        keyed(estate.settings, OLD, OLD),
        keyed(estate.settings, NEW, OLD, NEW),
    )
    # Started before encryption: the plain pydantic converter, as every run before this.
    client = estate.client(data_converter(off))
    async with running_worker(client, off, queue):
        handle = await client.start_workflow(
            HireToStaff.run, HireToStaffInput(worker_id=worker_id),
            id=hire_workflow_id(worker_id), task_queue=queue,
        )  # fmt: skip
        await status_when(handle, waiting_for(WaitKind.CORRECTION))  # type: ignore[arg-type]

    # Encryption on with key 2026-05: a fresh worker replays the plain history and goes on.
    client = estate.client(data_converter(old))
    async with running_worker(client, old, queue):
        handle = client.get_workflow_handle(hire_workflow_id(worker_id))
        dana = proven(old, handle.id, "approve", Approval(user="dana"))
        await handle.signal(HireToStaff.approve_signal, dana)
        status = await status_when(handle, lambda s: bool(s.events))  # type: ignore[arg-type]
        assert status.waiting_for is not None and status.events[-1].kind == "refused"

    # Rotated: 2026-11 encrypts, 2026-05 still decrypts; the run finishes.
    client = estate.client(data_converter(rotated))
    person = await estate.systems.hcm.get_worker(worker_id)
    center = next(c for c, (entity, _) in COST_CENTERS.items() if entity == person.legal_entity)
    async with running_worker(client, rotated, queue):
        handle = client.get_workflow_handle(hire_workflow_id(worker_id))
        fix = Correction(user="rita", fields={"cost_center": center})
        await handle.execute_update(HireToStaff.correct, proven(rotated, handle.id, "correct", fix))
        status = await status_when(
            handle,  # type: ignore[arg-type]
            lambda s: s.state == RunState.COMPLETED or waiting_for(WaitKind.APPROVAL)(s),
            within=60,
        )
        if status.state != RunState.COMPLETED:
            rejection = Rejection(user="rita", reason="later")
            await handle.execute_update(
                HireToStaff.reject, proven(rotated, handle.id, "reject", rejection)
            )
        await handle.result()

    history = await handle.fetch_history()
    kinds = {p.metadata.get(KEY_ID, b"clear") for p in payloads(history)}
    assert kinds == {b"clear", OLD.encode(), NEW.encode()}
    # With 2026-05 dropped, its payloads are a clear error naming the key id.
    newest_only = codec_from(keyed(estate.settings, NEW, NEW).codec)
    assert newest_only is not None
    under_old = next(p for p in payloads(history) if p.metadata.get(KEY_ID) == OLD.encode())
    with pytest.raises(CodecError, match='key id "2026-05", which \\[codec\\] keys does not list'):
        newest_only.decrypt(under_old)
    assert json.loads(codec_from(rotated.codec).decrypt(under_old).data) is not None  # type: ignore[union-attr]


def test_bad_codec_settings_are_one_line_naming_the_field() -> None:
    base = Settings()
    short = base.model_copy(update={"codec": CodecSettings(keys={"k": SecretStr("c2hvcnQ=")})})
    with pytest.raises(ConfigError, match=r'^\[codec\] keys."k" is not 32 bytes of base64'):
        parse_keys(short.codec)
    missing = CodecSettings(keys={OLD: SecretStr(CODEC_KEYS[OLD])}, current=NEW)
    with pytest.raises(ConfigError, match=r'current = "2026-11" is not among \[codec\] keys'):
        parse_keys(missing)
    assert codec_from(CodecSettings()) is None  # no keys: encryption off
    assert data_converter(base) is pydantic_data_converter


def test_codec_server_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    config = write_settings(tmp_path, codec=False)
    config.write_text(
        config.read_text()
        + f'[codec]\ncurrent = "{NEW}"\nkeys = {{ "{NEW}" = "{CODEC_KEYS[NEW]}" }}\n'
    )
    result = CliRunner().invoke(app, ["codec-server"], env=env_for(config))
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: [codec] server_token is not set: set it (or PSFLOW_CODEC_SERVER_TOKEN) to the "
        "token operators will present"
    ]


def test_unencrypted_payloads_pass_through_decode() -> None:
    codec = codec_from(keyed(Settings(), NEW, NEW).codec)
    assert codec is not None
    before = pydantic_data_converter.payload_converter.to_payload({"cost": Decimal("1.5")})
    assert codec.decrypt(before) == before
    assert codec.decrypt(codec.encrypt(before)) == before


async def test_failure_messages_and_stack_traces_are_sealed_with_their_causes() -> None:
    settings = keyed(Settings(), NEW, NEW)
    converter = data_converter(settings)
    try:
        try:
            raise ApplicationError("HCM answered 422: salary 98000.00 above band")
        except ApplicationError as cause:
            raise ApplicationError("ERP refused costRate 187.50", type="Refused") from cause
    except ApplicationError as exc:
        failure = Failure()
        await converter.encode_failure(exc, failure)

    stored = failure.SerializeToString()
    assert b"187.50" not in stored and b"98000" not in stored
    assert failure.message == "Encoded failure" and failure.cause.message == "Encoded failure"
    assert reveal(failure, codec_from(settings.codec)) == 0
    assert failure.message == "ERP refused costRate 187.50"
    assert "salary 98000.00" in failure.cause.message and "raise" in failure.stack_trace


def test_a_key_is_32_bytes_of_base64_and_a_payload_must_match_its_key() -> None:
    for bad in ("not base64!", CODEC_KEYS[NEW][:-4], ""):
        with pytest.raises(ConfigError, match=r'^\[codec\] keys."k" is not 32 bytes of base64'):
            parse_keys(CodecSettings(keys={"k": SecretStr(bad)}, current="k"))
    pasted = CodecSettings(keys={NEW: SecretStr(CODEC_KEYS[NEW] + "\n")}, current=NEW)
    assert parse_keys(pasted) == parse_keys(keyed(Settings(), NEW, NEW).codec)

    codec = codec_from(keyed(Settings(), NEW, NEW).codec)
    # The other key listed under this payload's id: a key changed without a new id.
    swapped = codec_from(CodecSettings(keys={NEW: SecretStr(CODEC_KEYS[OLD])}, current=NEW))
    assert codec is not None and swapped is not None
    sealed = codec.encrypt(pydantic_data_converter.payload_converter.to_payload({"rate": "1"}))
    with pytest.raises(CodecError, match="does not decrypt with the key listed under that id"):
        swapped.decrypt(sealed)
    cut = Payload(metadata=dict(sealed.metadata), data=sealed.data[:5])
    with pytest.raises(CodecError, match="too short"):
        codec.decrypt(cut)
    assert codec.encrypt(sealed).data[:12] != codec.encrypt(sealed).data[:12]  # fresh nonces


async def test_codec_server_answers_bad_requests_in_words_and_only_the_ui_origin() -> None:
    codec = codec_from(keyed(Settings(), NEW, NEW).codec)
    assert codec is not None
    transport = httpx.ASGITransport(app=codec_app(codec, TOKEN, ui_origins(UI)))
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as http:

        async def preflight(origin: str) -> httpx.Headers:
            asked = {"Origin": origin, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization,content-type"}  # fmt: skip
            return (await http.options("/decode", headers=asked)).headers

        async def decode(body: object, token: str) -> httpx.Response:
            return await http.post("/decode", json=body, headers={"Authorization": token})

        twin = "http://127.0.0.1:8233"
        assert (await preflight(twin))["access-control-allow-origin"] == twin
        assert "access-control-allow-origin" not in await preflight("https://evil.example")

        bearer = f"Bearer {TOKEN}"
        garbled = await http.post("/decode", content=b"\xff\xfe", headers={"Authorization": bearer})
        assert garbled.status_code == 400
        sealed = codec.encrypt(pydantic_data_converter.payload_converter.to_payload({"a": "1"}))
        cut = Payload(metadata=dict(sealed.metadata), data=sealed.data[:5])
        answer = await decode(json_format.MessageToDict(Payloads(payloads=[cut])), bearer)
        assert answer.status_code == 422 and "too short" in answer.json()["error"]
        # The scheme is case-insensitive; the token is not.
        whole = json_format.MessageToDict(Payloads(payloads=[sealed]))
        assert (await decode(whole, f"bearer {TOKEN}")).status_code == 200
        assert (await decode(whole, f"Bearer {TOKEN.upper()}")).status_code == 401
        huge = {"payloads": [{"data": "A" * MAX_BODY_BYTES}]}
        too_big = await decode(huge, bearer)
        assert too_big.status_code == 413 and "over" in too_big.json()["error"]


async def test_codec_server_answers_malformed_payloads_4xx_never_5xx() -> None:
    codec = codec_from(keyed(Settings(), NEW, NEW).codec)
    assert codec is not None
    transport = httpx.ASGITransport(app=codec_app(codec, TOKEN, ui_origins(UI)))
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    marker = base64.b64encode(b"binary/encrypted").decode()
    unknown = {"encoding": marker, KEY_ID: base64.b64encode(b"2020-01").decode()}
    bodies = {
        "bad base64": {"payloads": [{"data": "a"}]},
        "wrong shape": {"payloads": {"data": ""}},
        "metadata not bytes": {"payloads": [{"metadata": {"encoding": 1}}]},
        "not an object": [1],
        "unknown key id": {"payloads": [{"metadata": unknown, "data": "AAAA"}]},
    }
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as http:
        answers = {
            name: await http.post("/ns/decode", json=body, headers=bearer)
            for name, body in bodies.items()
        }

    assert {name: a.status_code for name, a in answers.items()} == {
        "bad base64": 400, "wrong shape": 400, "metadata not bytes": 400, "not an object": 400,
        "unknown key id": 422,
    }  # fmt: skip
    refused = answers["unknown key id"].json()["error"]
    assert 'key id "2020-01", which [codec] keys does not list' in refused
