"""Errors in NetSuite's shape: RFC 9457 problem details plus `o:errorDetails`."""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.erp.protocol import TOKEN_PATH

NOT_FOUND_DETAIL = "The record instance does not exist. Provide a valid record instance ID."
INVALID_LOGIN_DETAIL = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI "
    "at Setup > Users/Roles > User Management > View Login Audit Trail."
)
CONCURRENCY_DETAIL = "Concurrent request limit exceeded. Request blocked."
DEPENDENTS_DETAIL = "This record cannot be deleted because it has dependent records."

_RFC9110_SECTIONS = {
    400: "15.5.1", 401: "15.5.2", 403: "15.5.4", 404: "15.5.5", 405: "15.5.6", 408: "15.5.9",
    409: "15.5.10", 415: "15.5.16", 422: "15.5.21", 500: "15.6.1", 501: "15.6.2",
    502: "15.6.3", 503: "15.6.4", 504: "15.6.5",
}  # fmt: skip
_DEFAULT_CODES = {
    400: "USER_ERROR",
    401: "INVALID_LOGIN",
    403: "INSUFFICIENT_PERMISSION",
    404: "NONEXISTENT_ID",
    405: "INVALID_REQUEST",
    429: "CONCURRENCY_LIMIT_EXCEEDED",
}


def _problem_type(status: int) -> str:
    if status == 429:
        return "https://www.rfc-editor.org/rfc/rfc6585.html#section-4"
    section = _RFC9110_SECTIONS.get(status, "15.5.1" if status < 500 else "15.6.1")
    return f"https://www.rfc-editor.org/rfc/rfc9110.html#section-{section}"


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_body(
    status: int,
    detail: str,
    code: str | None = None,
    path: str | None = None,
    *,
    header: str | None = None,
    query_param: str | None = None,
) -> dict[str, Any]:
    """A NetSuite REST error body: RFC 9457 problem details plus o:errorDetails, naming the
    body path, request header or query parameter at fault."""
    item: dict[str, Any] = {
        "detail": detail,
        "o:errorCode": code or _DEFAULT_CODES.get(status, "UNEXPECTED_ERROR"),
    }
    if path:
        item["o:errorPath"] = path
    if header:
        item["o:errorHeader"] = header
    if query_param:
        item["o:errorQueryParam"] = query_param
    return {
        "type": _problem_type(status),
        "title": _title(status),
        "status": status,
        "o:errorDetails": [item],
    }


class NetSuiteError(Exception):
    """An error the sandbox answers in NetSuite's format."""

    def __init__(
        self,
        status: int,
        detail: str,
        code: str | None = None,
        path: str | None = None,
        *,
        header: str | None = None,
        query_param: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.body = error_body(status, detail, code, path, header=header, query_param=query_param)

    def response(self) -> JSONResponse:
        """The error as the HTTP response NetSuite would give."""
        return JSONResponse(self.body, status_code=self.status)


def invalid(field: str, value: Any, why: str = "") -> NetSuiteError:
    """400 INVALID_VALUE naming the field, with an optional reason."""
    detail = (
        "Error while accessing a resource. You have entered an Invalid Field Value "
        f"{value} for the following field: {field}"
    )
    return NetSuiteError(400, detail + (f". {why}" if why else ""), "INVALID_VALUE", field)


def not_found() -> NetSuiteError:
    """404 NONEXISTENT_ID: no record with that id."""
    return NetSuiteError(404, NOT_FOUND_DETAIL, "NONEXISTENT_ID")


def unauthorized() -> NetSuiteError:
    """401 INVALID_LOGIN: no valid bearer token."""
    return NetSuiteError(401, INVALID_LOGIN_DETAIL, "INVALID_LOGIN")


def has_dependents() -> NetSuiteError:
    """400 RECORD_HAS_DEPENDENTS: other records still point at this one."""
    return NetSuiteError(400, DEPENDENTS_DETAIL, "RECORD_HAS_DEPENDENTS")


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error, the framework's own included, in NetSuite's format."""

    @app.exception_handler(NetSuiteError)
    async def netsuite_error(request: Request, exc: NetSuiteError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if request.url.path == TOKEN_PATH:
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        detail = "Invalid URL." if exc.status_code == 404 else str(exc.detail)
        code = "INVALID_URL" if exc.status_code == 404 else None
        return NetSuiteError(exc.status_code, detail, code).response()

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        detail = f"Invalid request: {where or 'body'}: {first.get('msg', 'invalid')}."
        return NetSuiteError(400, detail, "INVALID_CONTENT", where or None).response()
