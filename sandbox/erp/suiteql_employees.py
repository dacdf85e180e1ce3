"""SuiteQL's `employee` table in the sandbox: many employees in one query, by id or external id.

`SELECT id, externalid, firstname, lastname, subsidiary, isinactive, laborcost FROM employee
WHERE externalid IN ('hcm-60001', 'hcm-60002')` answers one row per employee found, a
reference as its internal id and a checkbox as 'T' or 'F', like the billing tables. The
sandbox filters employees by `id` and `externalid` with `=` or `IN` only.
"""

from collections.abc import Sequence
from typing import Any

from sandbox.erp.employees import EMPLOYEE
from sandbox.erp.errors import NetSuiteError
from sandbox.erp.query import Condition
from sandbox.records import RecordStore

EMPLOYEE_TABLE = "employee"
FILTERS = ("id", "externalId")


def employee_columns() -> dict[str, str]:
    """column name -> record field, for every field of an employee."""
    names = ["id", "externalId", "dateCreated", "lastModifiedDate", *EMPLOYEE.fields]
    return {name.lower(): name for name in names}


def search_employees(
    store: RecordStore, conditions: Sequence[Condition], page: tuple[int, int]
) -> tuple[list[dict[str, Any]], int]:
    """The employees meeting every condition, by internal id, and how many there are."""
    ids: set[str] | None = None
    for field, operator, values in conditions:
        if operator != "ANY_OF":
            detail = "Invalid search query: the sandbox filters employees with = or IN only."
            raise NetSuiteError(400, detail, "INVALID_PARAMETER", "q")
        if field == "externalId":
            found = {store.id_for_external(EMPLOYEE_TABLE, v) for v in values}
            matched = {i for i in found if i is not None}
        else:
            matched = {v for v in values if store.get(EMPLOYEE_TABLE, v) is not None}
        ids = matched if ids is None else ids & matched
    if ids is None:
        records = store.all(EMPLOYEE_TABLE)
    else:
        records = [r for r in (store.get(EMPLOYEE_TABLE, i) for i in ids) if r is not None]
    records.sort(key=lambda r: int(r["id"]) if str(r["id"]).isdigit() else 0)
    limit, offset = page
    return records[offset : offset + limit], len(records)
