"""The small SOQL subset /query answers."""

import re
from typing import Any

from sandbox.crm.errors import SalesforceError
from sandbox.crm.objects import SOBJECTS, field_list, render
from sandbox.crm.service import Crm

SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>[\w\s,]+?)\s+FROM\s+(?P<sobject>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE,
)
CONDITION = re.compile(r"^\s*(\w+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(true|false|null))\s*$", re.I)


def run_soql(crm: Crm, q: str) -> list[dict[str, Any]]:
    """The rendered records a query selects."""
    match = SOQL.match(q)
    if match is None:
        raise SalesforceError(400, "MALFORMED_QUERY", f"unsupported query: {q}")
    name = match["sobject"]
    if name not in SOBJECTS:
        raise SalesforceError(
            400, "INVALID_TYPE", f"sObject type '{name}' is not supported.", [name]
        )
    fields = field_list(name, match["fields"]) or ["Id"]
    equals = _conditions(name, match["where"])
    records = sorted(crm.store.find(name, **equals), key=lambda r: r["Id"])
    if match["limit"]:
        records = records[: int(match["limit"])]
    return [render(name, r, fields) for r in records]


def _conditions(name: str, where: str | None) -> dict[str, Any]:
    equals: dict[str, Any] = {}
    parts = re.split(r"\s+AND\s+", where, flags=re.IGNORECASE) if where else []
    for part in parts:
        condition = CONDITION.match(part)
        if condition is None:
            raise SalesforceError(400, "MALFORMED_QUERY", f"unsupported condition: {part}")
        column, text, literal = condition.groups()
        field_list(name, column)
        literals = {"true": True, "false": False, "null": None}
        equals[column] = text.replace("\\'", "'") if text is not None else literals[literal.lower()]
    return equals
