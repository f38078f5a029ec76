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


def _deploy_record(version: str, second: int, outcome: str) -> dict[str, object]:
    return {
        "time": f"2026-12-01T16:00:{second:02d}.123Z",
        "version": version,
        "outcome": outcome,
        "previous": None,
        "reason": "p99 612 ms > 200 ms | loadtest" if outcome != "deployed" else None,
        "target": "built-in",
        "smoke": {"rows": 20, "mismatches": 0},
        "load": {"rps": 950.5, "p95_ms": 12.0, "p99_ms": 20.5, "error_rate": 0.001},
        "duration_s": 41.2,
        "run_url": None,
    }


def test_registry_deploys_lists_the_records_oldest_first_as_json_text_and_markdown(
    tiny_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlops_actions.domain.model_io import METADATA_FILE, digest_of
    from mlops_actions.platforms.local.registry import LocalRegistry

    registry = LocalRegistry(tiny_project / ".registry", "tiny")
    for version in ("1.0.0", "1.1.0"):
        folder = tmp_path / f"model-{version}"
        folder.mkdir()
        (folder / MODEL_FILE).write_bytes(version.encode())
        metadata = {"model_name": "tiny", "model_digest": digest_of(folder / MODEL_FILE)}
        (folder / METADATA_FILE).write_text(json.dumps(metadata))
        registry.publish(folder, version=version, metrics={})
    newest, oldest = _deploy_record("1.1.0", 9, "rolled_back"), _deploy_record("1.0.0", 1, "deployed")
    registry.record_deploy("1.1.0", newest)
    registry.record_deploy("1.0.0", oldest)
    config = ["--config", str(tiny_project / "mlops.yaml")]

    assert main(["registry", "deploys", *config, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [oldest, newest]
    assert main(["registry", "deploys", *config, "--json", "--version", "v1.1.0"]) == 0
    assert json.loads(capsys.readouterr().out) == [newest]

    assert main(["registry", "deploys", *config]) == 0
    header, first, second = capsys.readouterr().out.splitlines()
    assert header.split()[:3] == ["time", "version", "outcome"]
    assert first.split()[:3] == ["2026-12-01T16:00:01.123Z", "1.0.0", "deployed"]
    assert second.split()[:3] == ["2026-12-01T16:00:09.123Z", "1.1.0", "rolled_back"]
    assert "950.5" in second and "0.10%" in second and "p99 612 ms > 200 ms" in second

    assert main(["registry", "deploys", *config, "--markdown"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("| time | version | outcome") and len(table) == 4
    assert "200 ms \\| loadtest" in table[3]  # a value cannot break the table

    assert main(["registry", "deploys", *config, "--version", "9.9.9"]) == 2
    err = capsys.readouterr().err
    assert "no version 9.9.9" in err and len(err.strip().splitlines()) == 1


def test_registry_deploys_says_so_when_there_are_none(
    tiny_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["registry", "deploys", "--config", str(tiny_project / "mlops.yaml")]) == 0
    assert capsys.readouterr().out == "no deploy records yet\n"
