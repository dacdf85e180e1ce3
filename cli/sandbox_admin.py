"""The sandbox systems' admin routes over HTTP: faults and reset."""

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
        detail = response.text[:300] or response.reason_phrase
        raise CliError(f"sandbox {name} at {url} refused {method} {route}: {detail}")
    return response


async def add_fault(settings: Settings, system: System, spec: dict[str, Any]) -> dict[str, Any]:
    """Arm a fault (a FaultSpec as JSON); returns the armed fault."""
    armed: dict[str, Any] = (await admin(settings, system, "POST", "faults", spec)).json()
    return armed


async def clear_faults(settings: Settings, system: System) -> None:
    await admin(settings, system, "DELETE", "faults")


async def reset(settings: Settings, system: System) -> None:
    """Back to the seed data, with no faults."""
    await admin(settings, system, "POST", "reset")
