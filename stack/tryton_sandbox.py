"""`psflow sandbox up --erp tryton`: a trytond (stack/tryton.py) in place of the sandbox
NetSuite, on its port (`[sandbox] erp_port`), and the settings a worker needs to use it.

The database lives in <data_dir>/tryton/databases/psflow.sqlite and is kept between runs, as
the sandbox keeps its data; it is copied afresh from the prepared database when there is none,
or when the prepared one changed (new Tryton packages or a new psflow module). The worker's
settings are written to <data_dir>/tryton/erp.env, the password in a file of its own.
"""

import asyncio
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from application.errors import AppError
from config import Settings
from stack.tryton import (
    SQLITE_CONCURRENCY,
    TrytonServer,
    copy_database,
    prepare_template,
    start_trytond,
    stop_trytond,
)

DATABASE = "psflow"
ENV_FILE = "erp.env"
PASSWORD_FILE = "erp-password"
EXIT_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class TrytonSandbox:
    """The running trytond and where its worker settings were written."""

    server: TrytonServer
    process: subprocess.Popen[bytes]
    env_file: Path
    fresh: bool
    """Whether the database was copied afresh for this run."""

    def variables(self) -> dict[str, str]:
        """What a worker needs to use this ERP, as PSFLOW_* variables."""
        return worker_variables(self.server, self.env_file.with_name(PASSWORD_FILE))

    async def wait_exited(self) -> None:
        """Return (raising AppError) only if trytond stops by itself."""
        # a Popen's exit cannot be awaited, and a thread waiting on it would outlive the loop
        while self.process.poll() is None:  # noqa: ASYNC110
            await asyncio.sleep(EXIT_POLL_SECONDS)
        log = self.server.config.with_suffix(".log")
        raise AppError(f"the Tryton ERP stopped ({self.process.returncode}): see {log}")


def tryton_dir(settings: Settings) -> Path:
    """Where the Tryton ERP keeps its prepared database, its database and its settings."""
    return (settings.data_dir / "tryton").resolve()


def worker_variables(server: TrytonServer, password_file: Path) -> dict[str, str]:
    """The PSFLOW_* variables pointing a worker at `server` (the password read from its file)."""
    return {
        "PSFLOW_ERP_KIND": "tryton",
        "PSFLOW_ERP_URL": server.url,
        "PSFLOW_ERP_LOGIN": server.login,
        "PSFLOW_ERP_PASSWORD_FILE": str(password_file),
        "PSFLOW_ERP__CONCURRENCY": str(SQLITE_CONCURRENCY),
    }


def ensure_database(folder: Path) -> bool:
    """The sandbox's database, copied from the prepared one (made first if need be, 35-45 s)
    when it is missing or was copied from another; whether it was copied now."""
    template = prepare_template(folder)
    databases = folder / "databases"
    copied_from = databases / f"{DATABASE}.template"
    database = databases / f"{DATABASE}.sqlite"
    if database.exists() and copied_from.exists() and copied_from.read_text() == template.name:
        return False
    copy_database(template, databases, DATABASE)
    copied_from.write_text(template.name)
    return True


def write_worker_settings(folder: Path, server: TrytonServer) -> Path:
    """erp.env (PSFLOW_* lines) and the password file it names, readable by the owner only."""
    password_file = folder / PASSWORD_FILE
    password_file.touch(mode=0o600)
    os.chmod(password_file, 0o600)
    password_file.write_text(server.password)
    env_file = folder / ENV_FILE
    lines = [f"{name}={value}\n" for name, value in worker_variables(server, password_file).items()]
    env_file.write_text("".join(lines))
    return env_file


@contextmanager
def tryton_sandbox(settings: Settings) -> Iterator[TrytonSandbox]:
    """trytond on `[sandbox] erp_port` (127.0.0.1) for the sandbox's database, stopped on exit."""
    folder = tryton_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        fresh = ensure_database(folder)
        process, server = start_trytond(
            folder, folder / "databases", DATABASE, settings.sandbox.erp_port
        )
    except RuntimeError as exc:  # how stack/tryton.py says trytond would not build or start
        first = str(exc).splitlines()[0].rstrip(":")
        raise AppError(f"the Tryton ERP could not start: {first} (logs in {folder})") from None
    try:
        yield TrytonSandbox(server, process, write_worker_settings(folder, server), fresh)
    finally:
        stop_trytond(process)
