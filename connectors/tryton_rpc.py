"""A JSON-RPC session with one Tryton database, as one user.

Login is `common.db.login` with `[login, {"password": ...}, language]`, answering
`[user id, token, ...]`; every call then carries `Authorization: Session
base64(login:id:token)` and the user's context as its last parameter. Tryton drops a session
idle for more than 300 s (401): the session logs in again, once, and repeats the call.

Tryton answers a refused call with HTTP 200 and a JSON-RPC `error`: a UserError (validation,
access) is RequestRejected, naming the fields Tryton names; any other exception is the server's
trouble and retryable (SystemUnavailable). HTTP statuses go through connectors.errors as usual
(429 RateLimited, 5xx SystemUnavailable).
"""

import asyncio
import base64
import datetime as dt
import re
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from connectors.base import Connector
from connectors.errors import AuthenticationFailed, RecordInUse, RequestRejected, SystemUnavailable

LANGUAGE = "en"
# Tryton's message for a delete refused by a foreign key (ir.msg_foreign_model_exist)
IN_USE = re.compile(r"could not be deleted because they are used|cannot delete", re.IGNORECASE)
# Tryton names a field by its label in a message: ... field "Name" of "Party" ...
FIELD_LABEL = re.compile(r'field "([^"]+)"')
# ... and in a field access refusal: You are not allowed to access "Party.Code"
ACCESS_LABEL = re.compile(r'access "[^".]+\.([^"]+)"')


def encode(value: Any) -> Any:
    """Python values as Tryton's JSON-RPC reads them (Decimal and dates are tagged objects)."""
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {"__class__": "datetime", "year": value.year, "month": value.month,
                "day": value.day, "hour": value.hour, "minute": value.minute,
                "second": value.second, "microsecond": value.microsecond}  # fmt: skip
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def decode(obj: dict[str, Any]) -> Any:
    """A JSON object from Tryton, its tagged values (Decimal, date, datetime) made Python's."""
    kind = obj.get("__class__")
    if kind == "Decimal":
        return Decimal(str(obj["decimal"]))
    if kind == "date":
        return dt.date(obj["year"], obj["month"], obj["day"])
    if kind == "datetime":
        return dt.datetime(
            obj["year"], obj["month"], obj["day"], obj["hour"], obj["minute"], obj["second"],
            obj.get("microsecond", 0),
        )  # fmt: skip
    return obj


class TrytonRpc(Connector):
    """JSON-RPC calls to one Tryton database (the client's base URL is `http://host:port/<database>/rpc/`)."""

    system: ClassVar[str] = "erp"
    token_path: ClassVar[str] = ""

    def __init__(
        self, client: httpx.AsyncClient, login: str, password: str, concurrency: int = 5
    ) -> None:
        super().__init__(client, concurrency)
        self._login_name = login
        self._password = password
        self._authorization: str | None = None
        self._context: dict[str, Any] = {}
        self._login_lock = asyncio.Lock()
        self._ids = 0
        self._labels: dict[str, dict[str, list[str]]] = {}  # model -> label -> field names
        self.logins = 0
        """How many times this session logged in (a test sees the re-login)."""

    @property
    def context(self) -> dict[str, Any]:
        """The user's context, as Tryton gave it at login."""
        return dict(self._context)

    async def model(self, model: str, method: str, *params: Any, **context: Any) -> Any:
        """`model.<model>.<method>(*params, context)`; `context` adds to the user's. A
        refusal names the fields by their names, where Tryton's message gives labels."""
        try:
            return await self.call(f"model.{model}.{method}", *params, context=context)
        except RequestRejected as exc:
            if type(exc) is not RequestRejected or not exc.fields:
                raise
            names = await self._field_names(model, exc.fields)
            message = exc.message.removeprefix(f"{self.system}: ")
            raise RequestRejected(self.system, message, status=exc.status, fields=names) from None

    async def _field_names(self, model: str, labels: list[str]) -> list[str]:
        """Field labels as field names (a label that is not one field's stays as it is)."""
        if model not in self._labels:
            try:
                fields = await self.call(f"model.{model}.fields_get", None)
            except RequestRejected:
                return labels
            by_label: dict[str, list[str]] = {}
            for name, definition in fields.items():
                by_label.setdefault(str(definition.get("string")), []).append(name)
            self._labels[model] = by_label
        found = self._labels[model]
        return [found[label][0] if len(found.get(label, [])) == 1 else label for label in labels]

    async def call(self, method: str, *params: Any, context: dict[str, Any] | None = None) -> Any:
        """One call with the user's context last; logs in first, and again once on a 401."""
        if self._authorization is None:
            await self._login(None)
        for attempt in (1, 2):
            sent_with = self._authorization
            body = [*params, {**self._context, **(context or {})}]
            try:
                return await self._send(method, body, sent_with)
            except AuthenticationFailed as exc:
                if exc.status != 401 or attempt == 2:
                    raise
                await self._login(sent_with)  # the session expired or was dropped
        raise AssertionError("unreachable")

    async def logout(self) -> None:
        """End the session on the server (a later call logs in again)."""
        if self._authorization is not None:
            await self._send("common.db.logout", [], self._authorization)
            self._authorization = None

    async def _login(self, expired: str | None) -> None:
        async with self._login_lock:
            if self._authorization is not None and self._authorization != expired:
                return  # another call logged in meanwhile
            params = [self._login_name, {"password": self._password}, LANGUAGE]
            result = await self._send("common.db.login", params, None)
            if not isinstance(result, list) or len(result) < 2:
                raise AuthenticationFailed(self.system, f"login refused: {result!r}", status=401)
            user_id, token = result[0], result[1]
            raw = f"{self._login_name}:{user_id}:{token}".encode()
            self._authorization = "Session " + base64.b64encode(raw).decode()
            self.logins += 1
            self._context = await self._send(
                "model.res.user.get_preferences", [True, {}], self._authorization
            )

    async def _send(self, method: str, params: list[Any], authorization: str | None) -> Any:
        self._ids += 1
        headers = {"Authorization": authorization} if authorization else None
        payload = {"id": self._ids, "method": method, "params": encode(params)}
        response = await self.request("POST", "", json=payload, headers=headers)
        try:
            body = response.json(object_hook=decode)
        except ValueError:
            raise SystemUnavailable(
                self.system, f"{method} answered no JSON: {response.text[:300]}"
            ) from None
        if "error" in body and body["error"] is not None:
            raise self._error(method, body["error"])
        return body.get("result")

    def _error(self, method: str, error: Any) -> Exception:
        """A JSON-RPC error as the typed connector error it is."""
        kind, args = (error[0], error[1]) if isinstance(error, list) and error else (error, None)
        if kind in ("UserError", "UserWarning") and isinstance(args, list) and args:
            message = str(args[1] if kind == "UserWarning" else args[0])
            detail = args[1] if kind == "UserError" and len(args) > 1 else ""
            text = f"{method}: {message}" + (f" ({detail})" if detail else "")
            cls = RecordInUse if IN_USE.search(message) else RequestRejected
            return cls(self.system, text, status=200, fields=self._fields(args, message))
        if kind == "LoginException":
            return AuthenticationFailed(self.system, f"{method}: login refused", status=401)
        if kind == "ConcurrencyException":
            return SystemUnavailable(self.system, f"{method}: {args}")
        return SystemUnavailable(self.system, f"{method} failed on the server: {kind}")

    @staticmethod
    def _fields(args: list[Any], message: str) -> list[str]:
        """The fields Tryton names: its domain's field definitions, else labels in the text."""
        domain = args[2] if len(args) > 2 else None
        if isinstance(domain, list) and len(domain) == 2 and isinstance(domain[1], dict):
            return sorted(str(name) for name in domain[1])
        return FIELD_LABEL.findall(message) + ACCESS_LABEL.findall(message)
