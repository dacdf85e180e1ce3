"""Signing in to the inbox: a local account's password, or the firm's identity provider by
the authorization code flow with PKCE (security/oidc.py); signing out."""

import asyncio
import logging

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from application.errors import AppError
from application.identity import session_for
from inbox.pages import CROSS_SITE, Inbox, text
from inbox.web import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    SIGN_IN_TTL,
    clear_cookie,
    csrf_ok,
    local_path,
    same_origin,
    set_cookie,
)
from security import issuer
from security.oidc import (
    CodeRequest,
    OidcError,
    authorization_url,
    code_sign_in,
    discover,
    provider_keys,
    verify_id_token,
)
from security.proofs import ProofRefused

log = logging.getLogger("psflow.inbox")
SIGN_IN_AUDIENCE = "psflow-inbox-sign-in"
NO_PROVIDER = "No identity provider is configured: set [auth.oidc], or sign in with an account."


def _signed_in(response: Response, session: str) -> Response:
    set_cookie(response, SESSION_COOKIE, session, issuer.SESSION_TTL)
    clear_cookie(response, SIGN_IN_COOKIE)
    return response


def sign_in_routes(app: FastAPI, inbox: Inbox) -> None:
    oidc = inbox.settings.auth.oidc
    provider = httpx.URL(oidc.issuer).host if oidc else None
    callback = f"{inbox.settings.inbox.url}/signin/callback"

    @app.get("/signin")
    async def sign_in_page(next: str = "/") -> Response:
        return inbox.page("signin.html", next=local_path(next), user="", provider=provider)

    @app.post("/signin")
    async def sign_in(request: Request) -> Response:
        form = await request.form()
        user, password = str(form.get("user", "")).strip(), str(form.get("password", ""))
        target = local_path(str(form.get("next", "/")))
        if not same_origin(request, inbox.settings.inbox.url):
            return inbox.page("error.html", 403, heading="Refused", message=CROSS_SITE)
        try:
            session = await asyncio.to_thread(session_for, inbox.engine, user, password)
        except AppError:
            problem = "Wrong user name or password. Check both and try again."
            return inbox.page(
                "signin.html", 401, next=target, user=user, provider=provider, problem=problem
            )
        log.info("inbox: %s signed in", user)
        return _signed_in(RedirectResponse(target, 303), session)

    @app.get("/signin/provider")
    async def provider_sign_in(next: str = "/") -> Response:
        if oidc is None:
            return inbox.page("error.html", 404, heading="Not set up", message=NO_PROVIDER)
        try:
            async with httpx.AsyncClient(timeout=15) as http:
                metadata = await discover(http, oidc, grant="code")
        except OidcError as exc:
            return _sign_in_failed(inbox, str(exc))
        url, request = authorization_url(metadata, oidc, callback)
        state = request.model_dump() | {"next": local_path(next)}
        sealed = await asyncio.to_thread(
            issuer.seal, inbox.engine, SIGN_IN_AUDIENCE, state, SIGN_IN_TTL
        )
        response = RedirectResponse(url, 303)
        set_cookie(response, SIGN_IN_COOKIE, sealed, SIGN_IN_TTL)
        return response

    @app.get("/signin/callback")
    async def provider_callback(request: Request) -> Response:
        params = request.query_params
        sealed = request.cookies.get(SIGN_IN_COOKIE)
        if oidc is None or sealed is None:
            return _sign_in_failed(inbox, "this sign-in was not started here, or took too long")
        try:
            state = await asyncio.to_thread(issuer.unseal, inbox.engine, sealed, SIGN_IN_AUDIENCE)
        except ProofRefused:
            return _sign_in_failed(inbox, "this sign-in took too long or was altered")
        if params.get("state") != state.get("state"):
            return _sign_in_failed(inbox, "the provider answered another sign-in (state)")
        if "error" in params:
            reason = params.get("error_description") or params["error"]
            return _sign_in_failed(inbox, f"the identity provider said: {reason}")
        started = CodeRequest.model_validate(state)
        try:
            async with httpx.AsyncClient(timeout=15) as http:
                metadata = await discover(http, oidc, grant="code")
                token = await code_sign_in(
                    http, oidc, metadata, params.get("code", ""), started, callback
                )
                keys = await provider_keys(http, metadata)
            identity = verify_id_token(
                token, oidc, keys, audience=oidc.web_client, nonce=started.nonce
            )
        except OidcError as exc:
            return _sign_in_failed(inbox, str(exc))
        session = await asyncio.to_thread(issuer.issue_session, inbox.engine, identity)
        log.info("inbox: %s signed in through %s", identity.user, identity.issuer)
        return _signed_in(RedirectResponse(local_path(state.get("next")), 303), session)

    @app.post("/signout")
    async def sign_out(request: Request) -> Response:
        form = await request.form()
        visitor = await asyncio.to_thread(inbox.visitor, request)
        if visitor is not None and not csrf_ok(visitor.session, text(form, "csrf")):
            return inbox.page("error.html", 403, heading="Refused", message=CROSS_SITE)
        response = RedirectResponse("/signin", 303)
        clear_cookie(response, SESSION_COOKIE)
        return response


def _sign_in_failed(inbox: Inbox, why: str) -> HTMLResponse:
    """The reason, and the sign-in's state forgotten: the next attempt starts afresh."""
    response = inbox.page(
        "error.html",
        400,
        heading="Sign-in failed",
        message=f"Sign-in failed: {why}.",
        back="/signin",
        back_label="Sign in again",
    )
    clear_cookie(response, SIGN_IN_COOKIE)
    return response
