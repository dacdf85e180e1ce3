"""Replay safety: today's workflow code replays every recorded history (tests/histories/).

Offline: no server, no sandbox. A failure names the history; a change that alters a
workflow's command sequence needs `workflow.patched` (README, "Changing workflows safely").
"""

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from activities.policy import PolicyActivities
from models.opportunity_to_project import OpportunityToProjectInput, OpportunityToProjectResult
from worker import sandbox_runner
from workflows.calls import read
from workflows.catalog import ALL_WORKFLOWS
from workflows.opportunity_to_project import OpportunityToProject

HISTORIES = Path(__file__).parent / "histories"
FILES = sorted(HISTORIES.glob("*.json"))
RECORD = ".venv/bin/python -m tests.histories.record"


def load(path: Path) -> WorkflowHistory:
    """A recorded history, with the workflow id its first event carries."""
    data = json.loads(path.read_text())
    started = data["events"][0]["workflowExecutionStartedEventAttributes"]
    return WorkflowHistory.from_json(started.get("workflowId", path.stem), data)


def workflow_type(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


def defined_name(cls: type) -> str:
    """The workflow type name a @workflow.defn class registers."""
    return workflow._Definition.must_from_class(cls).name


@pytest.fixture(scope="module")
def replayer() -> Replayer:
    return Replayer(
        workflows=ALL_WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=sandbox_runner(),
    )


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
async def test_todays_code_replays_the_recorded_history(replayer: Replayer, path: Path) -> None:
    history = load(path)
    assert path.name.startswith(f"{workflow_type(history)}-"), "name it <workflow>-<scenario>"
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, (
        f"{path.name} no longer replays: put the change behind workflow.patched "
        f"(README, 'Changing workflows safely'): {result.replay_failure}"
    )


def test_every_workflow_has_a_recorded_history() -> None:
    recorded = {workflow_type(load(path)) for path in FILES}
    missing = [name for name in map(defined_name, ALL_WORKFLOWS) if name not in recorded]
    assert not missing, (
        f"no history in tests/histories/ for {', '.join(missing)}: add a @scenario to "
        f"tests/histories/record.py and run `{RECORD} <its file names>`"
    )


@workflow.defn(name="opportunity-to-project", sandboxed=False)
class NewFirstStep(OpportunityToProject):
    """opportunity-to-project with a new first step (one more activity), not patched."""

    @workflow.run
    async def run(self, input: OpportunityToProjectInput) -> OpportunityToProjectResult:
        await read(PolicyActivities.deal_policy)
        return await super().run(input)


@workflow.defn(name="opportunity-to-project", sandboxed=False)
class NewFirstStepPatched(OpportunityToProject):
    """The same new step behind `workflow.patched`: runs that started before it skip it."""

    @workflow.run
    async def run(self, input: OpportunityToProjectInput) -> OpportunityToProjectResult:
        if workflow.patched("read-policy-first"):
            await read(PolicyActivities.deal_policy)
        return await super().run(input)


async def replay_with(cls: type, name: str) -> Exception | None:
    changed = Replayer(
        workflows=[cls], data_converter=pydantic_data_converter, workflow_runner=sandbox_runner()
    )
    result = await changed.replay_workflow(load(HISTORIES / name), raise_on_replay_failure=False)
    return result.replay_failure


async def test_an_unpatched_change_to_the_command_sequence_fails_replay() -> None:
    failure = await replay_with(NewFirstStep, "opportunity-to-project-happy-path.json")
    assert isinstance(failure, workflow.NondeterminismError), failure


async def test_the_same_change_behind_patched_replays() -> None:
    for name in ("opportunity-to-project-happy-path.json", "opportunity-to-project-approval.json"):
        assert await replay_with(NewFirstStepPatched, name) is None
