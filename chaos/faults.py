"""The sandbox's fault routes, as the chaos uses them: an outage, 429 storms, slow steps and
lost answers."""

import asyncio
from collections import Counter
from dataclasses import dataclass

import httpx

from bench.stack import Stack
from chaos.patience import sleep_until
from models.opportunity_to_project import project_external_id
from workflows import opportunity_to_project as saga

EVERY_ROUTE = "*"


@dataclass
class Armed:
    system: str
    status: int
    seconds: float
    refused: int = 0
    """Calls the fault answered (read just before it lapses)."""
    stopped: bool = False
    """The system itself was stopped (a SIGKILLed trytond) rather than answering `status`:
    `refused` counts the activity attempts that could not reach it."""


async def arm(stack: Stack, armed: Armed, retry_after: int | None = None) -> None:
    """Every route of the system answers `status` for `seconds`; then count the calls it hit."""
    url = f"{stack.url(armed.system)}/__admin/faults"
    spec = {
        "path": EVERY_ROUTE,
        "status": armed.status,
        "down_for_seconds": armed.seconds,
        "retry_after": retry_after,
    }
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(url, json=spec)
        response.raise_for_status()
        until = response.json()["until"]  # tells this fault from another on the system
        # Lapsed faults are dropped at the next call: read the hits while it still stands.
        await asyncio.sleep(max(0.0, armed.seconds - 0.3))
        faults = (await http.get(url)).json()
    armed.refused = sum(f["hits"] for f in faults if f["until"] == until)


async def arm_at(stack: Stack, moment: float, armed: Armed, retry_after: int | None) -> None:
    """`arm` at a time.monotonic() moment."""
    await sleep_until(moment)
    await arm(stack, armed, retry_after)


async def clear_all(stack: Stack, systems: tuple[str, ...]) -> None:
    """Disarm every fault (the chaos is over)."""
    async with httpx.AsyncClient(timeout=10) as http:
        for system in systems:
            (await http.delete(f"{stack.url(system)}/__admin/faults")).raise_for_status()


SLOW_MS = 3000
"""How long a slowed call takes: the cancel watcher looks every quarter second."""


def step_call(step: str, opportunity_id: str) -> tuple[str, str, str]:
    """(system, method, path glob) of the call that does a saga step's work, this deal's own
    where the path names it."""
    eid = project_external_id(opportunity_id)
    calls = {
        saga.READ: ("crm", "GET", f"*/sobjects/Opportunity/{opportunity_id}"),
        saga.VALIDATE: ("psa", "GET", "*/api/v1/rate-cards/*"),
        saga.CUSTOMER: ("erp", "PUT", "*/record/v1/customer/eid:*"),
        saga.ERP_PROJECT: ("erp", "PUT", f"*/record/v1/job/eid:{eid}"),
        saga.PSA_PROJECT: ("psa", "POST", "*/api/v1/projects"),
        saga.STAFFING: ("psa", "POST", "*/api/v1/projects/*/staffing-requests"),
        saga.FORECAST: ("psa", "POST", "*/api/v1/projects/*/forecast-revisions"),
        saga.WRITE_BACK: ("crm", "PATCH", f"*/sobjects/Opportunity/{opportunity_id}"),
    }
    return calls[step]


async def slow_step(stack: Stack, step: str, opportunity_id: str, systems: tuple[str, ...]) -> None:
    """The next call of the step answers SLOW_MS late, so a cancel at that step finds its
    activity in flight (the sandbox answers in milliseconds otherwise). Another deal's run
    may take the slow call instead: that is chaos too. A step of a system not in `systems`
    (Tryton's) is not slowed."""
    system, method, path = step_call(step, opportunity_id)
    if system not in systems:
        return
    spec = {"path": path, "method": method, "status": None, "latency_ms": SLOW_MS, "count": 1}
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(f"{stack.url(system)}/__admin/faults", json=spec)
        response.raise_for_status()


WRITES = [
    ("erp", "PUT", "*/record/v1/customer/eid:*"),
    ("erp", "PUT", "*/record/v1/job/eid:*"),
    ("psa", "POST", "*/api/v1/projects"),
    ("psa", "POST", "*/api/v1/projects/*/staffing-requests"),
    ("psa", "POST", "*/api/v1/projects/*/forecast-revisions"),
    ("crm", "PATCH", "*/sobjects/Opportunity/*"),
    ("crm", "PATCH", "*/composite/sobjects"),
    ("erp", "POST", "*/record/v1/timeBill/upsertList"),
    ("erp", "POST", "*/record/v1/invoice"),
]
"""The creating writes of the saga and of month-end: each must be safe to repeat."""


def writes_on(systems: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """The WRITES to these systems (those whose sandbox can lose an answer)."""
    return [write for write in WRITES if write[0] in systems]


@dataclass
class LostAnswer:
    system: str
    method: str
    path: str
    lost: bool = False
    """Whether a call came and lost its answer before the chaos ended."""


async def lose_answer(stack: Stack, moment: float, answer: LostAnswer) -> None:
    """From `moment`, the next matching call is done but answered 503, as behind a gateway
    that timed out: the caller retries a write that happened."""
    await sleep_until(moment)
    spec = {"path": answer.path, "method": answer.method, "status": 503, "after": True}
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(f"{stack.url(answer.system)}/__admin/faults", json=spec)
        response.raise_for_status()


async def count_lost(stack: Stack, answers: list[LostAnswer]) -> None:
    """Mark the answers that were lost: their faults are spent (before the faults are cleared)."""
    armed: Counter[tuple[str, str, str]] = Counter()
    async with httpx.AsyncClient(timeout=10) as http:
        for system in {a.system for a in answers}:
            faults = (await http.get(f"{stack.url(system)}/__admin/faults")).json()
            armed.update(
                (system, f["method"], f["path"])
                for f in faults
                if f.get("after") and f["remaining"] > 0
            )
    for answer in answers:
        key = (answer.system, answer.method, answer.path)
        answer.lost = armed[key] == 0
        armed[key] -= 1
