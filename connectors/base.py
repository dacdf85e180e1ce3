"""What every connector shares: one httpx client, a concurrency limit, error classification."""

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Self

import httpx

from connectors.auth import ClientCredentialsAuth
from connectors.errors import SystemUnavailable, error_for_status
from connectors.tracing import STATUS, request_span

USER_AGENT = "psflow/0.1"


def parse_retry_after(value: str | None) -> timedelta | None:
    """Retry-After as seconds or as an HTTP date."""
    if not value:
        return None
    try:
        return timedelta(seconds=max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(timedelta(0), when - datetime.now(UTC))


class Connector:
    """Base for one system's client. Subclasses set `system`, `token_path` and read errors."""

    system: ClassVar[str]
    token_path: ClassVar[str]

    def __init__(self, client: httpx.AsyncClient, concurrency: int = 5) -> None:
        self._client = client
        self._limit = asyncio.Semaphore(concurrency)

    @classmethod
    def build(
        cls,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        concurrency: int = 5,
        timeout_seconds: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Self:
        """A connector with its own client: base URL, timeout, User-Agent and OAuth."""
        base_url = base_url.rstrip("/")
        client = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout_seconds,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            auth=ClientCredentialsAuth(
                cls.system, base_url + cls.token_path, client_id, client_secret
            ),
            transport=transport,
        )
        return cls(client, concurrency)

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
            except httpx.TimeoutException:
                raise SystemUnavailable(self.system, f"{method} {url} timed out") from None
            except httpx.TransportError as exc:
                raise SystemUnavailable(
                    self.system, f"{method} {url} failed: {type(exc).__name__}: {exc}"
                ) from None
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
