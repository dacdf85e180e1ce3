"""A small OpenID Connect provider for tests: discovery, JWKS, the device grant, ID tokens.

Served over real HTTP (uvicorn in a thread) on a free port. The person at the browser is
played by the provider itself: the first poll of a device code is pending, the next one is
answered with an ID token for `user`, with `groups` (or declined, with `decline`). `claims`
overrides what the token says; `foreign_key` signs it with a key the JWKS does not hold.
"""

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form
from fastapi.responses import JSONResponse
from jwt.algorithms import RSAAlgorithm

from tests.support import free_port

CLIENT_ID = "psflow-cli"


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
        self.app = self._app()

    def id_token(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url, "aud": CLIENT_ID, "sub": f"idp-{self.user}", "iat": now,
            "exp": now + 300, "preferred_username": self.user, "groups": self.groups,
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

        @app.post("/token")
        def token(
            grant_type: str = Form(), device_code: str = Form(), client_id: str = Form()
        ) -> JSONResponse:
            if client_id != CLIENT_ID or device_code not in self._polls:
                return JSONResponse({"error": "invalid_client"}, status_code=400)
            self._polls[device_code] += 1
            if self._polls[device_code] == 1:
                return JSONResponse({"error": "authorization_pending"}, status_code=400)
            if self.decline:
                return JSONResponse({"error": "access_denied"}, status_code=400)
            return JSONResponse({"id_token": self.id_token(), "token_type": "Bearer"})

        return app

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
