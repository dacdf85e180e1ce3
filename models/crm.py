"""What psflow reads from and writes to the CRM (Salesforce)."""

from datetime import date
from decimal import Decimal

from pydantic import BaseModel


class Account(BaseModel):
    id: str
    name: str
    billing_country: str | None = None


class ResourceLine(BaseModel):
    """One role sold on the deal: an OpportunityLineItem."""

    role: str
    hours: Decimal
    rate: Decimal


class Milestone(BaseModel):
    name: str
    due_date: date
    amount: Decimal


class Opportunity(BaseModel):
    id: str
    name: str
    account: Account
    owner_id: str
    stage: str
    is_won: bool
    amount: Decimal
    currency: str
    close_date: date
    rate_card: str | None = None
    legal_entity: str | None = None
    billing_terms: str | None = None
    billing_type: str | None = None
    start_date: date | None = None
    erp_project_id: str | None = None
    psa_project_id: str | None = None
    lines: list[ResourceLine] = []
    milestones: list[Milestone] = []
