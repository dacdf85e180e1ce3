"""Stripe-style Idempotency-Key handling around every write."""

import hashlib
import json
import threading
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from sandbox.psa.errors import ApiError
from sandbox.records import RecordStore

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="replays the first response for a repeat of the same request",
    ),
]

Outcome = tuple[int, dict[str, Any]]
# A write answers its record, or (status, record) when the status depends on what it did.
Action = Callable[[], BaseModel | tuple[int, BaseModel]]


def _outcome(action: Action, status: int) -> Outcome:
    try:
        result = action()
    except ApiError as exc:
        return exc.status, exc.body()
    if isinstance(result, tuple):
        status, result = result
    return status, result.model_dump(mode="json")


def _fingerprint(request: Request, payload: BaseModel | None) -> str:
    body = payload.model_dump(mode="json") if payload is not None else None
    text = json.dumps([request.method, request.url.path, body], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class Idempotency:
    """Runs every write under one lock, once per Idempotency-Key."""

    def __init__(self, store: RecordStore, lock: threading.RLock) -> None:
        self.store = store
        self.lock = lock

    def respond(
        self,
        key: str | None,
        request: Request,
        payload: BaseModel | None,
        action: Action,
        status: int = 200,
    ) -> JSONResponse:
        """Run the write once per key and answer what it answered the first time."""
        with self.lock:
            if key is None:
                result, body = _outcome(action, status)
                return JSONResponse(body, result)
            fingerprint = _fingerprint(request, payload)
            seen = self.store.remembered(key)
            if seen is not None:
                return self._replay(key, fingerprint, seen)
            result, body = _outcome(action, status)
            # Rejected input is not remembered, so the key works again once corrected.
            if result != 422:
                self.store.remember(key, result, {"fingerprint": fingerprint, "body": body})
            return JSONResponse(body, result)

    def _replay(self, key: str, fingerprint: str, seen: tuple[int, Any]) -> JSONResponse:
        status, saved = seen
        if saved["fingerprint"] != fingerprint:
            raise ApiError(
                422,
                "idempotency_key_reused",
                f"Idempotency-Key {key} was used for a different request",
                ["Idempotency-Key"],
            )
        return JSONResponse(saved["body"], status, headers={"Idempotent-Replayed": "true"})
