"""How big each part of the benchmark is: the full run, --quick, and the test's miniature."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    sagas: int
    """opportunity-to-project sagas (and as many bare workflows) started at once."""
    projects: int
    entries: int
    """The month-end volume: time entries over projects."""
    naive: int
    """Entries the naive script posts one call each."""
    release_at_once: int
    """Approvals in flight while month-end's invoices are released."""
    waiting: int
    """Time-to-bill runs left waiting for finance while the worker's memory is read."""
    one_by_one: int
    """Invoices released one after another on a quiet system, for the latency."""
    period: str = "2026-10"
    waiting_period: str = "2026-09"
    settle_seconds: float = 2.0
    """Pause before reading the worker's memory, so start-up and in-flight work settle."""
    phase_timeout: float = 900.0
    """A phase not done by then has hung (e.g. a workflow task failing in the worker)."""


FULL = Scale(
    sagas=200,
    projects=500,
    entries=100_000,
    naive=5_000,
    release_at_once=20,
    waiting=1_000,
    one_by_one=50,
)
QUICK = Scale(
    sagas=30,
    projects=50,
    entries=5_000,
    naive=500,
    release_at_once=10,
    waiting=100,
    one_by_one=20,
)
TINY = Scale(sagas=3, projects=2, entries=200, naive=20, release_at_once=2, waiting=5, one_by_one=3)
