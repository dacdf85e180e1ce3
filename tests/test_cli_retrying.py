"""A step Temporal is retrying, as `psflow status` and `psflow list` show it, against a live
dev server, the sandbox and the real worker.

The ERP answers 503 until the test clears the fault. Whether activities give up after five
attempts (about 15 s) or wait for hours, every assertion is made while the step is retrying,
within the first attempts; once the fault is cleared the next attempt succeeds.
"""

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli.main import app
from config import load_settings
from sandbox.crm.seed import DEMO_OPPORTUNITIES
from tests.support import (
    TEMPORAL,
    Sandbox,
    encrypting_converter,
    running_worker,
    write_settings,
)
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

O2P = "opportunity-to-project"
CUSTOMER_STEP = "upsert ERP customer"
APPROVAL_STEP = "deal-desk approval"
LAST_STEP = "write ids back to CRM"
ERP_CUSTOMERS = "/services/rest/record/v1/customer/*"
runner = CliRunner()


@pytest.fixture(scope="module")
async def estate(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[dict[str, str], Sandbox, Client]]:
    """A dev server, the sandbox and a worker of this module's own; yields the CLI's
    environment, the sandbox (to arm faults on) and a client (to search as an SRE would)."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=TEMPORAL,
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=encrypting_converter(),
    )
    async with env:
        folder = tmp_path_factory.mktemp("retrying-estate")
        config = write_settings(folder, env.client.service_client.config.target_host)
        box = Sandbox(config)
        box.start()
        try:
            queue = f"psflow-retrying-{uuid.uuid4()}"
            async with running_worker(env.client, load_settings(config), queue):
                cli = {"PSFLOW_CONFIG": str(config), "PSFLOW_TASK_QUEUE": queue, "COLUMNS": "160"}
                yield cli, box, env.client
        finally:
            box.stop()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("PSFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


async def psflow(env: dict[str, str], *args: str) -> Result:
    """Run the CLI in a thread (it runs its own event loop), as a user would."""
    result = await asyncio.to_thread(runner.invoke, app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


async def status_json(env: dict[str, str], workflow_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((await psflow(env, "status", workflow_id, "--json")).stdout)
    return data


def step_named(status: dict[str, Any], name: str) -> dict[str, Any]:
    [step] = [s for s in status["steps"] if s["name"] == name]
    return step


async def until(env: dict[str, str], workflow_id: str, ready: Any) -> dict[str, Any]:
    """The status once `ready(status)` holds (polled for up to 20 s)."""
    for _ in range(100):
        status = await status_json(env, workflow_id)
        if ready(status):
            return status
        await asyncio.sleep(0.2)
    raise AssertionError(f"{workflow_id} never got there: {status}")


def listed(result: Result) -> list[str]:
    return [row["workflow_id"] for row in json.loads(result.stdout)]


def row_of(result: Result, workflow_id: str) -> str:
    [line] = [line for line in result.stdout.splitlines() if workflow_id in line]
    return line


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def found(client: Client, query: str, expected: list[str]) -> None:
    """Until the visibility query lists exactly `expected` (it lags a little behind)."""
    ids: list[str] = []
    for _ in range(100):
        ids = sorted([e.id async for e in client.list_workflows(query)])
        if ids == sorted(expected):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{query!r} finds {ids}, not {expected}")


async def test_a_step_retrying_a_503_shows_in_status_and_list_until_the_erp_is_back(
    estate: tuple[dict[str, str], Sandbox, Client],
) -> None:
    env, sandbox, client = estate
    waiting_id = f"{O2P}/{DEMO_OPPORTUNITIES['large_eur']}"
    await psflow(env, "start", O2P, DEMO_OPPORTUNITIES["large_eur"], "--as", "sam")
    await until(env, waiting_id, lambda s: s["state"] == "waiting")

    sandbox.fault("erp", path=ERP_CUSTOMERS, status=503, down_for_seconds=120)
    stalled_id = f"{O2P}/{DEMO_OPPORTUNITIES['small_eur']}"
    await psflow(env, "start", O2P, DEMO_OPPORTUNITIES["small_eur"], "--as", "sam")

    def retried(status: dict[str, Any]) -> bool:
        retrying = step_named(status, CUSTOMER_STEP)["retrying"]
        return retrying is not None and retrying["next_try"] is not None

    status = await until(env, stalled_id, retried)
    step = step_named(status, CUSTOMER_STEP)
    retrying = step["retrying"]
    now = datetime.now(UTC)
    assert status["state"] == "running" and step["state"] == "running"
    assert retrying["activity"] == "erp.upsert_customer"
    assert retrying["system"] == "ERP" and retrying["http_status"] == 503
    assert "answered 503" in retrying["last_error"] and "injected fault" in retrying["last_error"]
    assert retrying["attempt"] >= 2
    since = moment(retrying["since"])  # the first attempt, not the latest one
    assert abs(since - moment(step["started_at"])) < timedelta(seconds=2)
    assert since <= moment(retrying["last_attempt_at"]) <= now < moment(retrying["next_try"])
    others = [s["retrying"] for s in status["steps"] if s["name"] != CUSTOMER_STEP]
    assert others == [None] * len(others)

    shown = (await psflow(env, "status", stalled_id)).stdout
    assert f"retrying: {CUSTOMER_STEP}" in shown
    assert "ERP (erp.upsert_customer), attempt " in shown
    assert "since " in shown and "last error: erp: GET" in shown and "answered 503" in shown
    assert "next try " in shown or "an attempt is running now" in shown

    table = await psflow(env, "list", "--workflow", O2P)
    assert "retrying" in row_of(table, stalled_id) and "ERP (attempt" in row_of(table, stalled_id)
    assert "retrying" not in row_of(table, waiting_id)
    rows = {
        row["workflow_id"]: row for row in json.loads((await psflow(env, "list", "--json")).stdout)
    }
    assert step_named(rows[stalled_id], CUSTOMER_STEP)["retrying"]["system"] == "ERP"
    assert all(s["retrying"] is None for s in rows[waiting_id]["steps"])

    # An SRE finds both by search attribute, each at its step; the stalled one from its
    # third failed attempt on.
    ours = f"WorkflowId IN ('{stalled_id}', '{waiting_id}')"
    await found(client, f"{ours} AND PsflowStalledOn = 'ERP'", [stalled_id])
    await found(client, f"{ours} AND PsflowStep = '{CUSTOMER_STEP}'", [stalled_id])
    await found(client, f"{ours} AND PsflowStep = '{APPROVAL_STEP}'", [waiting_id])
    await found(client, f"{ours} AND PsflowWaitingFor = 'approval'", [waiting_id])

    await asyncio.sleep((since + timedelta(seconds=1.2) - datetime.now(UTC)).total_seconds())
    stalled = await psflow(env, "list", "--stalled", "--for", "1s", "--json")
    assert listed(stalled) == [stalled_id]
    assert stalled_id in (await psflow(env, "list", "--stalled", "--for", "1s")).stdout
    patient = await psflow(env, "list", "--stalled")  # 10 minutes by default
    assert "no running workflow has had a step retrying for 10m" in patient.stdout

    sandbox.clear_faults()
    watched = await asyncio.to_thread(runner.invoke, app, ["watch", stalled_id], env=env)
    assert watched.exit_code == 0, watched.output
    done = await status_json(env, stalled_id)
    assert done["state"] == "completed"
    assert all(s["retrying"] is None for s in done["steps"])
    assert step_named(done, CUSTOMER_STEP)["state"] == "done"
    assert listed(await psflow(env, "list", "--stalled", "--for", "0s", "--json")) == []
    await found(client, f"{ours} AND PsflowStalledOn IS NOT NULL", [])
    await found(client, f"{ours} AND PsflowStep = '{LAST_STEP}'", [stalled_id])  # ended there
