"""Tryton as the local stack's ERP, against a real trytond (tests/tryton_support.py):
`psflow sandbox up --erp tryton` serving it with the settings a worker needs, `psflow systems
check` passing against it, and each problem the Tryton checks find named with its fix."""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from pydantic import SecretStr
from typer.testing import CliRunner

from application import system_checks
from cli.main import app
from config import ErpSettings, Settings, load_settings
from connectors import systems
from models.erp import ErpCustomer, ErpCustomerInput
from stack.local import port_free
from stack.tryton import INTEGRATION_PASSWORD, TrytonServer, template_key
from tests.support import env_for, write_settings
from tests.tryton_support import DATA_DIR, tryton, tryton_template_seconds

__all__ = ["tryton", "tryton_template_seconds"]  # the fixtures this module uses

PSFLOW = str(Path(sys.executable).parent / "psflow")
runner = CliRunner()


def tryton_settings(server: TrytonServer, password: str | None = None) -> Settings:
    secret = SecretStr(password or server.password)
    return Settings(
        erp=ErpSettings(url=server.url, kind="tryton", login=server.login, password=secret)
    )


def start_up(config: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """`psflow sandbox up --erp tryton` until its panel is printed; the process and the panel."""
    up = subprocess.Popen(
        [PSFLOW, "sandbox", "up", "--erp", "tryton"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert up.stdout is not None
    shown = []
    for line in up.stdout:
        shown.append(line)
        if "Ctrl-C stops them" in line:
            return up, "".join(shown)
    raise AssertionError("psflow sandbox up --erp tryton printed no panel:\n" + "".join(shown))


def stop(up: subprocess.Popen[str]) -> str:
    up.send_signal(signal.SIGINT)
    out, _ = up.communicate(timeout=30)
    return out


def read_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line)
    return {name: value for name, value in pairs}


async def upsert_customer(settings: Settings, key: str) -> None:
    erp = systems.erp(settings)
    try:
        await erp.upsert_customer(
            ErpCustomerInput(
                external_id=key, company_name="Kept Ltd", subsidiary_id="1", currency="USD",
                terms="Net 30", origin="test",
            )
        )  # fmt: skip
    finally:
        await erp.aclose()


async def ids_of(settings: Settings) -> tuple[str | None, str | None]:
    """The first volume project's id in Tryton, and the ERP id the PSA has for it."""
    erp, psa = systems.erp(settings), systems.psa(settings)
    try:
        job = await erp.get_project("vol-00001")
        project = await psa.billing_project("PRJ-V00001")
        return (job.id if job else None), (project.erp_project_id if project else None)
    finally:
        await erp.aclose()
        await psa.aclose()


async def get_customer(settings: Settings, key: str) -> ErpCustomer | None:
    erp = systems.erp(settings)
    try:
        return await erp.get_customer(key)
    finally:
        await erp.aclose()


def test_sandbox_up_erp_tryton_serves_tryton_and_a_worker_uses_it_with_its_settings(
    tmp_path: Path, tryton_template_seconds: float
) -> None:
    config = write_settings(tmp_path)
    settings = load_settings(config)
    templates = settings.data_dir / "tryton" / "templates"
    templates.mkdir(parents=True)
    prepared = f"psflow-{template_key()}.sqlite"
    shutil.copy(DATA_DIR / "templates" / prepared, templates / prepared)  # not made again
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSFLOW_")}
    env |= {"PSFLOW_CONFIG": str(config), "COLUMNS": "200"}
    key = "sfdc-kept-between-runs"

    began = time.monotonic()
    up, panel = start_up(config, env)
    try:
        took = time.monotonic() - began
        url = f"http://127.0.0.1:{settings.sandbox.erp_port}/psflow/rpc/"
        env_file = settings.data_dir.resolve() / "tryton" / "erp.env"
        worker_env = read_env_file(env_file)
        password_file = Path(worker_env["PSFLOW_ERP_PASSWORD_FILE"])
        assert worker_env == {
            "PSFLOW_ERP_KIND": "tryton",
            "PSFLOW_ERP_URL": url,
            "PSFLOW_ERP_LOGIN": "psflow",
            "PSFLOW_ERP_PASSWORD_FILE": str(env_file.with_name("erp-password")),
            "PSFLOW_ERP__CONCURRENCY": "1",  # trytond on SQLite: one call at a time
        }
        assert password_file.read_text() == INTEGRATION_PASSWORD
        assert password_file.stat().st_mode & 0o077 == 0
        assert f"ERP  {url}  (Tryton; a fresh database)" in panel
        assert all(f"{name}={value}" in panel for name, value in worker_env.items())
        assert httpx.get(f"{settings.crm.url}/__admin/health", timeout=5).status_code == 200

        checked = runner.invoke(
            app, ["systems", "check", "--json"], env=env_for(config, **worker_env)
        )
        assert checked.exit_code == 0, checked.stdout
        rows = {(row["system"], row["check"]) for row in json.loads(checked.stdout)}
        assert ("ERP", "module psflow") in rows and ("ERP", "legal entity US01") in rows
        assert ("CRM", "reach and sign in") in rows and ("HCM", "reach and sign in") in rows

        asyncio.run(upsert_customer(load_settings(config, env=worker_env), key))

        seed = ["sandbox", "seed", "--projects", "2", "--time-entries", "40", "--json"]
        seeded = runner.invoke(
            app, [*seed, "--period", "2026-10"], env=env_for(config, **worker_env)
        )
        assert seeded.exit_code == 0, seeded.stdout
        answers = {s["system"]: s for s in json.loads(seeded.stdout)["systems"]}
        assert answers["erp"]["counts"]["projects"] == 2 and answers["erp"]["error"] is None
        erp_id, psa_id = asyncio.run(ids_of(load_settings(config, env=worker_env)))
        assert erp_id is not None and psa_id == erp_id  # the PSA carries Tryton's id
    finally:
        out = stop(up)
    assert up.returncode == 0, out
    assert "sandbox and the Tryton ERP stopped" in out
    assert port_free("127.0.0.1", settings.sandbox.erp_port)
    assert took < 20, f"sandbox up --erp tryton took {took:.1f} s"

    up, panel = start_up(config, env)
    try:
        assert "(Tryton; its database kept from the last run)" in panel
        kept = asyncio.run(get_customer(load_settings(config, env=worker_env), key))
        assert kept is not None and kept.company_name == "Kept Ltd"
    finally:
        stop(up)


async def test_each_tryton_problem_names_its_fix(tryton: TrytonServer) -> None:
    settings = tryton_settings(tryton)
    policy = settings.policy.model_copy(
        update={
            "legal_entities": settings.policy.legal_entities | {"US01": "999"},
            "currencies": [*settings.policy.currencies, "JPY"],
            "billing_terms": [*settings.policy.billing_terms, "Net 90"],
        }
    )
    staffing = settings.staffing.model_copy(update={"roles": ["Partner", "Astronaut"]})
    found = await system_checks._erp(
        settings.model_copy(update={"policy": policy, "staffing": staffing})
    )
    problems = {c.check: c.detail for c in found if not c.ok}

    assert problems == {
        "legal entity US01": "no company whose party has the external id subsidiary-999 in "
        "the ERP: fix [policy] legal_entities",
        "currency JPY": "no JPY currency record: add it in the ERP or remove it from "
        "[policy] currencies",
        "payment term Net 90": "no payment term 'Net 90' in the ERP: add it or remove it "
        "from [policy] billing_terms",
        "role Astronaut": "no product with code ROLE-ASTRONAUT in the ERP: add a service "
        "product for the role or fix [staffing] roles",
    }
    assert {c.check for c in found if c.ok} >= {"module psflow", "role Partner", "currency USD"}


async def test_a_refused_tryton_login_is_the_only_erp_row_and_names_the_settings(
    tryton: TrytonServer,
) -> None:
    found = await system_checks._erp(tryton_settings(tryton, password="not-the-password"))

    assert [(c.check, c.ok) for c in found] == [("reach and sign in", False)]
    assert found[0].detail.endswith("check [erp] login (psflow) and password")
