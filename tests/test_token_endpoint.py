"""The OAuth token endpoint: a refusal of the credentials is permanent and says so; an
endpoint that is down or busy is retryable and says that instead."""

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest

from connectors.erp import ErpConnector
from connectors.errors import (
    AuthenticationFailed,
    ConnectorError,
    RateLimited,
    RequestRejected,
    SystemUnavailable,
)
from tests.vendor_keys import auth, settings_for

BASE_URL = "http://erp.test"
TOKEN_URL = BASE_URL + ErpConnector.token_path
CREDENTIALS = "check [erp] client_id"
Answer = Callable[[httpx.Request], httpx.Response]


def erp_with_token_endpoint(token: Answer) -> ErpConnector:
    """An ERP whose record routes answer 404 NONEXISTENT_ID and whose token endpoint `token`
    answers; the record routes want the bearer token "t"."""

    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            return token(request)
        if request.headers.get("Authorization") != "Bearer t":
            return httpx.Response(401, json={"title": "Unauthorized"})
        missing = {"detail": "no such record", "o:errorCode": "NONEXISTENT_ID"}
        return httpx.Response(404, json={"title": "Not Found", "o:errorDetails": [missing]})

    keys = auth(settings_for(BASE_URL, "psflow", "secret"), "erp")
    return ErpConnector.build(BASE_URL, keys, transport=httpx.MockTransport(handler))


async def failure(token: Answer) -> ConnectorError:
    erp = erp_with_token_endpoint(token)
    try:
        with pytest.raises(ConnectorError) as caught:
            await erp.get_customer("sfdc-001")
    finally:
        await erp.aclose()
    return caught.value


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_token_endpoint_answering_5xx_is_unavailable_not_a_credentials_problem(
    status: int,
) -> None:
    error = await failure(lambda _: httpx.Response(status, headers={"Retry-After": "30"}))

    assert isinstance(error, SystemUnavailable) and error.non_retryable is False
    assert error.next_retry_delay == timedelta(seconds=30)
    assert f"token endpoint {TOKEN_URL} is unavailable ({status})" in error.message
    assert CREDENTIALS not in error.message


async def test_a_busy_token_endpoint_is_rate_limited_for_as_long_as_it_asks() -> None:
    error = await failure(lambda _: httpx.Response(429, headers={"Retry-After": "12"}))

    assert isinstance(error, RateLimited) and error.non_retryable is False
    assert error.next_retry_delay == timedelta(seconds=12)
    assert "token endpoint" in error.message and CREDENTIALS not in error.message


@pytest.mark.parametrize("exc", [httpx.ConnectError, httpx.ReadTimeout])
async def test_an_unreachable_token_endpoint_is_unavailable(
    exc: type[httpx.TransportError],
) -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise exc("connection refused", request=request)

    error = await failure(unreachable)

    assert isinstance(error, SystemUnavailable) and error.non_retryable is False
    assert f"token endpoint {TOKEN_URL}" in error.message
    assert CREDENTIALS not in error.message


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(401, json={"error": "invalid_client"}),
        httpx.Response(400, json={"error": "invalid_client", "error_description": "bad secret"}),
        httpx.Response(403, json={"error": "access_denied"}),
        httpx.Response(401, json={"detail": "invalid_client"}),  # FastAPI's shape (the sandbox)
    ],
)
async def test_refused_credentials_fail_for_good_and_say_which_to_check(
    answer: httpx.Response,
) -> None:
    error = await failure(lambda _: answer)

    assert isinstance(error, AuthenticationFailed) and error.non_retryable is True
    assert CREDENTIALS in error.message


async def test_another_refusal_names_the_endpoints_reason_not_the_credentials() -> None:
    answer = httpx.Response(400, json={"error": "unsupported_grant_type"})
    error = await failure(lambda _: answer)

    assert isinstance(error, RequestRejected) and error.non_retryable is True
    assert not isinstance(error, AuthenticationFailed)
    assert "unsupported_grant_type" in error.message and CREDENTIALS not in error.message


async def test_the_next_call_after_an_outage_gets_a_token() -> None:
    answers = iter([httpx.Response(503), httpx.Response(200, json={"access_token": "t"})])
    erp = erp_with_token_endpoint(lambda _: next(answers))
    with pytest.raises(SystemUnavailable):
        await erp.get_customer("sfdc-001")
    assert await erp.get_customer("sfdc-001") is None  # a retry goes through
    await erp.aclose()


async def test_a_refresh_after_a_401_that_meets_an_outage_is_unavailable() -> None:
    answers = iter([httpx.Response(200, json={"access_token": "expired"}), httpx.Response(503)])
    error = await failure(lambda _: next(answers))

    assert isinstance(error, SystemUnavailable)
    assert "token endpoint" in error.message and CREDENTIALS not in error.message
