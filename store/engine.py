"""Opening psflow's store: the engine, the lock processes take turns under, the schema check."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError
from sqlmodel import create_engine

from store import schema
from store.schema import Version

STORE_URLS = "sqlite:///path/to/psflow.db or postgresql://user:password@host:5432/psflow"
# Any fixed number: the lock every psflow process takes while it checks or changes the schema.
SCHEMA_LOCK = 0x7073666C6F77


class StoreError(Exception):
    """psflow's store cannot be opened: an unusable `store_url`, a database out of reach, or
    a schema this psflow cannot use as it is."""


def engine_url(url: str) -> str:
    """A plain postgresql:// URL speaks through psycopg 3, the driver psflow installs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def _sqlite_journal(connection: Any, _record: Any) -> None:
    """Write-ahead log, synced at checkpoints: a commit costs no fsync of its own, and a
    killed process still loses nothing committed (only a power cut may lose the last ones)."""
    cursor = connection.cursor()
    try:
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "delete":
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError:  # another process switches it at this moment
                pass
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def make_engine(url: str) -> tuple[Engine, str]:
    """The engine for `url` and the URL to show (password hidden); nothing is read yet."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
        parsed = make_url(engine_url(url))
    except (ArgumentError, ValueError):
        raise StoreError(f"store_url is not a database URL: use {STORE_URLS}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_journal)
    elif parsed.get_backend_name() == "postgresql":
        engine = create_engine(parsed, pool_pre_ping=True)
    else:
        raise StoreError(f'store_url "{shown}" is neither SQLite nor PostgreSQL: use {STORE_URLS}')
    return engine, shown


@contextmanager
def _schema_turn(engine: Engine, shown: str, lock: bool = True) -> Iterator[Connection]:
    """A connection in a transaction committed on leaving, holding the schema lock (SQLite's
    write lock or a PostgreSQL advisory lock); a database out of reach is a StoreError."""
    try:
        with engine.connect() as connection:
            if lock and engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
            elif lock:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection
            connection.commit()
    except (OperationalError, InterfaceError) as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise StoreError(f'cannot open the store at store_url "{shown}": {reason}') from None


def open_engine(url: str) -> Engine:
    """The engine for psflow's store (SQLite or PostgreSQL) at the schema this psflow needs.

    An empty database is created at head: several processes may start on it at once (two
    workers), and they take turns under the schema lock. A store at another revision, or
    made by an earlier psflow, is refused: `psflow store upgrade` brings it up to date.
    A URL psflow cannot use, a database it cannot reach, or a schema it cannot use is a
    StoreError of one line, naming the store (password hidden) and the fix.
    """
    engine, shown = make_engine(url)
    try:
        with _schema_turn(engine, shown) as connection:
            found = schema.version(connection, shown)
            if found.empty:
                schema.upgrade(connection)
            elif not found.current:
                raise StoreError(found.problem())
    except StoreError:
        engine.dispose()
        raise
    return engine


def upgrade_store(url: str) -> tuple[Version, Version]:
    """Bring the store to this psflow's head (`psflow store upgrade`): where it was and is.

    Idempotent; a store newer than this psflow is a StoreError. Other processes opening the
    store wait until it is done.
    """
    engine, shown = make_engine(url)
    try:
        with _schema_turn(engine, shown) as connection:
            before = schema.version(connection, shown)
            if before.newer:
                raise StoreError(before.problem())
            if not before.current:
                schema.upgrade(connection)
            return before, schema.version(connection, shown)
    finally:
        engine.dispose()


def store_version(url: str) -> Version:
    """Where the store stands against this psflow's head (`psflow store current`); read only."""
    engine, shown = make_engine(url)
    try:
        with _schema_turn(engine, shown, lock=False) as connection:
            return schema.version(connection, shown)
    finally:
        engine.dispose()
