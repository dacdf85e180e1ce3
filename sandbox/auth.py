"""OAuth 2.0 for the sandbox systems: the token endpoint, the bearer check, and the admin
routes that expire tokens (so a client's refresh on 401 can be seen). This base is the PSA's
client credentials; sandbox/vendor_auth.py has what Salesforce, NetSuite and Workday verify."""

import base64
import binascii
import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    """RFC 6749 5.2's error body."""
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """The client id and secret of an HTTP Basic Authorization header, if there is one."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


class TokenIssuer:
    """Issues opaque bearer tokens to the one client the sandbox knows, by client credentials
    (the client authenticated by HTTP Basic or in the body)."""

    def __init__(self, client_id: str, client_secret: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens: set[str] = set()

    def issue(self) -> str:
        value = secrets.token_urlsafe(24)
        self.tokens.add(value)
        return value

    def client_ok(self, request: Request, form: dict[str, Any]) -> bool:
        """The client's id and secret, by Basic or in the body, are the registered ones."""
        given = basic_credentials(request) or (
            str(form.get("client_id", "")),
            str(form.get("client_secret", "")),
        )
        return secrets.compare_digest(given[0], self.client_id) and secrets.compare_digest(
            given[1], self.client_secret
        )

    async def grant(self, request: Request, form: dict[str, Any]) -> JSONResponse:
        """Answer one token request; vendors override this with their own grants."""
        if form.get("grant_type") != "client_credentials":
            return oauth_error(400, "unsupported_grant_type", "use client_credentials")
        if not self.client_ok(request, form):
            return oauth_error(401, "invalid_client", "unknown client or wrong secret")
        return JSONResponse({"access_token": self.issue(), "token_type": "Bearer"})

    def router(self, path: str) -> APIRouter:
        router = APIRouter(tags=["auth"])

        @router.post(path)
        async def token(request: Request) -> JSONResponse:
            form = dict((await request.form()).items())
            return await self.grant(request, form)

        @router.post("/__admin/auth/expire-tokens", tags=["admin"])
        def expire_tokens() -> dict[str, int]:
            """Forget every access token issued: the next call answers 401."""
            expired = len(self.tokens)
            self.revoke_all()
            return {"expired": expired}

        return router

    def valid(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and value in self.tokens

    def revoke_all(self) -> None:
        self.tokens.clear()


def bearer_required(
    issuer: TokenIssuer, unauthorized: Callable[[], Exception], scheme: str, description: str
) -> Callable[..., None]:
    """A FastAPI dependency that raises the system's own 401 without a valid token, and
    declares the bearer scheme (`scheme`, `description`) in the OpenAPI document."""
    documented = HTTPBearer(auto_error=False, scheme_name=scheme, description=description)

    def check(request: Request, _: Annotated[Any, Security(documented)] = None) -> None:
        if not issuer.valid(request):
            raise unauthorized()

    return check


UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid access token: get one from the token endpoint"},
    404: {"description": "No such record, record type or API version"},
}


def validation_answered_400(app: FastAPI, why: str) -> None:
    """Document a 400 where FastAPI would document 422: the system answers bad input 400
    (`why`), as the vendor's API does."""
    built = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = built()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if "422" in responses:
                    del responses["422"]
                    responses.setdefault("400", {"description": why})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
