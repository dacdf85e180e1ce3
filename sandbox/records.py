"""A small SQLite record store each sandbox system keeps its records in."""

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    external_id TEXT,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS records_external_id ON records (kind, external_id);
CREATE TABLE IF NOT EXISTS sequences (kind TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    status INTEGER NOT NULL,
    body TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class RecordStore:
    """Records are JSON documents addressed by (kind, id), optionally unique by external id."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._savepoints = 0  # how deep `atomic` is nested

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """The writes inside commit together or not at all (an exception undoes them); nested,
        an inner block is undone alone. Other threads wait: one connection is shared."""
        with self._lock:
            name = f"psflow_{self._savepoints}"
            self._savepoints += 1
            self._db.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                self._db.execute(f"ROLLBACK TO {name}")
                raise
            finally:
                self._db.execute(f"RELEASE {name}")
                self._savepoints -= 1

    def close(self) -> None:
        self._db.close()

    def is_empty(self) -> bool:
        return self._db.execute("SELECT 1 FROM records LIMIT 1").fetchone() is None

    def clear(self) -> None:
        with self._lock:
            self._db.executescript(
                "DELETE FROM records; DELETE FROM sequences; DELETE FROM idempotency;"
            )

    def next_number(self, kind: str, start: int = 1000) -> int:
        """A per-kind counter, like a system's internal ids."""
        with self._lock:
            row = self._db.execute("SELECT last FROM sequences WHERE kind = ?", (kind,)).fetchone()
            value = (row[0] if row else start) + 1
            self._db.execute(
                "INSERT INTO sequences (kind, last) VALUES (?, ?) "
                "ON CONFLICT (kind) DO UPDATE SET last = excluded.last",
                (kind, value),
            )
            return value

    def insert(
        self, kind: str, id: str, data: dict[str, Any], external_id: str | None = None
    ) -> dict[str, Any]:
        now = _now()
        with self._lock:
            self._db.execute(
                "INSERT INTO records (kind, id, external_id, data, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (kind, id, external_id, json.dumps(data, default=str), now, now),
            )
        return data

    # Reads hold the lock too, so that no thread sees another's uncommitted `atomic` writes.
    def get(self, kind: str, id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT data FROM records WHERE kind = ? AND id = ?", (kind, id)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def id_for_external(self, kind: str, external_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM records WHERE kind = ? AND external_id = ?", (kind, external_id)
            ).fetchone()
        return row[0] if row else None

    def update(self, kind: str, id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            current = self.get(kind, id)
            if current is None:
                return None
            current.update(changes)
            self._db.execute(
                "UPDATE records SET data = ?, updated_at = ? WHERE kind = ? AND id = ?",
                (json.dumps(current, default=str), _now(), kind, id),
            )
            return current

    def set_external_id(self, kind: str, id: str, external_id: str | None) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE records SET external_id = ? WHERE kind = ? AND id = ?",
                (external_id, kind, id),
            )

    def delete(self, kind: str, id: str) -> bool:
        with self._lock:
            cursor = self._db.execute("DELETE FROM records WHERE kind = ? AND id = ?", (kind, id))
            return cursor.rowcount > 0

    def all(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT data FROM records WHERE kind = ? ORDER BY created_at, id", (kind,)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def find(self, kind: str, **equals: Any) -> list[dict[str, Any]]:
        """Records of a kind whose top-level fields equal the given values."""
        return [r for r in self.all(kind) if all(r.get(k) == v for k, v in equals.items())]

    def count(self, kind: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM records WHERE kind = ?", (kind,)
            ).fetchone()
        return int(row[0])

    def remembered(self, key: str) -> tuple[int, Any] | None:
        """The response first given for an idempotency key."""
        row = self._db.execute(
            "SELECT status, body FROM idempotency WHERE key = ?", (key,)
        ).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def remember(self, key: str, status: int, body: Any) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO idempotency (key, status, body) VALUES (?, ?, ?)",
                (key, status, json.dumps(body, default=str)),
            )
