"""The psflow CLI without a Temporal server: help, and one clear line for every mistake."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from cli.main import app
from sandbox.crm.seed import DEMO_OPPORTUNITIES

runner = CliRunner()
PSFLOW = str(Path(sys.executable).parent / "psflow")
OPPORTUNITY = DEMO_OPPORTUNITIES["small_usd"]
COMMANDS = [
    [],
    ["start"],
    ["status"],
    ["watch"],
    ["cancel"],
    ["history"],
    ["approve"],
    ["reject"],
    ["correct"],
    ["list"],
    ["dev"],
    ["worker"],
    ["demo"],
    ["sandbox"],
    ["sandbox", "up"],
    ["sandbox", "fault"],
    ["sandbox", "reset"],
    ["exceptions", "list"],
    ["exceptions", "show"],
    ["exceptions", "resubmit"],
]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No PSFLOW_* settings from outside and no psflow.toml from the working directory."""
    for name in list(os.environ):
        if name.startswith("PSFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def one_line_error(result: Result) -> str:
    """Assert exit 1 with exactly one line on stderr and no traceback; return the line."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "psflow")
def test_every_help_exits_0_with_an_example(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output


def test_unknown_workflow_names_the_known_ones(isolated: Path) -> None:
    line = one_line_error(invoke("start", "quote-to-cash", OPPORTUNITY))
    assert "unknown workflow 'quote-to-cash'" in line
    assert "opportunity-to-project" in line


def test_malformed_opportunity_id_names_the_format() -> None:
    line = one_line_error(invoke("start", "opportunity-to-project", "0061234"))
    assert "'0061234' is not a Salesforce opportunity id" in line
    assert "15- or 18-character" in line and "006" in line


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("PRJ-V00001", "is not <PSA project id>/<YYYY-MM>"),
        ("PRJ-V00001/2026-13", "period '2026-13' is not a month written YYYY-MM"),
        ("/2026-10", "is not <PSA project id>/<YYYY-MM>"),
    ],
)
def test_malformed_billing_key_names_the_format(key: str, expected: str) -> None:
    line = one_line_error(invoke("start", "time-to-bill", key))
    assert expected in line


def test_exceptions_with_a_bad_state_or_period_exit_2_naming_the_option() -> None:
    bad_state = invoke("exceptions", "list", "--state", "closed")
    assert bad_state.exit_code == 2 and "--state" in bad_state.stderr
    assert "'closed'" in bad_state.stderr and "resubmitted" in bad_state.stderr
    bad_period = invoke("exceptions", "list", "--period", "October")
    assert bad_period.exit_code == 2 and "--period" in bad_period.stderr


def test_unknown_exception_is_one_line() -> None:
    line = one_line_error(invoke("exceptions", "show", "4242"))
    assert line == "error: no exception 4242: see `psflow exceptions list --state all`"


def test_a_broken_change_order_file_names_every_bad_field(isolated: Path) -> None:
    (isolated / "co.json").write_text(
        '{"id": "CO 1", "project_id": "PRJ-1", "reason": " ", "currency": "USD",'
        ' "budget_change": "lots", "effective_date": "2026-12-01",'
        ' "roles": [{"role": "Consultant", "hours_change": "x"}]}'
    )
    line = one_line_error(invoke("start", "change-order", "--file", "co.json"))
    assert line.startswith("error: co.json: id: 'CO 1' is not a change order id")
    for field in (
        "requested_by: Field required",
        "reason: give the reason",
        "budget_change: Input should be a valid decimal",
        "roles[0].hours_change",
    ):
        assert field in line, line  # fmt: skip


def test_a_change_order_file_that_is_not_json_is_one_line(isolated: Path) -> None:
    (isolated / "co.json").write_text("{not json")
    line = one_line_error(invoke("start", "change-order", "--file", "co.json"))
    assert "co.json is not JSON" in line
    missing = one_line_error(invoke("start", "change-order", "--file", "nope.json"))
    assert "change order file nope.json does not exist" in missing


def test_file_is_only_for_change_orders() -> None:
    line = one_line_error(invoke("start", "time-to-bill", "--file", "co.json"))
    assert "--file is for change orders" in line


def test_correct_without_field_value_says_how() -> None:
    line = one_line_error(
        invoke("correct", f"opportunity-to-project/{OPPORTUNITY}", "--set", "nofield")
    )
    assert "use --set field=value" in line


def test_correct_without_any_set_says_how() -> None:
    line = one_line_error(invoke("correct", f"opportunity-to-project/{OPPORTUNITY}"))
    assert "use --set field=value" in line


@pytest.mark.parametrize(
    "command",
    [
        ["list"],
        ["status", f"opportunity-to-project/{OPPORTUNITY}"],
        ["history", f"opportunity-to-project/{OPPORTUNITY}"],
        ["approve", f"opportunity-to-project/{OPPORTUNITY}", "--as", "dana"],
        ["cancel", f"opportunity-to-project/{OPPORTUNITY}"],
        ["start", "opportunity-to-project", OPPORTUNITY],
        ["worker"],
    ],
    ids=lambda c: c[0],
)
def test_temporal_not_running_is_one_line_quickly(command: list[str]) -> None:
    address = f"127.0.0.1:{closed_port()}"
    began = time.monotonic()
    line = one_line_error(invoke("--address", address, *command))
    assert time.monotonic() - began < 10
    assert line == (
        f"error: cannot reach Temporal at {address}: start it with `psflow dev` or set --address"
    )


def test_address_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"127.0.0.1:{closed_port()}"
    monkeypatch.setenv("PSFLOW_TEMPORAL_ADDRESS", address)
    assert address in one_line_error(invoke("list"))


def test_sandbox_fault_when_sandbox_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("PSFLOW_ERP_URL", url)
    line = one_line_error(invoke("sandbox", "fault", "erp", "--path", "*/job*", "--status", "503"))
    assert line == (
        f"error: sandbox ERP is not running at {url}: "
        "start it with `psflow sandbox up` or `psflow dev`"
    )


def test_sandbox_reset_when_sandbox_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSFLOW_CRM_URL", f"http://127.0.0.1:{closed_port()}")
    assert "sandbox CRM is not running" in one_line_error(invoke("sandbox", "reset", "crm"))


def test_sandbox_fault_needs_a_path_or_clear() -> None:
    assert "--path" in one_line_error(invoke("sandbox", "fault", "erp"))


def test_missing_config_file_is_one_line(isolated: Path) -> None:
    missing = isolated / "nowhere.toml"
    line = one_line_error(invoke("--config", str(missing), "list"))
    assert f"config file {missing} does not exist" in line


def test_invalid_config_file_is_one_line(isolated: Path) -> None:
    bad = isolated / "psflow.toml"
    bad.write_text("[temporal\naddress = 1\n")
    assert "is not valid TOML" in one_line_error(invoke("list"))


def test_invalid_setting_is_one_line(isolated: Path) -> None:
    (isolated / "psflow.toml").write_text("[sandbox]\ncrm_port = 'eighty'\n")
    line = one_line_error(invoke("list"))
    assert line.endswith('[sandbox] crm_port: must be a whole number, got "eighty"')


def test_list_unknown_workflow_type_names_the_known_ones() -> None:
    line = one_line_error(invoke("list", "--workflow", "nope"))
    assert "opportunity-to-project" in line


def test_dev_with_temporal_port_taken_starts_nothing(isolated: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_error(invoke("--address", f"127.0.0.1:{port}", "dev"))
    assert f"port {port}" in line and "already in use" in line
    assert not (isolated / ".psflow").exists()


def test_dev_refuses_a_remote_address() -> None:
    line = one_line_error(invoke("--address", "temporal.example.com:7233", "dev"))
    assert "localhost:PORT" in line


def test_console_script_exits_1_with_one_line(isolated: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSFLOW_")}
    done = subprocess.run(
        [PSFLOW, "--address", f"127.0.0.1:{closed_port()}", "status", "x/y"],
        env=env,
        cwd=isolated,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("error: cannot reach Temporal at 127.0.0.1:")
    assert len(done.stderr.splitlines()) == 1


def test_sandbox_event_help_has_an_example() -> None:
    result = invoke("sandbox", "event", "--help")
    assert result.exit_code == 0, result.output
    assert "Example: psflow sandbox event" in result.output


def test_sandbox_event_when_hcm_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("PSFLOW_HCM_URL", url)
    line = one_line_error(invoke("sandbox", "event", "hire", "30001"))
    assert line == (
        f"error: sandbox HCM is not running at {url}: "
        "start it with `psflow sandbox up` or `psflow dev`"
    )


def test_sandbox_event_set_needs_field_value() -> None:
    line = one_line_error(invoke("sandbox", "event", "transfer", "20001", "--set", "cost_rate"))
    assert "use --set field=value" in line


def one_line_failure(command: list[str], cwd: Path, **settings: str) -> str:
    """Run `command` with only `settings` for psflow; it must exit 1 with one line on stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSFLOW_")}
    env |= settings | {"PYTHONPATH": str(Path(__file__).parent.parent)}
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    return done.stderr


@pytest.mark.parametrize(
    ("store_url", "first_words"),
    [
        (None, "error: cannot reach Temporal at 127.0.0.1:"),
        ("mysql://psflow:hunter2@db.example.com/psflow", "error: store_url "),
    ],
)
def test_python_m_worker_exits_1_with_one_line(
    isolated: Path, store_url: str | None, first_words: str
) -> None:
    settings = {"PSFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{closed_port()}"}
    if store_url:
        settings["PSFLOW_STORE_URL"] = store_url
    line = one_line_failure([sys.executable, "-m", "worker"], isolated, **settings)
    assert line.startswith(first_words), line
    assert "hunter2" not in line


def test_a_worker_without_keys_refuses_a_temporal_on_another_machine(isolated: Path) -> None:
    for command in ([sys.executable, "-m", "worker"], [PSFLOW, "worker"]):
        line = one_line_failure(
            command, isolated, PSFLOW_TEMPORAL_ADDRESS="temporal.example.com:7233"
        )
        assert line.startswith(
            "error: [codec] keys is empty and Temporal at temporal.example.com:7233 is not on "
            "this machine"
        ), line
        assert "[codec] plaintext = true" in line


@pytest.mark.parametrize(
    ("address", "codec", "refused"),
    [
        ("localhost:7233", {}, False),
        ("127.0.0.1:7233", {}, False),
        ("[::1]:7233", {}, False),
        ("10.0.0.5:7233", {}, True),
        ("temporal.internal:7233", {}, True),
        ("temporal.internal:7233", {"plaintext": True}, False),
        ("temporal.internal:7233", {"keys": {"k1": "A" * 43 + "="}, "current": "k1"}, False),
    ],
)
def test_which_temporal_a_worker_may_use_unencrypted(
    address: str, codec: dict[str, object], refused: bool
) -> None:
    from config import Settings
    from security.codec import plaintext_problem

    settings = Settings.model_validate({"temporal": {"address": address}, "codec": codec})
    assert (plaintext_problem(settings) is not None) == refused


@pytest.mark.parametrize(
    ("command", "shown"),
    [(["inbox"], "[inbox] port"), (["ingress"], "[ingress] host"), (["login"], "[auth.oidc]")],
)
def test_help_names_settings_by_their_section(command: list[str], shown: str) -> None:
    """`[section] key` in help is a setting's name, not markup to be swallowed."""
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and shown in result.stdout
