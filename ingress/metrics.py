"""Ingress's answers, counted by sender and status (`psflow_ingress_requests`).

Recorded on the Temporal runtime that serves `[telemetry] metrics_address` (ingress's client
shares it), so ingress's /metrics is the worker's kind; nothing is counted when it is unset.
"""

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.common import MetricMeter

from config import TelemetrySettings
from telemetry import kpis
from telemetry.metrics import metrics_runtime

PREFIX = "/events/"


def count_answers(app: FastAPI, settings: TelemetrySettings, senders: tuple[str, ...]) -> None:
    """Count every answer to a sender's events, when metrics are on."""
    runtime = metrics_runtime(settings)
    if runtime is not None:
        app.add_middleware(AnswerCounter, meter=runtime.metric_meter, senders=senders)


class AnswerCounter:
    """ASGI middleware: the status of each answer to POST /events/<sender>, 500 included."""

    def __init__(self, app: ASGIApp, meter: MetricMeter, senders: tuple[str, ...]) -> None:
        self.app = app
        self.meter = meter
        self.senders = senders

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        system = path.removeprefix(PREFIX) if path.startswith(PREFIX) else ""
        if system not in self.senders:  # health, docs, unknown paths: not events
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers when the app raises before its answer

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            kpis.ingress_answered(self.meter, system, status)
