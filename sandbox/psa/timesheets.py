"""Time entries and expenses in their own indexed SQLite tables, paged by id."""

import base64
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

_APPROVAL = ("status", "approver", "approved_at", "rejection_reason")
_COMMON = ("id", "worker_id", "project_id", "date")


@dataclass(frozen=True)
class Sheet:
    """One kind of timesheet line: its table, noun, id prefix and columns."""

    table: str
    noun: str
    prefix: str
    fields: tuple[str, ...]

    def values(self, record: dict[str, Any]) -> tuple[Any, ...]:
        """The record's values in field order (every field must be given)."""
        return tuple(itemgetter(*self.fields)(record))

    @property
    def columns(self) -> tuple[str, ...]:
        """Every stored column: the record's fields, then period and the volume mark."""
        return (*self.fields, "period", "volume")


TIME = Sheet(
    "time_entries",
    "time entry",
    "TE",
    (*_COMMON, "hours", "role", "billable", "notes", "cost_center", *_APPROVAL),
)
EXPENSE = Sheet(
    "expenses",
    "expense",
    "EX",
    (*_COMMON, "amount", "currency", "category", "billable", "notes", "cost_center", *_APPROVAL),
)
SHEETS = (TIME, EXPENSE)


def _schema(sheet: Sheet) -> str:
    types = {c: "INTEGER" if c in ("billable", "volume") else "TEXT" for c in sheet.columns[1:]}
    columns = ", ".join(f"{column} {kind}" for column, kind in types.items())
    t = sheet.table
    return f"""
    CREATE TABLE IF NOT EXISTS {t} (id TEXT PRIMARY KEY, {columns}) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS {t}_period ON {t} (period, status, project_id);
    """


def page_token(after: str) -> str:
    """An opaque token for the page after this id."""
    return base64.urlsafe_b64encode(f"after:{after}".encode()).decode().rstrip("=")


def token_position(token: str) -> str | None:
    """The id a page token continues after, or None when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):  # not base64, or not ASCII to begin with
        return None
    return text[len("after:") :] if text.startswith("after:") else None


class TimesheetStore:
    """Rows of time entries and expenses in the PSA's database file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA cache_size=-65536")
        self._lock = threading.RLock()
        with self._lock:
            for sheet in SHEETS:
                self._db.executescript(_schema(sheet))

    def close(self) -> None:
        self._db.close()

    def _record(self, sheet: Sheet, row: Sequence[Any]) -> dict[str, Any]:
        record = dict(zip(sheet.fields, row, strict=False))
        record["billable"] = bool(record["billable"])
        return record

    def get(self, sheet: Sheet, id: str) -> dict[str, Any] | None:
        """One record by id, or None."""
        sql = f"SELECT {', '.join(sheet.fields)} FROM {sheet.table} WHERE id = ?"
        with self._lock:
            row = self._db.execute(sql, (id,)).fetchone()
        return self._record(sheet, row) if row else None

    def page(
        self, sheet: Sheet, filters: dict[str, str], after: str | None, size: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to size records matching every filter (column = value), ordered by id, after
        the given id; and the id the next page starts after (None on the last page)."""
        where = [f"{column} = ?" for column in filters]
        values: list[Any] = list(filters.values())
        if after is not None:
            where.append("id > ?")
            values.append(after)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT {', '.join(sheet.fields)} FROM {sheet.table} {clause} ORDER BY id LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*values, size + 1)).fetchall()
        records = [self._record(sheet, r) for r in rows[:size]]
        return records, (records[-1]["id"] if len(rows) > size else None)

    def billed_projects(self, period: str, after: str | None, size: int) -> list[str]:
        """Project ids with approved time or expenses in the period, ordered, after an id."""
        part = (
            "SELECT project_id FROM {} WHERE period = ? AND status = 'approved' AND project_id > ?"
        )
        sql = f"{part.format(TIME.table)} UNION {part.format(EXPENSE.table)} ORDER BY 1 LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (period, after or "", period, after or "", size))
            return [r[0] for r in rows.fetchall()]

    def insert(self, sheet: Sheet, record: dict[str, Any], volume: bool = False) -> None:
        """Store one record (its period is derived from its date)."""
        self.insert_many(sheet, [self.row(sheet, record, volume)])

    @staticmethod
    def row(sheet: Sheet, record: dict[str, Any], volume: bool) -> tuple[Any, ...]:
        """The stored row of a record given as JSON-ready fields."""
        return (*sheet.values(record), str(record["date"])[:7], int(volume))

    def insert_many(self, sheet: Sheet, rows: Iterable[Sequence[Any]]) -> int:
        """Store many rows (as row() builds them) in one transaction; how many."""
        marks = ", ".join("?" * len(sheet.columns))
        sql = f"INSERT INTO {sheet.table} ({', '.join(sheet.columns)}) VALUES ({marks})"
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN")
            try:
                self._db.executemany(sql, rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return self._db.total_changes - before

    def update(self, sheet: Sheet, id: str, changes: dict[str, Any]) -> None:
        """Set the given fields of one record (its period follows its date)."""
        if "date" in changes:
            changes = changes | {"period": str(changes["date"])[:7]}
        sets = ", ".join(f"{column} = ?" for column in changes)
        with self._lock:
            self._db.execute(
                f"UPDATE {sheet.table} SET {sets} WHERE id = ?", (*changes.values(), id)
            )

    def clear(self, volume_only: bool = False) -> None:
        """Remove every record, or only the generated volume."""
        where = " WHERE volume = 1" if volume_only else ""
        with self._lock:
            for sheet in SHEETS:
                self._db.execute(f"DELETE FROM {sheet.table}{where}")
