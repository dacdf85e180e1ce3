"""A small OpenID Connect provider for tests: discovery, JWKS, the device grant, the
authorization code flow with PKCE, ID tokens.

Served over real HTTP (uvicorn in a thread) on a free port. The person at the browser is
played by the provider itself: the first poll of a device code is pending, the next one is
answered with an ID token for `user`, with `groups` (or declined, with `decline`); a browser
sent to /authorize comes straight back with a code (or with access_denied). `claims`
overrides what the token says; `foreign_key` signs it with a key the JWKS does not hold.
"""

import base64
import hashlib
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from jwt.algorithms import RSAAlgorithm

from tests.support import free_port

CLIENT_ID = "psflow-cli"
WEB_CLIENT_ID = "psflow-inbox"
WEB_CLIENT_SECRET = "inbox client secret"


class TestProvider:
    __test__ = False  # not a test class

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.user = "morgan"
        self.groups: list[str] = []
        self.claims: dict[str, Any] = {}
        self.decline = False
        self.foreign_key = False
        self._polls: dict[str, int] = {}
        self._codes = itertools.count(1)
        self._granted: dict[str, dict[str, str]] = {}  # authorization code -> its request
        self.app = self._app()

    def id_token(self, audience: str = CLIENT_ID, nonce: str | None = None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url, "aud": audience, "sub": f"idp-{self.user}", "iat": now,
            "exp": now + 300, "preferred_username": self.user, "groups": self.groups,
            **({"nonce": nonce} if nonce else {}),
        } | self.claims  # fmt: skip
        key = self.foreign if self.foreign_key else self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "idp-1"})

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def metadata() -> dict[str, str]:
            return {
                "issuer": self.url,
                "device_authorization_endpoint": f"{self.url}/device",
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token",
                "jwks_uri": f"{self.url}/jwks",
            }

        @app.get("/jwks")
        def jwks() -> dict[str, list[dict[str, Any]]]:
            public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
            return {"keys": [public | {"kid": "idp-1", "alg": "RS256", "use": "sig"}]}

        @app.post("/device")
        def device(client_id: str = Form(), scope: str = Form("")) -> dict[str, Any]:
            code = f"device-{next(self._codes)}"
            self._polls[code] = 0
            return {
                "device_code": code, "user_code": "WDJB-MJHT",
                "verification_uri": f"{self.url}/activate",
                "verification_uri_complete": f"{self.url}/activate?user_code=WDJB-MJHT",
                "expires_in": 60, "interval": 1,
            }  # fmt: skip

        @app.get("/authorize")
        def authorize(request: Request) -> RedirectResponse:
            asked = dict(request.query_params)
            back = asked["redirect_uri"]
            if self.decline:
                query = urlencode({"error": "access_denied", "state": asked["state"]})
                return RedirectResponse(f"{back}?{query}", 303)
            code = f"code-{next(self._codes)}"
            self._granted[code] = asked
            return RedirectResponse(
                f"{back}?{urlencode({'code': code, 'state': asked['state']})}", 303
            )

        @app.post("/token")
        def token(
            request: Request,
            grant_type: str = Form(),
            device_code: str = Form(""),
            client_id: str = Form(""),
            code: str = Form(""),
            redirect_uri: str = Form(""),
            code_verifier: str = Form(""),
        ) -> JSONResponse:
            if grant_type == "authorization_code":
                return self._code_token(request, code, redirect_uri, code_verifier)
            if client_id != CLIENT_ID or device_code not in self._polls:
                return JSONResponse({"error": "invalid_client"}, status_code=400)
            self._polls[device_code] += 1
            if self._polls[device_code] == 1:
                return JSONResponse({"error": "authorization_pending"}, status_code=400)
            if self.decline:
                return JSONResponse({"error": "access_denied"}, status_code=400)
            return JSONResponse({"id_token": self.id_token(), "token_type": "Bearer"})

        return app

    def _code_token(
        self, request: Request, code: str, redirect_uri: str, verifier: str
    ) -> JSONResponse:
        """The code's exchange: the web client by HTTP Basic, the same redirect URI, and
        the PKCE verifier whose S256 hash the authorization request carried."""
        expected = base64.b64encode(f"{WEB_CLIENT_ID}:{WEB_CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        asked = self._granted.pop(code, None)
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if (
            asked is None
            or asked["redirect_uri"] != redirect_uri
            or asked.get("code_challenge") != challenge
            or asked.get("code_challenge_method") != "S256"
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        token = self.id_token(WEB_CLIENT_ID, asked.get("nonce"))
        return JSONResponse({"id_token": token, "token_type": "Bearer"})

    @contextmanager
    def serving(self) -> Iterator["TestProvider"]:
        server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="error")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            yield self
        finally:
            server.should_exit = True
            thread.join(timeout=10)
