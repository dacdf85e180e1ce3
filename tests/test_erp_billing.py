"""Time-to-bill in the ERP sandbox (NetSuite REST record/v1) through the ERP connector:
bulk postings, the concurrency limit, invoices, and month-end volume."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from config import Settings
from connectors import erp_billing, systems
from connectors.erp import ErpConnector
from connectors.errors import NotFound, RateLimited, RequestRejected
from connectors.netsuite_billing import time_bill_body
from models.billing import (
    BillingMilestone,
    ExpensePosting,
    InvoiceDraftInput,
    InvoiceLineKind,
    InvoiceStatus,
    PostingOutcome,
    TimePosting,
    time_bill_external_id,
)
from models.erp import ErpEmployeeInput, ErpProjectInput
from sandbox import catalog, volume
from sandbox.erp.app import RECORD_PATH, TOKEN_PATH, create_app
from tests.support import Sandbox, Systems
from tests.vendor_keys import auth, erp_app, settings_for

PERIOD = "2026-09"
ACME = catalog.customer_external_id(catalog.account_id(0))


@dataclass
class Job:
    """A fresh ERP project and two employees of this test's own."""

    id: str
    name: str
    employee_id: str
    other_employee_id: str
    other_employee_external_id: str


class CountingTransport(httpx.AsyncBaseTransport):
    """The real HTTP transport, counting upsertList requests and noting every call."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.upserts = 0
        self.calls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/upsertList"):
            self.upserts += 1
        if not request.url.path.endswith(TOKEN_PATH):
            self.calls.append(f"{request.method} {request.url.path.rpartition('/')[2]}")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def erp_connector(settings: Settings, **options: Any) -> ErpConnector:
    return systems.erp(settings, **options)


async def employee(erp: ErpConnector, external_id: str, first: str) -> str:
    created = await erp.upsert_employee(
        ErpEmployeeInput(
            external_id=external_id,
            first_name=first,
            last_name="Billing",
            subsidiary_id="1",
            department_id="101",
            cost_center="CC-1100",
            labor_cost=Decimal("90"),
            currency="USD",
            origin="test",
        )
    )
    return created.id


async def new_job(erp: ErpConnector, billing_type: str = "Time and Materials") -> Job:
    tag = uuid.uuid4().hex[:10]
    customer = await erp.get_customer(ACME)
    assert customer is not None
    project = await erp.upsert_project(
        ErpProjectInput(
            external_id=f"bill-{tag}",
            name=f"Billing test {tag}",
            customer_id=customer.id,
            subsidiary_id="1",
            currency="USD",
            budget=Decimal("500000"),
            billing_type=billing_type,
        )
    )
    other_key = f"hcm-test-{tag}-ben"
    first = await employee(erp, f"hcm-test-{tag}-ada", "Ada")
    return Job(project.id, project.name, first, await employee(erp, other_key, "Ben"), other_key)


@pytest.fixture
async def job(systems: Systems) -> Job:
    return await new_job(systems.erp)


@pytest.fixture
async def raw(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A plain client holding a valid ERP bearer token."""
    auth = systems.erp_auth(settings)
    async with httpx.AsyncClient(base_url=settings.erp.url, timeout=30, auth=auth) as client:
        yield client


def posting(job: Job, n: int, **changes: Any) -> TimePosting:
    """Time entry n of the job: 7.5 h of a Consultant at 190, or 2 h of a Partner at 450."""
    partner = n % 3 == 0
    hours, rate = (Decimal(2), Decimal(450)) if partner else (Decimal("7.5"), Decimal(190))
    values: dict[str, Any] = {
        "external_id": time_bill_external_id(f"TE-{job.id}-{n:05d}"),
        "entry_id": f"TE-{job.id}-{n:05d}",
        "employee_id": job.employee_id,
        "project_id": job.id,
        "date": date(2026, 9, 1 + n % 28),
        "hours": hours,
        "role": "Partner" if partner else "Consultant",
        "billable": True,
        "rate": rate,
        "amount": hours * rate,
        "cost_center": "CC-1100",
        "approver": "paula" if n % 2 else "victor",
        "source": f"time-to-bill/PRJ-{job.id}/{PERIOD}",
    }
    return TimePosting(**(values | changes))


def draft(
    job: Job, tag: str = "1", milestones: list[BillingMilestone] | None = None
) -> InvoiceDraftInput:
    return InvoiceDraftInput(
        external_id=f"inv-{job.id}-{tag}",
        project_id=job.id,
        currency="USD",
        period=PERIOD,
        source=f"time-to-bill/PRJ-{job.id}/{PERIOD}",
        milestones=milestones or [],
    )


def expense(job: Job, n: int, amount: str, category: str, billable: bool = True) -> ExpensePosting:
    return ExpensePosting(
        external_id=f"psa-expense-EX-{job.id}-{n}",
        expense_id=f"EX-{job.id}-{n}",
        employee_id=job.employee_id,
        project_id=job.id,
        date=date(2026, 9, 3),
        amount=Decimal(amount),
        currency="USD",
        category=category,
        billable=billable,
        cost_center="CC-1100",
        approver="greta",
        source=f"time-to-bill/PRJ-{job.id}/{PERIOD}",
    )


# ---------------------------------------------------------------- bulk postings


async def test_450_postings_go_in_3_requests_and_a_repeat_creates_nothing_new(
    settings: Settings, job: Job
) -> None:
    transport = CountingTransport()
    erp = erp_connector(settings, transport=transport)
    postings = [posting(job, n) for n in range(450)]
    try:
        first = await erp.upsert_time_bills(postings)
        requests = transport.upserts
        again = await erp.upsert_time_bills(postings)
        posted = await erp.time_bills_for_project(job.id, PERIOD)
    finally:
        await erp.aclose()
    assert (requests, transport.upserts) == (3, 6)
    assert [r.external_id for r in first] == [p.external_id for p in postings]
    assert {r.outcome for r in first} == {PostingOutcome.CREATED}
    assert {r.outcome for r in again} == {PostingOutcome.UPDATED}
    assert [r.id for r in again] == [r.id for r in first]
    assert len({r.id for r in first}) == 450
    assert sorted(p.external_id for p in posted) == sorted(p.external_id for p in postings)
    assert sum(p.amount for p in posted) == sum(p.amount for p in postings)
    assert posted[0].hours in (Decimal(2), Decimal("7.5"))


async def test_more_than_200_records_in_one_request_is_refused_naming_the_limit(
    raw: httpx.AsyncClient, job: Job
) -> None:
    record = {"employee": {"id": job.employee_id}, "customer": {"id": job.id},
              "hours": "1:00", "tranDate": "2026-09-01"}  # fmt: skip
    records = [record | {"externalId": f"too-many-{job.id}-{n}"} for n in range(201)]
    response = await raw.post(f"{RECORD_PATH}/timeBill/upsertList", json={"records": records})
    assert response.status_code == 400
    detail = response.json()["o:errorDetails"][0]
    assert "at most 200 records" in detail["detail"]
    listed = await raw.get(f"{RECORD_PATH}/timeBill", params={"q": f"customer ANY_OF {job.id}"})
    assert listed.json()["totalResults"] == 0


async def test_inactive_employee_or_unknown_project_fails_only_its_own_records(
    systems: Systems, job: Job
) -> None:
    assert await systems.erp.set_employee_inactive(job.other_employee_external_id, True)
    postings = [posting(job, n) for n in range(6)]
    postings[1] = posting(job, 1, employee_id=job.other_employee_id)
    postings[4] = posting(job, 4, project_id="999999")
    results = await systems.erp.upsert_time_bills(postings)
    failed = [n for n, r in enumerate(results) if r.outcome == PostingOutcome.FAILED]
    assert failed == [1, 4]
    assert {results[n].outcome for n in (0, 2, 3, 5)} == {PostingOutcome.CREATED}
    assert "is inactive" in (results[1].message or "")
    assert "INACTIVE_RCRD" in (results[1].message or "")
    assert "customer reference key 999999" in (results[4].message or "")
    found = await systems.erp.posted_records("timeBill", [p.external_id for p in postings])
    assert sorted(found) == sorted(postings[n].external_id for n in (0, 2, 3, 5))
    employees = await systems.erp.employees_by_external_id([job.other_employee_external_id])
    assert employees[job.other_employee_external_id].inactive is True


async def test_active_employees_are_read_once_a_minute_inactive_ones_every_time(
    settings: Settings, systems: Systems, job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    ben = job.other_employee_external_id
    ada = ben.replace("-ben", "-ada")
    assert await systems.erp.set_employee_inactive(ben, True)
    counting = CountingTransport()
    erp = erp_connector(settings, transport=counting)
    try:
        first = await erp.employees_by_external_id([ada, ben])
        assert (first[ada].inactive, first[ben].inactive) == (False, True)
        again = await erp.employees_by_external_id([ada, ben])  # ben is read again, alone
        assert again == first and len(counting.calls) == 2
        assert await erp.employees_by_external_id([ada]) == {ada: first[ada]}
        assert len(counting.calls) == 2  # ada came from the last minute's read

        monkeypatch.setattr(erp_billing, "EMPLOYEE_TTL_SECONDS", 0.0)
        assert await erp.employees_by_external_id([ada]) == {ada: first[ada]}
        assert len(counting.calls) == 3  # a minute later: read again
    finally:
        await erp.aclose()


async def test_hours_that_are_not_whole_minutes_are_refused_before_sending(
    systems: Systems, job: Job
) -> None:
    odd = posting(job, 1, hours=Decimal("0.3333"), rate=None, amount=Decimal(0))
    [kept, refused] = await systems.erp.upsert_time_bills([posting(job, 0), odd])
    assert kept.outcome == PostingOutcome.CREATED
    assert refused.outcome == PostingOutcome.FAILED and refused.id is None
    assert "whole number of minutes" in (refused.message or "")


async def test_upsert_list_beyond_the_concurrency_limit_answers_429(
    settings: Settings, sandbox: Sandbox, raw: httpx.AsyncClient, job: Job
) -> None:
    limit = settings.sandbox.erp_concurrency_limit
    fired = limit + 3
    slow = {"path": f"{RECORD_PATH}/timeBill/upsertList", "status": None, "latency_ms": 400,
            "count": 100}  # fmt: skip
    sandbox.fault("erp", **slow)
    batches = [[posting(job, n * 10 + k) for k in range(10)] for n in range(fired)]
    bodies = [{"records": [time_bill_body(p) for p in batch]} for batch in batches]
    url = f"{RECORD_PATH}/timeBill/upsertList"
    responses = await asyncio.gather(*(raw.post(url, json=body) for body in bodies))
    assert sorted(r.status_code for r in responses) == [200] * limit + [429] * (fired - limit)
    blocked = next(r for r in responses if r.status_code == 429).json()
    assert blocked["o:errorDetails"][0]["o:errorCode"] == "CONCURRENCY_LIMIT_EXCEEDED"
    # a connector allowed more requests in flight than the account gets a retryable error
    erp = erp_connector(settings, concurrency=fired)
    many = [posting(job, 1000 + n) for n in range(200 * fired)]
    try:
        with pytest.raises(RateLimited) as caught:
            await erp.upsert_time_bills(many)
    finally:
        await erp.aclose()
    assert caught.value.non_retryable is False


# ---------------------------------------------------------------- invoices


async def test_invoice_is_drafted_approved_and_released_with_summarised_totals(
    systems: Systems, job: Job
) -> None:
    erp = systems.erp
    postings = [posting(job, n) for n in range(9)]  # 3 Partner x 2 h at 450, 6 x 7.5 h at 190
    postings.append(posting(job, 9, billable=False, rate=None, amount=Decimal(0)))
    postings.append(posting(job, 10, date=date(2026, 10, 1)))  # the next period
    await erp.upsert_time_bills(postings)
    invoice = await erp.draft_invoice(draft(job))
    assert invoice.status == InvoiceStatus.DRAFT
    assert invoice.number.startswith("INV-")
    assert (invoice.project_id, invoice.currency, invoice.period) == (job.id, "USD", PERIOD)
    assert [(line.kind, line.role, line.quantity, line.rate, line.amount)
            for line in invoice.lines] == [
        (InvoiceLineKind.TIME, "Consultant", Decimal(45), Decimal(190), Decimal(8550)),
        (InvoiceLineKind.TIME, "Partner", Decimal(6), Decimal(450), Decimal(2700)),
    ]  # fmt: skip
    assert invoice.total == Decimal(11250)
    assert invoice.time_count == 9 and invoice.expense_count == 0
    assert invoice.approvers == ["paula", "victor"]
    assert await erp.draft_invoice(draft(job)) == invoice  # idempotent by external id

    approved = await erp.set_invoice_status(invoice.external_id, InvoiceStatus.APPROVED)
    released = await erp.set_invoice_status(invoice.external_id, InvoiceStatus.RELEASED)
    assert (approved.status, released.status) == (InvoiceStatus.APPROVED, InvoiceStatus.RELEASED)
    assert await erp.set_invoice_status(invoice.external_id, InvoiceStatus.RELEASED) == released
    with pytest.raises(RequestRejected) as caught:
        await erp.set_invoice_status(invoice.external_id, InvoiceStatus.VOIDED)
    assert "released one cannot be voided" in caught.value.message
    assert caught.value.fields == ["custbody_psflow_status"]

    # billed time cannot change; posting the same values again is no change
    [same, changed] = await erp.upsert_time_bills([postings[0], posting(job, 1, memo="edited")])
    assert same.outcome == PostingOutcome.UPDATED
    assert changed.outcome == PostingOutcome.FAILED and "billed on invoice" in (
        changed.message or ""
    )
    found = await erp.posted_records("timeBill", [p.external_id for p in postings])
    billed = {key for key, record in found.items() if record.invoice_id == invoice.id}
    assert billed == {p.external_id for p in postings[:9]}


async def test_an_invoice_is_drafted_in_two_calls_and_moved_in_one_each(
    settings: Settings, systems: Systems, job: Job
) -> None:
    await systems.erp.upsert_time_bills([posting(job, 1)])
    counting = CountingTransport()
    erp = erp_connector(settings, transport=counting)
    try:
        await erp.currency_code("1")  # the currency list, read once per connector
        counting.calls.clear()
        invoice = await erp.draft_invoice(draft(job))
        eid = f"eid:{invoice.external_id}"
        assert counting.calls == ["POST invoice", f"GET {eid}"]
        assert await erp.draft_invoice(draft(job)) == invoice  # a retry: taken, read back
        assert counting.calls[2:] == ["POST invoice", f"GET {eid}"]
        counting.calls.clear()
        await erp.move_invoice(invoice.external_id, InvoiceStatus.APPROVED)
        await erp.move_invoice(invoice.external_id, InvoiceStatus.RELEASED)
        await erp.move_invoice(invoice.external_id, InvoiceStatus.RELEASED)  # a retry: no change
        assert counting.calls == [f"PATCH {eid}"] * 3
        assert (await erp.get_invoice(invoice.external_id)) == invoice.model_copy(
            update={"status": InvoiceStatus.RELEASED}
        )
        with pytest.raises(RequestRejected) as refused:
            await erp.move_invoice(invoice.external_id, InvoiceStatus.VOIDED)
        assert "released one cannot be voided" in refused.value.message
        with pytest.raises(NotFound):
            await erp.move_invoice(f"INV-missing-{uuid.uuid4().hex[:8]}", InvoiceStatus.APPROVED)
    finally:
        await erp.aclose()


async def test_a_draft_cannot_be_released_without_approval(systems: Systems, job: Job) -> None:
    await systems.erp.upsert_time_bills([posting(job, 1)])
    invoice = await systems.erp.draft_invoice(draft(job))
    with pytest.raises(RequestRejected):
        await systems.erp.set_invoice_status(invoice.external_id, InvoiceStatus.RELEASED)


async def test_voiding_frees_the_time_for_the_next_invoice(systems: Systems, job: Job) -> None:
    erp = systems.erp
    postings = [posting(job, n) for n in range(4)]
    await erp.upsert_time_bills(postings)
    first = await erp.draft_invoice(draft(job))
    await erp.set_invoice_status(first.external_id, InvoiceStatus.APPROVED)
    voided = await erp.set_invoice_status(first.external_id, InvoiceStatus.VOIDED)
    assert voided.status == InvoiceStatus.VOIDED
    found = await erp.posted_records("timeBill", [p.external_id for p in postings])
    assert {record.invoice_id for record in found.values()} == {None}

    second = await erp.draft_invoice(draft(job))  # the same external id: a new invoice
    assert second.id != first.id and second.status == InvoiceStatus.DRAFT
    assert (second.total, second.time_count) == (first.total, 4)
    invoices = await erp.invoices_for_project(job.id)
    assert [(i.id, i.status) for i in invoices] == [
        (first.id, InvoiceStatus.VOIDED),
        (second.id, InvoiceStatus.DRAFT),
    ]
    assert invoices[0].external_id == f"{first.external_id}-void-{first.id}"


async def test_a_milestone_on_a_live_invoice_is_not_billed_twice(systems: Systems) -> None:
    erp = systems.erp
    job = await new_job(erp, "Fixed Fee")
    design = BillingMilestone(id=f"MS-{job.id}-1", name="Design sign-off",
                              due_date=date(2026, 9, 15), amount=Decimal("40000"),
                              completed_on=date(2026, 9, 14))  # fmt: skip
    build = design.model_copy(update={"id": f"MS-{job.id}-2", "name": "Build complete",
                                      "amount": Decimal("30000.50")})  # fmt: skip
    # fixed-fee time carries no rate: posted, never billed by the hour
    await erp.upsert_time_bills([posting(job, 1, rate=None, amount=Decimal(0))])
    first = await erp.draft_invoice(draft(job, "1", [design]))
    second = await erp.draft_invoice(draft(job, "2", [design, build]))
    assert [(line.kind, line.milestone_id, line.amount) for line in first.lines] == [
        (InvoiceLineKind.MILESTONE, design.id, Decimal(40000))
    ]
    assert [line.milestone_id for line in second.lines] == [build.id]
    assert (first.time_count, second.total) == (0, Decimal("30000.50"))
    with pytest.raises(RequestRejected) as caught:  # nothing left to bill
        await erp.draft_invoice(draft(job, "3", [design, build]))
    assert caught.value.fields == ["item"]
    await erp.set_invoice_status(first.external_id, InvoiceStatus.VOIDED)
    third = await erp.draft_invoice(draft(job, "3", [design, build]))
    assert [line.milestone_id for line in third.lines] == [design.id]


async def test_expenses_are_billed_one_line_per_category(systems: Systems, job: Job) -> None:
    erp = systems.erp
    expenses = [
        expense(job, 0, "120.50", "Hotel"),
        expense(job, 1, "80.25", "Hotel"),
        expense(job, 2, "45", "Meals"),
        expense(job, 3, "300", "Airfare", billable=False),
    ]
    results = await erp.upsert_expense_reports(expenses)
    assert {r.outcome for r in results} == {PostingOutcome.CREATED}
    invoice = await erp.draft_invoice(draft(job))
    assert [(line.kind, line.amount) for line in invoice.lines] == [
        (InvoiceLineKind.EXPENSE, Decimal("200.75")),
        (InvoiceLineKind.EXPENSE, Decimal(45)),
    ]
    assert (invoice.expense_count, invoice.total, invoice.approvers) == (
        3,
        Decimal("245.75"),
        ["greta"],
    )
    found = await erp.posted_records("expenseReport", [e.external_id for e in expenses])
    assert found[expenses[3].external_id].invoice_id is None
    assert found[expenses[0].external_id].invoice_id == invoice.id


# ---------------------------------------------------------------- month-end volume


async def test_volume_seed_creates_jobs_employees_and_the_already_posted_time(
    tmp_path: Path,
) -> None:
    keys = settings_for("http://erp.test", "c", "s")
    app = create_app(tmp_path / "erp.db", client_id="c", client_secret="s", **erp_app(keys))
    spec = volume.Volume(projects=5, entries=600, period="2026-10", seed=3)
    posted = [e for e in volume.volume_entries(spec) if e.invalid == "already posted"]
    transport = httpx.ASGITransport(app=app)
    erp = ErpConnector.build("http://erp.test", auth(keys, "erp"), transport=transport)
    async with httpx.AsyncClient(transport=transport, base_url="http://erp.test") as admin:
        try:
            seeded = await admin.post("/__admin/seed/volume", json=asdict_volume(spec))
            assert seeded.status_code == 200
            counts = seeded.json()
            workers = volume.volume_workers(spec)
            assert (counts["jobs"], counts["employees"], counts["timeBills"]) == (
                5, len(workers), len(posted),
            )  # fmt: skip
            assert counts["inactiveEmployees"] == sum(w.inactive for w in workers)
            project = await erp.get_project("vol-00001")
            assert project is not None and project.id == "700001"
            keys = [f"hcm-{w.worker_id}" for w in workers]
            employees = await erp.employees_by_external_id(keys)
            assert {e.id for e in employees.values()} == {w.erp_employee_id for w in workers}
            found = await erp.posted_records(
                "timeBill", [time_bill_external_id(e.id) for e in posted]
            )
            assert len(found) == len(posted)
            assert {r.source for r in found.values()} == {"manual-import"}

            smaller = spec.__class__(projects=3, entries=300, period="2026-10", seed=3)
            again = (await admin.post("/__admin/seed/volume", json=asdict_volume(smaller))).json()
            assert again["jobs"] == 3
            assert await erp.get_project("vol-00004") is None  # replaced, not added to
            assert (await admin.post("/__admin/reset")).status_code == 204
            assert await erp.get_project("vol-00001") is None
            assert await erp.posted_records("timeBill", list(found)) == {}
        finally:
            await erp.aclose()


def asdict_volume(spec: volume.Volume) -> dict[str, Any]:
    return {"projects": spec.projects, "entries": spec.entries, "period": spec.period,
            "seed": spec.seed}  # fmt: skip
