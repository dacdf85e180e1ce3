"""A small SuiteQL: read many records, with their fields, in one call.

NetSuite's record collections answer ids only; reading many records with their fields is what
SuiteQL is for: `POST /services/rest/query/v1/suiteql?limit=1000&offset=0` with the header
`Prefer: transient` (refused without it, as NetSuite does) and {"q": "SELECT id, externalid,
invoice FROM timebill WHERE externalid IN ('a', 'b')"} answers {"items": [{"links": [], "id":
"17", ...}], "count", "hasMore", "offset", "totalResults", "links"}.

The sandbox understands SELECT <columns or *> FROM <table> [WHERE <condition> [AND
<condition>]...] [ORDER BY id [ASC]] over the tables of suiteql_tables, where a condition is
`column = value`, `<>`, `IN (...)`, `NOT IN (...)`, `IS [NOT] NULL`, `>=`/`<=`/`>`/`<` and
`BETWEEN a AND b` (dates as 'YYYY-MM-DD'). Keywords, table and column names are
case-insensitive; a reference reads as its internal id, a checkbox as 'T' or 'F', a date as
'YYYY-MM-DD' (real SuiteQL formats dates by the user's preference), other values as stored.
"""

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response

from sandbox.auth import UNAUTHORIZED, TokenIssuer, bearer_required
from sandbox.erp.billing_store import BillingStore
from sandbox.erp.errors import NetSuiteError, unauthorized
from sandbox.erp.protocol import BEARER, BEARER_DESCRIPTION, MAX_PAGE_SIZE, QUERY_PATH
from sandbox.erp.query import Condition
from sandbox.erp.suiteql_tables import TABLES, cell, columns, filters, search
from sandbox.records import RecordStore

_TOKEN = re.compile(r"'(?:[^']|'')*'|-?\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_]*|>=|<=|<>|!=|\S")
_COMPARISONS = {">=": "ON_OR_AFTER", "<=": "ON_OR_BEFORE", ">": "AFTER", "<": "BEFORE"}
PREFER_TRANSIENT = "transient"


def _refused(why: str) -> NetSuiteError:
    return NetSuiteError(400, f"Invalid search query: {why}", "INVALID_PARAMETER", "q")


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
        allowed = filters(kind)
        conditions: list[Condition] = []
        if self.peek().upper() == "WHERE":
            self.take()
            conditions += self.condition(allowed)
            while self.peek().upper() == "AND":
                self.take()
                conditions += self.condition(allowed)
        if self.peek().upper() == "ORDER":
            self.take()
            self.take("BY")
            self.take("ID")
            if self.peek().upper() == "ASC":
                self.take()
        if self.peek():
            raise _refused(f"unexpected {self.peek()}.")
        return kind, selected, conditions


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
        response: Response,
        body: Annotated[dict[str, Any], Body()],
        prefer: Annotated[str | None, Header(description="transient (required)")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """Rows of one table (timebill, expensereport, employee, customer, job or
        transaction), by internal id, a page at a time."""
        preferences = [p.strip().lower() for p in (prefer or "").split(",")]
        if PREFER_TRANSIENT not in preferences:
            detail = "SuiteQL queries run with the header Prefer: transient."
            raise NetSuiteError(400, detail, "INVALID_HEADER", header="Prefer")
        response.headers["Preference-Applied"] = PREFER_TRANSIENT
        q = body.get("q")
        if not isinstance(q, str) or not q.strip():
            raise NetSuiteError(400, 'Provide the query as {"q": "SELECT ..."}.', path="q")
        kind, selected, conditions = _Parser(q).parse()
        known = columns(kind)
        found, total = search(kind, store, billing, conditions, (limit, offset))
        items = [
            {"links": [], **{c: cell(kind, record, known[c]) for c in selected}} for record in found
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
