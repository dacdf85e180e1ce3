"""The HCM sandbox (Workday-style API, seed, worker events) and the HCM connector."""

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from typer.testing import CliRunner

from cli.main import app as cli_app
from config import Settings
from connectors.errors import NotFound, RateLimited, RequestRejected, SystemUnavailable
from connectors.hcm import HcmConnector
from models.hcm import Worker, WorkerEvent
from sandbox import catalog
from sandbox.hcm.app import create_app
from sandbox.hcm.seed import DEMO_WORKERS, SPARE_PREHIRES, build_workers
from sandbox.server import build_apps
from tests.support import free_port
from tests.vendor_keys import auth, hcm_app, settings_for

URL = "http://hcm.test"
TENANT = "acme"
CLIENT_ID = "psflow"
CLIENT_SECRET = "hcm-test-secret"
API = f"/ccx/api/v1/{TENANT}"


def make_connector(transport: httpx.AsyncBaseTransport, base_url: str = URL) -> HcmConnector:
    keys = settings_for(base_url, CLIENT_ID, CLIENT_SECRET, TENANT)
    return HcmConnector.build(base_url, auth(keys, "hcm"), transport=transport, tenant=TENANT)


def make_app(tmp_path: Path, webhook_url: str | None = None, **delivery: Any) -> FastAPI:
    return create_app(
        tmp_path / "hcm.db",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        tenant=TENANT,
        **hcm_app(settings_for(URL, CLIENT_ID, CLIENT_SECRET, TENANT)),
        webhook_url=webhook_url,
        **delivery,
    )


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return make_app(tmp_path)


@pytest.fixture
async def hcm(app: FastAPI) -> AsyncIterator[HcmConnector]:
    connector = make_connector(httpx.ASGITransport(app=app))
    yield connector
    await connector.aclose()


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A plain client (no token yet) for the admin routes and raw API answers."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=URL) as client:
        yield client


@pytest_asyncio.fixture(scope="module")
async def seeded(tmp_path_factory: pytest.TempPathFactory) -> list[Worker]:
    """The seed as the connector reads it (validated into canonical Workers)."""
    app = make_app(tmp_path_factory.mktemp("seeded"))
    connector = make_connector(httpx.ASGITransport(app=app))
    try:
        return await connector.all_workers()
    finally:
        await connector.aclose()


def by_id(workers: list[Worker]) -> dict[str, Worker]:
    return {w.id: w for w in workers}


def mock_hcm(answer: Callable[[httpx.Request], httpx.Response]) -> HcmConnector:
    """A connector whose token call succeeds and whose API calls get `answer`."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"/ccx/oauth2/{TENANT}/token":
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer"})
        return answer(request)

    return make_connector(httpx.MockTransport(handler))


async def token(http: httpx.AsyncClient) -> dict[str, str]:
    refresh = hcm_app(settings_for(URL, CLIENT_ID, CLIENT_SECRET, TENANT))["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": refresh}
    basic = (CLIENT_ID, CLIENT_SECRET)
    answer = await http.post(f"/ccx/oauth2/{TENANT}/token", data=form, auth=basic)
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


# ---- reading workers


async def test_list_workers_pages_by_limit_and_offset_with_the_total(hcm: HcmConnector) -> None:
    everyone, total = await hcm.list_workers(limit=100, offset=0)
    page, same_total = await hcm.list_workers(limit=10, offset=5)

    assert total == same_total >= 200
    assert [w.id for w in page] == [w.id for w in everyone[5:15]]
    last, _ = await hcm.list_workers(limit=100, offset=total - 3)
    assert len(last) == 3
    beyond, _ = await hcm.list_workers(limit=100, offset=total)
    assert beyond == []


async def test_default_page_is_20_and_more_than_100_is_refused(
    hcm: HcmConnector, http: httpx.AsyncClient
) -> None:
    answer = await http.get(f"{API}/workers", headers=await token(http))
    assert len(answer.json()["data"]) == 20

    with pytest.raises(RequestRejected) as caught:
        await hcm.list_workers(limit=101)
    assert caught.value.status == 400
    assert caught.value.fields == ["limit"]


async def test_all_workers_pages_through_every_worker(hcm: HcmConnector) -> None:
    workers = await hcm.all_workers()
    _, total = await hcm.list_workers(limit=1)

    assert len(workers) == total >= 200
    assert len({w.id for w in workers}) == len(workers)


async def test_get_worker_by_employee_id_and_by_wid_give_the_same_worker(
    hcm: HcmConnector,
) -> None:
    worker = await hcm.get_worker(DEMO_WORKERS["active_consultant_us"])

    assert len(worker.wid) == 32
    assert await hcm.get_worker(worker.wid) == worker
    assert await hcm.get_worker(f"Employee_ID={worker.id}") == worker


async def test_unknown_worker_is_not_found_with_workdays_message(hcm: HcmConnector) -> None:
    with pytest.raises(NotFound) as caught:
        await hcm.get_worker("99999")

    assert caught.value.status == 404
    assert caught.value.non_retryable
    assert "worker 99999 not found" in caught.value.message
    assert caught.value.fields == ["id"]


async def test_unknown_tenant_answers_404_in_workdays_error_body(
    http: httpx.AsyncClient,
) -> None:
    answer = await http.get("/ccx/api/v1/globex/workers", headers=await token(http))

    assert answer.status_code == 404
    assert answer.json() == {
        "error": "tenant globex not found",
        "errors": [{"error": "unknown tenant", "field": "tenant"}],
    }


async def test_worker_routes_need_a_bearer_token(http: httpx.AsyncClient) -> None:
    answer = await http.get(f"{API}/workers/20001")

    assert answer.status_code == 401
    assert "bearer token" in answer.json()["error"]


async def test_worker_json_is_workday_shaped(http: httpx.AsyncClient) -> None:
    worker = (await http.get(f"{API}/workers/20001", headers=await token(http))).json()

    assert worker["workerId"] == "20001"
    assert worker["descriptor"] == "Grace Holloway"
    assert worker["company"] == {"id": "US01", "descriptor": "Northwind Consulting Inc."}
    assert worker["costCenter"] == {"id": "CC-1100", "descriptor": "Consulting East"}
    assert worker["jobProfile"]["descriptor"] == worker["businessTitle"] == "Consultant"
    assert set(worker["manager"]) == {"id", "workerId", "descriptor"}
    assert worker["customFields"]["costRate"]["currency"] == "USD"
    assert worker["isActive"] is True and worker["terminationDate"] is None


# ---- the seed


def test_seed_is_deterministic() -> None:
    day = date(2026, 3, 2)
    assert build_workers(day) == build_workers(day)


def test_seed_has_200_workers_managers_prehires_and_every_broken_kind(
    seeded: list[Worker],
) -> None:
    today = date.today()
    prehires = [w for w in seeded if w.status == "pre-hire"]
    managers = {w.manager_id for w in seeded if w.manager_id}

    assert len(seeded) >= 200
    assert {w.legal_entity for w in seeded} == set(catalog.LEGAL_ENTITIES)
    assert 8 <= len(prehires) <= 15
    assert all(today < w.hire_date <= today + timedelta(days=60) for w in prehires)
    assert len(managers) >= 15 and managers <= {w.id for w in seeded}
    assert any(w.status == "terminated" and w.termination_date for w in seeded)
    assert any(w.cost_center is None for w in seeded)
    assert any(
        w.cost_center and catalog.COST_CENTERS[w.cost_center][0] != w.legal_entity for w in seeded
    )
    assert any(w.department not in catalog.DEPARTMENTS for w in seeded)
    assert any(w.manager_id is None and w.role != "Partner" for w in seeded)
    assert any(w.role is None for w in seeded)


def test_seeded_cost_rates_are_35_to_50_percent_of_the_bill_rate(seeded: list[Worker]) -> None:
    for worker in seeded:
        assert worker.legal_entity is not None and worker.cost_rate is not None
        currency = catalog.LEGAL_ENTITIES[worker.legal_entity][2]
        assert worker.currency == currency
        if worker.role is None:
            continue
        bill = catalog.RATE_CARDS[f"STD-{currency}-2026"][2][worker.role]
        assert bill * Decimal("0.35") <= worker.cost_rate <= bill * Decimal("0.50")
        assert 1 <= len(worker.skills) <= 4 and set(worker.skills) <= set(catalog.SKILLS)
        assert worker.location in catalog.LOCATIONS[worker.legal_entity]


def valid(worker: Worker) -> bool:
    """What hire-to-staff will require of a worker."""
    entity = worker.legal_entity
    return bool(
        entity in catalog.LEGAL_ENTITIES
        and worker.department in catalog.DEPARTMENTS
        and worker.cost_center
        and catalog.COST_CENTERS.get(worker.cost_center, ("",))[0] == entity
        and worker.manager_id
        and worker.role in catalog.ROLES
        and worker.cost_rate
    )


def test_demo_workers_have_the_properties_their_names_promise(seeded: list[Worker]) -> None:
    workers = by_id(seeded)
    demo = {name: workers[worker_id] for name, worker_id in DEMO_WORKERS.items()}

    def check(name: str, status: str, entity: str, role: str | None) -> Worker:
        worker = demo[name]
        assert (worker.status, worker.legal_entity, worker.role) == (status, entity, role), name
        return worker

    for name, entity, role in [
        ("prehire_consultant_us", "US01", "Consultant"),
        ("prehire_senior_us", "US01", "Senior Consultant"),
        ("prehire_analyst_uk", "UK01", "Analyst"),
    ]:
        assert valid(check(name, "pre-hire", entity, role)), name
    assert valid(check("active_consultant_us", "active", "US01", "Consultant"))
    assert demo["prehire_missing_cost_center"].cost_center is None
    assert valid(demo["prehire_missing_cost_center"].model_copy(update={"cost_center": "CC-1100"}))
    assert demo["prehire_bad_department"].department not in catalog.DEPARTMENTS
    foreign = demo["prehire_foreign_cost_center"]
    assert foreign.cost_center and catalog.COST_CENTERS[foreign.cost_center][0] != "US01"
    assert demo["prehire_no_manager"].manager_id is None
    assert demo["prehire_no_role"].role is None
    assert all(w.status == "pre-hire" for n, w in demo.items() if n.startswith("prehire"))


def test_spare_prehires_are_valid_prehires(seeded: list[Worker]) -> None:
    workers = by_id(seeded)
    assert len(SPARE_PREHIRES) >= 4
    assert not set(SPARE_PREHIRES) & set(DEMO_WORKERS.values())
    for worker_id in SPARE_PREHIRES:
        assert workers[worker_id].status == "pre-hire" and valid(workers[worker_id]), worker_id


# ---- events


async def post_event(http: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await http.post("/__admin/events", json=body)


async def test_events_change_the_worker_and_carry_increasing_sequences(
    hcm: HcmConnector, http: httpx.AsyncClient
) -> None:
    worker_id = DEMO_WORKERS["prehire_consultant_us"]
    hired = await post_event(http, kind="hire", worker_id=worker_id)
    moved = await post_event(
        http,
        kind="transfer",
        worker_id=worker_id,
        changes={"cost_center": "CC-1200", "cost_rate": "88.50"},
        effective_date="2027-01-04",
    )
    left = await post_event(http, kind="termination", worker_id=worker_id)

    assert (hired.status_code, moved.status_code, left.status_code) == (201, 201, 201)
    events = [WorkerEvent.model_validate(r.json()) for r in (hired, moved, left)]
    assert [e.sequence for e in events] == [1, 2, 3]
    assert [e.kind for e in events] == ["hire", "transfer", "termination"]
    assert all(e.event_id.startswith("EVT-") for e in events)
    assert events[1].changes == {"cost_center": "CC-1200", "cost_rate": "88.50"}
    assert events[1].effective_date == date(2027, 1, 4)
    worker = await hcm.get_worker(worker_id)
    assert (worker.cost_center, worker.cost_rate) == ("CC-1200", Decimal("88.50"))
    assert (worker.status, worker.termination_date) == ("terminated", events[2].effective_date)
    listed = (await http.get("/__admin/events", params={"worker_id": worker_id})).json()["data"]
    assert [e["event_id"] for e in listed] == [e.event_id for e in events]
    assert {e["delivery"]["state"] for e in listed} == {"not_configured"}


async def test_hire_makes_a_prehire_active_and_sequences_are_per_worker(
    hcm: HcmConnector, http: httpx.AsyncClient
) -> None:
    first, second = SPARE_PREHIRES[:2]
    assert (await hcm.get_worker(first)).status == "pre-hire"
    await post_event(http, kind="hire", worker_id=first)
    other = (await post_event(http, kind="hire", worker_id=second)).json()

    assert (await hcm.get_worker(first)).status == "active"
    assert other["sequence"] == 1


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"kind": "hire", "worker_id": "20001"}, 409, "is active, not a pre-hire"),
        ({"kind": "termination", "worker_id": "30001"}, 409, "is pre-hire, not active"),
        ({"kind": "transfer", "worker_id": "20001"}, 400, "a transfer needs changes"),
        ({"kind": "hire", "worker_id": "99999"}, 404, "worker 99999 not found"),
        (
            {"kind": "transfer", "worker_id": "20001", "changes": {"legal_entity": "UK01"}},
            400,
            "the currency becomes GBP: give cost_rate",
        ),
        (
            {"kind": "transfer", "worker_id": "20001", "changes": {"salary": "1"}},
            400,
            "salary cannot be changed",
        ),
    ],
)
async def test_impossible_events_are_refused_and_change_nothing(
    http: httpx.AsyncClient, body: dict[str, Any], status: int, text: str
) -> None:
    answer = await post_event(http, **body)

    assert answer.status_code == status
    assert text in answer.json()["error"]
    assert (await http.get("/__admin/events")).json()["data"] == []


async def test_transfer_to_another_entity_takes_its_currency(
    hcm: HcmConnector, http: httpx.AsyncClient
) -> None:
    changes = {"legal_entity": "UK01", "cost_center": "CC-2100", "cost_rate": "70"}
    event = (await post_event(http, kind="transfer", worker_id="20001", changes=changes)).json()

    assert event["changes"] == changes | {"currency": "GBP"}
    worker = await hcm.get_worker("20001")
    assert (worker.legal_entity, worker.currency, worker.cost_rate) == ("UK01", "GBP", 70)


async def test_reset_reseeds_workers_and_forgets_events(
    hcm: HcmConnector, http: httpx.AsyncClient
) -> None:
    await post_event(http, kind="hire", worker_id="30001")
    assert (await http.post("/__admin/reset")).status_code == 204

    assert (await hcm.get_worker("30001")).status == "pre-hire"
    assert (await http.get("/__admin/events")).json()["data"] == []


async def test_redeliver_without_a_webhook_is_refused(http: httpx.AsyncClient) -> None:
    event = (await post_event(http, kind="hire", worker_id="30001")).json()
    answer = await http.post(f"/__admin/events/{event['event_id']}/redeliver")

    assert answer.status_code == 409


# ---- webhook delivery over real HTTP


class Receiver:
    """A webhook endpoint that answers 503 to its first `failures` calls, then 200."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[dict[str, Any]] = []
        self.app = FastAPI()

        @self.app.post("/hooks/hcm")
        async def receive(request: Request) -> JSONResponse:
            self.calls.append(await request.json())
            if len(self.calls) <= self.failures:
                return JSONResponse({"error": "busy"}, 503)
            return JSONResponse({"ok": True})


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve the app over HTTP on a free port in a thread; yields its URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


async def event_when(
    http: httpx.AsyncClient, event_id: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Poll the admin route until the event's delivery satisfies `done`."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        event: dict[str, Any] = (await http.get(f"/__admin/events/{event_id}")).json()
        if done(event["delivery"]):
            return event
        assert asyncio.get_running_loop().time() < deadline, event
        await asyncio.sleep(0.05)


@contextmanager
def hcm_with_webhook(
    tmp_path: Path, receiver: Receiver, attempts: int = 5
) -> Iterator[httpx.AsyncClient]:
    with (
        serving(receiver.app) as hook,
        serving(
            make_app(
                tmp_path,
                f"{hook}/hooks/hcm",
                delivery_attempts=attempts,
                delivery_backoff_seconds=0.05,
            )
        ) as hcm_url,
    ):
        yield httpx.AsyncClient(base_url=hcm_url, timeout=5)


async def test_webhook_delivery_retries_a_503_until_accepted(tmp_path: Path) -> None:
    receiver = Receiver(failures=1)
    with hcm_with_webhook(tmp_path, receiver) as http:
        async with http:
            answer = await post_event(http, kind="hire", worker_id="30002")
            assert answer.status_code == 201
            assert answer.json()["delivery"]["state"] == "pending"
            event = await event_when(http, answer.json()["event_id"], lambda d: d["deliveries"])

    assert event["delivery"] | {"delivered_at": None} == {
        "state": "delivered",
        "attempts": 2,
        "deliveries": 1,
        "last_status": 200,
        "last_error": None,
        "delivered_at": None,
    }
    assert len(receiver.calls) == 2
    sent = WorkerEvent.model_validate(receiver.calls[-1])
    assert sent == WorkerEvent.model_validate(event)
    assert (sent.kind, sent.worker_id, sent.sequence) == ("hire", "30002", 1)


async def test_redeliver_sends_the_same_event_id_again(tmp_path: Path) -> None:
    receiver = Receiver(failures=0)
    with hcm_with_webhook(tmp_path, receiver) as http:
        async with http:
            event_id = (await post_event(http, kind="hire", worker_id="30003")).json()["event_id"]
            await event_when(http, event_id, lambda d: d["deliveries"] == 1)
            answer = await http.post(f"/__admin/events/{event_id}/redeliver")
            assert answer.status_code == 202
            await event_when(http, event_id, lambda d: d["deliveries"] == 2)

    assert [c["event_id"] for c in receiver.calls] == [event_id, event_id]
    assert receiver.calls[0] == receiver.calls[1]


async def test_delivery_gives_up_after_its_attempts(tmp_path: Path) -> None:
    receiver = Receiver(failures=100)
    with hcm_with_webhook(tmp_path, receiver, attempts=3) as http:
        async with http:
            event_id = (await post_event(http, kind="hire", worker_id="30001")).json()["event_id"]
            event = await event_when(http, event_id, lambda d: d["state"] == "failed")

    assert event["delivery"]["attempts"] == len(receiver.calls) == 3
    assert event["delivery"]["last_status"] == 503


EVENT_COMMAND = ["sandbox", "event"]
EFFECTIVE = ["--effective-date", "2027-02-01"]


def test_cli_sandbox_event_prints_the_event_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("PSFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    with serving(make_app(tmp_path)) as url:
        monkeypatch.setenv("PSFLOW_HCM_URL", url)
        runner = CliRunner()
        moved = runner.invoke(
            cli_app,
            [*EVENT_COMMAND, "transfer", "20001", "--set", "cost_center=CC-1300", *EFFECTIVE],
        )
        refused = runner.invoke(cli_app, [*EVENT_COMMAND, "hire", "20001"])

    assert moved.exit_code == 0, moved.output
    assert moved.stdout.startswith("EVT-000001  transfer of worker 20001 effective 2027-02-01")
    assert refused.exit_code == 1
    assert refused.stderr.strip().splitlines() == [
        f"error: sandbox HCM at {url} refused POST events: worker 20001 is active, not a pre-hire"
    ]


# ---- errors the connector classifies


async def test_503_is_system_unavailable_and_retryable(
    hcm: HcmConnector, http: httpx.AsyncClient
) -> None:
    fault = {"path": f"{API}/workers*", "status": 503, "retry_after": 3}
    assert (await http.post("/__admin/faults", json=fault)).status_code == 201

    with pytest.raises(SystemUnavailable) as caught:
        await hcm.get_worker("20001")

    assert not caught.value.non_retryable
    assert caught.value.next_retry_delay == timedelta(seconds=3)
    assert "injected fault" in caught.value.message
    assert (await hcm.get_worker("20001")).id == "20001"


async def test_429_is_rate_limited() -> None:
    hcm = mock_hcm(lambda _: httpx.Response(429, json={"error": "too many", "errors": []}))
    with pytest.raises(RateLimited):
        await hcm.list_workers()
    await hcm.aclose()


async def test_error_message_reads_workdays_errors_and_fields() -> None:
    body = {
        "error": "invalid request",
        "errors": [{"error": "limit too large", "field": "limit"}, {"error": "no field"}],
    }
    hcm = mock_hcm(lambda _: httpx.Response(400, json=body))
    with pytest.raises(RequestRejected) as caught:
        await hcm.list_workers()
    await hcm.aclose()

    assert "invalid request; limit too large; no field" in caught.value.message
    assert caught.value.fields == ["limit"]


async def test_error_message_falls_back_to_the_raw_text() -> None:
    hcm = mock_hcm(lambda _: httpx.Response(502, text="<html>Bad gateway</html>"))
    with pytest.raises(SystemUnavailable) as caught:
        await hcm.get_worker("20001")
    await hcm.aclose()

    assert "<html>Bad gateway</html>" in caught.value.message


async def test_connector_uses_the_tenant_in_token_and_api_urls() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer"})
        return httpx.Response(200, json={"total": 0, "data": []})

    hcm = make_connector(httpx.MockTransport(handler))
    assert await hcm.all_workers() == []
    await hcm.aclose()

    assert seen == [f"/ccx/oauth2/{TENANT}/token", f"{API}/workers"]


def test_sandbox_server_serves_the_hcm_on_its_port(tmp_path: Path) -> None:
    apps = build_apps(Settings(data_dir=tmp_path))

    assert set(apps) == {"crm", "erp", "psa", "hcm"}
    assert apps["hcm"][1] == 8704
    assert (tmp_path / "sandbox" / "hcm.db").exists()
