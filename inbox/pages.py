"""What every inbox page shares: the templates, the signed-in visitor, the Temporal client
made on first use."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from temporalio.client import Client

from application.errors import AppError
from application.identity import check_account
from application.listing import roles_of
from application.temporal import connect
from config import Settings
from inbox.web import HEADERS, SESSION_COOKIE, Visitor, csrf_token
from security import issuer
from security.proofs import ProofRefused

HERE = Path(__file__).parent
CROSS_SITE = (
    "This form did not come from the inbox's own page (or the page is too old). "
    "Open the page again and send it from there."
)


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


def text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
