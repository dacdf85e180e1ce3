"""Month-end on a real Tryton (tests/tryton_support.py): a small volume's projects, employees
and hand imports seeded in Tryton (stack/tryton_volume.py), the PSA carrying Tryton's project
ids, month-end run by a worker whose ERP is Tryton, every invoice approved and released; then
Tryton's own books, read as its admin, against what psflow reported and what the volume says.

Tryton books an employee's time only in the employee's own company: the volume's teams mix
legal entities, so besides the entries NetSuite refuses (tests/test_month_end.py posts exactly
the volume's valid ones), Tryton refuses the time and expenses of workers of another company.
"""

import asyncio
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import pytest
from temporalio.client import Client

from bench.tryton_month_end import tryton_calls
from config import Settings
from connectors.tryton import TrytonErpConnector
from connectors.tryton_rpc import TrytonRpc
from models.billing import ApprovalState, EntryKind, month_end_id, period_bounds, time_to_bill_id
from models.people import Approval
from models.time_to_bill import MonthEndInput, Outcome, TimeToBillResult
from sandbox import catalog
from sandbox.rates import rate_for
from sandbox.volume import (
    ALREADY_POSTED,
    Volume,
    VolumeProject,
    volume_entries,
    volume_expenses,
    volume_projects,
    volume_workers,
)
from stack.tryton import ADMIN_PASSWORD, TrytonServer
from stack.tryton_volume import TrytonVolume, seed_tryton_volume, volume_body
from store.db import open_engine
from store.exceptions import list_exceptions
from tests.billing_support import awaiting_finance
from tests.support import Sandbox, Systems, proven, running_worker
from tests.tryton_support import tryton, tryton_template_seconds
from workflows.month_end import MonthEnd
from workflows.time_to_bill import TimeToBill

__all__ = ["tryton", "tryton_template_seconds"]  # the fixtures this module uses

PERIOD = "2025-09"  # no other test's period: its entries, runs and exceptions are this test's alone
# A project in each company (USD, GBP, EUR, CAD), one of them Fixed Fee with a milestone
# completed in the period, one closed mid-period, every invalid kind, two hand imports in
# Tryton (a third is of an employee of another company), and more than half the time by
# workers lent across companies.
VOLUME = Volume(projects=4, entries=300, period=PERIOD, seed=2668)
REFUSED = "refused by the ERP"
APPROVED = ApprovalState.APPROVED


@pytest.fixture
async def accountant(tryton: TrytonServer) -> AsyncIterator[TrytonRpc]:
    """Tryton's admin, who reads the books psflow may not."""
    rpc = TrytonRpc(httpx.AsyncClient(base_url=tryton.url), "admin", ADMIN_PASSWORD)
    yield rpc
    await rpc.aclose()


def on_tryton(settings: Settings, tryton: TrytonServer) -> Settings:
    """The suite's settings with `[erp] kind = "tryton"` at this Tryton."""
    erp = settings.erp.model_copy(update=tryton.erp_settings())
    return settings.model_copy(update={"erp": erp})


def seed_psa_and_crm(sandbox: Sandbox, volume: Volume, project_ids: dict[int, str]) -> None:
    """The volume in the sandbox PSA and CRM, naming Tryton's project ids."""
    for system in ("psa", "crm"):
        url = f"{sandbox.urls[system]}/__admin/seed/volume"
        httpx.post(url, json=volume_body(volume, project_ids), timeout=60).raise_for_status()


def company_of(project: VolumeProject) -> str:
    return catalog.ACCOUNTS[project.account_index][2]


@dataclass
class Month:
    """A project's month as the volume prices it, without what Tryton refuses."""

    project: VolumeProject
    time: dict[tuple[str, Decimal], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    """(role, rate) -> billable hours"""
    expenses: dict[str, list[Decimal]] = field(default_factory=lambda: defaultdict(list))
    """category -> billable amounts"""

    @property
    def milestones(self) -> list[tuple[str, Decimal]]:
        last = period_bounds(PERIOD)[1]
        return [
            (m.id, m.amount)
            for m in self.project.milestones
            if m.completed_on and m.completed_on <= last
        ]

    def lines(self) -> list[tuple[str, str, Decimal, Decimal]]:
        """(kind, role / milestone / category, quantity, amount), as Tryton's lines go."""
        time = [
            ("time", role, hours, hours * rate) for (role, rate), hours in sorted(self.time.items())
        ]
        milestones = [("milestone", key, Decimal(1), amount) for key, amount in self.milestones]
        expenses = [
            ("expense", f"{category} ({len(amounts)})", Decimal(1), sum(amounts, Decimal(0)))
            for category, amounts in sorted(self.expenses.items())
        ]
        return time + milestones + expenses


def expected(volume: Volume, seeded: TrytonVolume) -> tuple[dict[int, Month], dict[str, str]]:
    """Each project's month, and the exceptions: entry (or expense) id -> reason."""
    projects = {p.number: p for p in volume_projects(volume)}
    company = {w.worker_id: w.legal_entity for w in volume_workers(volume)}
    months = {n: Month(p) for n, p in projects.items()}
    problems: dict[str, str] = {}
    for e in volume_entries(volume):
        project = projects[e.project_number]
        lent = company[e.worker_id] != company_of(project)
        if e.status is not APPROVED:
            continue
        if e.invalid and not (e.invalid == ALREADY_POSTED and e.id in seeded.refused):
            problems[e.id] = e.invalid  # as NetSuite finds them
        elif lent:
            problems[e.id] = REFUSED
        elif e.invalid is None and e.billable and project.billing_type == "Time and Materials":
            rate = rate_for(project.rate_card, e.role, e.date)
            assert rate is not None
            months[e.project_number].time[e.role, rate] += e.hours
    for x in volume_expenses(volume):
        project = projects[x.project_number]
        if x.status is not APPROVED:
            continue
        if company[x.worker_id] != company_of(project):
            problems[x.id] = REFUSED
        elif x.billable:
            months[x.project_number].expenses[x.category].append(x.amount)
    return months, problems


async def record_counts(books: TrytonRpc) -> dict[str, int]:
    """How many projects, employees and timesheet lines Tryton holds."""
    models = ("project.work", "company.employee", "timesheet.line")
    return {m: await books.model(m, "search_count", [], active_test=False) for m in models}


async def receivable(books: TrytonRpc, party: str) -> Decimal:
    """What the party owes in the ledger: its receivable lines' debits less credits."""
    lines = await books.model(
        "account.move.line", "search_read",
        [("party", "=", int(party)), ("account.type.receivable", "=", True)],
        0, None, None, ["debit", "credit"],
    )  # fmt: skip
    return sum((Decimal(str(x["debit"])) - Decimal(str(x["credit"])) for x in lines), Decimal(0))


@dataclass
class Booked:
    """A released invoice as Tryton's books hold it."""

    state: str
    number: str
    party: str
    currency: str
    total: Decimal
    lines: list[tuple[str, str, Decimal, Decimal]]
    move_state: str
    debit: Decimal
    credit: Decimal

    def amount_of(self, kind: str) -> Decimal:
        return sum((amount for k, _, _, amount in self.lines if k == kind), Decimal(0))


async def booked(books: TrytonRpc, external_id: str) -> Booked:
    (invoice,) = await books.model(
        "account.invoice", "search_read", [("psflow_external_id", "=", external_id)], 0, 1, None,
        ["state", "number", "party", "currency.code", "total_amount", "lines", "move",
         "move.state"],
    )  # fmt: skip
    rows = await books.model(
        "account.invoice.line", "read", invoice["lines"],
        ["psflow_kind", "psflow_role", "psflow_milestone", "description", "quantity", "amount"],
    )  # fmt: skip
    lines = [
        (
            r["psflow_kind"],
            r["psflow_role"] or r["psflow_milestone"] or r["description"],
            Decimal(str(r["quantity"])),
            Decimal(str(r["amount"])),
        )
        for r in rows
    ]
    moved = await books.model(
        "account.move.line", "search_read", [("move", "=", invoice["move"])], 0, None, None,
        ["debit", "credit"],
    )  # fmt: skip
    return Booked(
        state=invoice["state"],
        number=invoice["number"] or "",
        party=str(invoice["party"]),
        currency=invoice["currency."]["code"],
        total=Decimal(str(invoice["total_amount"])),
        lines=lines,
        move_state=invoice["move."]["state"],
        debit=sum((Decimal(str(x["debit"])) for x in moved), Decimal(0)),
        credit=sum((Decimal(str(x["credit"])) for x in moved), Decimal(0)),
    )


async def released(client: Client, settings: Settings, psa_id: str) -> TimeToBillResult:
    """Approve the project's waiting run as finance (who approved no time) and its result."""
    handle = client.get_workflow_handle_for(TimeToBill.run, time_to_bill_id(psa_id, PERIOD))
    await awaiting_finance(handle)
    approval = proven(settings, handle.id, "approve", Approval(user="fatima"))
    await handle.execute_update(TimeToBill.approve, approval)
    return await handle.result()


async def test_month_end_on_tryton_books_each_invoice_as_reported_balanced_and_owed(
    client: Client,
    settings: Settings,
    sandbox: Sandbox,
    tryton: TrytonServer,
    accountant: TrytonRpc,
) -> None:
    erp = TrytonErpConnector.build(tryton.url, tryton.login, tryton.password)
    try:
        seeded = await seed_tryton_volume(VOLUME, erp)
        counts = await record_counts(accountant)
        assert await seed_tryton_volume(VOLUME, erp) == seeded
        assert await record_counts(accountant) == counts  # a second seed adds nothing
        parties: dict[int, str] = {}
        for project in volume_projects(VOLUME):
            job = await erp.get_project(project.external_id)
            assert job is not None and job.id == seeded.project_ids[project.number]
            parties[project.number] = job.customer_id
    finally:
        await erp.aclose()
    seed_psa_and_crm(sandbox, VOLUME, seeded.project_ids)
    months, problems = expected(VOLUME, seeded)
    billed = [n for n, m in months.items() if m.lines()]
    owed_before = {party: await receivable(accountant, party) for party in set(parties.values())}

    async with running_worker(client, on_tryton(settings, tryton), f"tryton-{uuid4()}") as used:
        totals = await client.execute_workflow(
            MonthEnd.run,
            MonthEndInput(period=PERIOD),
            id=month_end_id(PERIOD),
            task_queue=used.temporal.task_queue,
        )
        assert (totals.failed, totals.drafted) == ([], len(billed))
        results = await asyncio.gather(
            *(released(client, used, months[n].project.psa_id) for n in billed)
        )

    # psflow's report: what was posted and what was not, as the volume and Tryton's rule say
    time_problems = {k for k in problems if k.startswith("TE-")}
    approved = [e for e in volume_entries(VOLUME) if e.status is APPROVED]
    assert totals.posted == len(approved) - len(time_problems)
    assert totals.exceptions == len(problems)
    engine = open_engine(settings.resolved_store_url)
    try:
        found = list_exceptions(engine, period=PERIOD)
    finally:
        engine.dispose()
    assert {x.entry_id: x.reason for x in found} == problems
    assert Counter(x.kind for x in found) == Counter(
        EntryKind.TIME if k in time_problems else EntryKind.EXPENSE for k in problems
    )
    assert all("is in company" in x.message for x in found if x.reason == REFUSED)

    # Tryton's books: each invoice as psflow reported it and as the volume prices it
    invoiced: dict[str, Decimal] = defaultdict(Decimal)
    owed: dict[str, Decimal] = defaultdict(Decimal)
    for number, result in zip(billed, results, strict=True):
        month = months[number]
        assert result.outcome is Outcome.RELEASED and result.invoice is not None
        book = await booked(accountant, result.invoice.external_id)
        assert (book.state, book.move_state) == ("posted", "posted")
        assert result.invoice.number == book.number != ""  # Tryton numbers it on posting
        assert sorted(book.lines) == sorted(month.lines())
        assert book.total == result.invoice.total == sum((x[3] for x in month.lines()), Decimal(0))
        assert book.currency == result.invoice.currency == month.project.currency
        assert book.amount_of("time") == result.time.amount
        assert book.amount_of("expense") == result.expenses.amount
        assert book.debit == book.credit == book.total  # the accounting move balances
        assert book.party == parties[number]
        invoiced[book.currency] += book.total
        owed[book.party] += book.total
    assert dict(invoiced) == totals.invoiced
    for party, before in owed_before.items():
        assert await receivable(accountant, party) - before == owed[party]
    assert set(invoiced) == set(catalog.CURRENCIES)  # every company invoiced
    assert {months[n].project.billing_type for n in billed} == {"Fixed Fee", "Time and Materials"}
    assert (seeded.already_posted, len(seeded.refused)) == (2, 1)


async def test_the_psa_volume_names_the_erp_project_ids_it_is_given(sandbox: Sandbox) -> None:
    volume = Volume(projects=2, entries=10, period=PERIOD, seed=5)
    body = {"projects": 2, "entries": 10, "period": PERIOD, "seed": 5}
    async with httpx.AsyncClient(base_url=sandbox.urls["psa"], timeout=30) as api:
        form = {
            "grant_type": "client_credentials",
            "client_id": sandbox.settings.psa.client_id,
            "client_secret": sandbox.settings.psa.secret("psa"),
        }
        token = (await api.post("/oauth/token", data=form)).json()["access_token"]
        api.headers["Authorization"] = f"Bearer {token}"

        async def seeded_ids(sent: dict[str, Any]) -> list[str]:
            (await api.post("/__admin/seed/volume", json=sent)).raise_for_status()
            return [
                (await api.get(f"/api/v1/projects/{p.psa_id}")).json()["erp_project_id"]
                for p in volume_projects(volume)
            ]

        assert await seeded_ids(body | {"erp_project_ids": {"1": "41", "2": "42"}}) == ["41", "42"]
        netsuite = [p.erp_job_id for p in volume_projects(volume)]
        assert await seeded_ids(body) == netsuite
        partial = await api.post("/__admin/seed/volume", json=body | {"erp_project_ids": {1: "41"}})
    assert partial.status_code == 422 and "name every project" in partial.text


async def test_the_crm_volume_names_the_erp_project_ids_it_is_given(sandbox: Sandbox) -> None:
    volume = Volume(projects=2, entries=10, period=PERIOD, seed=5)
    body = {"projects": 2, "entries": 10, "period": PERIOD, "seed": 5}
    systems = Systems(sandbox.settings)
    admin = httpx.AsyncClient(base_url=sandbox.urls["crm"], timeout=30)
    try:

        async def seeded_ids(sent: dict[str, Any]) -> list[str | None]:
            (await admin.post("/__admin/seed/volume", json=sent)).raise_for_status()
            projects = volume_projects(volume)
            deals = [await systems.crm.get_opportunity(p.opportunity_id) for p in projects]
            return [deal.erp_project_id for deal in deals]

        assert await seeded_ids(body | {"erp_project_ids": {"1": "41", "2": "42"}}) == ["41", "42"]
        assert await seeded_ids(body) == [p.erp_job_id for p in volume_projects(volume)]
        partial = await admin.post(
            "/__admin/seed/volume", json=body | {"erp_project_ids": {1: "41"}}
        )
    finally:
        await admin.aclose()
        await systems.aclose()
    assert partial.status_code == 400 and "name every project" in partial.text  # as Salesforce


def test_the_benchmark_reads_each_call_trytond_answered_from_its_log() -> None:
    log = (
        "24283 139909 [2026-12-02 16:06:14,185] INFO trytond.protocols.dispatcher "
        "res.user.get_preferences(True, {}) from psflow@127.0.0.1/psflow/rpc/ in 10 ms\n"
        "24283 139909 [2026-12-02 16:06:15,114] INFO trytond.protocols.dispatcher "
        "project.work.psflow_upsert([{'psflow_external_i...': 'vol-00012', ...}], {...}) "
        "from psflow@127.0.0.1/psflow/rpc/ in 16 ms\n"
        "24283 139909 [2026-12-02 16:06:15,120] INFO werkzeug 127.0.0.1 - - POST 200 -\n"
        "24283 139909 [2026-12-02 16:06:15,134] INFO trytond.protocols.dispatcher "
        "project.work.psflow_upsert([{...}], {...}) from psflow@127.0.0.1/psflow/rpc/ in 1204 ms\n"
    )
    calls = tryton_calls(log)
    assert calls.count == {"res.user.get_preferences": 1, "project.work.psflow_upsert": 2}
    assert (calls.total, calls.seconds) == (3, 1.23)
