"""`psflow list`: workflows by business terms, with their state from the status query and
what Temporal is retrying (from `describe()`: its list does not index pending activities)."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from application import runs
from application.retrying import attach, retrying_of
from application.temporal import NoWorker, connect, fetch_status, require_worker, rpc_problem
from cli.options import JsonOption, duration_option
from cli.output import CliError, console, print_json, span
from cli.render import list_table, retried_step
from cli.state import run, settings_of
from config import Settings
from models.retrying import Retrying
from models.status import RunState, WaitingFor, WaitKind, WorkflowStatus, current_step
from workflows import search_attributes as sa

app = typer.Typer()

Row = tuple[WorkflowStatus, str | None]
QUERY_CONCURRENCY = 8
QUERY_TIMEOUT = timedelta(seconds=5)
STALLED_AFTER = timedelta(minutes=10)
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
        customer=next((attrs.get(key) for key in sa.SUBJECTS if attrs.get(key)), None),
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
    stalled_for: timedelta | None = None,
) -> list[Row]:
    """List, then ask each workflow for its status (falling back to Temporal's record) and
    describe each running one for what Temporal is retrying, QUERY_CONCURRENCY at a time.

    `stalled_for`: only running ones retrying at least that long, longest first."""
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
    now = datetime.now(UTC)

    async def queried(execution: WorkflowExecution) -> Row:
        if not answering[execution.task_queue]:
            return from_execution(execution)
        try:
            status = await fetch_status(client, settings, execution.id, QUERY_TIMEOUT)
        except NoWorker:
            answering[execution.task_queue] = False  # stop waiting on the others
            return from_execution(execution)
        except CliError:
            return from_execution(execution)
        return status, current_step(status)

    async def row(execution: WorkflowExecution) -> Row | None:
        async with gate:
            if stalled_for is None:
                retrying, (status, step) = await asyncio.gather(
                    retried(client, execution), queried(execution)
                )
            else:  # only the stalled ones are asked for their status
                retrying = await retried(client, execution)
                if retrying is None or retrying.retrying_for(now) < stalled_for:
                    return None
                status, step = await queried(execution)
        return attach(status, retrying), step

    rows = [r for r in await asyncio.gather(*(row(e) for e in executions)) if r is not None]
    if stalled_for is not None:
        rows.sort(key=lambda r: _retrying_since(r[0]) or now)
    if waiting:
        rows = [r for r in rows if r[0].waiting_for is not None]
        rows.sort(key=lambda r: r[0].waiting_for.since if r[0].waiting_for else datetime.now(UTC))
    return rows


async def retried(client: Client, execution: WorkflowExecution) -> Retrying | None:
    """What Temporal is retrying in a running workflow, if anything."""
    if execution.status != WorkflowExecutionStatus.RUNNING:
        return None
    try:
        description = await client.get_workflow_handle(execution.id).describe()
    except RPCError:  # closed and gone meanwhile, or the server is busy: no marker
        return None
    return await retrying_of(client, description)


def _retrying_since(status: WorkflowStatus) -> datetime | None:
    step = retried_step(status)
    return step.retrying.since if step and step.retrying else None


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
    stalled: Annotated[
        bool,
        typer.Option(
            "--stalled",
            help="Only running ones whose step Temporal has been retrying for at least "
            "--for, longest first. Temporal's list does not index retries: every running "
            f"workflow is described, {QUERY_CONCURRENCY} at a time.",
        ),
    ] = False,
    stalled_for: Annotated[
        str | None,
        typer.Option(
            "--for",
            metavar="DURATION",
            help=f"With --stalled: retrying at least this long, e.g. 30s, 10m, 2h "
            f"(default {span(STALLED_AFTER.total_seconds())}).",
            show_default=False,
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """List psflow workflows with their state, step and what they wait for: a person, or a
    system whose step Temporal is retrying.

    Example: psflow list --waiting --workflow opportunity-to-project
    Example: psflow list --stalled --for 30m
    """
    if stalled_for is not None and not stalled:
        raise typer.BadParameter("--for goes with --stalled", param_hint="--for")
    if stalled and include_closed:
        raise typer.BadParameter("--stalled lists running workflows only", param_hint="--all")
    threshold = None
    if stalled:
        threshold = duration_option(stalled_for, "--for") if stalled_for else STALLED_AFTER
    settings = settings_of(ctx)
    rows = run(_list(settings, workflow, waiting, include_closed, limit, threshold))
    if json:
        print_json([status.model_dump(mode="json") for status, _ in rows])
    elif rows:
        console.print(list_table(rows, console.width))
    elif threshold is not None:
        longer = span(threshold.total_seconds())
        console.print(f"no running workflow has had a step retrying for {longer}", style="dim")
    else:
        console.print("no workflows match", style="dim")


async def _list(
    settings: Settings,
    workflow: str | None,
    waiting: bool,
    include_closed: bool,
    limit: int,
    stalled_for: timedelta | None = None,
) -> list[Row]:
    types = [runs.kind_named(workflow).name] if workflow else sorted(runs.workflow_types())
    client = await connect(settings)
    return await collect(
        client,
        settings,
        types=types,
        waiting=waiting,
        include_closed=include_closed,
        limit=limit,
        stalled_for=stalled_for,
    )
