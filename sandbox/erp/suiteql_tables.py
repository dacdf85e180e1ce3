"""The tables the sandbox's SuiteQL reads: what each is, its columns, what it filters by and
how it is searched.

timebill and expensereport (the billing tables), employee, customer and job (the record
store), and transaction: invoices, whose `type` reads 'CustInvc' as NetSuite's does. A
column is the record's field name in lower case; customer and job filter by any column.
"""

from collections.abc import Sequence
from typing import Any

from sandbox.erp import fields, invoices, query
from sandbox.erp.billing_query import EXPENSE_REPORT, FILTERS, INVOICE, TIME_BILL
from sandbox.erp.billing_records import FIELDS, READ_ONLY, REFERENCES
from sandbox.erp.billing_store import BillingStore
from sandbox.erp.customers import CUSTOMER, JOB
from sandbox.erp.query import Condition
from sandbox.erp.suiteql_employees import EMPLOYEE_TABLE, employee_columns, search_employees
from sandbox.erp.suiteql_employees import FILTERS as EMPLOYEE_FILTERS
from sandbox.records import RecordStore

TRANSACTION = "transaction"
INVOICE_TYPE = "CustInvc"
TYPE_COLUMN = "type"
# table -> the record kind it reads
TABLES = {
    "timebill": TIME_BILL,
    "expensereport": EXPENSE_REPORT,
    EMPLOYEE_TABLE: EMPLOYEE_TABLE,
    "customer": CUSTOMER.name,
    "job": JOB.name,
    TRANSACTION: INVOICE,
}
_ENTITIES = {CUSTOMER.name: CUSTOMER, JOB.name: JOB}
# kind -> its checkbox fields, which read 'F' when never set
_CHECKBOXES = {
    kind: {name for name, parser in definition.fields.items() if parser is fields.boolean}
    for kind, definition in _ENTITIES.items()
}
Page = tuple[int, int]


def columns(kind: str) -> dict[str, str]:
    """column name -> record field, for every column of the kind's table."""
    if kind == EMPLOYEE_TABLE:
        return employee_columns()
    if kind in _ENTITIES:
        names: Sequence[str] = sorted(_ENTITIES[kind].names - {"links"})
    elif kind == INVOICE:
        names = [*sorted(invoices.NAMES - {"links", "item"}), TYPE_COLUMN]
    else:
        names = [*FIELDS[kind], *REFERENCES[kind], *READ_ONLY - {"links"}]
    return {name.lower(): name for name in names}


def filters(kind: str) -> dict[str, str]:
    """column name -> record field, for the columns a WHERE may name."""
    if kind == EMPLOYEE_TABLE:
        names: Sequence[str] = EMPLOYEE_FILTERS
    elif kind in _ENTITIES:
        return columns(kind)
    elif kind == INVOICE:
        names = [*FILTERS[INVOICE], TYPE_COLUMN]
    else:
        names = list(FILTERS[kind])
    return {name.lower(): name for name in names}


def cell(kind: str, record: dict[str, Any], field: str) -> Any:
    """One column's value: a reference as its internal id, a checkbox as 'T' or 'F'."""
    value = INVOICE_TYPE if kind == INVOICE and field == TYPE_COLUMN else record.get(field)
    if isinstance(value, dict):
        return value.get("id")
    if isinstance(value, bool):
        return "T" if value else "F"
    return value


def _is_invoice_type(conditions: Sequence[Condition]) -> bool:
    """Whether invoices meet the conditions on `type`."""
    for _, operator, values in conditions:
        named = INVOICE_TYPE.lower() in (v.lower() for v in values)
        if operator == "EMPTY" or named == operator.endswith("_NOT"):
            return False
    return True


def search(
    kind: str,
    store: RecordStore,
    billing: BillingStore,
    conditions: Sequence[Condition],
    page: Page,
) -> tuple[list[dict[str, Any]], int]:
    """The rows meeting every condition, by internal id, and how many there are."""
    if kind == EMPLOYEE_TABLE:
        return search_employees(store, conditions, page)
    limit, offset = page
    if kind in _ENTITIES:
        boxes = _CHECKBOXES[kind]
        records = sorted(store.all(kind), key=lambda r: int(r["id"]))
        records = [r | {box: bool(r.get(box)) for box in boxes} for r in records]
        found = [r for r in records if query.matches(r, list(conditions))]
        return found[offset : offset + limit], len(found)
    if kind == INVOICE:
        on_type = [c for c in conditions if c[0] == TYPE_COLUMN]
        if not _is_invoice_type(on_type):
            return [], 0
        conditions = [c for c in conditions if c[0] != TYPE_COLUMN]
    return billing.search(kind, conditions, page)
