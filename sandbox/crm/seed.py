"""Deterministic demo data for the CRM sandbox: accounts, users and opportunities.

The same seed always yields the same ids and values, so tests and the demo can name deals.
"""

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sandbox import catalog
from sandbox.records import RecordStore

SEED = 20260105
FIRST_CLOSE_DATE = date(2026, 1, 5)
PROJECT_KINDS = [
    "ERP Cloud Migration",
    "Data Platform Modernisation",
    "Customer Portal Rebuild",
    "Finance Transformation",
    "Supply Chain Analytics",
    "Security Assessment",
    "CRM Implementation",
    "AI Readiness Programme",
]
OPEN_STAGES = ["Prospecting", "Proposal/Price Quote", "Negotiation/Review"]
TM_MILESTONES = ["Kickoff", "Mid-point Review", "Final Acceptance"]
FF_MILESTONES = ["Discovery Sign-off", "Design Approved", "Build Complete", "Go-live"]
FF_SPLITS = {3: [30, 40, 30], 4: [20, 30, 30, 20]}
JPY_PER_USD = 150


@dataclass(frozen=True)
class Deal:
    """What the seed decides about one opportunity before pricing it."""

    account: int
    size: str  # "small" (under the approval threshold) or "large" (above it)
    stage: str = "Closed Won"
    owner: str = "sam"
    billing_type: str = "Time and Materials"
    billing_terms: str = "Net 30"
    rate_card: str | None = None  # None: STD-<currency>-2026
    legal_entity: str | None = None  # None: the account's
    currency: str | None = None  # None: the legal entity's
    no_rate_card: bool = False


# Named deals first: their ids are sf_id("006", position + 1).
NAMED_DEALS: list[tuple[str, Deal]] = [
    ("small_usd", Deal(0, "small")),
    ("small_gbp", Deal(10, "small", owner="alex")),
    ("large_usd", Deal(1, "large")),
    ("large_owned_by_dana", Deal(2, "large", owner="dana")),
    ("fixed_fee_eur", Deal(14, "small", owner="alex", billing_type="Fixed Fee")),
    ("no_rate_card", Deal(3, "small", no_rate_card=True)),
    ("unknown_legal_entity", Deal(4, "small", legal_entity="XX99")),
    ("unsupported_currency", Deal(5, "small", owner="alex", currency="JPY")),
    ("inactive_rate_card", Deal(6, "small", rate_card="LEGACY-USD-2019")),
    ("unknown_billing_terms", Deal(7, "small", owner="alex", billing_terms="Net 90")),
    ("open", Deal(8, "small", stage="Negotiation/Review")),
    ("closed_lost", Deal(9, "small", owner="alex", stage="Closed Lost")),
    ("small_eur", Deal(15, "small", billing_terms="Net 45")),
    ("small_cad", Deal(18, "small", owner="alex")),
    ("large_gbp", Deal(11, "large", owner="alex", billing_type="Fixed Fee")),
    ("large_eur", Deal(16, "large", billing_terms="Net 60")),
    ("large_cad", Deal(19, "large", owner="alex")),
]
SPARE_DEALS: list[Deal] = [
    Deal(21, "small"),
    Deal(12, "small", owner="alex"),
    Deal(17, "small", billing_type="Fixed Fee"),
    Deal(20, "small", owner="alex", billing_terms="Net 15"),
    Deal(0, "small", owner="alex"),
    Deal(13, "small"),
    Deal(1, "small", owner="alex", billing_terms="Net 60"),
    Deal(14, "small"),
]
GENERATED_DEALS = 35


def _opportunity_id(position: int) -> str:
    return catalog.sf_id("006", position + 1)


DEMO_OPPORTUNITIES: dict[str, str] = {
    name: _opportunity_id(i) for i, (name, _) in enumerate(NAMED_DEALS)
}
SPARE_CLOSED_WON: list[str] = [
    _opportunity_id(len(NAMED_DEALS) + i) for i in range(len(SPARE_DEALS))
]


def _generated_deal(rng: random.Random) -> Deal:
    roll = rng.random()
    stage = (
        "Closed Won" if roll < 0.5 else "Closed Lost" if roll < 0.62 else rng.choice(OPEN_STAGES)
    )
    return Deal(
        account=rng.randrange(len(catalog.ACCOUNTS)),
        size="large" if rng.random() < 0.25 else "small",
        stage=stage,
        owner="dana" if rng.random() < 0.08 else rng.choice(["sam", "alex"]),
        billing_type=rng.choice(catalog.BILLING_TYPES),
        billing_terms=rng.choice(catalog.BILLING_TERMS),
    )


def _all_deals(rng: random.Random) -> list[Deal]:
    generated = [_generated_deal(rng) for _ in range(GENERATED_DEALS)]
    return [deal for _, deal in NAMED_DEALS] + SPARE_DEALS + generated


def _terms(deal: Deal) -> tuple[str, str, str]:
    """Legal entity, currency and rate card code, each following the account unless broken."""
    account_entity = catalog.ACCOUNTS[deal.account][2]
    entity = deal.legal_entity or account_entity
    currency = deal.currency or catalog.LEGAL_ENTITIES[account_entity][2]
    card = deal.rate_card or f"STD-{catalog.LEGAL_ENTITIES[account_entity][2]}-2026"
    return entity, currency, card


def _rates(card: str, currency: str) -> dict[str, Decimal]:
    rates = catalog.RATE_CARDS[card][2]
    if currency == "JPY":
        return {role: rate * JPY_PER_USD for role, rate in rates.items()}
    return rates


def _target_amount(rng: random.Random, deal: Deal, currency: str) -> Decimal:
    threshold = catalog.APPROVAL_THRESHOLDS.get(currency)
    if threshold is None:  # priced in USD, then converted
        threshold = catalog.APPROVAL_THRESHOLDS["USD"] * JPY_PER_USD
    share = rng.uniform(1.2, 2.2) if deal.size == "large" else rng.uniform(0.15, 0.6)
    return (threshold * Decimal(str(round(share, 3)))).quantize(Decimal("1"))


def _lines(
    rng: random.Random, rates: dict[str, Decimal], target: Decimal
) -> list[tuple[str, int, Decimal]]:
    """(role, hours, rate) lines whose total lands near the target; hours in whole days."""
    roles = rng.sample(catalog.ROLES, rng.randint(2, 5))
    weights = [rng.uniform(0.5, 2.0) for _ in roles]
    lines = []
    for role, weight in zip(roles, weights, strict=True):
        share = target * Decimal(str(weight / sum(weights)))
        days = max(1, int(share / rates[role] / 8))
        lines.append((role, days * 8, rates[role]))
    return lines


def _milestones(
    rng: random.Random, deal: Deal, amount: Decimal, start: date
) -> list[tuple[str, date, Decimal]]:
    if deal.billing_type == "Fixed Fee":
        splits = FF_SPLITS[rng.choice([3, 4])]
        names = FF_MILESTONES[-len(splits) :]
        amounts = [(amount * p / 100).quantize(Decimal("0.01")) for p in splits[:-1]]
        amounts.append(amount - sum(amounts, Decimal(0)))
    else:
        names = TM_MILESTONES[: rng.choice([2, 3])]
        amounts = [Decimal(0)] * len(names)
    weeks = 0
    due = []
    for _ in names:
        weeks += rng.randint(3, 8)
        due.append(start + timedelta(weeks=weeks))
    return list(zip(names, due, amounts, strict=True))


def _dates(rng: random.Random, deal: Deal) -> tuple[date, date]:
    """Close date (past for closed deals, ahead for open ones) and a start date after it."""
    offset = rng.randint(0, 80) if deal.stage.startswith("Closed") else rng.randint(90, 170)
    close = FIRST_CLOSE_DATE + timedelta(days=offset)
    return close, close + timedelta(days=rng.randint(14, 35))


def _insert_deal(store: RecordStore, rng: random.Random, number: int, deal: Deal) -> None:
    entity, currency, card = _terms(deal)
    lines = _lines(rng, _rates(card, currency), _target_amount(rng, deal, currency))
    amount = sum((Decimal(hours) * rate for _, hours, rate in lines), Decimal(0))
    close, start = _dates(rng, deal)
    opportunity_id = catalog.sf_id("006", number)
    store.insert(
        "Opportunity",
        opportunity_id,
        {
            "Id": opportunity_id,
            "Name": f"{catalog.ACCOUNTS[deal.account][0]} - {rng.choice(PROJECT_KINDS)}",
            "AccountId": catalog.account_id(deal.account),
            "OwnerId": catalog.USERS[deal.owner][0],
            "StageName": deal.stage,
            "IsClosed": deal.stage.startswith("Closed"),
            "IsWon": deal.stage == "Closed Won",
            "Amount": float(amount),
            "CurrencyIsoCode": currency,
            "CloseDate": close.isoformat(),
            "Rate_Card__c": None if deal.no_rate_card else card,
            "Legal_Entity__c": entity,
            "Billing_Terms__c": deal.billing_terms,
            "Billing_Type__c": deal.billing_type,
            "Start_Date__c": start.isoformat(),
            "ERP_Project_Id__c": None,
            "PSA_Project_Id__c": None,
            "Invoice_Status__c": None,
            "Last_Invoice_Number__c": None,
            "Last_Invoice_Amount__c": None,
            "Last_Invoiced_Period__c": None,
        },
    )
    _insert_lines(store, opportunity_id, lines)
    _insert_milestones(store, opportunity_id, _milestones(rng, deal, amount, start))


def _insert_lines(
    store: RecordStore, opportunity_id: str, lines: list[tuple[str, int, Decimal]]
) -> None:
    for role, hours, rate in lines:
        line_id = catalog.sf_id("00k", store.next_number("OpportunityLineItem", start=0))
        store.insert(
            "OpportunityLineItem",
            line_id,
            {
                "Id": line_id,
                "OpportunityId": opportunity_id,
                "Role__c": role,
                "Quantity": float(hours),
                "UnitPrice": float(rate),
                "TotalPrice": float(hours * rate),
            },
        )


def _insert_milestones(
    store: RecordStore, opportunity_id: str, milestones: list[tuple[str, date, Decimal]]
) -> None:
    for name, due, amount in milestones:
        milestone_id = catalog.sf_id("a0M", store.next_number("Project_Milestone__c", start=0))
        store.insert(
            "Project_Milestone__c",
            milestone_id,
            {
                "Id": milestone_id,
                "Name": name,
                "Opportunity__c": opportunity_id,
                "Due_Date__c": due.isoformat(),
                "Amount__c": float(amount),
            },
        )


def _insert_accounts(store: RecordStore) -> None:
    for i, (name, country, entity) in enumerate(catalog.ACCOUNTS):
        account_id = catalog.account_id(i)
        store.insert(
            "Account",
            account_id,
            {
                "Id": account_id,
                "Name": name,
                "BillingCountry": country,
                "Legal_Entity__c": entity,
                "Psflow_External_Id__c": None,
                "Invoice_Status__c": None,
            },
        )


def _insert_users(store: RecordStore) -> None:
    for name, (user_id, display_name, _) in catalog.USERS.items():
        store.insert(
            "User",
            user_id,
            {
                "Id": user_id,
                "Name": display_name,
                "Username": f"{name}@northwind-consulting.example",
                "Email": f"{name}@northwind-consulting.example",
                "IsActive": True,
            },
        )


def seed(store: RecordStore) -> None:
    """Fill an empty store with the demo accounts, users and opportunities."""
    rng = random.Random(SEED)
    _insert_accounts(store)
    _insert_users(store)
    for number, deal in enumerate(_all_deals(rng), start=1):
        _insert_deal(store, rng, number, deal)


# Deals added on demand (POST /__admin/seed/deals) are numbered from here: above the demo
# seed, below the month-end volume's opportunities.
ADDED_DEALS_BASE = 40000


def add_closed_won_deals(
    store: RecordStore, count: int, seed: int, like: str | None = None
) -> list[str]:
    """Add `count` closed-won deals under the approval threshold that pass validation (an
    account's own legal entity, currency and active rate card, allowed terms), each with
    line items and milestones; or, `like` a named deal (NAMED_DEALS: large, broken...), new
    deals made as that one is. Their ids, in order."""
    rng = random.Random(f"psflow-added-deals/{seed}/{count}" + (f"/{like}" if like else ""))
    named = dict(NAMED_DEALS)
    ids = []
    for _ in range(count):
        deal = (
            named[like]
            if like
            else Deal(
                account=rng.randrange(len(catalog.ACCOUNTS)),
                size="small",
                owner=rng.choice(["sam", "alex"]),
                billing_type=rng.choice(catalog.BILLING_TYPES),
                billing_terms=rng.choice(catalog.BILLING_TERMS),
            )
        )
        number = store.next_number("AddedOpportunity", start=ADDED_DEALS_BASE)
        _insert_deal(store, rng, number, deal)
        ids.append(catalog.sf_id("006", number))
    return ids
