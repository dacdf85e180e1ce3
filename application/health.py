"""Liveness and readiness of psflow's HTTP servers, as container platforms probe them.

`GET /healthz` answers 200 while the process serves requests; `GET /readyz` answers 200 only
when every dependency the server needs answers (Temporal, the store), each asked with a short
timeout, and 503 naming the ones that do not. Both are open (no signature, no token) and say
nothing beyond up or down.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine, text
from temporalio.client import Client

CHECK_TIMEOUT = timedelta(seconds=2)
Check = Callable[[], Awaitable[None]]
OPEN: dict[str, Any] = {"security": []}


class Health(BaseModel):
    status: str
    """"ok", or "unavailable" when a dependency does not answer"""
    checks: dict[str, str] = {}
    """dependency -> "ok" or why it is not ready"""


def temporal_check(client: Callable[[], Awaitable[Client | None]]) -> Check:
    """Temporal's frontend answers its health check (`client` is asked each time: a server
    that started while Temporal was down connects later)."""

    async def check() -> None:
        connected = await client()
        if connected is None:
            raise ConnectionError("not connected")
        serving = await connected.service_client.check_health(timeout=CHECK_TIMEOUT)
        if not serving:
            raise ConnectionError("the workflow service is not serving")

    return check


def store_check(engine: Engine) -> Check:
    """The store answers a query."""

    def query() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    async def check() -> None:
        await asyncio.to_thread(query)

    return check


async def _outcome(check: Check) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT.total_seconds())
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT.total_seconds():g} s"
    except Exception as exc:  # any failure is "not ready", said in a word
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return "ok"


def add_health_routes(app: FastAPI, checks: dict[str, Check]) -> None:
    """/healthz and /readyz on `app`; ready when every check passes."""
    unready: dict[int | str, dict[str, Any]] = {
        503: {"model": Health, "description": "A dependency does not answer"}
    }

    @app.get("/healthz", response_model=Health, tags=["health"], openapi_extra=OPEN)
    async def healthz() -> Health:
        """The process is up and serving."""
        return Health(status="ok")

    @app.get(
        "/readyz", response_model=Health, responses=unready, tags=["health"], openapi_extra=OPEN
    )
    async def readyz() -> JSONResponse:
        """Ready for traffic: every dependency answers (each named in `checks`)."""
        names = list(checks)
        outcomes = await asyncio.gather(*(_outcome(checks[n]) for n in names))
        found = dict(zip(names, outcomes, strict=True))
        ready = all(o == "ok" for o in found.values())
        body = Health(status="ok" if ready else "unavailable", checks=found)
        return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
