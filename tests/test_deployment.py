"""The container image and docker-compose.temporal.yml, checked by reading them (no Docker
engine here): images pinned, Temporal at least as new as the tests' dev server, every psflow
setting and command they use real, ports apart, services waiting for what they need, every
mounted file present, the Dockerfile building what the wheel holds as a non-root user."""

import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from config import Settings, load_settings
from config_sources import ENV_KEYS, ConfigError
from tests.support import TEMPORAL
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

ROOT = Path(__file__).parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.temporal.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PSFLOW_IMAGE = f"psflow:{PYPROJECT['project']['version']}"
PSFLOW = {name: s for name, s in SERVICES.items() if s.get("image") == PSFLOW_IMAGE}
ENV_EXAMPLE = ROOT / "deploy" / "psflow.env.example"
# ${NAME:-default} and ${NAME:?why} as compose reads them
INTERPOLATION = re.compile(r"\$\{(\w+)(?::[-?]([^}]*))?\}")
VERSION = re.compile(r"^\D*(\d+)\.(\d+)(?:\.(\d+))?")


def env_file() -> dict[str, str]:
    lines = [ln.strip() for ln in ENV_EXAMPLE.read_text().splitlines()]
    pairs = [ln.split("=", 1) for ln in lines if ln and not ln.startswith("#")]
    return {name: value for name, value in pairs}


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    """The service's variables as a container gets them, defaults filled in."""
    given = service.get("environment") or {}
    if isinstance(given, list):
        given = dict(item.split("=", 1) for item in given)
    return {k: INTERPOLATION.sub(lambda m: m[2] or "", str(v)) for k, v in given.items()}


def version(text: str) -> tuple[int, ...]:
    found = VERSION.match(text)
    assert found, f"no version in {text!r}"
    return tuple(int(part or 0) for part in found.groups())


def known_variable(name: str) -> bool:
    """Whether psflow reads the variable: the table, a secret's _FILE, or SECTION__KEY."""
    if name in ENV_KEYS or name == "PSFLOW_CONFIG":
        return True
    if name.endswith("_FILE") and name.removesuffix("_FILE") in ENV_KEYS:
        return True
    section, _, key = name.removeprefix("PSFLOW_").lower().partition("__")
    field = Settings.model_fields.get(section)
    model = field.annotation if field else None
    return bool(key) and model is not None and key in getattr(model, "model_fields", {})


def test_every_image_is_pinned_and_temporal_is_as_new_as_the_tests_dev_server() -> None:
    for name, service in SERVICES.items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest" and VERSION.match(tag), (name, image)
    answer = subprocess.run([TEMPORAL, "--version"], capture_output=True, text=True, check=True)
    server, ui = re.search(r"Server ([\d.]+), UI ([\d.]+)", answer.stdout).groups()  # type: ignore[union-attr]
    assert version(SERVICES["temporal"]["image"].rpartition(":")[2]) >= version(server)
    assert version(SERVICES["temporal-ui"]["image"].rpartition(":")[2]) >= version(ui)
    tools = {SERVICES[n]["image"] for n in ("temporal-schema", "temporal-setup")}
    assert tools == {SERVICES["temporal"]["image"].replace("server", "admin-tools")}
    assert "auto-setup" not in str(COMPOSE)  # the deprecated image


def test_every_psflow_setting_the_deployment_passes_exists_and_loads() -> None:
    example = env_file()
    unknown = [v for v in example if not known_variable(v)]
    for name, service in PSFLOW.items():
        unknown += [f"{name}: {v}" for v in environment_of(service) if not known_variable(v)]
    assert unknown == []
    for name, service in PSFLOW.items():
        env = example | environment_of(service)
        try:
            settings = load_settings(env=env)
        except ConfigError as exc:
            pytest.fail(f"{name}: {exc}")
        assert settings.temporal.namespace == "psflow"
        assert settings.resolved_store_url.startswith("postgresql://psflow:")


@pytest.mark.parametrize("service", sorted(PSFLOW))
def test_every_psflow_command_is_a_real_one(service: str) -> None:
    command = [part for part in PSFLOW[service]["command"] if not part.startswith("--")]
    words = [w for w in command if not w.replace(".", "").isdigit() and w != "0.0.0.0"]
    shown = CliRunner().invoke(app, [*words, "--help"])
    assert shown.exit_code == 0, shown.output


def test_ports_do_not_collide_and_each_service_waits_for_what_it_needs() -> None:
    published = [port.split(":")[-2] for s in SERVICES.values() for port in s.get("ports", [])]
    assert len(published) == len(set(published)), published
    for name, service in SERVICES.items():
        after = service.get("depends_on") or {}
        assert set(after) <= set(SERVICES), (name, after)
    needs = {"temporal-setup": "service_completed_successfully",
             "psflow-store-upgrade": "service_completed_successfully"}  # fmt: skip
    for name in ("worker-1", "worker-2", "ingress", "inbox"):
        conditions = {k: v["condition"] for k, v in SERVICES[name]["depends_on"].items()}
        assert conditions == needs, name
    assert SERVICES["temporal"]["depends_on"] == {
        "temporal-schema": {"condition": "service_completed_successfully"}
    }
    assert SERVICES["temporal-setup"]["depends_on"]["temporal"]["condition"] == "service_healthy"
    upgrade = SERVICES["psflow-store-upgrade"]["depends_on"]["psflow-postgresql"]
    assert upgrade["condition"] == "service_healthy"
    for name in ("worker-1", "worker-2"):  # longer than the worker's own grace
        grace = float(SERVICES[name]["environment"]["PSFLOW_WORKER_SHUTDOWN_GRACE_SECONDS"])
        assert float(SERVICES[name]["stop_grace_period"].removesuffix("s")) > grace


def test_psflows_search_attributes_are_registered_with_their_types() -> None:
    script = "\n".join(SERVICES["temporal-setup"]["command"])
    registered = dict(re.findall(r"(Psflow\w+)=(\w+)", script))
    assert registered == {k.name: k.indexed_value_type.name.title() for k in SEARCH_ATTRIBUTES}
    assert "--namespace psflow" in script


def test_every_mounted_file_is_in_the_repository() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), (name, source)


def test_the_image_builds_what_the_wheel_holds_and_runs_as_an_unprivileged_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    wheel = PYPROJECT["tool"]["hatch"]["build"]
    copied = re.findall(r"^COPY (?!--from)(.+?) \./", dockerfile, flags=re.MULTILINE)
    names = {word for line in copied for word in line.split()}
    assert set(wheel["targets"]["wheel"]["only-include"]) <= names
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, flags=re.MULTILINE)
    assert base and re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base[1])
    users = re.findall(r"^USER (\S+)$", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["psflow"]' in dockerfile
    assert dockerfile.count("FROM ") >= 2  # build and runtime stages
