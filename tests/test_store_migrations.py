"""The store's schema under Alembic, on SQLite and PostgreSQL: a store made before Alembic, or
at an older revision, is refused by every front door until `psflow store upgrade`, which
keeps every row; an empty store starts at head; the models and the revisions agree."""

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, Table, create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel
from typer.testing import CliRunner, Result

from cli.main import app
from config import Settings
from models.audit import AuditEntry, RecordLink
from models.billing import EntryKind, EntryProblem
from models.hcm import WorkerEvent, WorkerEventKind
from models.reconcile import Finding, FindingKind
from security.issuer import rotate
from store.accounts import add_account
from store.audit import add_link, append_audit
from store.db import StoreError, engine_url, open_engine
from store.dead_letters import record_dead_letter
from store.engine import store_version
from store.events import mark_applied
from store.exceptions import record_problems
from store.findings import record_findings
from store.migrations.versions.rev0001_initial import TABLES
from store.schema import alembic_config, head
from tests.postgres import PostgresServer
from tests.test_store import T0, failed_run

NEW_TABLE = "seen_signatures"
runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No PSFLOW_* settings from outside and no psflow.toml from the working directory."""
    for name in list(os.environ):
        if name.startswith("PSFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Empty databases of one kind, as many as the test asks for."""
    server: PostgresServer | None = None
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres")
    made: list[str] = []

    def new() -> str:
        if server is not None:
            made.append(server.create_database())
        else:
            folder = tmp_path / f"store-{len(made)}"
            folder.mkdir()
            made.append(f"sqlite:///{folder / 'psflow.db'}")
        return made[-1]

    yield new
    if server is not None:
        for url in made:
            server.drop_database(url)


@pytest.fixture
def store_url(databases: Callable[[], str]) -> str:
    return databases()


def shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def raw_engine(url: str) -> Engine:
    """The database without psflow's opening (no schema check, nothing created)."""
    return create_engine(engine_url(url))


def made_before_alembic(url: str) -> None:
    """The store as psflow made it before Alembic: create_all of every table it had then."""
    engine = raw_engine(url)
    old = [t for t in SQLModel.metadata.sorted_tables if t.name != NEW_TABLE]
    SQLModel.metadata.create_all(engine, tables=old)
    engine.dispose()


def at_revision(url: str, revision: str) -> None:
    engine = raw_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
    engine.dispose()


def fill(url: str) -> None:
    """A row or more in every table of revision 0001, written by psflow's own functions."""
    engine = raw_engine(url)
    append_audit(
        engine,
        AuditEntry(
            at=T0,
            workflow_id="w",
            kind="approved",
            user="dana",
            detail="ok",
            subject="local-1",
            issuer="urn:psflow",
        ),
    )
    append_audit(engine, AuditEntry(at=T0, workflow_id="w", kind="posted", user=None, detail="d"))
    add_link(
        engine,
        RecordLink(
            business_key="006A", system="erp", record_type="job", record_id="77", workflow_id="w"
        ),
    )
    problem = EntryProblem(entry_id="T1", kind=EntryKind.TIME, reason="no rate", message="m")
    record_problems(engine, [problem], "PRJ-1", "2026-10", "time-to-bill/PRJ-1/2026-10")
    record_dead_letter(engine, failed_run("run-1", T0))
    mark_applied(
        engine,
        WorkerEvent(
            event_id="E1",
            kind=WorkerEventKind.HIRE,
            worker_id="30001",
            effective_date=date(2026, 11, 1),
            occurred_at=T0,
            sequence=1,
        ),
    )
    finding = Finding(
        kind=FindingKind.MISSING_PROJECT,
        business_key="006B",
        detail="no ERP job",
        suggested_repair="start opportunity-to-project",
    )
    record_findings(engine, "reconcile/1", T0, [finding])
    add_account(engine, "dana", "a password long enough", ["deal-desk"])
    rotate(engine, T0)
    engine.dispose()


def rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of revision 0001's tables, as the database has them."""
    engine = raw_engine(url)
    found: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for name in TABLES:
            table = Table(name, MetaData(), autoload_with=connection)
            found[name] = sorted((tuple(r) for r in connection.execute(select(table))), key=repr)
    engine.dispose()
    return found


def structure(url: str) -> dict[str, Any]:
    """Tables, columns, keys and indexes as the database reports them (its DDL on SQLite)."""
    engine = raw_engine(url)
    with engine.connect() as connection:
        inspector = inspect(connection)
        found: dict[str, Any] = {}
        for name in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
            found[name] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                    for c in inspector.get_columns(name)
                ],
                "primary key": inspector.get_pk_constraint(name),
                "unique": sorted(repr(u) for u in inspector.get_unique_constraints(name)),
                "indexes": sorted(repr(i) for i in inspector.get_indexes(name)),
            }
        if engine.dialect.name == "sqlite":
            ddl = "SELECT name, sql FROM sqlite_master WHERE tbl_name != 'alembic_version'"
            found["ddl"] = sorted(connection.execute(text(ddl)).all())
    engine.dispose()
    return found


def invoke(url: str, *args: str) -> Result:
    return runner.invoke(app, list(args), env={"PSFLOW_STORE_URL": url})


def test_revision_0001_is_the_schema_psflow_made_before_alembic(
    databases: Callable[[], str],
) -> None:
    before, first = databases(), databases()
    made_before_alembic(before)
    at_revision(first, "0001")

    assert structure(first) == structure(before)
    assert set(structure(first)) >= set(TABLES)


def test_a_store_made_before_alembic_is_refused_then_upgraded_keeping_every_row(
    store_url: str, tmp_path: Path
) -> None:
    made_before_alembic(store_url)
    fill(store_url)
    kept = rows(store_url)
    refusal = (
        f"the store at {shown(store_url)} was made by an earlier psflow and has no schema "
        f"version, this psflow needs {head()}: run `psflow store upgrade`"
    )

    with pytest.raises(StoreError) as refused:
        open_engine(store_url)
    assert str(refused.value) == refusal
    listed = invoke(store_url, "dlq", "list")  # a CLI command that opens the store
    assert (listed.exit_code, listed.stderr.strip()) == (1, f"error: {refusal}")
    assert worker_refusal(store_url, tmp_path) == f"error: {refusal}"
    for front_door in ("ingress.server", "inbox.server"):
        serve = __import__(front_door, fromlist=["serve"]).serve
        with pytest.raises(StoreError, match="made by an earlier psflow"):
            asyncio.run(serve(Settings(store_url=store_url)))

    upgraded = invoke(store_url, "store", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout.strip() == (
        f"upgraded the store at {shown(store_url)}: unversioned (made by an earlier psflow) "
        f"-> {head()}"
    )
    assert rows(store_url) == kept
    assert all(kept.values())
    current = invoke(store_url, "store", "current")
    assert current.exit_code == 0, current.output
    assert current.stdout.strip().splitlines()[-1] == "up to date"
    again = invoke(store_url, "store", "upgrade")
    assert again.stdout.strip().endswith("nothing to upgrade") and again.exit_code == 0
    engine = open_engine(store_url)
    assert NEW_TABLE in inspect(engine).get_table_names()
    engine.dispose()


def worker_refusal(url: str, folder: Path) -> str:
    """What `python -m worker` says, in one line, before it reaches any Temporal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSFLOW_")}
    env |= {"PSFLOW_STORE_URL": url, "PYTHONPATH": str(Path(__file__).parent.parent)}
    done = subprocess.run(
        [sys.executable, "-m", "worker"], env=env, cwd=folder, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    return done.stderr.strip()


def test_a_store_at_an_older_revision_is_refused_then_upgraded(store_url: str) -> None:
    at_revision(store_url, "0001")
    fill(store_url)
    kept = rows(store_url)
    refusal = (
        f"the store at {shown(store_url)} is at schema 0001, this psflow needs {head()}: "
        "run `psflow store upgrade`"
    )

    with pytest.raises(StoreError) as refused:
        open_engine(store_url)
    assert str(refused.value) == refusal
    behind = invoke(store_url, "store", "current", "--json")
    assert behind.exit_code == 1 and behind.stderr.strip() == f"error: {refusal}"
    assert behind.stdout.strip().startswith("{")
    assert (store_version(store_url).revision, store_version(store_url).state) == (
        "0001", "behind",
    )  # fmt: skip

    upgraded = invoke(store_url, "store", "upgrade", "--json")
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout.strip() == (
        "{\n"
        f'  "store": "{shown(store_url)}",\n'
        '  "from": "0001",\n'
        '  "was": "behind",\n'
        f'  "to": "{head()}",\n'
        '  "upgraded": true\n'
        "}"
    )
    assert rows(store_url) == kept
    assert store_version(store_url).current


def test_an_empty_store_is_created_at_head_on_first_start(store_url: str) -> None:
    before = invoke(store_url, "store", "current")
    assert before.exit_code == 1 and "is empty" in before.stderr

    engine = open_engine(store_url)
    engine.dispose()

    assert store_version(store_url).revision == head()
    assert set(inspect(raw_engine(store_url)).get_table_names()) == {
        *TABLES, NEW_TABLE, "alembic_version",
    }  # fmt: skip


def test_a_store_newer_than_this_psflow_is_refused(store_url: str) -> None:
    open_engine(store_url).dispose()
    engine = raw_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    refusal = (
        f"the store at {shown(store_url)} is at schema 0999, which this psflow does not know "
        f"(it needs {head()}): upgrade psflow"
    )

    with pytest.raises(StoreError) as refused:
        open_engine(store_url)
    assert str(refused.value) == refusal
    upgrade = invoke(store_url, "store", "upgrade")
    assert (upgrade.exit_code, upgrade.stderr.strip()) == (1, f"error: {refusal}")
    assert store_version(store_url).revision == "0999"


def test_the_models_and_the_revisions_agree(store_url: str) -> None:
    """What `alembic check` does: a store made by the revisions is what the models describe,
    so a model changed without a new revision fails here."""
    engine = open_engine(store_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()

    assert differences == []


def test_an_upgraded_store_is_the_same_as_a_new_one(databases: Callable[[], str]) -> None:
    upgraded, new = databases(), databases()
    made_before_alembic(upgraded)
    invoke(upgraded, "store", "upgrade")
    open_engine(new).dispose()

    assert structure(upgraded) == structure(new)
