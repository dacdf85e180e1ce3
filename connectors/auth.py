"""OAuth 2.0 client-credentials auth for httpx, refreshing the token once on a 401."""

from collections.abc import Generator

import httpx

from connectors.errors import error_for_status


class ClientCredentialsAuth(httpx.Auth):
    """Fetches a bearer token from the system's token endpoint and keeps it until a 401."""

    requires_response_body = True

    def __init__(self, system: str, token_url: str, client_id: str, client_secret: str) -> None:
        self._system = system
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._token: str | None = None

    def _token_request(self) -> httpx.Request:
        return httpx.Request(
            "POST",
            self._token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            },
        )

    def _take_token(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            raise error_for_status(
                self._system,
                response.status_code,
                f"token request refused ({response.status_code}): check the client id and secret",
            )
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
