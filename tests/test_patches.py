"""`workflows.patches.patched`: a new run records the release's patches as one marker, and runs
recorded before it (no patches yet, or one marker per patch) replay through the same code."""

import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker

from cli.history_text import first
from cli.history_workflow import CHANGE_VERSION, PATCH_DATA, PATCH_MARKER
from tests.test_replay import HISTORIES, load
from workflows.patches import BASELINE, IN_BASELINE, patched

NAME = "patch-baseline-test"
LATER = "a-later-change"  # a patch of a later release: asked by its own id


async def _taken(changes: list[bool]) -> list[bool]:
    """A timer for each change taken, so that replay fails if a run takes another branch."""
    for taken in changes:
        if taken:
            await workflow.sleep(timedelta(milliseconds=1))
    return changes


@workflow.defn(name=NAME, sandboxed=False)
class BeforeTheChanges:
    @workflow.run
    async def run(self) -> list[bool]:
        return await _taken([])


@workflow.defn(name=NAME, sandboxed=False)
class PatchedOneByOne:
    """As runs that started before the baseline recorded their patches."""

    @workflow.run
    async def run(self) -> list[bool]:
        return await _taken([workflow.patched("lean-billing"), workflow.patched("dead-letters")])


@workflow.defn(name=NAME, sandboxed=False)
class Baseline:
    @workflow.run
    async def run(self) -> list[bool]:
        return await _taken([patched("lean-billing"), patched("dead-letters")])


@workflow.defn(name=NAME, sandboxed=False)
class BaselineAndLater:
    @workflow.run
    async def run(self) -> list[bool]:
        return await _taken([patched("lean-billing"), patched("dead-letters"), patched(LATER)])


async def _run(client: Client, cls: type) -> tuple[list[bool], WorkflowHistory]:
    queue = f"patches-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=queue, workflows=[cls], workflow_runner=UnsandboxedWorkflowRunner()
    ):
        handle = await client.start_workflow(NAME, id=queue, task_queue=queue)
        result: list[bool] = await handle.result()
        return result, await handle.fetch_history()


def _patch_markers(history: WorkflowHistory) -> list[str]:
    return [
        first(e.marker_recorded_event_attributes.details[PATCH_DATA])["id"]
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == PATCH_MARKER
    ]


def _change_version_upserts(history: WorkflowHistory) -> int:
    fields = [
        e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
    ]
    return sum(CHANGE_VERSION in f for f in fields)


async def test_a_new_run_records_the_baseline_once_and_later_patches_by_name(
    client: Client,
) -> None:
    assert {"lean-billing", "dead-letters"} <= IN_BASELINE and LATER not in IN_BASELINE
    result, history = await _run(client, Baseline)
    assert result == [True, True]
    assert _patch_markers(history) == [BASELINE]
    assert _change_version_upserts(history) == 1

    result, history = await _run(client, BaselineAndLater)
    assert result == [True, True, True]
    assert _patch_markers(history) == [BASELINE, LATER]


async def test_runs_recorded_before_replay_as_they_ran(client: Client) -> None:
    recorded = {cls.__name__: await _run(client, cls) for cls in (BeforeTheChanges,
                PatchedOneByOne, Baseline)}  # fmt: skip
    assert recorded["BeforeTheChanges"][0] == []
    assert _patch_markers(recorded["PatchedOneByOne"][1]) == ["lean-billing", "dead-letters"]
    replayer = Replayer(workflows=[BaselineAndLater], workflow_runner=UnsandboxedWorkflowRunner())
    for name, (_, history) in recorded.items():
        replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert replayed.replay_failure is None, f"{name}: {replayed.replay_failure}"


@workflow.defn(name=NAME, sandboxed=False)
class Unguarded:
    """Takes both changes without asking: what a missing or wrong patch check does."""

    @workflow.run
    async def run(self) -> list[bool]:
        return await _taken([True, True])


async def test_the_replay_check_sees_a_change_taken_where_the_run_did_not(client: Client) -> None:
    _, history = await _run(client, BeforeTheChanges)
    replayer = Replayer(workflows=[Unguarded], workflow_runner=UnsandboxedWorkflowRunner())
    replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert isinstance(replayed.replay_failure, workflow.NondeterminismError)


def test_the_recorded_runs_of_todays_code_carry_the_baseline_alone() -> None:
    for name in ("time-to-bill-released", "opportunity-to-project-happy-path"):
        assert _patch_markers(load(HISTORIES / f"{name}.json")) == [BASELINE], name
        before = _patch_markers(load(HISTORIES / f"{name}-markers-per-patch.json"))
        assert len(before) > 1 and BASELINE not in before, name
