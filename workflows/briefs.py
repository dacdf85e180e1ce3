"""Decision briefs (models/brief.py) from what a run holds: pure, safe inside a workflow."""

from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.billing import Invoice
    from models.brief import DecisionBrief, Fact, Table
    from models.change_order import ChangeOrder
    from models.crm import Opportunity
    from models.hcm import Worker
    from models.policy import PeoplePolicy
    from models.psa import RateCard, StaffingRequest


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _percent(part: Decimal, whole: Decimal) -> str:
    return f"{(part / whole * 100):+.1f}%" if whole else "n/a"


def deal_brief(
    deal: Opportunity, card: RateCard | None, policy: PeoplePolicy | None
) -> DecisionBrief:
    """Amount, owner, and each sold role's rate against the rate card's."""
    owner = next(
        (u.name for u in (policy.users if policy else []) if u.crm_user_id == deal.owner_id),
        deal.owner_id,
    )
    card_rates = {r.role: r.rate for r in card.rates} if card else {}
    rows, sold, listed = [], Decimal(0), Decimal(0)
    for line in deal.lines:
        listed_rate = card_rates.get(line.role)
        sold += line.hours * line.rate
        if listed_rate is not None:
            listed += line.hours * listed_rate
        rows.append(
            [
                line.role,
                f"{line.hours:,}",
                money(line.rate, deal.currency),
                money(listed_rate, deal.currency) if listed_rate is not None else "not on the card",
                _percent(line.rate - listed_rate, listed_rate) if listed_rate else "n/a",
            ]
        )
    facts = [
        Fact(label="Customer", value=deal.account.name),
        Fact(label="Amount", value=money(deal.amount, deal.currency)),
        Fact(label="Deal owner", value=owner),
        Fact(label="Rate card", value=deal.rate_card or "none"),
        Fact(label="Close date", value=deal.close_date.isoformat()),
    ]
    if listed:
        facts.append(Fact(label="Against the rate card", value=_percent(sold - listed, listed)))
    table = Table(
        caption="Sold roles against the rate card",
        columns=["Role", "Hours", "Sold rate", "Card rate", "Against card"],
        rows=rows,
    )
    return DecisionBrief(title=f"Deal {deal.name}", facts=facts, tables=[table] if rows else [])


def invoice_brief(invoice: Invoice) -> DecisionBrief:
    """Lines, total, and the time and expenses behind them with who approved them."""
    lines = Table(
        caption=f"Invoice {invoice.number} lines",
        columns=["Kind", "Description", "Quantity", "Rate", "Amount"],
        rows=[
            [
                line.kind.value,
                line.description,
                f"{line.quantity:,}",
                money(line.rate, invoice.currency),
                money(line.amount, invoice.currency),
            ]
            for line in invoice.lines
        ],
    )
    facts = [
        Fact(label="Invoice", value=invoice.number),
        Fact(label="Period", value=invoice.period),
        Fact(label="Total", value=money(invoice.total, invoice.currency)),
        Fact(label="Time entries behind it", value=str(invoice.time_count)),
        Fact(label="Expenses behind it", value=str(invoice.expense_count)),
        Fact(label="Time and expenses approved by", value=", ".join(invoice.approvers) or "none"),
    ]
    return DecisionBrief(title=f"Invoice {invoice.number}", facts=facts, tables=[lines])


def hire_brief(worker: Worker, request: StaffingRequest | None) -> DecisionBrief:
    """The worker, their role, and the staffing request they are proposed for."""
    facts = [
        Fact(label="Worker", value=f"{worker.name} ({worker.id})"),
        Fact(label="Role", value=worker.role or "none"),
        Fact(label="Skills", value=", ".join(worker.skills) or "none"),
        Fact(label="Location", value=worker.location or "not given"),
    ]
    if request is not None:
        facts += [
            Fact(label="Proposed for", value=f"{request.id} on project {request.project_id}"),
            Fact(label="Hours", value=f"{request.hours:,}"),
            Fact(label="Starts", value=str(request.start_date or "not given")),
        ]
    return DecisionBrief(title=f"Staffing {worker.name}", facts=facts)


def change_order_brief(order: ChangeOrder, approved_by: list[str]) -> DecisionBrief:
    """What the change does in each system."""
    budget = money(order.budget_change, order.currency)
    roles = "; ".join(f"{r.role} {r.hours_change:+,} h" for r in order.roles) or "no change"
    systems = Table(
        caption="The change, per system",
        columns=["System", "Change"],
        rows=[
            ["ERP", f"project budget {budget}"],
            ["PSA", f"budget {budget}; staffing demand: {roles}"],
            ["CRM", f"opportunity amount {budget}"],
        ],
    )
    facts = [
        Fact(label="Project", value=order.project_id),
        Fact(label="Requested by", value=order.requested_by),
        Fact(label="Reason", value=order.reason),
        Fact(label="Effective", value=order.effective_date.isoformat()),
        Fact(label="Approved so far by", value=", ".join(approved_by) or "nobody yet"),
    ]
    return DecisionBrief(title=f"Change order {order.id}", facts=facts, tables=[systems])
