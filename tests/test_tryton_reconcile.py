"""Reconciliation and `psflow report` with Tryton as the ERP: a trytond of this module's own
holding a small volume (stack/tryton_volume.py), the PSA and CRM of a sandbox of its own
carrying Tryton's project ids, a worker on Tryton; then the same drift test_reconcile.py seeds
against NetSuite, found in Tryton's records, and the report's figures against Tryton's books.
"""

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.reconcile import NOT_ALLOWED
from application.repairs import NO_REPAIR
from cli.reconcile import DRIFT_FOUND
from config import Settings, load_settings
from connectors.tryton import TrytonErpConnector
from connectors.tryton_rpc import TrytonRpc
from models.billing import (
    ApprovalState,
    BillingMilestone,
    InvoiceDraftInput,
    InvoiceStatus,
    InvoiceStatusUpdate,
    time_bill_external_id,
)
from models.erp import ErpProjectInput
from models.opportunity_to_project import project_external_id
from models.people import Rejection
from models.psa import PsaProjectInput
from models.reconcile import FindingKind
from models.time_to_bill import Outcome, TimeToBillResult
from sandbox.crm.seed import DEMO_OPPORTUNITIES
from sandbox.volume import ALREADY_POSTED, Volume, VolumeProject, volume_entries, volume_projects
from stack.tryton import ADMIN_PASSWORD, TrytonServer, running_tryton
from stack.tryton_volume import TrytonVolume, seed_tryton_volume, subsidiary_of
from store.audit import audit_entries
from store.db import open_engine
from tests.billing_support import awaiting_finance
from tests.support import (
    Sandbox,
    Systems,
    client_in,
    env_for,
    proven,
    running_worker,
    write_settings,
)
from tests.test_reconcile import by_kind, cli
from tests.test_report import backlog
from tests.test_time_to_bill import release
from tests.test_time_to_bill import start as start_billing
from tests.test_tryton_month_end import expected, seed_psa_and_crm
from tests.tryton_support import DATA_DIR, tryton_template_seconds
from workflows.time_to_bill import TimeToBill

__all__ = ["tryton_template_seconds"]  # the fixture this module uses

# test_reconcile.py's namespace: this module's business keys there are of its own period.
NAMESPACE = "reconcile-tests"
PERIOD = "2025-07"
# Four T&M projects: EUR; USD, with the volume's one hand import (its worker of the project's
# company, so Tryton takes it); GBP, with a billable expense; USD, closed mid-July.
VOLUME = Volume(projects=4, entries=80, period=PERIOD, seed=2)
BILLED, DRIFTED, HELD, CLOSED = volume_projects(VOLUME)
"""Released by time-to-bill; its invoice released behind the CRM's back; rejected by finance
(its time posted, on no invoice); closed in July, its time never posted."""
UNLINKED_DEAL = DEMO_OPPORTUNITIES["small_gbp"]  # closed today: no ERP, no PSA project
PSA_LESS_DEAL = DEMO_OPPORTUNITIES["large_usd"]  # closed today: a Tryton project, no PSA one
PSA_IMPORTS = "import-2025-q4-"  # the sandbox PSA's projects from before psflow
TODAY = datetime.now(UTC).date()
APPROVED = ApprovalState.APPROVED
POLICY = f"""
[reconcile]
repair = ["invoice_status"]
unposted_after_hours = 1
max_repairs = 5
closed_won_since = "{TODAY.isoformat()}"
lookback_months = {(TODAY.year - 2025) * 12 + TODAY.month - 7 + 1}
"""


@pytest.fixture(scope="module")
def own_tryton(tryton_template_seconds: float) -> Iterator[TrytonServer]:
    """A trytond of this module's own, on a fresh copy of the prepared database: its volume
    is the only one there."""
    with running_tryton(DATA_DIR) as server:
        yield server


def on_tryton(tryton: TrytonServer) -> dict[str, str]:
    """The variables that make Tryton the ERP, for the worker and the CLI alike."""
    return {
        "PSFLOW_ERP_KIND": "tryton",
        "PSFLOW_ERP_URL": tryton.url,
        "PSFLOW_ERP_LOGIN": tryton.login,
        "PSFLOW_ERP_PASSWORD": tryton.password,
    }


@pytest.fixture(scope="module")
def estate(
    tmp_path_factory: pytest.TempPathFactory, temporal_env: WorkflowEnvironment
) -> Iterator[Sandbox]:
    """A sandbox CRM, PSA and HCM and a store of this module's own (its NetSuite unused)."""
    folder = tmp_path_factory.mktemp("tryton-reconcile")
    target = temporal_env.client.service_client.config.target_host
    config = write_settings(folder, temporal_address=target, namespace=NAMESPACE)
    config.write_text(config.read_text() + POLICY)
    box = Sandbox(config)
    box.start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture(scope="module")
async def seeded(estate: Sandbox, own_tryton: TrytonServer) -> TrytonVolume:
    """The volume in Tryton, then in the PSA and the CRM with Tryton's project ids, as
    opportunity-to-project would have written them."""
    erp = TrytonErpConnector.build(own_tryton.url, own_tryton.login, own_tryton.password)
    try:
        found = await seed_tryton_volume(VOLUME, erp)
    finally:
        await erp.aclose()
    seed_psa_and_crm(estate, VOLUME, found.project_ids)
    systems = Systems(estate.settings)
    try:
        for project in volume_projects(VOLUME):
            deal = await systems.crm.get_opportunity(project.opportunity_id)
            assert deal.erp_project_id == found.project_ids[project.number]  # Tryton's, seeded
    finally:
        await systems.aclose()
    return found


@pytest.fixture(scope="module")
async def own_worker(
    temporal_env: WorkflowEnvironment,
    estate: Sandbox,
    own_tryton: TrytonServer,
    seeded: TrytonVolume,
) -> AsyncIterator[Settings]:
    """A psflow worker whose ERP is this module's Tryton, on a task queue of its own."""
    client = await client_in(temporal_env, NAMESPACE)
    settings = load_settings(estate.config, env=on_tryton(own_tryton))
    assert settings.erp.kind == "tryton"
    async with running_worker(client, settings, f"psflow-tryton-recon-{uuid.uuid4()}") as used:
        yield used


@pytest.fixture(scope="module")
async def billed(temporal_env: WorkflowEnvironment, own_worker: Settings) -> TimeToBillResult:
    """BILLED's month released (Tryton numbers the invoice, the CRM is told), HELD's month
    rejected by finance (its time stays posted in Tryton, on no invoice)."""
    client = await client_in(temporal_env, NAMESPACE)
    released = await start_billing(client, own_worker, BILLED.psa_id, PERIOD)
    # The first run's read made the store's issuer key: two runs reading at once on a new
    # store may each make one, and a run refuses a proof signed with the key it did not read.
    await awaiting_finance(released)
    held = await start_billing(client, own_worker, HELD.psa_id, PERIOD)

    async def reject() -> TimeToBillResult:
        await awaiting_finance(held)
        rejection = Rejection(user="fatima", reason="hold until the client signs")
        await held.execute_update(
            TimeToBill.reject, proven(own_worker, held.id, "reject", rejection)
        )
        return await held.result()

    result, rejected = await asyncio.gather(release(own_worker, released), reject())
    assert (result.outcome, rejected.outcome) == (Outcome.RELEASED, Outcome.REJECTED)
    return result


@pytest.fixture
async def books(own_tryton: TrytonServer) -> AsyncIterator[TrytonRpc]:
    """Tryton's admin, who reads every company's books."""
    rpc = TrytonRpc(httpx.AsyncClient(base_url=own_tryton.url), "admin", ADMIN_PASSWORD)
    yield rpc
    await rpc.aclose()


def cli_env(estate: Sandbox, worker: Settings, tryton: TrytonServer) -> dict[str, str]:
    return env_for(estate.config, PSFLOW_TASK_QUEUE=worker.temporal.task_queue, **on_tryton(tryton))


async def reconcile_now(env: dict[str, str]) -> dict[str, Any]:
    result = await cli(env, "reconcile", "--now", "--json")
    assert result.exit_code == DRIFT_FOUND, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


async def close_today(systems: Systems, deal: str) -> None:
    url = systems.crm._url("Opportunity", deal)
    await systems.crm.request("PATCH", url, json={"CloseDate": TODAY.isoformat()})


async def tryton_project_for(systems: Systems, deal: str) -> None:
    """A Tryton project under the deal's external id (as a saga leaves it before the PSA)."""
    customer = await systems.erp.get_customer(BILLED.erp_customer_external_id)
    assert customer is not None
    await systems.erp.upsert_project(
        ErpProjectInput(
            external_id=project_external_id(deal), name="Half-provisioned rollout",
            customer_id=customer.id, subsidiary_id=subsidiary_of(BILLED),
            currency=BILLED.currency, budget=Decimal("10000"), billing_type="Time and Materials",
        )
    )  # fmt: skip


async def hand_made_psa_project(systems: Systems) -> str:
    """A PSA project made by hand with no Tryton project behind it: its id."""
    project = await systems.psa.create_project(
        PsaProjectInput(
            external_id=f"manual-{uuid.uuid4().hex[:8]}", name="Hand-made workshop",
            customer_name="Northwind", erp_project_id="999999", currency="USD",
            budget=Decimal("5000"), billing_type="Time and Materials",
            rate_card="STD-USD-2026", start_date=TODAY, milestones=[],
        ),
        idempotency_key=str(uuid.uuid4()),
    )  # fmt: skip
    return project.id


async def released_behind_the_crm(systems: Systems, seeded: TrytonVolume) -> str:
    """A DRIFTED invoice released in Tryton that the CRM still shows as approved: its
    external id."""
    done = BillingMilestone(
        id="M-RECON-TRYTON", name="Workshop", due_date=date(2025, 7, 31),
        amount=Decimal("1200"), completed_on=date(2025, 7, 31),
    )  # fmt: skip
    invoice = await systems.erp.draft_invoice(
        InvoiceDraftInput(
            external_id=f"recon-{uuid.uuid4().hex[:8]}",
            project_id=seeded.project_ids[DRIFTED.number],
            currency=DRIFTED.currency,
            period=PERIOD,
            source="reconcile-test",
            milestones=[done],
        )
    )
    await systems.erp.set_invoice_status(invoice.external_id, InvoiceStatus.APPROVED)
    released = await systems.erp.set_invoice_status(invoice.external_id, InvoiceStatus.RELEASED)
    await systems.crm.set_invoice_status(
        InvoiceStatusUpdate(
            opportunity_id=DRIFTED.opportunity_id, invoice_number=released.number,
            status=InvoiceStatus.APPROVED, total=released.total, currency=released.currency,
            period=PERIOD,
        )
    )  # fmt: skip
    return released.external_id


async def number_in_books(books: TrytonRpc, external_id: str) -> tuple[str, str]:
    """The invoice's number and state as Tryton's books hold them."""
    (row,) = await books.model(
        "account.invoice", "search_read", [("psflow_external_id", "=", external_id)], 0, 1,
        None, ["number", "state"],
    )  # fmt: skip
    return row["number"] or "", row["state"]


def unposted(project: VolumeProject, seeded: TrytonVolume) -> tuple[int, Decimal]:
    """The project's approved entries and hours Tryton does not hold (all but the hand
    imports it took)."""
    late = [
        e
        for e in volume_entries(VOLUME)
        if e.project_number == project.number
        and e.status is APPROVED
        and not (e.invalid == ALREADY_POSTED and e.id not in seeded.refused)
    ]
    return len(late), sum((e.hours for e in late), Decimal(0))


UNPOSTED_DETAIL = re.compile(
    r"(?P<count>\d+) approved time entries \((?P<hours>[\d.]+) h\) are not in the ERP 1 h after"
)


async def test_reconciliation_on_tryton_finds_the_drift_it_finds_on_netsuite_and_only_that(
    estate: Sandbox,
    own_tryton: TrytonServer,
    own_worker: Settings,
    seeded: TrytonVolume,
    billed: TimeToBillResult,
    books: TrytonRpc,
) -> None:
    assert seeded.already_posted == 1 and not seeded.refused  # the volume is as described
    systems = Systems(own_worker)
    try:
        await close_today(systems, UNLINKED_DEAL)
        await close_today(systems, PSA_LESS_DEAL)
        await tryton_project_for(systems, PSA_LESS_DEAL)
        orphan = await hand_made_psa_project(systems)
        drifted = await released_behind_the_crm(systems, seeded)
        number, state = await number_in_books(books, drifted)
        env = cli_env(estate, own_worker, own_tryton)
        first = await reconcile_now(env)

        missing = by_kind(first, FindingKind.MISSING_PROJECT)
        assert set(missing) == {UNLINKED_DEAL, PSA_LESS_DEAL}
        assert missing[UNLINKED_DEAL]["detail"].endswith("has no ERP and no PSA project")
        assert missing[PSA_LESS_DEAL]["detail"].endswith("has no PSA project")  # Tryton has it
        assert {f["repair"] for f in missing.values()} == {NOT_ALLOWED}

        # The hand-made project, and the PSA's own demo projects (imported before psflow,
        # in neither ERP); every volume project is in Tryton.
        orphans = by_kind(first, FindingKind.PSA_WITHOUT_ERP)
        external_ids = {key: f["detail"].rsplit(" ", 1)[1] for key, f in orphans.items()}
        assert external_ids.pop(orphan).startswith("manual-")
        assert external_ids and all(e.startswith(PSA_IMPORTS) for e in external_ids.values())
        assert {f["repair"] for f in orphans.values()} == {NO_REPAIR}

        # BILLED's and HELD's time is in Tryton or a billing exception; DRIFTED's hand import
        # is in Tryton: the rest of its time, and CLOSED's, never reached it.
        late = by_kind(first, FindingKind.UNPOSTED_TIME)
        assert set(late) == {f"{p.psa_id}/{PERIOD}" for p in (DRIFTED, CLOSED)}
        for project in (DRIFTED, CLOSED):
            finding = late[f"{project.psa_id}/{PERIOD}"]
            said = UNPOSTED_DETAIL.match(finding["detail"])
            assert said is not None, finding["detail"]
            assert (int(said["count"]), Decimal(said["hours"])) == unposted(project, seeded)
            assert finding["repair"] == NOT_ALLOWED

        # BILLED's release reached the CRM and HELD's voided invoice is no drift.
        drift = by_kind(first, FindingKind.INVOICE_STATUS)
        assert list(drift) == [DRIFTED.opportunity_id]
        assert state == "posted" and number != ""
        assert (
            f"invoice {number} Approved; the ERP has it released"
            in drift[DRIFTED.opportunity_id]["detail"]
        )
        assert drift[DRIFTED.opportunity_id]["repair"] == f"written to CRM: {number} released"

        shown = await systems.crm.invoice_status(DRIFTED.opportunity_id)
        assert shown is not None
        assert (shown.invoice_number, shown.status) == (number, InvoiceStatus.RELEASED)
        assert billed.invoice is not None
        told = await systems.crm.invoice_status(BILLED.opportunity_id)
        assert told is not None
        assert (told.invoice_number, told.status) == (billed.invoice.number, InvoiceStatus.RELEASED)

        second = await reconcile_now(env)
        assert not by_kind(second, FindingKind.INVOICE_STATUS), "the CRM has Tryton's number"
        assert set(by_kind(second, FindingKind.UNPOSTED_TIME)) == set(late)
    finally:
        await systems.aclose()


def unbilled(record: dict[str, Any]) -> bool:
    return bool(record["psflow_billable"]) and record["invoice_line"] is None


async def unbilled_in_books(books: TrytonRpc) -> dict[str, tuple[Decimal, int]]:
    """Currency -> (amount, records) of billable time and expenses on no invoice, from every
    company's books."""
    currency = {
        c["id"]: c["currency."]["code"]
        for c in await books.model(
            "company.company", "search_read", [], 0, None, None, ["currency.code"]
        )
    }
    flags = ["psflow_billable", "invoice_line"]
    lines = await books.model(
        "timesheet.line", "search_read", [], 0, None, None, [*flags, "company", "psflow_amount"]
    )
    expenses = await books.model(
        "psflow.expense", "search_read", [], 0, None, None, [*flags, "currency.code", "amount"]
    )
    rows = [(currency[t["company"]], t["psflow_amount"]) for t in lines if unbilled(t)]
    rows += [(x["currency."]["code"], x["amount"]) for x in expenses if unbilled(x)]
    totals: dict[str, tuple[Decimal, int]] = {}
    for code, amount in rows:
        total, count = totals.get(code, (Decimal(0), 0))
        totals[code] = (total + Decimal(str(amount or 0)), count + 1)
    return totals


async def test_the_report_on_tryton_shows_trytons_unbilled_backlog_and_invoice_numbers(
    estate: Sandbox,
    own_tryton: TrytonServer,
    own_worker: Settings,
    seeded: TrytonVolume,
    billed: TimeToBillResult,
    books: TrytonRpc,
) -> None:
    env = cli_env(estate, own_worker, own_tryton)
    day = TODAY.isoformat()
    result = await cli(env, "report", "--since", day, "--until", day, "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)

    # The backlog is what Tryton's books hold unbilled: HELD's time and expenses, whose
    # rejected invoice Tryton cancelled, and the hand import it was given.
    held = await unbilled_in_books(books)
    assert backlog(answer) == held
    months, problems = expected(VOLUME, seeded)
    month = months[HELD.number]
    time_amount = sum((hours * rate for (_, rate), hours in month.time.items()), Decimal(0))
    expenses = [a for amounts in month.expenses.values() for a in amounts]
    posted = [
        e
        for e in volume_entries(VOLUME)
        if e.project_number == HELD.number
        and e.status is APPROVED
        and e.billable
        and e.id not in problems
    ]
    assert held[HELD.currency] == (
        time_amount + sum(expenses, Decimal(0)),
        len(posted) + len(expenses),
    )
    assert BILLED.currency not in held, "BILLED's month is on its released invoice"
    table = await cli({**env, "COLUMNS": "200"}, "report", "--since", day, "--until", day)
    assert table.exit_code == 0, table.output
    amount, records = held[HELD.currency]
    assert f"{HELD.currency} {amount:,.2f} {records}" in " ".join(table.stdout.split())

    # Time to invoice pairs each entry with its invoice by Tryton's posted number.
    assert billed.invoice is not None
    number, state = await number_in_books(books, billed.invoice.external_id)
    assert (state, billed.invoice.number) == ("posted", number)
    engine = open_engine(own_worker.resolved_store_url)
    try:
        (released,) = audit_entries(engine, kind="released")
    finally:
        engine.dispose()
    assert released.detail.startswith(f"invoice {number}: ")
    on_invoice = [
        e
        for e in volume_entries(VOLUME)
        if e.project_number == BILLED.number
        and e.status is APPROVED
        and e.billable
        and e.id not in problems
    ]
    waits = [
        (released.at - datetime.combine(e.date + timedelta(days=1), time(17), UTC)).total_seconds()
        for e in on_invoice
    ]
    latency = answer["time_to_invoice"]
    assert (latency["invoices"], latency["count"]) == (1, len(on_invoice))
    assert latency["max_seconds"] == pytest.approx(max(waits), abs=0.01)
    records = await books.model(
        "timesheet.line", "search_read",
        [("psflow_external_id", "in", [time_bill_external_id(e.id) for e in on_invoice])],
        0, None, None, ["invoice_line.invoice"],
    )  # fmt: skip
    assert len(records) == len(on_invoice)
    invoices = {r["invoice_line."]["invoice"] for r in records}
    assert len(invoices) == 1
    numbers = await books.model("account.invoice", "read", list(invoices), ["number"])
    assert [n["number"] for n in numbers] == [number]
