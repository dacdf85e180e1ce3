"""A small SuiteQL: read many time bills, expense reports or employees, with their fields, in
one call.

NetSuite's record collections answer ids only; reading many records with their fields is what
SuiteQL is for: `POST /services/rest/query/v1/suiteql?limit=1000&offset=0` with
{"q": "SELECT id, externalid, custcol_psflow_source, invoice FROM timebill WHERE externalid IN
('a', 'b')"} answers {"items": [{"links": [], "id": "17", ...}], "count", "hasMore", "offset",
"totalResults", "links"}.

The sandbox understands SELECT <columns or *> FROM timebill|expensereport [WHERE <condition>
[AND <condition>]...] [ORDER BY id [ASC]], where a condition is `column = value`, `<>`, `IN
(...)`, `NOT IN (...)`, `IS [NOT] NULL`, `>=`/`<=`/`>`/`<` and `BETWEEN a AND b` (dates as
'YYYY-MM-DD'), on the columns `q` filters by. Column names are the record's field names in
lower case; a reference reads as its internal id, a checkbox as 'T' or 'F', a date as
'YYYY-MM-DD' (real SuiteQL formats dates by the user's preference), other values as stored.
It reads `employee` by id and externalid too (suiteql_employees).
"""

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request

from sandbox.auth import UNAUTHORIZED, TokenIssuer, bearer_required
from sandbox.erp.billing_query import EXPENSE_REPORT, FILTERS, TIME_BILL
from sandbox.erp.billing_records import FIELDS, READ_ONLY, REFERENCES
from sandbox.erp.billing_store import BillingStore
from sandbox.erp.errors import NetSuiteError, unauthorized
from sandbox.erp.protocol import BEARER, BEARER_DESCRIPTION, MAX_PAGE_SIZE, QUERY_PATH
from sandbox.erp.query import Condition
from sandbox.erp.suiteql_employees import (
    EMPLOYEE_TABLE,
    employee_columns,
    search_employees,
)
from sandbox.erp.suiteql_employees import FILTERS as EMPLOYEE_FILTERS
from sandbox.records import RecordStore

TABLES = {"timebill": TIME_BILL, "expensereport": EXPENSE_REPORT, EMPLOYEE_TABLE: EMPLOYEE_TABLE}
_TOKEN = re.compile(r"'(?:[^']|'')*'|-?\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_]*|>=|<=|<>|!=|\S")
_COMPARISONS = {">=": "ON_OR_AFTER", "<=": "ON_OR_BEFORE", ">": "AFTER", "<": "BEFORE"}


def _refused(why: str) -> NetSuiteError:
    return NetSuiteError(400, f"Invalid search query: {why}", "INVALID_PARAMETER", "q")


def columns(kind: str) -> dict[str, str]:
    """column name -> record field, for every field of the kind."""
    if kind == EMPLOYEE_TABLE:
        return employee_columns()
    names = [*FIELDS[kind], *REFERENCES[kind], *READ_ONLY - {"links"}]
    return {name.lower(): name for name in names}


class _Parser:
    def __init__(self, q: str) -> None:
        self.tokens = _TOKEN.findall(q)
        self.at = 0

    def peek(self) -> str:
        return self.tokens[self.at] if self.at < len(self.tokens) else ""

    def take(self, *expected: str) -> str:
        token = self.peek()
        if expected and token.upper() not in expected:
            raise _refused(f"expected {' or '.join(expected)} but found {token or 'the end'}.")
        if not token:
            raise _refused("the query ends too early.")
        self.at += 1
        return token

    def value(self) -> str:
        token = self.take()
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        if re.fullmatch(r"-?\d+(?:\.\d+)?", token):
            return token
        raise _refused(f"expected a value but found {token}.")

    def condition(self, fields: dict[str, str]) -> list[Condition]:
        name = self.take().lower()
        if name not in fields:
            raise _refused(f"the sandbox filters by {', '.join(sorted(fields))} only.")
        field, operator = fields[name], self.take().upper()
        if operator == "IS":
            negated = self.peek().upper() == "NOT"
            if negated:
                self.take()
            self.take("NULL")
            return [(field, "EMPTY_NOT" if negated else "EMPTY", [])]
        if operator == "NOT" or operator == "IN":
            if operator == "NOT":
                self.take("IN")
            self.take("(")
            values = [self.value()]
            while self.peek() == ",":
                self.take(",")
                values.append(self.value())
            self.take(")")
            return [(field, "ANY_OF_NOT" if operator == "NOT" else "ANY_OF", values)]
        if operator == "BETWEEN":
            low = self.value()
            self.take("AND")
            return [(field, "ON_OR_AFTER", [low]), (field, "ON_OR_BEFORE", [self.value()])]
        if operator in ("=", "<>", "!="):
            return [(field, "ANY_OF" if operator == "=" else "ANY_OF_NOT", [self.value()])]
        if operator in _COMPARISONS:
            return [(field, _COMPARISONS[operator], [self.value()])]
        raise _refused(f"unsupported operator {operator}.")

    def parse(self) -> tuple[str, list[str], list[Condition]]:
        """(record kind, selected columns, conditions)."""
        self.take("SELECT")
        selected = [self.take().lower()]
        while self.peek() == ",":
            self.take(",")
            selected.append(self.take().lower())
        self.take("FROM")
        table = self.take().lower()
        if table not in TABLES:
            raise _refused(f"the sandbox reads {', '.join(TABLES)} only, not {table}.")
        kind = TABLES[table]
        known = columns(kind)
        selected = list(known) if selected == ["*"] else selected
        unknown = [c for c in selected if c not in known]
        if unknown:
            raise _refused(f"unknown column {unknown[0]} of {table}.")
        names = EMPLOYEE_FILTERS if kind == EMPLOYEE_TABLE else FILTERS[kind]
        filters = {name.lower(): name for name in names}
        conditions: list[Condition] = []
        if self.peek().upper() == "WHERE":
            self.take()
            conditions += self.condition(filters)
            while self.peek().upper() == "AND":
                self.take()
                conditions += self.condition(filters)
        if self.peek().upper() == "ORDER":
            self.take()
            self.take("BY")
            self.take("ID")
            if self.peek().upper() == "ASC":
                self.take()
        if self.peek():
            raise _refused(f"unexpected {self.peek()}.")
        return kind, selected, conditions


def _cell(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("id")
    if isinstance(value, bool):
        return "T" if value else "F"
    return value


def suiteql_router(store: RecordStore, billing: BillingStore, issuer: TokenIssuer) -> APIRouter:
    """POST /services/rest/query/v1/suiteql, behind the bearer token."""
    router = APIRouter(
        prefix=QUERY_PATH,
        tags=["query/v1"],
        dependencies=[Depends(bearer_required(issuer, unauthorized, BEARER, BEARER_DESCRIPTION))],
        responses=UNAUTHORIZED,
    )

    @router.post("/suiteql")
    async def suiteql(
        request: Request,
        body: Annotated[dict[str, Any], Body()],
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """Rows of time bills, expense reports or employees, by internal id, a page at a time."""
        q = body.get("q")
        if not isinstance(q, str) or not q.strip():
            raise NetSuiteError(400, 'Provide the query as {"q": "SELECT ..."}.', path="q")
        kind, selected, conditions = _Parser(q).parse()
        known = columns(kind)
        if kind == EMPLOYEE_TABLE:
            found, total = search_employees(store, conditions, (limit, offset))
        else:
            found, total = billing.search(kind, conditions, (limit, offset))
        items = [
            {"links": [], **{c: _cell(record.get(known[c])) for c in selected}} for record in found
        ]
        url = f"{str(request.base_url).rstrip('/')}{QUERY_PATH}/suiteql"
        links = [{"rel": "self", "href": f"{url}?limit={limit}&offset={offset}"}]
        if offset + limit < total:
            links.append({"rel": "next", "href": f"{url}?limit={limit}&offset={offset + limit}"})
        return {
            "links": links,
            "count": len(items),
            "hasMore": offset + limit < total,
            "items": items,
            "offset": offset,
            "totalResults": total,
        }

    return router
