"""What the stack's processes spend: CPU seconds per process, HTTP calls per system.

The calls are counted by the sandbox itself: a fault with no status passes every request
through (after `latency_ms`, if any) and counts it (`hits` in `GET /__admin/faults`), one
fault per route kind. Admin routes (seeding, faults) are neither delayed nor counted.
"""

from collections.abc import Iterable
from typing import Any

import httpx

from bench.stack import Stack

# (pid, CPU seconds so far) per process, as Stack.cpu() reads them.
CpuReading = dict[str, tuple[int, float]]
Calls = dict[str, dict[str, int]]
"""system -> route kind -> requests."""

# Counted route kinds per system, most specific first (a request counts under the first).
ROUTES = {
    "crm": {"SOQL": "*/query*", "other": "*"},
    "erp": {
        "token": "*/auth/oauth2/*",
        "job": "*/record/v1/job*",
        "invoice": "*/record/v1/invoice*",
        "SuiteQL": "*/suiteql*",
        "other": "*",
    },
    "psa": {
        "projects": "*/api/v1/projects*",
        "billing projects": "*/api/v1/billing/projects*",
        "time entries": "*/api/v1/time-entries*",
        "other": "*",
    },
}
SYSTEMS = tuple(ROUTES)
FOREVER = 1_000_000_000


def cpu_used(before: CpuReading, after: CpuReading) -> dict[str, float]:
    """CPU seconds each process used between two readings (a restarted one from zero)."""
    used = {}
    for name, (pid, seconds) in after.items():
        earlier_pid, earlier = before.get(name, (pid, 0.0))
        used[name] = seconds - (earlier if earlier_pid == pid else 0.0)
    return used


def _faults_url(stack: Stack, system: str) -> str:
    return f"{stack.url(system)}/__admin/faults"


async def arm_counters(
    http: httpx.AsyncClient,
    stack: Stack,
    systems: Iterable[str] = SYSTEMS,
    *,
    latency_ms: int = 0,
    for_seconds: float | None = None,
) -> None:
    """Replace each system's faults with pass-through counters, one per route kind; each
    delays its requests by `latency_ms`; armed `for_seconds`, or until cleared."""
    lasting: dict[str, Any] = (
        {"down_for_seconds": for_seconds} if for_seconds else {"count": FOREVER}
    )
    for system in systems:
        url = _faults_url(stack, system)
        (await http.delete(url)).raise_for_status()
        for pattern in ROUTES[system].values():
            body = {"path": pattern, "method": "*", "status": None, "latency_ms": latency_ms}
            (await http.post(url, json=body | lasting)).raise_for_status()


async def read_counters(
    http: httpx.AsyncClient, stack: Stack, systems: Iterable[str] = SYSTEMS
) -> Calls:
    """The requests each system answered since its counters were armed; clears them."""
    calls = {}
    for system in systems:
        url = _faults_url(stack, system)
        response = await http.get(url)
        response.raise_for_status()
        hits = {f["path"]: f["hits"] for f in response.json()}
        calls[system] = {name: hits.get(pattern, 0) for name, pattern in ROUTES[system].items()}
        (await http.delete(url)).raise_for_status()
    return calls


async def clear_counters(stack: Stack, systems: Iterable[str] = SYSTEMS) -> None:
    """Clear every fault of the systems (after a phase, whether or not it failed)."""
    async with httpx.AsyncClient(timeout=30) as http:
        for system in systems:
            (await http.delete(_faults_url(stack, system))).raise_for_status()


def total(calls: Calls, system: str) -> int:
    return sum(calls.get(system, {}).values())
