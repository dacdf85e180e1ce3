"""The inbox's run pages: what waits for me, a run's decision page, the decision (sent with a
proof from the session, through the application layer), and the run followed live."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from markupsafe import escape

from application import runs
from application.errors import AppError
from application.identity import proof_from_session
from application.listing import decides, waiting_for
from application.temporal import fetch_brief, status_of
from inbox.pages import CROSS_SITE, Inbox, text
from inbox.web import HEADERS, Visitor, csrf_ok, same_origin
from models.people import Approval, Correction, Rejection
from models.status import WorkflowStatus, current_step

log = logging.getLogger("psflow.inbox")
FOLLOW_EVERY = 1.0
FOLLOW_FOR = 15 * 60.0
DECISIONS = ("approve", "reject", "correct")


def _to_sign_in(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?{urlencode({'next': target})}", 303)


Handler = Callable[[Request, Visitor], Awaitable[Response]]


def run_routes(app: FastAPI, inbox: Inbox) -> None:
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
        workflow_id = text(form, "workflow_id")
        if not same_origin(request, inbox.settings.inbox.url) or not csrf_ok(
            visitor.session, text(form, "csrf")
        ):
            return inbox.page(
                "error.html", 403, heading="Refused", message=CROSS_SITE, visitor=visitor
            )
        decision = text(form, "decision")
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
        return Approval(user=user, comment=text(form, "comment"))
    if name == "reject":
        reason = text(form, "reason")
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
        return Correction(user=user, fields=fields, comment=text(form, "comment"))
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
