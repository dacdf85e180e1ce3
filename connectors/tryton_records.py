"""How psflow's ERP models map onto Tryton's records (party.party, project.work,
company.employee), in both directions; connectors/tryton.py sends and reads them."""

from decimal import Decimal
from typing import Any

from models.erp import (
    ErpCustomer,
    ErpCustomerInput,
    ErpEmployee,
    ErpEmployeeInput,
    ErpProject,
    ErpProjectInput,
)

KEY = "psflow_external_id"
# psflow's billing types -> project_invoice's invoice method on a project
BILLING_METHODS = {"Time and Materials": "timesheet", "Fixed Fee": "manual"}
# the products a milestone line and an expense line are invoiced with (stack/tryton_seed.py)
MILESTONE_PRODUCT = "PSFLOW-MILESTONE"
EXPENSE_PRODUCT = "PSFLOW-EXPENSE"
CUSTOMER_FIELDS = ["id", KEY, "name", "psflow_origin"]
PROJECT_FIELDS = [
    "id",
    KEY,
    "name",
    "party",
    "company",
    "psflow_budget",
    "status",
    "timesheet_works",
]
EMPLOYEE_FIELDS = [
    "id", KEY, "party.name", "company", "psflow_cost_center", "cost_price", "active",
    "psflow_origin", "end_date", "start_date",
]  # fmt: skip


def subsidiary_external_id(subsidiary_id: str) -> str:
    """The external id of a company's party: NetSuite's subsidiary is a Tryton company."""
    return f"subsidiary-{subsidiary_id}"


def person_external_id(employee_external_id: str | None) -> str | None:
    """The external id of an employee's party (Tryton's employee is a party in a company)."""
    return f"person-{employee_external_id}" if employee_external_id else None


def role_product_code(role: str) -> str:
    """The code of a role's service product, the rate card's line."""
    return "ROLE-" + role.upper().replace(" ", "-")


def customer_values(data: ErpCustomerInput, term_id: int | None) -> dict[str, Any]:
    values: dict[str, Any] = {KEY: data.external_id, "name": data.company_name}
    values["psflow_origin"] = data.origin  # kept by psflow_upsert once the party exists
    if term_id is not None:
        values["customer_payment_term"] = term_id
    return values


def customer_from_record(record: dict[str, Any]) -> ErpCustomer:
    return ErpCustomer(
        id=str(record["id"]),
        external_id=record[KEY],
        company_name=record["name"],
        origin=record.get("psflow_origin"),
    )


def project_values(data: ErpProjectInput, party_id: int, company_id: int) -> dict[str, Any]:
    return {
        KEY: data.external_id,
        "name": data.name,
        "type": "project",
        "party": party_id,
        "company": company_id,
        "psflow_budget": data.budget,
        "project_invoice_method": BILLING_METHODS.get(data.billing_type, "manual"),
    }


def decimal_value(value: Any) -> Decimal | None:
    """A Numeric read back (connectors.tryton_rpc decodes Tryton's tagged Decimal)."""
    return None if value is None else Decimal(str(value))


def project_from_record(record: dict[str, Any], currency: str) -> ErpProject:
    return ErpProject(
        id=str(record["id"]),
        external_id=record[KEY],
        name=record["name"],
        customer_id=str(record["party"]),
        budget=decimal_value(record.get("psflow_budget")),
        currency=currency,
    )


def employee_values(data: ErpEmployeeInput, party_id: int, company_id: int) -> dict[str, Any]:
    return {
        KEY: data.external_id,
        "party": party_id,
        "company": company_id,
        "psflow_cost_center": data.cost_center,
        "psflow_origin": data.origin,
    }


def employee_from_record(record: dict[str, Any], subsidiary_id: str) -> ErpEmployee:
    return ErpEmployee(
        id=str(record["id"]),
        external_id=record[KEY],
        name=record["party."]["name"],
        subsidiary_id=subsidiary_id,
        cost_center=record.get("psflow_cost_center") or "",
        labor_cost=decimal_value(record.get("cost_price")) or Decimal(0),
        inactive=not record["active"],
        origin=record.get("psflow_origin"),
    )
