"""The store's schema version: the Alembic revisions in store/migrations, run from code.

Each function works in the caller's transaction on a connection holding the store's schema
lock (store.engine), so that processes starting together take turns.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from store.audit_identity import add_audit_identity, add_columns
from store.migrations.versions import rev0001_initial as baseline

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
UPGRADE = "run `psflow store upgrade`"
VERIFIED_COLUMNS = ("subject", "issuer")
"""Added to audit logs made before decisions were proven."""


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's settings, from code: the revisions inside the package, and the connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The revision this psflow's models are at."""
    found = _scripts().get_current_head()
    assert found is not None, "store/migrations/versions holds no revision"
    return found


@cache
def known() -> frozenset[str]:
    """Every revision this psflow has, from 0001 to head."""
    return frozenset(script.revision for script in _scripts().walk_revisions())


@dataclass(frozen=True)
class Version:
    """Where a store stands against this psflow's head; `store` is its URL, password hidden."""

    store: str
    revision: str | None
    """None for a store Alembic has not versioned: empty, or made by an earlier psflow."""
    head: str
    tables: bool
    """It holds psflow's tables."""

    @property
    def empty(self) -> bool:
        return self.revision is None and not self.tables

    @property
    def current(self) -> bool:
        return self.revision == self.head

    @property
    def newer(self) -> bool:
        return self.revision is not None and self.revision not in known()

    @property
    def state(self) -> str:
        """current, behind, newer, unversioned (an earlier psflow's) or empty."""
        if self.revision is None:
            return "empty" if self.empty else "unversioned"
        if self.current:
            return "current"
        return "newer" if self.newer else "behind"

    @property
    def shown(self) -> str:
        """The revision in words."""
        if self.revision:
            return self.revision
        return "empty" if self.empty else "unversioned (made by an earlier psflow)"

    def problem(self) -> str | None:
        """Why this psflow cannot use the store as it is, with the fix; None when it can."""
        where = f"the store at {self.store}"
        if self.current:
            return None
        if self.empty:
            return (
                f"{where} is empty, this psflow needs {self.head}: {UPGRADE} "
                "(or start any psflow process, which creates it)"
            )
        if self.revision is None:
            return (
                f"{where} was made by an earlier psflow and has no schema version, "
                f"this psflow needs {self.head}: {UPGRADE}"
            )
        if self.newer:
            return (
                f"{where} is at schema {self.revision}, which this psflow does not know "
                f"(it needs {self.head}): upgrade psflow"
            )
        return f"{where} is at schema {self.revision}, this psflow needs {self.head}: {UPGRADE}"


def version(connection: Connection, store: str) -> Version:
    """Where the store stands."""
    tables = set(inspect(connection).get_table_names())
    return Version(
        store, _revision(connection, tables), head(), bool(tables & set(baseline.TABLES))
    )


def _revision(connection: Connection, tables: set[str]) -> str | None:
    """Read without Alembic, which logs each context it makes."""
    if VERSION_TABLE not in tables:
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
    return ",".join(sorted(rows)) or None  # several rows: branches none of ours has


def upgrade(connection: Connection) -> None:
    """Bring the store to head: an empty one is created, an earlier psflow's one adopted."""
    tables = set(inspect(connection).get_table_names())
    with _alembic_quiet():
        if _revision(connection, tables) is None and tables & set(baseline.TABLES):
            _adopt(connection, tables)
        command.upgrade(alembic_config(connection), "head")


@contextmanager
def _alembic_quiet() -> Iterator[None]:
    """Alembic logs its context and each revision at INFO: noise in a worker's first start
    (psflow's front doors say what they did, in one line)."""
    logger = logging.getLogger("alembic")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _adopt(connection: Connection, tables: set[str]) -> None:
    """What an earlier psflow's start-up made of a store, then version it 0001: the tables it
    lacks, and the audit log's two upgrades if not applied yet. Rows are kept as they are
    (but copies of one audit entry: the first stays)."""
    with Operations.context(MigrationContext.configure(connection)):
        baseline.create_tables(skip=tables)
    add_audit_identity(connection, "audit_log", baseline.AUDIT_IDENTITY_INDEX)
    add_columns(connection, "audit_log", VERIFIED_COLUMNS)
    command.stamp(alembic_config(connection), baseline.revision)
