"""The PSA's time, expenses and billing views on the running sandbox, over HTTP."""

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from config import Settings
from connectors.errors import RequestRejected
from connectors.psa import PsaConnector
from models.billing import ApprovalState, TimeEntry
from models.psa import PsaMilestoneInput, PsaProjectInput
from sandbox.volume import (
    INVALID_KINDS,
    Volume,
    VolumeEntry,
    volume_entries,
    volume_expenses,
    volume_projects,
)
from tests.support import Sandbox, Systems

VOLUME = Volume(projects=12, entries=3000, period="2026-10", seed=3)
ENTRIES = list(volume_entries(VOLUME))
EXPENSES = list(volume_expenses(VOLUME))
PROJECTS = {p.number: p for p in volume_projects(VOLUME)}
APPROVED = ApprovalState.APPROVED
# Projects whose entries no test changes, so their pages stay as generated.
UNTOUCHED = {1, 2}


def seed_volume(sandbox: Sandbox, volume: Volume) -> dict[str, Any]:
    body = {"projects": volume.projects, "entries": volume.entries, "period": volume.period}
    response = httpx.post(
        f"{sandbox.urls['psa']}/__admin/seed/volume", json=body | {"seed": volume.seed}, timeout=60
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def seeded(sandbox: Sandbox) -> dict[str, Any]:
    return seed_volume(sandbox, VOLUME)


@pytest.fixture
async def api(settings: Settings, seeded: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    """A plain client holding a token, for what the connector does not expose."""
    async with httpx.AsyncClient(base_url=settings.psa.url, timeout=30) as client:
        form = {
            "grant_type": "client_credentials",
            "client_id": settings.psa.client_id,
            "client_secret": settings.psa.secret("psa"),
        }
        token = (await client.post("/oauth/token", data=form)).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@pytest.fixture
async def psa(systems: Systems, seeded: dict[str, Any]) -> PsaConnector:
    return systems.psa


def pick(invalid: str | None, status: ApprovalState = APPROVED) -> VolumeEntry:
    """A generated entry of this kind on a project the paging tests do not read."""
    return next(
        e
        for e in ENTRIES
        if e.invalid == invalid and e.status == status and e.project_number not in UNTOUCHED
    )


async def all_approved(psa: PsaConnector, project_id: str, page_size: int) -> list[TimeEntry]:
    entries: list[TimeEntry] = []
    token = None
    while True:
        page = await psa.time_entries(project_id, "2026-10", token, page_size)
        assert len(page.items) <= page_size
        entries += page.items
        token = page.next_page_token
        if token is None:
            return entries


def error(response: httpx.Response) -> dict[str, Any]:
    return dict(response.json()["error"])


async def test_volume_seed_answers_counts_per_status_and_invalid_kind(
    seeded: dict[str, Any],
) -> None:
    statuses = Counter(str(e.status) for e in ENTRIES)

    assert seeded["projects"] == 12
    assert seeded["resources"] == 10
    assert seeded["time_entries"] == 3000
    assert seeded["expenses"] == len(EXPENSES) == 150
    assert seeded["time_entries_by_status"] == dict(statuses)
    assert seeded["invalid"] == {kind: 30 for kind in INVALID_KINDS}


async def test_paging_returns_every_approved_entry_of_the_period_once(psa: PsaConnector) -> None:
    expected = [e.id for e in ENTRIES if e.project_number == 1 and e.status == APPROVED]

    entries = await all_approved(psa, "PRJ-V00001", page_size=7)

    assert [e.id for e in entries] == sorted(expected)
    assert all(e.status == APPROVED and e.project_id == "PRJ-V00001" for e in entries)


async def test_entries_read_back_as_the_timesheet_recorded_them(psa: PsaConnector) -> None:
    generated = next(e for e in ENTRIES if e.project_number == 2 and e.status == APPROVED)

    entry = await psa.get_time_entry(generated.id)

    assert entry is not None
    assert (entry.worker_id, entry.project_id, entry.date) == (
        generated.worker_id,
        "PRJ-V00002",
        generated.date,
    )
    assert (entry.hours, entry.role, entry.billable, entry.notes, entry.cost_center) == (
        generated.hours,
        generated.role,
        generated.billable,
        generated.notes,
        generated.cost_center,
    )
    assert entry.approver == PROJECTS[2].approver
    assert entry.approved_at is not None
    assert await psa.get_time_entry("TE-202610-9999999") is None


async def test_list_filters_by_status_worker_and_period(api: httpx.AsyncClient) -> None:
    submitted = [e for e in ENTRIES if e.project_number == 2 and e.status == "submitted"]
    worker = submitted[0].worker_id
    params: dict[str, str | int] = {
        "project_id": "PRJ-V00002",
        "status": "submitted",
        "page_size": 1000,
    }

    listed = (await api.get("/api/v1/time-entries", params=params)).json()
    by_worker = await api.get("/api/v1/time-entries", params=params | {"worker_id": worker})
    november = await api.get("/api/v1/time-entries", params=params | {"period": "2026-11"})

    assert [e["id"] for e in listed["items"]] == [e.id for e in submitted]
    assert listed["next_page_token"] is None
    assert {e["worker_id"] for e in by_worker.json()["items"]} == {worker}
    assert november.json() == {"items": [], "next_page_token": None}


async def test_oversized_pages_and_foreign_tokens_are_refused_naming_the_field(
    api: httpx.AsyncClient,
) -> None:
    too_big = await api.get("/api/v1/time-entries", params={"page_size": 1001})
    foreign = await api.get("/api/v1/expenses", params={"page_token": "not-ours"})
    bad_period = await api.get("/api/v1/billing/projects", params={"period": "2026-13"})

    assert too_big.status_code == foreign.status_code == bad_period.status_code == 422
    assert error(too_big)["fields"] == ["page_size"]
    assert error(foreign)["fields"] == ["page_token"]
    assert error(bad_period)["fields"] == ["period"]


@pytest.mark.parametrize("path", ["time-entries", "expenses", "billing/projects"])
async def test_a_page_token_that_is_not_ascii_is_refused_naming_it(
    api: httpx.AsyncClient, path: str
) -> None:
    params = {"page_token": "é", "period": "2026-10"}
    answer = await api.get(f"/api/v1/{path}", params=params)
    assert answer.status_code == 422
    assert error(answer)["fields"] == ["page_token"]


async def test_expenses_page_the_approved_ones_of_the_project_once(psa: PsaConnector) -> None:
    expected = [x for x in EXPENSES if x.project_number == 1 and x.status == APPROVED]
    seen, token = [], None
    while True:
        page = await psa.expenses("PRJ-V00001", "2026-10", token, page_size=3)
        seen += page.items
        if (token := page.next_page_token) is None:
            break

    assert [x.id for x in seen] == [x.id for x in expected]
    assert [(x.amount, x.currency, x.category) for x in seen] == [
        (x.amount, x.currency, x.category) for x in expected
    ]


async def test_billing_projects_lists_each_project_with_approved_work_once_in_order(
    psa: PsaConnector,
) -> None:
    ids, token = [], None
    while True:
        page = await psa.billing_projects("2026-10", token, page_size=5)
        ids += page.items
        if (token := page.next_page_token) is None:
            break

    assert ids == sorted(set(ids))
    assert {f"PRJ-V{n:05d}" for n in PROJECTS} <= set(ids)
    assert (await psa.billing_projects("2027-01")).items == []


async def test_billing_project_shows_terms_milestones_and_closing(psa: PsaConnector) -> None:
    fixed, closed = PROJECTS[2], PROJECTS[10]

    project = await psa.billing_project("PRJ-V00002")
    ended = await psa.billing_project("PRJ-V00010")

    assert project is not None and ended is not None
    assert (project.external_id, project.currency, project.billing_type, project.rate_card) == (
        "vol-00002",
        fixed.currency,
        "Fixed Fee",
        fixed.rate_card,
    )
    assert (project.erp_project_id, project.opportunity_id) == (
        fixed.erp_job_id,
        fixed.opportunity_id,
    )
    assert [(m.id, m.amount, m.completed_on) for m in project.milestones] == [
        (m.id, m.amount, m.completed_on) for m in fixed.milestones
    ]
    assert project.milestones[0].completed_on is not None
    assert (ended.status, ended.closed_on) == ("closed", closed.closed_on)
    assert await psa.billing_project("PRJ-V99999") is None


async def test_correcting_an_approved_entry_sends_it_back_for_approval(psa: PsaConnector) -> None:
    broken = pick("no rate for role")
    project_id = PROJECTS[broken.project_number].psa_id

    corrected = await psa.update_time_entry(broken.id, {"role": "Consultant"})
    waiting = await all_approved(psa, project_id, page_size=500)
    approved = await psa.approve_time_entry(broken.id, "victor")
    again = await psa.approve_time_entry(broken.id, "paula")

    assert (corrected.role, corrected.status, corrected.approver) == (
        "Consultant",
        "submitted",
        None,
    )
    assert broken.id not in {e.id for e in waiting}
    assert (approved.status, approved.approver) == (APPROVED, "victor")
    assert approved.approved_at is not None
    assert again == approved
    assert broken.id in {e.id for e in await all_approved(psa, project_id, page_size=500)}


async def test_a_change_to_nothing_leaves_an_approved_entry_approved(psa: PsaConnector) -> None:
    entry = pick(None)

    same = await psa.update_time_entry(entry.id, {"hours": entry.hours, "notes": entry.notes})

    assert (same.status, same.approver) == (APPROVED, PROJECTS[entry.project_number].approver)


async def test_corrections_refuse_unknown_fields_and_nulls_naming_them(
    psa: PsaConnector, api: httpx.AsyncClient
) -> None:
    entry = pick("unknown cost center")

    with pytest.raises(RequestRejected) as unknown:
        await psa.update_time_entry(entry.id, {"colour": "blue"})
    null = await api.patch(f"/api/v1/time-entries/{entry.id}", json={"hours": None})
    bad_project = await api.patch(f"/api/v1/time-entries/{entry.id}", json={"project_id": "X"})

    assert unknown.value.status == 422
    assert unknown.value.fields == ["colour"]
    assert (null.status_code, error(null)["fields"]) == (422, ["hours"])
    assert (bad_project.status_code, error(bad_project)["fields"]) == (422, ["project_id"])
    unchanged = await psa.get_time_entry(entry.id)
    assert unchanged is not None and unchanged.status == APPROVED


async def test_new_entry_is_submitted_then_rejected_corrected_and_approved(
    api: httpx.AsyncClient,
) -> None:
    worker = next(e.worker_id for e in ENTRIES if e.project_number == 3 and e.invalid is None)
    entry = {
        "worker_id": worker,
        "project_id": "PRJ-V00003",
        "date": "2026-10-05",
        "hours": "7.5",
        "role": "Consultant",
        "notes": "Workshop prep",
        "cost_center": "CC-1100",
    }

    created = await api.post("/api/v1/time-entries", json=entry)
    path = f"/api/v1/time-entries/{created.json()['id']}"
    rejected = await api.post(f"{path}/reject", json={"approver": "paula", "reason": "Too long"})
    refused = await api.post(f"{path}/approve", json={"approver": "paula"})
    resubmitted = await api.patch(path, json={"hours": "6"})
    approved = await api.post(f"{path}/approve", json={"approver": "paula"})

    assert created.status_code == 201
    assert (created.json()["status"], created.json()["hours"], created.json()["billable"]) == (
        "submitted",
        "7.50",
        True,
    )
    assert (rejected.json()["status"], rejected.json()["rejection_reason"]) == (
        "rejected",
        "Too long",
    )
    assert refused.status_code == 409
    assert "rejected" in error(refused)["message"]
    assert (resubmitted.json()["status"], resubmitted.json()["hours"]) == ("submitted", "6.00")
    assert (approved.json()["status"], approved.json()["approver"]) == ("approved", "paula")


async def test_new_entry_for_an_unknown_worker_and_project_names_both_fields(
    api: httpx.AsyncClient,
) -> None:
    entry = {
        "worker_id": "99999",
        "project_id": "PRJ-NOPE",
        "date": "2026-10-05",
        "hours": "2",
        "role": "Consultant",
        "cost_center": "CC-1100",
    }

    response = await api.post("/api/v1/time-entries", json=entry)
    too_long = await api.post("/api/v1/time-entries", json=entry | {"hours": "25"})

    assert response.status_code == 422
    assert error(response)["fields"] == ["worker_id", "project_id"]
    assert error(too_long)["fields"] == ["hours"]


async def test_expense_is_approved_and_a_corrected_one_is_submitted_again(
    psa: PsaConnector,
) -> None:
    waiting = next(
        x for x in EXPENSES if x.status == "submitted" and x.project_number not in UNTOUCHED
    )

    approved = await psa.approve_expense(waiting.id, "paula")
    corrected = await psa.update_expense(waiting.id, {"amount": Decimal("99.10")})

    assert (approved.status, approved.approver) == (APPROVED, "paula")
    assert (corrected.status, corrected.amount, corrected.approver) == (
        "submitted",
        Decimal("99.10"),
        None,
    )
    assert await psa.get_expense("EX-202610-9999999") is None


async def test_rate_cards_carry_the_mid_period_partner_rate_change(psa: PsaConnector) -> None:
    card = await psa.get_rate_card("STD-USD-2026")
    assert card is not None

    partner = [
        (r.rate, r.effective_from, r.effective_to) for r in card.rates if r.role == "Partner"
    ]
    assert partner == [
        (Decimal("450"), None, date(2026, 10, 15)),
        (Decimal("475"), date(2026, 10, 16), None),
    ]


async def test_project_keeps_its_opportunity_and_records_milestones_and_closing(
    psa: PsaConnector, api: httpx.AsyncClient
) -> None:
    data = PsaProjectInput(
        external_id=f"opp-{uuid.uuid4().hex[:12]}",
        name="Initech Software - Billing Pilot",
        customer_name="Initech Software",
        erp_project_id="5121",
        currency="USD",
        budget=Decimal("90000"),
        billing_type="Fixed Fee",
        rate_card="STD-USD-2026",
        start_date=date(2026, 9, 7),
        milestones=[
            PsaMilestoneInput(name="Design", due_date=date(2026, 10, 9), amount=Decimal("90000"))
        ],
        opportunity_id="006Hs0000000777IAA",
    )
    created = await psa.create_project(data, f"key-{data.external_id}")
    before = await psa.billing_project(created.id)
    assert before is not None
    milestone = before.milestones[0].id
    path = f"/api/v1/projects/{created.id}"

    done = await api.post(
        f"{path}/milestones/{milestone}/complete", json={"completed_on": "2026-10-08"}
    )
    await api.post(f"{path}/close", json={"closed_on": "2026-10-30"})
    again = await api.post(f"{path}/close", json={"closed_on": "2026-11-30"})
    missing = await api.post(
        f"{path}/milestones/MS-0/complete", json={"completed_on": "2026-10-08"}
    )
    after = await psa.billing_project(created.id)

    assert (before.opportunity_id, before.status, before.milestones[0].completed_on) == (
        "006Hs0000000777IAA",
        "active",
        None,
    )
    assert done.status_code == 200
    assert again.json()["closed_on"] == "2026-10-30"
    assert missing.status_code == 404
    assert after is not None
    assert (after.status, after.closed_on) == ("closed", date(2026, 10, 30))
    assert after.milestones[0].completed_on == date(2026, 10, 8)


async def test_openapi_documents_the_time_expense_and_billing_routes(
    api: httpx.AsyncClient,
) -> None:
    spec = (await api.get("/openapi.json")).json()

    assert {
        "/api/v1/time-entries",
        "/api/v1/time-entries/{record_id}",
        "/api/v1/time-entries/{record_id}/approve",
        "/api/v1/time-entries/{record_id}/reject",
        "/api/v1/expenses",
        "/api/v1/expenses/{record_id}/approve",
        "/api/v1/billing/projects",
        "/api/v1/projects/{project_id}/billing",
        "/__admin/seed/volume",
    } <= set(spec["paths"])
    listing = spec["paths"]["/api/v1/time-entries"]["get"]
    assert {"project_id", "period", "status", "page_size", "page_token"} <= {
        p["name"] for p in listing["parameters"]
    }
    assert "page_token" in listing["description"]


async def test_reseeding_replaces_volume_data_and_reset_removes_it(api: httpx.AsyncClient) -> None:
    body = {"projects": 3, "entries": 200, "period": "2026-10", "seed": 9}
    counts = (await api.post("/__admin/seed/volume", json=body)).json()
    projects = (await api.get("/api/v1/projects")).json()["data"]
    gone = await api.get("/api/v1/time-entries", params={"project_id": "PRJ-V00004"})

    assert (counts["projects"], counts["time_entries"]) == (3, 200)
    assert sorted(p["id"] for p in projects if p["id"].startswith("PRJ-V")) == [
        "PRJ-V00001",
        "PRJ-V00002",
        "PRJ-V00003",
    ]
    assert gone.json()["items"] == []

    assert (await api.post("/__admin/reset")).status_code == 204
    entries = await api.get("/api/v1/time-entries")
    project = await api.get("/api/v1/projects/PRJ-V00001")
    card = await api.get("/api/v1/rate-cards/STD-USD-2026")

    assert entries.json() == {"items": [], "next_page_token": None}
    assert project.status_code == 404
    assert card.status_code == 200
