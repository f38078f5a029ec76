"""Imports point down the layers of docs/architecture.md: the domain knows no stage, platform, registry,
renderer, server or command, and nothing below the commands imports a command or the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mlops_actions"

# layer (a folder of the package) -> the layers it must never import
FORBIDDEN = {
    "domain": (
        "stages",
        "platforms",
        "registry",
        "render",
        "serving",
        "commands",
        "cli",
        "engines",
        "metadata",
    ),
    "render": ("stages", "platforms", "registry", "serving", "commands", "cli"),
    "platforms": ("stages", "commands", "cli", "serving"),
    "registry": ("stages", "commands", "cli", "serving"),
    "metadata": ("stages", "commands", "cli", "serving", "monitoring", "engines", "render"),
    "stages": ("commands", "cli"),
    "serving": ("commands", "cli"),
    "monitoring": ("stages", "platforms", "serving", "commands", "cli"),
    "engines": ("stages", "platforms", "registry", "render", "serving", "commands", "cli", "monitoring"),
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in ``path``, at any depth (function-level imports count too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def layer_violations(layer: str, package: Path = PACKAGE) -> list[str]:
    """``file:line imports module`` for each import of ``layer`` into a layer it must not reach."""
    problems = []
    for path in sorted((package / layer).rglob("*.py")):
        for line, module in imported_modules(path):
            parts = module.split(".")
            if parts[0] == "mlops_actions" and len(parts) > 1 and parts[1] in FORBIDDEN[layer]:
                problems.append(f"{path.relative_to(package.parent)}:{line} imports {module}")
    return problems


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_point_down_the_layers(layer):
    assert layer_violations(layer) == []


def test_an_upward_import_inside_a_function_is_found(tmp_path):
    fake = tmp_path / "mlops_actions"
    (fake / "domain").mkdir(parents=True)
    (fake / "domain" / "bad.py").write_text(
        "def f():\n    from mlops_actions.stages.check import run_check\n"
    )
    assert layer_violations("domain", fake) == [
        "mlops_actions/domain/bad.py:2 imports mlops_actions.stages.check"
    ]
