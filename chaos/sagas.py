"""The sagas of a chaos run: started at their scheduled moments, some cancelled at a step."""

import asyncio
import time
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.service import RPCError

from bench.stack import Stack
from chaos.faults import slow_step
from chaos.patience import patient, sleep_until, start_once
from models.opportunity_to_project import OpportunityToProjectInput, workflow_id
from workflows import search_attributes as sa
from workflows.opportunity_to_project import APPROVE, NAME, STEPS

CANCELLABLE_STEPS = [s for s in STEPS if s != APPROVE]
"""The deals are under the approval threshold: their runs skip the approval step."""
WATCH_EVERY = 0.25
REQUESTED_BY = "chaos"


@dataclass
class SagaRun:
    index: int
    opportunity_id: str
    cancel_at: str | None = None
    """The step the schedule cancels it at, if any."""
    started: float | None = None
    start_error: str | None = None
    cancelled_at: str | None = None
    """The step it was at when the cancel was accepted."""
    cancel_missed: str | None = None
    """Why a scheduled cancel was not sent (the run ended first)."""

    @property
    def workflow_id(self) -> str:
        return workflow_id(self.opportunity_id)


async def start(stack: Stack, run: SagaRun, moment: float, slowed: tuple[str, ...]) -> None:
    """Start the saga at `moment`; a start the server took before dying counts as started.
    A run to be cancelled has its step's call slowed first (on the `slowed` systems), so the
    cancel finds it running."""
    await sleep_until(moment)
    if run.cancel_at:
        await slow_step(stack, run.cancel_at, run.opportunity_id, slowed)

    run.start_error = await start_once(
        stack.client,
        NAME,
        OpportunityToProjectInput(opportunity_id=run.opportunity_id, requested_by=REQUESTED_BY),
        id=run.workflow_id,
        task_queue=stack.settings.temporal.task_queue,
    )
    if run.start_error is not None:
        return
    run.started = time.monotonic()


async def _current_steps(client: Client) -> dict[str, str]:
    """Running sagas -> the step each is at (its PsflowStep search attribute)."""
    query = f"WorkflowType = '{NAME}' AND ExecutionStatus = 'Running'"
    found = {}
    async for execution in client.list_workflows(query, page_size=1000):
        found[execution.id] = execution.typed_search_attributes.get(sa.STEP) or ""
    return found


def _reached(current: str, target: str) -> bool:
    """Whether a run at `current` is at or past `target` in the saga's order."""
    order = {name: at for at, name in enumerate(STEPS)}
    return order.get(current, -1) >= order[target]


async def _cancel(client: Client, run: SagaRun, step: str) -> None:
    handle = client.get_workflow_handle(run.workflow_id)
    description = await patient(handle.describe)
    if description.close_time is not None:
        run.cancel_missed = f"ended before reaching {run.cancel_at}"
        return
    try:
        await patient(handle.cancel)
    except RPCError as exc:  # it ended between the two calls
        run.cancel_missed = f"not cancelled: {exc}"
        return
    run.cancelled_at = step or "(before its first step)"


async def cancel_at_steps(stack: Stack, runs: list[SagaRun], end: float) -> None:
    """Cancel each run that has a `cancel_at` once it reaches that step (or a later one);
    those still running at `end` are cancelled where they are."""
    waiting = [r for r in runs if r.cancel_at]
    while waiting:
        over = time.monotonic() >= end
        try:
            steps = await _current_steps(stack.client)
        except RPCError:
            await asyncio.sleep(WATCH_EVERY)  # the server is down: look again
            continue
        for run in list(waiting):
            assert run.cancel_at is not None
            if run.started is None:
                if run.start_error or over:
                    waiting.remove(run)
                continue
            step = steps.get(run.workflow_id)
            settled = time.monotonic() - run.started > 5  # visibility lags the start a moment
            if step is None and not settled and not over:
                continue
            if step is None or _reached(step, run.cancel_at) or over:
                waiting.remove(run)
                await _cancel(stack.client, run, step or "")
        await asyncio.sleep(WATCH_EVERY)
