"""Who a person is: local accounts' sessions, the identity provider's sign-in, and the proof a
decision carries, issued from a session (security/issuer.py). For every front door."""

from collections.abc import Callable

import httpx
from sqlalchemy import Engine

from application.errors import AppError
from config import OidcSettings
from models.identity import Identity
from security import issuer
from security.oidc import OidcError, provider_keys, verify_id_token
from security.oidc import device_sign_in as oidc_sign_in
from security.proofs import ProofRefused
from store.accounts import Account, check_password, get_account


def session_for(engine: Engine, user: str, password: str) -> str:
    """A session for `user` if `password` is theirs, else an AppError."""
    account = check_password(engine, user, password)
    if account is None:
        raise AppError(
            f"wrong user name or password for {user}: `psflow users list` shows the accounts"
        )
    identity = Identity(
        user=account.name,
        subject=account.subject,
        issuer=issuer.LOCAL_ISSUER,
        roles=account.roles or None,
    )
    return issuer.issue_session(engine, identity)


async def provider_sign_in(oidc: OidcSettings, show: Callable[[str, str], None]) -> Identity:
    """The device grant at the identity provider (`show(link, code)` tells the person where
    to sign in), then its ID token checked."""
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            token, metadata = await oidc_sign_in(http, oidc, show)
            keys = await provider_keys(http, metadata)
        return verify_id_token(token, oidc, keys)
    except OidcError as exc:
        raise AppError(str(exc)) from None


def proof_from_session(
    engine: Engine, session: str, user: str, workflow_id: str, decision: str
) -> str:
    """A proof issued from `session` (which must be `user`'s and valid), or an AppError."""
    try:
        identity = issuer.verify_session(engine, session)
    except ProofRefused as exc:
        raise AppError(f"{user}: {exc}") from None
    if identity.user != user:
        raise AppError(f"the session is {identity.user}'s, not {user}'s: `psflow login {user}`")
    if identity.issuer == issuer.LOCAL_ISSUER:
        account = check_account(engine, identity)
        identity = identity.model_copy(update={"roles": account.roles or None})
    return issuer.issue_proof(engine, identity, workflow_id, decision)


def check_account(engine: Engine, identity: Identity) -> Account:
    """The account a session was issued to, still there (removing it ends its sessions)."""
    account = get_account(engine, identity.user)
    if account is None or account.subject != identity.subject:
        raise AppError(f"{identity.user} no longer has an account: ask for one")
    return account
