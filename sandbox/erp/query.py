"""Record collection filtering: the `q` parameter of a record collection request.

The sandbox understands conditions joined by AND, each `field OPERATOR value`: ANY_OF and
ANY_OF_NOT with one value or a list (`allocationResource ANY_OF [1012, 1013]`), IS and IS_NOT
(text or true/false), EQUAL and EQUAL_NOT (numbers), EMPTY and EMPTY_NOT (no value), and for
dates ON, BEFORE, AFTER, ON_OR_BEFORE and ON_OR_AFTER with an ISO date (`tranDate ON_OR_AFTER
2026-10-01`). A value with spaces goes in double quotes. A reference field compares by its id.
"""

import re
from collections.abc import Collection
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.erp.errors import NetSuiteError

_TOKEN = re.compile(r'"[^"]*"|\[[^\]]*\]|\S+')
_UNARY = {"EMPTY", "EMPTY_NOT"}
# date operator -> how the record's value must compare with the given date
DATE_OPERATORS = {"ON": "=", "BEFORE": "<", "AFTER": ">", "ON_OR_BEFORE": "<=", "ON_OR_AFTER": ">="}
_BINARY = {"ANY_OF", "ANY_OF_NOT", "IS", "IS_NOT", "EQUAL", "EQUAL_NOT", *DATE_OPERATORS}

# (field, operator, values)
Condition = tuple[str, str, list[str]]


def _refused(q: str, why: str) -> NetSuiteError:
    detail = f"Invalid search query: {q}. {why}"
    return NetSuiteError(400, detail, "INVALID_PARAMETER", query_param="q")


def _values(token: str) -> list[str]:
    if token.startswith("["):
        return [v.strip().strip('"') for v in token[1:-1].split(",") if v.strip()]
    return [token.strip('"')]


def parse(q: str, fields: Collection[str] | None) -> list[Condition]:
    """The conditions of `q`; 400 INVALID_PARAMETER for what the sandbox does not understand.

    `fields` are the names a condition may use; None allows any.
    """
    tokens = _TOKEN.findall(q)
    conditions: list[Condition] = []
    at = 0
    while at < len(tokens):
        if conditions:
            if tokens[at] != "AND":
                raise _refused(q, "The sandbox joins conditions with AND only.")
            at += 1
        name, operator = tokens[at], tokens[at + 1] if at + 1 < len(tokens) else ""
        if fields is not None and name not in fields:
            raise _refused(q, f"Unknown field: {name}.")
        if operator in _UNARY:
            conditions.append((name, operator, []))
            at += 2
        elif operator in _BINARY and at + 2 < len(tokens):
            conditions.append((name, operator, _values(tokens[at + 2])))
            at += 3
        else:
            raise _refused(q, f"Unsupported operator or missing value after {name}.")
    if not conditions:
        raise _refused(q, "Give at least one condition.")
    return conditions


def _same(value: Any, wanted: str) -> bool:
    if isinstance(value, dict):
        value = value.get("id")
    if value is None:
        return False
    if isinstance(value, bool):  # true/false in `q`, 'T'/'F' in SuiteQL
        return wanted.lower() in (("true", "t") if value else ("false", "f"))
    if isinstance(value, int | float):
        try:
            return Decimal(wanted) == Decimal(repr(value))
        except InvalidOperation:
            return False
    return str(value).casefold() == wanted.casefold()


def _compares(value: Any, sign: str, wanted: str) -> bool:
    """ISO dates compare as text."""
    if not isinstance(value, str):
        return False
    return {
        "=": value == wanted,
        "<": value < wanted,
        ">": value > wanted,
        "<=": value <= wanted,
        ">=": value >= wanted,
    }[sign]


def matches(record: dict[str, Any], conditions: list[Condition]) -> bool:
    """Whether the record meets every condition."""
    for name, operator, values in conditions:
        value = record.get(name)
        if operator in DATE_OPERATORS:
            if not _compares(value, DATE_OPERATORS[operator], values[0]):
                return False
            continue
        if operator in _UNARY:
            hit = value in (None, "", [], {})
        else:
            hit = any(_same(value, wanted) for wanted in values)
        if hit == operator.endswith("_NOT"):
            return False
    return True
