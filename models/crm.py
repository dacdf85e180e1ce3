"""What psflow reads from and writes to the CRM (Salesforce)."""

from datetime import date
from decimal import Decimal

from pydantic import BaseModel

_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id_18(record_id: str) -> str:
    """The 18-character, case-insensitive form of a 15-character Salesforce id."""
    if len(record_id) != 15:
        return record_id
    suffix = ""
    for start in range(0, 15, 5):
        chunk = record_id[start : start + 5]
        bits = sum(1 << i for i, ch in enumerate(chunk) if ch.isupper())
        suffix += _SUFFIX_CHARS[bits]
    return record_id + suffix


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
