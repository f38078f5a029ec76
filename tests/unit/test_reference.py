from __future__ import annotations

from mlops_actions.domain.config import CONFIG_SCHEMA
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


def test_readme_metric_reference_lists_every_metric_with_its_direction() -> None:
    from mlops_actions.domain.metric_names import METRICS
    from mlops_actions.reference import metric_reference, replace_block

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = metric_reference()
    assert replace_block(readme, table, "metric-reference") == readme, (
        "run: python -m mlops_actions.reference --write README.md"
    )
    assert "| `rmse` | RMSE | regression | lower | regression |" in table
    assert all(f"| `{name}` |" in table for name in METRICS)


def test_every_config_key_is_described() -> None:
    rows = config_reference().splitlines()[2:]
    assert [row.split("|")[1].strip() for row in rows if row.endswith("|  |")] == []
