"""`mlops-actions history --trend` after two releases: the Markdown summary with its Mermaid chart on stdout,
the dashboard written where `--output` says (and said on stderr); the second version's model card (its
release notes) shows the primary metric's trend."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mlops_actions.cli import main
from tests.conftest import GIT_ENV, run_git


@pytest.fixture(scope="module")
def released_twice(_tiny_project_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny project released twice (1.0.0, then 1.1.0 gated against it), once for the module."""
    project = tmp_path_factory.mktemp("trend") / "tiny"
    shutil.copytree(_tiny_project_template, project, symlinks=True)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in GIT_ENV.items():
            patch.setenv(key, value)
        for key in ("GITHUB_ACTIONS", "GITLAB_CI", "MLOPS_REGISTRY_PATH", "MLOPS_PR_LABELS", "MLOPS_BUMP"):
            patch.delenv(key, raising=False)
        for message in ("First model (#1)", "Better features (#2)"):
            run_git(project, "commit", "-q", "--allow-empty", "-m", message)
            config, out = str(project / "mlops.yaml"), str(project / "mlops-out")
            assert main(["release", "--config", config, "--output-dir", out]) == 0
    return project


def test_history_trend_prints_the_chart_and_writes_the_dashboard_of_both_versions(
    released_twice, capsys, tmp_path
):
    capsys.readouterr()
    output = tmp_path / "dashboard"
    config = str(released_twice / "mlops.yaml")
    assert main(["history", "--trend", "--config", config, "--output", str(output)]) == 0
    captured = capsys.readouterr()
    assert "```mermaid\nxychart-beta\n" in captured.out
    assert 'x-axis ["1.0.0", "1.1.0"]' in captured.out and "| 1.1.0 (production) |" in captured.out
    page = output / "index.html"
    assert f"dashboard: {page}" in captured.err.splitlines()
    html = page.read_text(encoding="utf-8")
    assert re.findall(r'<circle class="point" data-version="([0-9.]+)"', html)[:2] == ["1.0.0", "1.1.0"]
    assert "<script" not in html


def test_the_second_versions_model_card_shows_the_trend_and_the_first_has_none(released_twice):
    versions = released_twice / ".registry" / "tiny" / "versions"
    first = (versions / "1.0.0" / "model-card.md").read_text()
    second = (versions / "1.1.0" / "model-card.md").read_text()
    assert "## Trend of" not in first
    trend = second[second.index("## Trend of roc_auc") : second.index("## Training data")]
    assert "over the last 2 versions" in trend
    assert re.search(r"^\| 1\.0\.0 \| 0\.\d{4} \| \[0\.\d{4}, 0\.\d{4}\] \|$", trend, re.MULTILINE), trend
    assert re.search(r"^\| 1\.1\.0 \(this release\) \| 0\.\d{4} \| Δ \[", trend, re.MULTILINE), trend


def test_history_trend_needs_no_store(tiny_project, capsys, tmp_path):
    (tiny_project / "mlops.yaml").write_text(
        (tiny_project / "mlops.yaml").read_text() + 'metadata:\n  backend: "off"\n'
    )
    output = tmp_path / "trend"
    assert (
        main(["history", "--trend", "--config", str(tiny_project / "mlops.yaml"), "--output", str(output)])
        == 0
    )
    captured = capsys.readouterr()
    assert "No released version yet." in captured.out and "metadata.backend is off" in captured.out
    assert (output / "index.html").is_file()
