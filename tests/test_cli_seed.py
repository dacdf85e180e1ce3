"""`psflow sandbox seed`: options checked before anything is sent, then PSA, ERP and CRM seeded."""

import json
import os
import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from cli.sandbox_seed import previous_month
from config import load_settings
from sandbox.volume import INVALID_KINDS, Volume, volume_projects
from tests.support import Sandbox, write_settings

runner = CliRunner()
SEED = ["sandbox", "seed"]
DEMO_OPPORTUNITIES = 60


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No PSFLOW_* settings from outside and no psflow.toml from the working directory."""
    for name in list(os.environ):
        if name.startswith("PSFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@pytest.fixture(scope="module")
def seed_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A sandbox of this module's own (the seed replaces volume data other tests may hold)."""
    config = write_settings(tmp_path_factory.mktemp("seed-estate"))
    box = Sandbox(config)
    box.start()
    try:
        yield config
    finally:
        box.stop()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, [*SEED, *args], env=env)


def usage_error(result: Result) -> str:
    """Assert click's usage-error exit (2) with no traceback; the message on one line."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return " ".join(result.stderr.replace("│", " ").split())


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def crm_opportunity_ids(config: Path) -> set[str]:
    """Every opportunity id in the sandbox CRM (the listing is for tests and demos)."""
    crm = load_settings(config).crm
    with httpx.Client(base_url=crm.url) as http:
        listing = http.get("/__admin/records/Opportunity", params={"limit": 5000}).json()
    return {record["Id"] for record in listing["records"]}


# --- options, refused before anything is sent ------------------------------------------------


def test_seed_help_has_an_example() -> None:
    result = runner.invoke(app, [*SEED, "--help"])

    assert result.exit_code == 0, result.output
    assert "Example: psflow sandbox seed --time-entries" in result.output


def test_a_period_that_is_not_a_month_is_refused_naming_the_option() -> None:
    message = usage_error(invoke("--time-entries", "1000", "--period", "2026-13"))

    assert "Invalid value for '--period': period '2026-13' is not a month written YYYY-MM" in (
        message
    )


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--time-entries", "0"], "'--time-entries'"),
        (["--time-entries", "-5"], "'--time-entries'"),
        (["--time-entries", "100", "--projects", "0"], "'--projects'"),
        (["--time-entries", "100", "--seed", "-1"], "'--seed'"),
        (["--time-entries", "many"], "'--time-entries'"),
    ],
    ids=["zero entries", "negative entries", "zero projects", "negative seed", "not a number"],
)
def test_numbers_that_are_not_positive_are_refused_naming_the_option(
    args: list[str], option: str
) -> None:
    assert f"Invalid value for {option}" in usage_error(invoke(*args))


def test_fewer_entries_than_projects_is_refused_naming_the_option() -> None:
    message = usage_error(invoke("--time-entries", "10", "--projects", "50"))

    assert "Invalid value for '--time-entries': 10 is fewer than --projects (50)" in message


def test_time_entries_is_required() -> None:
    assert "Missing option '--time-entries'" in usage_error(invoke())


def test_the_default_period_is_the_previous_calendar_month() -> None:
    assert previous_month(date(2026, 11, 23)) == "2026-10"
    assert previous_month(date(2026, 1, 1)) == "2025-12"


def test_seed_with_the_sandbox_down_says_which_systems_and_how_to_start_them() -> None:
    urls = {name: f"http://127.0.0.1:{closed_port()}" for name in ("psa", "erp", "crm")}
    env = {f"PSFLOW_{name.upper()}_URL": url for name, url in urls.items()}

    line = one_line_error(invoke("--time-entries", "100", "--projects", "10", env=env))

    assert line == (
        f"error: sandbox PSA, ERP and CRM are not running at {urls['psa']}, {urls['erp']}, "
        f"{urls['crm']}: start them with `psflow sandbox up` or `psflow dev`"
    )


# --- against a running sandbox ---------------------------------------------------------------


def test_seed_fills_psa_erp_and_crm_and_prints_what_each_created(seed_config: Path) -> None:
    env = {"PSFLOW_CONFIG": str(seed_config), "COLUMNS": "120"}
    volume = Volume(projects=20, entries=2000, period="2026-10", seed=7)

    result = invoke("--time-entries", "2000", "--projects", "20", "--period", "2026-10", env=env)

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "volume seed: 2,000 time entries over 20 projects in 2026-10 (seed 7)" in out
    for system in ("PSA", "ERP", "CRM", "total"):
        assert system in out
    assert "opportunities" in out
    assert all(f"invalid: {kind}" in out for kind in INVALID_KINDS)  # from the PSA's answer
    ids = crm_opportunity_ids(seed_config)
    assert {p.opportunity_id for p in volume_projects(volume)} <= ids
    assert len(ids) == DEMO_OPPORTUNITIES + 20


def test_seed_json_answers_each_systems_counts(seed_config: Path) -> None:
    env = {"PSFLOW_CONFIG": str(seed_config)}

    result = invoke(
        "--time-entries", "200", "--projects", "5", "--period", "2026-09", "--json", env=env
    )

    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert {k: answer[k] for k in ("projects", "entries", "period", "seed")} == {
        "projects": 5,
        "entries": 200,
        "period": "2026-09",
        "seed": 7,
    }
    systems = {s["system"]: s for s in answer["systems"]}
    assert list(systems) == ["psa", "erp", "crm"]
    assert all(s["error"] is None and s["counts"] for s in systems.values())
    assert systems["crm"]["counts"]["opportunities"] == 5
    assert len(crm_opportunity_ids(seed_config)) == DEMO_OPPORTUNITIES + 5


def test_seed_with_one_system_down_names_it_and_seeds_nothing(seed_config: Path) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    env = {"PSFLOW_CONFIG": str(seed_config), "PSFLOW_ERP_URL": down}
    before = crm_opportunity_ids(seed_config)

    line = one_line_error(invoke("--time-entries", "300", "--projects", "30", env=env))

    assert line == (
        f"error: sandbox ERP is not running at {down}: start it with `psflow sandbox up` or "
        "`psflow dev`"
    )
    assert crm_opportunity_ids(seed_config) == before
