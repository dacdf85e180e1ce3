"""Workflow modules import project code only through imports_passed_through()."""

import ast
from pathlib import Path

import pytest

WORKFLOWS = Path(__file__).parent.parent / "workflows"
PROJECT_PACKAGES = {
    "application",
    "activities",
    "connectors",
    "models",
    "store",
    "workflows",
    "config",
}
# Modules the worker and CLI use outside the sandbox; they define no workflow.
NOT_SANDBOXED = {"catalog.py", "__init__.py"}


def _passes_through(node: ast.With) -> bool:
    return any(
        isinstance(item.context_expr, ast.Call)
        and ast.unparse(item.context_expr.func).endswith("imports_passed_through")
        for item in node.items
    )


def direct_project_imports(source: str) -> list[str]:
    """Project imports that are not inside a `with ... imports_passed_through():` block."""
    tree = ast.parse(source)
    passed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With) and _passes_through(node):
            passed |= {id(child) for child in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in passed:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [n for n in names if n.split(".")[0] in PROJECT_PACKAGES]
    return found


@pytest.mark.parametrize(
    "module",
    sorted(p.name for p in WORKFLOWS.glob("*.py") if p.name not in NOT_SANDBOXED),
)
def test_workflow_module_imports_project_code_through_the_sandbox(module: str) -> None:
    assert direct_project_imports((WORKFLOWS / module).read_text()) == []


def test_the_check_catches_a_direct_import() -> None:
    source = "from temporalio import workflow\nfrom activities.crm import CrmActivities\n"
    assert direct_project_imports(source) == ["activities.crm"]
    guarded = (
        "from temporalio import workflow\n"
        "with workflow.unsafe.imports_passed_through():\n"
        "    from activities.crm import CrmActivities\n"
    )
    assert direct_project_imports(guarded) == []
