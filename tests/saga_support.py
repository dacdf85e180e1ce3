"""What the saga resilience tests share: fresh deals, steps in flight, cancels, dead letters."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import CancelledError

from config import Settings
from models.status import CompensationOutcome, RunState, StepState, WorkflowStatus
from store.db import open_engine
from store.dead_letters import list_dead_letters
from tests.support import Sandbox, running_worker


def fresh_deals(sandbox: Sandbox, count: int, like: str | None = None) -> list[str]:
    """Closed-won deals of this test's own: under the approval threshold, or made as the
    named deal `like` is (large_usd, unknown_legal_entity...)."""
    response = httpx.post(
        f"{sandbox.urls['crm']}/__admin/seed/deals",
        json={"count": count, "seed": uuid.uuid4().int % 10_000, "like": like},
        timeout=10,
    )
    response.raise_for_status()
    deals: list[str] = response.json()["opportunities"]
    return deals


def fresh_prehire(sandbox: Sandbox, like: str) -> str:
    """A pre-hire of this test's own, made as the named pre-hire `like` (e.g. 30004, whose
    cost center is missing), so that no other test hires the same worker."""
    response = httpx.post(
        f"{sandbox.urls['hcm']}/__admin/seed/prehires", json={"like": like}, timeout=10
    )
    response.raise_for_status()
    worker: str = response.json()["workers"][0]
    return worker


async def status_of(handle: WorkflowHandle[Any, Any]) -> WorkflowStatus:
    status: WorkflowStatus = await handle.query("status", result_type=WorkflowStatus)
    return status


async def when_running(
    handle: WorkflowHandle[Any, Any], step: str, within: float = 60
) -> WorkflowStatus:
    """Poll the status until `step` is running (its activity in flight)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        status = await status_of(handle)
        if any(s.name == step and s.state == StepState.RUNNING for s in status.steps):
            return status
        if loop.time() > deadline:
            raise AssertionError(f"{step} never ran: {status.model_dump_json(indent=1)}")
        await asyncio.sleep(0.05)


async def cancelled(handle: WorkflowHandle[Any, Any]) -> WorkflowStatus:
    """Cancel the run and wait for it to end: Cancelled, never Failed; its final status."""
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as ended:
        await handle.result()
    assert isinstance(ended.value.cause, CancelledError), ended.value.cause
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    status = await status_of(handle)
    assert status.state == RunState.CANCELLED
    return status


def assert_undone_after_cancel(
    status: WorkflowStatus, step: str, settings: Settings, workflow_id: str
) -> None:
    """The step in flight marked cancelled, it and the steps before undone, no dead letter."""
    assert {s.name: s.state for s in status.steps}[step] == StepState.CANCELLED
    assert status.compensations, "the step in flight and those before it are undone"
    assert all(c.outcome != CompensationOutcome.FAILED for c in status.compensations)
    assert dead_letters_of(settings, workflow_id) == []


def dead_letters_of(settings: Settings, workflow_id: str) -> list[str]:
    """The errors of the dead letters psflow keeps of a workflow's runs."""
    engine = open_engine(settings.resolved_store_url)
    try:
        return [d.error for d in list_dead_letters(engine) if d.workflow_id == workflow_id]
    finally:
        engine.dispose()


@asynccontextmanager
async def worker_with_windows(
    client: Client, settings: Settings, **windows: timedelta
) -> AsyncIterator[Settings]:
    """A psflow worker on a queue of its own whose retry windows close sooner."""
    changed = settings.model_copy(deep=True)
    for system, window in windows.items():
        setattr(changed.retry, system, window)
    async with running_worker(client, changed, f"psflow-test-{uuid.uuid4()}") as used:
        yield used
