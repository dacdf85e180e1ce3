"""The Temporal client every front door uses, its queries, and Temporal errors in words."""

from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from temporalio.service import RPCError, RPCStatusCode

import telemetry
from application.errors import AppError
from application.retrying import with_retrying
from config import ConfigError, Settings
from models.brief import DecisionBrief
from models.status import WorkflowStatus
from security.codec import data_converter

M = TypeVar("M", bound=BaseModel)
CONNECT_TIMEOUT = timedelta(seconds=5)
# A query or update needs a worker; without one the call would wait a long time.
WORKER_TIMEOUT = timedelta(seconds=15)
STATES = {
    WorkflowExecutionStatus.RUNNING: "running",
    WorkflowExecutionStatus.COMPLETED: "completed",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "continued as new",
    WorkflowExecutionStatus.TIMED_OUT: "timed out",
}


class NoWorker(AppError):
    """No worker polls the workflow's task queue, or none answered in time."""


async def connect(settings: Settings) -> Client:
    """A client on the configured address and namespace, with the pydantic converter."""
    address = settings.temporal.address
    try:
        converter = data_converter(settings)  # encrypting when [codec] has keys
    except ConfigError as exc:
        raise AppError(str(exc)) from None
    try:
        return await Client.connect(
            address,
            namespace=settings.temporal.namespace,
            data_converter=converter,
            connect_timeout=CONNECT_TIMEOUT,
            plugins=telemetry.client_plugins(settings),  # traces, when [telemetry] traces is set
        )
    except RuntimeError:  # the SDK core reports a failed connection as RuntimeError
        raise unreachable(settings) from None


def ui_link(settings: Settings, workflow_id: str) -> str:
    """The workflow's page in the Temporal UI."""
    base = settings.temporal.ui_url.rstrip("/")
    namespace = quote(settings.temporal.namespace, safe="")
    return f"{base}/namespaces/{namespace}/workflows/{quote(workflow_id, safe='')}"


def closed_state(status: WorkflowExecutionStatus | None) -> str:
    """Temporal's execution status in psflow's words."""
    return STATES.get(status, "unknown") if status is not None else "unknown"


def unreachable(settings: Settings) -> AppError:
    return AppError(
        f"cannot reach Temporal at {settings.temporal.address}: "
        "start it with `psflow dev` or set --address"
    )


def no_such_workflow(workflow_id: str) -> AppError:
    return AppError(f"no workflow {workflow_id}: check the id with `psflow list`")


def no_worker(task_queue: str) -> NoWorker:
    return NoWorker(
        f"no worker is serving task queue {task_queue}: "
        "start one with `psflow worker` (or run `psflow dev`)"
    )


def rpc_problem(exc: RPCError, settings: Settings, workflow_id: str | None = None) -> AppError:
    """An RPC failure as one actionable line."""
    if exc.status == RPCStatusCode.NOT_FOUND and "namespace" in exc.message.lower():
        return AppError(
            f"namespace {settings.temporal.namespace} does not exist at "
            f"{settings.temporal.address}: create it or set --namespace"
        )
    if exc.status == RPCStatusCode.NOT_FOUND and workflow_id:
        return no_such_workflow(workflow_id)
    if exc.status == RPCStatusCode.UNAVAILABLE:
        return unreachable(settings)
    if exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
        return no_worker(settings.temporal.task_queue)
    return AppError(f"Temporal refused the request: {exc.message}")


async def execution_status(handle: WorkflowHandle[Any, Any]) -> WorkflowExecutionStatus | None:
    """Temporal's view of the workflow (running, completed, ...), or None if there is none."""
    try:
        return (await handle.describe()).status
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def describe(
    client: Client, settings: Settings, workflow_id: str
) -> WorkflowExecutionDescription:
    """Temporal's record of the workflow; a missing one is an AppError."""
    try:
        return await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        raise rpc_problem(exc, settings, workflow_id) from None


async def require_worker(client: Client, settings: Settings, task_queue: str) -> None:
    """Fail at once when no worker has polled the task queue lately.

    Saves waiting out a query or update timeout for a worker that is not there.
    """
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    try:
        response = await client.workflow_service.describe_task_queue(request)
    except RPCError as exc:
        raise rpc_problem(exc, settings) from None
    if not response.pollers:
        raise no_worker(task_queue)


async def _query(
    client: Client, settings: Settings, workflow_id: str, name: str, kind: type[M], wait: timedelta
) -> M:
    handle = client.get_workflow_handle(workflow_id)
    try:
        answer: M = await handle.query(name, result_type=kind, rpc_timeout=wait)
    except RPCError as exc:
        raise rpc_problem(exc, settings, workflow_id) from None
    except (WorkflowQueryFailedError, WorkflowQueryRejectedError) as exc:
        raise AppError(f"{workflow_id} did not answer its {name} query: {exc}") from None
    return answer


async def fetch_status(
    client: Client, settings: Settings, workflow_id: str, wait: timedelta = WORKER_TIMEOUT
) -> WorkflowStatus:
    """The workflow's `status` query, as is."""
    return await _query(client, settings, workflow_id, "status", WorkflowStatus, wait)


async def fetch_brief(client: Client, settings: Settings, workflow_id: str) -> DecisionBrief:
    """The workflow's `brief` query: what a person deciding it needs to see."""
    return await _query(client, settings, workflow_id, "brief", DecisionBrief, WORKER_TIMEOUT)


async def status_of(client: Client, settings: Settings, workflow_id: str) -> WorkflowStatus:
    """The status query, after checking the workflow exists and a worker can answer; with
    what Temporal is retrying on the step in progress."""
    description = await describe(client, settings, workflow_id)
    await require_worker(client, settings, description.task_queue)
    status = await fetch_status(client, settings, workflow_id)
    return await with_retrying(client, description, status)


async def require_search_attributes(client: Client, settings: Settings) -> None:
    """psflow's workflows set custom search attributes; without them every workflow task fails."""
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

    from workflows.search_attributes import ALL

    request = ListSearchAttributesRequest(namespace=client.namespace)
    try:
        known = (await client.operator_service.list_search_attributes(request)).custom_attributes
    except RPCError as exc:
        raise rpc_problem(exc, settings) from None
    missing = [key.name for key in ALL if key.name not in known]
    if missing:
        raise AppError(
            f"Temporal at {settings.temporal.address} lacks psflow's search attributes "
            f"({', '.join(missing)}): run it with `psflow dev`, or add each with "
            "`temporal operator search-attribute create --name NAME --type TYPE`"
        )
