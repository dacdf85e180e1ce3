"""The psflow CLI against a live Temporal dev server, the sandbox and the real worker."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli.main import app
from config import load_settings
from models.status import WorkflowStatus
from sandbox.catalog import sf_id
from sandbox.crm.seed import DEMO_OPPORTUNITIES
from sandbox.hcm.seed import SPARE_PREHIRES
from tests.support import (
    TEMPORAL,
    Sandbox,
    encrypting_converter,
    free_port,
    running_worker,
    sign_in,
    write_settings,
)
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

PSFLOW = str(Path(sys.executable).parent / "psflow")
O2P = "opportunity-to-project"
H2S = "hire-to-staff"
H2S_STEPS = [
    "read worker",
    "validate worker",
    "provision PSA resource",
    "provision ERP employee",
    "match staffing request",
    "resource-manager approval",
    "assign to project",
    "push labour forecast",
]
# Spare pre-hires whose roles (Solution Architect, Consultant) have open requests in the PSA
# seed that nothing else in this module fills, so each reaches the approval every time.
ARCHITECT, CONSULTANT = SPARE_PREHIRES[2], SPARE_PREHIRES[3]
runner = CliRunner()


def wid(deal: str) -> str:
    return f"{O2P}/{DEMO_OPPORTUNITIES[deal]}"


@pytest.fixture(scope="module")
async def cli_temporal() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of this module's own, so the deals it starts are fresh."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=TEMPORAL,
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=encrypting_converter(),
    )
    async with env:
        yield env


@pytest.fixture(scope="module")
def cli_config(
    tmp_path_factory: pytest.TempPathFactory, cli_temporal: WorkflowEnvironment
) -> Iterator[Path]:
    """Settings for this estate, with the sandbox running as `psflow sandbox up` would."""
    folder = tmp_path_factory.mktemp("cli-estate")
    config = write_settings(folder, cli_temporal.client.service_client.config.target_host)
    box = Sandbox(config)
    box.start()
    try:
        yield config
    finally:
        box.stop()


@pytest.fixture(scope="module")
async def cli_env(
    cli_temporal: WorkflowEnvironment, cli_config: Path
) -> AsyncIterator[dict[str, str]]:
    """A worker on its own task queue; yields the environment that points the CLI at it."""
    queue = f"psflow-cli-{uuid.uuid4()}"
    env = {"PSFLOW_CONFIG": str(cli_config), "PSFLOW_TASK_QUEUE": queue,
           "XDG_CACHE_HOME": str(cli_config.parent / "cache")}  # fmt: skip
    sign_in(env, "sam", "dana", "rita", "omar", "morgan")
    async with running_worker(cli_temporal.client, load_settings(cli_config), queue):
        yield env


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PSFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def client(cli_temporal: WorkflowEnvironment) -> Client:
    return cli_temporal.client


async def psflow(env: dict[str, str], *args: str) -> Result:
    """Run the CLI in a thread (it runs its own event loop), as a user would."""
    return await asyncio.to_thread(runner.invoke, app, list(args), env=env)


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


async def status_json(env: dict[str, str], workflow_id: str) -> dict[str, object]:
    result = await psflow(env, "status", workflow_id, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


async def until_state(env: dict[str, str], workflow_id: str, state: str) -> dict[str, object]:
    for _ in range(150):
        data = await status_json(env, workflow_id)
        if data["state"] == state:
            return data
        await asyncio.sleep(0.2)
    raise AssertionError(f"{workflow_id} never reached {state}: {data}")


async def test_unknown_opportunity_is_one_line_and_starts_nothing(
    cli_env: dict[str, str], client: Client
) -> None:
    missing = sf_id("006", 9999)
    line = one_line_error(await psflow(cli_env, "start", O2P, missing))
    assert line == f"error: opportunity {missing} does not exist in the CRM: check the id"
    with pytest.raises(RPCError) as err:
        await client.get_workflow_handle(f"{O2P}/{missing}").describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND


async def test_large_deal_approval_journey(cli_env: dict[str, str], client: Client) -> None:
    workflow_id = wid("large_usd")
    started = await psflow(cli_env, "start", O2P, DEMO_OPPORTUNITIES["large_usd"], "--as", "sam")
    assert started.exit_code == 0, started.output
    assert f"{workflow_id} started" in started.stdout
    assert "/namespaces/default/workflows/opportunity-to-project%2F" in started.stdout

    waiting = await until_state(cli_env, workflow_id, "waiting")
    again = await psflow(cli_env, "start", O2P, DEMO_OPPORTUNITIES["large_usd"])
    assert f"{workflow_id} already running" in again.stdout

    queried = await client.get_workflow_handle(workflow_id).query(
        "status", result_type=WorkflowStatus
    )
    assert waiting == queried.model_dump(mode="json")
    assert waiting["waiting_for"]["kind"] == "approval"  # type: ignore[index]

    listed = await psflow(cli_env, "list", "--waiting", "--json")
    assert workflow_id in [row["workflow_id"] for row in json.loads(listed.stdout)]

    refused = one_line_error(await psflow(cli_env, "approve", workflow_id, "--as", "sam"))
    assert (
        refused
        == "error: approve refused: sam does not have the deal-desk role this decision needs"
    )

    approved = await psflow(cli_env, "approve", workflow_id, "--as", "dana", "--comment", "ok")
    assert approved.exit_code == 0, approved.output
    assert "approved by dana" in approved.stdout

    watched = await psflow(cli_env, "watch", workflow_id)
    assert watched.exit_code == 0, watched.output
    assert watched.stdout.rstrip().endswith(f"{workflow_id} completed")

    late = one_line_error(await psflow(cli_env, "approve", workflow_id, "--as", "dana"))
    assert late == f"error: workflow {workflow_id} is not running (state: completed)"


async def test_a_decision_through_the_plain_temporal_cli_carries_a_token_psflow_prints(
    cli_env: dict[str, str], client: Client
) -> None:
    workflow_id = wid("large_owned_by_dana")
    key = DEMO_OPPORTUNITIES["large_owned_by_dana"]
    assert (await psflow(cli_env, "start", O2P, key)).exit_code == 0
    await until_state(cli_env, workflow_id, "waiting")
    handle = client.get_workflow_handle(workflow_id)
    claimed = {"user": "morgan", "comment": "ok"}  # what `temporal workflow update` sent before
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("approve", claimed)
    assert "psflow token --for approve" in str(refused.value.cause)

    printed = await psflow(cli_env, "token", "--for", "approve", workflow_id, "--as", "morgan")
    assert printed.exit_code == 0, printed.output
    given = json.loads(printed.stdout)
    assert given["user"] == "morgan" and given["proof"].count(".") == 2
    assert await handle.execute_update("approve", given, result_type=str) == "approved by morgan"
    wrong = one_line_error(await psflow(cli_env, "token", "--for", "release", workflow_id))
    assert wrong == "error: --for 'release': use one of approve, reject, correct"
    nobody = one_line_error(
        await psflow(cli_env, "token", "--for", "approve", workflow_id, "--as", "priya")
    )
    assert nobody == "error: priya is not signed in: `psflow login priya`"


async def test_correction_journey(cli_env: dict[str, str]) -> None:
    workflow_id = wid("unknown_legal_entity")
    key = DEMO_OPPORTUNITIES["unknown_legal_entity"]
    assert (await psflow(cli_env, "start", O2P, key)).exit_code == 0
    waiting = await until_state(cli_env, workflow_id, "waiting")
    problems = waiting["waiting_for"]["problems"]  # type: ignore[index]
    assert [p["field"] for p in problems] == ["legal_entity"]

    shown = await psflow(cli_env, "status", workflow_id)
    assert "legal_entity" in shown.stdout and "correction" in shown.stdout

    unknown = one_line_error(
        await psflow(cli_env, "correct", workflow_id, "--as", "dana", "--set", "nofield=1")
    )
    assert unknown.startswith("error: correct refused: cannot correct nofield")

    fixed = await psflow(
        cli_env, "correct", workflow_id, "--as", "dana", "--set", "legal_entity=US01"
    )
    assert fixed.exit_code == 0, fixed.output
    assert (await psflow(cli_env, "watch", workflow_id)).exit_code == 0


async def test_cancel_undoes_and_watch_exits_1(cli_env: dict[str, str]) -> None:
    workflow_id = wid("large_gbp")
    assert (await psflow(cli_env, "start", O2P, DEMO_OPPORTUNITIES["large_gbp"])).exit_code == 0
    await until_state(cli_env, workflow_id, "waiting")
    cancelled = await psflow(cli_env, "cancel", workflow_id)
    assert cancelled.exit_code == 0, cancelled.output
    watched = await psflow(cli_env, "watch", workflow_id)
    assert watched.exit_code == 1
    assert watched.stdout.rstrip().endswith(f"{workflow_id} cancelled")
    again = one_line_error(await psflow(cli_env, "cancel", workflow_id))
    assert again == f"error: workflow {workflow_id} is not running (state: cancelled)"


async def test_no_worker_is_one_line_at_once(cli_env: dict[str, str], client: Client) -> None:
    from workflows.catalog import WORKFLOWS

    kind = WORKFLOWS[O2P]
    key = DEMO_OPPORTUNITIES["small_gbp"]
    queue = f"nobody-polls-{uuid.uuid4()}"
    await client.start_workflow(
        kind.workflow.run, kind.input_for(key, "test"), id=kind.workflow_id(key), task_queue=queue
    )
    for command in (["status"], ["watch"], ["approve", "--as", "dana"]):
        began = time.monotonic()
        line = one_line_error(
            await psflow(cli_env, command[0], kind.workflow_id(key), *command[1:])
        )
        assert line.startswith(f"error: no worker is serving task queue {queue}: start one")
        assert time.monotonic() - began < 5
    await client.get_workflow_handle(kind.workflow_id(key)).terminate()


async def test_status_of_unknown_workflow(cli_env: dict[str, str]) -> None:
    missing = f"{O2P}/{sf_id('006', 9998)}"
    line = one_line_error(await psflow(cli_env, "status", missing))
    assert line == f"error: no workflow {missing}: check the id with `psflow list`"


async def test_console_script_exits_with_its_own_code_every_time(
    cli_env: dict[str, str],
) -> None:
    """Temporal's Rust client freed at interpreter shutdown used to crash ~1 exit in 15."""
    missing = f"{O2P}/{sf_id('006', 9997)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSFLOW_")} | cli_env

    async def once() -> tuple[int | None, str]:
        process = await asyncio.create_subprocess_exec(
            PSFLOW,
            "status",
            missing,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await process.communicate()
        return process.returncode, err.decode()

    outcomes = []
    for _ in range(6):
        outcomes += await asyncio.gather(*(once() for _ in range(5)))
    crashed = [(code, err[-300:]) for code, err in outcomes if code != 1]
    assert not crashed, crashed
    assert all("no workflow" in err for _, err in outcomes)


async def test_list_all_shows_closed_ones(cli_env: dict[str, str]) -> None:
    workflow_id = wid("small_usd")
    assert (await psflow(cli_env, "start", O2P, DEMO_OPPORTUNITIES["small_usd"])).exit_code == 0
    assert (await psflow(cli_env, "watch", workflow_id)).exit_code == 0
    running = json.loads((await psflow(cli_env, "list", "--json")).stdout)
    assert workflow_id not in [row["workflow_id"] for row in running]
    everything = json.loads((await psflow(cli_env, "list", "--all", "--json")).stdout)
    states = {row["workflow_id"]: row["state"] for row in everything}
    assert states[workflow_id] == "completed"
    table = await psflow(cli_env, "list", "--all", "--workflow", O2P)
    assert table.exit_code == 0 and "completed" in table.stdout


async def test_sandbox_fault_and_reset(cli_env: dict[str, str], cli_config: Path) -> None:
    erp = load_settings(cli_config).erp.url
    armed = await psflow(
        cli_env, "sandbox", "fault", "erp", "--path", "*/nothing*", "--status", "429",
        "--retry-after", "1", "--count", "2",
    )  # fmt: skip
    assert armed.exit_code == 0, armed.output
    async with httpx.AsyncClient(base_url=f"{erp}/__admin") as admin:
        faults = (await admin.get("/faults")).json()
    assert [(f["path"], f["status"], f["remaining"]) for f in faults] == [("*/nothing*", 429, 2)]
    assert (await psflow(cli_env, "sandbox", "fault", "erp", "--clear")).exit_code == 0
    async with httpx.AsyncClient(base_url=f"{erp}/__admin") as admin:
        assert (await admin.get("/faults")).json() == []
    assert (await psflow(cli_env, "sandbox", "reset", "psa")).exit_code == 0


async def test_unknown_worker_is_one_line_and_starts_nothing(
    cli_env: dict[str, str], client: Client
) -> None:
    line = one_line_error(await psflow(cli_env, "start", H2S, "99999"))
    assert line == "error: worker 99999 does not exist in the HCM: check the id"
    with pytest.raises(RPCError) as err:
        await client.get_workflow_handle(f"{H2S}/99999").describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND


async def hired_and_waiting(env: dict[str, str], worker_id: str) -> dict[str, Any]:
    """Hire the pre-hire in the HCM, start hire-to-staff; returns its status at the approval."""
    hired = await psflow(env, "sandbox", "event", "hire", worker_id)
    assert hired.exit_code == 0, hired.output
    assert f"hire of worker {worker_id}" in hired.stdout
    started = await psflow(env, "start", H2S, worker_id, "--as", "rita")
    assert started.exit_code == 0, started.output
    assert f"{H2S}/{worker_id} started" in started.stdout
    return await until_state(env, f"{H2S}/{worker_id}", "waiting")


async def bench_json(env: dict[str, str]) -> dict[str, Any]:
    result = await psflow(env, "bench", "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def proposed_request(status: dict[str, Any]) -> str:
    """The request id in the match step's detail: "proposed SR-... (N h) on PRJ-..."."""
    [match] = [s for s in status["steps"] if s["name"] == "match staffing request"]
    assert match["detail"].startswith("proposed "), match
    request_id: str = match["detail"].split()[1]
    return request_id


async def test_hire_waits_for_a_resource_manager_then_is_assigned(
    cli_env: dict[str, str],
) -> None:
    workflow_id = f"{H2S}/{ARCHITECT}"
    waiting = await hired_and_waiting(cli_env, ARCHITECT)
    assert [s["name"] for s in waiting["steps"]] == H2S_STEPS
    assert [s["state"] for s in waiting["steps"]] == ["done"] * 5 + ["waiting"] + ["pending"] * 2
    assert waiting["waiting_for"]["kind"] == "approval"
    assert waiting["waiting_for"]["role"] == "resource-manager"
    request_id = proposed_request(waiting)

    # Provisioned but not yet assigned: on the bench, beside the request proposed for them.
    bench = await bench_json(cli_env)
    assert f"hcm-{ARCHITECT}" in [r["external_id"] for r in bench["resources"]]
    assert request_id in [r["id"] for r in bench["staffing_requests"]]

    refused = one_line_error(await psflow(cli_env, "approve", workflow_id, "--as", "dana"))
    assert refused == (
        "error: approve refused: dana does not have the resource-manager role this decision needs"
    )
    approved = await psflow(cli_env, "approve", workflow_id, "--as", "rita", "--comment", "fit")
    assert approved.exit_code == 0, approved.output
    assert "approved by rita" in approved.stdout
    watched = await psflow(cli_env, "watch", workflow_id)
    assert watched.exit_code == 0, watched.output
    assert watched.stdout.rstrip().endswith(f"{workflow_id} completed")

    done: dict[str, Any] = await status_json(cli_env, workflow_id)
    assert [s["state"] for s in done["steps"]] == ["done"] * 8
    bench = await bench_json(cli_env)
    assert f"hcm-{ARCHITECT}" not in [r["external_id"] for r in bench["resources"]]
    assert request_id not in [r["id"] for r in bench["staffing_requests"]]


async def test_rejected_match_leaves_the_hire_on_the_bench(cli_env: dict[str, str]) -> None:
    workflow_id = f"{H2S}/{CONSULTANT}"
    request_id = proposed_request(await hired_and_waiting(cli_env, CONSULTANT))
    rejected = await psflow(
        cli_env, "reject", workflow_id, "--as", "omar", "--reason", "keep for the next deal"
    )
    assert rejected.exit_code == 0, rejected.output
    done: dict[str, Any] = await until_state(cli_env, workflow_id, "completed")
    states = {s["name"]: s["state"] for s in done["steps"]}
    assert states["resource-manager approval"] == "done"
    assert states["assign to project"] == states["push labour forecast"] == "skipped"

    bench = await bench_json(cli_env)
    [resource] = [r for r in bench["resources"] if r["external_id"] == f"hcm-{CONSULTANT}"]
    assert resource["active"] is True and resource["role"] == "Consultant"
    assert request_id in [r["id"] for r in bench["staffing_requests"]]


async def test_bench_lists_free_resources_and_open_requests(cli_env: dict[str, str]) -> None:
    bench = await bench_json(cli_env)
    assert set(bench) == {"resources", "staffing_requests"}
    assert bench["resources"] and bench["staffing_requests"]
    # The PSA seed's bench predates psflow: Marcus Reed (19004) has never been staffed.
    [marcus] = [r for r in bench["resources"] if r["external_id"] == "19004"]
    assert all(r["active"] for r in bench["resources"])
    assert {r["status"] for r in bench["staffing_requests"]} == {"open"}
    table = await psflow(cli_env, "bench")  # 80 columns: ids must still be whole
    assert table.exit_code == 0, table.output
    assert f"Bench: {len(bench['resources'])} free" in table.stdout
    assert marcus["id"] in table.stdout
    assert all(r["id"] in table.stdout for r in bench["staffing_requests"])


def stack_config(folder: Path) -> Path:
    """Settings for a whole local stack (Temporal, UI, sandbox) on free ports."""
    return write_settings(
        folder,
        f"127.0.0.1:{free_port()}",
        ui_url=f"http://localhost:{free_port()}",
        name="stack.toml",
    )


def stack_env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSFLOW_")}
    return env | {"PSFLOW_CONFIG": str(config), "COLUMNS": "160"}


def ports_free(config: Path) -> bool:
    from stack.local import port_free, split_address, ui_port

    settings = load_settings(config)
    box = settings.sandbox
    ports = [split_address(settings.temporal.address)[1], ui_port(settings)]
    ports += [box.crm_port, box.erp_port, box.psa_port, box.hcm_port, settings.ingress.port]
    return all(port_free("127.0.0.1", p) for p in ports)


def test_dev_serves_until_sigint_then_stops_everything(tmp_path: Path) -> None:
    config = stack_config(tmp_path)
    env = stack_env(config)
    dev = subprocess.Popen([PSFLOW, "dev"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert dev.stdout is not None
        ready = any("Ctrl-C stops everything" in line for line in dev.stdout)
        assert ready, "psflow dev never printed its panel"
        listed = subprocess.run([PSFLOW, "list"], env=env, capture_output=True, text=True)
        assert listed.returncode == 0, listed.stderr
        assert "no workflows match" in listed.stdout
    finally:
        dev.send_signal(signal.SIGINT)
        out, _ = dev.communicate(timeout=30)
    assert dev.returncode == 0
    assert "stopped the worker, the inbox, the sandbox, ingress and Temporal" in out
    assert ports_free(config)


def test_demo_walks_the_journey_and_exits(tmp_path: Path) -> None:
    config = stack_config(tmp_path)
    began = time.monotonic()
    # the Tryton chapter has its own test: tests/test_demo_tryton.py
    demo = subprocess.run(
        [PSFLOW, "demo", "--exit", "--no-tryton"], env=stack_env(config), capture_output=True,
        text=True, timeout=240,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    chapters = ("1. A closed-won", "2. A large deal", "3. Bad data", "4. The ERP", "5. Staffing")
    chapters += ("6. Month-end", "7. The CRM speaks first", "8. Approvals in the browser")
    chapters += ("9. Everything at a glance",)
    for chapter in chapters:
        assert chapter in demo.stdout
    assert "approve refused: sam does not have the deal-desk role" in demo.stdout
    assert "$ psflow sandbox event hire 30001" in demo.stdout
    assert "$ psflow start hire-to-staff 30001 --as rita" in demo.stdout
    assert "resource-manager approval" in demo.stdout
    assert "approve refused: dana does not have the resource-manager role" in demo.stdout
    assert "approved by rita" in demo.stdout
    assert "Nora Castellano is assigned to PRJ-" in demo.stdout
    assert "labour forecast pushed" in demo.stdout
    assert "$ psflow bench" in demo.stdout and "Bench: " in demo.stdout
    assert "invoices drafted" in demo.stdout and "no rate for role" in demo.stdout
    assert "approve refused: paula does not have the finance role" in demo.stdout
    assert "invoice status to CRM" in demo.stdout and "Released" not in demo.stderr
    # Chapter 7: the CRM's event reached ingress, which started the deal's run.
    assert "opportunity.closed_won: ingress answered 202" in demo.stdout
    assert "opportunity-to-project/006Hs0000000011IAA  completed" in demo.stdout
    assert "psflow report" in demo.stdout and "project activation" in demo.stdout
    assert "sign in as morgan with password" in demo.stdout
    assert "demo complete" in demo.stdout
    assert time.monotonic() - began < 200
    assert ports_free(config)


async def test_hcm_events_start_the_workflows_they_call_for(cli_env: dict[str, str]) -> None:
    worker_id = SPARE_PREHIRES[0]
    hired = await psflow(cli_env, "sandbox", "event", "hire", worker_id, "--start", "--as", "rita")
    assert hired.exit_code == 0, hired.output
    assert f"started {H2S}/{worker_id}" in hired.stdout
    hire_id = f"{H2S}/{worker_id}"
    status = await status_json(cli_env, hire_id)
    for _ in range(150):
        if status["state"] in ("waiting", "completed"):
            break
        await asyncio.sleep(0.2)
        status = await status_json(cli_env, hire_id)
    if status["state"] == "waiting":
        rejected = await psflow(cli_env, "reject", hire_id, "--as", "omar", "--reason", "later")
        assert rejected.exit_code == 0, rejected.output
    await until_state(cli_env, hire_id, "completed")

    left = await psflow(cli_env, "sandbox", "event", "termination", worker_id, "--start")
    assert left.exit_code == 0, left.output
    change_id = next(w for w in left.stdout.split() if w.startswith("worker-change/"))
    assert change_id.startswith(f"worker-change/{worker_id}/EVT-")
    assert (await psflow(cli_env, "watch", change_id)).exit_code == 0
    done = await status_json(cli_env, change_id)
    states = {s["name"]: s["state"] for s in done["steps"]}  # type: ignore[index]
    assert states["deactivate PSA resource"] == "done"
    assert states["deactivate ERP employee"] == "done"


async def test_unknown_billing_project_is_one_line_and_starts_nothing(
    cli_env: dict[str, str], client: Client
) -> None:
    line = one_line_error(await psflow(cli_env, "start", "time-to-bill", "PRJ-NOPE/2026-10"))
    assert line == "error: project PRJ-NOPE does not exist in the PSA: check the id"
    with pytest.raises(RPCError) as err:
        await client.get_workflow_handle("time-to-bill/PRJ-NOPE/2026-10").describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND
