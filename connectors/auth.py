"""OAuth 2.0 client-credentials auth for httpx, refreshing the token once on a 401.

Only a refusal of the credentials (401, 403, or 400 `invalid_client`, RFC 6749 5.2) says to
check them; a token endpoint that is down or busy (5xx, 408, 429) is retryable like any other
outage, honouring its Retry-After.
"""

from collections.abc import Generator

import httpx

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


def token_error(system: str, token_url: str, response: httpx.Response) -> ConnectorError:
    """The typed error for a token request that got no token."""
    status = response.status_code
    reason = _reason(response)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status >= 500:
        message = f"token endpoint {token_url} is unavailable ({status}): {reason}"
        return SystemUnavailable(system, message, status=status, retry_after=retry_after)
    if status in (408, 429):
        message = f"token endpoint {token_url} is busy ({status}): {reason}"
        return RateLimited(system, message, status=status, retry_after=retry_after)
    if status in (401, 403) or reason.startswith("invalid_client"):
        message = f"token request refused ({status} {reason}): check the client id and secret"
        return AuthenticationFailed(system, message, status=status)
    if status == 400:
        return RequestRejected(system, f"token request refused (400 {reason})", status=400)
    return error_for_status(
        system, status, f"token endpoint {token_url} answered {status}: {reason}"
    )


class ClientCredentialsAuth(httpx.Auth):
    """Fetches a bearer token from the system's token endpoint and keeps it until a 401."""

    requires_response_body = True

    def __init__(self, system: str, token_url: str, client_id: str, client_secret: str) -> None:
        self._system = system
        self.token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._token: str | None = None

    def _token_request(self) -> httpx.Request:
        return httpx.Request(
            "POST",
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            },
        )

    def _take_token(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            raise token_error(self._system, self.token_url, response)
        self._token = str(response.json()["access_token"])

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None:
            self._take_token((yield self._token_request()))
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            self._take_token((yield self._token_request()))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request
