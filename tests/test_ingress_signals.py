"""Events that signal a running workflow: a CRM amount change reaches opportunity-to-project,
a PSA time approval reaches its period's time-to-bill. The sandbox systems deliver them, signed,
to the real ingress app, which signals runs on the test Temporal server and a real worker."""
# ruff: noqa: F811 (the `estate` and `systems` fixtures come from tests/test_ingress.py)

from decimal import Decimal
from typing import Any

from temporalio.client import WorkflowHandle

from models.opportunity_to_project import OpportunityToProjectResult, project_external_id
from models.people import Approval, Correction
from models.status import RunState, StepState, WaitKind, WorkflowStatus
from models.time_to_bill import TimeToBillResult
from sandbox.crm.seed import DEMO_OPPORTUNITIES, SPARE_CLOSED_WON
from tests.billing_support import awaiting_finance
from tests.support import Systems, proven
from tests.test_ingress import (  # noqa: F401
    USD_PROJECT,
    VOLUME,
    Estate,
    admin,
    closed_won,
    delivered,
    estate,
    post,
    psa_event,
    signed,
    status_of,
    systems,
)
from tests.test_opportunity_to_project import status_when, waiting_for
from tests.test_time_to_bill import start as start_billing
from workflows.opportunity_to_project import OpportunityToProject
from workflows.time_to_bill import TimeToBill

O2P = OpportunityToProject
APPROVE = "deal-desk approval"


def body_of(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the system sent it (its admin view adds the delivery state)."""
    return {k: v for k, v in event.items() if k != "delivery"}


def events(status: WorkflowStatus, kind: str) -> list[str]:
    return [e.detail for e in status.events if e.kind == kind]


def step(status: WorkflowStatus, name: str) -> Any:
    return next(s for s in status.steps if s.name == name)


def approved_by(estate: Estate, handle: WorkflowHandle[Any, Any], user: str) -> Approval:
    """`user`'s approval of the run, proven by the estate's issuer."""
    return proven(estate.settings, handle.id, "approve", Approval(user=user))


async def waiting_deal(estate: Estate, opportunity_id: str) -> WorkflowHandle[Any, Any]:
    """opportunity-to-project started by its closed-won event, waiting for approval."""
    answer = await post(estate, "crm", signed(closed_won(opportunity_id)))
    assert answer.json()["action"] == "accepted", answer.json()
    handle = estate.client.get_workflow_handle(
        answer.json()["workflow_id"], result_type=OpportunityToProjectResult
    )
    await status_when(handle, waiting_for(WaitKind.APPROVAL))
    return handle


async def change_amount(estate: Estate, opportunity_id: str, amount: Decimal) -> dict[str, Any]:
    """A sales user's edit in the CRM; its event once ingress answered it."""
    crm = estate.sandbox.urls["crm"]
    changed = await admin(crm, f"/__admin/opportunities/{opportunity_id}/amount",
                          {"amount": str(amount)})  # fmt: skip
    return await delivered(crm, f"/__admin/webhooks/{changed['event']['event_id']}")


# ---- opportunity-to-project


async def test_an_amount_raised_while_waiting_for_approval_is_the_amount_approved_and_built(
    estate: Estate, systems: Systems
) -> None:
    deal_id = DEMO_OPPORTUNITIES["large_usd"]
    handle = await waiting_deal(estate, deal_id)
    new_amount = (await systems.crm.get_opportunity(deal_id)).amount + Decimal("40000")

    event = await change_amount(estate, deal_id, new_amount)
    assert event["delivery"]["last_status"] == 202
    shown = (await systems.crm.get_opportunity(deal_id)).amount  # as the workflow reads it
    again = await post(estate, "crm", signed(body_of(event)))  # a redelivery: one effect
    assert again.status_code == 202
    assert again.json()["action"] == "signalled"
    assert again.json()["workflow_id"] == f"opportunity-to-project/{deal_id}"

    status = await status_when(
        handle,
        lambda s: (
            bool(events(s, "deal read again"))
            and s.waiting_for is not None
            and s.waiting_for.kind == WaitKind.APPROVAL
        ),
    )
    [changed] = events(status, "amount changed")
    assert f"-> {new_amount:.2f} USD in the CRM (event {event['event_id']}" in changed
    assert "approval asked for the old amount is withdrawn" in changed
    assert events(status, "deal read again") == [
        f"{shown} USD: over the approval threshold: approval is asked for this amount"
    ]
    assert step(status, APPROVE).detail == f"for {shown} USD"

    await handle.execute_update(O2P.approve, approved_by(estate, handle, "morgan"))
    result = await handle.result()

    assert result.outcome == "completed"
    done = await handle.query(O2P.status)
    assert step(done, APPROVE).detail == f"approved by morgan for {shown} USD"
    assert len(events(done, "amount changed")) == 1
    erp_project = await systems.erp.get_project(project_external_id(deal_id))
    psa_project = await systems.psa.find_project(project_external_id(deal_id))
    assert erp_project is not None and psa_project is not None
    assert erp_project.budget == psa_project.budget == new_amount


async def test_an_amount_lowered_under_the_threshold_ends_the_wait_without_approval(
    estate: Estate, systems: Systems
) -> None:
    deal_id = DEMO_OPPORTUNITIES["large_eur"]
    handle = await waiting_deal(estate, deal_id)

    event = await change_amount(estate, deal_id, Decimal("90000"))
    assert event["delivery"]["last_status"] == 202
    result = await handle.result()
    shown = (await systems.crm.get_opportunity(deal_id)).amount  # as the workflow reads it

    assert result.outcome == "completed"
    status = await handle.query(O2P.status)
    approval = step(status, APPROVE)
    assert approval.state == StepState.SKIPPED
    assert approval.detail == f"{shown} EUR is within the approval threshold"
    assert events(status, "deal read again") == [
        f"{shown} EUR: within the approval threshold: no approval needed"
    ]
    erp_project = await systems.erp.get_project(project_external_id(deal_id))
    assert erp_project is not None and erp_project.budget == Decimal("90000")


async def test_an_amount_raised_while_waiting_for_correction_keeps_the_correction(
    estate: Estate, systems: Systems
) -> None:
    deal_id = DEMO_OPPORTUNITIES["unknown_legal_entity"]
    answer = await post(estate, "crm", signed(closed_won(deal_id)))
    handle = estate.client.get_workflow_handle(
        answer.json()["workflow_id"], result_type=OpportunityToProjectResult
    )
    await status_when(handle, waiting_for(WaitKind.CORRECTION))

    event = await change_amount(estate, deal_id, Decimal("400000"))
    assert event["delivery"]["last_status"] == 202
    await status_when(handle, lambda s: bool(events(s, "amount changed")))
    fix = Correction(user="dana", fields={"legal_entity": "US01"})
    await handle.execute_update(O2P.correct, proven(estate.settings, handle.id, "correct", fix))
    # Read again with the correction kept, valid, and now over the threshold: approval.
    status = await status_when(handle, waiting_for(WaitKind.APPROVAL))
    shown = (await systems.crm.get_opportunity(deal_id)).amount

    [changed] = events(status, "amount changed")
    assert changed.endswith("the deal is read again before approval is decided")
    assert step(status, "validate deal").detail == "valid"
    assert step(status, APPROVE).detail == f"for {shown} USD"
    await handle.execute_update(O2P.approve, approved_by(estate, handle, "morgan"))
    assert (await handle.result()).outcome == "completed"
    deal = await systems.crm.get_opportunity(deal_id)
    erp_project = await systems.erp.get_project(project_external_id(deal_id))
    assert deal.legal_entity == "US01"
    assert erp_project is not None and erp_project.budget == shown


async def test_an_amount_changed_once_provisioning_started_is_left_to_a_change_order(
    estate: Estate, systems: Systems
) -> None:
    deal_id = DEMO_OPPORTUNITIES["small_gbp"]
    # The PSA takes its time over the first staffing request: the run is provisioning.
    path = "/api/v1/projects/*/staffing-requests"
    estate.sandbox.fault("psa", path=path, method="POST", status=None, latency_ms=6000)
    answer = await post(estate, "crm", signed(closed_won(deal_id)))
    handle = estate.client.get_workflow_handle(
        answer.json()["workflow_id"], result_type=OpportunityToProjectResult
    )
    await status_when(handle, lambda s: step(s, "open staffing requests").state == "running")
    read = (await systems.crm.get_opportunity(deal_id)).amount

    event = await change_amount(estate, deal_id, Decimal("31000"))
    assert event["delivery"]["last_status"] == 202
    result = await handle.result()

    assert result.outcome == "completed"
    [changed] = events(await handle.query(O2P.status), "amount changed")
    assert changed.endswith(
        f"this run sets the project up with the budget {read} GBP; a change order "
        "(`psflow start change-order`) moves the budget once the project is live, and sets "
        "the CRM amount"
    )
    erp_project = await systems.erp.get_project(project_external_id(deal_id))
    assert erp_project is not None and erp_project.budget == read


async def test_an_amount_change_with_no_running_workflow_signals_nothing_and_says_why(
    estate: Estate,
) -> None:
    deal_id = SPARE_CLOSED_WON[7]
    event = closed_won(deal_id) | {
        "type": "opportunity.amount_changed",
        "amount": "120000.00",
        "previous_amount": "100000.00",
        "currency": "USD",
    }
    answer = await post(estate, "crm", signed(event))

    assert answer.status_code == 202
    assert answer.json()["action"] == "none"
    assert answer.json()["detail"] == (
        f"opportunity {deal_id} amount 100000.00 -> 120000.00 USD: no opportunity-to-project "
        "run is running and it has no project yet: the amount is read when a run reads the deal"
    )
    assert await status_of(estate.client, f"opportunity-to-project/{deal_id}") is None


# ---- time-to-bill


async def test_time_approved_while_the_invoice_waits_for_finance_is_a_late_entry(
    estate: Estate, systems: Systems
) -> None:
    project, period = USD_PROJECT.psa_id, VOLUME.period
    page = await systems.psa.time_entries(project, period)
    entry = page.items[0]
    # Changed before the run: it is submitted, not approved, while the run reads the month.
    await systems.psa.update_time_entry(entry.id, {"notes": "workshop, hours corrected"})
    handle: WorkflowHandle[Any, Any] = await start_billing(
        estate.client, estate.settings, project, period
    )
    await awaiting_finance(handle)

    await systems.psa.approve_time_entry(entry.id, "paula")
    event = await psa_event("timesheet.approved", entry.id, estate, key="time_entry_id")
    assert event["delivery"]["last_status"] == 202
    again = await post(estate, "psa", signed(body_of(event)))
    other_id = await post(estate, "psa", signed(body_of(event) | {"event_id": "PSA-EVT-T9"}))

    for answer in (again, other_id):
        assert answer.status_code == 202
        assert answer.json()["action"] == "signalled"
        assert answer.json()["workflow_id"] == f"time-to-bill/{project}/{period}"
    status = await status_when(handle, lambda s: bool(events(s, "time approved")))
    assert events(status, "time approved") == [
        f"time entry {entry.id} approved after this run read {period}'s time: this run does "
        f"not bill it; the next time-to-bill run of {period} does, and reconciliation lists "
        "it as unposted time until then"
    ]
    assert step(status, "post time").detail.endswith(
        "; 1 approved after posting, not billed by this run (see events)"
    )

    await handle.execute_update(TimeToBill.approve, approved_by(estate, handle, "fatima"))
    result: TimeToBillResult = await handle.result()

    assert result.late_time_entries == 1
    assert (await handle.query(TimeToBill.status)).state == RunState.COMPLETED
    bills = await systems.erp.time_bills_for_project(USD_PROJECT.erp_job_id, period)
    assert bills and entry.id not in {b.entry_id for b in bills}
    after = await post(estate, "psa", signed(body_of(event) | {"event_id": "PSA-EVT-T10"}))
    assert after.json()["action"] == "none"
    assert "no time-to-bill run of the period is running" in after.json()["detail"]
