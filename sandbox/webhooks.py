"""Event delivery the sandbox systems share: signed POSTs to a webhook, retried with backoff.

Each attempt is signed afresh, Stripe-style: header
`Psflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, so a
retry carries a new timestamp and a receiver can refuse a replayed signature.
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio.from_thread
import httpx
from fastapi import APIRouter, HTTPException

from sandbox.faults import ADMIN_PREFIX
from sandbox.records import RecordStore

SIGNATURE_HEADER = "Psflow-Signature"
# Longer than ingress gives Temporal (15 s), so a slow start is answered, not abandoned.
TIMEOUT_SECONDS = 30.0

# event id, state (delivered / retrying / failed), HTTP status if any, error if any
DeliveryUpdate = Callable[[str, str, int | None, str | None], None]


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value for one attempt."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def body_of(event: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed) for an event."""
    return json.dumps(event, separators=(",", ":"), default=str).encode()


class Deliverer:
    """POSTs each event as JSON to one URL; any answer but 2xx is retried, `attempts` times
    in all, waiting `backoff_seconds` and doubling. Signed when a secret is set."""

    def __init__(
        self,
        url: str | None,
        update: DeliveryUpdate,
        *,
        secret: str | None = None,
        user_agent: str = "psflow-sandbox/1.0",
        attempts: int = 5,
        backoff_seconds: float = 0.5,
    ) -> None:
        self.url = url
        self.update = update
        self.secret = secret
        self.user_agent = user_agent
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def send(self, event_id: str, event: dict[str, Any]) -> None:
        """Start delivering in the background; returns at once. Call from the event loop or
        from a route's worker thread (sync routes run in one)."""
        if self.url is None:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            anyio.from_thread.run_sync(self._schedule, self.url, event_id, event)
        else:
            self._schedule(self.url, event_id, event)

    def _schedule(self, url: str, event_id: str, event: dict[str, Any]) -> None:
        self._loop = asyncio.get_running_loop()
        task = self._loop.create_task(self._deliver(url, event_id, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_all(self) -> None:
        """Stop every delivery in flight (safe from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        for task in list(self._tasks):
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)

    async def wait_idle(self) -> None:
        """Wait until no delivery is in flight."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _headers(self, event_id: str, body: bytes) -> dict[str, str]:
        headers = {
            "User-Agent": self.user_agent,
            "Content-Type": "application/json",
            "X-Event-Id": event_id,
        }
        if self.secret:
            headers[SIGNATURE_HEADER] = signature(self.secret, body, int(time.time()))
        return headers

    async def _deliver(self, url: str, event_id: str, event: dict[str, Any]) -> None:
        body = body_of(event)
        delay = self.backoff_seconds
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as http:
            for attempt in range(1, self.attempts + 1):
                status, error = await _post(http, url, body, self._headers(event_id, body))
                if error is None:
                    self.update(event_id, "delivered", status, None)
                    return
                final = attempt == self.attempts
                self.update(event_id, "failed" if final else "retrying", status, error)
                if not final:
                    await asyncio.sleep(delay)
                    delay *= 2


async def _post(
    http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int | None, str | None]:
    try:
        response = await http.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300]
    if response.is_success:
        return response.status_code, None
    return response.status_code, (response.text or response.reason_phrase)[:300]


def note_attempt(
    store: RecordStore,
    table: str,
    event_id: str,
    state: str,
    status: int | None,
    error: str | None,
) -> None:
    """Record one delivery attempt's outcome on the event's `delivery` (caller holds the lock)."""
    record = store.get(table, event_id)
    if record is None:
        return
    delivery = dict(record["delivery"])
    delivery |= {"state": state, "last_status": status, "last_error": error}
    delivery["attempts"] = int(delivery.get("attempts", 0)) + 1
    if state == "delivered":
        delivery["deliveries"] = int(delivery.get("deliveries", 0)) + 1
        delivery["delivered_at"] = datetime.now(UTC).isoformat()
    store.update(table, event_id, {"delivery": delivery})


OUTBOX = "webhook_event"


class Outbox:
    """Events a system announces, kept with their delivery state and delivered as they are
    recorded (the CRM's and PSA's; the HCM keeps its own worker events)."""

    def __init__(
        self,
        store: RecordStore,
        prefix: str,
        url: str | None,
        *,
        secret: str | None = None,
        attempts: int = 5,
        backoff_seconds: float = 0.5,
    ) -> None:
        self.store = store
        self.prefix = prefix
        self.lock = threading.RLock()
        self.deliverer = Deliverer(
            url,
            self.delivered,
            secret=secret,
            user_agent=f"{prefix.lower()}-sandbox/1.0",
            attempts=attempts,
            backoff_seconds=backoff_seconds,
        )

    def emit(self, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        """Record an event of `event_type` and start delivering it; returns the record."""
        with self.lock:
            number = self.store.next_number(OUTBOX, start=0)
            event = {
                "event_id": f"{self.prefix}-EVT-{number:06d}",
                "type": event_type,
                "occurred_at": datetime.now(UTC).isoformat(),
                **data,
            }
            state = "pending" if self.deliverer.url else "not_configured"
            record = event | {"delivery": {"state": state, "attempts": 0, "deliveries": 0}}
            self.store.insert(OUTBOX, event["event_id"], record)
        self.deliverer.send(event["event_id"], event)
        return record

    def get(self, event_id: str) -> dict[str, Any]:
        record = self.store.get(OUTBOX, event_id)
        if record is None:
            raise HTTPException(404, f"event {event_id} not found")
        return record

    def redeliver(self, event_id: str) -> dict[str, Any]:
        """Send a recorded event again, as a duplicate notification would."""
        if self.deliverer.url is None:
            raise HTTPException(409, "no webhook is configured: events are only recorded")
        record = self.get(event_id)
        self.deliverer.send(event_id, {k: v for k, v in record.items() if k != "delivery"})
        return record

    def delivered(self, event_id: str, state: str, status: int | None, error: str | None) -> None:
        """Note one delivery attempt's outcome (the Deliverer's callback)."""
        with self.lock:
            note_attempt(self.store, OUTBOX, event_id, state, status, error)

    def router(self) -> APIRouter:
        """Admin routes: the events announced, with their delivery state, and redelivery."""
        router = APIRouter(prefix=f"{ADMIN_PREFIX}/webhooks", tags=["sandbox admin"])

        @router.get("")
        def list_events(type: str | None = None) -> dict[str, list[dict[str, Any]]]:
            """Events announced, oldest first, with their delivery state."""
            records = self.store.all(OUTBOX)
            return {"data": [r for r in records if type is None or r["type"] == type]}

        @router.get("/{event_id}")
        def get_event(event_id: str) -> dict[str, Any]:
            """One event with its delivery state."""
            return self.get(event_id)

        @router.post("/{event_id}/redeliver", status_code=202)
        async def redeliver_event(event_id: str) -> dict[str, Any]:
            """Send an event to the webhook again, with the same event id and body."""
            return self.redeliver(event_id)

        return router
