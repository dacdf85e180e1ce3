"""Decision proofs: short-lived signed tokens (JWT, ES256) naming who decides what on which run.

A proof is issued by psflow's issuer (security/issuer.py) to a person who proved who they
are (a local account's password, or the firm's identity provider), for one decision on one
workflow. Workflows check it in their update validators and signal handlers with `verify`,
which is pure: the keys come from the run's policy and the time from the workflow clock, so
history itself shows who decided, and no secret is in it.
"""

import json
from datetime import UTC, datetime
from typing import Any

import jwt
from jwt.exceptions import InvalidTokenError, PyJWKError

from models.identity import Identity, ProofKeys

ALGORITHM = "ES256"
AUDIENCE = "psflow"
DECISIONS = ("approve", "reject", "correct")
MAX_PROOF_CHARS = 4_000
"""Longer proofs are refused before any parsing: each one ends up in history."""
CLOCK_SKEW_SECONDS = 30
"""A proof issued this far in the future (the issuer's clock ahead of the workflow's) is fine."""


class ProofRefused(ValueError):
    """Why a proof is not taken; `unknown_key` when it is signed by a key the run lacks."""

    def __init__(self, reason: str, *, unknown_key: bool = False) -> None:
        super().__init__(reason)
        self.unknown_key = unknown_key


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except InvalidTokenError:
        raise ProofRefused("the proof is not a signed token: get one with `psflow login`") from None


def _claims(token: str, keys: ProofKeys) -> dict[str, Any]:
    """The token's claims once its signature checks out against one of `keys`."""
    if len(token) > MAX_PROOF_CHARS:
        raise ProofRefused(f"the proof is longer than {MAX_PROOF_CHARS} characters")
    header = _header(token)
    if header.get("alg") != ALGORITHM:
        raise ProofRefused(f"the proof is signed with {header.get('alg')!r}, not {ALGORITHM}")
    kid = header.get("kid")
    jwk = next((k for k in keys.keys if k.get("kid") == kid), None)
    if jwk is None:
        raise ProofRefused(
            f"the proof is signed with key {str(kid)[:40]!r}, which this run does not know "
            "yet: it reloads the issuer's keys; send the decision again",
            unknown_key=True,
        )
    try:
        key = jwt.PyJWK(jwk, algorithm=ALGORITHM)
        # Signature only: the SDK's claim checks read the system clock, which a workflow may not.
        payload = jwt.api_jws.PyJWS().decode(token, key.key, algorithms=[ALGORITHM])
        claims = json.loads(payload)
    except (InvalidTokenError, PyJWKError, ValueError):
        raise ProofRefused(
            "the proof's signature does not match: it was not issued by psflow"
        ) from None
    if not isinstance(claims, dict):
        raise ProofRefused("the proof carries no claims")
    return claims


def verify(
    token: str | None, keys: ProofKeys | None, *, workflow_id: str, decision: str, now: datetime
) -> Identity:
    """The identity `token` proves for `decision` on `workflow_id` at `now`, or ProofRefused."""
    if not token:
        raise ProofRefused(
            f"{decision} needs a proof of who you are: `psflow login`, then `psflow {decision}` "
            f"(the plain temporal CLI: `psflow token --for {decision} {workflow_id}`)"
        )
    if keys is None:
        raise ProofRefused("this run has no issuer keys yet: send the decision again")
    claims = _claims(token, keys)
    if claims.get("iss") != keys.issuer:
        raise ProofRefused(f"the proof is from issuer {claims.get('iss')!r}, not {keys.issuer}")
    audience = claims.get("aud")
    if audience != AUDIENCE and not (isinstance(audience, list) and AUDIENCE in audience):
        raise ProofRefused(f"the proof is not meant for psflow (audience {audience!r})")
    seconds = now.astimezone(UTC).timestamp()
    expires, issued = claims.get("exp"), claims.get("iat")
    if not isinstance(expires, int | float) or not isinstance(issued, int | float):
        raise ProofRefused("the proof has no expiry or issue time")
    if expires <= seconds:
        ago = int(seconds - expires)
        raise ProofRefused(f"the proof expired {ago} s ago: get a new one (`psflow login`)")
    if issued > seconds + CLOCK_SKEW_SECONDS:
        raise ProofRefused("the proof is issued in the future: check the issuer's clock")
    if claims.get("psflow_workflow") != workflow_id:
        raise ProofRefused(
            f"the proof is for workflow {str(claims.get('psflow_workflow'))[:80]!r}, "
            f"not {workflow_id}"
        )
    if claims.get("psflow_decision") != decision:
        raise ProofRefused(
            f"the proof is for {str(claims.get('psflow_decision'))[:20]!r}, not {decision}"
        )
    user, subject, proof_id = claims.get("name"), claims.get("sub"), claims.get("jti")
    if not (isinstance(user, str) and user and isinstance(subject, str) and subject):
        raise ProofRefused("the proof names no user")
    if not isinstance(proof_id, str) or not proof_id:
        raise ProofRefused("the proof has no id (jti)")
    roles = claims.get("roles")
    if roles is not None and not (
        isinstance(roles, list) and all(isinstance(r, str) for r in roles)
    ):
        raise ProofRefused("the proof's roles are not a list of names")
    return Identity(
        user=user,
        subject=subject,
        issuer=str(claims.get("idp_iss") or claims["iss"]),
        roles=roles,
        proof_id=proof_id,
    )


def expires_at(token: str) -> datetime | None:
    """When a token says it expires (unverified: for showing a cached login only)."""
    try:
        expires = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except InvalidTokenError:
        return None
    return datetime.fromtimestamp(expires, UTC) if isinstance(expires, int | float) else None


def proof_claims(token: str | None) -> Identity | None:
    """The identity a proof names, without checking it (it was checked when it was taken):
    for the update handler and the audit, which replay must see the same way."""
    if not token:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except InvalidTokenError:
        return None
    return Identity(
        user=str(claims.get("name", "")),
        subject=str(claims.get("sub", "")),
        issuer=str(claims.get("idp_iss") or claims.get("iss", "")),
        roles=claims.get("roles"),
        proof_id=str(claims.get("jti", "")),
    )
