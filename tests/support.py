"""Helpers the end-to-end tests share: servers, settings, a worker, sandbox inspection."""

import asyncio
import os
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.converter import DataConverter

from config import Settings, load_settings
from models.identity import Identity
from models.people import Approval, Correction, Rejection
from security.issuer import LOCAL_ISSUER, issue_proof
from store.db import open_engine

D = TypeVar("D", Approval, Rejection, Correction)

BIN = Path(sys.executable).parent
TEMPORAL = str(BIN / "temporal")
TEST_SERVER = str(BIN / "temporal-test-server")
# Payload encryption is on in every test estate (tests/test_codec.py); fixed keys, tests only.
CODEC_KEYS = {"2026-05": "dGVzdC1vbmx5IGtleSAyMDI2LTA1IC4uLi4uLi4uLi4=",
              "2026-11": "dGVzdC1vbmx5IGtleSAyMDI2LTExIC4uLi4uLi4uLi4="}  # fmt: skip
CODEC_TOML = f"""
[codec]
current = "2026-11"
keys = {{ {", ".join(f'"{k}" = "{v}"' for k, v in CODEC_KEYS.items())} }}
server_token = "test-codec-token"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Test modules that run a sandbox of their own also get a namespace of their own, so that
# their business keys (workflow ids) never meet the shared sandbox's on the one dev server.
OWN_NAMESPACES = (
    "ingress-tests", "reconcile-tests", "report-tests", "proofs-tests", "inbox-tests", "fuzz-tests",
)  # fmt: skip


async def client_in(env: Any, namespace: str) -> Client:
    """A client of the suite's dev server in one of OWN_NAMESPACES (env: WorkflowEnvironment)."""
    target = env.client.service_client.config.target_host
    return await Client.connect(target, namespace=namespace, data_converter=encrypting_converter())


def write_settings(
    folder: Path,
    temporal_address: str = "127.0.0.1:7233",
    ui_url: str = "http://localhost:8233",
    name: str = "psflow.toml",
    codec: bool = True,
    namespace: str = "default",
) -> Path:
    """A config file for an isolated estate: own data folder, free ports."""
    crm, erp, psa, hcm, ingress, inbox = (free_port() for _ in range(6))
    config = folder / name
    config.write_text(
        f"""
data_dir = "{folder / "data"}"

[temporal]
address = "{temporal_address}"
namespace = "{namespace}"
ui_url = "{ui_url}"

[sandbox]
crm_port = {crm}
erp_port = {erp}
psa_port = {psa}
hcm_port = {hcm}

[crm]
url = "http://127.0.0.1:{crm}"

[erp]
url = "http://127.0.0.1:{erp}"

[psa]
url = "http://127.0.0.1:{psa}"

[hcm]
url = "http://127.0.0.1:{hcm}"

[ingress]
port = {ingress}

[inbox]
port = {inbox}
"""
        + (CODEC_TOML if codec else "")
    )
    return config


class Sandbox:
    """The sandbox systems in their own process, as `psflow sandbox up` runs them."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.settings = load_settings(config)
        self.process: subprocess.Popen[bytes] | None = None
        self.urls = {
            "crm": self.settings.crm.url,
            "erp": self.settings.erp.url,
            "psa": self.settings.psa.url,
            "hcm": self.settings.hcm.url,
        }

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--config", str(self.config)],
            cwd=Path(__file__).parent.parent,
        )
        deadline = time.monotonic() + 60
        for url in self.urls.values():
            while True:
                try:
                    if httpx.get(f"{url}/__admin/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"sandbox did not start ({url})")
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def fault(self, system: str, **spec: Any) -> None:
        response = httpx.post(f"{self.urls[system]}/__admin/faults", json=spec, timeout=5)
        response.raise_for_status()

    def armed_faults(self, system: str) -> list[dict[str, Any]]:
        """Faults still armed on a system (spent ones are gone)."""
        response = httpx.get(f"{self.urls[system]}/__admin/faults", timeout=5)
        response.raise_for_status()
        faults: list[dict[str, Any]] = response.json()
        return faults

    def clear_faults(self) -> None:
        for url in self.urls.values():
            httpx.delete(f"{url}/__admin/faults", timeout=5).raise_for_status()


@asynccontextmanager
async def running_worker(
    client: Client, settings: Settings, task_queue: str
) -> AsyncIterator[Settings]:
    """The real psflow worker (worker.run_worker) on its own task queue."""
    from worker import run_worker

    settings = settings.model_copy(deep=True)
    settings.temporal.task_queue = task_queue
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(settings, client=client, stop=stop))
    try:
        await asyncio.sleep(0)
        yield settings
    finally:
        stop.set()
        await task


def encrypting_converter() -> DataConverter:
    """The data converter of every test estate's settings: pydantic, encrypted."""
    from security.codec import data_converter

    return data_converter(Settings.model_validate({"codec": tomllib.loads(CODEC_TOML)["codec"]}))


def env_for(config: Path, **extra: str) -> dict[str, str]:
    """The CLI's environment for the estate of `config`; its sign-ins are cached beside it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSFLOW_")}
    env["PSFLOW_CONFIG"] = str(config)
    env["XDG_CACHE_HOME"] = str(config.parent / "cache")
    env.update(extra)
    return env


PASSWORD = "test password, long enough"


def sign_in(env: dict[str, str], *users: str) -> None:
    """Give each user a local account (unless they have one) and sign them in, through the CLI
    as a person would (`psflow users add`, `psflow login`)."""
    from typer.testing import CliRunner

    from cli.main import app

    runner = CliRunner()
    for user in users:
        added = runner.invoke(
            app, ["users", "add", user, "--password-stdin"], f"{PASSWORD}\n", env=env
        )
        assert added.exit_code == 0 or "exists" in added.output, added.output
        login = runner.invoke(app, ["login", user, "--password-stdin"], f"{PASSWORD}\n", env=env)
        assert login.exit_code == 0, login.output


@contextmanager
def own_sandbox(folder: Path, temporal: Any, namespace: str = "default") -> Iterator[Sandbox]:
    """Sandbox systems and a store of a test module's own, on the session's Temporal
    (`temporal`: its WorkflowEnvironment), in `namespace`."""
    target = temporal.client.service_client.config.target_host
    box = Sandbox(write_settings(folder, target, namespace=namespace))
    box.start()
    try:
        yield box
    finally:
        box.stop()


class Systems:
    """The outside systems as psflow's own connectors see them, for asserting final state."""

    def __init__(self, settings: Settings) -> None:
        from connectors import systems

        self.crm = systems.crm(settings)
        self.erp = systems.erp(settings)
        self.psa = systems.psa(settings)
        self.hcm = systems.hcm(settings)

    async def aclose(self) -> None:
        for connector in (self.crm, self.erp, self.psa, self.hcm):
            await connector.aclose()


# ---- decision proofs: the tests act as psflow's issuer, whose keys are in the estate's store --

_ENGINES: dict[str, Engine] = {}


def _store(settings: Settings) -> Engine:
    url = settings.resolved_store_url
    if url not in _ENGINES:
        _ENGINES[url] = open_engine(url)
    return _ENGINES[url]


def proof(
    settings: Settings, workflow_id: str, decision: str, user: str, roles: list[str] | None = None
) -> str:
    """A proof, from the issuer of `settings`' store, that `user` sends `decision` (approve,
    reject, correct) to `workflow_id`; roles None: the policy's users say."""
    identity = Identity(user=user, subject=f"test-{user}", issuer=LOCAL_ISSUER, roles=roles)
    return issue_proof(_store(settings), identity, workflow_id, decision)


def proven(settings: Settings, workflow_id: str, decision: str, sent: D) -> D:
    """`sent` (an Approval, Rejection or Correction) with a proof that its user sends it."""
    return sent.model_copy(update={"proof": proof(settings, workflow_id, decision, sent.user)})
