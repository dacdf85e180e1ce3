"""Lists of runs by business terms, with their state from the status query and what Temporal
is retrying (from `describe()`: its list does not index pending activities). The CLI's `list`
and the inbox read them here."""

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from application import runs
from application.errors import AppError
from application.retrying import attach, retrying_of
from application.temporal import NoWorker, fetch_status, require_worker, rpc_problem
from config import Settings
from models.identity import Identity
from models.retrying import Retrying
from models.status import (
    RunState,
    WaitingFor,
    WaitKind,
    WorkflowStatus,
    current_step,
    retried_step,
)
from workflows import search_attributes as sa

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
            raise AppError(
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
        except AppError:
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


def roles_of(identity: Identity, settings: Settings) -> set[str]:
    """The roles a person decides with: the proof's, else the policy's for their name (as the
    workflows take them)."""
    if identity.roles is not None:
        return set(identity.roles)
    policies = (settings.policy, settings.staffing, settings.billing, settings.change_orders)
    return {r for p in policies for u in p.users if u.name == identity.user for r in u.roles}


def decides(roles: set[str], waiting: WaitingFor) -> bool:
    """Whether someone with `roles` can act on this wait: an approval needs its role; a
    correction anyone the policy knows."""
    if waiting.kind == WaitKind.CORRECTION:
        return bool(roles)
    return waiting.role in roles


async def waiting_for(
    client: Client, settings: Settings, roles: set[str], limit: int = 200
) -> list[WorkflowStatus]:
    """Runs waiting for someone with these roles: nearest deadline first, then oldest."""
    rows = await collect(
        client, settings, types=sorted(runs.workflow_types()), waiting=True, limit=limit
    )
    mine = [s for s, _ in rows if s.waiting_for is not None and decides(roles, s.waiting_for)]
    never = datetime.max.replace(tzinfo=UTC)

    def order(status: WorkflowStatus) -> tuple[datetime, datetime]:
        assert status.waiting_for is not None
        return status.waiting_for.deadline or never, status.waiting_for.since

    return sorted(mine, key=order)
