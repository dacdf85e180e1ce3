"""Event ingress end to end: the sandbox systems sign and deliver their events to the real
ingress app over HTTP, which starts workflows on the test Temporal server and a real worker."""

import asyncio
import contextlib
import hashlib
import hmac
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from application.runs import AlreadyRan, kind_named, start
from cli.main import app as cli_app
from cli.output import CliError
from config import Settings, load_settings
from ingress.app import MAX_BODY_BYTES, create_app
from ingress.server import serve
from models.change_order import ChangeOrder, RoleChange, change_order_workflow_id
from models.opportunity_to_project import OpportunityToProjectResult
from sandbox.crm.seed import DEMO_OPPORTUNITIES, SPARE_CLOSED_WON
from sandbox.volume import Volume, volume_projects
from stack.local import check_ports, local_stack, with_local_ingress
from tests.billing_support import seed_volume
from tests.support import (
    Sandbox,
    Systems,
    client_in,
    env_for,
    free_port,
    running_worker,
    write_settings,
)

SECRET = "ingress-test-secret"
HCM_SECRET = "ingress-test-secret-of-the-hcm"
"""The HCM signs with its own secret; the CRM and PSA with SECRET."""
OPEN_DEAL = DEMO_OPPORTUNITIES["open"]
VOLUME = Volume(projects=4, entries=120, period="2026-01", seed=51)
USD_PROJECT = next(
    p for p in volume_projects(VOLUME) if p.currency == "USD" and p.closed_on is None
)


@dataclass
class Estate:
    """Sandbox systems that deliver to the ingress, the ingress, and a worker."""

    settings: Settings
    sandbox: Sandbox
    client: Client
    ingress_url: str


# A namespace of its own: its deals and workers are also used by other modules.
NAMESPACE = "ingress-tests"


@pytest.fixture(scope="module")
async def estate(
    tmp_path_factory: pytest.TempPathFactory, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Estate]:
    folder = tmp_path_factory.mktemp("ingress")
    target = temporal_env.client.service_client.config.target_host
    config = write_settings(folder, temporal_address=target, namespace=NAMESPACE)
    port = load_settings(config).ingress.port
    text = config.read_text().replace(
        "[sandbox]\n", f'[sandbox]\nevent_webhook_url = "http://127.0.0.1:{port}/events"\n', 1
    )
    own = f'secret = "{SECRET}"\nsecrets = {{ hcm = "{HCM_SECRET}" }}\n'
    config.write_text(text.replace("[ingress]\n", f"[ingress]\n{own}", 1))
    box = Sandbox(config)
    box.start()
    client = await client_in(temporal_env, NAMESPACE)
    queue = f"psflow-ingress-{uuid.uuid4()}"
    try:
        seed_volume(box, VOLUME)
        async with running_worker(client, load_settings(config), queue) as settings:
            ready = asyncio.Event()
            serving = asyncio.create_task(serve(settings, client, ready))
            await asyncio.wait(
                [serving, asyncio.create_task(ready.wait())], return_when="FIRST_COMPLETED"
            )
            assert ready.is_set(), serving.exception()
            try:
                yield Estate(settings, box, client, f"http://127.0.0.1:{port}")
            finally:
                serving.cancel()
                await asyncio.gather(serving, return_exceptions=True)
                await _terminate_running(client, queue)
    finally:
        box.stop()


async def _terminate_running(client: Client, queue: str) -> None:
    """Workflows left waiting (for approvals) on this module's queue end with it."""
    query = f"TaskQueue = '{queue}' AND ExecutionStatus = 'Running'"
    async for execution in client.list_workflows(query):
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(execution.id).terminate("test module finished")


@pytest.fixture
async def systems(estate: Estate) -> AsyncIterator[Systems]:
    outside = Systems(estate.settings)
    try:
        yield outside
    finally:
        await outside.aclose()


def signed(event: dict[str, Any], secret: str = SECRET, at: float | None = None) -> dict[str, Any]:
    """Request arguments for an event signed as the README says, computed here on its own."""
    body = json.dumps(event, default=str).encode()
    stamp = int(time.time() if at is None else at)
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "Psflow-Signature": f"t={stamp},v1={digest}"}
    return {"content": body, "headers": headers}


def closed_won(opportunity_id: str) -> dict[str, Any]:
    return {
        "event_id": f"CRM-EVT-T{uuid.uuid4().hex[:8]}",
        "type": "opportunity.closed_won",
        "occurred_at": datetime.now(UTC).isoformat(),
        "opportunity_id": opportunity_id,
        "stage": "Closed Won",
    }


async def post(estate: Estate, system: str, request: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=estate.ingress_url, timeout=30) as http:
        return await http.post(f"/events/{system}", **request)


async def admin(url: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST to a sandbox's admin route; its JSON answer."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post(path, json=body)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


async def status_of(client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    try:
        return (await client.get_workflow_handle(workflow_id).describe()).status
    except RPCError as exc:
        assert exc.status == RPCStatusCode.NOT_FOUND
        return None


async def delivered(
    url: str, path: str, done: Callable[[dict[str, Any]], bool] = lambda d: d["attempts"] >= 1
) -> dict[str, Any]:
    """Poll a sandbox's admin route until the event's delivery satisfies `done`."""
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        while True:
            event: dict[str, Any] = (await http.get(path)).json()
            if done(event["delivery"]):
                return event
            assert time.monotonic() < deadline, event
            await asyncio.sleep(0.1)


# ---- signed events start their workflow


async def test_a_deal_closed_won_in_the_crm_starts_opportunity_to_project(
    estate: Estate, systems: Systems
) -> None:
    crm = estate.sandbox.urls["crm"]
    closed = await admin(crm, f"/__admin/opportunities/{OPEN_DEAL}/close-won")
    event = await delivered(crm, f"/__admin/webhooks/{closed['event']['event_id']}")

    assert event["type"] == "opportunity.closed_won"
    assert event["delivery"]["last_status"] == 202
    handle = estate.client.get_workflow_handle(
        f"opportunity-to-project/{OPEN_DEAL}", result_type=OpportunityToProjectResult
    )
    result = await handle.result()
    assert result.psa_project_id
    deal = await systems.crm.get_opportunity(OPEN_DEAL)
    assert deal.psa_project_id == result.psa_project_id


async def test_202_means_temporal_holds_the_workflow(estate: Estate) -> None:
    deal = SPARE_CLOSED_WON[0]
    answer = await post(estate, "crm", signed(closed_won(deal)))

    assert answer.status_code == 202
    assert answer.json()["action"] == "accepted"
    assert answer.json()["workflow_id"] == f"opportunity-to-project/{deal}"
    # No waiting: the run exists the moment the sender hears 202.
    assert await status_of(estate.client, answer.json()["workflow_id"]) is not None


async def test_an_amount_change_starts_nothing_and_says_why(estate: Estate) -> None:
    crm = estate.sandbox.urls["crm"]
    changed = await admin(crm, f"/__admin/opportunities/{OPEN_DEAL}/amount", {"amount": "99000"})
    event = await delivered(crm, f"/__admin/webhooks/{changed['event']['event_id']}")
    assert event["type"] == "opportunity.amount_changed"
    assert event["amount"] == "99000.00" and event["previous_amount"] is not None
    assert event["delivery"]["last_status"] == 202

    body = {k: v for k, v in event.items() if k != "delivery"}
    answer = await post(estate, "crm", signed(body))
    assert answer.status_code == 202
    assert answer.json()["action"] == "none"
    assert f"project {event['psa_project_id']} keeps its budget" in answer.json()["detail"]
    assert "change order" in answer.json()["detail"]


async def test_hcm_hire_transfer_and_termination_start_their_workflows(estate: Estate) -> None:
    hcm = estate.sandbox.urls["hcm"]
    hire = await admin(hcm, "/__admin/events", {"kind": "hire", "worker_id": "30002"})
    move = {"kind": "transfer", "worker_id": "20001", "changes": {"cost_center": "CC-1200"}}
    transfer = await admin(hcm, "/__admin/events", move)
    leave = await admin(hcm, "/__admin/events", {"kind": "termination", "worker_id": "20001"})

    for event in (hire, transfer, leave):
        done = await delivered(hcm, f"/__admin/events/{event['event_id']}")
        assert done["delivery"]["last_status"] == 202, done
    assert await status_of(estate.client, "hire-to-staff/30002") is not None
    for event in (transfer, leave):
        change = f"worker-change/20001/{event['event_id']}"
        assert await status_of(estate.client, change) is not None


async def test_a_change_order_submitted_in_the_psa_starts_change_order(
    estate: Estate, systems: Systems
) -> None:
    order = change_order("CO-INGRESS-0001", requested_by="paula")
    await systems.psa.submit_change_order(order)

    event = await psa_event("change_order.submitted", order.id, estate)
    assert event["delivery"]["last_status"] == 202, event
    workflow_id = change_order_workflow_id(order.id)
    assert await status_of(estate.client, workflow_id) == WorkflowExecutionStatus.RUNNING


async def test_a_change_order_the_project_refuses_is_422_and_starts_nothing(
    estate: Estate, systems: Systems
) -> None:
    order = change_order("CO-INGRESS-0002", requested_by="nobody")
    await systems.psa.submit_change_order(order)

    event = await psa_event("change_order.submitted", order.id, estate)
    assert event["delivery"]["last_status"] == 422
    assert "requested_by: unknown user 'nobody'" in event["delivery"]["last_error"]
    assert await status_of(estate.client, change_order_workflow_id(order.id)) is None


async def test_a_psa_outage_during_the_check_is_503_so_the_sender_retries(
    estate: Estate,
) -> None:
    estate.sandbox.fault("psa", path="*/change-orders/*", status=503, count=1)
    event = {
        "event_id": "PSA-EVT-T0001",
        "type": "change_order.submitted",
        "occurred_at": datetime.now(UTC).isoformat(),
        "project_id": USD_PROJECT.psa_id,
        "change_order_id": "CO-INGRESS-0003",
    }
    answer = await post(estate, "psa", signed(event))

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert "PSA" in answer.json()["error"]


async def test_an_approved_time_entry_starts_nothing_until_the_period_is_billed(
    estate: Estate, systems: Systems
) -> None:
    page = await systems.psa.time_entries(USD_PROJECT.psa_id, VOLUME.period)
    entry = page.items[0]
    await systems.psa.update_time_entry(entry.id, {"notes": "client workshop, corrected"})
    await systems.psa.approve_time_entry(entry.id, "paula")

    event = await psa_event("timesheet.approved", entry.id, estate, key="time_entry_id")
    assert event["delivery"]["last_status"] == 202
    answer = await post(estate, "psa", signed({k: v for k, v in event.items() if k != "delivery"}))
    assert answer.json()["action"] == "none"
    assert f"time-to-bill/{USD_PROJECT.psa_id}/{VOLUME.period}" in answer.json()["detail"]


def change_order(order_id: str, requested_by: str) -> ChangeOrder:
    return ChangeOrder(
        id=order_id,
        project_id=USD_PROJECT.psa_id,
        requested_by=requested_by,
        reason="Phase 2 data migration",
        currency="USD",
        budget_change=Decimal("5000"),
        effective_date=date(2026, 12, 1),
        roles=[RoleChange(role="Senior Consultant", hours_change=Decimal(20))],
    )


async def psa_event(
    kind: str, record_id: str, estate: Estate, key: str = "change_order_id"
) -> dict[str, Any]:
    """The PSA's event of `kind` about a record, once its first delivery answered."""
    psa = estate.sandbox.urls["psa"]
    deadline = time.monotonic() + 30
    while True:
        async with httpx.AsyncClient(base_url=psa, timeout=5) as http:
            events = (await http.get("/__admin/webhooks", params={"type": kind})).json()
        found = [e for e in events["data"] if e[key] == record_id]
        if found:
            return await delivered(psa, f"/__admin/webhooks/{found[0]['event_id']}")
        assert time.monotonic() < deadline, events
        await asyncio.sleep(0.1)


# ---- refusals


async def test_a_wrong_or_missing_signature_is_401_and_starts_nothing(estate: Estate) -> None:
    deal = SPARE_CLOSED_WON[2]
    wrong = await post(estate, "crm", signed(closed_won(deal), secret="not-the-secret"))
    request = signed(closed_won(deal))
    del request["headers"]["Psflow-Signature"]
    missing = await post(estate, "crm", request)

    assert wrong.status_code == 401
    assert wrong.json() == {"error": "signature does not match the body: check the shared secret"}
    assert missing.status_code == 401
    assert await status_of(estate.client, f"opportunity-to-project/{deal}") is None


async def test_an_old_timestamp_is_401(estate: Estate) -> None:
    deal = SPARE_CLOSED_WON[2]
    answer = await post(estate, "crm", signed(closed_won(deal), at=time.time() - 301))

    assert answer.status_code == 401
    assert "beyond the 300s tolerance" in answer.json()["error"]
    assert await status_of(estate.client, f"opportunity-to-project/{deal}") is None


async def test_a_replayed_request_is_409_with_no_second_effect(estate: Estate) -> None:
    request = signed(closed_won(SPARE_CLOSED_WON[3]))
    first = await post(estate, "crm", request)
    replay = await post(estate, "crm", request)

    assert first.status_code == 202
    assert replay.status_code == 409
    assert "received before" in replay.json()["error"]
    runs = await runs_of(estate.client, first.json()["workflow_id"])
    assert runs == [first.json()["run_id"]]


async def test_a_body_ingress_cannot_use_is_422_naming_the_field(estate: Estate) -> None:
    event = closed_won(SPARE_CLOSED_WON[4]) | {"type": "opportunity.deleted"}
    answer = await post(estate, "crm", signed(event))

    assert answer.status_code == 422
    assert answer.json()["error"].startswith("type: Input should be")


NOW = "2026-11-02T09:00:00Z"
WORKER_EVENT = {
    "event_id": "EVT-T000001",
    "kind": "termination",
    "worker_id": "20001",
    "effective_date": "2026-11-30",
    "occurred_at": NOW,
    "sequence": 9,
}
BAD_BODIES = [
    ("crm", b"{not json", "body: Invalid JSON"),
    ("crm", b"", "body: Invalid JSON"),
    ("crm", b"[]", "body: Input should be an object"),
    ("crm", json.dumps({"type": "opportunity.closed_won"}).encode(), "event_id: Field required"),
    (
        "crm",
        json.dumps(closed_won("0061234") | {"event_id": "E1"}).encode(),
        "opportunity_id: '0061234' is not a Salesforce opportunity id",
    ),
    (
        "crm",
        json.dumps(
            closed_won(OPEN_DEAL) | {"type": "opportunity.amount_changed", "stage": None}
        ).encode(),
        "body: a opportunity.amount_changed event needs stage, amount",
    ),
    (
        "psa",
        json.dumps(
            {"event_id": "E2", "type": "change_order.submitted", "occurred_at": NOW}
            | {"project_id": "PRJ-1"}
        ).encode(),
        "body: a change_order.submitted event needs change_order_id",
    ),
    (
        "psa",
        json.dumps(
            {"event_id": "E3", "type": "timesheet.approved", "occurred_at": NOW}
            | {"project_id": "PRJ-1", "time_entry_id": "TE-1", "period": "2026-13"}
        ).encode(),
        "period: '2026-13' is not a billing period: use YYYY-MM",
    ),
    ("psa", json.dumps({"event_id": "E4", "type": "timesheet.rejected"}).encode(), "type: "),
    ("hcm", json.dumps(WORKER_EVENT | {"kind": "promotion"}).encode(), "kind: Input should be"),
    ("hcm", json.dumps(WORKER_EVENT | {"worker_id": ""}).encode(), "worker_id: '' is not"),
    ("hcm", json.dumps(WORKER_EVENT | {"event_id": "a/b"}).encode(), "event_id: 'a/b' is not"),
]


@pytest.mark.parametrize(("system", "body", "error"), BAD_BODIES)
async def test_a_body_ingress_cannot_use_is_422_naming_the_field_and_starts_nothing(
    estate: Estate, system: str, body: bytes, error: str
) -> None:
    before = await runs_on_queue(estate)
    stamp = int(time.time())
    secret = HCM_SECRET if system == "hcm" else SECRET
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "Psflow-Signature": f"t={stamp},v1={digest}"}
    answer = await post(estate, system, {"content": body, "headers": headers})

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"].startswith(error), answer.json()
    assert await runs_on_queue(estate) == before


async def runs_on_queue(estate: Estate) -> set[str]:
    query = f"TaskQueue = '{estate.settings.temporal.task_queue}'"
    return {e.id async for e in estate.client.list_workflows(query)}


async def test_an_oversized_body_is_413_and_not_read_to_the_end(estate: Estate) -> None:
    huge = json.dumps(closed_won(SPARE_CLOSED_WON[4]) | {"padding": "x" * MAX_BODY_BYTES})
    declared = await post(estate, "crm", signed(json.loads(huge)))

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read up to the limit
        for _ in range(64):
            yield b" " * 4096

    async with httpx.AsyncClient(base_url=estate.ingress_url, timeout=30) as http:
        streamed = await http.post("/events/crm", content=chunks())

    for answer in (declared, streamed):
        assert answer.status_code == 413
        assert answer.json() == {"error": f"body: over {MAX_BODY_BYTES} bytes, which no event is"}
    assert await status_of(estate.client, f"opportunity-to-project/{SPARE_CLOSED_WON[4]}") is None


async def test_five_duplicate_deliveries_at_once_make_one_workflow(estate: Estate) -> None:
    event = closed_won(SPARE_CLOSED_WON[5])
    now = time.time()
    # Five redeliveries, each signed when sent (seconds apart), arriving together.
    answers = await asyncio.gather(
        *(post(estate, "crm", signed(event, at=now - i)) for i in range(5))
    )

    assert [a.status_code for a in answers] == [202] * 5
    assert {a.json()["run_id"] for a in answers} == {answers[0].json()["run_id"]}
    assert await runs_of(estate.client, answers[0].json()["workflow_id"]) == [
        answers[0].json()["run_id"]
    ]


async def test_a_redelivered_hcm_event_finds_the_same_run(estate: Estate) -> None:
    hcm = estate.sandbox.urls["hcm"]
    hire = await admin(hcm, "/__admin/events", {"kind": "hire", "worker_id": "30003"})
    path = f"/__admin/events/{hire['event_id']}"
    await delivered(hcm, path, lambda d: d["deliveries"] == 1)
    await admin(hcm, f"{path}/redeliver")
    again = await delivered(hcm, path, lambda d: d["deliveries"] == 2)

    assert again["delivery"]["last_status"] == 202
    assert len(await runs_of(estate.client, "hire-to-staff/30003")) == 1


async def runs_of(client: Client, workflow_id: str) -> list[str]:
    """Every run of the workflow id (visibility may lag a moment behind a start)."""
    deadline = time.monotonic() + 10
    while True:
        runs = [e.run_id async for e in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
        if runs or time.monotonic() > deadline:
            return runs
        await asyncio.sleep(0.2)


async def test_temporal_unreachable_is_503_and_the_same_request_may_come_again(
    settings: Settings,
) -> None:
    down = settings.model_copy(deep=True)
    down.temporal.address = f"127.0.0.1:{free_port()}"
    down.ingress.secret = SecretStr(SECRET)
    app = create_app(down)
    request = signed(closed_won(SPARE_CLOSED_WON[6]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as http:
        first = await http.post("/events/crm", **request)
        second = await http.post("/events/crm", **request)

    assert (first.status_code, second.status_code) == (503, 503)
    assert first.json()["error"].startswith("cannot reach Temporal at 127.0.0.1:")


def test_ingress_without_a_secret_refuses_to_start(config_file: Path) -> None:
    result = CliRunner().invoke(cli_app, ["ingress"], env=env_for(config_file))

    assert result.exit_code == 1
    assert "ingress has no secret for crm, hcm, psa" in result.output
    assert "PSFLOW_INGRESS_CRM_SECRET" in result.output
    only_two = env_for(config_file, PSFLOW_INGRESS_CRM_SECRET="a", PSFLOW_INGRESS_PSA_SECRET="b")
    result = CliRunner().invoke(cli_app, ["ingress"], env=only_two)
    assert result.exit_code == 1 and "ingress has no secret for hcm:" in result.output


async def test_one_systems_secret_cannot_sign_another_systems_event(estate: Estate) -> None:
    before = await runs_on_queue(estate)
    termination = WORKER_EVENT | {"event_id": "EVT-FORGED-1", "kind": "termination"}
    forged = await post(estate, "hcm", signed(termination))  # with the CRM's secret
    assert forged.status_code == 401
    assert forged.json()["error"] == "signature does not match the body: check the shared secret"
    assert await runs_on_queue(estate) == before


# ---- the local stack (`psflow dev`, `psflow demo`) serves ingress and delivers to it


async def test_a_deal_closed_won_on_the_local_stack_reaches_its_workflow_through_ingress(
    tmp_path: Path,
) -> None:
    config = write_settings(
        tmp_path, f"127.0.0.1:{free_port()}", ui_url=f"http://localhost:{free_port()}"
    )
    settings = load_settings(config)  # no [ingress] secret: the stack makes one for the run
    workflow_id = f"opportunity-to-project/{OPEN_DEAL}"
    async with local_stack(settings, persist=False) as stack:
        port = settings.ingress.port
        assert stack.settings.sandbox.event_webhook_url == f"http://127.0.0.1:{port}/events"
        crm = stack.settings.crm.url
        closed = await admin(crm, f"/__admin/opportunities/{OPEN_DEAL}/close-won")
        event = await delivered(crm, f"/__admin/webhooks/{closed['event']['event_id']}")
        assert event["delivery"]["last_status"] == 202, event
        # A person (or the demo) starting the same deal finds ingress's run, or that it ran.
        with contextlib.suppress(AlreadyRan):
            await start(stack.client, stack.settings, kind_named("opportunity-to-project"),
                        OPEN_DEAL, "sam")  # fmt: skip
        handle = stack.client.get_workflow_handle(
            workflow_id, result_type=OpportunityToProjectResult
        )
        result = await asyncio.wait_for(handle.result(), 120)

        assert result.psa_project_id
        assert len(await runs_of(stack.client, workflow_id)) == 1


def test_the_local_stack_keeps_a_configured_secret_and_receiver() -> None:
    settings = load_settings(None, env={})
    given = settings.model_copy(deep=True)
    given.ingress.secret = SecretStr(SECRET)
    given.ingress.secrets = {"hcm": SecretStr(HCM_SECRET)}
    given.sandbox.event_webhook_url = "https://hooks.example.com/events"
    made = [with_local_ingress(settings).ingress for _ in range(2)]

    wired = with_local_ingress(given).ingress
    assert [wired.secret_for(s) for s in ("crm", "hcm", "psa")] == [SECRET, HCM_SECRET, SECRET]
    assert with_local_ingress(given).sandbox.event_webhook_url == "https://hooks.example.com/events"
    secrets = [[m.secret_for(s) for s in ("crm", "hcm", "psa")] for m in made]
    assert all(s is not None and len(s) == 64 for run in secrets for s in run)
    assert len({s for run in secrets for s in run}) == 6  # one per system, new each run


def test_the_local_stack_refuses_a_taken_ingress_port_before_starting(tmp_path: Path) -> None:
    config = write_settings(
        tmp_path, f"127.0.0.1:{free_port()}", ui_url=f"http://localhost:{free_port()}"
    )
    settings = load_settings(config)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", settings.ingress.port))
        taken.listen()
        with pytest.raises(CliError) as refused:
            check_ports(settings)

    assert str(refused.value).startswith(f"port {settings.ingress.port} for event ingress is")
    assert "set [ingress] port" in str(refused.value)
