"""Delivering worker events to a webhook: in the background, retried with backoff."""

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import httpx

from models.hcm import WorkerEvent

USER_AGENT = "northwind-hcm-sandbox/1.0"
TIMEOUT_SECONDS = 5.0

# event id, state (delivered / retrying / failed), HTTP status if any, error if any
DeliveryUpdate = Callable[[str, str, int | None, str | None], None]


class Deliverer:
    """POSTs each event as JSON to one URL; any answer but 2xx is retried, `attempts` times
    in all, waiting `backoff_seconds` and doubling."""

    def __init__(
        self,
        url: str | None,
        update: DeliveryUpdate,
        *,
        attempts: int = 5,
        backoff_seconds: float = 0.5,
    ) -> None:
        self.url = url
        self.update = update
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def send(self, event: WorkerEvent) -> None:
        """Start delivering in the background; returns at once. Call from the event loop."""
        if self.url is None:
            return
        self._loop = asyncio.get_running_loop()
        task = self._loop.create_task(self._deliver(self.url, event))
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

    async def _deliver(self, url: str, event: WorkerEvent) -> None:
        body = event.model_dump(mode="json")
        headers = {"User-Agent": USER_AGENT, "X-Event-Id": event.event_id}
        delay = self.backoff_seconds
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as http:
            for attempt in range(1, self.attempts + 1):
                status, error = await self._post(http, url, body, headers)
                if error is None:
                    self.update(event.event_id, "delivered", status, None)
                    return
                final = attempt == self.attempts
                self.update(event.event_id, "failed" if final else "retrying", status, error)
                if not final:
                    await asyncio.sleep(delay)
                    delay *= 2

    @staticmethod
    async def _post(
        http: httpx.AsyncClient, url: str, body: Any, headers: dict[str, str]
    ) -> tuple[int | None, str | None]:
        try:
            response = await http.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:300]
        if response.is_success:
            return response.status_code, None
        return response.status_code, (response.text or response.reason_phrase)[:300]
