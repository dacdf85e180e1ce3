"""How big each part of the benchmark is: the full run, --quick, and the test's miniature."""

from dataclasses import dataclass

from sandbox.volume import Volume


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
    volumes: tuple[int, ...] = ()
    """Month-end volumes (entries over `projects`), each on a fresh worker for its peak RSS;
    the one of `entries` is the main month-end."""
    latency_ms: int = 300
    """The delay of every ERP, PSA and CRM request in the month-end at latency; 0: none."""
    latency_naive: int = 50
    """Entries the naive script posts at that latency (extrapolated to the month-end's)."""
    period: str = "2026-10"
    waiting_period: str = "2026-09"
    volume_periods: tuple[str, ...] = ("2026-08", "2026-11", "2026-06", "2026-05")
    """The periods of the other volumes, in order (each month-end has a period of its own)."""
    latency_period: str = "2026-12"
    settle_seconds: float = 2.0
    """Pause before reading the worker's memory, so start-up and in-flight work settle."""
    phase_timeout: float = 900.0
    """A phase not done by then has hung (e.g. a workflow task failing in the worker)."""

    def __post_init__(self) -> None:
        others = len(set(self.volumes) - {self.entries})
        periods = [self.period, self.waiting_period, self.latency_period, *self.volume_periods]
        if len(set(periods)) != len(periods) or others > len(self.volume_periods):
            raise ValueError("each month-end needs a period of its own")


FULL = Scale(
    sagas=200,
    projects=500,
    entries=100_000,
    naive=5_000,
    release_at_once=20,
    waiting=1_000,
    one_by_one=50,
    volumes=(50_000, 100_000, 200_000),
)
QUICK = Scale(
    sagas=30,
    projects=50,
    entries=5_000,
    naive=500,
    release_at_once=10,
    waiting=100,
    one_by_one=20,
    volumes=(2_500, 5_000, 10_000),
)
TINY = Scale(
    sagas=3,
    projects=2,
    entries=200,
    naive=20,
    release_at_once=2,
    waiting=5,
    one_by_one=3,
    volumes=(100, 200, 400),
    latency_ms=20,
    latency_naive=5,
)


def volume_series(scale: Scale) -> list[Volume]:
    """The month-end volumes in order, the main one (`entries`, `period`) among them."""
    others = iter(scale.volume_periods)
    return [
        Volume(
            projects=scale.projects,
            entries=entries,
            period=scale.period if entries == scale.entries else next(others),
        )
        for entries in sorted(set(scale.volumes) | {scale.entries})
    ]
