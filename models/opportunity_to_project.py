"""Input and output of the opportunity-to-project workflow."""

import re
from decimal import Decimal

from pydantic import BaseModel, field_validator

from models.crm import Opportunity, salesforce_id_18
from models.erp import ErpCustomerInput, ErpProjectInput, customer_external_id
from models.psa import PsaMilestoneInput, PsaProjectInput

DEAL_CHANGED_SIGNAL = "deal_changed"
OPPORTUNITY_ID = re.compile(r"^006[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")


def check_opportunity_id(value: str) -> str:
    """A Salesforce opportunity id (006..., 15 or 18 characters), in its 18-character form."""
    if not OPPORTUNITY_ID.match(value):
        raise ValueError(
            f"{value!r} is not a Salesforce opportunity id: "
            "use the 15- or 18-character id that starts with 006"
        )
    return salesforce_id_18(value)


def workflow_id(opportunity_id: str) -> str:
    """One workflow per opportunity, whichever form of its id was given."""
    return f"opportunity-to-project/{salesforce_id_18(opportunity_id)}"


class OpportunityToProjectInput(BaseModel):
    opportunity_id: str
    requested_by: str = "psflow"

    @field_validator("opportunity_id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return check_opportunity_id(value)


class OpportunityToProjectResult(BaseModel):
    opportunity_id: str
    outcome: str
    """"completed" or "rejected"."""
    reason: str | None = None
    erp_customer_id: str | None = None
    erp_project_id: str | None = None
    psa_project_id: str | None = None
    staffing_request_ids: list[str] = []


def project_external_id(opportunity_id: str) -> str:
    """External id of the ERP and PSA projects made for an opportunity."""
    return f"psflow-{opportunity_id}"


class DealChange(BaseModel):
    """The deal's amount changed in the CRM: what ingress signals the running workflow."""

    event_id: str
    amount: Decimal
    currency: str | None = None
    stage: str
    previous_amount: Decimal | None = None

    def summary(self) -> str:
        previous = "" if self.previous_amount is None else f"{self.previous_amount} -> "
        money = f"{previous}{self.amount} {self.currency or ''}".strip()
        return f"amount {money} in the CRM (event {self.event_id}, stage {self.stage})"


def erp_customer_for(deal: Opportunity, subsidiary_id: str, origin: str) -> ErpCustomerInput:
    """The ERP customer a closed-won deal's account becomes (its validated fields set)."""
    assert deal.billing_terms
    return ErpCustomerInput(
        external_id=customer_external_id(deal.account.id),
        company_name=deal.account.name,
        subsidiary_id=subsidiary_id,
        currency=deal.currency,
        terms=deal.billing_terms,
        origin=origin,
    )


def erp_project_for(deal: Opportunity, customer_id: str, subsidiary_id: str) -> ErpProjectInput:
    """The ERP project (job) a closed-won deal becomes."""
    assert deal.billing_type
    return ErpProjectInput(
        external_id=project_external_id(deal.id),
        name=deal.name,
        customer_id=customer_id,
        subsidiary_id=subsidiary_id,
        currency=deal.currency,
        budget=deal.amount,
        billing_type=deal.billing_type,
    )


def psa_project_for(deal: Opportunity, erp_project_id: str) -> PsaProjectInput:
    """The PSA delivery project a closed-won deal becomes, with its milestones."""
    assert deal.billing_type
    return PsaProjectInput(
        external_id=project_external_id(deal.id),
        name=deal.name,
        customer_name=deal.account.name,
        erp_project_id=erp_project_id,
        currency=deal.currency,
        budget=deal.amount,
        billing_type=deal.billing_type,
        rate_card=deal.rate_card or "",
        start_date=deal.start_date or deal.close_date,
        milestones=[
            PsaMilestoneInput(name=m.name, due_date=m.due_date, amount=m.amount)
            for m in deal.milestones
        ],
        opportunity_id=deal.id,
    )
