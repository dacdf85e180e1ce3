"""Durability and plain-Temporal interoperability: a killed worker, the `temporal` CLI."""

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import uvicorn
from temporalio.client import Client

from cli.codec_server import codec_app, server_parts
from config import Settings
from models.opportunity_to_project import project_external_id
from models.people import Approval
from models.status import StepState, WaitKind
from sandbox.crm.seed import DEMO_OPPORTUNITIES, SPARE_CLOSED_WON
from tests.support import TEMPORAL, Sandbox, Systems, env_for, free_port, proven, running_worker
from tests.test_opportunity_to_project import start, status_when, unique_queue, waiting_for

ROOT = Path(__file__).parent.parent


def worker_process(config: Path, task_queue: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "worker.py"],
        cwd=ROOT,
        env=env_for(config, PSFLOW_TASK_QUEUE=task_queue),
    )


async def test_worker_killed_in_the_middle_of_the_saga_completes_after_restart(
    client: Client, settings: Settings, sandbox: Sandbox, systems: Systems, config_file: Path
) -> None:
    opportunity_id = SPARE_CLOSED_WON[5]
    queue = unique_queue()
    # The PSA answers the project create slowly, so the worker dies with it in flight.
    sandbox.fault("psa", path="/api/v1/projects", method="POST", status=None, latency_ms=3000)
    first = worker_process(config_file, queue)
    second = None
    try:
        used = settings.model_copy(deep=True)
        used.temporal.task_queue = queue
        handle = await start(client, used, opportunity_id)
        await status_when(
            handle,
            lambda s: any(
                step.name == "create PSA project" and step.state == StepState.RUNNING
                for step in s.steps
            ),
        )
        first.send_signal(signal.SIGKILL)
        first.wait()
        second = worker_process(config_file, queue)
        result = await handle.result()
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                process.kill()
                process.wait()

    assert result.outcome == "completed"
    eid = project_external_id(opportunity_id)
    assert [p.id for p in await systems.psa.list_projects(external_id=eid)] == [
        result.psa_project_id
    ]
    assert (await systems.erp.get_project(eid)).id == result.erp_project_id
    requests = await systems.psa.list_staffing_requests(result.psa_project_id)
    assert len(requests) == len(result.staffing_request_ids)


async def test_plain_temporal_cli_reads_status_and_sends_approve(
    client: Client, settings: Settings, systems: Systems
) -> None:
    """Payloads are encrypted: the plain CLI reads them through `psflow codec-server`."""
    opportunity_id = DEMO_OPPORTUNITIES["large_eur"]
    address = client.service_client.config.target_host
    codec, token, origins = server_parts(settings)
    port = free_port()
    codec_server = uvicorn.Server(
        uvicorn.Config(codec_app(codec, token, origins), host="127.0.0.1", port=port,
                       log_level="warning", lifespan="off")
    )  # fmt: skip
    serving = asyncio.create_task(codec_server.serve())
    async with running_worker(client, settings, unique_queue()) as used:
        handle = await start(client, used, opportunity_id)
        await status_when(handle, waiting_for(WaitKind.APPROVAL))

        async def temporal(*args: str) -> str:
            # Asynchronously, so the worker in this event loop can answer meanwhile.
            process = await asyncio.create_subprocess_exec(
                TEMPORAL, "workflow", *args, "--address", address, "--workflow-id", handle.id,
                "--codec-endpoint", f"http://127.0.0.1:{port}", "--codec-auth", f"Bearer {token}",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode == 0, err.decode()
            return out.decode()

        try:
            answer = json.loads(await temporal("query", "--name", "status", "--output", "json"))
            status = answer["queryResult"][0]
            assert status["state"] == "waiting"
            assert status["waiting_for"]["kind"] == "approval"
            approval = proven(used, handle.id, "approve", Approval(user="morgan"))
            await temporal("signal", "--name", "approve", "--input", approval.model_dump_json())
            result = await handle.result()
        finally:
            codec_server.should_exit = True
            await serving
    assert result.outcome == "completed"
    deal = await systems.crm.get_opportunity(opportunity_id)
    assert deal.erp_project_id == result.erp_project_id
