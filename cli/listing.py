"""`psflow list`: workflows by business terms, with their state from the status query."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from cli import actions
from cli.client import NoWorker, connect, fetch_status, require_worker, rpc_problem
from cli.options import JsonOption
from cli.output import CliError, console, print_json
from cli.render import current_step, list_table
from cli.state import run, settings_of
from config import Settings
from models.status import RunState, WaitingFor, WaitKind, WorkflowStatus
from workflows import search_attributes as sa

app = typer.Typer()

Row = tuple[WorkflowStatus, str | None]
QUERY_CONCURRENCY = 8
QUERY_TIMEOUT = timedelta(seconds=5)
CLOSED_STATES = {
    WorkflowExecutionStatus.COMPLETED: RunState.COMPLETED,
    WorkflowExecutionStatus.CANCELED: RunState.CANCELLED,
    WorkflowExecutionStatus.FAILED: RunState.FAILED,
    WorkflowExecutionStatus.TERMINATED: RunState.FAILED,
    WorkflowExecutionStatus.TIMED_OUT: RunState.FAILED,
}


def visibility_query(types: list[str], *, waiting: bool, include_closed: bool) -> str:
    """The Temporal list filter for these options."""
    clauses = ["WorkflowType IN (" + ", ".join(f"'{t}'" for t in types) + ")"]
    if not include_closed:
        clauses.append("ExecutionStatus = 'Running'")
    if waiting:
        clauses.append(f"{sa.WAITING_FOR.name} IN ('approval', 'correction')")
    return " AND ".join(clauses)


def from_execution(execution: WorkflowExecution) -> Row:
    """What Temporal's own record says, for workflows that cannot answer a query."""
    attrs = execution.typed_search_attributes
    waiting_kind = attrs.get(sa.WAITING_FOR)
    since = attrs.get(sa.WAITING_SINCE)
    running = execution.status == WorkflowExecutionStatus.RUNNING
    waiting = None
    if running and waiting_kind in ("approval", "correction") and since is not None:
        waiting = WaitingFor(kind=WaitKind(waiting_kind), since=since)
    if running:
        state = RunState.WAITING if waiting else RunState.RUNNING
    else:
        state = CLOSED_STATES.get(execution.status, RunState.FAILED)  # type: ignore[arg-type]
    error = None
    if execution.status in (WorkflowExecutionStatus.TERMINATED, WorkflowExecutionStatus.TIMED_OUT):
        error = f"{execution.status.name.lower().replace('_', ' ')} in Temporal"
    status = WorkflowStatus(
        workflow_id=execution.id,
        workflow=execution.workflow_type,
        state=state,
        business_key=execution.id.partition("/")[2] or execution.id,
        customer=attrs.get(sa.CUSTOMER),
        steps=[],
        waiting_for=waiting,
        error=error,
    )
    return status, attrs.get(sa.STEP)


async def collect(
    client: Client,
    settings: Settings,
    *,
    types: list[str],
    waiting: bool = False,
    include_closed: bool = False,
    limit: int = 200,
) -> list[Row]:
    """List, then ask each workflow for its status (falling back to Temporal's record)."""
    query = visibility_query(types, waiting=waiting, include_closed=include_closed)
    try:
        executions = [
            e
            async for e in client.list_workflows(query, limit=limit)
            if e.status != WorkflowExecutionStatus.CONTINUED_AS_NEW
        ]
    except RPCError as exc:
        if exc.status == RPCStatusCode.INVALID_ARGUMENT:
            raise CliError(
                f"Temporal cannot filter by psflow's search attributes ({exc.message}): "
                "run Temporal with `psflow dev`, which registers them"
            ) from None
        raise rpc_problem(exc, settings) from None
    answering: dict[str, bool] = {}  # task queue -> a worker polls it
    for queue in {e.task_queue for e in executions}:
        try:
            await require_worker(client, settings, queue)
            answering[queue] = True
        except NoWorker:
            answering[queue] = False
    gate = asyncio.Semaphore(QUERY_CONCURRENCY)

    async def row(execution: WorkflowExecution) -> Row:
        if not answering[execution.task_queue]:
            return from_execution(execution)
        async with gate:
            try:
                status = await fetch_status(client, settings, execution.id, QUERY_TIMEOUT)
            except NoWorker:
                answering[execution.task_queue] = False  # stop waiting on the others
                return from_execution(execution)
            except CliError:
                return from_execution(execution)
        return status, current_step(status)

    rows = list(await asyncio.gather(*(row(e) for e in executions)))
    if waiting:
        rows = [r for r in rows if r[0].waiting_for is not None]
        rows.sort(key=lambda r: r[0].waiting_for.since if r[0].waiting_for else datetime.now(UTC))
    return rows


@app.command("list")
def list_(
    ctx: typer.Context,
    waiting: Annotated[
        bool, typer.Option("--waiting", help="Only those waiting for a person, oldest first.")
    ] = False,
    workflow: Annotated[
        str | None,
        typer.Option(
            "--workflow", metavar="TYPE", help="Only this type, e.g. opportunity-to-project."
        ),
    ] = None,
    include_closed: Annotated[
        bool, typer.Option("--all", help="Include completed, failed and cancelled ones.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many workflows.")] = 200,
    json: JsonOption = False,
) -> None:
    """List psflow workflows with their state, step and what they wait for.

    Example: psflow list --waiting --workflow opportunity-to-project
    """
    settings = settings_of(ctx)
    rows = run(_list(settings, workflow, waiting, include_closed, limit))
    if json:
        print_json([status.model_dump(mode="json") for status, _ in rows])
    elif rows:
        console.print(list_table(rows, console.width))
    else:
        console.print("no workflows match", style="dim")


async def _list(
    settings: Settings, workflow: str | None, waiting: bool, include_closed: bool, limit: int
) -> list[Row]:
    types = [actions.kind_named(workflow).name] if workflow else sorted(actions.workflow_types())
    client = await connect(settings)
    return await collect(
        client, settings, types=types, waiting=waiting, include_closed=include_closed, limit=limit
    )
