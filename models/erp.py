"""What psflow writes to the ERP (NetSuite)."""

from decimal import Decimal

from pydantic import BaseModel


class ErpCustomerInput(BaseModel):
    external_id: str
    company_name: str
    subsidiary_id: str
    currency: str
    terms: str
    origin: str
    """Id of the workflow that creates it, kept on the record as custentity_psflow_origin."""


class ErpCustomer(BaseModel):
    id: str
    external_id: str
    company_name: str
    origin: str | None = None


class ErpProjectInput(BaseModel):
    external_id: str
    name: str
    customer_id: str
    subsidiary_id: str
    currency: str
    budget: Decimal
    billing_type: str


class ErpProject(BaseModel):
    id: str
    external_id: str
    name: str
    customer_id: str


def customer_external_id(crm_account_id: str) -> str:
    """The ERP customer's external id for a CRM account: one customer per account."""
    return f"sfdc-{crm_account_id}"
