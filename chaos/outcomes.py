"""How Temporal says each run ended, and the dead letters psflow's store holds."""

from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from bench.stack import Stack
from chaos.patience import patient
from models.dead_letter import DeadLetter
from models.opportunity_to_project import OpportunityToProjectResult
from models.time_to_bill import TimeToBillResult
from store.db import open_engine
from store.dead_letters import list_dead_letters
from workflows.time_to_bill import NAME as TIME_TO_BILL

RUNNING = "running"
CANCELLED = "cancelled"
FAILED = "failed"
COMPLETED = "completed"
NOT_STARTED = "not started"
CLOSED = {
    WorkflowExecutionStatus.CANCELED: CANCELLED,
    WorkflowExecutionStatus.FAILED: FAILED,
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.TIMED_OUT: "timed out",
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "continued as new",
}


async def outcome(client: Client, workflow_id: str, result_type: type[Any]) -> str:
    """running, cancelled, failed, terminated, timed out, not started, or a completed run's
    own outcome (completed, rejected; released, nothing to invoice)."""
    handle = client.get_workflow_handle(workflow_id, result_type=result_type)
    try:
        description = await patient(handle.describe)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return NOT_STARTED
        raise
    if description.status == WorkflowExecutionStatus.RUNNING:
        return RUNNING
    if description.status != WorkflowExecutionStatus.COMPLETED:
        return CLOSED.get(description.status, str(description.status))  # type: ignore[arg-type]
    result = await patient(handle.result)
    return str(getattr(result, "outcome", COMPLETED))  # month-end's totals have none


async def saga_outcomes(client: Client, workflow_ids: list[str]) -> dict[str, str]:
    """Each saga's outcome, by workflow id."""
    return {
        workflow_id: await outcome(client, workflow_id, OpportunityToProjectResult)
        for workflow_id in workflow_ids
    }


async def billing_outcomes(client: Client, period: str) -> dict[str, str]:
    """Each time-to-bill run of the period (as listed by Temporal) and how it ended."""
    query = f"WorkflowType = '{TIME_TO_BILL}'"
    ids = [
        e.id
        async for e in client.list_workflows(query, page_size=1000)
        if e.id.endswith(f"/{period}")
    ]
    return {i: await outcome(client, i, TimeToBillResult) for i in sorted(set(ids))}


async def open_runs(client: Client, types: list[str]) -> int:
    """Runs of these workflow types still running (as Temporal's visibility lists them)."""
    kinds = " OR ".join(f"WorkflowType = '{t}'" for t in types)
    query = f"ExecutionStatus = 'Running' AND ({kinds})"
    return len([e async for e in client.list_workflows(query, page_size=1000)])


def dead_letters(stack: Stack) -> list[DeadLetter]:
    """Every dead letter in psflow's store (open, retried or discarded)."""
    engine = open_engine(stack.settings.resolved_store_url)
    try:
        return list_dead_letters(engine)
    finally:
        engine.dispose()
