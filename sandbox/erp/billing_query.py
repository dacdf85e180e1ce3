"""Which fields of time bills, expense reports and invoices a query may filter on, and the
SQL a `q` (or SuiteQL) condition on them becomes."""

from collections.abc import Sequence
from datetime import date
from typing import Any

from sandbox.erp.errors import NetSuiteError
from sandbox.erp.query import DATE_OPERATORS, Condition

TIME_BILL = "timeBill"
EXPENSE_REPORT = "expenseReport"
INVOICE = "invoice"
BILLING_TYPES = (TIME_BILL, EXPENSE_REPORT, INVOICE)

# record field -> column, for the fields a `q` (or SuiteQL) may filter on
_POSTING_FILTERS = {
    "id": "id",
    "externalId": "external_id",
    "customer": "job_id",
    "tranDate": "tran_date",
    "isBillable": "billable",
    "invoice": "invoice_id",
    "custcol_psflow_source": "source",
}
FILTERS: dict[str, dict[str, str]] = {
    TIME_BILL: {**_POSTING_FILTERS, "employee": "employee_id"},
    EXPENSE_REPORT: {**_POSTING_FILTERS, "entity": "employee_id"},
    INVOICE: {
        "id": "id",
        "externalId": "external_id",
        "job": "job_id",
        "entity": "customer_id",
        "custbody_psflow_period": "period",
        "custbody_psflow_status": "status",
    },
}
_INTEGER_COLUMNS = {"id", "invoice_id"}


def _refused(why: str) -> NetSuiteError:
    return NetSuiteError(400, f"Invalid search query. {why}", "INVALID_PARAMETER", query_param="q")


def _value(column: str, raw: str) -> Any:
    if column == "billable":
        if raw.lower() not in ("true", "false", "t", "f"):
            raise _refused(f"isBillable is true or false, not {raw}.")
        return int(raw.lower() in ("true", "t"))
    if column in _INTEGER_COLUMNS:
        if not (raw.isascii() and raw.isdigit()):
            raise _refused(f"An internal id is a number, not {raw}.")
        return int(raw)
    return raw


def where(kind: str, conditions: Sequence[Condition]) -> tuple[str, list[Any]]:
    """The SQL WHERE clause (and its parameters) for `q` conditions on a billing kind."""
    clauses, params = ["1 = 1"], []
    for name, operator, values in conditions:
        column = FILTERS[kind].get(name)
        if column is None:
            known = ", ".join(FILTERS[kind])
            raise _refused(f"The sandbox filters {kind} by {known} only, not {name}.")
        if operator in DATE_OPERATORS:
            if column != "tran_date":
                raise _refused(f"{operator} compares dates; {name} is not a date.")
            try:
                day = date.fromisoformat(values[0]).isoformat()
            except ValueError:
                raise _refused(f"Give dates as YYYY-MM-DD, not {values[0]}.") from None
            clauses.append(f"{column} {DATE_OPERATORS[operator]} ?")
            params.append(day)
        elif operator in ("EMPTY", "EMPTY_NOT"):
            clauses.append(f"{column} IS {'NOT ' if operator == 'EMPTY_NOT' else ''}NULL")
        else:
            marks = ", ".join("?" * len(values))
            positive = f"{column} IN ({marks})"
            negative = f"({column} IS NULL OR {column} NOT IN ({marks}))"
            clauses.append(negative if operator.endswith("_NOT") else positive)
            params += [_value(column, v) for v in values]
    return " AND ".join(clauses), params
