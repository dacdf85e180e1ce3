"""Salesforce's error body, the exception that carries it, and the handlers that answer it."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.crm.paths import DATA_PREFIX, TOKEN_PATH

CODES = {
    400: "BAD_REQUEST",
    401: "INVALID_SESSION_ID",
    403: "INSUFFICIENT_ACCESS",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "REQUEST_LIMIT_EXCEEDED",
    503: "SERVER_UNAVAILABLE",
}


class SalesforceError(Exception):
    """An error answered in Salesforce's list body."""

    def __init__(
        self, status: int, code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []

    def body(self) -> list[dict[str, Any]]:
        error: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields:
            error["fields"] = self.fields
        return [error]


def error_body(status: int, message: str) -> list[dict[str, Any]]:
    """Salesforce's error body for a status, as the fault middleware answers it."""
    return SalesforceError(status, CODES.get(status, "UNKNOWN_EXCEPTION"), message).body()


def not_found() -> SalesforceError:
    return SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")


def _salesforce_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SalesforceError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Salesforce's shapes for routing errors: list bodies for data, OAuth bodies for tokens."""
    assert isinstance(exc, StarletteHTTPException)
    path = request.url.path
    if path.startswith(DATA_PREFIX):
        listed = error_body(exc.status_code, str(exc.detail))
        return JSONResponse(listed, exc.status_code, headers=exc.headers)
    if path == TOKEN_PATH:
        oauth = {"error": str(exc.detail), "error_description": str(exc.detail)}
        return JSONResponse(oauth, exc.status_code, headers=exc.headers)
    return await http_exception_handler(request, exc)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if request.url.path == TOKEN_PATH:
        return JSONResponse({"error": "invalid_request", "error_description": "bad form"}, 400)
    message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return JSONResponse(error_body(400, message), 400)


def install_error_handlers(app: FastAPI) -> None:
    """Answer Salesforce errors, routing errors and request validation in Salesforce's shapes."""
    app.add_exception_handler(SalesforceError, _salesforce_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
