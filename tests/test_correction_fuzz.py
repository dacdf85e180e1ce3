"""A seeded fuzz of the correction surface: nothing a person types can wedge a run.

For every correctable field of every workflow that waits for corrections, by update and by
signal: random strings, numbers, empty values, path and control characters, overlong values
and unknown fields. Each one is refused naming the field (by the validator, or by the rules
once taken, as a new wait naming it), no workflow task ever fails, and afterwards a valid
correction still completes the run. Real dev server, worker and sandbox.
"""

import inspect
import random
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import FailureError

from config import Settings
from models.hire_to_staff import resource_external_id
from models.people import Correction, shown
from models.status import WaitKind, WorkflowStatus
from sandbox.hcm.seed import DEMO_WORKERS
from tests.saga_support import fresh_deals, fresh_prehire
from tests.support import Sandbox, Systems, proven
from tests.test_correction_refusals import (
    answered,
    finish_hire,
    result_of,
    task_failures,
    when,
)
from tests.test_hire_to_staff import hcm_event, hire
from tests.test_opportunity_to_project import start
from workflows import deal_rules, staffing_rules
from workflows.catalog import ALL_WORKFLOWS
from workflows.hire_to_staff import HireToStaff
from workflows.opportunity_to_project import OpportunityToProject

SEED = 20261111
Handle = WorkflowHandle[Any, Any]
# Each field gets every edge value once (by update or by signal) and a few random ones.
EDGE_VALUES = [
    "", " ", "0", "-1", "-0", "NaN", "Infinity", "1e999999", "9" * 30, "0.0000001",
    ".", "..", "/", "a/b", "%2e%2e", "?x=1#y", "\x00", "a\nb", "\t", "x" * 201,
    "null", "true", "[]", "{}", "Ünïcødé 🙂", "'; DROP TABLE workers; --",
]  # fmt: skip
RANDOM_PER_FIELD = 2  # random strings and random numbers, per field and channel
UNKNOWN_FIELDS = ["stage", "amount", "cost-rate", "Cost_Rate", "cost rate", "", "id", "x" * 50]
ALPHABET = string.ascii_letters + string.digits + string.punctuation + " éßж中"


def random_string(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 24)))


def random_number(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return str(rng.randint(-(10**15), 10**15))
    if kind == 1:
        return f"{rng.uniform(-1e6, 1e6):.{rng.randint(0, 8)}f}"
    if kind == 2:
        return f"{rng.randint(1, 999)}e{rng.randint(-30, 30)}"
    return rng.choice(["1,000.00", "95,50", "$95", "95 USD", "1_000", "0x1F", "½"])


def fuzz_plan(rng: random.Random, fields: tuple[str, ...]) -> dict[str, list[dict[str, str]]]:
    """The corrections to send, by channel: every field gets half the edge values by update
    and the other half by signal, random values by both, and unknown fields ride along."""
    plan: dict[str, list[dict[str, str]]] = {"update": [], "signal": []}
    for field in fields:
        edges = EDGE_VALUES[:]
        rng.shuffle(edges)
        for index, channel in enumerate(plan):
            values = edges[index::2] + [random_string(rng) for _ in range(RANDOM_PER_FIELD)]
            values += [random_number(rng) for _ in range(RANDOM_PER_FIELD)]
            plan[channel] += [{field: value} for value in values]
    for corrections in plan.values():
        for unknown in UNKNOWN_FIELDS:
            known = rng.choice(fields)
            corrections.append({known: random_string(rng), unknown: random_string(rng)})
        rng.shuffle(corrections)
    return plan


@dataclass(frozen=True)
class Surface:
    """One workflow that waits for corrections, as the fuzz drives it."""

    name: str
    workflow: type
    fields: tuple[str, ...]
    user: str
    start: Callable[[Client, Settings, Sandbox], Awaitable[Handle]]
    fix: Callable[[Handle, Systems], Awaitable[dict[str, str]]]
    """A correction that makes the subject valid again, whatever the fuzz left in it."""
    finish: Callable[[Handle, Settings, Systems], Awaitable[None]]
    accepts: Callable[[str, str], bool] = lambda field, value: False
    """Whether the rules take this value for this field (then it names no problem)."""


# ---- hire-to-staff: a worker whose cost center belongs to another legal entity ----------


def business_key(handle: Handle) -> str:
    """The worker or deal a run is about: its workflow id after the workflow's name."""
    return handle.id.split("/", 1)[1]


async def start_hire(client: Client, settings: Settings, sandbox: Sandbox) -> Handle:
    worker_id = fresh_prehire(sandbox, DEMO_WORKERS["prehire_foreign_cost_center"])
    hcm_event(sandbox, "hire", worker_id)
    handle: Handle = await hire(client, settings, worker_id)
    return handle


async def fix_hire(handle: Handle, systems: Systems) -> dict[str, str]:
    person = await systems.hcm.get_worker(business_key(handle))
    assert person.manager_id and person.role and person.department
    return {
        "legal_entity": "US01",
        "department": person.department,
        "cost_center": "CC-1200",
        "manager_id": person.manager_id,
        "role": person.role,
        "cost_rate": "120.00",
    }


async def finish_hire_run(handle: Handle, settings: Settings, systems: Systems) -> None:
    assert await finish_hire(settings, handle) in ("assigned", "on bench")
    resource = await systems.psa.find_resource(resource_external_id(business_key(handle)))
    assert resource is not None and resource.cost_center == "CC-1200"
    assert resource.cost_rate == Decimal("120.00")


def positive_amount(field: str, value: str) -> bool:
    """A cost rate the rules take: a positive amount within the model's bounds."""
    try:
        amount = Decimal(value.strip().replace("_", ""))
    except InvalidOperation:
        return False
    return field == "cost_rate" and amount.is_finite() and 0 < amount < 10**12


# ---- opportunity-to-project: a deal on an inactive rate card ----------------------------


async def start_deal(client: Client, settings: Settings, sandbox: Sandbox) -> Handle:
    (deal,) = fresh_deals(sandbox, 1, like="inactive_rate_card")
    return await start(client, settings, deal)


async def fix_deal(handle: Handle, systems: Systems) -> dict[str, str]:
    deal = await systems.crm.get_opportunity(business_key(handle))
    assert deal.legal_entity and deal.billing_terms and deal.billing_type
    return {
        "legal_entity": deal.legal_entity,
        "currency": deal.currency,
        "billing_terms": deal.billing_terms,
        "billing_type": deal.billing_type,
        "rate_card": f"STD-{deal.currency}-2026",
    }


async def finish_deal(handle: Handle, settings: Settings, systems: Systems) -> None:
    result = await result_of(handle)
    assert result.outcome == "completed"
    deal = await systems.crm.get_opportunity(business_key(handle))
    assert deal.rate_card == f"STD-{deal.currency}-2026"
    assert deal.erp_project_id == result.erp_project_id


SURFACES = [
    Surface(
        "hire-to-staff",
        HireToStaff,
        staffing_rules.CORRECTABLE_FIELDS,
        "rita",
        start_hire,
        fix_hire,
        finish_hire_run,
        positive_amount,
    ),
    Surface(
        "opportunity-to-project",
        OpportunityToProject,
        deal_rules.CORRECTABLE_FIELDS,
        "dana",
        start_deal,
        fix_deal,
        finish_deal,
    ),
]


def test_every_workflow_that_takes_corrections_is_fuzzed() -> None:
    takes = {w for w in ALL_WORKFLOWS if "correct_until_valid(" in inspect.getsource(w)}
    assert takes == {s.workflow for s in SURFACES}


# ---- driving one run --------------------------------------------------------------------


def waiting_after(status: WorkflowStatus) -> Callable[[WorkflowStatus], bool]:
    """Waiting for a correction again, in a wait begun after `status` was read."""
    assert status.waiting_for is not None
    since = status.waiting_for.since
    return lambda s: (
        s.waiting_for is not None
        and s.waiting_for.kind == WaitKind.CORRECTION
        and s.waiting_for.since > since
    )


def named(surface: Surface, fields: dict[str, str], message: str) -> bool:
    """Whether a refusal names what is wrong: the unknown fields, else the one field sent."""
    unknown = [name for name in fields if name not in surface.fields]
    if unknown:
        names = [name if name.isidentifier() else shown(name) for name in unknown]
        return "cannot correct" in message and all(name in message for name in names)
    [name] = fields
    return f"{name}: " in message


def events(status: WorkflowStatus, kind: str) -> list[str]:
    return [e.detail for e in status.events if e.kind == kind]


async def waits_again_naming(
    handle: Handle, surface: Surface, fields: dict[str, str], before: WorkflowStatus
) -> WorkflowStatus:
    """After a correction was taken: the run waits again, its problems naming the field unless
    the rules take the value."""
    status = await when(handle, waiting_after(before))
    assert status.waiting_for is not None
    problems = {p.field for p in status.waiting_for.problems}
    for name, value in fields.items():
        assert name in problems or surface.accepts(name, value), (fields, problems)
    return status


def correction(
    settings: Settings, handle: Handle, surface: Surface, fields: dict[str, str]
) -> Correction:
    """The surface user's correction, proven by `settings`' (the worker's) issuer."""
    return proven(settings, handle.id, "correct", Correction(user=surface.user, fields=fields))


async def send_update(
    handle: Handle,
    settings: Settings,
    surface: Surface,
    fields: dict[str, str],
    before: WorkflowStatus,
) -> WorkflowStatus:
    try:
        await answered(handle, "correct", correction(settings, handle, surface, fields))
    except WorkflowUpdateFailedError as refused:
        cause = refused.cause
        message = cause.message if isinstance(cause, FailureError) else str(cause)
        assert named(surface, fields, message), (fields, message)
        return before
    return await waits_again_naming(handle, surface, fields, before)


async def send_signal(
    handle: Handle,
    settings: Settings,
    surface: Surface,
    fields: dict[str, str],
    before: WorkflowStatus,
) -> WorkflowStatus:
    refused, taken = len(events(before, "refused")), len(events(before, "corrected"))
    await handle.signal("correct", correction(settings, handle, surface, fields))
    status = await when(
        handle,
        lambda s: len(events(s, "refused")) > refused or len(events(s, "corrected")) > taken,
    )
    if len(events(status, "refused")) > refused:
        [message] = events(status, "refused")[refused:]
        assert named(surface, fields, message), (fields, message)
        return status
    return await waits_again_naming(handle, surface, fields, before)


@pytest.mark.parametrize("surface", SURFACES, ids=[s.name for s in SURFACES])
async def test_no_correction_wedges_the_run(
    surface: Surface, client: Client, worker: Settings, systems: Systems, sandbox: Sandbox
) -> None:
    rng = random.Random(f"{SEED}/{surface.name}")
    handle = await surface.start(client, worker, sandbox)
    status = await when(handle, lambda s: s.waiting_for is not None)
    assert status.waiting_for is not None and status.waiting_for.kind == WaitKind.CORRECTION

    plan = fuzz_plan(rng, surface.fields)
    for fields in plan["update"]:
        status = await send_update(handle, worker, surface, fields, status)
    for fields in plan["signal"]:
        status = await send_signal(handle, worker, surface, fields, status)
    assert await task_failures(handle) == []

    fix = await surface.fix(handle, systems)
    await handle.execute_update("correct", correction(worker, handle, surface, fix))
    await surface.finish(handle, worker, systems)
    assert await task_failures(handle) == []
