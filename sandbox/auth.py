"""OAuth 2.0 client-credentials tokens for the sandbox systems, and the bearer check."""

import secrets
from collections.abc import Callable

from fastapi import APIRouter, Form, HTTPException, Request


class TokenIssuer:
    """Issues opaque bearer tokens to the one client the sandbox knows."""

    def __init__(self, client_id: str, client_secret: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens: set[str] = set()

    def router(self, path: str) -> APIRouter:
        router = APIRouter(tags=["auth"])

        @router.post(path)
        def token(
            grant_type: str = Form(...),
            client_id: str = Form(...),
            client_secret: str = Form(...),
        ) -> dict[str, str]:
            if grant_type != "client_credentials":
                raise HTTPException(400, "unsupported_grant_type")
            if not (
                secrets.compare_digest(client_id, self.client_id)
                and secrets.compare_digest(client_secret, self.client_secret)
            ):
                raise HTTPException(401, "invalid_client")
            value = secrets.token_urlsafe(24)
            self.tokens.add(value)
            return {"access_token": value, "token_type": "Bearer"}

        return router

    def valid(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and value in self.tokens

    def revoke_all(self) -> None:
        self.tokens.clear()


def bearer_required(
    issuer: TokenIssuer, unauthorized: Callable[[], Exception]
) -> Callable[[Request], None]:
    """A FastAPI dependency that raises the system's own 401 without a valid token."""

    def check(request: Request) -> None:
        if not issuer.valid(request):
            raise unauthorized()

    return check
