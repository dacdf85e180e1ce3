"""The PSA's one error shape, and the handlers that answer every failure in it."""

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "unavailable",
    504: "gateway_timeout",
}


class ErrorDetail(BaseModel):
    code: str = Field(examples=["validation_error"])
    message: str
    fields: list[str] = Field(default_factory=list, description="request fields at fault")


class ErrorResponse(BaseModel):
    error: ErrorDetail


# The error responses every /api/v1 route documents.
ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorResponse} for s in (400, 401, 404, 409, 422)
}


class ApiError(Exception):
    """An error answered in the PSA's one error shape."""

    def __init__(self, status: int, code: str, message: str, fields: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = list(fields)

    def body(self) -> dict[str, Any]:
        """This error as the JSON body the PSA answers."""
        return error_body(self.code, self.message, self.fields)


def error_body(code: str, message: str, fields: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON body of every PSA error."""
    return {"error": {"code": code, "message": message, "fields": list(fields)}}


def status_error_body(status: int, message: str) -> dict[str, Any]:
    """An error body for a bare status, as injected faults answer."""
    return error_body(ERROR_CODES.get(status, f"http_{status}"), message)


def not_found(what: str, id: str) -> ApiError:
    """404 for a record addressed by the path."""
    return ApiError(404, "not_found", f"{what} {id} does not exist")


def conflict(message: str) -> ApiError:
    """409: the request is valid but the records' state refuses it."""
    return ApiError(409, "conflict", message)


def invalid(problems: Sequence[tuple[str, str]]) -> ApiError:
    """422 naming each (field, problem), in the same words as schema validation."""
    message = "; ".join(f"{field}: {text}" for field, text in problems)
    fields = list(dict.fromkeys(field for field, _ in problems))
    return ApiError(422, "validation_error", message, fields)


def unauthorized() -> ApiError:
    """401 for a call without a valid bearer token."""
    return ApiError(401, "unauthorized", "a valid bearer token is required")


def _field_name(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts)


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(exc.body(), exc.status, headers=headers)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [(_field_name(e["loc"]), str(e["msg"])) for e in exc.errors()]
    fields = list(dict.fromkeys(field for field, _ in problems))
    message = "; ".join(f"{field}: {msg}" for field, msg in problems)
    return JSONResponse(error_body("validation_error", message, fields), 422)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = str(exc.detail)
    code = detail if detail.isidentifier() else ERROR_CODES.get(exc.status_code, "error")
    return JSONResponse(error_body(code, detail), exc.status_code, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Answer API errors, schema validation and bare HTTP errors in the one error shape."""
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
