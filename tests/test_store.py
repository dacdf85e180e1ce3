"""psflow's store on both of its databases: SQLite (the default) and PostgreSQL (by URL).

Each test gets an empty database: a SQLite file, or a new database on the suite's own
PostgreSQL server (tests/postgres.py), which fails these tests loudly if it cannot start.
"""

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, create_engine, insert

from models.audit import AuditEntry, RecordLink
from models.billing import EntryKind, EntryProblem, ExceptionState
from models.dead_letter import DeadLetterState, FailedRun
from models.hcm import WorkerEvent, WorkerEventKind
from store.audit import add_link, append_audit, audit_entries, links_for
from store.db import StoreError, UtcDateTime, engine_url, open_engine
from store.dead_letters import (
    NotOpen,
    claim_for_retry,
    get_dead_letter,
    list_dead_letters,
    mark_discarded,
    mark_retried,
    record_dead_letter,
)
from store.engine import upgrade_store
from store.events import mark_applied, staleness
from store.exceptions import list_exceptions, mark_resubmitted, record_problems, resolve
from tests.postgres import PostgresServer

T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
T = TypeVar("T")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each of the store's two kinds; nothing is created in it yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store' / 'psflow.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = open_engine(store_url)
    assert engine.dialect.name == store_url.partition(":")[0]
    try:
        yield engine
    finally:
        engine.dispose()


def at_once(count: int, action: Callable[[], T]) -> list[T]:
    """`action` in `count` threads released together, as workers starting side by side."""
    start = threading.Barrier(count)

    def together() -> T:
        start.wait()
        return action()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: together(), range(count)))


def test_tables_are_created_once_by_workers_starting_together(store_url: str) -> None:
    engines = at_once(6, lambda: open_engine(store_url))
    engines.append(open_engine(store_url))  # and again, on tables that exist
    entry = AuditEntry(at=T0, workflow_id="w", kind="posted", user=None, detail="d")
    append_audit(engines[0], entry)
    assert audit_entries(engines[-1]) == [entry]
    for engine in engines:
        engine.dispose()


def test_concurrent_writers_keep_each_record_once(engine: Engine) -> None:
    link = RecordLink(
        business_key="006A", system="erp", record_type="job", record_id="77", workflow_id="w"
    )
    event = WorkerEvent(
        event_id="E1", kind=WorkerEventKind.HIRE, worker_id="30001",
        effective_date=date(2026, 11, 1), occurred_at=T0, sequence=1,
    )  # fmt: skip
    at_once(4, lambda: record_dead_letter(engine, failed_run("run-1", T0)))
    at_once(4, lambda: add_link(engine, link))
    at_once(4, lambda: mark_applied(engine, event))
    assert [d.run_id for d in list_dead_letters(engine)] == ["run-1"]
    assert links_for(engine, "006A") == [link]
    assert "already applied" in (staleness(engine, event) or "")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "store_url is not a database URL: use sqlite:///"),
        ("mysql://psflow:s3cret@db/psflow", 'store_url "mysql://psflow:***@db/psflow" is neither'),
        ("postgresql://psflow:s3cret@127.0.0.1:1/psflow", "cannot open the store at store_url "
         '"postgresql://psflow:***@127.0.0.1:1/psflow": connection failed'),
    ],
)  # fmt: skip
def test_an_unusable_store_url_is_one_line_without_its_password(url: str, message: str) -> None:
    with pytest.raises(StoreError) as refused:
        open_engine(url)
    assert str(refused.value).startswith(message)
    assert "s3cret" not in str(refused.value) and "\n" not in str(refused.value)


def test_postgresql_urls_use_the_installed_driver() -> None:
    assert engine_url("postgresql://u@db/psflow") == "postgresql+psycopg://u@db/psflow"
    assert engine_url("postgres://u@db/psflow") == "postgresql+psycopg://u@db/psflow"
    assert engine_url("postgresql+psycopg://u@db/x") == "postgresql+psycopg://u@db/x"
    assert engine_url("sqlite:///x.db") == "sqlite:///x.db"


def test_audit_log_filters_by_workflow_user_kind_and_time(engine: Engine) -> None:
    entries = [
        AuditEntry(at=T0, workflow_id="o2p/A", kind="approved", user="dana", detail="ok"),
        AuditEntry(
            at=T0 + timedelta(days=1), workflow_id="o2p/B", kind="rejected", user="dana",
            detail="margin too thin",
        ),
        AuditEntry(
            at=T0 + timedelta(days=2), workflow_id="o2p/A", kind="posted", user=None,
            detail="post time: 3 posted",
        ),
    ]  # fmt: skip
    for entry in reversed(entries):
        append_audit(engine, entry)

    assert audit_entries(engine) == entries
    assert audit_entries(engine, "o2p/A") == [entries[0], entries[2]]
    assert audit_entries(engine, user="dana", kind="rejected") == [entries[1]]
    assert audit_entries(engine, since=T0 + timedelta(hours=1)) == entries[1:]
    assert audit_entries(engine)[0].at.tzinfo is not None


def test_a_link_is_stored_once(engine: Engine) -> None:
    link = RecordLink(
        business_key="006A", system="erp", record_type="job", record_id="77", workflow_id="w"
    )
    add_link(engine, link)
    add_link(engine, link)
    assert links_for(engine, "006A") == [link]
    assert links_for(engine, "006B") == []


def test_worker_events_applied_once_and_in_order(engine: Engine) -> None:
    def event(event_id: str, sequence: int) -> WorkerEvent:
        return WorkerEvent(
            event_id=event_id, kind=WorkerEventKind.TRANSFER, worker_id="30001",
            effective_date=date(2026, 11, 1), occurred_at=T0, sequence=sequence,
        )  # fmt: skip

    assert staleness(engine, event("E2", 2)) is None
    mark_applied(engine, event("E2", 2))
    mark_applied(engine, event("E2", 2))
    assert "already applied" in (staleness(engine, event("E2", 2)) or "")
    assert "older than one already applied" in (staleness(engine, event("E1", 1)) or "")
    assert staleness(engine, event("E3", 3)) is None


def test_billing_exceptions_open_resubmit_and_resolve(engine: Engine) -> None:
    problems = [
        EntryProblem(entry_id="T1", kind=EntryKind.TIME, reason="no rate", message="no rate"),
        EntryProblem(entry_id="T2", kind=EntryKind.TIME, reason="closed", message="closed"),
    ]
    record_problems(engine, problems, "PRJ-1", "2026-10", "time-to-bill/PRJ-1/2026-10")
    record_problems(engine, problems[:1], "PRJ-1", "2026-10", "time-to-bill/PRJ-1/2026-10")
    found = list_exceptions(engine, project_id="PRJ-1", state=ExceptionState.OPEN)
    assert [e.entry_id for e in found] == ["T1", "T2"]

    mark_resubmitted(engine, [found[0].id])
    assert resolve(engine, EntryKind.TIME, ["T1"]) == 1
    states = {e.entry_id: e.state for e in list_exceptions(engine, period="2026-10")}
    assert states == {"T1": ExceptionState.RESOLVED, "T2": ExceptionState.OPEN}
    assert list_exceptions(engine, state=ExceptionState.RESOLVED)[0].resolved_at is not None


def failed_run(run_id: str, at: datetime) -> FailedRun:
    return FailedRun(
        workflow_id="opportunity-to-project/006A",
        run_id=run_id,
        workflow_type="opportunity-to-project",
        business_key="006A",
        step="create PSA project",
        error="PSA answered 400: bad milestone",
        input={"opportunity_id": "006A", "requested_by": "sam", "amounts": ["1.10"]},
        failed_at=at,
    )


def test_dead_letters_kept_once_per_run_then_retried_or_discarded(engine: Engine) -> None:
    record_dead_letter(engine, failed_run("run-1", T0))
    record_dead_letter(engine, failed_run("run-1", T0))  # the activity retried
    record_dead_letter(engine, failed_run("run-2", T0 + timedelta(days=1)))

    letters = list_dead_letters(engine)
    assert [(d.run_id, d.state) for d in letters] == [
        ("run-1", DeadLetterState.OPEN),
        ("run-2", DeadLetterState.OPEN),
    ]
    assert letters[0].input == failed_run("run-1", T0).input
    assert letters[0].failed_at == T0
    assert [d.run_id for d in list_dead_letters(engine, since=T0 + timedelta(hours=1))] == ["run-2"]

    retried = mark_retried(engine, letters[0].id, "fatima", "run-3")
    assert (retried.state, retried.closed_by, retried.retry_run_id) == (
        DeadLetterState.RETRIED, "fatima", "run-3",
    )  # fmt: skip
    discarded = mark_discarded(engine, letters[1].id, "greta", "customer withdrew")
    assert (discarded.state, discarded.reason) == (DeadLetterState.DISCARDED, "customer withdrew")
    with pytest.raises(NotOpen, match="already retried"):
        mark_discarded(engine, letters[0].id, "greta", "too late")
    with pytest.raises(NotOpen, match="no dead letter 999"):
        mark_retried(engine, 999, "greta", "run-x")

    assert list_dead_letters(engine, state=DeadLetterState.OPEN) == []
    assert get_dead_letter(engine, letters[1].id) == discarded


def test_concurrent_audit_writers_store_each_entry_once(engine: Engine) -> None:
    # Check-then-insert wrote duplicates in about 8 of 20 such trials on SQLite.
    for trial in range(20):
        entries = [
            AuditEntry(at=T0, workflow_id=f"t2b/{trial}", kind="posted", user=None, detail="d"),
            AuditEntry(at=T0, workflow_id=f"t2b/{trial}", kind="approved", user="fatima",
                       detail="ok"),
            AuditEntry(at=T0 + timedelta(microseconds=1), workflow_id=f"t2b/{trial}",
                       kind="posted", user=None, detail="d"),
        ]  # fmt: skip
        at_once(4, lambda entries=entries: [append_audit(engine, e) for e in entries])
        assert sorted(audit_entries(engine, f"t2b/{trial}"), key=repr) == sorted(entries, key=repr)


def earlier_audit_log(url: str, entries: list[AuditEntry]) -> None:
    """An audit log as psflow made it before entries had a key, holding `entries` as given."""
    old = MetaData()
    table = Table(
        "audit_log", old,
        Column("id", Integer, primary_key=True),
        Column("at", UtcDateTime, nullable=False, index=True),
        Column("workflow_id", String, nullable=False, index=True),
        Column("kind", String, nullable=False),
        Column("user", String, nullable=True),
        Column("detail", String, nullable=False),
    )  # fmt: skip
    engine = create_engine(engine_url(url))
    with engine.begin() as connection:
        old.create_all(connection)
        rows = [e.model_dump(exclude={"subject", "issuer"}) for e in entries]
        connection.execute(insert(table), rows)
    engine.dispose()


def test_an_earlier_audit_log_loses_its_duplicates_and_keeps_one_row_per_entry(
    store_url: str,
) -> None:
    if store_url.startswith("sqlite"):
        Path(store_url.removeprefix("sqlite:///")).parent.mkdir(parents=True)
    posted = AuditEntry(at=T0, workflow_id="w", kind="posted", user=None, detail="d")
    approved = AuditEntry(at=T0, workflow_id="w", kind="approved", user="dana", detail="ok")
    later = posted.model_copy(update={"at": T0 + timedelta(seconds=1)})
    earlier_audit_log(store_url, [posted, approved, posted, later, approved, posted])
    with pytest.raises(StoreError, match="made by an earlier psflow"):
        open_engine(store_url)

    at_once(3, lambda: upgrade_store(store_url))  # upgrades run together take turns
    engines = [open_engine(store_url) for _ in range(3)]

    assert audit_entries(engines[0]) == [posted, approved, later]  # one of each, by time
    at_once(4, lambda: append_audit(engines[1], approved))
    at_once(4, lambda: append_audit(engines[2], later))
    assert audit_entries(engines[0]) == [posted, approved, later]
    again = open_engine(store_url)  # and a store that is up to date stays as it is
    assert len(audit_entries(again)) == 3
    proven = approved.model_copy(
        update={"at": T0 + timedelta(seconds=2), "subject": "local-1", "issuer": "urn:x"}
    )
    append_audit(again, proven)  # and it keeps who verified a decision
    assert audit_entries(again)[-1] == proven
    for engine in [*engines, again]:
        engine.dispose()


def test_a_sqlite_store_keeps_a_write_ahead_log(tmp_path: Path) -> None:
    """Commits (an audit row per approval) cost no fsync each; the log survives the process."""
    engine = open_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        engine.dispose()


def test_of_many_retries_claiming_one_letter_at_once_one_wins(engine: Engine) -> None:
    """SQLite has no row locks: the claim takes the write lock before it reads the letter."""
    record_dead_letter(engine, failed_run("run-claimed", T0))
    [letter] = [d for d in list_dead_letters(engine) if d.run_id == "run-claimed"]

    def claim() -> bool:
        try:
            claim_for_retry(engine, letter.id, "fatima")
        except NotOpen:
            return False
        return True

    assert sorted(at_once(8, claim)) == [False] * 7 + [True]
