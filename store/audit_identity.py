"""An audit entry's identity, and giving it to an audit log made by an earlier psflow.

Identity is a hash of the whole entry (who, when, what, to which workflow), so the unique
index on it is short whatever the detail's length, and an entry without a user is still
one entry (a NULL would never conflict with another).
"""

import hashlib
import json
import logging
from datetime import UTC, datetime

from sqlalchemy import Connection, Table, bindparam, inspect, select, text, update

log = logging.getLogger(__name__)


def entry_key(at: datetime, workflow_id: str, kind: str, user: str | None, detail: str) -> str:
    """The entry's identity: the same act recorded twice has the same key."""
    when = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
    identity = [when.isoformat(), workflow_id, kind, user, detail]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()


def add_audit_identity(connection: Connection, table: Table, index_name: str) -> None:
    """Key every row, drop the extra copies of an entry (the first stays), add the index.

    Runs in the caller's transaction; a log that has the index is left as it is.
    """
    inspector = inspect(connection)
    if index_name in {i["name"] for i in inspector.get_indexes(table.name)}:
        return
    if "entry_key" not in {c["name"] for c in inspector.get_columns(table.name)}:
        connection.execute(text(f"ALTER TABLE {table.name} ADD COLUMN entry_key VARCHAR(64)"))
    c = table.c
    rows = connection.execute(
        select(c.id, c.at, c.workflow_id, c.kind, c.user, c.detail).where(c.entry_key.is_(None))
    ).all()
    if rows:
        keyed = [{"row_id": r.id, "key": entry_key(*r[1:])} for r in rows]
        statement = update(table).where(c.id == bindparam("row_id"))
        connection.execute(statement.values(entry_key=bindparam("key")), keyed)
    removed = connection.execute(
        text(
            f"DELETE FROM {table.name} WHERE id NOT IN "
            f"(SELECT MIN(id) FROM {table.name} GROUP BY entry_key)"
        )
    ).rowcount
    if removed:
        log.warning("audit log: removed %d duplicate entries before indexing them", removed)
    next(i for i in table.indexes if i.name == index_name).create(connection)


def add_columns(connection: Connection, table: Table, names: tuple[str, ...]) -> None:
    """Add the text columns `names` a table made by an earlier psflow lacks (nullable)."""
    present = {c["name"] for c in inspect(connection).get_columns(table.name)}
    for name in names:
        if name not in present:
            connection.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {name} VARCHAR"))
