"""Dead letters and the audit log, end to end: a real worker, the sandbox, and the CLI."""

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDReusePolicy
from typer.testing import CliRunner, Result

from cli.main import app
from config import Settings
from models.opportunity_to_project import OpportunityToProjectInput, workflow_id
from models.time_to_bill import Outcome, TimeToBillInput
from tests.support import Sandbox, Systems, env_for
from workflows.opportunity_to_project import OpportunityToProject
from workflows.time_to_bill import TimeToBill

runner = CliRunner()
PSA_PROJECTS = "/api/v1/projects"


async def cli(env: dict[str, str], *args: str) -> Result:
    """The psflow CLI in a thread (it runs its own event loop), as a user would run it."""
    return await asyncio.to_thread(runner.invoke, app, list(args), env=env)


async def cli_json(env: dict[str, str], *args: str) -> Any:
    result = await cli(env, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def new_deal(sandbox: Sandbox) -> str:
    """A closed-won deal of this test's own, so no other test's workflow shares its id."""
    response = httpx.post(
        f"{sandbox.urls['crm']}/__admin/seed/deals",
        json={"count": 1, "seed": uuid.uuid4().int % 10_000},
        timeout=10,
    )
    response.raise_for_status()
    opportunity: str = response.json()["opportunities"][0]
    return opportunity


async def fails_for_good(client: Client, settings: Settings, sandbox: Sandbox, deal: str) -> str:
    """Run opportunity-to-project into a permanent PSA refusal; its workflow id."""
    sandbox.fault("psa", path=PSA_PROJECTS, method="POST", status=400, count=100)
    handle = await client.start_workflow(
        OpportunityToProject.run,
        OpportunityToProjectInput(opportunity_id=deal, requested_by="sam"),
        id=workflow_id(deal),
        task_queue=settings.temporal.task_queue,
    )
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    return handle.id


async def letter_for(env: dict[str, str], workflow: str, state: str = "open") -> dict[str, Any]:
    letters = await cli_json(env, "dlq", "list", "--state", state)
    mine = [d for d in letters if d["workflow_id"] == workflow]
    assert len(mine) == 1, letters
    return mine[0]


async def test_a_permanent_failure_lands_in_the_dead_letters_and_a_retry_completes(
    client: Client, worker: Settings, sandbox: Sandbox, systems: Systems, config_file: Path
) -> None:
    env = env_for(config_file, PSFLOW_TASK_QUEUE=worker.temporal.task_queue)
    deal = new_deal(sandbox)
    wid = await fails_for_good(client, worker, sandbox, deal)

    letter = await letter_for(env, wid)
    assert (letter["workflow_type"], letter["business_key"], letter["step"]) == (
        "opportunity-to-project",
        deal,
        "create PSA project",
    )
    assert "400" in letter["error"]
    assert letter["input"] == {"opportunity_id": deal, "requested_by": "sam"}
    shown = await cli(env, "dlq", "show", str(letter["id"]))
    assert shown.exit_code == 0
    assert "create PSA project" in shown.stdout and deal in shown.stdout

    # Refused while a run of the workflow is in progress (one no worker polls stays running).
    blocker = await client.start_workflow(
        OpportunityToProject.run,
        OpportunityToProjectInput(opportunity_id=deal),
        id=wid,
        task_queue=f"nobody-polls-{uuid.uuid4()}",
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    )
    refused = await cli(env, "dlq", "retry", str(letter["id"]), "--as", "fatima")
    assert refused.exit_code == 1
    assert f"{wid} is running" in refused.output
    await blocker.terminate("test: make way for the retry")
    assert (await letter_for(env, wid))["state"] == "open"

    sandbox.clear_faults()
    retried = await cli(env, "dlq", "retry", str(letter["id"]), "--as", "fatima")
    assert retried.exit_code == 0, retried.output
    assert f"retried dead letter {letter['id']}" in retried.stdout
    result = await client.get_workflow_handle(wid).result()
    assert result["outcome"] == "completed"
    opportunity = await systems.crm.get_opportunity(deal)
    assert opportunity.psa_project_id and opportunity.erp_project_id

    closed = await letter_for(env, wid, "retried")
    run_id = (await client.get_workflow_handle(wid).describe()).run_id
    assert (closed["closed_by"], closed["retry_run_id"]) == ("fatima", run_id)
    audited = await cli_json(env, "audit", "--workflow", wid, "--kind", "retried")
    assert [(a["user"], a["detail"]) for a in audited] == [
        ("fatima", f"dead letter {letter['id']} retried: new run {run_id}")
    ]
    again = await cli(env, "dlq", "retry", str(letter["id"]), "--as", "fatima")
    assert again.exit_code == 1 and "already retried" in again.output

    # Posting is audited too: a time-to-bill of the new project, with nothing yet to bill.
    billing = await client.start_workflow(
        TimeToBill.run,
        TimeToBillInput(project_id=opportunity.psa_project_id, period="2026-10"),
        id=f"time-to-bill/{opportunity.psa_project_id}/2026-10",
        task_queue=worker.temporal.task_queue,
    )
    assert (await billing.result()).outcome is Outcome.NOTHING_TO_INVOICE
    posted = await cli_json(env, "audit", "--workflow", billing.id, "--kind", "posted")
    assert [a["detail"].split(":")[0] for a in posted] == ["post time", "post expenses"]
    assert all(a["user"] is None and "0 posted" in a["detail"] for a in posted)
    table = await cli(env, "audit", "--workflow", billing.id)
    assert table.exit_code == 0 and "post expenses" in table.stdout


async def test_a_discard_needs_a_reason_and_a_person_and_is_audited(
    client: Client, worker: Settings, sandbox: Sandbox, config_file: Path
) -> None:
    env = env_for(config_file, PSFLOW_TASK_QUEUE=worker.temporal.task_queue)
    wid = await fails_for_good(client, worker, sandbox, new_deal(sandbox))
    letter_id = str((await letter_for(env, wid))["id"])

    no_reason = await cli(env, "dlq", "discard", letter_id, "--as", "greta")
    assert no_reason.exit_code == 1 and "discard needs --reason" in no_reason.output
    nobody = await cli(env, "dlq", "discard", letter_id, "--reason", "deal withdrawn")
    assert nobody.exit_code == 1 and "discard needs --as" in nobody.output
    assert (await letter_for(env, wid))["state"] == "open"

    discarded = await cli(
        env, "dlq", "discard", letter_id, "--reason", "deal withdrawn", "--as", "greta"
    )
    assert discarded.exit_code == 0, discarded.output
    closed = await letter_for(env, wid, "discarded")
    assert (closed["closed_by"], closed["reason"]) == ("greta", "deal withdrawn")
    audited = await cli_json(env, "audit", "--workflow", wid, "--user", "greta")
    assert [(a["kind"], a["detail"]) for a in audited] == [
        ("discarded", f"dead letter {letter_id}: deal withdrawn")
    ]
    table = await cli(env, "audit", "--kind", "discarded", "--since", "2020-01-01")
    assert table.exit_code == 0 and "greta" in table.stdout

    retry = await cli(env, "dlq", "retry", letter_id, "--as", "greta")
    assert retry.exit_code == 1 and "already discarded" in retry.output
    bad_date = await cli(env, "audit", "--since", "last week")
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.output
