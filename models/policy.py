"""Business policy the worker reads from configuration and hands to workflows."""

from datetime import timedelta
from decimal import Decimal

from pydantic import BaseModel

from models.identity import ProofKeys


class User(BaseModel):
    name: str
    roles: list[str] = []
    crm_user_id: str | None = None


class ApprovalPolicy(BaseModel):
    role: str = "deal-desk"
    thresholds: dict[str, Decimal]
    """Deals above this amount, per currency, need an approval."""
    deadline: timedelta
    """How long to wait before escalating."""
    escalation_grace: timedelta
    """How long to wait after escalating before rejecting."""
    escalate_to: str


class PeoplePolicy(BaseModel):
    """Who may decide: the approval rule and the user directory."""

    approval: ApprovalPolicy
    users: list[User]
    proof_keys: ProofKeys | None = None
    """The issuer whose decision proofs the run takes, with its public keys (from the store)."""

    def user(self, name: str) -> User | None:
        return next((u for u in self.users if u.name == name), None)


class DealPolicy(PeoplePolicy):
    legal_entities: dict[str, str]
    """CRM legal entity code -> ERP subsidiary id."""
    currencies: list[str]
    billing_terms: list[str]
    billing_types: list[str]


class StaffingPolicy(PeoplePolicy):
    """What hire-to-staff validates against, and who approves assignments."""

    departments: dict[str, str]
    """HCM department code -> ERP department id."""
    cost_centers: dict[str, str]
    """Cost center code -> the legal entity it belongs to."""
    legal_entities: dict[str, str]
    """HCM company (legal entity) code -> ERP subsidiary id."""
    roles: list[str]


class BillingPolicy(PeoplePolicy):
    """What time and expenses are validated against, and who releases invoices."""

    cost_centers: dict[str, str]
    """Cost center code -> the legal entity it belongs to."""
    page_size: int = 1000
    """Entries read from the PSA and posted to the ERP per activity."""
    month_end_concurrency: int = 10
    """How many projects a month-end posts at once."""
    history_limit: int = 2_000
    """Events after which a time-to-bill or month-end run continues as new."""


class ApprovalLevel(BaseModel):
    """One level of a multi-level approval."""

    role: str
    deadline: timedelta
    escalation_grace: timedelta
    escalate_to: str


class ChangeOrderPolicy(PeoplePolicy):
    """Who approves a change order, by how much it moves the budget."""

    levels: list[ApprovalLevel]
    """In order: project manager, finance, deal desk."""
    tiers: dict[str, list[Decimal]]
    """Per currency, ascending: a change of at least tiers[i] needs levels[: i + 2]."""

    def levels_for(self, currency: str, change: Decimal) -> list[ApprovalLevel]:
        """The levels a change of this size needs (at least the first)."""
        needed = 1 + sum(1 for bound in self.tiers.get(currency, []) if abs(change) >= bound)
        return self.levels[:needed]
