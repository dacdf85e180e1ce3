"""The chaos harness: a small run inside `make test` (`make chaos` is the full one), and the
census's judgements on records made up to show each kind of finding."""

from decimal import Decimal
from typing import Any

from chaos.census_billing import BillingRecords, Posting, judge_billing
from chaos.census_sagas import CustomerRecords, SagaRecords, judge_customer, judge_saga
from chaos.faults import WRITES
from chaos.findings import Finding, Kind
from chaos.outcomes import CANCELLED, COMPLETED, FAILED, RUNNING
from chaos.plan import SMALL, Plan, schedule
from chaos.report import Figures, markdown, rows
from chaos.run import run_chaos
from chaos.sagas import CANCELLABLE_STEPS
from models.billing import Invoice, InvoiceStatus, time_bill_external_id
from models.erp import ErpCustomer, ErpProject
from models.psa import StaffingRequest
from sandbox.volume import Volume, volume_projects


def shown(findings: list[Finding]) -> str:
    return "\n".join(f"{f.kind} {f.record} {f.key}: {f.detail}" for f in findings)


def assert_every_record_kept(figures: Figures) -> None:
    """What a small run must show with either ERP: a cancel taken, nothing lost, duplicated,
    orphaned, stuck or failed, every saga ended, month-end completed and its entries read."""
    counts = figures.counts()
    assert counts["cancels"] >= 1, "a cancel reached a running saga"
    assert (counts["lost"], counts["duplicated"], counts["orphaned"]) == (0, 0, 0), shown(
        figures.findings
    )
    assert counts["stuck"] == 0, figures.stuck
    assert not figures.cancelled_not_cancelled, [
        (r.workflow_id, r.cancelled_at, figures.outcomes[r.workflow_id])
        for r in figures.cancelled_not_cancelled
    ]
    letters = [(d.workflow_id, d.step, d.error) for d in figures.dead_letters]
    assert counts["failed"] == 0 and counts["dead letters from transient faults"] == 0, letters
    assert counts["completed"] + counts["cancelled"] == SMALL.sagas
    assert figures.month_end == COMPLETED
    assert figures.billing and set(figures.billing.values()) <= {"released", "nothing to invoice"}
    assert figures.entries[0] > 0, "the census read the month-end's entries"


async def test_sagas_and_month_end_under_kills_an_outage_storms_and_cancels_keep_records() -> None:
    figures = await run_chaos(SMALL)

    assert (figures.kills.worker, figures.kills.server) == (1, 1)
    assert figures.outage.refused > 0, "the ERP outage met calls"
    assert_every_record_kept(figures)

    table = markdown(figures).splitlines()
    assert table[0] == "| measure | count | detail |" and len(table) == len(rows(figures)) + 2
    assert all(line.count("|") == 4 for line in table)


# ---- the schedule ---------------------------------------------------------------------------


def test_the_schedule_is_drawn_from_the_seed_and_keeps_to_the_plan() -> None:
    plan = Plan(sagas=40, worker_kills=4, server_kills=2, storms=3, lost_answers=2, seed=5)
    first = schedule(plan, CANCELLABLE_STEPS, len(WRITES))

    assert first == schedule(plan, CANCELLABLE_STEPS, len(WRITES))
    assert first != schedule(Plan(sagas=40, seed=6), CANCELLABLE_STEPS, len(WRITES))
    assert len(first.starts) == 40 and len(first.cancels) == 4
    assert set(first.cancels.values()) <= set(CANCELLABLE_STEPS)
    assert [k.process for k in first.kills].count("worker") == 4
    assert [k.process for k in first.kills].count("temporal") == 2
    assert all(0 < k.at < plan.window_seconds for k in first.kills)
    assert first.end >= first.outage_at + plan.outage_seconds
    assert len(first.storms) == 3 and len(first.lost_answers) == 2


# ---- the sagas' census ----------------------------------------------------------------------

OPPORTUNITY = "006Hs0000040001IAA"
ROLES = {"Partner", "Analyst"}


def request(id: str, role: str, status: str = "open") -> StaffingRequest:
    return StaffingRequest(id=id, project_id="PRJ-1", role=role, hours=Decimal(10), status=status)


def saga(**changes: Any) -> SagaRecords:
    """A completed saga's records as they should be; `changes` spoil them."""
    records = SagaRecords(
        opportunity_id=OPPORTUNITY,
        account_id="001Hs0000000001IAA",
        roles=ROLES,
        crm_erp_project_id="1019",
        crm_psa_project_id="PRJ-1",
        erp_job=ErpProject(id="1019", external_id="psflow-x", name="Deal", customer_id="7"),
        psa_projects=[{"id": "PRJ-1", "status": "active", "erp_project_id": "1019"}],
        requests={"PRJ-1": [request("SR-1", "Partner"), request("SR-2", "Analyst")]},
    )
    for name, value in changes.items():
        setattr(records, name, value)
    return records


def test_a_completed_saga_with_one_of_everything_has_no_finding() -> None:
    assert judge_saga(COMPLETED, saga()) == []


def test_a_completed_saga_missing_a_request_or_with_a_second_project_is_lost_or_duplicated() -> (
    None
):
    second = {"id": "PRJ-2", "status": "active", "erp_project_id": "1019"}
    findings = judge_saga(
        COMPLETED,
        saga(
            psa_projects=[saga().psa_projects[0], second],
            requests={"PRJ-1": [request("SR-1", "Partner"), request("SR-3", "Partner")]},
            crm_psa_project_id=None,
        ),
    )
    assert sorted((f.kind, f.record) for f in findings) == [
        (Kind.DUPLICATED, "PSA project"),
        (Kind.DUPLICATED, "staffing request"),
        (Kind.LOST, "CRM project ids"),
        (Kind.LOST, "staffing request"),
    ]


def test_a_cancelled_or_failed_saga_leaving_anything_live_leaves_orphans() -> None:
    findings = judge_saga(CANCELLED, saga())
    assert sorted(f.record for f in findings) == [
        "CRM project ids", "ERP job", "PSA project", "staffing request", "staffing request"
    ]  # fmt: skip
    assert all(f.kind is Kind.ORPHANED for f in findings)
    undone = saga(
        erp_job=None,
        psa_projects=[{"id": "PRJ-1", "status": "archived", "erp_project_id": "1019"}],
        requests={"PRJ-1": [request("SR-1", "Partner", "cancelled")]},
        crm_erp_project_id=None,
        crm_psa_project_id=None,
    )
    assert judge_saga(FAILED, undone) == []
    assert judge_saga(RUNNING, saga(erp_job=None)) == [], "a live run is stuck, not orphaned"


def test_a_customer_psflow_made_with_no_project_left_is_orphaned_a_preexisting_one_kept() -> None:
    made = ErpCustomer(
        id="7", external_id="sfdc-1", company_name="A", origin="opportunity-to-project/x"
    )
    assert [f.record for f in judge_customer(CustomerRecords("1", made, 0), set())] == [
        "ERP customer"
    ]
    assert judge_customer(CustomerRecords("1", made, 1), set()) == []
    assert judge_customer(CustomerRecords("1", made, 0), {"opportunity-to-project/x"}) == []
    before = made.model_copy(update={"origin": None})
    assert judge_customer(CustomerRecords("1", before, 0), set()) == []


# ---- the month-end's census -----------------------------------------------------------------


def invoice(id: str, job: str, status: InvoiceStatus, number: str = "INV-1") -> Invoice:
    return Invoice(
        id=id, external_id=f"inv-{id}", number=number, project_id=job, customer_id="7",
        currency="USD", period="2026-10", status=status, total=Decimal(100), lines=[],
        time_count=1, expense_count=0, approvers=["paula"], source="time-to-bill/x",
    )  # fmt: skip


def posting(entry: str, job: str, invoice: str | None, billable: bool = True) -> Posting:
    return Posting(time_bill_external_id(entry), job, billable, invoice, "time-to-bill/x")


def test_month_end_entries_not_posted_not_invoiced_or_invoiced_twice_are_found() -> None:
    project = volume_projects(Volume(projects=1, entries=10, period="2026-10"))[0]
    job, psa = project.erp_job_id, project.psa_id
    records = BillingRecords(
        period="2026-10",
        projects=[project],
        time={"TE-1": psa, "TE-2": psa, "TE-3": psa, "TE-4": psa},
        invalid={"TE-4": "inactive worker"},
        time_bills=[posting("TE-1", job, "11"), posting("TE-2", job, None)],
        invoices=[
            invoice("11", job, InvoiceStatus.RELEASED),
            invoice("12", job, InvoiceStatus.DRAFT),
        ],
        crm_invoice={project.opportunity_id: ("INV-1", "released")},
    )
    findings = judge_billing(records, live=set())
    assert sorted((f.kind, f.record, f.key) for f in findings) == [
        (Kind.DUPLICATED, "invoice", f"{psa}/2026-10"),
        (Kind.LOST, "invoice line", "TE-2"),
        (Kind.LOST, "time bill", "TE-3"),
        (Kind.ORPHANED, "invoice", f"{psa}/2026-10"),
    ], shown(findings)
    assert judge_billing(records, live={f"time-to-bill/{psa}/2026-10"}) == [], "still running"
