"""Body property names as NetSuite reads them: case-insensitively (`companyname` sets
`companyName`), and an unknown one as the request's X-NetSuite-PropertyNameValidation header
asks: `Error` refuses the request naming it, `Warning` (the default) writes the rest and
names it in the response's `Warning` header, `Ignore` writes the rest silently.
"""

from collections.abc import Iterable
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.erp.errors import NetSuiteError

NAME_VALIDATION_HEADER = "X-NetSuite-PropertyNameValidation"
MODES = {"error": "Error", "warning": "Warning", "ignore": "Ignore"}
DEFAULT_MODE = "Warning"
_IGNORED = "psflow_ignored_properties"


def validation_mode(request: Request) -> str:
    """Error, Warning or Ignore; 400 naming the header for anything else."""
    raw = request.headers.get(NAME_VALIDATION_HEADER, DEFAULT_MODE)
    mode = MODES.get(raw.strip().lower())
    if mode is None:
        detail = f"Invalid header value {raw}: use one of {', '.join(MODES.values())}."
        raise NetSuiteError(400, detail, "INVALID_HEADER", header=NAME_VALIDATION_HEADER)
    return mode


def named(request: Request, body: dict[str, Any], known: Iterable[str]) -> dict[str, Any]:
    """The body with each property under the record's own spelling of its name; unknown
    ones refused, or left out and remembered for the response's Warning header."""
    spelling = {name.lower(): name for name in known}
    mode = validation_mode(request)
    found: dict[str, Any] = {}
    unknown: list[str] = []
    for name, value in body.items():
        canonical = spelling.get(name.lower())
        if canonical is None:
            unknown.append(name)
        elif canonical in found:
            detail = f"Property {canonical} is given twice, in different letter cases."
            raise NetSuiteError(400, detail, "INVALID_CONTENT", name)
        else:
            found[canonical] = value
    if unknown and mode == "Error":
        detail = f"Invalid field name: {unknown[0]}. It is not a field of this record type."
        raise NetSuiteError(400, detail, "INVALID_FLD", unknown[0])
    if unknown and mode == "Warning":
        ignored = getattr(request.state, _IGNORED, [])
        setattr(request.state, _IGNORED, [*ignored, *unknown])
    return found


def _header_safe(name: str) -> str:
    """The name as printable ASCII inside a quoted string (other characters escaped)."""
    return name.encode("unicode_escape").decode("ascii").replace('"', '\\"')


class WarningHeader:
    """Names the properties a request's body had and the record has not in a `Warning`
    header. Plain ASGI: it adds no task of its own around the request (a request must stop
    counting against the concurrency limit the moment its answer is sent)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_warning(message: Message) -> None:
            ignored = scope.get("state", {}).get(_IGNORED)
            if message["type"] == "http.response.start" and ignored:
                names = ", ".join(_header_safe(name) for name in dict.fromkeys(ignored))
                warning = f'299 - "Unknown properties ignored: {names}"'
                message["headers"] = [*message.get("headers", []), (b"warning", warning.encode())]
            await send(message)

        await self.app(scope, receive, send_with_warning)
