"""docs/architecture.md stays true: every file its behaviour table names exists, and every function, class
or constant it names is defined there."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

from tests.conftest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "architecture.md"
TABLE_HEADING = "## Who owns what"
REFERENCE = re.compile(r"`([\w./-]+\.py)(?:::([\w.]+))?`")


def table_rows(text: str) -> list[tuple[str, str]]:
    """(behaviour, owner cell) of each row of the table under TABLE_HEADING."""
    section = text.split(TABLE_HEADING, 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 2 or set(cells[1]) <= set("-: "):
            continue
        rows.append((cells[0], cells[1]))
    return rows[1:]  # the header row


def owner_references(cell: str) -> list[tuple[str, str | None]]:
    """(file, name or None) of each `path.py::name` (or `path.py`) in an owner cell."""
    return [(match.group(1), match.group(2)) for match in REFERENCE.finditer(cell)]


@cache
def defined_names(path: Path) -> dict[str, set[str]]:
    """Top-level functions, classes and assigned names of a module (key ""), and each class's members."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: dict[str, set[str]] = {"": set()}

    def assigned(node: ast.stmt) -> list[str]:
        if isinstance(node, ast.Assign):
            return [target.id for target in node.targets if isinstance(target, ast.Name)]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            return [node.target.id]
        return []

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[""].add(node.name)
        names[""].update(assigned(node))
        if isinstance(node, ast.ClassDef):
            members = names.setdefault(node.name, set())
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    members.add(item.name)
                members.update(assigned(item))
    return names


def problem_of(file: str, name: str | None) -> str | None:
    """Why `file::name` is not true of the repository, or None."""
    path = REPO_ROOT / file
    if not path.is_file():
        return f"{file}: no such file"
    if name is None:
        return None
    names = defined_names(path)
    owner, _, member = name.rpartition(".")
    if owner:
        if member not in names.get(owner, set()):
            return f"{file}: {owner} defines no {member}"
    elif name not in names[""]:
        return f"{file}: {name} is not defined there"
    return None


def test_the_behaviour_table_names_files_and_definitions_that_exist() -> None:
    rows = table_rows(DOC.read_text(encoding="utf-8"))
    problems = [
        f"{behaviour!r}: {problem}"
        for behaviour, cell in rows
        for file, name in owner_references(cell)
        if (problem := problem_of(file, name))
    ]
    assert problems == [], "docs/architecture.md names what does not exist:\n" + "\n".join(problems)


def test_every_row_of_the_behaviour_table_names_an_owner_definition() -> None:
    rows = table_rows(DOC.read_text(encoding="utf-8"))
    assert len(rows) >= 25
    assert [
        behaviour for behaviour, cell in rows if not any(name for _, name in owner_references(cell))
    ] == []


def test_the_table_check_notices_a_missing_file_and_a_missing_definition() -> None:
    assert problem_of("mlops_actions/domain/gate.py", "judge") is None
    assert problem_of("mlops_actions/domain/gate.py", "no_such_function") is not None
    assert problem_of("mlops_actions/domain/no_such_module.py", "judge") is not None
    assert problem_of("mlops_actions/platforms/base.py", "Platform.links") is None
    assert problem_of("mlops_actions/platforms/base.py", "Platform.no_such_member") is not None
    rows = table_rows(
        f"{TABLE_HEADING}\n\n| behaviour | owner |\n|---|---|\n| the gate | `a.py::b`, `c.py` |\n"
    )
    assert rows == [("the gate", "`a.py::b`, `c.py`")]
    assert owner_references(rows[0][1]) == [("a.py", "b"), ("c.py", None)]
