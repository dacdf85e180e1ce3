"""Everything the benchmark runs against, started by it and stopped by it.

A Temporal dev server (`temporal server start-dev`, in memory, free ports), the sandbox
systems in their own process, the psflow worker in its own process (so its memory is its own)
and a bare worker beside it with the same `[worker]` settings. All of it reads one config file
in a temporary folder. The chaos harness uses the same stack with the server on a database
file, without the bare worker, and kills and restarts its processes.
"""

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import httpx
from temporalio.client import Client

from config import Settings, load_settings
from worker import connect
from workflows.search_attributes import cli_flags

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TEMPORAL = BIN / "temporal"
SYSTEMS = ("crm", "erp", "psa", "hcm")
READY_LINE = "worker polling task queue"
START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(folder: Path, temporal: str, overrides: dict[str, dict[str, Any]]) -> Path:
    """A config for an estate of its own: data in `folder`, free ports, the given overrides
    ({section: {key: value}}, e.g. {"worker": {"max_concurrent_activities": 200}})."""
    ports = {system: free_port() for system in SYSTEMS}
    sections: dict[str, dict[str, Any]] = {
        "temporal": {"address": temporal},
        "sandbox": {f"{s}_port": p for s, p in ports.items()},
        **{s: {"url": f"http://127.0.0.1:{p}"} for s, p in ports.items()},
    }
    for section, values in overrides.items():
        sections.setdefault(section, {}).update(values)
    lines = [f"data_dir = {_toml(folder / 'data')}"]
    for section, values in sections.items():
        lines.append(f"\n[{section}]")
        lines += [f"{key} = {_toml(value)}" for key, value in values.items()]
    config = folder / "psflow.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory (VmRSS) or its peak (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Process:
    """A child process, its output in a log file (a restarted one appends to it)."""

    def __init__(self, name: str, command: list[str], log: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log = log
        self._start = log.stat().st_size if log.exists() else 0
        self._out: IO[bytes] = log.open("ab")
        self.popen = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    async def wait_for_line(self, text: str) -> None:
        """Until this run of the process (not an earlier one in the same log) writes `text`."""
        deadline = time.monotonic() + START_TIMEOUT
        while text not in self._output():
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start:\n{self.tail()}")
            await asyncio.sleep(0.1)

    def _output(self) -> str:
        with self.log.open("rb") as log:
            log.seek(self._start)
            return log.read().decode(errors="replace")

    def tail(self, lines: int = 15) -> str:
        """The last lines of its output (the log goes with the stack's folder)."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would end it."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()
        self._out.close()

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._out.close()


class Stack:
    """Dev server, sandbox, psflow worker and bare worker; `async with Stack(...) as stack`.

    `persistent` keeps the server's data in a database file in the folder, so a killed server
    restarts where it was; `keep` leaves the folder (config, logs, data) after stopping.
    """

    def __init__(
        self,
        overrides: dict[str, dict[str, Any]] | None = None,
        *,
        bare_worker: bool = True,
        persistent: bool = False,
        keep: bool = False,
        prefix: str = "psflow-bench-",
    ) -> None:
        self.overrides = overrides or {}
        self.bare_worker = bare_worker
        self.persistent = persistent
        self.keep = keep
        self.folder = Path(tempfile.mkdtemp(prefix=prefix))
        self._client: Client | None = None
        self.processes: dict[str, Process] = {}
        self.settings = Settings()
        self.config = self.folder / "psflow.toml"
        self._server_command: list[str] = []

    @property
    def client(self) -> Client:
        assert self._client is not None, "the stack is not started"
        return self._client

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _start(self) -> None:
        self.config = write_config(self.folder, f"127.0.0.1:{free_port()}", self.overrides)
        self.settings = load_settings(self.config)
        server = self._start_server()
        await self._start_sandbox()
        self._client = await self._connect(server)
        workers = [self.start_worker()]
        if self.bare_worker:
            workers.append(self._start_bare_worker())
        await asyncio.gather(*workers)

    def _start_server(self) -> Process:
        """The dev server, headless, with psflow's search attributes; in memory unless the
        stack is persistent. A restart runs the same command (same ports, same file)."""
        if not self._server_command:
            port = self.settings.temporal.address.rpartition(":")[2]
            self._server_command = [
                str(TEMPORAL), "server", "start-dev", "--headless",
                "--ip", "127.0.0.1", "--port", port, "--http-port", str(free_port()),
                "--metrics-port", str(free_port()), "--log-level", "error", *cli_flags(),
            ]  # fmt: skip
            if self.persistent:
                self._server_command += [
                    "--db-filename", str(self.folder / "temporal.db"),
                    "--sqlite-pragma", "journal_mode=WAL",
                ]  # fmt: skip
        log = self.folder / "temporal.log"
        process = Process("temporal", self._server_command, log, dict(os.environ))
        self.processes["temporal"] = process
        return process

    async def restart_server(self) -> None:
        """Start the server again (after `kill("temporal")`) and wait until it answers."""
        if "temporal" in self.processes:
            self.processes.pop("temporal").stop()
        self._client = await self._connect(self._start_server())

    def kill(self, name: str) -> None:
        """SIGKILL one process of the stack; it stays down until started again."""
        if name in self.processes:
            self.processes.pop(name).kill()

    def running(self, name: str) -> bool:
        """Whether the process is there and has not exited."""
        process = self.processes.get(name)
        return process is not None and process.popen.poll() is None

    async def _connect(self, server: Process) -> Client:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                return await connect(self.settings)
            except RuntimeError:
                if server.popen.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the dev server did not start:\n{server.tail()}") from None
                await asyncio.sleep(0.2)

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PSFLOW_")}
        env["PSFLOW_CONFIG"] = str(self.config)
        return env

    def _spawn(self, name: str, args: list[str]) -> Process:
        """`python <args>` of this interpreter, reading the stack's config."""
        command = [sys.executable, *args]
        process = Process(name, command, self.folder / f"{name}.log", self._child_env())
        self.processes[name] = process
        return process

    async def _start_sandbox(self) -> None:
        self._spawn("sandbox", ["-m", "sandbox", "--config", str(self.config)])
        box = self.settings.sandbox  # its own ports: a system's URL may be elsewhere (Tryton)
        urls = [f"http://{box.host}:{getattr(box, f'{s}_port')}" for s in SYSTEMS]
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(timeout=1) as http:
            for url in urls:
                while True:
                    try:
                        if (await http.get(f"{url}/__admin/health")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"sandbox did not start ({url})")
                    await asyncio.sleep(0.1)

    async def start_worker(self) -> None:
        """The psflow worker as `python -m worker` runs it (restarted if it runs already)."""
        if "worker" in self.processes:
            self.processes.pop("worker").stop()
        await self._spawn("worker", ["-m", "worker"]).wait_for_line(READY_LINE)

    async def _start_bare_worker(self) -> None:
        await self._spawn("bare-worker", ["-m", "bench.bare_worker"]).wait_for_line(READY_LINE)

    def tail(self, name: str) -> str:
        """The last lines a process of the stack wrote."""
        process = self.processes.get(name)
        return process.tail() if process else f"({name} is not running)"

    @property
    def worker_pid(self) -> int:
        return self.processes["worker"].pid

    def cpu(self) -> dict[str, tuple[int, float]]:
        """(pid, CPU seconds used so far) of each process of the stack, and of this one."""
        used = {name: (p.pid, cpu_seconds(p.pid)) for name, p in self.processes.items()}
        return used | {"bench": (os.getpid(), cpu_seconds(os.getpid()))}

    def url(self, system: str) -> str:
        return str(getattr(self.settings, system).url)

    async def stop(self) -> None:
        """Workers first, then the sandbox, the server last."""
        self._client = None
        for name in ("worker", "bare-worker", "sandbox", "temporal"):
            if name in self.processes:
                self.processes.pop(name).stop()
        if not self.keep:
            shutil.rmtree(self.folder, ignore_errors=True)
