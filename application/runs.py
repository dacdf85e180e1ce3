"""Temporal actions shared by the commands and the demo: start, update, cancel, follow."""

import asyncio
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from application.errors import AppError
from application.retrying import with_retrying
from application.temporal import (
    WORKER_TIMEOUT,
    closed_state,
    describe,
    execution_status,
    fetch_status,
    no_worker,
    require_worker,
    rpc_problem,
)
from config import Settings
from models.hcm import WorkerEvent, WorkerEventKind
from models.identity import REFRESH_KEYS, UNKNOWN_KEY
from models.run_metadata import start_metadata
from models.status import RunState, WorkflowStatus

if TYPE_CHECKING:
    from workflows.catalog import WorkflowKind


class AlreadyRan(AppError):
    """The workflow for this key ran to an end and is not started again."""


FINAL_STATES = {RunState.COMPLETED, RunState.REJECTED, RunState.FAILED, RunState.CANCELLED}
POLL_SECONDS = 1.0


@contextmanager
def temporal_errors(settings: Settings, workflow_id: str | None = None) -> Iterator[None]:
    """Turn RPC failures inside the block into one-line CliErrors."""
    try:
        yield
    except RPCError as exc:
        raise rpc_problem(exc, settings, workflow_id) from None


def workflow_types() -> list[str]:
    """Every workflow type psflow runs, including those started by events."""
    from workflows.catalog import WORKFLOW_TYPES

    return WORKFLOW_TYPES


def workflow_kinds() -> dict[str, "WorkflowKind"]:
    from workflows.catalog import WORKFLOWS

    return WORKFLOWS


def kind_named(name: str) -> "WorkflowKind":
    """The catalog entry, or a line naming the known workflows."""
    kinds = workflow_kinds()
    if name not in kinds:
        raise AppError(f"unknown workflow {name!r}: use one of {', '.join(sorted(kinds))}")
    return kinds[name]


def input_for(kind: "WorkflowKind", key: str, user: str) -> BaseModel:
    """The workflow's input, or the reason the key is malformed."""
    try:
        return kind.input_for(key, user)
    except ValidationError as exc:
        messages = [str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()]
        raise AppError("; ".join(messages)) from None
    except ValueError as exc:
        raise AppError(str(exc)) from None


async def start(
    client: Client,
    settings: Settings,
    kind: "WorkflowKind",
    key: str,
    user: str,
    arguments: BaseModel | None = None,
) -> tuple[WorkflowHandle[Any, Any], bool]:
    """Start the workflow for `key`, or find the running one. Returns (handle, already running).

    `arguments` is the input when it had to be read from elsewhere (a change order file)."""
    workflow_id = kind.workflow_id(key)
    arguments = arguments or input_for(kind, key, user)
    with temporal_errors(settings):
        existing = client.get_workflow_handle(workflow_id)
        before = None
        if await execution_status(existing) == WorkflowExecutionStatus.RUNNING:
            before = (await existing.describe()).run_id
        try:
            reuse = (
                WorkflowIDReusePolicy.ALLOW_DUPLICATE
                if kind.rerunnable
                else WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
            )
            queue = settings.temporal.task_queue
            handle = await start_or_find(client, kind, arguments, workflow_id, queue, reuse)
        except WorkflowAlreadyStartedError:
            state = closed_state(await execution_status(existing))
            raise AlreadyRan(
                f"{workflow_id} already ran ({state}); a completed one is not started again: "
                f"see `psflow status {workflow_id}`"
            ) from None
    return handle, before is not None and before == handle.result_run_id


async def start_or_find(
    client: Client,
    kind: "WorkflowKind",
    arguments: BaseModel,
    workflow_id: str,
    task_queue: str,
    reuse: WorkflowIDReusePolicy,
) -> WorkflowHandle[Any, Any]:
    """Start `workflow_id`, or find it running; Temporal's user metadata (summary, details)
    set from the input."""
    about = start_metadata(arguments)
    return await client.start_workflow(
        kind.workflow.run,
        arguments,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=reuse,
        static_summary=about.summary,
        static_details=about.details,
    )


async def start_for_event(
    client: Client, settings: Settings, event: WorkerEvent, user: str
) -> WorkflowHandle[Any, Any]:
    """Start what an HCM event calls for: hire-to-staff for a hire, else worker-change.

    A worker-change for an event already applied runs again and reports it as ignored.
    """
    if event.kind == WorkerEventKind.HIRE:
        handle, _ = await start(
            client, settings, kind_named("hire-to-staff"), event.worker_id, user
        )
        return handle
    from models.hire_to_staff import change_workflow_id
    from workflows.worker_change import WorkerChange

    with temporal_errors(settings):
        about = start_metadata(event)
        return await client.start_workflow(
            WorkerChange.run,
            event,
            id=change_workflow_id(event),
            task_queue=settings.temporal.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=about.summary,
            static_details=about.details,
        )


async def running(client: Client, settings: Settings, workflow_id: str) -> str:
    """Fail unless the workflow exists and is running; returns its task queue."""
    description = await describe(client, settings, workflow_id)
    if description.status != WorkflowExecutionStatus.RUNNING:
        state = closed_state(description.status)
        raise AppError(f"workflow {workflow_id} is not running (state: {state})")
    return description.task_queue


async def update(
    client: Client, settings: Settings, workflow_id: str, name: str, argument: BaseModel
) -> str:
    """Send the update `name` and wait for its answer; a refusal becomes its reason."""
    task_queue = await running(client, settings, workflow_id)
    await require_worker(client, settings, task_queue)
    handle = client.get_workflow_handle(workflow_id)
    try:
        try:
            result = await handle.execute_update(
                name, argument, result_type=str, rpc_timeout=WORKER_TIMEOUT
            )
        except WorkflowUpdateFailedError as exc:
            if getattr(exc.cause, "type", None) != UNKNOWN_KEY:
                raise
            # Signed with a key newer than the run's policy: the run reloads them, once.
            await handle.execute_update(REFRESH_KEYS, rpc_timeout=WORKER_TIMEOUT)
            result = await handle.execute_update(
                name, argument, result_type=str, rpc_timeout=WORKER_TIMEOUT
            )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        reason = getattr(cause, "message", None) or str(cause)
        raise AppError(f"{name} refused: {reason}") from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise no_worker(task_queue) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:  # it closed meanwhile
            await running(client, settings, workflow_id)
        raise rpc_problem(exc, settings, workflow_id) from None
    return str(result) if result is not None else name


async def cancel(client: Client, settings: Settings, workflow_id: str) -> None:
    """Ask a running workflow to cancel (it compensates, then ends as cancelled)."""
    await running(client, settings, workflow_id)
    with temporal_errors(settings, workflow_id):
        await client.get_workflow_handle(workflow_id).cancel()


async def follow(
    client: Client,
    settings: Settings,
    workflow_id: str,
    until: Collection[RunState] = FINAL_STATES,
    on_status: Callable[[WorkflowStatus], None] | None = None,
    give_up_after: float | None = None,
) -> tuple[WorkflowStatus, str]:
    """Query the status every second until its state is one of `until` or Temporal closes it.

    Returns the last status and the state to report (Temporal's word if it closed the workflow
    without the workflow saying so, e.g. terminated).
    """
    loop = asyncio.get_running_loop()
    deadline = None if give_up_after is None else loop.time() + give_up_after
    while True:
        description = await describe(client, settings, workflow_id)
        await require_worker(client, settings, description.task_queue)
        status = await with_retrying(
            client, description, await fetch_status(client, settings, workflow_id)
        )
        if on_status is not None:
            on_status(status)
        if status.state in until:
            return status, str(status.state)
        if description.status != WorkflowExecutionStatus.RUNNING:
            final = status.state in FINAL_STATES
            return status, str(status.state) if final else closed_state(description.status)
        if deadline is not None and loop.time() > deadline:
            raise AppError(
                f"{workflow_id} is still {status.state} after {give_up_after:.0f}s: "
                f"see `psflow status {workflow_id}`"
            )
        await asyncio.sleep(POLL_SECONDS)
