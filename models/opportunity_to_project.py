"""Input and output of the opportunity-to-project workflow."""

import re
from decimal import Decimal

from pydantic import BaseModel, field_validator

from models.crm import salesforce_id_18

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
