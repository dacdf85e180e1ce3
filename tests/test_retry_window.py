"""The retry window: a system's transient trouble is waited out until `[retry]` says enough."""

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput

from activities.retry_window import RetryWindowInterceptor
from config import ConfigError, RetrySettings, load_settings
from connectors.errors import RateLimited, RequestRejected, SystemUnavailable

WINDOWS = RetrySettings().windows()


class Failing(ActivityInboundInterceptor):
    """The activity itself: raises what it is given."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        raise self.error


async def attempt(error: Exception, *, waited: timedelta, attempt: int = 7) -> BaseException:
    """What one attempt raises when the activity was first scheduled `waited` ago."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        attempt=attempt,
        scheduled_time=datetime.now(UTC) - waited,
        heartbeat_timeout=None,
    )
    inbound = RetryWindowInterceptor(WINDOWS).intercept_activity(Failing(error))

    async def run() -> None:
        await inbound.execute_activity(None)  # type: ignore[arg-type]

    with pytest.raises(Exception) as raised:
        await env.run(run)
    return raised.value


async def test_a_retryable_error_inside_the_window_stays_retryable() -> None:
    error = SystemUnavailable("erp", "answered 503", status=503)
    assert await attempt(error, waited=timedelta(hours=5)) is error


async def test_the_window_closing_makes_the_last_error_final_and_names_the_system() -> None:
    error = SystemUnavailable("erp", "answered 503", status=503)
    closed = await attempt(error, waited=timedelta(hours=6, seconds=1))
    assert isinstance(closed, ApplicationError) and closed.non_retryable
    assert closed.type == "RetryWindowClosed"
    assert closed.message == (
        "ERP still failing after 6 h (7 attempts), giving up: erp: answered 503"
    )
    assert closed.__cause__ is error


async def test_each_system_has_its_own_window() -> None:
    crm = RateLimited("crm", "answered 429", status=429)
    closed = await attempt(crm, waited=timedelta(hours=2, minutes=1))
    assert isinstance(closed, ApplicationError) and closed.message.startswith(
        "CRM still failing after 2 h"
    )


async def test_a_failure_naming_no_system_gets_the_store_window() -> None:
    error = RuntimeError("database is locked")
    assert await attempt(error, waited=timedelta(minutes=29)) is error
    closed = await attempt(error, waited=timedelta(minutes=31))
    assert isinstance(closed, ApplicationError) and closed.message == (
        "STORE still failing after 30 min (7 attempts), giving up: database is locked"
    )


async def test_a_permanent_refusal_passes_through_unchanged() -> None:
    refused = RequestRejected("erp", "answered 400", status=400)
    assert await attempt(refused, waited=timedelta(hours=10)) is refused


async def test_attempts_that_only_ever_timed_out_give_up_after_twice_the_longest_window() -> None:
    # Timeouts (a hung call, a dead worker) never reach the error check: bounded here.
    refused = RequestRejected("erp", "answered 400", status=400)
    assert await attempt(refused, waited=timedelta(hours=11)) is refused  # still called
    closed = await attempt(refused, waited=timedelta(hours=12, minutes=1))
    assert isinstance(closed, ApplicationError) and closed.type == "RetryWindowClosed"
    assert closed.message == (
        "no attempt finished in 12 h (7 attempts): each timed out or its worker stopped, giving up"
    )


def test_windows_are_read_from_the_environment_and_a_bad_one_is_named() -> None:
    settings = load_settings(env={"PSFLOW_RETRY_ERP": "90m", "PSFLOW_RETRY_CRM": "PT3H"})
    assert settings.retry.erp == timedelta(minutes=90)
    assert settings.retry.crm == timedelta(hours=3)
    with pytest.raises(ConfigError) as bad:
        load_settings(env={"PSFLOW_RETRY_PSA": "0s"})
    assert "[retry] psa (PSFLOW_RETRY_PSA)" in str(bad.value)
    assert "a retry window must be at least 1 second, e.g. '2h'" in str(bad.value)
