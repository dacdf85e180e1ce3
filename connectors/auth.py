"""How each connector proves itself to its system, as the vendor documents it for servers:

- Salesforce: the OAuth 2.0 JWT bearer flow (an assertion signed with the connected app's
  certificate key), or client credentials (client authentication by HTTP Basic or in the
  body); API calls go to the `instance_url` the token response names.
- NetSuite: OAuth 2.0 client credentials (M2M) with a signed JWT `client_assertion` (the
  certificate id as `kid`), or token-based authentication (OAuth 1.0a, HMAC-SHA256) per
  request (connectors/netsuite_tba.py).
- Workday: the OAuth 2.0 refresh-token grant for an API client, at the tenant's endpoint.
- The PSA (psflow's own API): client credentials.

A token is kept for its lifetime (less a minute) and fetched again once on a 401. Only a
refusal of the credentials (401, 403, or 400 `invalid_client`/`invalid_grant`, RFC 6749 5.2)
says to check them; a token endpoint that is down or busy (5xx, 408, 429) is retryable like
any other outage, honouring its Retry-After.
"""

import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from connectors.errors import (
    AuthenticationFailed,
    ConnectorError,
    RateLimited,
    RequestRejected,
    SystemUnavailable,
    error_for_status,
    parse_retry_after,
)

MAX_REASON_CHARS = 300
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_SECONDS = 180
"""How long a signed assertion is valid: Salesforce takes at most 3 minutes."""
EARLY_SECONDS = 60
"""A token is fetched again this long before it expires."""
REFUSALS = ("invalid_client", "invalid_grant", "unauthorized_client", "invalid_client_id")


def _reason(response: httpx.Response) -> str:
    """The endpoint's OAuth error code (and description), or its text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:MAX_REASON_CHARS] or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:MAX_REASON_CHARS]
    code = body.get("error") or body.get("detail") or response.reason_phrase
    description = body.get("error_description")
    return f"{code}: {description}" if description else str(code)


def token_error(
    system: str, token_url: str, response: httpx.Response, check: str
) -> ConnectorError:
    """The typed error for a token request that got no token; `check` says what to check
    when the credentials are refused."""
    status = response.status_code
    reason = _reason(response)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status >= 500:
        message = f"token endpoint {token_url} is unavailable ({status}): {reason}"
        return SystemUnavailable(system, message, status=status, retry_after=retry_after)
    if status in (408, 429):
        message = f"token endpoint {token_url} is busy ({status}): {reason}"
        return RateLimited(system, message, status=status, retry_after=retry_after)
    if status in (401, 403) or reason.startswith(REFUSALS):
        message = f"token request refused ({status} {reason}): {check}"
        return AuthenticationFailed(system, message, status=status)
    if status == 400:
        return RequestRejected(system, f"token request refused (400 {reason})", status=400)
    return error_for_status(
        system, status, f"token endpoint {token_url} answered {status}: {reason}"
    )


def private_key(system: str, path: Path, setting: str) -> PrivateKeyTypes:
    """The PEM private key at `path`, or a permanent error naming the setting to fix."""
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        message = f"no private key at {path}: set {setting} to the key of your certificate"
    except (ValueError, TypeError) as exc:
        message = f"{path} is not an unencrypted PEM private key ({exc}): check {setting}"
    raise AuthenticationFailed(system, message)


class TokenAuth(httpx.Auth, ABC):
    """A bearer token from `token_url`, kept for its lifetime or until a 401."""

    requires_response_body = True
    check = "check the client id and secret"

    def __init__(self, system: str, token_url: str) -> None:
        self.system = system
        self.token_url = token_url
        self._token: str | None = None
        self._expires = 0.0

    @abstractmethod
    def token_request(self) -> httpx.Request:
        """The request that asks the token endpoint for a token."""

    def took(self, answer: dict[str, Any]) -> None:
        """What else a token response says (Salesforce: the instance to call)."""

    def prepare(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self._token}"

    def _take(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            raise token_error(self.system, self.token_url, response, self.check)
        answer = response.json()
        self._token = str(answer["access_token"])
        lifetime = float(answer.get("expires_in") or 0)
        self._expires = time.monotonic() + lifetime - EARLY_SECONDS if lifetime else float("inf")
        self.took(answer)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None or time.monotonic() >= self._expires:
            self._take((yield self.token_request()))
        self.prepare(request)
        response = yield request
        if response.status_code == 401:
            self._take((yield self.token_request()))
            self.prepare(request)
            yield request


class ClientCredentials(TokenAuth):
    """OAuth 2.0 client credentials; the client authenticates by HTTP Basic or in the body."""

    def __init__(
        self, system: str, token_url: str, client_id: str, secret: str, *, basic: bool = False
    ) -> None:
        super().__init__(system, token_url)
        self._client_id = client_id
        self._secret = secret
        self._basic = basic

    def token_request(self) -> httpx.Request:
        data = {"grant_type": "client_credentials"}
        if self._basic:
            auth = httpx.BasicAuth(self._client_id, self._secret)
            request = httpx.Request("POST", self.token_url, data=data)
            return next(auth.auth_flow(request))
        data |= {"client_id": self._client_id, "client_secret": self._secret}
        return httpx.Request("POST", self.token_url, data=data)


class InstanceUrl(TokenAuth):
    """Salesforce answers a token with the org's `instance_url`: API calls go there."""

    def __init__(self, system: str, token_url: str) -> None:
        super().__init__(system, token_url)
        self.instance: httpx.URL | None = None

    def took(self, answer: dict[str, Any]) -> None:
        if answer.get("instance_url"):
            self.instance = httpx.URL(str(answer["instance_url"]))

    def prepare(self, request: httpx.Request) -> None:
        if self.instance is not None:
            request.url = request.url.copy_with(
                scheme=self.instance.scheme, host=self.instance.host, port=self.instance.port
            )
            request.headers["Host"] = self.instance.netloc.decode()
        super().prepare(request)


class SalesforceClientCredentials(ClientCredentials, InstanceUrl):
    """Salesforce's client credentials flow (the connected app's run-as user)."""


class SalesforceJwtBearer(InstanceUrl):
    """Salesforce's OAuth 2.0 JWT bearer flow: an RS256 assertion for the integration user."""

    check = (
        "check [crm] client_id (the consumer key), username (pre-authorized for the app) and "
        "that private_key_file is the key of the certificate uploaded to the connected app"
    )

    def __init__(
        self,
        system: str,
        token_url: str,
        client_id: str,
        username: str,
        key_file: Path,
        audience: str,
    ) -> None:
        super().__init__(system, token_url)
        self._client_id = client_id
        self._username = username
        self._key_file = key_file
        self._audience = audience

    def token_request(self) -> httpx.Request:
        key = private_key(self.system, self._key_file, "[crm] private_key_file")
        claims = {
            "iss": self._client_id,
            "sub": self._username,
            "aud": self._audience,
            "exp": int(time.time()) + ASSERTION_SECONDS,
        }
        assertion = jwt.encode(claims, key, algorithm="RS256")  # type: ignore[arg-type]
        data = {"grant_type": JWT_BEARER, "assertion": assertion}
        return httpx.Request("POST", self.token_url, data=data)


class NetSuiteM2M(TokenAuth):
    """NetSuite's OAuth 2.0 client credentials (M2M): a JWT client assertion signed with the
    certificate's key, the certificate id as `kid`."""

    check = (
        "check [erp] client_id (the integration record's consumer key), certificate_id and "
        "that private_key_file is the key of the certificate mapped to the integration"
    )

    def __init__(
        self,
        system: str,
        token_url: str,
        client_id: str,
        certificate_id: str,
        key_file: Path,
        algorithm: str,
        scopes: list[str],
    ) -> None:
        super().__init__(system, token_url)
        self._client_id = client_id
        self._certificate_id = certificate_id
        self._key_file = key_file
        self._algorithm = algorithm
        self._scopes = scopes

    def token_request(self) -> httpx.Request:
        key = private_key(self.system, self._key_file, "[erp] private_key_file")
        now = int(time.time())
        claims = {
            "iss": self._client_id,
            "scope": self._scopes,
            "aud": self.token_url,
            "iat": now,
            "exp": now + ASSERTION_SECONDS,
            "jti": str(uuid.uuid4()),
        }
        headers = {"kid": self._certificate_id, "typ": "JWT"}
        assertion = jwt.encode(claims, key, algorithm=self._algorithm, headers=headers)  # type: ignore[arg-type]
        data = {
            "grant_type": "client_credentials",
            "client_assertion_type": JWT_ASSERTION,
            "client_assertion": assertion,
        }
        return httpx.Request("POST", self.token_url, data=data)


class WorkdayRefreshToken(TokenAuth):
    """Workday's API client: the integration system user's refresh token exchanged for an
    access token at the tenant's token endpoint, the client by HTTP Basic."""

    check = "check [hcm] client_id, client_secret and refresh_token (it may have been revoked)"

    def __init__(
        self, system: str, token_url: str, client_id: str, secret: str, refresh_token: str
    ) -> None:
        super().__init__(system, token_url)
        self._basic = httpx.BasicAuth(client_id, secret)
        self._refresh_token = refresh_token

    def token_request(self) -> httpx.Request:
        data = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
        return next(self._basic.auth_flow(httpx.Request("POST", self.token_url, data=data)))
