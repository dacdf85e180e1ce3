"""Signing in through the firm's OpenID Connect provider (Okta, Entra ID, Keycloak...).

`psflow login` uses the device authorization grant (RFC 8628): it shows a link and a code,
the person signs in at the provider in a browser, and the CLI receives an ID token. The inbox
uses the authorization code flow with PKCE: the browser goes to the provider and comes back
with a code, which the inbox exchanges for an ID token. psflow
checks it against the provider's published keys (JWKS): signature, issuer, audience (the
client id), expiry; takes the user name from a claim and maps the provider's groups to
psflow roles. psflow's own issuer then signs the session the CLI keeps (security/issuer.py).
"""

import asyncio
import base64
import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from pydantic import BaseModel

from config import OidcSettings
from models.identity import Identity

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ALGORITHMS = ["RS256", "PS256", "ES256"]
LEEWAY_SECONDS = 30
SLOW_DOWN_SECONDS = 5


class OidcError(Exception):
    """Signing in through the provider failed; the message says why and what to do."""


async def _json(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Any:
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise OidcError(f"the identity provider did not answer at {url}: {exc}") from None
    try:
        return response.json()
    except ValueError:
        raise OidcError(f"{url} answered {response.status_code} without JSON") from None


async def discover(
    http: httpx.AsyncClient, settings: OidcSettings, grant: str = "device"
) -> dict[str, Any]:
    """The provider's metadata (/.well-known/openid-configuration), checked to be its own and
    to offer `grant` ("device" for the CLI, "code" for the inbox)."""
    url = f"{settings.issuer.rstrip('/')}/.well-known/openid-configuration"
    metadata = await _json(http, "GET", url)
    if not isinstance(metadata, dict) or metadata.get("issuer") != settings.issuer:
        found = metadata.get("issuer") if isinstance(metadata, dict) else None
        raise OidcError(f"{url} names issuer {found!r}, not {settings.issuer}: check [auth.oidc]")
    first = "device_authorization_endpoint" if grant == "device" else "authorization_endpoint"
    for needed in (first, "token_endpoint", "jwks_uri"):
        if needed not in metadata:
            flow = "the device grant" if grant == "device" else "the authorization code flow"
            raise OidcError(f"the identity provider has no {needed}: allow {flow} for the client")
    return metadata


async def device_sign_in(
    http: httpx.AsyncClient, settings: OidcSettings, show: Callable[[str, str], None]
) -> tuple[str, dict[str, Any]]:
    """Run the device grant; `show(link, code)` tells the person where to sign in. Returns
    the ID token and the provider's metadata."""
    metadata = await discover(http, settings)
    started = await _json(
        http,
        "POST",
        metadata["device_authorization_endpoint"],
        data={"client_id": settings.client_id, "scope": settings.scopes},
    )
    if "device_code" not in started:
        raise OidcError(f"the identity provider refused the sign-in: {_why(started)}")
    link = started.get("verification_uri_complete") or started["verification_uri"]
    show(str(link), str(started.get("user_code", "")))
    interval = float(started.get("interval", 5))
    deadline = asyncio.get_running_loop().time() + float(started.get("expires_in", 600))
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(interval)
        answer = await _json(
            http,
            "POST",
            metadata["token_endpoint"],
            data={
                "grant_type": DEVICE_GRANT,
                "device_code": started["device_code"],
                "client_id": settings.client_id,
            },
        )
        error = answer.get("error")
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += SLOW_DOWN_SECONDS
            continue
        if error:
            raise OidcError(f"sign-in not completed: {_why(answer)}")
        if "id_token" not in answer:
            raise OidcError("the identity provider sent no ID token: add the openid scope")
        return str(answer["id_token"]), metadata
    raise OidcError("the sign-in code expired before it was used: `psflow login` again")


class CodeRequest(BaseModel):
    """What the inbox keeps between sending a person to the provider and their return."""

    state: str
    nonce: str
    verifier: str
    """PKCE (RFC 7636): the provider gets its S256 hash now, the verifier with the code."""


def authorization_url(
    metadata: dict[str, Any], settings: OidcSettings, redirect_uri: str
) -> tuple[str, CodeRequest]:
    """Where to send the person's browser to sign in (authorization code flow with PKCE)."""
    request = CodeRequest(
        state=secrets.token_urlsafe(24),
        nonce=secrets.token_urlsafe(24),
        verifier=secrets.token_urlsafe(48),
    )
    digest = hashlib.sha256(request.verifier.encode()).digest()
    query = {
        "response_type": "code",
        "client_id": settings.web_client,
        "redirect_uri": redirect_uri,
        "scope": settings.scopes,
        "state": request.state,
        "nonce": request.nonce,
        "code_challenge": base64.urlsafe_b64encode(digest).rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    return f"{metadata['authorization_endpoint']}?{urlencode(query)}", request


async def code_sign_in(
    http: httpx.AsyncClient,
    settings: OidcSettings,
    metadata: dict[str, Any],
    code: str,
    request: CodeRequest,
    redirect_uri: str,
) -> str:
    """Exchange the code the provider sent back for an ID token."""
    secret = settings.web_client_secret
    auth = (settings.web_client, secret.get_secret_value()) if secret else None
    answer = await _json(
        http,
        "POST",
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": request.verifier,
            **({} if auth else {"client_id": settings.web_client}),
        },
        auth=auth,
    )
    if not isinstance(answer, dict) or answer.get("error"):
        raise OidcError(f"sign-in not completed: {_why(answer)}")
    if "id_token" not in answer:
        raise OidcError("the identity provider sent no ID token: add the openid scope")
    return str(answer["id_token"])


def _why(answer: Any) -> str:
    if not isinstance(answer, dict):
        return "no reason given"
    reasons = {
        "access_denied": "the sign-in was declined at the identity provider",
        "expired_token": "the sign-in code expired: `psflow login` again",
    }
    error = str(answer.get("error", "unknown"))
    return reasons.get(error) or str(answer.get("error_description") or error)


async def provider_keys(http: httpx.AsyncClient, metadata: dict[str, Any]) -> list[dict[str, Any]]:
    jwks = await _json(http, "GET", metadata["jwks_uri"])
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        raise OidcError(f"{metadata['jwks_uri']} holds no keys")
    return keys


def verify_id_token(
    token: str,
    settings: OidcSettings,
    keys: list[dict[str, Any]],
    now: datetime | None = None,
    *,
    audience: str | None = None,
    nonce: str | None = None,
) -> Identity:
    """Who the provider says signed in, or OidcError naming what does not hold. `audience`
    is the client the token was issued to (default the CLI's); `nonce`, when given, must be
    the one the sign-in asked for."""
    audience = audience or settings.client_id
    now = now or datetime.now(UTC)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise OidcError("the identity provider's token is not a signed token") from None
    if header.get("alg") not in ALGORITHMS:
        raise OidcError(
            f"the token is signed with {header.get('alg')!r}: psflow takes {ALGORITHMS}"
        )
    jwk = next((k for k in keys if k.get("kid") == header.get("kid")), None)
    if jwk is None:
        raise OidcError(f"the token's key {header.get('kid')!r} is not among the provider's keys")
    try:
        claims = jwt.decode(
            token,
            jwt.PyJWK(jwk, algorithm=header["alg"]).key,
            algorithms=[header["alg"]],
            audience=audience,
            issuer=settings.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "iss", "aud"], "verify_exp": False,
                     "verify_iat": False, "verify_nbf": False},
        )  # fmt: skip
    except jwt.InvalidAudienceError:
        raise OidcError(f"the token is not for client {audience}") from None
    except jwt.InvalidIssuerError:
        raise OidcError(f"the token is not from {settings.issuer}") from None
    except (jwt.InvalidTokenError, jwt.PyJWKError) as exc:
        raise OidcError(f"the identity provider's token does not check out: {exc}") from None
    if claims["exp"] + LEEWAY_SECONDS <= now.timestamp():
        raise OidcError("the identity provider's token has expired: `psflow login` again")
    if nonce is not None and claims.get("nonce") != nonce:
        raise OidcError("the token answers another sign-in (nonce): sign in again")
    user = claims.get(settings.user_claim)
    if not isinstance(user, str) or not user:
        raise OidcError(f"the token has no {settings.user_claim} claim: set [auth.oidc] user_claim")
    groups = claims.get(settings.groups_claim) or []
    roles = sorted({settings.group_roles[g] for g in groups if g in settings.group_roles})
    return Identity(user=user, subject=claims["sub"], issuer=claims["iss"], roles=roles or None)
