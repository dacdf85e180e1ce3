"""What every connector shares: one httpx client, a concurrency limit, error classification."""

import asyncio
from typing import Any, ClassVar, Self

import httpx

from connectors.auth import TokenAuth
from connectors.errors import SystemUnavailable, error_for_status, parse_retry_after
from connectors.tracing import STATUS, request_span

USER_AGENT = "psflow/0.1"


def client(
    base_url: str,
    auth: httpx.Auth,
    timeout_seconds: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        timeout=timeout_seconds,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        auth=auth,
        transport=transport,
    )


class Connector:
    """Base for one system's client. Subclasses set `system` and `token_path`, and read their
    system's errors."""

    system: ClassVar[str]
    token_path: ClassVar[str]

    def __init__(self, client: httpx.AsyncClient, concurrency: int = 5) -> None:
        self._client = client
        self._limit = asyncio.Semaphore(concurrency)

    @classmethod
    def build(
        cls,
        base_url: str,
        auth: httpx.Auth,
        *,
        concurrency: int = 5,
        timeout_seconds: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Self:
        """A connector with its own client: base URL, timeout, User-Agent and auth
        (connectors/systems.py builds each from the settings)."""
        return cls(client(base_url, auth, timeout_seconds, transport), concurrency)

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    def _unreachable(self, method: str, url: str, exc: httpx.TransportError) -> str:
        """What could not be reached, the token endpoint or the call itself, and how."""
        how = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
        auth = self._client.auth
        try:
            sent = exc.request
        except RuntimeError:  # raised before any request was sent
            sent = None
        if sent is not None and isinstance(auth, TokenAuth):
            if str(sent.url) == auth.token_url:
                return (
                    f"token endpoint {auth.token_url} is unavailable: {how}: {type(exc).__name__}"
                )
        if how == "timed out":
            return f"{method} {url} timed out"
        return f"{method} {url} failed: {type(exc).__name__}: {exc}"

    async def aclose(self) -> None:
        await self._client.aclose()

    def error_message(self, response: httpx.Response) -> tuple[str, list[str]]:
        """The system's own message and the fields it names; subclasses parse their format."""
        return response.text or response.reason_phrase, []

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; any failure becomes a typed ConnectorError. Traced as a span."""
        with request_span(self.system, method, url, self._client.base_url) as span:
            response = await self._exchange(method, url, json=json, params=params, headers=headers)
            span.set_attribute(STATUS, response.status_code)
            return response

    async def _exchange(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        async with self._limit:
            try:
                response = await self._client.request(
                    method, url, json=json, params=params, headers=headers
                )
            except httpx.TransportError as exc:
                raise SystemUnavailable(self.system, self._unreachable(method, url, exc)) from None
        if response.is_success:
            return response
        message, fields = self.error_message(response)
        raise error_for_status(
            self.system,
            response.status_code,
            f"{method} {url} answered {response.status_code}: {message}",
            fields=fields,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
