"""The sandbox systems' admin routes over HTTP: faults, reset and HCM worker events."""

from datetime import date
from enum import StrEnum
from typing import Any

import httpx

from cli.output import CliError
from config import Settings

ADMIN_TIMEOUT = 5.0


class System(StrEnum):
    CRM = "crm"
    ERP = "erp"
    PSA = "psa"
    HCM = "hcm"


def base_url(settings: Settings, system: System) -> str:
    url: str = getattr(settings, system.value).url
    return url.rstrip("/")


async def admin(
    settings: Settings, system: System, method: str, route: str, body: Any = None
) -> httpx.Response:
    """Call one admin route; an unreachable sandbox or a refusal is one CliError line."""
    url = base_url(settings, system)
    name = system.value.upper()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=ADMIN_TIMEOUT) as http:
            response = await http.request(method, f"/__admin/{route}", json=body)
    except httpx.TransportError:
        raise CliError(
            f"sandbox {name} is not running at {url}: "
            "start it with `psflow sandbox up` or `psflow dev`"
        ) from None
    if not response.is_success:
        raise CliError(f"sandbox {name} at {url} refused {method} {route}: {_detail(response)}")
    return response


def _detail(response: httpx.Response) -> str:
    """The system's own message when its error body has a plain one, else the raw text."""
    try:
        message = response.json().get("error")
    except (ValueError, AttributeError):
        message = None
    if isinstance(message, str) and message:
        return message[:300]
    return response.text[:300] or response.reason_phrase


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
