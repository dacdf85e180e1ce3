"""The sandbox systems' admin routes over HTTP: faults, reset, volume seeds, HCM events."""

import asyncio
import time
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import httpx

from cli.output import CliError
from config import Settings

ADMIN_TIMEOUT = 5.0
# A month-end volume seed writes 100,000 entries in the PSA: give it minutes, not seconds.
SEED_TIMEOUT = 600.0
START_HINT = "`psflow sandbox up` or `psflow dev`"


class System(StrEnum):
    CRM = "crm"
    ERP = "erp"
    PSA = "psa"
    HCM = "hcm"


def base_url(settings: Settings, system: System) -> str:
    url: str = getattr(settings, system.value).url
    return url.rstrip("/")


async def admin(
    settings: Settings,
    system: System,
    method: str,
    route: str,
    body: Any = None,
    wait_seconds: float = ADMIN_TIMEOUT,
) -> httpx.Response:
    """Call one admin route; an unreachable sandbox or a refusal is one CliError line."""
    url = base_url(settings, system)
    name = system.value.upper()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=wait_seconds) as http:
            response = await http.request(method, f"/__admin/{route}", json=body)
    except httpx.ReadTimeout:  # it is up, but busy beyond the wait
        raise CliError(f"sandbox {name} at {url} did not answer {method} {route} in time") from None
    except httpx.TransportError:
        raise CliError(
            f"sandbox {name} is not running at {url}: start it with {START_HINT}"
        ) from None
    if not response.is_success:
        raise CliError(f"sandbox {name} at {url} refused {method} {route}: {_detail(response)}")
    return response


def _detail(response: httpx.Response) -> str:
    """The system's own message from its error body, else the raw text."""
    try:
        message = _message(response.json())
    except ValueError:
        message = None
    return (message or response.text or response.reason_phrase)[:300]


def _message(body: Any) -> str | None:
    """The first plain message in an error body, however the system nests it: HCM's
    {"error": str}, PSA's {"error": {"message"}}, Salesforce's [{"message"}], NetSuite's
    {"o:errorDetails": [{"detail"}]}, FastAPI's {"detail"}."""
    if isinstance(body, str):
        return body or None
    if isinstance(body, list):
        return next((m for m in map(_message, body) if m), None)
    if isinstance(body, dict):
        keys = ("error", "message", "o:errorDetails", "detail")
        return next((m for m in (_message(body.get(k)) for k in keys) if m), None)
    return None


async def add_fault(settings: Settings, system: System, spec: dict[str, Any]) -> dict[str, Any]:
    """Arm a fault (a FaultSpec as JSON); returns the armed fault."""
    armed: dict[str, Any] = (await admin(settings, system, "POST", "faults", spec)).json()
    return armed


async def clear_faults(settings: Settings, system: System) -> None:
    await admin(settings, system, "DELETE", "faults")


async def reset(settings: Settings, system: System) -> None:
    """Back to the seed data, with no faults."""
    await admin(settings, system, "POST", "reset")


async def worker_event(
    settings: Settings,
    kind: str,
    worker_id: str,
    changes: dict[str, str],
    effective_date: date | None,
) -> dict[str, Any]:
    """Apply a hire, transfer or termination in the sandbox HCM; returns the recorded event."""
    body: dict[str, Any] = {"kind": kind, "worker_id": worker_id, "changes": changes}
    if effective_date is not None:
        body["effective_date"] = effective_date.isoformat()
    event: dict[str, Any] = (await admin(settings, System.HCM, "POST", "events", body)).json()
    return event


async def running(settings: Settings, system: System) -> bool:
    """Whether a sandbox system answers its health route."""
    try:
        await admin(settings, system, "GET", "health")
    except CliError:
        return False
    return True


async def require_running(settings: Settings, systems: list[System]) -> None:
    """One CliError naming every system that is down and how to start it."""
    up = await asyncio.gather(*(running(settings, s) for s in systems))
    down = [s for s, ok in zip(systems, up, strict=True) if not ok]
    if not down:
        return
    names = [s.value.upper() for s in down]
    urls = ", ".join(base_url(settings, s) for s in down)
    if len(down) == 1:
        raise CliError(f"sandbox {names[0]} is not running at {urls}: start it with {START_HINT}")
    named = ", ".join(names[:-1]) + " and " + names[-1]
    raise CliError(f"sandbox {named} are not running at {urls}: start them with {START_HINT}")


@dataclass(frozen=True)
class Seeded:
    """One system's answer to a volume seed: its counts (or why it failed) and the time taken."""

    system: System
    counts: dict[str, Any]
    seconds: float
    error: str | None = None


async def seed_volume(settings: Settings, system: System, body: dict[str, Any]) -> Seeded:
    """POST /__admin/seed/volume on one system; a refusal comes back as the error."""
    began = time.monotonic()
    try:
        response = await admin(settings, system, "POST", "seed/volume", body, SEED_TIMEOUT)
    except CliError as exc:
        return Seeded(system, {}, time.monotonic() - began, str(exc))
    counts = response.json()
    if not isinstance(counts, dict):
        counts = {"answer": counts}
    return Seeded(system, counts, time.monotonic() - began)


async def seed_volumes(
    settings: Settings, systems: list[System], body: dict[str, Any]
) -> list[Seeded]:
    """Seed every system concurrently, once all of them are known to be running."""
    await require_running(settings, systems)
    return list(await asyncio.gather(*(seed_volume(settings, s, body) for s in systems)))
