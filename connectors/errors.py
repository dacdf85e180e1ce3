"""Typed connector errors: each is an ApplicationError that says whether Temporal may retry.

Retryable: connection errors, timeouts, 408, 429 and 5xx (with the system's Retry-After as
next_retry_delay). Permanent: every other 4xx, carrying the system's own message.
"""

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

from temporalio.exceptions import ActivityError, ApplicationError, FailureError

MAX_MESSAGE_CHARS = 8000


class ConnectorError(ApplicationError):
    """A call to an outside system failed."""

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        system: str,
        message: str,
        *,
        status: int | None = None,
        fields: list[str] | None = None,
        retry_after: timedelta | None = None,
    ) -> None:
        text = f"{system}: {message}"[:MAX_MESSAGE_CHARS]
        super().__init__(
            text,
            {"system": system, "status": status, "fields": fields or []},
            type=type(self).__name__,
            non_retryable=not self.retryable,
            next_retry_delay=retry_after,
        )
        self.system = system
        self.status = status
        self.fields = fields or []


class SystemUnavailable(ConnectorError):
    """Connection refused, timed out, or a 5xx: the system may answer later."""

    retryable = True


class RateLimited(ConnectorError):
    """429 (or 408): too many requests; wait as long as the system asks."""

    retryable = True


class RequestRejected(ConnectorError):
    """A 4xx the system will give again: the request itself is wrong."""


class NotFound(RequestRejected):
    """404: the record does not exist."""


class NothingToBill(RequestRejected):
    """An invoice draft without a line: nothing in the period is left to bill."""


class RecordInUse(RequestRejected):
    """A delete the system refuses because other records still depend on the record."""


class AuthenticationFailed(RequestRejected):
    """401/403 even with a fresh token: the credentials are wrong."""


def error_for_status(
    system: str,
    status: int,
    message: str,
    *,
    fields: list[str] | None = None,
    retry_after: timedelta | None = None,
) -> ConnectorError:
    """The one place where an HTTP status becomes retryable or permanent."""
    cls: type[ConnectorError]
    if status in (408, 429):
        cls = RateLimited
    elif status >= 500:
        cls = SystemUnavailable
    elif status == 404:
        cls = NotFound
    elif status in (401, 403):
        cls = AuthenticationFailed
    else:
        cls = RequestRejected
    return cls(system, message, status=status, fields=fields, retry_after=retry_after)


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


def root_application_error(exc: BaseException) -> ApplicationError | None:
    """The ApplicationError under ActivityError / WorkflowFailureError wrappers, if any."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, ApplicationError):
            return current
        if isinstance(current, FailureError | ActivityError) or current.__cause__ is not None:
            current = current.__cause__
        else:
            return None
    return None


def error_type(exc: BaseException) -> str | None:
    app = root_application_error(exc)
    return app.type if app else None


def error_details(exc: BaseException) -> dict[str, Any]:
    app = root_application_error(exc)
    if app and app.details and isinstance(app.details[0], dict):
        return app.details[0]
    return {}
