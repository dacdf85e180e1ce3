"""The project-changes lock over weeks, on the time-skipping test server: it continues as new
with its holder and queue, its history per run stays under its bound, and no order it queues
waits for ever."""

import asyncio
import contextlib
import uuid
from datetime import timedelta
from typing import Any, cast

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.change_orders import ChangeOrderActivities
from config import Settings
from models.change_order import ChangeOrderResult, change_order_workflow_id, project_lock_id
from models.change_state import ChangeOrderInput, LockInput
from tests.billing_support import seed_volume
from tests.support import Sandbox, running_worker
from tests.test_change_order import USD_PROJECT, VOLUME, order
from tests.test_history_bounds import approve_after_escalation
from workflows.change_order import ChangeOrderWorkflow
from workflows.project_changes import GRANTED_SIGNAL, HISTORY_BOUND, ProjectChanges

ORDERS = 20
# The change order's bound as the README states it.
ORDER_EVENTS = 250
ORDER_EVENTS_PER_DAY_QUEUED = 25
Handle = WorkflowHandle[ChangeOrderWorkflow, ChangeOrderResult]
LOCK = project_lock_id(USD_PROJECT.psa_id)


async def run_lengths(client: Client, workflow_id: str) -> list[int]:
    """Events in each run of the workflow's latest chain, last run first."""
    lengths: list[int] = []
    run_id: str | None = None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        lengths.append(len(history.events))
        started = history.events[0].workflow_execution_started_event_attributes
        if not started.continued_execution_run_id:
            return lengths
        run_id = started.continued_execution_run_id


async def results_of(handles: list[Handle]) -> list[ChangeOrderResult]:
    """One after the other: the test server skips time only while a result is awaited, and
    stops skipping as soon as any one awaited result arrives."""
    return [await handle.result() for handle in handles]


async def queued_and_events(handle: Handle) -> tuple[float, int]:
    """Days the order waited for the lock, and the events in its history."""
    events = (await handle.fetch_history()).events
    asked = next(
        e.event_time.ToDatetime()
        for e in events
        if e.activity_task_scheduled_event_attributes.activity_type.name == "changes.request_lock"
    )
    granted = next(
        e.event_time.ToDatetime()
        for e in events
        if e.workflow_execution_signaled_event_attributes.signal_name == GRANTED_SIGNAL
    )
    return (granted - asked) / timedelta(days=1), len(events)


async def test_twenty_orders_waiting_out_their_escalation_all_end_and_lock_runs_stay_small(
    skipping_env: WorkflowEnvironment, settings: Settings, sandbox: Sandbox
) -> None:
    seed_volume(sandbox, VOLUME)
    client = skipping_env.client
    levels = settings.change_orders.levels
    full_wait = max(level.deadline + level.escalation_grace for level in levels)
    async with running_worker(client, settings, f"psflow-test-{uuid.uuid4()}") as used:
        handles = [
            await client.start_workflow(
                ChangeOrderWorkflow.run,
                ChangeOrderInput(change_order=co),
                id=change_order_workflow_id(co.id),
                task_queue=used.temporal.task_queue,
            )
            for co in (order(100 + n, "150000") for n in range(ORDERS))
        ]
        results = await asyncio.wait_for(results_of(handles), timeout=600)
        lock_runs = await run_lengths(client, LOCK)
        orders = [await queued_and_events(h) for h in handles]

    assert [r.outcome for r in results] == ["rejected"] * ORDERS
    assert all("no approval within" in (r.reason or "") for r in results)
    assert len(lock_runs) > 1, "20 orders of 72 h each outgrow one run"
    assert max(lock_runs) < HISTORY_BOUND, lock_runs
    # The last in the queue waited 19 escalations (57 days), re-asking every 12 h.
    assert max(days for days, _ in orders) >= (ORDERS - 1) * full_wait / timedelta(days=1)
    for days, events in orders:
        assert events < ORDER_EVENTS + ORDER_EVENTS_PER_DAY_QUEUED * days, (days, events)


async def test_an_order_approved_at_each_level_only_after_escalation_stays_under_its_bound(
    skipping_env: WorkflowEnvironment, settings: Settings, sandbox: Sandbox
) -> None:
    seed_volume(sandbox, VOLUME)
    client = skipping_env.client
    async with running_worker(client, settings, f"psflow-test-{uuid.uuid4()}") as used:
        handle = await client.start_workflow(
            ChangeOrderWorkflow.run,
            ChangeOrderInput(change_order=order(122, "150000")),
            id=change_order_workflow_id(order(122, "150000").id),
            task_queue=used.temporal.task_queue,
        )
        levels = settings.change_orders.levels
        for level, user in zip(levels, ["victor", "fatima", "dana"], strict=True):
            await approve_after_escalation(skipping_env, used, handle, level.deadline, user)
        result = await handle.result()
        status = await handle.query(ChangeOrderWorkflow.status)
        events = len((await handle.fetch_history()).events)
    assert result.outcome == "applied"
    assert [e.kind for e in status.events].count("escalated") == len(levels)
    assert events < ORDER_EVENTS, events


@workflow.defn(name="lock-test-holder", sandboxed=False)
class Holder:
    """Stands in for a change order: counts grants, releases when told to finish."""

    def __init__(self) -> None:
        self.grants = 0
        self.done = False

    @workflow.signal(name=GRANTED_SIGNAL)
    def lock_granted(self, project_id: str) -> None:
        self.grants += 1

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.query
    def granted(self) -> int:
        return self.grants

    @workflow.run
    async def run(self, lock_id: str) -> None:
        await workflow.wait_condition(lambda: self.done)
        me = workflow.info().workflow_id
        await workflow.get_external_workflow_handle(lock_id).signal("release", me)


async def test_a_lock_continued_as_new_while_held_keeps_its_holder_and_queue(
    skipping_env: WorkflowEnvironment,
) -> None:
    client = skipping_env.client
    queue = f"lock-test-{uuid.uuid4()}"
    project = f"PRJ-LOCK-{uuid.uuid4().hex[:8]}"
    lock_id = project_lock_id(project)
    # The lock calls only is_open, which needs no system.
    none = cast(Any, None)
    checks = ChangeOrderActivities(none, none, none, client)
    async with Worker(
        client,
        task_queue=queue,
        workflows=[ProjectChanges, Holder],
        activities=[checks.is_open],
    ):
        first, second = [
            await client.start_workflow(Holder.run, lock_id, id=f"holder-{n}", task_queue=queue)
            for n in (1, 2)
        ]

        async def acquire(holder: str) -> str:
            handle = await client.start_workflow(
                ProjectChanges.run,
                LockInput(project_id=project),
                id=lock_id,
                task_queue=queue,
                start_signal="acquire",
                start_signal_args=[holder],
            )
            return handle.result_run_id or ""

        first_run = await acquire(first.id)
        await acquire(second.id)
        # A raw client's malformed signals are ignored, never a failed workflow task.
        raw = Client(client.service_client, namespace=client.namespace)
        for name, args in (("acquire", []), ("release", [42]), ("acquire", ["a", "b"])):
            await raw.get_workflow_handle(lock_id).signal(name, args=args)
        # Weeks of liveness checks on a holder that never lets go.
        await skipping_env.sleep(timedelta(days=30))
        lock = client.get_workflow_handle_for(ProjectChanges.run, lock_id)
        runs = await run_lengths(client, lock_id)
        state = await lock.query(ProjectChanges.state)
        assert (await lock.describe()).run_id != first_run and len(runs) > 1
        assert max(runs) < HISTORY_BOUND, runs
        assert (state.holder, state.waiting) == (first.id, [second.id])
        assert (await first.query(Holder.granted), await second.query(Holder.granted)) == (1, 0)
        failed = EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
        for run_id in [first_run, None]:
            history = await client.get_workflow_handle(lock_id, run_id=run_id).fetch_history()
            assert not [e for e in history.events if e.event_type == failed]

        # The holder asking again (a grant it thinks lost) is granted again, not queued.
        await acquire(first.id)
        await skipping_env.sleep(timedelta(minutes=1))
        assert await first.query(Holder.granted) == 2
        assert (await lock.query(ProjectChanges.state)).waiting == [second.id]

        await first.signal(Holder.finish)
        await first.result()
        await skipping_env.sleep(timedelta(minutes=1))
        assert await second.query(Holder.granted) == 1
        assert (await lock.query(ProjectChanges.state)).holder == second.id
        await second.signal(Holder.finish)
        await second.result()


async def until_no_task_in_flight(handle: WorkflowHandle[Any, Any]) -> None:
    """The test server never skips time again after a terminate cuts a workflow task short."""
    for _ in range(100):
        kinds = [e.WhichOneof("attributes") async for e in handle.fetch_history_events()]
        scheduled = kinds.count("workflow_task_scheduled_event_attributes")
        if scheduled == kinds.count("workflow_task_completed_event_attributes"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id} kept a workflow task in flight")


async def test_an_order_queued_on_a_lock_that_was_lost_asks_again_and_gets_its_turn(
    skipping_env: WorkflowEnvironment, settings: Settings, sandbox: Sandbox
) -> None:
    seed_volume(sandbox, VOLUME)
    client = skipping_env.client
    async with running_worker(client, settings, f"psflow-test-{uuid.uuid4()}") as used:
        first, second = [
            await client.start_workflow(
                ChangeOrderWorkflow.run,
                ChangeOrderInput(change_order=co),
                id=change_order_workflow_id(co.id),
                task_queue=used.temporal.task_queue,
            )
            for co in (order(120, "10000"), order(121, "10000"))
        ]
        lock = client.get_workflow_handle_for(ProjectChanges.run, LOCK)
        for _ in range(200):
            with contextlib.suppress(RPCError):  # the lock may not have started yet
                state = await lock.query(ProjectChanges.state)
                if state.holder and state.waiting:
                    break
            await asyncio.sleep(0.05)
        assert {state.holder, *state.waiting} == {first.id, second.id}
        await until_no_task_in_flight(lock)
        await lock.terminate("lost, as the server would at its history limit")
        results = await asyncio.wait_for(results_of([first, second]), timeout=120)
    assert [r.outcome for r in results] == ["rejected", "rejected"]
