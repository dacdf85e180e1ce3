"""Saga throughput: opportunity-to-project sagas per second against two baselines on the same
server with the same worker settings: bare workflows running as many no-op activities, and
bare workflows making the same calls (bench/bare_saga.py), whose gap is the engine's cost."""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench import bare
from bench.bare_saga import BareSaga
from bench.stack import Stack
from models.opportunity_to_project import OpportunityToProjectInput, workflow_id
from workflows.opportunity_to_project import OpportunityToProject


@dataclass
class SagaFigures:
    sagas: int
    activities: int
    """Activities one saga runs (the bare workflow runs as many)."""
    saga_seconds: float
    bare_seconds: float
    events: int = 0
    """History events of one completed saga (the warm-up's)."""
    same_calls_seconds: float = 0.0
    """The same number of bare workflows making the saga's calls (bench/bare_saga.py)."""

    @property
    def sagas_per_second(self) -> float:
        return self.sagas / self.saga_seconds

    @property
    def bare_per_second(self) -> float:
        return self.sagas / self.bare_seconds

    @property
    def ratio(self) -> float:
        return self.sagas_per_second / self.bare_per_second

    @property
    def same_calls_per_second(self) -> float:
        return self.sagas / self.same_calls_seconds

    @property
    def engine_ratio(self) -> float:
        """Sagas/s over bare workflows making the same calls: 1 would be a free engine."""
        return self.sagas_per_second / self.same_calls_per_second


async def add_deals(stack: Stack, count: int) -> list[str]:
    """Closed-won deals under the approval threshold, from the CRM sandbox's admin route."""
    async with httpx.AsyncClient(timeout=120) as http:
        response = await http.post(
            f"{stack.url('crm')}/__admin/seed/deals", json={"count": count, "seed": 11}
        )
        response.raise_for_status()
        ids: list[str] = response.json()["opportunities"]
        return ids


async def _saga(client: Client, task_queue: str, opportunity_id: str) -> None:
    result = await client.execute_workflow(
        OpportunityToProject.run,
        OpportunityToProjectInput(opportunity_id=opportunity_id, requested_by="bench"),
        id=workflow_id(opportunity_id),
        task_queue=task_queue,
    )
    if result.outcome != "completed":
        raise RuntimeError(f"saga for {opportunity_id} ended {result.outcome}: {result.reason}")


async def _bare(client: Client, activities: int) -> None:
    await client.execute_workflow(
        bare.BareWorkflow.run,
        activities,
        id=f"bench-bare/{uuid.uuid4()}",
        task_queue=bare.TASK_QUEUE,
    )


async def _same_calls(client: Client, opportunity_id: str) -> None:
    await client.execute_workflow(
        BareSaga.run,
        opportunity_id,
        id=f"bench-bare-saga/{opportunity_id}",
        task_queue=bare.TASK_QUEUE,
    )


async def saga_history(client: Client, opportunity_id: str) -> tuple[int, int]:
    """How many activities a completed saga scheduled and how many events its history holds."""
    history = await client.get_workflow_handle(workflow_id(opportunity_id)).fetch_history()
    scheduled = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    activities = sum(1 for event in history.events if event.event_type == scheduled)
    return activities, len(history.events)


async def _scheduled(client: Client, run_id: str) -> int:
    history = await client.get_workflow_handle(run_id).fetch_history()
    scheduled = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    return sum(1 for event in history.events if event.event_type == scheduled)


async def _timed(calls: Sequence[Awaitable[None]]) -> float:
    """Seconds from the first call's start to the last one's end, all run at once."""
    started = time.perf_counter()
    await asyncio.gather(*calls)
    return time.perf_counter() - started


async def measure_sagas(stack: Stack, count: int) -> SagaFigures:
    """Warm both workers up with one run each, then start `count` of each at once and time
    each batch from the first start to the last result."""
    client, queue = stack.client, stack.settings.temporal.task_queue
    warm_up, bare_warm_up, *deals = await add_deals(stack, 2 * count + 2)
    deals, bare_deals = deals[:count], deals[count:]
    await _saga(client, queue, warm_up)
    activities, events = await saga_history(client, warm_up)
    await _bare(client, activities)
    await _same_calls(client, bare_warm_up)
    made = await _scheduled(client, f"bench-bare-saga/{bare_warm_up}")
    if made != activities:
        raise RuntimeError(f"the bare saga ran {made} activities, the saga {activities}")
    saga_seconds = await _timed([_saga(client, queue, d) for d in deals])
    bare_seconds = await _timed([_bare(client, activities) for _ in range(count)])
    same_calls_seconds = await _timed([_same_calls(client, d) for d in bare_deals])
    return SagaFigures(count, activities, saga_seconds, bare_seconds, events, same_calls_seconds)
