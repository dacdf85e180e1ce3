"""Signed ingress requests seen, shared by every ingress process on the store: a signature
recorded by one process is a replay at any other."""

import hashlib
from datetime import datetime

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel

from store.db import SEEN_SIGNATURES

PURGE_BATCH = 200
"""Expired rows deleted at most per claim: each claim's cost stays bounded, and rows expire
no faster than claims arrive."""

_table = SQLModel.metadata.tables[SEEN_SIGNATURES]


def signature_digest(signature: str) -> str:
    """The key a signature is recorded under (the same length whatever the sender sends)."""
    return hashlib.sha256(signature.encode()).hexdigest()


def claim_signature(engine: Engine, signature: str, seen_at: datetime, expires: datetime) -> bool:
    """Record the signature until `expires`; False if it is recorded already (a replay).

    The database decides, by the primary key: of processes claiming one signature at once,
    one wins. Expired rows, up to PURGE_BATCH, are deleted on the way.
    """
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    values = {"digest": signature_digest(signature), "seen_at": seen_at, "expires_at": expires}
    expired = select(_table.c.digest).where(_table.c.expires_at < seen_at).limit(PURGE_BATCH)
    # PostgreSQL: rows another process is deleting are left to it, so purges never deadlock.
    expired = expired.with_for_update(skip_locked=True)
    with engine.begin() as connection:
        connection.execute(delete(_table).where(_table.c.digest.in_(expired)))
        # RETURNING, not rowcount: SQLAlchemy keeps no INSERT's rowcount unless told to.
        statement = insert(_table).values(values).on_conflict_do_nothing()
        return connection.execute(statement.returning(_table.c.digest)).first() is not None


def release_signature(engine: Engine, signature: str) -> None:
    """Forget the signature: the request was not taken, and its sender may send it again."""
    with engine.begin() as connection:
        connection.execute(delete(_table).where(_table.c.digest == signature_digest(signature)))


def seen_signatures(engine: Engine) -> int:
    """How many signatures are recorded (expired ones not yet deleted included)."""
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(_table)).scalar_one()
