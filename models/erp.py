"""What psflow writes to the ERP (NetSuite)."""

from datetime import date
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
    budget: Decimal | None = None
    """The job's budget (custentity_psflow_budget), in its currency; None when it has none."""
    currency: str | None = None
    """ISO code of the job's currency."""


def customer_external_id(crm_account_id: str) -> str:
    """The ERP customer's external id for a CRM account: one customer per account."""
    return f"sfdc-{crm_account_id}"


class ErpEmployeeInput(BaseModel):
    external_id: str
    first_name: str
    last_name: str
    email: str | None = None
    subsidiary_id: str
    department_id: str
    cost_center: str
    labor_cost: Decimal
    """Hourly labour cost, NetSuite's laborCost."""
    currency: str
    origin: str


class ErpEmployee(BaseModel):
    id: str
    external_id: str
    name: str
    subsidiary_id: str
    cost_center: str
    labor_cost: Decimal
    inactive: bool
    origin: str | None = None


class LabourForecastInput(BaseModel):
    """A NetSuite resourceAllocation: who is planned on which project, for how many hours."""

    external_id: str
    project_external_id: str
    employee_external_id: str
    hours: Decimal
    cost: Decimal
    start_date: date
    end_date: date | None = None


class LabourForecast(BaseModel):
    id: str
    external_id: str
    hours: Decimal
    cost: Decimal
    end_date: date | None = None
