"""Payloads and failures from a workflow history, as short plain text."""

from datetime import timedelta
from typing import Any

from google.protobuf.duration_pb2 import Duration
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter

SHORT = 160  # characters a detail may take before it is cut
UNREADABLE = "(unreadable payload)"
# Input fields that name who asked for a workflow.
STARTER_FIELDS = ("requested_by", "user", "started_by")


def decode(payload: Payload) -> Any:
    """One payload as plain JSON-like data; the type is not known here, so no model is built."""
    try:
        return pydantic_data_converter.payload_converter.from_payload(payload)
    except Exception:  # an encrypted or foreign encoding: say so rather than fail the command
        return UNREADABLE


def decode_all(payloads: Payloads) -> list[Any]:
    return [decode(p) for p in payloads.payloads]


def first(payloads: Payloads) -> Any:
    """The first argument or result, or None when there is none."""
    values = decode_all(payloads)
    return values[0] if values else None


def short(text: str, limit: int = SHORT) -> str:
    """One line, at most `limit` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def scalar(value: Any) -> str:
    if isinstance(value, list):
        if len(value) <= 2:
            return "[" + ", ".join(scalar(v) for v in value) + "]"
        return f"[{scalar(value[0])}, +{len(value) - 1}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={scalar(v)}" for k, v in list(value.items())[:3]) + "}"
    return str(value)


def summary(value: Any, limit: int = 120) -> str:
    """A value in a line: `key=value` pairs of a model (nulls and empties left out)."""
    if value is None:
        return ""
    if isinstance(value, dict):
        pairs = [f"{k}={scalar(v)}" for k, v in value.items() if v not in (None, "", [], {})]
        return short(" ".join(pairs), limit)
    return short(scalar(value), limit)


def person(value: Any) -> tuple[str | None, str]:
    """Who sent an approve/reject/correct payload, and their reason, comment or fields."""
    if not isinstance(value, dict):
        return None, summary(value)
    user = value.get("user")
    parts = [str(value[k]) for k in ("reason", "comment") if value.get(k)]
    fields = value.get("fields")
    if isinstance(fields, dict) and fields:
        parts.insert(0, " ".join(f"{k}={v}" for k, v in fields.items()))
    if not parts and user is None:
        parts = [summary(value)]
    return (str(user) if user else None), short("; ".join(parts))


def starter(value: Any) -> str | None:
    """Who asked for a workflow, when its input says so."""
    if isinstance(value, dict):
        for key in STARTER_FIELDS:
            if value.get(key):
                return str(value[key])
    return None


def root(failure: Failure) -> Failure:
    while failure.HasField("cause"):
        failure = failure.cause
    return failure


def failure_type(failure: Failure) -> str | None:
    if failure.HasField("application_failure_info") and failure.application_failure_info.type:
        return failure.application_failure_info.type
    if failure.HasField("timeout_failure_info"):
        return "Timeout"
    if failure.HasField("canceled_failure_info"):
        return "Cancelled"
    if failure.HasField("terminated_failure_info"):
        return "Terminated"
    return None


def failure_text(failure: Failure) -> str:
    """The root cause, short: `Type: message`."""
    cause = root(failure)
    kind = failure_type(cause)
    message = cause.message or kind or "failed"
    return short(f"{kind}: {message}" if kind and kind != message else message)


def span(value: timedelta | Duration) -> str:
    """A duration in a few characters: 40ms, 1.5s, 45s, 12m 5s, 2d 4h."""
    delta = value.ToTimedelta() if isinstance(value, Duration) else value
    seconds = delta.total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.1f}s".replace(".0s", "s")
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    parts = [f"{n}{unit}" for n, unit in units if n]
    return " ".join(parts[:2])


def words(enum_name: str, prefix: str) -> str:
    """`RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED` -> `maximum attempts reached`."""
    return enum_name.removeprefix(prefix).replace("_", " ").lower()
