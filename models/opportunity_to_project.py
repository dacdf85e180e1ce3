"""Input and output of the opportunity-to-project workflow."""

import re

from pydantic import BaseModel, field_validator

OPPORTUNITY_ID = re.compile(r"^006[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")


def check_opportunity_id(value: str) -> str:
    """Salesforce opportunity ids start with 006 and have 15 or 18 characters."""
    if not OPPORTUNITY_ID.match(value):
        raise ValueError(
            f"{value!r} is not a Salesforce opportunity id: "
            "use the 15- or 18-character id that starts with 006"
        )
    return value


def workflow_id(opportunity_id: str) -> str:
    return f"opportunity-to-project/{opportunity_id}"


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
