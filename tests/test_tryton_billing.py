"""Time-to-bill on a real Tryton (tests/tryton_support.py): postings by external id, the
invoice drafted, approved, released and voided, and what Tryton's own books then say."""

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from uuid import uuid4

import httpx
import pytest

from config import Settings
from connectors import systems
from connectors.errors import NotFound, NothingToBill, RequestRejected
from connectors.tryton import TrytonErpConnector
from connectors.tryton_rpc import TrytonRpc
from models.billing import (
    BillingMilestone,
    ExpensePosting,
    InvoiceDraftInput,
    InvoiceLineKind,
    InvoiceStatus,
    PostingOutcome,
    TimePosting,
)
from models.erp import ErpProject
from stack.tryton import ADMIN_PASSWORD, TrytonServer
from tests.test_tryton import customer, project
from tests.tryton_support import tryton, tryton_template_seconds

__all__ = ["tryton", "tryton_template_seconds"]  # the fixtures this module uses

KEY = "psflow_external_id"
PERIOD = "2026-10"
SOURCE = "time-to-bill/P-1/2026-10"


@pytest.fixture
async def erp(tryton: TrytonServer) -> AsyncIterator[TrytonErpConnector]:
    connector = TrytonErpConnector.build(tryton.url, tryton.login, tryton.password)
    yield connector
    await connector.aclose()


@pytest.fixture
async def accountant(tryton: TrytonServer) -> AsyncIterator[TrytonRpc]:
    """Tryton's admin, who reads the books psflow may not."""
    rpc = TrytonRpc(httpx.AsyncClient(base_url=tryton.url), "admin", ADMIN_PASSWORD)
    yield rpc
    await rpc.aclose()


async def new_project(erp: TrytonErpConnector) -> ErpProject:
    return await erp.upsert_project(await project(erp, f"p-{uuid4().hex[:10]}"))


async def employee_id(erp: TrytonErpConnector, key: str = "LEGACY-E-0101") -> str:
    found = await erp.get_employee(key)
    assert found is not None
    return found.id


def time(job: ErpProject, who: str, day: int, hours: str, role: str, rate: str | None,
         *, billable: bool = True) -> TimePosting:  # fmt: skip
    entry = uuid4().hex[:10]
    amount = (Decimal(hours) * Decimal(rate)).quantize(Decimal("0.01")) if rate else Decimal(0)
    return TimePosting(
        external_id=f"psa-time-{entry}", entry_id=entry, employee_id=who, project_id=job.id,
        date=date(2026, 10, day), hours=Decimal(hours), role=role, billable=billable,
        rate=Decimal(rate) if rate else None, amount=amount, cost_center="CC-1100",
        approver="pat.approver", source=SOURCE,
    )  # fmt: skip


def expense(job: ErpProject, who: str, amount: str, currency: str = "USD") -> ExpensePosting:
    expense_id = uuid4().hex[:10]
    return ExpensePosting(
        external_id=f"psa-expense-{expense_id}", expense_id=expense_id, employee_id=who,
        project_id=job.id, date=date(2026, 10, 9), amount=Decimal(amount), currency=currency,
        category="Travel", billable=True, cost_center="CC-1100", approver="sam.approver",
        source=SOURCE,
    )  # fmt: skip


def draft(job: ErpProject, key: str, *milestones: BillingMilestone) -> InvoiceDraftInput:
    return InvoiceDraftInput(
        external_id=key, project_id=job.id, currency="USD", period=PERIOD, source=SOURCE,
        milestones=list(milestones),
    )  # fmt: skip


async def books(books: TrytonRpc, invoice_id: str) -> tuple[str, Decimal, Decimal]:
    """The posted invoice's state, and its accounting move's debits and credits."""
    (row,) = await books.model("account.invoice", "read", [int(invoice_id)], ["state", "move"])
    lines = await books.model(
        "account.move.line", "search_read", [("move", "=", row["move"])], 0, None, None,
        ["debit", "credit"],
    )  # fmt: skip
    debit = sum((Decimal(str(x["debit"])) for x in lines), Decimal(0))
    credit = sum((Decimal(str(x["credit"])) for x in lines), Decimal(0))
    return row["state"], debit, credit


async def test_a_month_is_posted_once_invoiced_released_and_in_the_books(
    erp: TrytonErpConnector, accountant: TrytonRpc
) -> None:
    job, who = await new_project(erp), await employee_id(erp)
    entries = [
        time(job, who, 5, "7.5", "Senior Consultant", "185.00"),
        time(job, who, 6, "8", "Senior Consultant", "185.00"),
        time(job, who, 7, "4.25", "Solution Architect", "240.00"),
        time(job, who, 8, "2", "Senior Consultant", "185.00", billable=False),
    ]
    results = await erp.upsert_time_bills(entries)
    assert [r.outcome for r in results] == [PostingOutcome.CREATED] * 4
    again = await erp.upsert_time_bills(entries)  # a retried page: the same four lines
    assert [r.outcome for r in again] == [PostingOutcome.UPDATED] * 4
    assert [r.id for r in again] == [r.id for r in results]
    travel = expense(job, who, "412.30")
    assert [r.outcome for r in await erp.upsert_expense_reports([travel])] == ["created"]

    posted = await erp.posted_records("timeBill", [e.external_id for e in entries])
    assert {k: p.billable_amount for k, p in posted.items()} == {
        e.external_id: e.amount if e.billable else Decimal(0) for e in entries
    }
    unbilled_before = await erp.unbilled()

    key = f"inv-{uuid4().hex[:10]}"
    milestone = BillingMilestone(
        id="MS-1", name="Design sign-off", due_date=date(2026, 10, 31), amount=Decimal("5000")
    )
    invoice = await erp.draft_invoice(draft(job, key, milestone))
    time_total = sum((e.amount for e in entries if e.billable), Decimal(0))
    assert invoice.status is InvoiceStatus.DRAFT and invoice.currency == "USD"
    assert [(line.kind, line.quantity, line.amount) for line in invoice.lines] == [
        (InvoiceLineKind.TIME, Decimal("15.50"), Decimal("2867.50")),
        (InvoiceLineKind.TIME, Decimal("4.25"), Decimal("1020.00")),
        (InvoiceLineKind.MILESTONE, Decimal("1.00"), Decimal("5000.00")),
        (InvoiceLineKind.EXPENSE, Decimal("1.00"), Decimal("412.30")),
    ]
    assert invoice.total == time_total + Decimal("5000") + Decimal("412.30")
    assert (invoice.time_count, invoice.expense_count) == (3, 1)
    assert invoice.approvers == ["pat.approver", "sam.approver"]
    assert (await erp.draft_invoice(draft(job, key, milestone))).id == invoice.id  # a retry

    await erp.move_invoice(key, InvoiceStatus.APPROVED)
    released = await erp.set_invoice_status(key, InvoiceStatus.RELEASED)
    assert released.status is InvoiceStatus.RELEASED and released.number
    assert released.number != invoice.number  # Tryton numbers an invoice when it posts it
    state, debit, credit = await books(accountant, released.id)
    assert (state, debit, credit) == ("posted", released.total, released.total)
    owed = await accountant.model(
        "account.move.line", "search_read",
        [("party", "=", int(released.customer_id)), ("account.type.receivable", "=", True)],
        0, None, None, ["debit", "credit"],
    )  # fmt: skip
    assert sum(
        (Decimal(str(x["debit"])) - Decimal(str(x["credit"])) for x in owed), Decimal(0)
    ) == (released.total)  # the customer's receivable in the ledger
    usd_before = unbilled_before["USD"]
    usd_after = (await erp.unbilled()).get("USD", (Decimal(0), 0))
    assert usd_before[0] - usd_after[0] == time_total + Decimal("412.30")
    assert usd_before[1] - usd_after[1] == 4  # three billable lines and the expense
    headers = await erp.invoices_by_project([job.id])
    assert [(h.external_id, h.status, h.total) for h in headers[job.id]] == [
        (key, InvoiceStatus.RELEASED, released.total)
    ]
    assert await erp.invoice_numbers([released.id]) == {released.id: released.number}
    assert await erp.missing_projects([job.external_id, "no-such-project"]) == {"no-such-project"}
    assert await erp.project_actuals(job.id) == time_total
    relisted = await erp.posted_records("timeBill", [entries[0].external_id])
    assert relisted[entries[0].external_id].invoice_id == released.id
    refused = await erp.upsert_time_bills([entries[0]])  # billed time cannot change
    assert refused[0].outcome is PostingOutcome.FAILED and "already on invoice" in (
        refused[0].message or ""
    )


async def test_a_voided_draft_frees_its_time_for_the_next_invoice(
    erp: TrytonErpConnector,
) -> None:
    job, who = await new_project(erp), await employee_id(erp)
    await erp.upsert_time_bills([time(job, who, 12, "6", "Consultant", "150.00")])
    key = f"inv-{uuid4().hex[:10]}"
    first = await erp.draft_invoice(draft(job, key))
    await erp.move_invoice(key, InvoiceStatus.VOIDED)
    await erp.move_invoice(key, InvoiceStatus.VOIDED)  # again: nothing changes
    voided = await erp.get_invoice(key)
    assert voided is not None and voided.status is InvoiceStatus.VOIDED
    second = await erp.draft_invoice(draft(job, key))
    assert second.id != first.id and second.status is InvoiceStatus.DRAFT
    assert second.total == Decimal("900.00") and second.time_count == 1
    assert await erp.get_invoice(f"{key}-void-{first.id}") is not None  # it gave its id up
    with pytest.raises(RequestRejected, match="cannot be released"):
        await erp.move_invoice(key, InvoiceStatus.RELEASED)  # a draft is approved first
    with pytest.raises(NotFound):
        await erp.move_invoice(f"inv-{uuid4().hex}", InvoiceStatus.APPROVED)
    with pytest.raises(NothingToBill):
        await erp.draft_invoice(draft(job, f"inv-{uuid4().hex[:10]}"))


async def test_a_released_invoice_is_voided_by_a_credit_note(erp: TrytonErpConnector) -> None:
    job, who = await new_project(erp), await employee_id(erp)
    await erp.upsert_time_bills([time(job, who, 14, "3", "Consultant", "150.00")])
    key = f"inv-{uuid4().hex[:10]}"
    await erp.draft_invoice(draft(job, key))
    await erp.move_invoice(key, InvoiceStatus.APPROVED)
    released = await erp.set_invoice_status(key, InvoiceStatus.RELEASED)
    credited = await erp.set_invoice_status(key, InvoiceStatus.VOIDED)
    assert credited.status is InvoiceStatus.VOIDED
    notes = await erp.rpc.model(
        "account.invoice", "search_read",
        [("party", "=", int(released.customer_id)), ("total_amount", "<", 0)], 0, None, None,
        ["state", "total_amount"],
    )  # fmt: skip
    assert [(n["state"], Decimal(str(n["total_amount"]))) for n in notes] == [
        ("paid", -released.total)
    ]
    with pytest.raises(NothingToBill):  # credited time stays billed
        await erp.draft_invoice(draft(job, f"inv-{uuid4().hex[:10]}"))


async def test_refused_rows_fail_alone_naming_why(erp: TrytonErpConnector) -> None:
    job, who = await new_project(erp), await employee_id(erp)
    elsewhere = await employee_id(erp, "LEGACY-E-0104")  # the German company's
    gone = await employee_id(erp, "LEGACY-E-0105")  # left at the end of 2025
    good = time(job, who, 20, "1", "Consultant", "150.00")
    rows = [
        time(job, elsewhere, 20, "1", "Consultant", "150.00"),
        good,
        time(job, gone, 20, "1", "Consultant", "150.00"),
        time(job, "99999999", 20, "1", "Consultant", "150.00"),
    ]
    results = await erp.upsert_time_bills(rows)
    assert [r.outcome for r in results] == ["failed", "created", "failed", "failed"]
    assert "is in company" in (results[0].message or "")
    assert "not employed on 2026-10-20" in (results[2].message or "")
    assert "no employee" in (results[3].message or "")
    euro = await erp.upsert_expense_reports([expense(job, who, "80.00", currency="EUR")])
    assert euro[0].outcome is PostingOutcome.FAILED and "currency, USD" in (euro[0].message or "")
    assert list(await erp.posted_records("timeBill", [r.external_id for r in rows])) == [
        good.external_id
    ]
    with pytest.raises(RequestRejected) as wrong:
        await erp.draft_invoice(draft(job, "x").model_copy(update={"currency": "GBP"}))
    assert wrong.value.fields == ["currency"]


async def test_writes_at_once_draw_distinct_numbers(tryton: TrytonServer) -> None:
    """Eight customers and four releases asked at the same moment, through the connector a
    worker builds for this trytond (on SQLite one call at a time: two at once drew the same
    party code): each party its own code, each invoice its own number."""
    settings = Settings()
    settings = settings.model_copy(
        update={"erp": settings.erp.model_copy(update=tryton.erp_settings())}
    )
    erp = systems.tryton_erp(settings)
    try:
        keys = [f"sfdc-{uuid4().hex[:12]}" for _ in range(8)]
        await asyncio.gather(*(erp.upsert_customer(customer(k)) for k in keys))
        parties = await erp.rpc.model(
            "party.party", "search_read", [(KEY, "in", keys)], 0, None, None, ["code"]
        )
        assert len({p["code"] for p in parties}) == len(parties) == 8

        jobs = [await new_project(erp) for _ in range(4)]
        who = await employee_id(erp)
        await erp.upsert_time_bills([time(j, who, 21, "2", "Consultant", "150.00") for j in jobs])
        keys = [f"inv-{uuid4().hex[:10]}" for _ in jobs]
        for job, key in zip(jobs, keys, strict=True):
            await erp.draft_invoice(draft(job, key))
            await erp.move_invoice(key, InvoiceStatus.APPROVED)
        numbers = await asyncio.gather(
            *(erp.move_invoice(key, InvoiceStatus.RELEASED) for key in keys)
        )
        assert all(numbers) and len(set(numbers)) == 4
    finally:
        await erp.aclose()
