"""A real Tryton ERP for tests and local runs: trytond 8.0 on SQLite under a data dir.

The database (Tryton's modules, psflow's module, the seed of stack/tryton_seed.py) is built
once into a template file keyed by the module versions; each use copies the template with
SQLite's backup API and starts `trytond -c CONF -d DB` on a free port. Named on the command
line, the database is loaded at start (without it the first login fails with KeyError
'res.user' until a restart).
"""

import fcntl
import hashlib
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

# Tryton's modules psflow needs; --activate-dependencies adds theirs (country, ...)
MODULES = (
    "party", "company", "currency", "account", "account_invoice", "product", "project",
    "timesheet", "project_invoice", "timesheet_cost", "psflow",
)  # fmt: skip
ADMIN_EMAIL = "admin@psflow.example"
ADMIN_PASSWORD = "admin-local-only"
INTEGRATION_LOGIN = "psflow"
INTEGRATION_PASSWORD = "psflow-integration-local"
START_TIMEOUT = 30.0
PREPARE_TIMEOUT = 600.0
MODULE_DIR = Path(__file__).resolve().parent.parent / "tryton_psflow"


SQLITE_CONCURRENCY = 1
"""psflow's calls at once to a trytond on SQLite. Such a trytond reads outside its write
transaction: with several creates at once, two drew the same party code and the second was
refused as not unique. A Tryton on PostgreSQL takes `[erp] concurrency` as configured."""


@dataclass(frozen=True)
class TrytonServer:
    """A running trytond: its JSON-RPC URL (`/<database>/rpc/`) and the integration login."""

    url: str
    database: str
    config: Path
    login: str = INTEGRATION_LOGIN
    password: str = INTEGRATION_PASSWORD

    def erp_settings(self) -> dict[str, Any]:
        """`[erp]` for a worker whose ERP is this trytond (on SQLite: one call at a time)."""
        return {
            "kind": "tryton",
            "url": self.url,
            "login": self.login,
            "password": SecretStr(self.password),
            "concurrency": SQLITE_CONCURRENCY,
        }


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def template_key() -> str:
    """What the prepared database depends on: trytond packages' versions and psflow's module."""
    digest = hashlib.sha256()
    versions = sorted(
        f"{d.metadata['Name']}=={d.version}"
        for d in metadata.distributions()
        if d.metadata["Name"] and d.metadata["Name"].lower().replace("_", "-").startswith("trytond")
    )
    digest.update("\n".join(versions).encode())
    for path in sorted(MODULE_DIR.iterdir()):
        if path.is_file() and path.suffix in {".py", ".cfg", ".xml"}:
            digest.update(path.name.encode() + path.read_bytes())
    digest.update(Path(__file__).with_name("tryton_seed.py").read_bytes())
    return digest.hexdigest()[:16]


def write_config(data_dir: Path, database_dir: Path, port: int) -> Path:
    """A trytond config: SQLite databases in `database_dir`, JSON-RPC on 127.0.0.1:port."""
    database_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / f"trytond-{port}.conf"
    config.write_text(
        f"[database]\nuri = sqlite://\npath = {database_dir}\n\n"
        f"[web]\nlisten = 127.0.0.1:{port}\n\n"
        "[cache]\nclean_timeout = 0\n"
    )
    return config


def _environment(data_dir: Path) -> dict[str, str]:
    passfile = data_dir / "admin-password"
    passfile.write_text(ADMIN_PASSWORD)
    return {**os.environ, "TRYTONPASSFILE": str(passfile)}


def _run(command: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("a") as out:
        done = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=PREPARE_TIMEOUT,
        )
    if done.returncode != 0:
        tail = log.read_text()[-2000:]
        raise RuntimeError(f"{command[0]} failed ({done.returncode}):\n{tail}")


def check_installed() -> None:
    """Tryton finds psflow's module by its entry point, which only an install writes."""
    if not metadata.entry_points(group="trytond.modules", name="psflow"):
        raise RuntimeError(
            "trytond cannot find the psflow module: install psflow (`make install`, "
            "or `pip install -e '.[tryton]'`) so its trytond.modules entry point exists"
        )


def prepare_template(data_dir: Path) -> Path:
    """The prepared database file, built once per template key (35-45 s on 2 cores)."""
    check_installed()
    templates = data_dir / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    template = templates / f"psflow-{template_key()}.sqlite"
    with (templates / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder; the others wait and reuse it
        if template.exists():
            return template
        build_dir = data_dir / "build"
        build_dir.mkdir(exist_ok=True)
        name = f"build{os.getpid()}"
        (build_dir / f"{name}.sqlite").unlink(missing_ok=True)
        (build_dir / f"{name}.sqlite").touch()  # trytond-admin needs the SQLite file to exist
        config = write_config(data_dir, build_dir, free_port())
        env = _environment(data_dir)
        log = data_dir / "prepare.log"
        admin = [
            _bin("trytond-admin"),
            "-c",
            str(config),
            "-d",
            name,
            "--all",
            "--email",
            ADMIN_EMAIL,
        ]
        _run([*admin, "-u", *MODULES, "--activate-dependencies"], env, log)
        seed = [sys.executable, "-m", "stack.tryton_seed", str(config), name]
        _run([*seed, INTEGRATION_LOGIN, INTEGRATION_PASSWORD], env, log)
        (build_dir / f"{name}.sqlite").rename(template)
        for stale in templates.glob("psflow-*.sqlite"):
            if stale != template:
                stale.unlink()  # made for modules no longer installed
        return template


def copy_database(template: Path, database_dir: Path, name: str) -> None:
    """A fresh database `name` from the template, by SQLite's online backup."""
    database_dir.mkdir(parents=True, exist_ok=True)
    target = database_dir / f"{name}.sqlite"
    target.unlink(missing_ok=True)
    source, copy = sqlite3.connect(template), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_answering(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until the database's JSON-RPC answers (401 without a session), or the server died."""
    deadline = time.monotonic() + START_TIMEOUT
    call = {"id": 0, "method": "system.listMethods", "params": []}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"trytond exited ({process.returncode}):\n{log.read_text()[-2000:]}")
        try:
            if httpx.post(url, json=call, timeout=2.0).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"trytond did not answer at {url} in {START_TIMEOUT:.0f} s")


@contextmanager
def running_tryton(data_dir: Path, name: str | None = None) -> Iterator[TrytonServer]:
    """A trytond on a fresh copy of the prepared database, stopped on exit."""
    data_dir.mkdir(parents=True, exist_ok=True)
    template = prepare_template(data_dir)
    name = name or f"psflow{secrets.token_hex(4)}"
    database_dir = data_dir / "databases"
    copy_database(template, database_dir, name)
    try:
        process, server = start_trytond(data_dir, database_dir, name, free_port())
        try:
            yield server
        finally:
            stop_trytond(process)
    finally:
        for suffix in ("", "-wal", "-shm"):  # SQLite's write-ahead log goes with it
            (database_dir / f"{name}.sqlite{suffix}").unlink(missing_ok=True)


def start_trytond(
    data_dir: Path, database_dir: Path, name: str, port: int
) -> tuple[subprocess.Popen[bytes], TrytonServer]:
    """`trytond -c CONF -d name` for the database `name` in `database_dir`, on 127.0.0.1:port,
    answering once this returns. In its own session, so a terminal's Ctrl-C reaches psflow
    alone, which stops it (stop_trytond)."""
    config = write_config(data_dir, database_dir, port)
    log = data_dir / f"trytond-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [_bin("trytond"), "-c", str(config), "-d", name],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_environment(data_dir),
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/{name}/rpc/"
    try:
        wait_until_answering(url, process, log)
    except BaseException:
        stop_trytond(process)
        raise
    return process, TrytonServer(url=url, database=name, config=config)


def stop_trytond(process: subprocess.Popen[bytes]) -> None:
    """Terminate, wait, then kill if it will not go."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
