"""/healthz and /readyz as a container platform probes them: live while serving, ready only
when Temporal and the store answer, and a 503 naming what does not."""

from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import create_engine
from temporalio.client import Client

from cli.codec_server import codec_app
from config import Settings
from inbox.app import create_app as inbox_app
from ingress.app import create_app as ingress_app
from security.codec import EncryptionCodec
from store.db import open_engine
from tests.support import free_port
from tests.test_fuzz_ingress import receiving


async def probe(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
        return await http.get(path)


async def test_the_codec_server_is_live_and_ready_without_a_token() -> None:
    app = codec_app(EncryptionCodec({"k": b"0" * 32}, "k"), "token", ["http://ui"])
    assert (await probe(app, "/healthz")).json() == {"status": "ok", "checks": {}}
    ready = await probe(app, "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"


async def test_the_inbox_is_ready_when_temporal_and_the_store_answer(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        ready = await probe(inbox_app(settings, engine, client), "/readyz")
    finally:
        engine.dispose()
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"temporal": "ok", "store": "ok"}}


async def test_the_inbox_is_live_but_not_ready_while_its_store_and_temporal_are_down(
    settings: Settings,
) -> None:
    down = settings.model_copy(deep=True)
    down.temporal.address = f"127.0.0.1:{free_port()}"
    engine = create_engine(f"postgresql+psycopg://psflow:x@127.0.0.1:{free_port()}/psflow")
    app = inbox_app(down, engine)
    try:
        live = await probe(app, "/healthz")
        ready = await probe(app, "/readyz")
    finally:
        engine.dispose()
    assert live.status_code == 200
    assert ready.status_code == 503
    answer = ready.json()
    assert answer["status"] == "unavailable"
    assert answer["checks"]["temporal"] != "ok" and answer["checks"]["store"] != "ok"


async def test_ingress_is_ready_when_temporal_and_its_store_answer_and_says_which_does_not(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    signed = receiving(settings)
    engine = open_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        ready = await probe(ingress_app(signed, client, engine=engine), "/readyz")
    finally:
        engine.dispose()
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"temporal": "ok", "store": "ok"}

    down = signed.model_copy(deep=True)
    down.temporal.address = f"127.0.0.1:{free_port()}"
    down.store_url = f"postgresql://psflow:x@127.0.0.1:{free_port()}/psflow"
    app = ingress_app(down)
    assert (await probe(app, "/healthz")).status_code == 200
    unready = await probe(app, "/readyz")
    assert unready.status_code == 503
    checks = unready.json()["checks"]
    assert "Temporal" in checks["temporal"] and "store" in checks["store"]
