"""Checking an event's signature, Stripe-style, and refusing a signature seen before.

Header: `Psflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
More than one `v1` may be given (a sender rolling its secret); one must match.
"""

import hashlib
import hmac

SIGNATURE_HEADER = "Psflow-Signature"


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


class ReplayGuard:
    """Signatures accepted within the tolerance window; a second use of one is a replay.

    In memory, per process: behind several ingress processes a replay may reach another one,
    where it starts nothing new anyway (every start is idempotent by business key).
    """

    def __init__(self, tolerance: int) -> None:
        self.tolerance = tolerance
        self._until: dict[str, float] = {}  # signature -> when it can be forgotten

    def claim(self, signature: str, timestamp_of: float, now: float) -> bool:
        """Take the signature for this request; False if it was taken already."""
        self._forget(now)
        if signature in self._until:
            return False
        # Past timestamp + tolerance, verify() refuses the signature by its age anyway.
        self._until[signature] = timestamp_of + self.tolerance
        return True

    def release(self, signature: str) -> None:
        """Give the signature back: the request was not accepted, the sender may repeat it."""
        self._until.pop(signature, None)

    def _forget(self, now: float) -> None:
        # Oldest first (insertion order, close to timestamp order): stop at the first live one.
        while self._until:
            signature = next(iter(self._until))
            if self._until[signature] >= now:
                break
            del self._until[signature]

    def __len__(self) -> int:
        return len(self._until)
