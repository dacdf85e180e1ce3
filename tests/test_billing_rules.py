"""The billing rules on their own, and time-to-bill refusing a project it cannot price."""

import uuid
from datetime import date
from decimal import Decimal

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker

from activities.billing import BillingSetup
from activities.billing_rules import bill_rate, time_posting, time_problem
from config import Settings
from models.billing import ApprovalState, BillingProject, TimeEntry
from models.dead_letter import FailedRun
from models.erp import ErpEmployee
from models.psa import RateCard, RoleRate
from models.time_to_bill import BillingContext, TimeToBillInput
from workflows.time_to_bill import TimeToBill

CARD = RateCard(
    code="STD-USD-2026",
    currency="USD",
    active=True,
    rates=[
        RoleRate(role="Partner", rate=Decimal(450), effective_to=date(2026, 10, 15)),
        RoleRate(role="Partner", rate=Decimal(475), effective_from=date(2026, 10, 16)),
        RoleRate(role="Consultant", rate=Decimal(190)),
    ],
)
PROJECT = BillingProject(
    id="PRJ-1",
    external_id="p-1",
    name="Programme",
    customer_name="Acme",
    status="active",
    closed_on=date(2026, 10, 20),
    currency="USD",
    billing_type="Time and Materials",
    rate_card=CARD.code,
    erp_project_id="700001",
)
CONTEXT = BillingContext(
    project=PROJECT, rate_card=CARD, cost_centers=["CC-1100"], period="2026-10",
    source="time-to-bill/PRJ-1/2026-10",
)  # fmt: skip
EMPLOYEE = ErpEmployee(
    id="800001", external_id="hcm-60001", name="Ana Ruiz", subsidiary_id="1",
    cost_center="CC-1100", labor_cost=Decimal(90), inactive=False,
)  # fmt: skip


def entry(**changes: object) -> TimeEntry:
    base = TimeEntry(
        id="TE-1", worker_id="60001", project_id="PRJ-1", date=date(2026, 10, 14),
        hours=Decimal("7.5"), role="Partner", billable=True, cost_center="CC-1100",
        status=ApprovalState.APPROVED, approver="paula",
    )  # fmt: skip
    return base.model_copy(update=changes)


def test_the_rate_in_force_on_the_entrys_day_prices_it() -> None:
    assert bill_rate(CARD, "Partner", date(2026, 10, 15)) == Decimal(450)
    assert bill_rate(CARD, "Partner", date(2026, 10, 16)) == Decimal(475)
    posting = time_posting(entry(date=date(2026, 10, 16)), CONTEXT, EMPLOYEE, "psa-time-TE-1")
    assert (posting.rate, posting.amount, posting.billable) == (
        Decimal(475),
        Decimal("3562.50"),
        True,
    )


@pytest.mark.parametrize(
    ("changes", "employee", "reason"),
    [
        ({"role": "Data Scientist"}, EMPLOYEE, "no rate for role"),
        ({"cost_center": "CC-9999"}, EMPLOYEE, "unknown cost center"),
        ({"date": date(2026, 10, 21)}, EMPLOYEE, "closed project"),
        ({}, EMPLOYEE.model_copy(update={"inactive": True}), "inactive worker"),
        ({}, None, "unknown worker"),
    ],
)
def test_each_rule_names_its_reason(
    changes: dict[str, object], employee: ErpEmployee | None, reason: str
) -> None:
    problem = time_problem(entry(**changes), CONTEXT, employee, None)
    assert problem is not None and problem.reason == reason


def test_a_valid_entry_has_no_problem() -> None:
    assert time_problem(entry(), CONTEXT, EMPLOYEE, None) is None


async def test_a_rate_card_in_another_currency_fails_before_posting(
    client: Client, settings: Settings
) -> None:
    """A real PSA may let a project's rate card drift from its currency; nothing is posted."""
    posted: list[object] = []

    @activity.defn(name="billing.setup")
    async def setup(project_id: str) -> BillingSetup:
        card = CARD.model_copy(update={"currency": "EUR"})
        return BillingSetup(project=PROJECT, rate_card=card, policy=settings.billing)

    @activity.defn(name="billing.post_page")
    async def post_page(request: object) -> None:
        posted.append(request)

    letters: list[FailedRun] = []

    @activity.defn(name="store.record_dead_letter")
    async def record_dead_letter(failed: FailedRun) -> None:
        letters.append(failed)

    queue = f"rules-{uuid.uuid4()}"
    activities = [setup, post_page, record_dead_letter]
    async with Worker(client, task_queue=queue, workflows=[TimeToBill], activities=activities):
        with pytest.raises(WorkflowFailureError) as failed:
            await client.execute_workflow(
                TimeToBill.run,
                TimeToBillInput(project_id="PRJ-1", period="2026-10"),
                id=f"time-to-bill/PRJ-1/2026-10/{queue}",
                task_queue=queue,
            )
    assert "prices in EUR; the project bills in USD" in str(failed.value.cause)
    assert posted == []
    [letter] = letters
    assert letter.step == "read project" and "prices in EUR" in letter.error
