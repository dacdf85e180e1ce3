"""Checking an event's signature, Stripe-style, and refusing a signature seen before by any
ingress process sharing psflow's store.

Header: `Psflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
More than one `v1` may be given (a sender rolling its secret); one must match.
"""

import asyncio
import hashlib
import hmac
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from store.db import StoreError, open_engine
from store.signatures import claim_signature, release_signature

SIGNATURE_HEADER = "Psflow-Signature"
T = TypeVar("T")
log = logging.getLogger("psflow.ingress")


class SignatureRefused(Exception):
    """The request is not signed by someone holding the secret, or not recently."""


def expected_signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _parts(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureRefused(
            f"{SIGNATURE_HEADER} must read t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<body>'>"
        )
    return timestamp, signatures


def verify(
    header: str | None, body: bytes, secret: str, tolerance: int, now: float
) -> tuple[int, str]:
    """(timestamp, the matching signature); SignatureRefused says why there is none."""
    if not header:
        raise SignatureRefused(f"missing {SIGNATURE_HEADER} header: sign each request")
    timestamp, signatures = _parts(header)
    wanted = expected_signature(secret, timestamp, body)
    # compare_digest takes as long whatever the first differing character.
    matched = [s for s in signatures if hmac.compare_digest(wanted.encode(), s.encode())]
    if not matched:
        raise SignatureRefused("signature does not match the body: check the shared secret")
    age = now - timestamp
    if abs(age) > tolerance:
        raise SignatureRefused(
            f"signature timestamp is {abs(age):.0f}s {'old' if age > 0 else 'ahead'}, beyond "
            f"the {tolerance}s tolerance: sign each attempt when sending it"
        )
    return timestamp, matched[0]


class StoreUnreachable(Exception):
    """psflow's store cannot say whether a signature was seen: the sender should try later."""


class ReplayGuard:
    """Signatures accepted within the tolerance window; a second use of one is a replay.

    Recorded in psflow's store (store.signatures), so every ingress process sharing the store
    refuses a replay, whichever of them took the first delivery. The store is opened on first
    use when no engine is given; its calls run in a thread.
    """

    def __init__(self, tolerance: int, store_url: str, engine: Engine | None = None) -> None:
        self.tolerance = tolerance
        self._url = store_url
        self._engine = engine
        self._opening = threading.Lock()

    async def claim(self, signature: str, timestamp_of: float, now: float) -> bool:
        """Take the signature for this request; False if it was taken already."""
        seen = datetime.fromtimestamp(now, UTC)
        # Past timestamp + tolerance, verify() refuses the signature by its age anyway.
        expires = datetime.fromtimestamp(timestamp_of + self.tolerance, UTC)
        return await self._call(claim_signature, signature, seen, expires)

    async def release(self, signature: str) -> None:
        """Give the signature back: the request was not accepted, the sender may repeat it.

        A store out of reach keeps it: a sender signs each attempt afresh anyway."""
        try:
            await self._call(release_signature, signature)
        except StoreUnreachable as exc:
            log.warning("%s; a resend of the same signature is refused as a replay", exc)

    async def answers(self) -> None:
        """The store answers a query (raises StoreUnreachable otherwise): readiness."""
        await self._call(_ping)

    async def _call(self, action: Callable[..., T], *args: Any) -> T:
        def in_thread() -> T:
            return action(self._store(), *args)

        try:
            return await asyncio.to_thread(in_thread)
        except (StoreError, SQLAlchemyError) as exc:
            reason = str(exc).strip().splitlines()[0]
            raise StoreUnreachable(
                f"cannot record the signature in psflow's store: {reason}"
            ) from exc

    def _store(self) -> Engine:
        with self._opening:
            if self._engine is None:
                self._engine = open_engine(self._url)
            return self._engine


def _ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
