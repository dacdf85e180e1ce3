"""A worker told to stop (SIGTERM, as a container platform stops it) lets the activities in
flight finish within `[worker] shutdown_grace_seconds`, hands back the ones that cannot, says
how many of each, and exits 0; another worker finishes the run, nothing done twice."""

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from config import Settings
from models.opportunity_to_project import project_external_id
from models.status import StepState
from tests.support import Sandbox, Systems, env_for
from tests.test_opportunity_to_project import start, status_when, unique_queue

ROOT = Path(__file__).parent.parent
CREATE = "create PSA project"


def worker_process(config: Path, task_queue: str, grace: float) -> subprocess.Popen[str]:
    env = env_for(
        config, PSFLOW_TASK_QUEUE=task_queue, PSFLOW_WORKER_SHUTDOWN_GRACE_SECONDS=str(grace)
    )
    return subprocess.Popen(
        [sys.executable, "worker.py"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


def fresh_deal(sandbox: Sandbox) -> str:
    """A closed-won deal of this test's own, provisioned without a person."""
    added = httpx.post(f"{sandbox.urls['crm']}/__admin/seed/deals", json={"count": 1}, timeout=10)
    added.raise_for_status()
    return str(added.json()["opportunities"][0])


@pytest.mark.parametrize(
    ("grace", "latency_ms", "said"),
    [
        (20.0, 1500, "1 activities finished while stopping, 0 handed back to Temporal"),
        (0.5, 3000, "0 activities finished while stopping, 1 handed back to Temporal"),
    ],
)
async def test_sigterm_lets_activities_finish_or_hands_them_back_and_nothing_is_lost(
    client: Client,
    settings: Settings,
    sandbox: Sandbox,
    systems: Systems,
    config_file: Path,
    grace: float,
    latency_ms: int,
    said: str,
) -> None:
    opportunity_id = fresh_deal(sandbox)
    queue = unique_queue()
    # The PSA answers the project create slowly, so the worker is told to stop with it in flight.
    sandbox.fault("psa", path="/api/v1/projects", method="POST", status=None, latency_ms=latency_ms)
    first = worker_process(config_file, queue, grace)
    second = None
    try:
        used = settings.model_copy(deep=True)
        used.temporal.task_queue = queue
        handle = await start(client, used, opportunity_id)
        await status_when(
            handle,
            lambda s: any(st.name == CREATE and st.state == StepState.RUNNING for st in s.steps),
        )
        first.send_signal(signal.SIGTERM)
        _, log = first.communicate(timeout=60)
        second = worker_process(config_file, queue, grace)
        result = await handle.result()
    finally:
        sandbox.clear_faults()
        for process in (first, second):
            if process and process.poll() is None:
                process.kill()
                process.communicate()

    assert first.returncode == 0, log
    assert "worker stopping: 1 activities in flight" in log
    assert said in log
    assert result.outcome == "completed"
    projects = await systems.psa.list_projects(external_id=project_external_id(opportunity_id))
    assert [p.id for p in projects] == [result.psa_project_id]
