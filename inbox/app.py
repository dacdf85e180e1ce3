"""The inbox's routes: sign-in (local accounts, or the identity provider's authorization code
flow), the list of what waits for me, a run's decision page, the decision, and the run followed
live. Everything it knows of runs comes from the application layer."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import escape
from sqlalchemy import Engine
from temporalio.client import Client

from application import runs
from application.errors import AppError
from application.identity import check_account, proof_from_session, session_for
from application.listing import decides, roles_of, waiting_for
from application.temporal import connect, fetch_brief, status_of
from config import Settings
from inbox.web import (
    HEADERS,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    SIGN_IN_TTL,
    Visitor,
    clear_cookie,
    csrf_ok,
    csrf_token,
    local_path,
    same_origin,
    set_cookie,
)
from models.people import Approval, Correction, Rejection
from models.status import WorkflowStatus, current_step
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
HERE = Path(__file__).parent
SIGN_IN_AUDIENCE = "psflow-inbox-sign-in"
FOLLOW_EVERY = 1.0
FOLLOW_FOR = 15 * 60.0
DECISIONS = ("approve", "reject", "correct")


def when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class Inbox:
    """What the routes share: settings, the store, and a Temporal client made on first use
    (so the inbox comes up, and signs people in, while Temporal is down)."""

    def __init__(self, settings: Settings, engine: Engine, client: Client | None) -> None:
        self.settings = settings
        self.engine = engine
        self._client = client
        self._connecting = asyncio.Lock()
        self.pages = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
        )
        self.pages.globals["when"] = when

    async def client(self) -> Client:
        async with self._connecting:
            if self._client is None:
                self._client = await connect(self.settings)
            return self._client

    def page(self, name: str, code: int = 200, /, **values: Any) -> HTMLResponse:
        html = self.pages.get_template(name).render(**values)
        return HTMLResponse(html, status_code=code, headers=HEADERS)

    def visitor(self, request: Request) -> Visitor | None:
        """The signed-in person, or None (no session, expired, or the account is gone)."""
        session = request.cookies.get(SESSION_COOKIE)
        if not session:
            return None
        try:
            identity = issuer.verify_session(self.engine, session)
            if identity.issuer == issuer.LOCAL_ISSUER:
                account = check_account(self.engine, identity)
                identity = identity.model_copy(update={"roles": account.roles or None})
        except (ProofRefused, AppError):
            return None
        roles = frozenset(roles_of(identity, self.settings))
        return Visitor(identity.user, roles, session, csrf_token(session))


def create_app(settings: Settings, engine: Engine, client: Client | None = None) -> FastAPI:
    inbox = Inbox(settings, engine, client)
    app = FastAPI(title="psflow inbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _sign_in_routes(app, inbox)
    _run_routes(app, inbox)
    return app


def _to_sign_in(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?{urlencode({'next': target})}", 303)


def _signed_in(response: Response, session: str) -> Response:
    set_cookie(response, SESSION_COOKIE, session, issuer.SESSION_TTL)
    clear_cookie(response, SIGN_IN_COOKIE)
    return response


def _sign_in_routes(app: FastAPI, inbox: Inbox) -> None:
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
        if visitor is not None and not csrf_ok(visitor.session, _text(form, "csrf")):
            return inbox.page("error.html", 403, heading="Refused", message=CROSS_SITE)
        response = RedirectResponse("/signin", 303)
        clear_cookie(response, SESSION_COOKIE)
        return response


CROSS_SITE = (
    "This form did not come from the inbox's own page (or the page is too old). "
    "Open the page again and send it from there."
)
NO_PROVIDER = "No identity provider is configured: set [auth.oidc], or sign in with an account."


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


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


Handler = Callable[[Request, Visitor], Awaitable[Response]]


def _run_routes(app: FastAPI, inbox: Inbox) -> None:
    def signed_in(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def route(request: Request) -> Response:
            visitor = await asyncio.to_thread(inbox.visitor, request)
            if visitor is None:
                return _to_sign_in(request)
            try:
                return await handler(request, visitor)
            except AppError as exc:
                return inbox.page(
                    "error.html", 503, heading="Not available", message=str(exc), visitor=visitor
                )

        return route

    async def home(request: Request, visitor: Visitor) -> Response:
        found = await waiting_for(await inbox.client(), inbox.settings, set(visitor.roles))
        return inbox.page("list.html", visitor=visitor, runs=found)

    async def run_page(request: Request, visitor: Visitor) -> Response:
        workflow_id = request.path_params["workflow_id"]
        done = request.query_params.get("done")
        return await _decision_page(inbox, visitor, workflow_id, done=done)

    async def decide(request: Request, visitor: Visitor) -> Response:
        form = await request.form()
        workflow_id = _text(form, "workflow_id")
        if not same_origin(request, inbox.settings.inbox.url) or not csrf_ok(
            visitor.session, _text(form, "csrf")
        ):
            return inbox.page(
                "error.html", 403, heading="Refused", message=CROSS_SITE, visitor=visitor
            )
        decision = _text(form, "decision")
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        try:
            argument = _decision(decision, visitor.user, form)
        except ValueError as exc:
            return await _decision_page(
                inbox, visitor, workflow_id, refusal=str(exc), form=values, code=422
            )
        try:
            proof = await asyncio.to_thread(
                proof_from_session, inbox.engine, visitor.session, visitor.user,
                workflow_id, decision,
            )  # fmt: skip
            proven = argument.model_copy(update={"proof": proof})
            client = await inbox.client()
            answer = await runs.update(client, inbox.settings, workflow_id, decision, proven)
        except AppError as exc:
            log.info("inbox: %s's %s on %s refused: %s", visitor.user, decision, workflow_id, exc)
            return await _decision_page(
                inbox, visitor, workflow_id, refusal=str(exc), form=values, code=409
            )
        target = httpx.URL(f"/runs/{workflow_id}", params={"done": answer})
        return RedirectResponse(str(target), 303)

    async def follow(request: Request, visitor: Visitor) -> Response:
        workflow_id = request.query_params.get("id", "")
        since = request.query_params.get("since", "")
        stream = _follow(inbox, workflow_id, since)
        headers = HEADERS | {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)

    app.add_api_route("/", signed_in(home), methods=["GET"])
    app.add_api_route("/runs/{workflow_id:path}", signed_in(run_page), methods=["GET"])
    app.add_api_route("/decide", signed_in(decide), methods=["POST"])
    app.add_api_route("/follow", signed_in(follow), methods=["GET"])


def _decision(name: str, user: str, form: Any) -> Approval | Rejection | Correction:
    """The decision the form sends, or ValueError saying which field to fix."""
    if name == "approve":
        return Approval(user=user, comment=_text(form, "comment"))
    if name == "reject":
        reason = _text(form, "reason")
        if not reason:
            raise ValueError("Reason: say why you reject it; the requester sees it.")
        return Rejection(user=user, reason=reason)
    if name == "correct":
        fields = {
            key.removeprefix("field."): value.strip()
            for key, value in form.items()
            if key.startswith("field.") and isinstance(value, str) and value.strip()
        }
        if not fields:
            raise ValueError("Corrected values: fill in at least one field to correct.")
        return Correction(user=user, fields=fields, comment=_text(form, "comment"))
    raise ValueError(f"Decision: {name!r} is not one of {', '.join(DECISIONS)}.")


async def _decision_page(
    inbox: Inbox,
    visitor: Visitor,
    workflow_id: str,
    *,
    refusal: str | None = None,
    done: str | None = None,
    form: dict[str, str] | None = None,
    code: int = 200,
) -> Response:
    client = await inbox.client()
    status, brief = await asyncio.gather(
        status_of(client, inbox.settings, workflow_id),
        fetch_brief(client, inbox.settings, workflow_id),
    )
    waiting = status.waiting_for
    return inbox.page(
        "run.html",
        code,
        visitor=visitor,
        status=status,
        step=current_step(status),
        brief=brief,
        since=waiting.since.isoformat() if waiting else "",
        can_decide=waiting is not None and decides(set(visitor.roles), waiting),
        refusal=refusal,
        done=done,
        form=form or {},
    )


def _moved_on(status: WorkflowStatus, since: str) -> bool:
    """Past what the page showed: the wait it showed is over, or (showing none) the run
    waits again or has finished."""
    waiting = status.waiting_for
    if since:
        return waiting is None or waiting.since.isoformat() != since
    return waiting is not None or status.state in runs.FINAL_STATES


async def _follow(inbox: Inbox, workflow_id: str, since: str) -> AsyncIterator[str]:
    """Server-sent events: `status` when the run's status changes, `moved` at the end."""
    loop = asyncio.get_running_loop()
    until = loop.time() + FOLLOW_FOR
    last = ""
    while loop.time() < until:
        try:
            status = await status_of(await inbox.client(), inbox.settings, workflow_id)
        except AppError as exc:
            yield _event("status", f'<p class="alert">{escape(str(exc))}</p>')
            await asyncio.sleep(FOLLOW_EVERY * 5)
            continue
        html = inbox.pages.get_template("_status.html").render(
            status=status, step=current_step(status)
        )
        if _moved_on(status, since):
            yield _event("moved", html)
            return
        if html != last:
            yield _event("status", html)
            last = html
        await asyncio.sleep(FOLLOW_EVERY)


def _event(name: str, html: str) -> str:
    return f"event: {name}\ndata: {json.dumps({'html': html})}\n\n"
