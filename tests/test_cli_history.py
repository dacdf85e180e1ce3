"""`psflow history`: a real run's event history read back as a table and as JSON."""

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import (
    Payload,
    Payloads,
    SearchAttributes,
    WorkflowExecution,
    WorkflowType,
)
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import (
    ChildWorkflowExecutionCompletedEventAttributes,
    ChildWorkflowExecutionStartedEventAttributes,
    HistoryEvent,
    MarkerRecordedEventAttributes,
    TimerFiredEventAttributes,
    TimerStartedEventAttributes,
    UpsertWorkflowSearchAttributesEventAttributes,
    WorkflowExecutionContinuedAsNewEventAttributes,
    WorkflowExecutionSignaledEventAttributes,
    WorkflowExecutionStartedEventAttributes,
)
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner, Result

from application.temporal import ui_link
from cli.history import RunHistory, history_view
from cli.history_digest import digest
from cli.main import app
from cli.output import console
from config import Settings, load_settings
from models.opportunity_to_project import (
    OpportunityToProjectInput,
    OpportunityToProjectResult,
    workflow_id,
)
from models.people import Rejection
from models.status import WaitKind
from sandbox.crm.seed import DEMO_OPPORTUNITIES, SPARE_CLOSED_WON
from tests.support import Sandbox, env_for, own_sandbox, sign_in
from workflows.opportunity_to_project import OpportunityToProject

runner = CliRunner()
E = EventType
# The last spare closed-won deal: no other test starts it.
COMPENSATED_DEAL = SPARE_CLOSED_WON[7]
Handle = WorkflowHandle[OpportunityToProject, OpportunityToProjectResult]


@pytest.fixture(scope="module")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory, temporal_env: WorkflowEnvironment
) -> Iterator[Sandbox]:
    """Sandbox systems and store of this module's own (on the session's Temporal), so the deal
    approved here leaves nothing behind in the sandbox other modules assert on."""
    with own_sandbox(tmp_path_factory.mktemp("history-estate"), temporal_env) as box:
        yield box


@pytest.fixture(scope="module")
def settings(sandbox: Sandbox) -> Settings:
    return load_settings(sandbox.config)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PSFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def cli_env(sandbox: Sandbox, worker: Settings) -> dict[str, str]:
    """The CLI pointed at this module's estate and the worker's task queue, 200 columns wide."""
    env = env_for(sandbox.config, PSFLOW_TASK_QUEUE=worker.temporal.task_queue, COLUMNS="200")
    sign_in(env, "dana")
    return env


async def psflow(env: dict[str, str], *args: str) -> Result:
    """Run the CLI in a thread (it runs its own event loop), as a user would."""
    return await asyncio.to_thread(lambda: runner.invoke(app, list(args), env=env))


async def history_json(env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    result = await psflow(env, "history", *args, "--json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


async def start(client: Client, settings: Settings, opportunity_id: str) -> Handle:
    return await client.start_workflow(
        OpportunityToProject.run,
        OpportunityToProjectInput(opportunity_id=opportunity_id, requested_by="sam"),
        id=workflow_id(opportunity_id),
        task_queue=settings.temporal.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


@pytest.fixture
async def approved(client: Client, worker: Settings, cli_env: dict[str, str]) -> AsyncIterator[str]:
    """The large USD deal, approved through the CLI by dana, run to completion."""
    handle = await start(client, worker, DEMO_OPPORTUNITIES["large_usd"])
    try:
        for _ in range(150):
            status = await handle.query(OpportunityToProject.status)
            if status.waiting_for and status.waiting_for.kind == WaitKind.APPROVAL:
                break
            await asyncio.sleep(0.2)
        result = await psflow(
            cli_env, "approve", handle.id, "--as", "dana", "--comment", "within deal desk policy"
        )
        assert result.exit_code == 0, result.output
        assert (await handle.result()).outcome == "completed"
        yield handle.id
    finally:  # never leave a run waiting on this test's task queue for other modules to find
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate(reason="test cleanup")


async def test_history_names_the_activities_the_approver_and_the_completion(
    approved: str, cli_env: dict[str, str], settings: Settings, client: Client
) -> None:
    result = await psflow(cli_env, "history", approved)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in (
        "workflow started",
        "sam",  # who started it
        "step",
        "deal-desk approval",
        "erp.upsert_customer",
        "erp.upsert_project",
        "psa.create_project",
        "crm.update_opportunity",
        "attempt 1",
        "update accepted",
        "approve: within deal desk policy",
        "dana",
        "timer cancelled",  # the approval deadline, no longer needed
        "workflow completed",
        "outcome=completed",
        "not shown (--all-events shows them):",
        "workflow-task events",
    ):
        assert text in out, text
    assert "timer fired" not in out and "escalat" not in out  # approved before the deadline
    assert "workflow task started" not in out
    assert f"UI: {ui_link(settings, approved)}/" in out

    rows = await history_json(cli_env, approved)
    assert rows[0]["event"] == "workflow started" and rows[0]["user"] == "sam"
    assert rows[-1]["event"] == "workflow completed"
    updates = [(r["event"], r["name"], r["user"]) for r in rows if r["event"].startswith("update")]
    assert updates == [
        ("update accepted", "approve", "dana"),
        ("update completed", "approve", "dana"),
    ]
    done = {r["name"]: r["attempt"] for r in rows if r["event"] == "activity completed"}
    assert done["erp.upsert_project"] == 1 and "psa.open_staffing_requests" in done
    audited = [r["detail"] for r in rows if r["event"] == "local activity"]
    assert audited and all(d.startswith("store.record_audit") for d in audited), audited
    steps = [r["name"] for r in rows if r["event"] == "step"]
    assert steps[:3] == ["read opportunity", "validate deal", "deal-desk approval"]
    timers = [r["event"] for r in rows if r["event"].startswith("timer")]
    assert timers == ["timer started", "timer cancelled"]
    assert not any(r["event"].startswith("compensation") for r in rows)
    assert not any(r["event_type"].startswith("WORKFLOW_TASK") for r in rows)

    # --all-events: one row per event; --run: the same run by its id
    handle = client.get_workflow_handle(approved)
    events = (await handle.fetch_history()).events
    every = await history_json(cli_env, approved, "--all-events")
    assert [r["event_id"] for r in every] == [e.event_id for e in events]
    run_id = (await handle.describe()).run_id
    assert await history_json(cli_env, approved, "--run", run_id) == rows


async def test_history_of_a_compensated_run_shows_the_failure_and_each_undo(
    client: Client, worker: Settings, sandbox: Sandbox, cli_env: dict[str, str]
) -> None:
    # The PSA refuses for good (a 400 is never retried), then is back for the compensations.
    sandbox.fault("psa", path="/api/v1/projects", method="POST", status=400, count=1)
    handle = await start(client, worker, COMPENSATED_DEAL)
    with pytest.raises(WorkflowFailureError):
        await handle.result()

    rows = await history_json(cli_env, handle.id)
    failed = [r for r in rows if r["event"] == "activity failed"]
    assert [(r["name"], r["attempt"]) for r in failed] == [("psa.create_project", 1)]
    assert "400" in failed[0]["detail"]
    undone = [r["name"] for r in rows if r["event"] == "compensation completed"]
    assert "erp.remove_project" in undone and undone[-1] == "erp.remove_customer"
    after = rows[rows.index(failed[0]) + 1 :]
    # After the failure: undos only, and then the dead letter psflow keeps of the run.
    bookkeeping = {r["name"] for r in after if r["event"].startswith("activity")}
    assert bookkeeping == {"store.record_dead_letter"}
    assert rows[-1]["event"] == "workflow failed" and rows[-1]["name"] == "SagaFailed"
    assert "400" in rows[-1]["detail"]

    table = await psflow(cli_env, "history", handle.id)
    assert table.exit_code == 0, table.output
    for text in ("activity failed", "compensation completed", "erp.remove_project", "SagaFailed"):
        assert text in table.stdout, text


async def test_unknown_workflow_or_run_is_one_line_and_exit_1(cli_env: dict[str, str]) -> None:
    missing = f"opportunity-to-project/{uuid.uuid4()}"
    result = await psflow(cli_env, "history", missing)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip() == f"error: no workflow {missing}: check the id with `psflow list`"

    run = str(uuid.uuid4())
    result = await psflow(cli_env, "history", missing, "--run", run)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: no run {run} of workflow {missing}: "
        f"`psflow history {missing}` shows the latest run"
    ]


# ---- events no live run above produces, read from hand-made histories --------------------------


def event(
    event_id: int, kind: EventType.ValueType, at: datetime, **attributes: Any
) -> HistoryEvent:
    time = Timestamp()
    time.FromDatetime(at)
    return HistoryEvent(event_id=event_id, event_type=kind, event_time=time, **attributes)


def payload(value: Any) -> Payload:
    return pydantic_data_converter.payload_converter.to_payload(value)


def payloads(*values: Any) -> Payloads:
    return Payloads(payloads=pydantic_data_converter.payload_converter.to_payloads(list(values)))


def test_signals_timers_children_and_continue_as_new_read_in_words() -> None:
    at = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    child = WorkflowExecution(workflow_id="time-to-bill/PRJ-1/2026-10", run_id="r2")
    child_type = WorkflowType(name="time-to-bill")
    events = [
        event(
            1,
            E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
            at,
            workflow_execution_started_event_attributes=WorkflowExecutionStartedEventAttributes(
                workflow_type=WorkflowType(name="month-end"),
                input=payloads({"period": "2026-10"}),
                continued_execution_run_id="earlier-run",
            ),
        ),
        event(
            2,
            E.EVENT_TYPE_TIMER_STARTED,
            at,
            timer_started_event_attributes=TimerStartedEventAttributes(
                timer_id="1", start_to_fire_timeout=Duration(seconds=90)
            ),
        ),
        event(
            3,
            E.EVENT_TYPE_TIMER_FIRED,
            at + timedelta(seconds=90),
            timer_fired_event_attributes=TimerFiredEventAttributes(
                timer_id="1", started_event_id=2
            ),
        ),
        event(
            4,
            E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
            at,
            workflow_execution_signaled_event_attributes=WorkflowExecutionSignaledEventAttributes(
                signal_name="reject", input=payloads(Rejection(user="greta", reason="wrong rates"))
            ),
        ),
        event(
            5,
            E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED,
            at,
            child_workflow_execution_started_event_attributes=(
                ChildWorkflowExecutionStartedEventAttributes(
                    workflow_execution=child, workflow_type=child_type
                )
            ),
        ),
        event(
            6,
            E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
            at,
            child_workflow_execution_completed_event_attributes=(
                ChildWorkflowExecutionCompletedEventAttributes(
                    workflow_execution=child,
                    workflow_type=child_type,
                    result=payloads({"outcome": "drafted"}),
                )
            ),
        ),
        event(
            7,
            E.EVENT_TYPE_MARKER_RECORDED,
            at,
            marker_recorded_event_attributes=MarkerRecordedEventAttributes(
                marker_name="core_patch",
                details={"patch-data": payloads({"id": "baseline-forecast", "deprecated": False})},
            ),
        ),
        event(
            8,
            E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
            at,
            upsert_workflow_search_attributes_event_attributes=(
                UpsertWorkflowSearchAttributesEventAttributes(
                    search_attributes=SearchAttributes(
                        indexed_fields={"TemporalChangeVersion": payload(["baseline-forecast"])}
                    )
                )
            ),
        ),
        event(
            9,
            E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
            at,
            workflow_execution_continued_as_new_event_attributes=(
                WorkflowExecutionContinuedAsNewEventAttributes(
                    new_execution_run_id="next-run", input=payloads({"period": "2026-10"})
                )
            ),
        ),
    ]
    read = digest(events)
    said = [(r.event, r.user, r.detail) for r in read.rows]
    assert said == [
        ("workflow started", None, "month-end period=2026-10; continued from run earlier-run"),
        ("timer started", None, "1m 30s, fires at 2026-10-31 23:01 UTC"),
        ("timer fired", None, "1m 30s timer"),
        ("signal received", "greta", "reject: wrong rates"),
        ("child started", None, "time-to-bill/PRJ-1/2026-10 (time-to-bill)"),
        ("child completed", None, "time-to-bill/PRJ-1/2026-10: outcome=drafted"),
        ("patched", None, "baseline-forecast"),
        ("continued as new", None, "new run next-run; input period=2026-10"),
    ]
    assert read.hidden == {"patch version tags": 1}
    found = RunHistory("month-end/2026-10", "this-run", "month-end", "continued as new", read)
    with console.capture() as captured:
        console.print(history_view(found))
    assert "continued from run earlier-run" in captured.get()
