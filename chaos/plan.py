"""What a chaos run does and when: the plan's numbers, and the schedule drawn from its seed.

The schedule is deterministic (same plan, same events at the same offsets); how the processes
answer in between is not, so two runs with one seed differ in detail but not in shape.
"""

import random
from dataclasses import dataclass, field

SYSTEMS = ("crm", "erp", "psa")
"""The systems a saga or month-end talks to: storms fall on them."""
NETSUITE = "netsuite"
TRYTON = "tryton"
ERPS = (NETSUITE, TRYTON)


@dataclass(frozen=True)
class Plan:
    sagas: int = 100
    """opportunity-to-project sagas, started over the first 70% of the window."""
    worker_kills: int = 10
    server_kills: int = 3
    outage_seconds: float = 120.0
    """How long every route of the outage system answers 503."""
    outage_system: str = "erp"
    storms: int = 4
    """429 storms: every route of one system answers 429 with Retry-After for a while."""
    storm_seconds: float = 10.0
    lost_answers: int = 6
    """Writes the system does but whose answer is lost (a 503 instead), one call each."""
    cancel_share: float = 0.1
    """Share of the sagas cancelled, each at a step drawn for it."""
    window_seconds: float = 300.0
    """The chaos lasts this long (longer if the outage ends later)."""
    settle_seconds: float = 180.0
    """After the chaos: how long runs may take to finish before they count as stuck."""
    projects: int = 10
    entries: int = 1_000
    """The month-end's volume: time entries over projects (plus about 5% expenses)."""
    period: str = "2026-10"
    seed: int = 1
    erp: str = NETSUITE
    """The worker's ERP: the sandbox NetSuite, or a trytond of the run's own."""

    def __post_init__(self) -> None:
        if self.sagas < 1 or self.window_seconds <= 0 or self.settle_seconds < 0:
            raise ValueError("a plan needs sagas, a window and a settle time that is not negative")
        if not 0 <= self.cancel_share <= 1:
            raise ValueError("the cancel share is between 0 and 1")
        if min(self.worker_kills, self.server_kills, self.storms, self.lost_answers) < 0:
            raise ValueError("kills, storms and lost answers cannot be negative")
        if self.outage_system not in SYSTEMS:
            raise ValueError(f"the outage system is one of {', '.join(SYSTEMS)}")
        if self.erp not in ERPS:
            raise ValueError(f"the ERP is one of {', '.join(ERPS)}")

    @property
    def cancels(self) -> int:
        return round(self.sagas * self.cancel_share)

    @property
    def fault_systems(self) -> tuple[str, ...]:
        """The systems whose sandbox injects faults (429s, lost answers, slowed calls): a
        trytond has no fault routes, so with Tryton only the CRM and PSA."""
        return SYSTEMS if self.erp == NETSUITE else ("crm", "psa")


FULL = Plan()
"""`make chaos`: the issue's full run (at least 100 sagas, 10 worker and 3 server kills)."""
SMALL = Plan(
    sagas=12,
    worker_kills=1,
    server_kills=1,
    outage_seconds=20.0,
    storms=1,
    storm_seconds=5.0,
    lost_answers=2,
    cancel_share=0.2,
    window_seconds=40.0,
    settle_seconds=75.0,
    projects=2,
    entries=100,
)
"""tests/test_chaos.py's run inside `make test`."""


@dataclass(frozen=True)
class Kill:
    at: float
    process: str
    """"worker" or "temporal" (the dev server)."""
    down_for: float


@dataclass(frozen=True)
class Storm:
    at: float
    system: str
    seconds: float
    retry_after: int


@dataclass(frozen=True)
class Schedule:
    """Offsets in seconds from the start of the chaos."""

    starts: list[float]
    """When each saga starts, by its index."""
    cancels: dict[int, str]
    """Saga index -> the step it is cancelled at."""
    kills: list[Kill]
    outage_at: float
    storms: list[Storm]
    lost_answers: list[tuple[float, int]]
    """When a write's answer is lost, and which of the writes it is (an index)."""
    month_end_at: float
    end: float
    """When the chaos ends: the window, or the outage's end if later."""
    notes: list[str] = field(default_factory=list)


def schedule(plan: Plan, steps: list[str], writes: int) -> Schedule:
    """Draw every event from the plan's seed; `steps` are the saga steps a cancel may hit,
    `writes` how many kinds of write may lose their answer (on the plan's fault systems)."""
    rng = random.Random(f"psflow-chaos/{plan.seed}")
    window = plan.window_seconds
    starts = sorted(rng.uniform(0, 0.7 * window) for _ in range(plan.sagas))
    chosen = sorted(rng.sample(range(plan.sagas), plan.cancels))
    cancels = {index: rng.choice(steps) for index in chosen}
    kinds = ["worker"] * plan.worker_kills + ["temporal"] * plan.server_kills
    rng.shuffle(kinds)
    kills = sorted(
        (
            Kill(rng.uniform(0.05 * window, 0.9 * window), kind, round(rng.uniform(0.5, 4.0), 1))
            for kind in kinds
        ),
        key=lambda k: k.at,
    )
    latest = max(0.1 * window, 0.9 * window - plan.outage_seconds)
    outage_at = rng.uniform(0.1 * window, latest)
    storms = sorted(
        (
            Storm(
                rng.uniform(0.05 * window, 0.95 * window),
                rng.choice(plan.fault_systems),
                plan.storm_seconds,
                rng.randint(1, 3),
            )
            for _ in range(plan.storms)
        ),
        key=lambda s: s.at,
    )
    lost = sorted(
        (rng.uniform(0.05 * window, 0.5 * window), rng.randrange(writes))
        for _ in range(plan.lost_answers)
    )
    month_end_at = rng.uniform(0.1 * window, 0.4 * window)
    end = max(window, outage_at + plan.outage_seconds)
    return Schedule(starts, cancels, kills, outage_at, storms, lost, month_end_at, end)
