from __future__ import annotations

from mlops_actions.config import CONFIG_SCHEMA
from mlops_actions.reference import BEGIN, END, config_reference, replace_block
from tests.conftest import REPO_ROOT


def test_readme_config_reference_is_generated_from_the_schema() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert replace_block(readme, config_reference()) == readme, (
        "run: python -m mlops_actions.reference --write README.md"
    )


def test_reference_lists_every_top_level_key() -> None:
    table = config_reference()
    for key in CONFIG_SCHEMA["properties"]:
        assert f"| `{key}` |" in table
    assert table.count(BEGIN) == table.count(END) == 0
