"""Parsing the SOQL a Salesforce developer writes: keywords and names in any case, fields
and relationship fields (`Account.Name`), `COUNT()`, WHERE with AND/OR/NOT and parentheses
over =, !=, <>, <, <=, >, >=, IN, NOT IN, LIKE, date literals (TODAY, LAST_N_DAYS:7...),
ORDER BY (ASC/DESC, NULLS FIRST/LAST), LIMIT and OFFSET."""

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sandbox.crm.errors import SalesforceError

TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<op><=|>=|!=|<>|[=<>(),])"
    r"|(?P<literal>[A-Za-z_][\w.]*(?::\d+)?|\d{4}-\d{2}-\d{2}|-?\d+(?:\.\d+)?))"
)
KEYWORDS = {
    "select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "asc", "desc",
    "nulls", "first", "last", "limit", "offset", "count",
}  # fmt: skip
DATE_LITERAL = re.compile(r"^(LAST|NEXT)_N_DAYS:(\d+)$", re.IGNORECASE)


def malformed(message: str) -> SalesforceError:
    return SalesforceError(400, "MALFORMED_QUERY", message)


@dataclass
class Condition:
    column: str
    op: str
    value: Any


@dataclass
class BoolOp:
    op: str  # "and", "or", "not"
    parts: list["Expression"]


Expression = Condition | BoolOp


@dataclass
class Query:
    fields: list[str]
    sobject: str
    count: bool = False
    where: Expression | None = None
    order: list[tuple[str, bool, bool]] = field(default_factory=list)
    """(column, descending, nulls last)."""
    limit: int | None = None
    offset: int = 0


def tokens(text: str) -> list[str]:
    found, at = [], 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        match = TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise malformed(f"unexpected token: {text[at:].strip()[:20]}")
        found.append(match.group(match.lastgroup or "literal"))
        at = match.end()
    return found


class Parser:
    def __init__(self, text: str, today: date) -> None:
        self.items = tokens(text)
        self.at = 0
        self.today = today

    def peek(self) -> str | None:
        return self.items[self.at] if self.at < len(self.items) else None

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.lower() in words:
            self.at += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.keyword(word):
            got = self.peek()
            raise malformed(f"expecting '{word.upper()}', found '{got or 'end of query'}'")

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise malformed("unexpected end of query")
        self.at += 1
        return token

    def parse(self) -> Query:
        self.expect("select")
        fields, count = self.select_list()
        self.expect("from")
        query = Query(fields=fields, sobject=self.take(), count=count)
        if self.keyword("where"):
            query.where = self.expression()
        if self.keyword("order"):
            self.expect("by")
            query.order = self.order_list()
        if self.keyword("limit"):
            query.limit = self.number("LIMIT")
        if self.keyword("offset"):
            query.offset = self.number("OFFSET")
        if self.peek() is not None:
            raise malformed(f"unexpected token: '{self.peek()}'")
        return query

    def select_list(self) -> tuple[list[str], bool]:
        if self.keyword("count"):
            self.expect("(")
            self.expect(")")
            return [], True
        fields = [self.take()]
        while self.keyword(","):
            fields.append(self.take())
        return fields, False

    def order_list(self) -> list[tuple[str, bool, bool]]:
        order = []
        while True:
            column = self.take()
            descending = self.keyword("desc")
            if not descending:
                self.keyword("asc")
            nulls_last = descending  # Salesforce: NULLS FIRST ascending, LAST descending
            if self.keyword("nulls"):
                nulls_last = self.keyword("last")
                if not nulls_last:
                    self.expect("first")
            order.append((column, descending, nulls_last))
            if not self.keyword(","):
                return order

    def number(self, clause: str) -> int:
        token = self.take()
        if not token.isdigit():
            raise malformed(f"{clause} takes a whole number, not '{token}'")
        return int(token)

    def expression(self) -> Expression:
        parts = [self.conjunction()]
        while self.keyword("or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else BoolOp("or", parts)

    def conjunction(self) -> Expression:
        parts = [self.unary()]
        while self.keyword("and"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else BoolOp("and", parts)

    def unary(self) -> Expression:
        if self.keyword("not"):
            return BoolOp("not", [self.unary()])
        if self.keyword("("):
            inner = self.expression()
            self.expect(")")
            return inner
        return self.condition()

    def condition(self) -> Condition:
        column = self.take()
        if self.keyword("not"):
            self.expect("in")
            return Condition(column, "not in", self.value_list())
        if self.keyword("in"):
            return Condition(column, "in", self.value_list())
        if self.keyword("like"):
            return Condition(column, "like", self.value())
        op = self.take()
        if op not in ("=", "!=", "<>", "<", "<=", ">", ">="):
            raise malformed(f"unexpected operator '{op}' after {column}")
        return Condition(column, "!=" if op == "<>" else op, self.value())

    def value_list(self) -> list[Any]:
        self.expect("(")
        values = [self.value()]
        while self.keyword(","):
            values.append(self.value())
        self.expect(")")
        return values

    def value(self) -> Any:
        token = self.take()
        if token.startswith("'"):
            return re.sub(r"\\(.)", r"\1", token[1:-1])
        lowered = token.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered == "null":
            return None
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", token):
            return token
        if re.fullmatch(r"-?\d+(?:\.\d+)?", token):
            return float(token)
        return self.date_literal(token)

    def date_literal(self, token: str) -> tuple[str, str]:
        """A relative date literal as the (first, last) ISO dates it covers."""
        today = self.today
        month = today.replace(day=1)
        last_month_end = month - timedelta(days=1)
        next_month = (month + timedelta(days=32)).replace(day=1)
        ranges = {
            "TODAY": (today, today),
            "YESTERDAY": (today - timedelta(days=1), today - timedelta(days=1)),
            "TOMORROW": (today + timedelta(days=1), today + timedelta(days=1)),
            "THIS_MONTH": (month, next_month - timedelta(days=1)),
            "LAST_MONTH": (last_month_end.replace(day=1), last_month_end),
            "THIS_YEAR": (today.replace(month=1, day=1), today.replace(month=12, day=31)),
        }
        upper = token.upper()
        if upper in ranges:
            first, last = ranges[upper]
            return first.isoformat(), last.isoformat()
        relative = DATE_LITERAL.match(token)
        if relative:
            days = int(relative.group(2))
            if relative.group(1).upper() == "LAST":
                return (today - timedelta(days=days)).isoformat(), today.isoformat()
            return today.isoformat(), (today + timedelta(days=days)).isoformat()
        raise malformed(f"unexpected token: '{token}'")


def parse(text: str, today: date) -> Query:
    return Parser(text, today).parse()
