"""Seen signatures in psflow's store, on SQLite and PostgreSQL: a replay is refused by every
ingress process sharing the store, whichever took the first delivery."""

import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from config import Settings
from ingress.app import create_app
from models.opportunity_to_project import workflow_id
from store.db import open_engine
from store.signatures import claim_signature, release_signature, seen_signatures
from tests.test_ingress import SECRET, closed_won, signed
from tests.test_store import T0, at_once, engine, store_url

__all__ = ["engine", "store_url"]  # the store fixtures: SQLite and PostgreSQL
TOLERANCE = 300


def receiving(store_url: str, **temporal: str) -> Settings:
    settings = Settings(store_url=store_url)
    settings.ingress.secret = SecretStr(SECRET)
    settings.ingress.tolerance_seconds = TOLERANCE
    settings.temporal = settings.temporal.model_copy(update=temporal)
    return settings


@pytest.fixture
def processes(store_url: str) -> Iterator[tuple[Engine, Engine]]:
    """Two ingress processes' engines on one store."""
    engines = (open_engine(store_url), open_engine(store_url))
    try:
        yield engines
    finally:
        for opened in engines:
            opened.dispose()


async def post(app: FastAPI, system: str, request: dict[str, object]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as http:
        return await http.post(f"/events/{system}", **request)  # type: ignore[arg-type]


async def test_an_event_taken_by_one_ingress_is_a_replay_at_another(
    store_url: str, processes: tuple[Engine, Engine], temporal_env: WorkflowEnvironment
) -> None:
    settings = receiving(store_url, task_queue=f"psflow-replays-{uuid.uuid4()}")  # no worker
    first, second = (create_app(settings, temporal_env.client, engine=e) for e in processes)
    opportunity = f"006RP{uuid.uuid4().hex[:13].upper()}"
    request = signed(closed_won(opportunity))

    taken = await post(first, "crm", request)
    replayed = await post(second, "crm", request)

    try:
        assert taken.status_code == 202, taken.text
        assert taken.json()["workflow_id"] == workflow_id(opportunity)
        assert replayed.status_code == 409
        assert replayed.json() == {
            "error": "this signature was received before: sign each delivery afresh"
        }
        assert (await post(first, "crm", request)).status_code == 409  # and at the first too
    finally:
        await temporal_env.client.get_workflow_handle(workflow_id(opportunity)).terminate()


async def test_expired_signatures_are_deleted_as_new_ones_arrive(
    store_url: str, processes: tuple[Engine, Engine]
) -> None:
    now = [T0.timestamp()]
    settings = receiving(store_url)
    first, second = (create_app(settings, clock=lambda: now[0], engine=e) for e in processes)
    invalid = {"type": "not an event"}  # refused for good (422): the signature stays taken

    assert (await post(first, "crm", signed(invalid, at=now[0]))).status_code == 422
    assert (await post(second, "crm", signed(invalid, at=now[0] + 1))).status_code == 422
    assert seen_signatures(processes[0]) == 2
    now[0] += TOLERANCE + 2  # both are too old to be accepted: their rows can go
    assert (await post(second, "crm", signed(invalid, at=now[0]))).status_code == 422

    assert seen_signatures(processes[0]) == 1


def test_of_processes_claiming_one_signature_at_once_one_wins(engine: Engine) -> None:
    expires = T0 + timedelta(seconds=TOLERANCE)
    claims = at_once(8, lambda: claim_signature(engine, "v1-sig", T0, expires))
    assert sorted(claims) == [False] * 7 + [True]
    release_signature(engine, "v1-sig")  # the request was not taken: it may come again
    assert claim_signature(engine, "v1-sig", T0, expires)


async def test_a_store_out_of_reach_is_503_and_the_sender_tries_again() -> None:
    unreachable = receiving("postgresql://psflow:s3cret@127.0.0.1:1/psflow")
    answer = await post(create_app(unreachable), "crm", signed(closed_won("006A")))

    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert answer.json()["error"].startswith(
        "cannot record the signature in psflow's store: cannot open the store at store_url "
        '"postgresql://psflow:***@127.0.0.1:1/psflow"'
    )
    assert "s3cret" not in answer.text
