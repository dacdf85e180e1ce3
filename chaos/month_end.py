"""The month-end of a chaos run: started at its moment, every drafted invoice approved by
finance as it comes, until no run of the period is left (or the time is up)."""

import asyncio
import time
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError as UpdateTimedOut
from temporalio.service import RPCError

from bench.month_end import finance_approval, issuer_store
from bench.stack import Stack
from chaos.patience import sleep_until, start_once
from models.billing import month_end_id
from models.time_to_bill import MonthEndInput, TimeToBillResult
from workflows import search_attributes as sa
from workflows.month_end import NAME as MONTH_END
from workflows.time_to_bill import NAME as TIME_TO_BILL
from workflows.time_to_bill import TimeToBill

LOOK_EVERY = 1.0
UPDATE_TIMEOUT = timedelta(seconds=15)


@dataclass
class FinanceDesk:
    """What the harness did as finance."""

    approved: set[str] = field(default_factory=set)
    refused: dict[str, str] = field(default_factory=dict)
    """Workflow id -> why the approval was refused."""
    start_error: str | None = None


async def start_month_end(stack: Stack, period: str, moment: float, desk: FinanceDesk) -> None:
    """Start month-end for the period at `moment`, as the schedule says."""
    await sleep_until(moment)

    desk.start_error = await start_once(
        stack.client,
        MONTH_END,
        MonthEndInput(period=period),
        id=month_end_id(period),
        task_queue=stack.settings.temporal.task_queue,
    )


def _of_period(workflow_id: str, period: str) -> bool:
    return workflow_id.startswith(f"{TIME_TO_BILL}/") and workflow_id.endswith(f"/{period}")


async def _running(client: Client, period: str, waiting: bool) -> set[str]:
    """The period's running time-to-bill runs (only those waiting for approval if asked)."""
    query = f"WorkflowType = '{TIME_TO_BILL}' AND ExecutionStatus = 'Running'"
    if waiting:
        query += f" AND {sa.WAITING_FOR.name} = 'approval'"
    found = client.list_workflows(query, page_size=1000)
    return {e.id async for e in found if _of_period(e.id, period)}


async def _approve(client: Client, engine: Engine, workflow_id: str, desk: FinanceDesk) -> None:
    handle: WorkflowHandle[TimeToBill, TimeToBillResult] = client.get_workflow_handle_for(
        TimeToBill.run, workflow_id
    )
    try:
        await handle.execute_update(
            TimeToBill.approve,
            finance_approval(engine, workflow_id, "chaos"),
            rpc_timeout=UPDATE_TIMEOUT,
        )
    except WorkflowUpdateFailedError as exc:
        desk.refused[workflow_id] = str(exc.cause or exc)
    except (UpdateTimedOut, RPCError):
        return  # the worker or the server is down: asked again on the next look
    desk.approved.add(workflow_id)


async def _month_end_open(client: Client, period: str) -> bool:
    description = await client.get_workflow_handle(month_end_id(period)).describe()
    return description.close_time is None


async def approve_as_finance(stack: Stack, period: str, desk: FinanceDesk, until: float) -> None:
    """Approve each run of the period that waits for finance, until month-end has closed and
    none of its runs is left running, or until the monotonic moment `until`."""
    with issuer_store(stack) as engine:
        await _approve_until(stack.client, engine, period, desk, until)


async def _approve_until(
    client: Client, engine: Engine, period: str, desk: FinanceDesk, until: float
) -> None:
    asking: dict[str, asyncio.Task[None]] = {}
    while time.monotonic() < until:
        await asyncio.sleep(LOOK_EVERY)
        asking = {k: t for k, t in asking.items() if not t.done()}
        try:
            waiting = await _running(client, period, waiting=True)
            for workflow_id in waiting - desk.approved - desk.refused.keys() - asking.keys():
                approving = _approve(client, engine, workflow_id, desk)
                asking[workflow_id] = asyncio.create_task(approving)
            if asking or await _month_end_open(client, period):
                continue
            if not await _running(client, period, waiting=False):
                return
        except RPCError:
            continue  # not started yet, or the server is down
    for task in asking.values():
        task.cancel()
