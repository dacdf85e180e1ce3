"""Scale-out: two worker processes and two ingress processes on one Temporal and one
PostgreSQL store. A month-end survives one worker's SIGKILL, a webhook taken by one ingress
is a replay at the other, and a rolling restart under load loses nothing; nothing twice.

Each test prints its figures (run with -s to see them; README.md, "Scale-out")."""

import asyncio
import contextlib
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from config import Settings
from models.billing import InvoiceStatus, month_end_id, time_to_bill_id
from models.opportunity_to_project import project_external_id, workflow_id
from models.time_to_bill import MonthEndInput
from sandbox.volume import Volume, volume_entries, volume_projects
from store.db import open_engine
from store.signatures import seen_signatures
from tests.billing_support import expected, posted_entry_ids, seed_volume
from tests.postgres import PostgresServer
from tests.support import BIN, Sandbox, Systems, env_for, free_port
from tests.test_ingress import SECRET, closed_won, signed
from tests.test_opportunity_to_project import start
from workflows.month_end import MonthEnd
from workflows.opportunity_to_project import OpportunityToProject

ROOT = Path(__file__).parent.parent
VOLUME = Volume(projects=6, entries=300, period="2024-08", seed=91)
STARTED = PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
STOPPED = re.compile(r"worker stopped: (\d+) activities finished while stopping, (\d+) handed back")
POST_PAGE = "billing.post_page"
CREATE = "psa.create_project"
IN_FLIGHT = re.compile(r"worker stopping: (\d+) activities in flight")
REPLAY = {"error": "this signature was received before: sign each delivery afresh"}


class Process:
    """A psflow process (`worker.py`, `psflow ingress`); its output in `log`."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out: IO[bytes] = log.open("wb")
        self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._out, stderr=self._out)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def owns(self, identity: str) -> bool:
        """Whether a Temporal worker identity (`pid@host`, the SDK's default) is this one's."""
        return identity.startswith(f"{self.pid}@")

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    async def said(self, line: str, within: float = 60) -> None:
        """Wait until the log holds `line`; the process still running."""
        deadline = time.monotonic() + within
        while line not in self.text():
            assert self.popen.poll() is None, f"exited {self.popen.returncode}:\n{self.text()}"
            assert time.monotonic() < deadline, f"never said {line!r}:\n{self.text()}"
            await asyncio.sleep(0.1)

    async def exited(self, within: float = 60) -> int:
        deadline = time.monotonic() + within
        while self.popen.poll() is None:
            assert time.monotonic() < deadline, f"still running:\n{self.text()}"
            await asyncio.sleep(0.1)
        self._out.close()
        return self.popen.returncode

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        self._out.close()


class Workers:
    """The worker processes on this module's task queue and store."""

    def __init__(self, config: Path, store_url: str, folder: Path) -> None:
        self.queue = f"psflow-scale-out-{uuid.uuid4()}"
        self.env = env_for(config, PSFLOW_TASK_QUEUE=self.queue, PSFLOW_STORE_URL=store_url)
        self.folder = folder
        self.live: list[Process] = []
        self.started = 0

    async def at_least(self, count: int) -> list[Process]:
        """Start workers until `count` run, each polling; the live ones."""
        added = []
        while len(self.live) < count:
            self.started += 1
            log = self.folder / f"worker-{self.started}.log"
            added.append(Process([sys.executable, "worker.py"], self.env, log))
            self.live.append(added[-1])
        for worker in added:
            await worker.said("worker polling task queue")
        return list(self.live)

    def owner(self, identity: str) -> Process:
        return next(w for w in self.live if w.owns(identity))

    def kill(self, worker: Process) -> None:
        """SIGKILL: nothing in flight is finished or handed back."""
        self.live.remove(worker)
        worker.kill()

    async def stop(self, worker: Process) -> tuple[int, int, int]:
        """SIGTERM, as a platform stops a container: (in flight, finished, handed back)."""
        self.live.remove(worker)
        worker.popen.send_signal(signal.SIGTERM)
        assert await worker.exited() == 0, worker.text()
        stopping, stopped = IN_FLIGHT.search(worker.text()), STOPPED.search(worker.text())
        assert stopping and stopped, worker.text()
        return int(stopping[1]), int(stopped[1]), int(stopped[2])

    def close(self) -> None:
        for worker in self.live:
            worker.kill()
        self.live.clear()


@pytest.fixture(scope="module")
def store_url(postgres: PostgresServer) -> Iterator[str]:
    """One fresh PostgreSQL store for every process of this module."""
    url = postgres.create_database()
    try:
        yield url
    finally:
        postgres.drop_database(url)


@pytest.fixture(scope="module")
def workers(
    config_file: Path, store_url: str, sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    pool = Workers(config_file, store_url, tmp_path_factory.mktemp("scale-out"))
    try:
        yield pool
    finally:
        pool.close()


def fresh_deals(sandbox: Sandbox, count: int) -> list[str]:
    """Closed-won deals of this test's own, provisioned without a person."""
    added = httpx.post(
        f"{sandbox.urls['crm']}/__admin/seed/deals", json={"count": count}, timeout=10
    )
    added.raise_for_status()
    return [str(deal) for deal in added.json()["opportunities"]]


async def running(
    handles: list[WorkflowHandle[Any, Any]], activity_type: str, within: float = 30
) -> str:
    """The identity of a worker running (not queued) `activity_type` in one of the runs."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for handle in handles:
            with contextlib.suppress(RPCError):  # a child not started yet
                pending = (await handle.describe()).raw_description.pending_activities
                for activity in pending:
                    if activity.state == STARTED and activity.activity_type.name == activity_type:
                        return activity.last_worker_identity
        await asyncio.sleep(0.05)
    raise AssertionError("no activity of these runs started")


async def identities(handles: list[WorkflowHandle[Any, Any]]) -> Counter[tuple[str, int]]:
    """(worker identity, attempt) of every activity the runs' histories record as started."""
    found: Counter[tuple[str, int]] = Counter()
    for handle in handles:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                started = event.activity_task_started_event_attributes
                found[(started.identity, started.attempt)] += 1
    return found


async def timed_out_tasks(handles: list[WorkflowHandle[Any, Any]]) -> int:
    """Workflow tasks that timed out (on a stopped worker's sticky queue) and went elsewhere."""
    count = 0
    for handle in handles:
        async for event in handle.fetch_history_events():
            count += event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT
    return count


async def terminate(handles: list[WorkflowHandle[Any, Any]]) -> None:
    for handle in handles:
        with contextlib.suppress(RPCError):  # ended already, or never started
            await handle.terminate("scale-out test finished")


async def test_a_month_end_across_two_workers_finishes_after_one_is_killed_billing_each_once(
    client: Client, sandbox: Sandbox, systems: Systems, workers: Workers
) -> None:
    began = time.monotonic()
    seed_volume(sandbox, VOLUME)
    projects = volume_projects(VOLUME)
    children: list[WorkflowHandle[Any, Any]] = [
        client.get_workflow_handle(time_to_bill_id(p.psa_id, VOLUME.period)) for p in projects
    ]
    runs = [client.get_workflow_handle(month_end_id(VOLUME.period)), *children]
    await workers.at_least(2)
    # Every page posts slowly, so the kill lands with postings in flight.
    sandbox.fault("erp", path="*/upsertList", status=None, latency_ms=1500, down_for_seconds=90)
    try:
        month_end = await client.start_workflow(
            MonthEnd.run,
            MonthEndInput(period=VOLUME.period),
            id=month_end_id(VOLUME.period),
            task_queue=workers.queue,
        )
        victim = workers.owner(await running(children, POST_PAGE))
        workers.kill(victim)
        killed_at = time.monotonic()
        (survivor,) = workers.live
        totals = await asyncio.wait_for(month_end.result(), 120)
        finished = time.monotonic()
        started = await identities([month_end, *children])
    finally:
        sandbox.clear_faults()
        await terminate(runs)  # the children wait for finance, not this test's business

    assert totals.failed == [] and totals.projects == len(projects)
    assert totals.drafted + totals.nothing_to_invoice == len(projects)
    valid = [e for e in volume_entries(VOLUME) if e.status == "approved" and e.invalid is None]
    assert totals.posted == len(valid)
    posted: Counter[str] = Counter()
    invoiced: dict[str, Decimal] = {}
    drafted = 0
    for number, project in enumerate(projects, 1):
        month = expected(VOLUME, number)
        posted.update(await posted_entry_ids(systems, month, VOLUME.period))
        invoices = await systems.erp.invoices_for_project(project.erp_job_id)
        live = [
            i for i in invoices if i.period == VOLUME.period and i.status != InvoiceStatus.VOIDED
        ]
        assert [i.total for i in live] in ([], [month.invoice_total]), (project.psa_id, live)
        drafted += len(live)
        for invoice in live:
            invoiced[invoice.currency] = invoiced.get(invoice.currency, Decimal(0)) + invoice.total
    assert posted == Counter(e.id for e in valid), "every valid entry posted exactly once"
    assert drafted == totals.drafted and invoiced == totals.invoiced
    # Both workers ran activities; what the killed one held was run again by the other.
    workers_seen = {identity for identity, _ in started}
    assert any(victim.owns(i) for i in workers_seen), started
    assert any(survivor.owns(i) for i in workers_seen), started
    retried = {identity for identity, attempt in started if attempt > 1}
    assert retried and all(survivor.owns(i) for i in retried), started
    print(
        f"\nscale-out month-end: {len(projects)} projects, {len(valid)} entries posted, "
        f"{drafted} drafted; worker killed after {killed_at - began:.1f} s, run done "
        f"{finished - killed_at:.1f} s later; activities by worker "
        f"{Counter('killed' if victim.owns(i) else 'survivor' for i, _ in started.elements())}; "
        f"{time.monotonic() - began:.1f} s in all"
    )


async def ready(url: str, process: Process, within: float = 60) -> None:
    """Wait until the ingress answers GET /readyz with 200 (Temporal and the store answer)."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        while True:
            assert process.popen.poll() is None, process.text()
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/readyz")).status_code == 200:
                    return
            assert time.monotonic() < deadline, process.text()
            await asyncio.sleep(0.1)


async def test_a_webhook_taken_by_one_ingress_process_is_refused_as_a_replay_by_the_other(
    client: Client,
    sandbox: Sandbox,
    systems: Systems,
    workers: Workers,
    store_url: str,
    tmp_path: Path,
) -> None:
    began = time.monotonic()
    await workers.at_least(2)
    secrets = {f"PSFLOW_INGRESS_{s}_SECRET": SECRET for s in ("CRM", "HCM", "PSA")}
    env = {**workers.env, **secrets}
    ports = [free_port(), free_port()]
    ingresses = [
        Process(
            [str(BIN / "psflow"), "ingress", "--port", str(port)], env, tmp_path / f"{port}.log"
        )
        for port in ports
    ]
    first, second = (f"http://127.0.0.1:{port}" for port in ports)
    (deal,) = fresh_deals(sandbox, 1)
    request = signed(closed_won(deal))
    try:
        await asyncio.gather(ready(first, ingresses[0]), ready(second, ingresses[1]))
        async with httpx.AsyncClient(timeout=30) as http:
            taken = await http.post(f"{first}/events/crm", **request)
            replayed = await http.post(f"{second}/events/crm", **request)
            again = await http.post(f"{first}/events/crm", **request)
        saga = client.get_workflow_handle_for(OpportunityToProject.run, workflow_id(deal))
        result = await asyncio.wait_for(saga.result(), 60)
    finally:
        for process in ingresses:
            process.popen.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(10)
            process.kill()

    assert taken.status_code == 202, taken.text
    assert taken.json()["workflow_id"] == workflow_id(deal)
    assert (replayed.status_code, replayed.json()) == (409, REPLAY)
    assert (again.status_code, again.json()) == (409, REPLAY)
    engine = open_engine(store_url)
    try:
        assert seen_signatures(engine) == 1, "the one signature, recorded in the shared store"
    finally:
        engine.dispose()
    assert result.outcome == "completed"
    projects = await systems.psa.list_projects(external_id=project_external_id(deal))
    assert [p.id for p in projects] == [result.psa_project_id]
    print(
        f"\nscale-out ingress: 1 event taken, 2 replays refused (409) by either process; "
        f"{time.monotonic() - began:.1f} s"
    )


async def worker_running_a_create(
    handles: list[WorkflowHandle[Any, Any]], worker: Process, within: float = 5
) -> bool:
    """Wait (up to `within`) until `worker` runs a saga's PSA project create."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for handle in handles:
            description = await handle.describe()
            for activity in description.raw_description.pending_activities:
                if (
                    activity.state == STARTED
                    and activity.activity_type.name == CREATE
                    and worker.owns(activity.last_worker_identity)
                ):
                    return True
        await asyncio.sleep(0.05)
    return False


async def test_a_rolling_restart_of_both_workers_under_load_loses_nothing(
    client: Client, settings: Settings, sandbox: Sandbox, systems: Systems, workers: Workers
) -> None:
    began = time.monotonic()
    first, second = (await workers.at_least(2))[:2]
    used = settings.model_copy(deep=True)
    used.temporal.task_queue = workers.queue
    deals = fresh_deals(sandbox, 6)
    # The PSA answers each project create slowly, so the stops meet activities in flight.
    sandbox.fault("psa", path="/api/v1/projects", method="POST", status=None, latency_ms=300,
                  down_for_seconds=120)  # fmt: skip
    handles: list[WorkflowHandle[OpportunityToProject, Any]] = []
    stops: list[tuple[bool, int, int, int]] = []
    try:
        for wave, worker in ((deals[:3], first), (deals[3:], second)):
            handles += [await start(client, used, deal) for deal in wave]
            busy = await worker_running_a_create(handles[-3:], worker)
            stops.append((busy, *await workers.stop(worker)))
            await workers.at_least(2)  # its replacement polls before the next one stops
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 120)
        finished = time.monotonic()
        retried = sum(n for (_, attempt), n in (await identities(handles)).items() if attempt > 1)
        timed_out = await timed_out_tasks(handles)
    finally:
        sandbox.clear_faults()

    assert sum(in_flight for _, in_flight, _, _ in stops) >= 1, f"no stop met work: {stops}"
    # Each activity running at a stop finished within the grace period or was handed back.
    assert all(finished + back >= in_flight for _, in_flight, finished, back in stops), stops
    for deal, result in zip(deals, results, strict=True):
        assert result.outcome == "completed", (deal, result)
        eid = project_external_id(deal)
        assert [p.id for p in await systems.psa.list_projects(external_id=eid)] == [
            result.psa_project_id
        ]
        erp_project = await systems.erp.get_project(eid)
        assert erp_project is not None and erp_project.id == result.erp_project_id
    print(
        f"\nscale-out rolling restart: {len(deals)} sagas completed; per stop (running a "
        f"create, in flight, finished while stopping, handed back): {stops}; activities "
        f"retried {retried}, workflow tasks timed out {timed_out}; {finished - began:.1f} s"
    )
