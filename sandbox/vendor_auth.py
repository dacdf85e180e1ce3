"""What each vendor's token endpoint verifies, with its own error shapes:

- Salesforce: the JWT bearer flow (RS256 assertion: `iss` the consumer key, `sub` a user
  pre-authorized for the app, `aud` the login host, `exp` at most a few minutes ahead, signed
  by the connected app's certificate) and client credentials (Basic or body). The answer
  carries `instance_url` and `id` as Salesforce's does.
- NetSuite: client credentials (M2M) with a JWT `client_assertion` (`kid` a registered
  certificate id, PS256/ES256, `iss` the consumer key, `aud` the token endpoint, `scope`
  holding rest_webservices, at most an hour between `iat` and `exp`), and token-based
  authentication: an OAuth 1.0a HMAC-SHA256 signature on every request, the account as realm.
- Workday: the refresh-token grant for an API client (Basic), a token a person can revoke.

Times are checked with CLOCK_SKEW of leeway either way.
"""

import base64
import secrets
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from oauthlib.oauth1 import Client
from oauthlib.oauth1.rfc5849 import signature, utils

from sandbox.auth import TokenIssuer, oauth_error

CLOCK_SKEW = 60
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SALESFORCE_MAX_AHEAD = 300
NETSUITE_MAX_LIFETIME = 3600
NETSUITE_ALGORITHMS = ["PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
ORG_ID = "00DHs000000PSFLW"
USER_ID = "005Hs00000PSFLWIAA"


def _header(token: str) -> dict[str, Any] | None:
    try:
        return jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        return None


class SalesforceTokens(TokenIssuer):
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        username: str | None = None,
        certificate: CertificatePublicKeyTypes | None = None,
        audiences: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(client_id, client_secret)
        self.username = username
        self.certificate = certificate
        self.audiences = audiences | {"https://login.salesforce.com", "https://test.salesforce.com"}

    def _answer(self, request: Request) -> dict[str, Any]:
        instance = str(request.base_url).rstrip("/")
        issued = str(int(time.time() * 1000))
        token = self.issue()
        signed = f"{instance}/id/{ORG_ID}/{USER_ID}{issued}".encode()
        return {
            "access_token": token,
            "signature": base64.b64encode(signed).decode(),
            "scope": "api",
            "instance_url": instance,
            "id": f"{instance}/id/{ORG_ID}/{USER_ID}",
            "token_type": "Bearer",
            "issued_at": issued,
        }

    async def grant(self, request: Request, form: dict[str, Any]) -> JSONResponse:
        grant_type = form.get("grant_type")
        if grant_type == "client_credentials":
            if not self.client_ok(request, form):
                return oauth_error(400, "invalid_client", "invalid client credentials")
            return JSONResponse(self._answer(request))
        if grant_type != JWT_BEARER:
            return oauth_error(400, "unsupported_grant_type", "grant type not supported")
        refusal = self._assertion_refusal(str(form.get("assertion", "")))
        if refusal:
            return oauth_error(400, *refusal)
        answer = self._answer(request)
        del answer["signature"], answer["issued_at"]  # the JWT flow's answer has neither
        return JSONResponse(answer)

    def _assertion_refusal(self, assertion: str) -> tuple[str, str] | None:
        header = _header(assertion)
        if header is None or self.certificate is None:
            return "invalid_grant", "invalid assertion"
        if header.get("alg") != "RS256":
            return "invalid_grant", "invalid assertion: the algorithm must be RS256"
        try:
            claims = jwt.decode(
                assertion,
                self.certificate,  # type: ignore[arg-type]
                algorithms=["RS256"],
                options={"verify_aud": False, "verify_exp": False, "require": ["exp"]},
            )
        except jwt.InvalidTokenError:
            return "invalid_grant", "invalid assertion"
        now = time.time()
        if claims.get("iss") != self.client_id:
            return "invalid_client_id", "client identifier invalid"
        if claims.get("aud") not in self.audiences:
            return "invalid_grant", "audience is invalid"
        if claims["exp"] + CLOCK_SKEW < now:
            return "invalid_grant", "expired assertion"
        if claims["exp"] > now + SALESFORCE_MAX_AHEAD + CLOCK_SKEW:
            return "invalid_grant", "assertion expiration is too far in the future"
        if claims.get("sub") != self.username:
            return "invalid_grant", "user hasn't approved this consumer"
        return None


class NetSuiteTokens(TokenIssuer):
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        certificates: dict[str, CertificatePublicKeyTypes],
        account: str = "SANDBOX",
        token_id: str | None = None,
        token_secret: str | None = None,
    ) -> None:
        super().__init__(client_id, client_secret)
        self.certificates = certificates
        self.account = account
        self.token_id = token_id
        self.token_secret = token_secret
        self._nonces: dict[str, float] = {}

    async def grant(self, request: Request, form: dict[str, Any]) -> JSONResponse:
        if form.get("grant_type") != "client_credentials":
            return oauth_error(400, "unsupported_grant_type", "use client_credentials")
        if form.get("client_assertion_type") != JWT_ASSERTION or not form.get("client_assertion"):
            return oauth_error(400, "invalid_request", "a client_assertion (JWT) is required")
        token_url = str(request.url).split("?")[0]
        refusal = self._assertion_refusal(str(form["client_assertion"]), token_url)
        if refusal:
            return oauth_error(401 if refusal[0] == "invalid_client" else 400, *refusal)
        answer = {"access_token": self.issue(), "expires_in": "3600", "token_type": "bearer"}
        return JSONResponse(answer)

    def _assertion_refusal(self, assertion: str, token_url: str) -> tuple[str, str] | None:
        header = _header(assertion)
        if header is None:
            return "invalid_request", "the client_assertion is not a JWT"
        certificate = self.certificates.get(str(header.get("kid")))
        if certificate is None:
            return "invalid_client", "no certificate with this kid is mapped to an integration"
        if header.get("alg") not in NETSUITE_ALGORITHMS:
            return "invalid_request", f"alg must be one of {', '.join(NETSUITE_ALGORITHMS)}"
        try:
            claims = jwt.decode(
                assertion,
                certificate,  # type: ignore[arg-type]
                algorithms=NETSUITE_ALGORITHMS,
                options={"verify_aud": False, "verify_exp": False, "verify_iat": False,
                         "require": ["iss", "aud", "iat", "exp", "scope"]},
            )  # fmt: skip
        except jwt.InvalidTokenError as exc:
            return "invalid_grant", f"the client_assertion does not verify: {exc}"
        now = time.time()
        if claims["iss"] != self.client_id:
            return "invalid_client", "iss is not the consumer key of an integration"
        if claims["aud"] != token_url:
            return "invalid_grant", f"aud must be the token endpoint {token_url}"
        scopes = claims["scope"]
        scopes = scopes if isinstance(scopes, list) else str(scopes).replace(",", " ").split()
        if "rest_webservices" not in scopes:
            return "invalid_scope", "the scope must hold rest_webservices"
        if claims["exp"] - claims["iat"] > NETSUITE_MAX_LIFETIME:
            return "invalid_grant", "exp is more than 60 minutes after iat"
        if claims["exp"] + CLOCK_SKEW < now or claims["iat"] - CLOCK_SKEW > now:
            return "invalid_grant", "the client_assertion is expired or not yet valid"
        return None

    def valid(self, request: Request) -> bool:
        """A bearer token from the M2M grant, or a request signed by TBA."""
        header = request.headers.get("authorization", "")
        if header[:6].lower() == "oauth ":
            return self._signed(request, header)
        return super().valid(request)

    def _signed(self, request: Request, header: str) -> bool:
        if self.token_id is None or self.token_secret is None:
            return False
        try:
            given = {k: utils.unescape(v) for k, v in utils.parse_authorization_header(header)}
        except ValueError:
            return False
        now = time.time()
        try:
            stamp = int(given.get("oauth_timestamp", ""))
        except ValueError:
            return False
        nonce = given.get("oauth_nonce", "")
        if (
            given.get("realm") != self.account
            or given.get("oauth_consumer_key") != self.client_id
            or given.get("oauth_token") != self.token_id
            or given.get("oauth_signature_method") != "HMAC-SHA256"
            or abs(now - stamp) > 300
            or not nonce
            or nonce in self._nonces
        ):
            return False
        params = signature.collect_parameters(
            uri_query=request.url.query, headers={"Authorization": header}
        )
        base = signature.signature_base_string(
            request.method,
            signature.base_string_uri(str(request.url)),
            signature.normalize_parameters(params),
        )
        secrets_of = Client(
            self.client_id, self.client_secret, resource_owner_secret=self.token_secret
        )
        expected = signature.sign_hmac_sha256_with_client(base, secrets_of)
        if not secrets.compare_digest(expected, given.get("oauth_signature", "")):
            return False
        self._nonces = {n: t for n, t in self._nonces.items() if now - t < 600} | {nonce: now}
        return True


class WorkdayTokens(TokenIssuer):
    def __init__(self, client_id: str, client_secret: str, *, refresh_token: str | None) -> None:
        super().__init__(client_id, client_secret)
        self.refresh_tokens = {refresh_token} if refresh_token else set()

    async def grant(self, request: Request, form: dict[str, Any]) -> JSONResponse:
        if form.get("grant_type") != "refresh_token":
            return oauth_error(400, "unsupported_grant_type", "use refresh_token")
        if not self.client_ok(request, form):
            return oauth_error(401, "invalid_client", "invalid client credentials")
        refresh_token = str(form.get("refresh_token", ""))
        if refresh_token not in self.refresh_tokens:
            return oauth_error(400, "invalid_grant", "invalid or revoked refresh token")
        answer = {
            "access_token": self.issue(),
            "token_type": "Bearer",
            "refresh_token": refresh_token,
        }
        return JSONResponse(answer)

    def router(self, path: str) -> APIRouter:
        router = super().router(path)

        @router.post("/__admin/auth/revoke-refresh-tokens", tags=["admin"])
        def revoke() -> dict[str, int]:
            """Revoke the API client's refresh tokens, as an administrator would in Workday;
            access tokens already issued hold until they expire."""
            revoked = len(self.refresh_tokens)
            self.refresh_tokens.clear()
            return {"revoked": revoked}

        return router
