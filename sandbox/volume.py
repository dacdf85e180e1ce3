"""Month-end volume: projects, workers, time entries and expenses every sandbox agrees on.

Everything is derived from a Volume (projects, entries, period, seed), so each system seeds
its own slice of the same data without talking to the others.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

from models.billing import ApprovalState, check_period, period_bounds
from sandbox import catalog
from sandbox import volume_words as words
from sandbox.rates import rate_for

__all__ = [
    "INVALID_KINDS",
    "Volume",
    "VolumeEntry",
    "VolumeExpense",
    "VolumeMilestone",
    "VolumeProject",
    "VolumeWorker",
    "rate_for",
    "volume_entries",
    "volume_expenses",
    "volume_projects",
    "volume_workers",
]

INACTIVE_WORKER = "inactive worker"
CLOSED_PROJECT = "closed project"
NO_RATE = "no rate for role"
UNKNOWN_COST_CENTER = "unknown cost center"
ALREADY_POSTED = "already posted"
INVALID_KINDS = (INACTIVE_WORKER, CLOSED_PROJECT, NO_RATE, UNKNOWN_COST_CENTER, ALREADY_POSTED)
UNRATED_ROLE = "Data Scientist"
MISSING_COST_CENTER = "CC-9999"
APPROVERS = ("paula", "victor")

# ---- the generated records ----------------------------------------------------------------


@dataclass(frozen=True)
class Volume:
    projects: int = 500
    entries: int = 100_000
    period: str = "2026-10"
    seed: int = 7

    def __post_init__(self) -> None:
        check_period(self.period)
        if self.projects < 1 or self.entries < 0:
            raise ValueError("a volume needs at least one project and no negative entries")


@dataclass(frozen=True)
class VolumeMilestone:
    id: str
    name: str
    due_date: date
    amount: Decimal
    completed_on: date | None


@dataclass(frozen=True)
class VolumeProject:
    """A project PRJ-V<number> in the PSA, job erp_job_id in the ERP, opportunity in the CRM."""

    number: int
    psa_id: str
    external_id: str
    name: str
    account_index: int
    currency: str
    billing_type: str
    rate_card: str
    erp_job_id: str
    erp_customer_external_id: str
    opportunity_id: str
    closed_on: date | None
    approver: str
    milestones: tuple[VolumeMilestone, ...]
    budget: Decimal  # in currency; a Fixed Fee project's milestones sum to it
    start_date: date


@dataclass(frozen=True)
class VolumeWorker:
    """An HCM worker: a PSA resource and the ERP employee hcm-<worker_id>."""

    worker_id: str
    name: str
    role: str
    legal_entity: str
    cost_center: str
    erp_employee_id: str
    inactive: bool


@dataclass(frozen=True)
class VolumeEntry:
    """A time entry; `invalid` names the INVALID_KINDS it was built to be, or None."""

    id: str
    worker_id: str
    project_number: int
    date: date
    hours: Decimal
    role: str
    billable: bool
    notes: str
    cost_center: str
    status: ApprovalState
    approver: str | None
    invalid: str | None


@dataclass(frozen=True)
class VolumeExpense:
    """An expense in the project's currency; expenses are always valid."""

    id: str
    worker_id: str
    project_number: int
    date: date
    amount: Decimal
    currency: str
    category: str
    billable: bool
    notes: str
    cost_center: str
    status: ApprovalState
    approver: str | None


_FX = {cur: catalog.RATE_CARDS[f"STD-{cur}-2026"][2]["Partner"] / 450 for cur in catalog.CURRENCIES}
_LOWER_ROLE = dict(zip(catalog.ROLES, catalog.ROLES[1:], strict=False))


def _share(count: int, percent: float) -> int:
    return max(1, round(count * percent / 100))


@dataclass(frozen=True)
class _Plan:
    projects: list[VolumeProject]
    workers: list[VolumeWorker]
    teams: dict[int, list[VolumeWorker]]
    inactive: list[VolumeWorker]
    closed: list[int]
    weekdays: list[date]
    weights: list[float]


def _weekdays(period: str) -> list[date]:
    first, last = period_bounds(period)
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    return [d for d in days if d.weekday() < 5]


def _milestones(
    rng: random.Random, number: int, budget: Decimal, days: list[date]
) -> tuple[VolumeMilestone, ...]:
    """Three milestones; the first falls due among the days given and is usually complete."""
    due = rng.choice(days[len(days) // 4 :])
    completed = rng.choice(days[: days.index(due) + 1][-3:]) if rng.random() < 0.75 else None
    first, rest = (budget * Decimal("0.4")).quantize(Decimal("1")), budget * Decimal("0.3")
    amounts = [first, rest.quantize(Decimal("1"))]
    amounts.append(budget - sum(amounts))
    dues = [due, due + timedelta(days=35), due + timedelta(days=70)]
    completions = [completed, None, None]
    return tuple(
        VolumeMilestone(f"MS-V{number:05d}-{k + 1}", name, dues[k], amounts[k], completions[k])
        for k, name in enumerate(words.MILESTONES)
    )


def _project(rng: random.Random, v: Volume, number: int, closed: bool) -> VolumeProject:
    days = _weekdays(v.period)
    index = rng.choice(catalog.PREEXISTING_CUSTOMERS)
    account, _, entity = catalog.ACCOUNTS[index]
    currency = catalog.LEGAL_ENTITIES[entity][2]
    fixed = rng.random() < 0.1
    budget = (rng.randrange(60, 600) * _FX[currency]).quantize(Decimal("1")) * 1000
    closed_on = rng.choice(days[len(days) // 3 : 2 * len(days) // 3]) if closed else None
    open_days = [d for d in days if closed_on is None or d <= closed_on]
    return VolumeProject(
        number=number,
        psa_id=f"PRJ-V{number:05d}",
        external_id=f"vol-{number:05d}",
        name=f"{account} - {rng.choice(words.ENGAGEMENTS)} V{number:05d}",
        account_index=index,
        currency=currency,
        billing_type="Fixed Fee" if fixed else "Time and Materials",
        rate_card=f"STD-{currency}-2026",
        erp_job_id=str(700000 + number),
        erp_customer_external_id=catalog.customer_external_id(catalog.account_id(index)),
        opportunity_id=catalog.sf_id("006", 50000 + number),
        closed_on=closed_on,
        approver=rng.choice(APPROVERS),
        milestones=_milestones(rng, number, budget, open_days) if fixed else (),
        budget=budget,
        start_date=days[0] - timedelta(days=rng.randint(20, 300)),
    )


def _worker(rng: random.Random, i: int, inactive: bool) -> VolumeWorker:
    entity = rng.choices(list(words.ENTITY_WEIGHTS), weights=list(words.ENTITY_WEIGHTS.values()))[0]
    centers = [code for code, (owner, _) in catalog.COST_CENTERS.items() if owner == entity]
    return VolumeWorker(
        worker_id=str(60001 + i),
        name=f"{rng.choice(words.FIRST_NAMES)} {rng.choice(words.LAST_NAMES)}",
        role=rng.choices(catalog.ROLES, weights=words.ROLE_WEIGHTS)[0],
        legal_entity=entity,
        cost_center=rng.choice(centers),
        erp_employee_id=str(800001 + i),
        inactive=inactive,
    )


@lru_cache(maxsize=4)
def _plan(v: Volume) -> _Plan:
    rng = random.Random(f"psflow-volume/{v.seed}/{v.period}/{v.projects}")
    closed = set(rng.sample(range(1, v.projects + 1), _share(v.projects, 1)))
    projects = [_project(rng, v, n, n in closed) for n in range(1, v.projects + 1)]
    count = max(10, round(v.projects * 0.8))
    inactive = set(rng.sample(range(count), _share(count, 1)))
    workers = [_worker(rng, i, i in inactive) for i in range(count)]
    active = [w for w in workers if not w.inactive]
    teams: dict[int, list[VolumeWorker]] = {}
    for project in projects:
        entity = catalog.ACCOUNTS[project.account_index][2]
        local = [w for w in active if w.legal_entity == entity]
        pool = local if len(local) >= 8 else active
        teams[project.number] = rng.sample(pool, min(len(pool), rng.randint(3, 8)))
    return _Plan(
        projects=projects,
        workers=workers,
        teams=teams,
        inactive=[w for w in workers if w.inactive],
        closed=sorted(closed),
        weekdays=_weekdays(v.period),
        weights=[rng.uniform(0.3, 2.0) for _ in projects],
    )


def volume_projects(v: Volume) -> list[VolumeProject]:
    """The volume's projects, PRJ-V00001 onwards; about 1% close mid-period."""
    return list(_plan(v).projects)


def volume_workers(v: Volume) -> list[VolumeWorker]:
    """About projects * 0.8 workers (at least 10); about 1% inactive in the ERP."""
    return list(_plan(v).workers)


def _day(rng: random.Random, plan: _Plan, project: VolumeProject, after_close: bool) -> date:
    if project.closed_on is None:
        return rng.choice(plan.weekdays)
    if after_close:
        return rng.choice([d for d in plan.weekdays if d > project.closed_on])
    return rng.choice([d for d in plan.weekdays if d <= project.closed_on])


def _spread(rng: random.Random, plan: _Plan, count: int) -> list[int]:
    """Project numbers for count records: every project at least once when there are enough."""
    numbers = [p.number for p in plan.projects] if count >= len(plan.projects) else []
    numbers += rng.choices(
        [p.number for p in plan.projects], weights=plan.weights, k=count - len(numbers)
    )
    rng.shuffle(numbers)
    return numbers


def _status(rng: random.Random, project: VolumeProject) -> tuple[ApprovalState, str | None]:
    draw = rng.random()
    if draw < 0.97:
        return ApprovalState.APPROVED, project.approver
    if draw < 0.99:
        return ApprovalState.SUBMITTED, None
    return ApprovalState.REJECTED, project.approver


def volume_entries(v: Volume) -> Iterator[VolumeEntry]:
    """Exactly v.entries time entries; about 1% of them (all approved) of each invalid kind."""
    plan = _plan(v)
    rng = random.Random(f"psflow-entries/{v.seed}/{v.period}/{v.projects}/{v.entries}")
    wanted = min(v.entries, _share(v.entries, 1) * len(INVALID_KINDS))
    invalid = {n: INVALID_KINDS[k % 5] for k, n in enumerate(rng.sample(range(v.entries), wanted))}
    numbers = _spread(rng, plan, v.entries)
    prefix = f"TE-{v.period.replace('-', '')}"
    for n, number in enumerate(numbers):
        kind = invalid.get(n)
        if kind == CLOSED_PROJECT:
            number = rng.choice(plan.closed)
        project = plan.projects[number - 1]
        team = plan.inactive if kind == INACTIVE_WORKER else plan.teams[number]
        worker = rng.choice(team)
        role = worker.role
        if kind == NO_RATE:
            role = UNRATED_ROLE
        elif rng.random() < 0.05:
            role = _LOWER_ROLE.get(role, role)
        billable = rng.random() < 0.92
        status, approver = (
            (ApprovalState.APPROVED, project.approver) if kind else _status(rng, project)
        )
        yield VolumeEntry(
            id=f"{prefix}-{n + 1:07d}",
            worker_id=worker.worker_id,
            project_number=number,
            date=_day(rng, plan, project, kind == CLOSED_PROJECT),
            hours=rng.choices(words.HOURS, weights=words.HOUR_WEIGHTS)[0],
            role=role,
            billable=billable,
            notes=rng.choice(words.BILLABLE_NOTES if billable else words.INTERNAL_NOTES),
            cost_center=MISSING_COST_CENTER if kind == UNKNOWN_COST_CENTER else worker.cost_center,
            status=status,
            approver=approver,
            invalid=kind,
        )


def volume_expenses(v: Volume) -> Iterator[VolumeExpense]:
    """About entries / 20 expenses by the projects' teams, in the projects' currencies."""
    plan = _plan(v)
    rng = random.Random(f"psflow-expenses/{v.seed}/{v.period}/{v.projects}/{v.entries}")
    prefix = f"EX-{v.period.replace('-', '')}"
    categories = list(words.EXPENSES)
    for n, number in enumerate(_spread(rng, plan, round(v.entries / 20))):
        project = plan.projects[number - 1]
        worker = rng.choice(plan.teams[number])
        category = rng.choice(categories)
        low, high, billable_share, note = words.EXPENSES[category]
        amount = Decimal(f"{rng.uniform(low, high):.2f}") * _FX[project.currency]
        status, approver = _status(rng, project)
        yield VolumeExpense(
            id=f"{prefix}-{n + 1:07d}",
            worker_id=worker.worker_id,
            project_number=number,
            date=_day(rng, plan, project, False),
            amount=amount.quantize(Decimal("0.01")),
            currency=project.currency,
            category=category,
            billable=rng.random() < billable_share,
            notes=note,
            cost_center=worker.cost_center,
            status=status,
            approver=approver,
        )
