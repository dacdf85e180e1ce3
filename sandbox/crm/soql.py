"""SOQL at /query as Salesforce answers it (sandbox/crm/soql_parse.py reads it): string
comparisons ignore case, relationship fields follow lookups, and a result over BATCH records
comes a batch at a time through `nextRecordsUrl`."""

import re
import secrets
from collections import OrderedDict
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sandbox.crm.errors import SalesforceError
from sandbox.crm.objects import SOBJECTS, render
from sandbox.crm.paths import API_VERSION, DATA_PREFIX
from sandbox.crm.service import Crm
from sandbox.crm.soql_parse import Condition, Expression, Query, malformed, parse

BATCH = 2000
MAX_OFFSET = 2000
CURSORS_KEPT = 50
# sObject -> relationship name -> (its lookup field, the related sObject)
RELATIONSHIPS: dict[str, dict[str, tuple[str, str]]] = {
    "Opportunity": {"Account": ("AccountId", "Account"), "Owner": ("OwnerId", "User")},
    "OpportunityLineItem": {"Opportunity": ("OpportunityId", "Opportunity")},
    "Project_Milestone__c": {"Opportunity__r": ("Opportunity__c", "Opportunity")},
}

Path = tuple[str, ...]
"""A resolved column: ("Name",) or ("Account", "Name")."""


def _sobject(name: str) -> str:
    found = next((s for s in SOBJECTS if s.lower() == name.lower()), None)
    if found is None:
        raise SalesforceError(400, "INVALID_TYPE", f"sObject type '{name}' is not supported.")
    return found


@cache  # asked once per record and condition; the schema never changes
def _column(sobject: str, name: str) -> Path:
    """The canonical path of a column, or Salesforce's INVALID_FIELD."""
    *hops, last = name.split(".")
    current, path = sobject, []
    for hop in hops:
        links = RELATIONSHIPS.get(current, {})
        relationship = next((r for r in links if r.lower() == hop.lower()), None)
        if relationship is None:
            message = f"Didn't understand relationship '{hop}' in field path. "
            raise SalesforceError(400, "INVALID_FIELD", message + "Check the spelling.", [name])
        path.append(relationship)
        current = links[relationship][1]
    field = next((f for f in SOBJECTS[current].fields if f.lower() == last.lower()), None)
    if field is None:
        message = f"No such column '{last}' on entity '{current}'."
        raise SalesforceError(400, "INVALID_FIELD", message, [name])
    return (*path, field)


class Records:
    """The records of a query's sObject with what their lookups point at, read once."""

    def __init__(self, crm: Crm, sobject: str) -> None:
        self.crm = crm
        self.sobject = sobject
        self._related: dict[str, dict[str, dict[str, Any]]] = {}

    def related(self, kind: str) -> dict[str, dict[str, Any]]:
        if kind not in self._related:
            self._related[kind] = {r["Id"]: r for r in self.crm.store.all(kind)}
        return self._related[kind]

    def value(self, record: dict[str, Any], path: Path) -> Any:
        current, kind = record, self.sobject
        for hop in path[:-1]:
            lookup, kind = RELATIONSHIPS[kind][hop]
            target = self.related(kind).get(current.get(lookup) or "")
            if target is None:
                return None
            current = target
        return current.get(path[-1])

    def kind_of(self, path: Path) -> str:
        kind = self.sobject
        for hop in path[:-1]:
            kind = RELATIONSHIPS[kind][hop][1]
        return SOBJECTS[kind].fields[path[-1]]


def _comparable(kind: str, value: Any) -> Any:
    if isinstance(value, str) and kind not in ("num", "date"):
        return value.lower()
    return value


def _matches(records: Records, record: dict[str, Any], condition: Condition) -> bool:
    path = _column(records.sobject, condition.column)
    kind = records.kind_of(path)
    actual = _comparable(kind, records.value(record, path))
    op, wanted = condition.op, condition.value
    if op in ("in", "not in"):
        inside = actual in {_comparable(kind, v) for v in wanted}
        return inside if op == "in" else not inside
    if op == "like":
        if actual is None or not isinstance(wanted, str):
            return False
        pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in wanted)
        return re.fullmatch(pattern, str(actual), re.IGNORECASE | re.DOTALL) is not None
    if wanted is None or actual is None:
        equal = wanted is None and actual is None
        return {"=": equal, "!=": not equal}.get(op, False)
    if isinstance(wanted, tuple):  # a date literal's first and last day
        first, last = wanted
        tests: dict[str, bool] = {
            "=": first <= actual <= last, "!=": not first <= actual <= last,
            "<": actual < first, "<=": actual <= last, ">": actual > last, ">=": actual >= first,
        }  # fmt: skip
        return tests[op]
    wanted = _comparable(kind, wanted)
    try:
        outcome: bool = {
            "=": actual == wanted,
            "!=": actual != wanted,
            "<": actual < wanted,
            "<=": actual <= wanted,
            ">": actual > wanted,
            ">=": actual >= wanted,
        }[op]
        return outcome  # fmt: skip
    except TypeError:
        raise malformed(f"cannot compare {condition.column} with {condition.value!r}") from None


def _holds(records: Records, record: dict[str, Any], expression: Expression) -> bool:
    if isinstance(expression, Condition):
        return _matches(records, record, expression)
    if expression.op == "not":
        return not _holds(records, record, expression.parts[0])
    found = (_holds(records, record, part) for part in expression.parts)
    return all(found) if expression.op == "and" else any(found)


def _ordered(records: Records, rows: list[dict[str, Any]], query: Query) -> list[dict[str, Any]]:
    rows = sorted(rows, key=lambda r: r["Id"])
    for column, descending, nulls_last in reversed(query.order):
        path = _column(records.sobject, column)
        kind = records.kind_of(path)
        present = [r for r in rows if records.value(r, path) is not None]
        absent = [r for r in rows if records.value(r, path) is None]
        present.sort(key=lambda r: _comparable(kind, records.value(r, path)), reverse=descending)
        rows = present + absent if nulls_last else absent + present
    return rows


def _rendered(records: Records, record: dict[str, Any], paths: list[Path]) -> dict[str, Any]:
    out = render(records.sobject, record, [p[0] for p in paths if len(p) == 1])
    for path in (p for p in paths if len(p) > 1):
        holder, kind, current = out, records.sobject, record
        for hop in path[:-1]:
            lookup, kind = RELATIONSHIPS[kind][hop]
            target = records.related(kind).get(current.get(lookup) or "") if current else None
            if target is None:
                holder[hop] = None
                break
            if not isinstance(holder.get(hop), dict):
                holder[hop] = render(kind, target, [])
            holder, current = holder[hop], target
        else:
            holder[path[-1]] = current.get(path[-1])
    return out


class QueryRunner:
    """Answers /query and its nextRecordsUrl pages; keeps the last CURSORS_KEPT results."""

    def __init__(self, crm: Crm) -> None:
        self.crm = crm
        self._cursors: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    def run(self, text: str, version: str = API_VERSION) -> dict[str, Any]:
        query = parse(text, datetime.now(UTC).date())
        sobject = _sobject(query.sobject)
        records = Records(self.crm, sobject)
        paths = [_column(sobject, name) for name in query.fields]
        if query.offset > MAX_OFFSET:
            raise SalesforceError(
                400, "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum OFFSET is {MAX_OFFSET}"
            )
        rows = self.crm.store.all(sobject)
        if query.where is not None:
            rows = [r for r in rows if _holds(records, r, query.where)]
        rows = _ordered(records, rows, query)[query.offset :]
        if query.limit is not None:
            rows = rows[: query.limit]
        if query.count:
            return {"totalSize": len(rows), "done": True, "records": []}
        rendered = [_rendered(records, r, paths) for r in rows]
        return self._page(rendered, 0, len(rendered), version, None)

    def more(self, cursor: str, version: str = API_VERSION) -> dict[str, Any]:
        locator, _, start = cursor.rpartition("-")
        rows = self._cursors.get(locator)
        if rows is None or not (start.isascii() and start.isdigit()):
            raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(rows, int(start), len(rows), version, locator)

    def _page(
        self, rows: list[dict[str, Any]], start: int, total: int, version: str, locator: str | None
    ) -> dict[str, Any]:
        page: dict[str, Any] = {"totalSize": total, "done": start + BATCH >= total}
        if not page["done"]:
            if locator is None:
                locator = "01g" + secrets.token_hex(8).upper()[:15]
                self._cursors[locator] = rows
                while len(self._cursors) > CURSORS_KEPT:
                    self._cursors.popitem(last=False)
            page["nextRecordsUrl"] = f"{DATA_PREFIX}/{version}/query/{locator}-{start + BATCH}"
        page["records"] = rows[start : start + BATCH]
        return page
