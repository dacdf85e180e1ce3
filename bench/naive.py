"""The naive script month-end is compared with: post each entry with one call, in a loop,
through the same ERP connector (upsert_time_bills with one posting per call)."""

import time
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice

from bench.stack import Stack
from connectors import systems
from models.billing import ApprovalState, PostingOutcome, TimePosting
from sandbox.volume import Volume, rate_for, volume_entries, volume_projects, volume_workers

CENT = Decimal("0.01")
SOURCE = "bench/naive"


@dataclass
class NaiveFigures:
    entries: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.entries / self.seconds


def naive_postings(volume: Volume, count: int) -> list[TimePosting]:
    """The first `count` valid approved entries of the volume as time bills of their own
    (external ids of their own, so they are written, not found already posted)."""
    projects = volume_projects(volume)
    employees = {w.worker_id: w.erp_employee_id for w in volume_workers(volume)}
    valid = (
        e
        for e in volume_entries(volume)
        if e.status is ApprovalState.APPROVED and e.invalid is None
    )
    postings = []
    for entry in islice(valid, count):
        project = projects[entry.project_number - 1]
        hourly = entry.billable and project.billing_type == "Time and Materials"
        rate = rate_for(project.rate_card, entry.role, entry.date) if hourly else None
        postings.append(
            TimePosting(
                external_id=f"naive-{entry.id}",
                entry_id=entry.id,
                employee_id=employees[entry.worker_id],
                project_id=project.erp_job_id,
                date=entry.date,
                hours=entry.hours,
                role=entry.role,
                billable=rate is not None,
                rate=rate,
                amount=(entry.hours * rate).quantize(CENT) if rate else Decimal(0),
                cost_center=entry.cost_center,
                approver=entry.approver or "",
                source=SOURCE,
                memo=entry.notes,
            )
        )
    return postings


async def measure_naive(stack: Stack, volume: Volume, count: int) -> NaiveFigures:
    """Post `count` entries one call each, one after another; the time it took."""
    erp = systems.netsuite_erp(stack.settings)
    postings = naive_postings(volume, count)
    try:
        await erp.currency_code("")  # its token (and a first read) before the clock starts
        started = time.perf_counter()
        for posting in postings:
            (result,) = await erp.upsert_time_bills([posting])
            if result.outcome is PostingOutcome.FAILED:
                raise RuntimeError(f"naive posting {posting.external_id}: {result.message}")
        seconds = time.perf_counter() - started
    finally:
        await erp.aclose()
    return NaiveFigures(len(postings), seconds)
