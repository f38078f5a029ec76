"""The README's quick-start markers, checked in milliseconds: the blocks tests/onboarding/test_readme_quickstart.py
runs are found, in the order a new user needs them, and an edit that breaks a marker fails here first."""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest
import yaml

from mlops_actions.domain.config import parse_config
from tests.onboarding.readme_quickstart import Block, QuickstartError, quickstart_blocks, readme_quickstart

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def blocks() -> list[Block]:
    return readme_quickstart(README)


def commands(blocks: list[Block]) -> list[str]:
    return [line.strip() for b in blocks if b.path is None for line in b.text.splitlines() if line.strip()]


def test_the_quick_start_installs_validates_releases_branches_and_checks_in_that_order(
    blocks: list[Block],
) -> None:
    lines = commands(blocks)
    assert lines[0] == "pip install mlops-actions"
    steps = [
        "pip install mlops-actions",
        "mlops-actions config validate",
        "git init",
        "mlops-actions release",
    ]
    steps += ["git switch", "mlops-actions check", "cat .mlops/comments/"]
    positions = [next((i for i, line in enumerate(lines) if line.startswith(step)), -1) for step in steps]
    assert -1 not in positions, dict(zip(steps, positions, strict=True))
    assert positions == sorted(positions)


def test_the_quick_start_writes_its_data_model_config_and_gitignore_before_the_first_commit(
    blocks: list[Block],
) -> None:
    first_commit = next(i for i, b in enumerate(blocks) if b.path is None and "git commit" in b.text)
    before = {b.path for b in blocks[:first_commit] if b.path is not None}
    assert before == {"make_data.py", "churn_model.py", "mlops.yaml", ".gitignore"}
    after = [b.path for b in blocks[first_commit:] if b.path is not None]
    assert after == ["churn_model.py"]  # the pull request's change


def test_the_quick_start_config_is_valid_and_names_what_the_other_blocks_make(
    blocks: list[Block], tmp_path: Path
) -> None:
    doc = yaml.safe_load(next(b.text for b in blocks if b.path == "mlops.yaml"))
    config = parse_config(doc, tmp_path / "mlops.yaml")
    module, function = doc["train"]["entrypoint"].split(":")
    model_code = next(b.text for b in blocks if b.path == f"{module}.py")
    assert f"def {function}(" in model_code
    data_code = next(b.text for b in blocks if b.path == "make_data.py")
    for key in ("train", "eval"):
        assert f'"{doc["data"][key]}"' in data_code
    assert "python make_data.py" in commands(blocks)
    assert f"cat .mlops/comments/{config.model_name}.md" in commands(blocks)


def test_the_quick_start_python_files_parse(blocks: list[Block]) -> None:
    for block in blocks:
        if block.language == "python":
            ast.parse(block.text, filename=f"README.md:{block.line}")


def test_the_quick_start_commands_stay_in_the_project_folder(blocks: list[Block]) -> None:
    # each block runs in the project folder: a cd would not carry over to the next one
    assert not [line for line in commands(blocks) if re.match(r"(cd|pushd|popd)\b", line)]


def test_the_quick_start_gitignore_keeps_the_outputs_out_of_git(blocks: list[Block]) -> None:
    ignored = next(b.text for b in blocks if b.path == ".gitignore").split()
    assert {".mlops/", "mlops-out/"} <= set(ignored)


def test_only_blocks_marked_quickstart_are_taken_with_their_file_and_line() -> None:
    markdown = textwrap.dedent(
        """\
        ```bash
        not run
        ```

        ```bash quickstart
        echo run
        ```

        ````python quickstart file=pkg/train.py
        ```
        print("a fence inside a longer fence")
        ````
        """
    )
    assert quickstart_blocks(markdown) == [
        Block(line=5, language="bash", text="echo run\n"),
        Block(
            line=9,
            language="python",
            text='```\nprint("a fence inside a longer fence")\n',
            path="pkg/train.py",
        ),
    ]


@pytest.mark.parametrize(
    ("markdown", "message"),
    [
        ("```bash quickstart\necho never closed\n", "README.md:1: quick-start block is never closed"),
        ("```yaml quickstart\nversion: 1\n```\n", "README.md:1: a quick-start 'yaml' block needs file=PATH"),
        ("```python quickstart file=../x.py\n```\n", "README.md:1: file='../x.py' must be a relative path"),
        (
            "```python quickstart file=/etc/x.py\n```\n",
            "README.md:1: file='/etc/x.py' must be a relative path",
        ),
        ("```bash quickstart run=yes\n```\n", "README.md:1: unknown quick-start attribute 'run=yes'"),
        ("```python quickstart file=a.py file=b.py\n```\n", "names one file, got a second 'file=b.py'"),
    ],
)
def test_a_malformed_quickstart_marker_is_refused_naming_the_line(markdown: str, message: str) -> None:
    with pytest.raises(QuickstartError, match=re.escape(message)):
        quickstart_blocks(markdown)
