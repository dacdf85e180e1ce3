"""Month-end at several volumes, each on a freshly started worker, so the worker's peak RSS
(VmHWM) is that volume's alone. Each volume has a period of its own (a month-end id is its
period's); a new seed replaces the sandbox's previous volume."""

from dataclasses import dataclass

from bench.month_end import MonthEndFigures, measure_month_end
from bench.stack import Stack, rss_mib
from sandbox.volume import Volume


@dataclass
class VolumeFigures:
    month_end: MonthEndFigures
    peak_mib: float
    """The worker's peak RSS, started just before this month-end."""


async def month_end_on_fresh_worker(
    stack: Stack, volume: Volume, at_once: int, *, count_release: bool = False
) -> VolumeFigures:
    """Restart the worker, then seed, run and release the volume's month-end."""
    await stack.start_worker()
    month = await measure_month_end(stack, volume, at_once, count_release=count_release)
    return VolumeFigures(month, rss_mib(stack.worker_pid, "VmHWM"))
