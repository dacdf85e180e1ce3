"""Time bills, expense reports and invoices in their own indexed SQLite tables.

A month-end posts 100,000 time bills: the JSON RecordStore reads every record of a kind to
filter, so these transactions live in tables of their own (in the same ERP database file),
with the fields the sandbox filters on as indexed columns and the whole record as JSON.
The invoice a time bill or expense report is billed on is the column `invoice_id` only.
"""

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sandbox.erp.billing_query import EXPENSE_REPORT, INVOICE, TIME_BILL, where
from sandbox.erp.query import Condition

_TABLES = {TIME_BILL: "erp_time_bill", EXPENSE_REPORT: "erp_expense_report", INVOICE: "erp_invoice"}
_POSTING_COLUMNS = """
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id TEXT UNIQUE,
    employee_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    tran_date TEXT NOT NULL,
    billable INTEGER NOT NULL,
    invoice_id INTEGER,
    source TEXT,
    data TEXT NOT NULL
"""
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS erp_time_bill ({_POSTING_COLUMNS});
CREATE INDEX IF NOT EXISTS erp_time_bill_job ON erp_time_bill (job_id, tran_date);
CREATE INDEX IF NOT EXISTS erp_time_bill_invoice ON erp_time_bill (invoice_id);
CREATE TABLE IF NOT EXISTS erp_expense_report ({_POSTING_COLUMNS});
CREATE INDEX IF NOT EXISTS erp_expense_report_job ON erp_expense_report (job_id, tran_date);
CREATE INDEX IF NOT EXISTS erp_expense_report_invoice ON erp_expense_report (invoice_id);
CREATE TABLE IF NOT EXISTS erp_invoice (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id TEXT UNIQUE,
    job_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    period TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS erp_invoice_job ON erp_invoice (job_id, period);
"""


def invoice_number(invoice_id: int | str) -> str:
    """An invoice's document number (tranId), from its internal id."""
    return f"INV-{int(invoice_id):06d}"


class BillingStore:
    """The billing tables; every call holds one lock, so a transaction is never interleaved."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def clear(self) -> None:
        """Remove every billing record and restart the internal ids."""
        with self._lock:
            for table in _TABLES.values():
                self._db.execute(f"DELETE FROM {table}")
            names = ", ".join(f"'{t}'" for t in _TABLES.values())
            self._db.execute(f"DELETE FROM sqlite_sequence WHERE name IN ({names})")

    def clear_jobs(self, first_job: int, last_job: int) -> None:
        """Remove the billing records of the jobs with internal ids in [first_job, last_job]."""
        with self.transaction():
            for table in _TABLES.values():
                self._db.execute(
                    f"DELETE FROM {table} WHERE CAST(job_id AS INTEGER) BETWEEN ? AND ?",
                    (first_job, last_job),
                )

    # ------------------------------------------------------------ reading

    def _record(self, kind: str, row: tuple[Any, ...]) -> dict[str, Any]:
        id, invoice_id, data = row
        record: dict[str, Any] = {"id": str(id), **json.loads(data)}
        if kind == INVOICE:
            record["tranId"] = invoice_number(id)
        elif invoice_id is not None:
            record["invoice"] = {"id": str(invoice_id), "refName": invoice_number(invoice_id)}
        return record

    def _columns(self, kind: str) -> str:
        return "id, NULL, data" if kind == INVOICE else "id, invoice_id, data"

    def get(self, kind: str, id: str) -> dict[str, Any] | None:
        """One record by internal id."""
        if not (id.isascii() and id.isdigit()):
            return None
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._columns(kind)} FROM {_TABLES[kind]} WHERE id = ?", (int(id),)
            ).fetchone()
        return self._record(kind, row) if row else None

    def id_for_external(self, kind: str, external_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT id FROM {_TABLES[kind]} WHERE external_id = ?", (external_id,)
            ).fetchone()
        return str(row[0]) if row else None

    def by_external_ids(self, kind: str, external_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The records with these external ids, by external id."""
        found: dict[str, dict[str, Any]] = {}
        wanted = list(dict.fromkeys(external_ids))
        with self._lock:
            for at in range(0, len(wanted), 500):
                chunk = wanted[at : at + 500]
                marks = ", ".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT {self._columns(kind)} FROM {_TABLES[kind]} "
                    f"WHERE external_id IN ({marks})",
                    chunk,
                ).fetchall()
                for row in rows:
                    record = self._record(kind, row)
                    found[record["externalId"]] = record
        return found

    def search(
        self, kind: str, conditions: Sequence[Condition], page: tuple[int, int] | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """The records meeting the conditions, by internal id, and how many there are in all.

        `page` is (limit, offset); None reads them all.
        """
        clause, params = where(kind, conditions)
        table = _TABLES[kind]
        limit, offset = page or (-1, 0)
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM {table} WHERE {clause}", params)
            count = int(total.fetchone()[0])
            rows = self._db.execute(
                f"SELECT {self._columns(kind)} FROM {table} WHERE {clause} "
                "ORDER BY id LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return [self._record(kind, row) for row in rows], count

    # ------------------------------------------------------------ writing

    def save(self, kind: str, id: str | None, record: Mapping[str, Any]) -> str:
        """Insert (id None) or replace a time bill or expense report; its internal id."""
        body = {k: v for k, v in record.items() if k not in ("id", "invoice", "links")}
        values = (
            record.get("externalId"),
            record["employee" if kind == TIME_BILL else "entity"]["id"],
            record["customer"]["id"],
            record["tranDate"],
            int(bool(record.get("isBillable"))),
            record.get("custcol_psflow_source"),
            json.dumps(body, default=str),
        )
        table = _TABLES[kind]
        with self._lock:
            if id is None:
                cursor = self._db.execute(
                    f"INSERT INTO {table} (external_id, employee_id, job_id, tran_date, billable,"
                    " source, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
                return str(cursor.lastrowid)
            self._db.execute(
                f"UPDATE {table} SET external_id = ?, employee_id = ?, job_id = ?, "
                "tran_date = ?, billable = ?, source = ?, data = ? WHERE id = ?",
                (*values, int(id)),
            )
            return id

    def delete(self, kind: str, id: str) -> None:
        with self._lock:
            self._db.execute(f"DELETE FROM {_TABLES[kind]} WHERE id = ?", (int(id),))

    def link(self, kind: str, ids: Sequence[str], invoice_id: str | None) -> None:
        """Put these time bills or expense reports on an invoice (None takes them off)."""
        with self._lock:
            self._db.executemany(
                f"UPDATE {_TABLES[kind]} SET invoice_id = ? WHERE id = ?",
                [(int(invoice_id) if invoice_id else None, int(id)) for id in ids],
            )

    def unlink(self, invoice_id: str) -> None:
        """Free everything billed on an invoice."""
        with self._lock:
            for kind in (TIME_BILL, EXPENSE_REPORT):
                self._db.execute(
                    f"UPDATE {_TABLES[kind]} SET invoice_id = NULL WHERE invoice_id = ?",
                    (int(invoice_id),),
                )

    def save_invoice(self, id: str | None, record: Mapping[str, Any]) -> str:
        """Insert (id None) or replace an invoice; its internal id."""
        body = {k: v for k, v in record.items() if k not in ("id", "links", "tranId")}
        values = (
            record.get("externalId"),
            record["job"]["id"],
            record["entity"]["id"],
            record["custbody_psflow_period"],
            record["custbody_psflow_status"],
            json.dumps(body, default=str),
        )
        with self._lock:
            if id is None:
                cursor = self._db.execute(
                    "INSERT INTO erp_invoice (external_id, job_id, customer_id, period, status,"
                    " data) VALUES (?, ?, ?, ?, ?, ?)",
                    values,
                )
                return str(cursor.lastrowid)
            self._db.execute(
                "UPDATE erp_invoice SET external_id = ?, job_id = ?, customer_id = ?, "
                "period = ?, status = ?, data = ? WHERE id = ?",
                (*values, int(id)),
            )
            return id

    def insert_many(self, kind: str, records: Sequence[Mapping[str, Any]]) -> int:
        """Insert many new records at once (the volume seed); how many."""
        with self.transaction():
            for record in records:
                self.save(kind, None, record)
        return len(records)
