"""The month-end volume generator every sandbox seeds from."""

from collections import Counter
from datetime import date
from decimal import Decimal

import pytest

from models.billing import ApprovalState, period_bounds
from sandbox import catalog
from sandbox.rates import PARTNER_RATE_CHANGE
from sandbox.volume import (
    INVALID_KINDS,
    Volume,
    VolumeEntry,
    VolumeProject,
    VolumeWorker,
    rate_for,
    volume_entries,
    volume_expenses,
    volume_projects,
    volume_workers,
)

VOLUME = Volume(projects=60, entries=12_000, period="2026-10", seed=11)


@pytest.fixture(scope="module")
def projects() -> dict[int, VolumeProject]:
    return {p.number: p for p in volume_projects(VOLUME)}


@pytest.fixture(scope="module")
def workers() -> dict[str, VolumeWorker]:
    return {w.worker_id: w for w in volume_workers(VOLUME)}


@pytest.fixture(scope="module")
def entries() -> list[VolumeEntry]:
    return list(volume_entries(VOLUME))


def test_the_same_volume_gives_the_same_data_every_time() -> None:
    small = Volume(projects=8, entries=500, seed=3)
    assert volume_projects(small) == volume_projects(Volume(projects=8, entries=500, seed=3))
    assert volume_workers(small) == volume_workers(Volume(projects=8, entries=500, seed=3))
    assert list(volume_entries(small)) == list(volume_entries(small))
    assert list(volume_expenses(small)) == list(volume_expenses(small))


def test_another_seed_gives_other_entries() -> None:
    first = [(e.worker_id, e.date, e.hours) for e in volume_entries(Volume(entries=300, seed=1))]
    other = [(e.worker_id, e.date, e.hours) for e in volume_entries(Volume(entries=300, seed=2))]
    assert first != other


def test_counts_and_ids_follow_the_volume(
    projects: dict[int, VolumeProject],
    workers: dict[str, VolumeWorker],
    entries: list[VolumeEntry],
) -> None:
    expenses = list(volume_expenses(VOLUME))

    assert len(projects) == 60
    assert len(workers) == 48
    assert len(entries) == 12_000
    assert len(expenses) == 600
    assert entries[0].id == "TE-202610-0000001"
    assert entries[-1].id == "TE-202610-0012000"
    assert expenses[0].id == "EX-202610-0000001"
    assert [p.psa_id for p in projects.values()][:2] == ["PRJ-V00001", "PRJ-V00002"]
    assert {e.project_number for e in entries} == set(projects)
    assert len(volume_workers(Volume(projects=2, entries=10))) == 10


def test_projects_belong_to_existing_customers_in_their_currency(
    projects: dict[int, VolumeProject],
) -> None:
    for p in projects.values():
        entity = catalog.ACCOUNTS[p.account_index][2]
        assert p.account_index in catalog.PREEXISTING_CUSTOMERS
        assert p.currency == catalog.LEGAL_ENTITIES[entity][2]
        assert p.rate_card == f"STD-{p.currency}-2026"
        assert p.external_id == f"vol-{p.number:05d}"
        assert p.erp_job_id == str(700000 + p.number)
        assert p.erp_customer_external_id == f"sfdc-{catalog.account_id(p.account_index)}"
        assert p.opportunity_id == catalog.sf_id("006", 50000 + p.number)
        assert p.approver in ("paula", "victor")
    fixed = [p for p in projects.values() if p.billing_type == "Fixed Fee"]
    assert 0 < len(fixed) < 20
    for p in fixed:
        assert sum(m.amount for m in p.milestones) == p.budget
    assert all(not p.milestones for p in projects.values() if p.billing_type != "Fixed Fee")


def test_consultants_book_weekdays_in_half_hours_mostly_as_their_own_role(
    workers: dict[str, VolumeWorker], entries: list[VolumeEntry]
) -> None:
    first, last = period_bounds(VOLUME.period)
    valid = [e for e in entries if e.invalid is None]

    assert all(first <= e.date <= last and e.date.weekday() < 5 for e in entries)
    assert all(Decimal("0.5") <= e.hours <= 8 and e.hours % Decimal("0.5") == 0 for e in entries)
    own_role = sum(e.role == workers[e.worker_id].role for e in valid)
    assert own_role / len(valid) > 0.9
    assert 0.88 < sum(e.billable for e in entries) / len(entries) < 0.96
    assert all(e.notes for e in entries)
    assert "Workshop prep" in {e.notes for e in entries}


def test_most_entries_are_approved_by_their_projects_manager(
    projects: dict[int, VolumeProject], entries: list[VolumeEntry]
) -> None:
    statuses = Counter(e.status for e in entries)

    assert 0.95 < statuses[ApprovalState.APPROVED] / len(entries) < 0.99
    assert statuses[ApprovalState.SUBMITTED] > 0
    assert statuses[ApprovalState.REJECTED] > 0
    for e in entries:
        if e.status == ApprovalState.SUBMITTED:
            assert e.approver is None
        else:
            assert e.approver == projects[e.project_number].approver


def test_each_invalid_kind_is_one_percent_of_entries_and_all_are_approved(
    entries: list[VolumeEntry],
) -> None:
    kinds = Counter(e.invalid for e in entries if e.invalid)

    assert kinds == {kind: 120 for kind in INVALID_KINDS}
    assert all(e.status == ApprovalState.APPROVED for e in entries if e.invalid)


def test_invalid_entries_are_built_the_way_every_system_recognises_them(
    projects: dict[int, VolumeProject],
    workers: dict[str, VolumeWorker],
    entries: list[VolumeEntry],
) -> None:
    for e in entries:
        project, worker = projects[e.project_number], workers[e.worker_id]
        closed = project.closed_on is not None and e.date > project.closed_on
        rate = rate_for(project.rate_card, e.role, e.date)
        assert worker.inactive == (e.invalid == "inactive worker"), e
        assert closed == (e.invalid == "closed project"), e
        assert (rate is None) == (e.invalid == "no rate for role"), e
        known = e.cost_center in catalog.COST_CENTERS
        assert known == (e.invalid != "unknown cost center"), e
    assert {e.role for e in entries if e.invalid == "no rate for role"} == {"Data Scientist"}
    assert {e.cost_center for e in entries if e.invalid == "unknown cost center"} == {"CC-9999"}


def test_closed_projects_and_inactive_workers_are_about_one_percent(
    projects: dict[int, VolumeProject], workers: dict[str, VolumeWorker]
) -> None:
    closed = [p for p in projects.values() if p.closed_on]
    first, last = period_bounds(VOLUME.period)

    assert len(closed) == 1
    assert all(first < p.closed_on < last for p in closed if p.closed_on)
    assert sum(w.inactive for w in workers.values()) == 1
    for w in workers.values():
        assert catalog.COST_CENTERS[w.cost_center][0] == w.legal_entity
        assert w.erp_employee_id == str(800001 + int(w.worker_id) - 60001)


def test_expenses_are_valid_in_their_projects_currency(
    projects: dict[int, VolumeProject], workers: dict[str, VolumeWorker]
) -> None:
    for x in volume_expenses(VOLUME):
        project = projects[x.project_number]
        assert x.currency == project.currency
        assert x.amount > 0
        assert not workers[x.worker_id].inactive
        assert project.closed_on is None or x.date <= project.closed_on


def test_partner_rate_changes_mid_period_and_other_roles_do_not() -> None:
    before = date(2026, 10, 15)

    assert PARTNER_RATE_CHANGE == date(2026, 10, 16)
    assert rate_for("STD-USD-2026", "Partner", before) == Decimal("450")
    assert rate_for("STD-USD-2026", "Partner", PARTNER_RATE_CHANGE) == Decimal("475")
    assert rate_for("STD-GBP-2026", "Partner", PARTNER_RATE_CHANGE) == Decimal("380")
    assert rate_for("STD-EUR-2026", "Consultant", before) == rate_for(
        "STD-EUR-2026", "Consultant", PARTNER_RATE_CHANGE
    )
    assert rate_for("STD-USD-2026", "Data Scientist", before) is None
    assert rate_for("NO-SUCH-CARD", "Partner", before) is None


def test_a_full_month_end_of_100000_entries_is_generated() -> None:
    assert sum(1 for _ in volume_entries(Volume())) == 100_000


def test_a_period_must_be_a_month() -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        Volume(period="2026-13")
