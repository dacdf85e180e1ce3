"""Seeding month-end volume into the sandbox, and what a correct billing run must produce."""

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models.billing import ApprovalState, time_to_bill_id
from models.status import WaitKind, WorkflowStatus
from sandbox.rates import rate_for
from sandbox.volume import (
    Volume,
    VolumeEntry,
    VolumeExpense,
    VolumeProject,
    volume_entries,
    volume_expenses,
    volume_projects,
)
from tests.support import Sandbox, Systems, write_settings
from tests.test_opportunity_to_project import status_when, waiting_for

CENT = Decimal("0.01")


@contextlib.contextmanager
def volume_estate(
    folder: Path,
    temporal_env: WorkflowEnvironment,
    namespace: str,
    volume: Volume,
    extra_config: str = "",
) -> Iterator[Path]:
    """A module's own estate: its config (`namespace` on the suite's dev server, plus
    `extra_config`) and a sandbox of its own seeded with `volume`, stopped on exit."""
    target = temporal_env.client.service_client.config.target_host
    config = write_settings(folder, temporal_address=target, namespace=namespace)
    config.write_text(config.read_text() + extra_config)
    box = Sandbox(config)
    box.start()
    try:
        seed_volume(box, volume)
        yield config
    finally:
        box.stop()


def seed_volume(sandbox: Sandbox, volume: Volume) -> dict[str, Any]:
    """Replace the sandbox's volume data in the PSA, ERP and CRM; the PSA's counts."""
    body = {
        "projects": volume.projects,
        "entries": volume.entries,
        "period": volume.period,
        "seed": volume.seed,
    }
    answers = {}
    for system in ("psa", "erp", "crm"):
        response = httpx.post(f"{sandbox.urls[system]}/__admin/seed/volume", json=body, timeout=120)
        response.raise_for_status()
        answers[system] = response.json()
    return answers["psa"]


@dataclass
class Expected:
    """A project's month as the generator made it, priced independently of psflow."""

    project: VolumeProject
    valid: list[VolumeEntry]
    invalid: dict[str, str]
    """entry id -> invalid kind"""
    expenses: list[VolumeExpense]
    approved: list[VolumeEntry]

    @property
    def time_total(self) -> Decimal:
        if self.project.billing_type != "Time and Materials":
            return Decimal(0)
        total = Decimal(0)
        for entry in self.valid:
            if entry.billable:
                rate = rate_for(self.project.rate_card, entry.role, entry.date)
                assert rate is not None
                total += (entry.hours * rate).quantize(CENT)
        return total

    @property
    def expense_total(self) -> Decimal:
        return sum((e.amount for e in self.expenses if e.billable), Decimal(0))

    @property
    def milestone_total(self) -> Decimal:
        return sum((m.amount for m in self.project.milestones if m.completed_on), Decimal(0))

    @property
    def invoice_total(self) -> Decimal:
        return self.time_total + self.expense_total + self.milestone_total


def expected(volume: Volume, number: int) -> Expected:
    project = volume_projects(volume)[number - 1]
    approved = [
        e
        for e in volume_entries(volume)
        if e.project_number == number and e.status is ApprovalState.APPROVED
    ]
    expenses = [
        e
        for e in volume_expenses(volume)
        if e.project_number == number and e.status is ApprovalState.APPROVED
    ]
    return Expected(
        project=project,
        valid=[e for e in approved if e.invalid is None],
        invalid={e.id: e.invalid for e in approved if e.invalid},
        expenses=expenses,
        approved=approved,
    )


def pick_project(
    volume: Volume, *, billing_type: str, with_invalid: bool, billable_invalid: str | None = None
) -> Expected:
    """The first open project of this billing type with invalid entries if asked (and a
    billable one of the kind `billable_invalid`, if given)."""
    for project in volume_projects(volume):
        if project.billing_type != billing_type or project.closed_on:
            continue
        found = expected(volume, project.number)
        if not found.valid or (with_invalid and not found.invalid):
            continue
        if billable_invalid and not any(
            e.billable and e.invalid == billable_invalid for e in found.approved
        ):
            continue
        return found
    raise AssertionError(f"the volume has no {billing_type} project to test with")


async def awaiting_finance(handle: WorkflowHandle, within: float = 60) -> WorkflowStatus:
    """The status once the run waits for a finance approver."""
    return await status_when(handle, waiting_for(WaitKind.APPROVAL), within)


async def posted_entry_ids(systems: Systems, expected: Expected, period: str) -> Counter[str]:
    """Entries this project's time-to-bill posted (not what others put in the ERP)."""
    bills = await systems.erp.time_bills_for_project(expected.project.erp_job_id, period)
    source = time_to_bill_id(expected.project.psa_id, period)
    return Counter(b.entry_id for b in bills if b.source == source)
