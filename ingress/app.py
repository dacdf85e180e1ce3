"""The ingress HTTP app: POST /events/crm, /events/hcm and /events/psa.

Every request is checked before anything else: size (413), signature (401), replay (409),
body (422). An event is answered 202 only once Temporal holds its start or signal (or there
is nothing to do), so a sender told "accepted" never loses it; 503 means "send it again later".
"""

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request, Security
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from temporalio.client import Client

from application.health import add_health_routes, temporal_check
from application.openapi import json_body, with_schemas
from config import Settings
from ingress.dispatch import Dispatcher, Refused, Temporal, log, log_answer
from ingress.events import Answer, CrmEvent, PsaEvent
from ingress.metrics import count_answers
from ingress.openapi import (
    DESCRIPTION,
    ERRORS,
    EXAMPLES,
    MAX_BODY_BYTES,
    OPEN,
    RETRY_AFTER_SECONDS,
    SIGNATURE,
)
from ingress.signing import (
    SIGNATURE_HEADER,
    ReplayGuard,
    SignatureRefused,
    StoreUnreachable,
    verify,
)
from models.hcm import WorkerEvent
from security.bodies import TooLarge, capped_body
from telemetry import entry_span
from telemetry.attributes import workflow_attributes

E = TypeVar("E", bound=BaseModel)
SENDERS = ("crm", "hcm", "psa")


def _error(status: int, message: str, system: str) -> JSONResponse:
    log.warning("%s event refused with %d: %s", system, status, message)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return JSONResponse({"error": message}, status, headers=headers)


def _invalid(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "body"
        problems.append(f"{field}: {str(error['msg']).removeprefix('Value error, ')}")
    return "; ".join(problems)


async def _body(request: Request) -> bytes:
    """The raw body, read no further than MAX_BODY_BYTES."""
    return await capped_body(request, MAX_BODY_BYTES)


def config_problem(settings: Settings) -> str | None:
    """Why ingress cannot serve with these settings, as one line with the fix."""
    config = settings.ingress
    missing = [system for system in SENDERS if config.secret_for(system) is None]
    if missing:
        first = missing[0]
        return (
            f'ingress has no secret for {", ".join(missing)}: put `{first} = "..."` under '
            f"[ingress.secrets] in the config file or set PSFLOW_INGRESS_{first.upper()}_SECRET "
            "(each system signs its events with its own)"
        )
    if config.tolerance_seconds <= 0:
        return "ingress.tolerance_seconds must be a positive number of seconds, e.g. 300"
    return None


def create_app(
    settings: Settings,
    client: Client | None = None,
    clock: Callable[[], float] = time.time,
    engine: Engine | None = None,
) -> FastAPI:
    """The app; `client` is connected, and psflow's store (`engine`) opened, on first use when
    not given."""
    problem = config_problem(settings)
    if problem:
        raise ValueError(problem)
    config = settings.ingress
    guard = ReplayGuard(config.tolerance_seconds, settings.resolved_store_url, engine)
    temporal = Temporal(settings, client)
    dispatcher = Dispatcher(settings, temporal)
    app = FastAPI(
        title="psflow ingress",
        version="1.0.0",
        description=DESCRIPTION,
        # The request's span is psflow's own (entry_span below), carrying only the attributes
        # psflow chooses; FastAPI's built-in request spans, metrics and logs stay off.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    count_answers(app, settings.telemetry, SENDERS)  # psflow_ingress_requests, when metrics on

    async def receive(
        request: Request, system: str, model: type[E], handle: Callable[[E], Awaitable[Answer]]
    ) -> JSONResponse:
        try:
            body = await _body(request)
        except TooLarge:
            return _error(413, f"body: over {MAX_BODY_BYTES} bytes, which no event is", system)
        now = clock()
        try:
            secret = config.secret_for(system)
            assert secret is not None  # config_problem checked every sender
            stamp, signature = verify(
                request.headers.get(SIGNATURE_HEADER), body, secret, config.tolerance_seconds, now
            )
        except SignatureRefused as exc:
            return _error(401, str(exc), system)
        try:
            fresh = await guard.claim(signature, stamp, now)
        except StoreUnreachable as exc:
            return _error(503, str(exc), system)
        if not fresh:
            message = "this signature was received before: sign each delivery afresh"
            return _error(409, message, system)
        try:
            event = model.model_validate_json(body)
        except ValidationError as exc:
            return _error(422, _invalid(exc), system)
        try:
            # The request's span is the trace's root, or continues the sender's `traceparent`.
            with entry_span(
                settings.telemetry, f"POST /events/{system}", headers=dict(request.headers)
            ) as span:
                answer = await handle(event)
                if answer.workflow_id:
                    kind = answer.workflow_id.partition("/")[0]
                    span.set_attributes(workflow_attributes(kind, answer.workflow_id))
        except Refused as exc:
            if exc.status >= 500:
                await guard.release(signature)  # not taken: the same request may come again
            return _error(exc.status, exc.message, system)
        except BaseException:
            await guard.release(signature)
            raise
        log_answer(system, answer)
        return JSONResponse(answer.model_dump(mode="json"), 202)

    signed = [Security(SIGNATURE)]

    def route(system: str, model: type[BaseModel], what: str) -> dict[str, Any]:
        body = json_body(model, f"{what}, signed as the header says", EXAMPLES[system])
        return {
            "status_code": 202,
            "response_model": Answer,
            "responses": ERRORS,
            "dependencies": signed,
            "openapi_extra": body,
        }

    @app.post("/events/crm", **route("crm", CrmEvent, "An opportunity event"))
    async def crm_event(request: Request) -> JSONResponse:
        """`opportunity.closed_won` starts opportunity-to-project for the opportunity;
        `opportunity.amount_changed` signals its running run (`deal_changed`), if any."""
        return await receive(request, "crm", CrmEvent, dispatcher.crm)

    @app.post("/events/hcm", **route("hcm", WorkerEvent, "A worker event"))
    async def hcm_event(request: Request) -> JSONResponse:
        """A worker event: a hire starts hire-to-staff, a transfer or termination
        worker-change/<worker>/<event>."""
        return await receive(request, "hcm", WorkerEvent, dispatcher.hcm)

    @app.post("/events/psa", **route("psa", PsaEvent, "A change order or time entry event"))
    async def psa_event(request: Request) -> JSONResponse:
        """`change_order.submitted` starts change-order once the live project accepts it;
        `timesheet.approved` signals the period's running time-to-bill (`time_approved`)."""
        return await receive(request, "psa", PsaEvent, dispatcher.psa)

    @app.get("/health", openapi_extra=OPEN)
    def health() -> dict[str, bool]:
        """The process is up (it does not check Temporal). Open: no signature."""
        return {"ok": True}

    add_health_routes(app, {"temporal": temporal_check(temporal.client), "store": guard.answers})
    with_schemas(app, [CrmEvent, PsaEvent, WorkerEvent])
    return app
