"""Repairs by business key: how reconciliation starts the workflow that mends a finding."""

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from application.runs import input_for, kind_named, start_or_find

NO_REPAIR = "needs a person"


async def latest_run(client: Client, id: str) -> tuple[WorkflowExecutionStatus | None, str | None]:
    """The status and run id of the workflow's latest run; (None, None) when it never ran."""
    try:
        description = await client.get_workflow_handle(id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None, None
        raise
    return description.status, description.run_id


async def start_repair(
    client: Client, workflow: str, key: str, requested_by: str, task_queue: str
) -> tuple[str, bool]:
    """Start `workflow` for `key` on `task_queue`, or find it running: what happened, in
    words, and whether this started it.

    A workflow that may run again (time-to-bill: a rerun posts nothing twice) does. Any other
    that ended (completed, failed into the dead letters, cancelled by a person) is left to a
    person: starting it every run would only pile up dead letters or undo a decision.
    """
    kind = kind_named(workflow)
    id = kind.workflow_id(key)
    argument = input_for(kind, key, requested_by)
    status, before = await latest_run(client, id)
    running = status == WorkflowExecutionStatus.RUNNING
    if not kind.rerunnable and status is not None and not running:
        return f"not started: {id} ended {status.name.lower()}; {NO_REPAIR}", False
    reuse = (
        WorkflowIDReusePolicy.ALLOW_DUPLICATE
        if kind.rerunnable
        else WorkflowIDReusePolicy.REJECT_DUPLICATE
    )
    try:
        handle = await start_or_find(client, kind, argument, id, task_queue, reuse)
    except WorkflowAlreadyStartedError:  # it ended between the look and the start
        return f"not started: {id} has ended; {NO_REPAIR}", False
    if running and before == handle.result_run_id:
        return f"already running: {id}", False
    return f"started {id}", True
