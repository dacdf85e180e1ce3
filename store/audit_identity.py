"""An audit entry's identity, and giving it to an audit log made by an earlier psflow.

Identity is a hash of the whole entry (who, when, what, to which workflow), so the unique
index on it is short whatever the detail's length, and an entry without a user is still
one entry (a NULL would never conflict with another).
"""

import hashlib
import json
import logging
from datetime import UTC, datetime

from sqlalchemy import (
    Connection,
    Index,
    MetaData,
    Table,
    bindparam,
    inspect,
    select,
    text,
    update,
)

log = logging.getLogger(__name__)


def entry_key(at: datetime, workflow_id: str, kind: str, user: str | None, detail: str) -> str:
    """The entry's identity: the same act recorded twice has the same key."""
    when = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
    identity = [when.isoformat(), workflow_id, kind, user, detail]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()


def add_audit_identity(connection: Connection, table_name: str, index_name: str) -> None:
    """Key every row, drop the extra copies of an entry (the first stays), add the index.

    Runs in the caller's transaction; a log that has the index is left as it is.
    """
    inspector = inspect(connection)
    if index_name in {i["name"] for i in inspector.get_indexes(table_name)}:
        return
    if "entry_key" not in {c["name"] for c in inspector.get_columns(table_name)}:
        connection.execute(text(f"ALTER TABLE {table_name} ADD COLUMN entry_key VARCHAR(64)"))
    # As the database has it: a naive time read from SQLite is UTC, as entry_key takes it.
    table = Table(table_name, MetaData(), autoload_with=connection)
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
            f"DELETE FROM {table_name} WHERE id NOT IN "
            f"(SELECT MIN(id) FROM {table_name} GROUP BY entry_key)"
        )
    ).rowcount
    if removed:
        log.warning("audit log: removed %d duplicate entries before indexing them", removed)
    Index(index_name, c.entry_key, unique=True).create(connection)


def add_columns(connection: Connection, table_name: str, names: tuple[str, ...]) -> None:
    """Add the text columns `names` a table made by an earlier psflow lacks (nullable)."""
    present = {c["name"] for c in inspect(connection).get_columns(table_name)}
    for name in names:
        if name not in present:
            connection.execute(text(f"ALTER TABLE {table_name} ADD COLUMN {name} VARCHAR"))
