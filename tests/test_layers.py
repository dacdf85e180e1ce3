"""The front doors (CLI, ingress, inbox) reach Temporal through application/, never through
each other; application/ and the local stack import no front door's modules."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
FORBIDDEN = {
    "application": {"cli", "ingress", "inbox", "stack"},
    "ingress": {"cli", "inbox", "stack"},
    "inbox": {"cli", "ingress", "stack"},
    "stack": {"cli"},
}


def imported_packages(folder: Path) -> dict[str, set[str]]:
    """Each module under `folder` -> the top-level packages it imports (anywhere in it)."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
        found[str(path.relative_to(folder))] = names
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_layer_imports_no_front_door_above_or_beside_it(package: str) -> None:
    crossing = {
        module: sorted(names & FORBIDDEN[package])
        for module, names in imported_packages(ROOT / package).items()
        if names & FORBIDDEN[package]
    }
    assert crossing == {}


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    (tmp_path / "door.py").write_text(
        "import httpx\n\n\ndef later() -> None:\n    from cli.output import console\n"
    )
    assert imported_packages(tmp_path) == {"door.py": {"httpx", "cli"}}
