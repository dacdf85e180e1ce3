"""psflow's own issuer: sign-in sessions and decision proofs, signed with keys in the store.

A session says a person proved who they are (a local account's password, or a token from the
firm's identity provider); it is what `psflow login` caches. A proof is issued from a
session for one decision on one workflow and lives minutes (security/proofs.py checks it).
Keys are EC P-256 (ES256); `rotate` adds a new one, and the old one is still published for
`RETIRED_KEPT`, so proofs and sessions it signed stay valid until they expire.
"""

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from models.identity import Identity, ProofKeys
from security.proofs import ALGORITHM, AUDIENCE, DECISIONS, ProofRefused
from store.db import IssuerKeyRecord

LOCAL_ISSUER = "urn:psflow:local"
SESSION_AUDIENCE = "psflow-session"
SESSION_TTL = timedelta(hours=8)
PROOF_TTL = timedelta(minutes=5)
RETIRED_KEPT = SESSION_TTL
"""A retired key is published this long: every session it signed has expired by then."""


def _new_key(session: Session, now: datetime) -> IssuerKeyRecord:
    private = ec.generate_private_key(ec.SECP256R1())
    kid = f"psflow-{now:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
    public: dict[str, Any] = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    public |= {"kid": kid, "alg": ALGORITHM, "use": "sig"}
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    record = IssuerKeyRecord(kid=kid, private_pem=pem, public_jwk=public, created_at=now)
    session.add(record)
    return record


def _signing(engine: Engine, now: datetime) -> IssuerKeyRecord:
    """The newest key not retired; the first one is made on first use."""
    with Session(engine) as session:
        query = select(IssuerKeyRecord).where(col(IssuerKeyRecord.retired_at).is_(None))
        record = session.exec(query.order_by(col(IssuerKeyRecord.created_at).desc())).first()
        if record is None:
            record = _new_key(session, now)
            session.commit()
            session.refresh(record)
        return record


def rotate(engine: Engine, now: datetime | None = None) -> str:
    """Sign with a new key from now on; the keys before it are retired. Returns its key id."""
    now = now or datetime.now(UTC)
    with Session(engine) as session:
        for old in session.exec(
            select(IssuerKeyRecord).where(col(IssuerKeyRecord.retired_at).is_(None))
        ):
            old.retired_at = now
            session.add(old)
        record = _new_key(session, now)
        session.commit()
        return record.kid


def public_keys(engine: Engine, now: datetime | None = None) -> ProofKeys:
    """The issuer's published keys (a JWKS's `keys`): current, and recently retired."""
    now = now or datetime.now(UTC)
    _signing(engine, now)
    since = now - RETIRED_KEPT
    with Session(engine) as session:
        records = session.exec(
            select(IssuerKeyRecord)
            .where(
                col(IssuerKeyRecord.retired_at).is_(None)
                | (col(IssuerKeyRecord.retired_at) > since)
            )
            .order_by(col(IssuerKeyRecord.created_at))
        )
        return ProofKeys(issuer=LOCAL_ISSUER, keys=[dict(r.public_jwk) for r in records])


def _sign(engine: Engine, claims: dict[str, Any], now: datetime) -> str:
    record = _signing(engine, now)
    key = serialization.load_pem_private_key(record.private_pem.encode(), password=None)
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": record.kid})  # type: ignore[arg-type]


def _base_claims(
    identity: Identity, audience: str, now: datetime, ttl: timedelta
) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": LOCAL_ISSUER,
        "sub": identity.subject,
        "aud": audience,
        "name": identity.user,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": secrets.token_urlsafe(16),
    }
    if identity.roles is not None:
        claims["roles"] = sorted(identity.roles)
    if identity.issuer != LOCAL_ISSUER:
        claims["idp_iss"] = identity.issuer
    return claims


def issue_session(engine: Engine, identity: Identity, now: datetime | None = None) -> str:
    """A sign-in session for `identity` (who proved who they are), valid SESSION_TTL."""
    now = now or datetime.now(UTC)
    return _sign(engine, _base_claims(identity, SESSION_AUDIENCE, now, SESSION_TTL), now)


def _decode(engine: Engine, token: str, audience: str, now: datetime) -> dict[str, Any]:
    """A token this issuer signed for `audience`, not expired, or ProofRefused."""
    keys = public_keys(engine, now)
    try:
        signer = next(
            k for k in keys.keys if k.get("kid") == jwt.get_unverified_header(token).get("kid")
        )
        claims: dict[str, Any] = jwt.decode(
            token,
            jwt.PyJWK(signer, algorithm=ALGORITHM).key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=LOCAL_ISSUER,
            # Times are checked below against `now`, not the system clock.
            options={"require": ["exp", "iat", "jti"], "verify_exp": False,
                     "verify_iat": False, "verify_nbf": False},
        )  # fmt: skip
    except (jwt.InvalidTokenError, StopIteration):
        raise ProofRefused("your sign-in is not valid here: `psflow login` again") from None
    if claims["exp"] <= now.timestamp():
        raise ProofRefused("your sign-in has expired: `psflow login` again")
    return claims


def verify_session(engine: Engine, token: str, now: datetime | None = None) -> Identity:
    """Who a session names, or ProofRefused (forged, expired, not a session)."""
    claims = _decode(engine, token, SESSION_AUDIENCE, now or datetime.now(UTC))
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("name"), str):
        raise ProofRefused("your sign-in is not valid here: `psflow login` again")
    return Identity(
        user=claims["name"],
        subject=claims["sub"],
        issuer=claims.get("idp_iss", LOCAL_ISSUER),
        roles=claims.get("roles"),
    )


def seal(engine: Engine, audience: str, data: dict[str, str], ttl: timedelta) -> str:
    """`data` signed for `audience`, valid `ttl`: state a browser carries between two
    requests (a sign-in on its way through the identity provider), which it cannot alter."""
    now = datetime.now(UTC)
    claims = {
        "iss": LOCAL_ISSUER, "aud": audience, "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()), "jti": secrets.token_urlsafe(8), "data": data,
    }  # fmt: skip
    return _sign(engine, claims, now)


def unseal(engine: Engine, token: str, audience: str) -> dict[str, str]:
    """What `seal` signed for `audience`, or ProofRefused (altered, expired, another's)."""
    data = _decode(engine, token, audience, datetime.now(UTC)).get("data")
    if not isinstance(data, dict):
        raise ProofRefused("the sign-in state is not valid: sign in again")
    return {str(k): str(v) for k, v in data.items()}


def issue_proof(
    engine: Engine,
    identity: Identity,
    workflow_id: str,
    decision: str,
    now: datetime | None = None,
) -> str:
    """A proof that `identity` sends `decision` to `workflow_id`, valid PROOF_TTL."""
    if decision not in DECISIONS:
        raise ValueError(f"no decision {decision!r}: use one of {', '.join(DECISIONS)}")
    now = now or datetime.now(UTC)
    claims = _base_claims(identity, AUDIENCE, now, PROOF_TTL)
    claims |= {"psflow_workflow": workflow_id, "psflow_decision": decision}
    return _sign(engine, claims, now)
