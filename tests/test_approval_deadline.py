"""Approval deadlines on the time-skipping test server: escalate once, then reject."""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config import Settings
from models.opportunity_to_project import OpportunityToProjectInput, workflow_id
from models.status import RunState
from sandbox.crm.seed import DEMO_OPPORTUNITIES
from tests.support import TEST_SERVER, Systems, running_worker
from tests.test_opportunity_to_project import assert_nothing_left
from workflows.opportunity_to_project import OpportunityToProject
from workflows.search_attributes import register


@pytest.fixture
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=TEST_SERVER, data_converter=pydantic_data_converter
    )
    async with env:
        await register(env.client, "default")
        yield env


async def test_unanswered_approval_escalates_once_then_rejects_leaving_nothing(
    skipping_env: WorkflowEnvironment, settings: Settings, systems: Systems
) -> None:
    opportunity_id = DEMO_OPPORTUNITIES["large_cad"]
    client = skipping_env.client
    async with running_worker(client, settings, f"psflow-test-{uuid.uuid4()}") as used:
        handle = await client.start_workflow(
            OpportunityToProject.run,
            OpportunityToProjectInput(opportunity_id=opportunity_id),
            id=workflow_id(opportunity_id),
            task_queue=used.temporal.task_queue,
        )
        result = await handle.result()
        status = await handle.query(OpportunityToProject.status)

    policy = settings.policy.approval
    assert result.outcome == "rejected"
    assert "no approval within" in (result.reason or "")
    assert status.state == RunState.REJECTED
    escalated, rejected = status.events
    assert escalated.kind == "escalated" and policy.escalate_to in escalated.detail
    assert rejected.kind == "rejected" and rejected.user == "psflow"
    waited = rejected.at - escalated.at
    assert policy.escalation_grace <= waited < policy.escalation_grace + timedelta(minutes=1)
    await assert_nothing_left(systems, opportunity_id, handle.id)
