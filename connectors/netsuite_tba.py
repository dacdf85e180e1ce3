"""NetSuite token-based authentication: OAuth 1.0a, each request signed with HMAC-SHA256
(oauthlib), the account id as the realm. For accounts that use TBA rather than OAuth 2.0."""

from collections.abc import Generator

import httpx
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, Client


class NetSuiteTba(httpx.Auth):
    """Signs every request; there is no token to fetch, so a 401 is final."""

    def __init__(
        self,
        account: str,
        consumer_key: str,
        consumer_secret: str,
        token_id: str,
        token_secret: str,
    ) -> None:
        self._client = Client(
            consumer_key,
            client_secret=consumer_secret,
            resource_owner_key=token_id,
            resource_owner_secret=token_secret,
            signature_method=SIGNATURE_HMAC_SHA256,
            realm=account,
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # The body of a JSON request is not signed (only form bodies are, RFC 5849 3.4.1.3).
        _, headers, _ = self._client.sign(str(request.url), request.method)
        request.headers["Authorization"] = headers["Authorization"]
        yield request
