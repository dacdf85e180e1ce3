"""Whether a closed-won deal can become a project: pure rules, safe inside a workflow."""

from collections import defaultdict
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.crm import Opportunity
    from models.policy import DealPolicy
    from models.psa import RateCard
    from models.status import FieldProblem

CORRECTABLE_FIELDS = ("legal_entity", "rate_card", "currency", "billing_terms", "billing_type")


def _one_of(values: list[str]) -> str:
    return ", ".join(values)


def deal_problems(
    deal: Opportunity, rate_card: RateCard | None, policy: DealPolicy
) -> list[FieldProblem]:
    """Every field that stops the deal from being set up, each with the fix."""
    problems: list[FieldProblem] = []

    def problem(field: str, message: str) -> None:
        problems.append(FieldProblem(field=field, message=message))

    if deal.legal_entity not in policy.legal_entities:
        problem(
            "legal_entity",
            f"legal entity {deal.legal_entity or '(none)'} has no ERP subsidiary mapping: "
            f"use one of {_one_of(list(policy.legal_entities))}",
        )
    if deal.currency not in policy.currencies:
        problem(
            "currency",
            f"currency {deal.currency} is not supported: use one of {_one_of(policy.currencies)}",
        )
    if deal.billing_terms not in policy.billing_terms:
        problem(
            "billing_terms",
            f"billing terms {deal.billing_terms or '(none)'} are not allowed: "
            f"use one of {_one_of(policy.billing_terms)}",
        )
    if deal.billing_type not in policy.billing_types:
        problem(
            "billing_type",
            f"billing type {deal.billing_type or '(none)'} is unknown: "
            f"use one of {_one_of(policy.billing_types)}",
        )
    problems += _rate_card_problems(deal, rate_card)
    return problems


def _rate_card_problems(deal: Opportunity, card: RateCard | None) -> list[FieldProblem]:
    def problem(message: str) -> list[FieldProblem]:
        return [FieldProblem(field="rate_card", message=message)]

    if not deal.rate_card:
        return problem(f"the deal has no rate card: set one, e.g. STD-{deal.currency}-2026")
    if card is None:
        return problem(f"rate card {deal.rate_card} does not exist in the PSA")
    if not card.active:
        return problem(f"rate card {card.code} is inactive: use a current one")
    if card.currency != deal.currency:
        return problem(
            f"rate card {card.code} is in {card.currency} but the deal is in {deal.currency}"
        )
    missing = sorted({line.role for line in deal.lines} - {r.role for r in card.rates})
    if missing:
        return problem(f"rate card {card.code} has no rate for {_one_of(missing)}")
    return []


def needs_approval(deal: Opportunity, policy: DealPolicy) -> bool:
    """Deals above the policy's threshold for their currency need a deal-desk approval."""
    threshold = policy.approval.thresholds.get(deal.currency)
    return threshold is None or deal.amount > threshold


def hours_by_role(deal: Opportunity) -> dict[str, Decimal]:
    """Sold hours per role: one staffing request each."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in deal.lines:
        totals[line.role] += line.hours
    return dict(totals)


def require_closed_won(deal: Opportunity) -> None:
    """Only a closed-won deal becomes a project: anything else fails the run for good."""
    if not deal.is_won:
        raise ApplicationError(
            f"opportunity {deal.id} is at stage {deal.stage!r}, not Closed Won: "
            "only closed-won deals become projects",
            type="DealNotClosedWon",
            non_retryable=True,
        )


def field_value(deal: Opportunity, name: str) -> str | None:
    """A correctable field's value as the CRM write-back sends it."""
    value = getattr(deal, name)
    return None if value is None else str(value)


def corrections_made(original: Opportunity, deal: Opportunity) -> dict[str, str | None]:
    """The correctable fields whose value differs from the deal as read, with their values."""
    return {
        name: field_value(deal, name)
        for name in CORRECTABLE_FIELDS
        if field_value(deal, name) != field_value(original, name)
    }
