"""`make bytecode` leaves every psflow module compiled, so the workflow sandbox, which imports
the workflow modules anew for each run, never compiles them from source."""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _make_variable(name: str) -> list[str]:
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(rf"^{name} := (.*)$", text, re.MULTILINE)
    assert match, f"Makefile has no {name}"
    return match.group(1).split()


def test_bytecode_covers_what_the_package_ships() -> None:
    shipped = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
        "targets"
    ]["wheel"]["only-include"]
    assert sorted(_make_variable("PACKAGES")) == sorted(shipped)


def test_after_make_bytecode_no_psflow_module_compiles_from_source() -> None:
    subprocess.run(["make", "-s", "bytecode"], cwd=ROOT, check=True)
    loaded = subprocess.run(
        [sys.executable, "-v", "-c", "import worker; worker.build_activities"],
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    sources = re.findall(r"^# code object from '(.*\.py)'$", loaded, re.MULTILINE)
    ours = [s for s in sources if Path(s).resolve().is_relative_to(ROOT)]
    assert any("workflows" in line for line in loaded.splitlines()), "workflows not imported"
    assert ours == []
