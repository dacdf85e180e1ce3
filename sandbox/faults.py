"""Faults on demand: make a route fail the next N calls, answer slowly, or be down a while;
or do the work and lose the answer (`after`).

Every sandbox app mounts the admin routes under /__admin and wraps itself in FaultMiddleware.
"""

import asyncio
import fnmatch
import json
import math
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ADMIN_PREFIX = "/__admin"

# status, message -> JSON body in the system's own error format
ErrorBody = Callable[[int, str], Any]


class FaultSpec(BaseModel):
    """One fault. `path` is a glob over the request path (e.g. `*/record/v1/job*`)."""

    path: str = Field(description="glob over the request path, e.g. */sobjects/Opportunity/*")
    method: str = Field("*", description="HTTP method, or * for any")
    body_contains: str | None = Field(
        None, description="only requests whose body holds this text (e.g. FROM transaction)"
    )
    status: int | None = Field(503, description="status to answer; null for latency only")
    count: int = Field(1, ge=1, description="how many matching calls fail")
    retry_after: float | None = Field(None, description="Retry-After seconds to send")
    latency_ms: int = Field(0, ge=0, description="delay before answering")
    down_for_seconds: float | None = Field(
        None, gt=0, description="fail every matching call for this long instead of `count` calls"
    )
    after: bool = Field(
        False,
        description="let the call through, then answer `status` instead of the system's answer "
        "(a write is done but its caller never hears of it, as behind a gateway timeout)",
    )


class Fault(FaultSpec):
    remaining: int = 0
    until: float | None = None
    hits: int = 0


class FaultBook:
    """The faults currently armed on one system."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, spec: FaultSpec) -> Fault:
        until = time.monotonic() + spec.down_for_seconds if spec.down_for_seconds else None
        fault = Fault(**spec.model_dump(), remaining=spec.count, until=until)
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def _routed(self, method: str, path: str) -> list[Fault]:
        now = time.monotonic()
        self.faults = [
            f for f in self.faults if (f.until is None and f.remaining > 0) or (f.until or 0) > now
        ]
        return [
            f
            for f in self.faults
            if f.method in ("*", method) and fnmatch.fnmatchcase(path, f.path)
        ]

    def wants_body(self, method: str, path: str) -> bool:
        """Whether a fault for this route matches on the request's body."""
        return any(f.body_contains is not None for f in self._routed(method, path))

    def take(self, method: str, path: str, body: str = "") -> Fault | None:
        """The first armed fault that matches, spending one of its calls."""
        for fault in self._routed(method, path):
            if fault.body_contains is not None and fault.body_contains not in body:
                continue
            if fault.until is None:
                fault.remaining -= 1
            fault.hits += 1
            return fault
        return None


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The request's body, and a receive that hands it to the app again."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body, replayed = b"".join(chunks), False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


async def _discard(message: Message) -> None:
    """Swallow the system's own answer (an `after` fault answers instead)."""


class FaultMiddleware:
    """Applies armed faults before the request reaches the app."""

    def __init__(self, app: ASGIApp, book: FaultBook, error_body: ErrorBody) -> None:
        self.app = app
        self.book = book
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        body = b""
        if self.book.wants_body(scope["method"], scope["path"]):
            body, receive = await _buffered(receive)
        fault = self.book.take(scope["method"], scope["path"], body.decode(errors="replace"))
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault.status is None:
            await self.app(scope, receive, send)
            return
        if fault.after:
            await self.app(scope, receive, _discard)
        body = json.dumps(self.error_body(fault.status, "injected fault")).encode()
        headers = [(b"content-type", b"application/json")]
        if fault.retry_after is not None:
            headers.append((b"retry-after", str(math.ceil(fault.retry_after)).encode()))
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def admin_router(book: FaultBook, reset: Callable[[], None]) -> APIRouter:
    """Routes to arm, list and clear faults, and to reset the system to its seed."""
    router = APIRouter(prefix=ADMIN_PREFIX, tags=["sandbox admin"])

    @router.post("/faults", status_code=201)
    def add_fault(spec: FaultSpec) -> Fault:
        return book.add(spec)

    @router.get("/faults")
    def list_faults() -> list[Fault]:
        return book.faults

    @router.delete("/faults", status_code=204)
    def clear_faults() -> None:
        book.clear()

    @router.post("/reset", status_code=204)
    def reset_data() -> None:
        book.clear()
        reset()

    @router.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return router
