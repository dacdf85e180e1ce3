"""Body property names as NetSuite reads them: case-insensitively (`companyname` sets
`companyName`), and an unknown one as the request's X-NetSuite-PropertyNameValidation header
asks: `Error` refuses the request naming it, `Warning` (the default) writes the rest and
names it in the response's `Warning` header, `Ignore` writes the rest silently.
"""

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.middleware.base import RequestResponseEndpoint

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


def install_warnings(app: FastAPI) -> None:
    """Name the properties a request's body had and the record has not in a Warning header."""

    @app.middleware("http")
    async def warn(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        ignored = getattr(request.state, _IGNORED, None)
        if ignored:
            names = ", ".join(_header_safe(name) for name in dict.fromkeys(ignored))
            response.headers["Warning"] = f'299 - "Unknown properties ignored: {names}"'
        return response
