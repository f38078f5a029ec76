"""evaluate, compare, publish, history and fetch by hand; tampered models and existing versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_actions.cli import main
from mlops_actions.domain.model_io import MODEL_FILE


def cli(project: Path, *args: str) -> int:
    return main([args[0], "--config", str(project / "mlops.yaml"), *args[1:]])


@pytest.fixture
def trained(tiny_project: Path) -> Path:
    assert cli(tiny_project, "train", "--output-dir", str(tiny_project / "model")) == 0
    return tiny_project / "model"


def test_evaluate_then_compare_a_model_with_itself_passes_within_noise(
    tiny_project: Path, trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli(tiny_project, "evaluate", "--model", str(trained), "--output-dir", str(tiny_project / "ev")) == 0
    )
    evaluation = json.loads((tiny_project / "ev" / "evaluation.json").read_text())
    auc = next(m for m in evaluation["metrics"] if m["name"] == "roc_auc")
    assert auc["ci_low"] < auc["candidate"] < auc["ci_high"]
    capsys.readouterr()
    ev = str(tiny_project / "ev")
    assert cli(tiny_project, "compare", "--candidate", ev, "--baseline", ev, "--json") == 0
    compared = json.loads(capsys.readouterr().out)
    assert compared["verdict"] == "pass" and all(m["within_noise"] for m in compared["metrics"])


def test_compare_without_baseline_judges_absolute_bounds(
    tiny_project: Path, trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli(tiny_project, "evaluate", "--model", str(trained), "--output-dir", str(tiny_project / "ev")) == 0
    )
    assert cli(tiny_project, "compare", "--candidate", str(tiny_project / "ev")) == 0
    assert "only absolute bounds are judged" in capsys.readouterr().out


def test_tampered_model_is_refused_before_loading(
    tiny_project: Path, trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = bytearray((trained / MODEL_FILE).read_bytes())
    data[-10] ^= 0xFF
    (trained / MODEL_FILE).write_bytes(bytes(data))
    assert (
        cli(tiny_project, "evaluate", "--model", str(trained), "--output-dir", str(tiny_project / "ev")) == 2
    )
    assert "sha256 digest mismatch" in capsys.readouterr().err
    assert not (tiny_project / "ev").exists()


def test_corrupted_model_with_matching_digest_is_a_clean_error(
    tiny_project: Path, trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlops_actions.domain.model_io import digest_of

    (trained / MODEL_FILE).write_bytes(b"not a zip archive")
    meta_path = trained / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["model_digest"] = digest_of(trained / MODEL_FILE)
    meta_path.write_text(json.dumps(meta))
    assert (
        cli(tiny_project, "evaluate", "--model", str(trained), "--output-dir", str(tiny_project / "ev")) == 2
    )
    err = capsys.readouterr().err
    assert "not a readable skops model file" in err and len(err.strip().splitlines()) == 1


def test_publish_history_fetch_and_an_existing_version(
    tiny_project: Path, trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(tiny_project, "publish", str(trained), "--version", "1.0.0", "--alias", "production") == 0
    capsys.readouterr()
    assert cli(tiny_project, "publish", str(trained), "--version", "1.0.0") == 2
    assert "version 1.0.0 of 'tiny' already exists" in capsys.readouterr().err
    assert cli(tiny_project, "history", "--json") == 0
    history = json.loads(capsys.readouterr().out)
    assert len(history) == 1
    assert {"version", "tag", "commit", "created", "metrics", "digest"} <= set(history[0])
    assert history[0]["aliases"] == ["production"]
    assert cli(tiny_project, "fetch", "production", "--output-dir", str(tiny_project / "fetched")) == 0
    assert (tiny_project / "fetched" / MODEL_FILE).read_bytes() == (trained / MODEL_FILE).read_bytes()


def test_release_twice_on_one_commit_yields_one_version(
    tiny_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tiny_project / "mlops-out")
    assert cli(tiny_project, "release", "--output-dir", out) == 0
    assert cli(tiny_project, "release", "--output-dir", out) == 0
    assert "already released as tiny@v1.0.0" in capsys.readouterr().out
    assert cli(tiny_project, "history", "--json") == 0
    assert [v["version"] for v in json.loads(capsys.readouterr().out)] == ["1.0.0"]
