"""The check command end to end on temporary git repositories (local forge, local registry)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_actions.cli import main
from mlops_actions.render.result import result_problem
from tests.conftest import run_git


def check(project: Path, *extra: str) -> int:
    return main(
        [
            "check",
            "--config",
            str(project / "mlops.yaml"),
            "--output-dir",
            str(project / "mlops-out"),
            "--comment-dir",
            str(project / ".mlops" / "comments"),
            *extra,
        ]
    )


def result_of(project: Path) -> dict:
    return json.loads((project / "mlops-out" / "mlops-result.json").read_text())


def branch_with_params(project: Path, branch: str, params: str) -> None:
    run_git(project, "checkout", "-q", "-b", branch)
    config = project / "mlops.yaml"
    config.write_text(config.read_text().replace("params: {C: 1.0}", f"params: {params}"))
    run_git(project, "commit", "-q", "-am", f"change params to {params}")


def test_check_on_main_judges_absolute_bounds_only(tiny_project: Path) -> None:
    assert check(tiny_project) == 0
    result = result_of(tiny_project)
    assert result_problem(result) is None
    assert result["baseline"]["source"] == "none" and result["gate"]["absolute_only"] is True
    assert "no 'production' version" in result["baseline"]["reason"]
    assert "HEAD is the merge-base" in result["baseline"]["reason"]
    assert {r["status"] for r in result["rules"]} == {"pass", "skipped"}
    comment = (tiny_project / ".mlops" / "comments" / "tiny.md").read_text()
    assert comment.startswith("<!-- mlops-actions:sticky tiny -->")


def test_degrading_branch_fails_the_gate_with_the_rule_named(tiny_project: Path) -> None:
    branch_with_params(tiny_project, "drop-x1", "{C: 1.0, drop: [x1]}")
    assert check(tiny_project) == 1
    result = result_of(tiny_project)
    assert result["verdict"] == "fail" and result["baseline"]["source"] == "retrain"
    assert result["reasons"][0].startswith("roc_auc: Δ -")
    auc = next(m for m in result["metrics"] if m["name"] == "roc_auc")
    assert auc["ci_high"] < 0 and auc["within_noise"] is False
    assert auc["test"]["name"] == "delong" and auc["test"]["p_value"] < 0.01
    assert result["evaluation"]["same_rows"] is True
    assert result["candidate"]["commit"] != result["baseline"]["model"]["commit"]
    report = (tiny_project / "mlops-out" / "report.md").read_text()
    assert report.startswith("## ❌ FAIL") and "entirely beyond the allowed change" in report


def test_same_model_on_a_branch_is_within_noise_and_passes(tiny_project: Path) -> None:
    run_git(tiny_project, "checkout", "-q", "-b", "docs-only")
    (tiny_project / "NOTES.md").write_text("no model change\n")
    run_git(tiny_project, "add", "NOTES.md")
    run_git(tiny_project, "commit", "-q", "-m", "docs")
    assert check(tiny_project) == 0
    result = result_of(tiny_project)
    assert result["baseline"]["source"] == "retrain"
    assert all(m["delta"] == 0 for m in result["metrics"])
    assert result["data_changed"] is False
    assert all(m["within_noise"] for m in result["metrics"])


def test_registry_production_is_the_preferred_baseline(tiny_project: Path) -> None:
    assert (
        main(
            [
                "release",
                "--config",
                str(tiny_project / "mlops.yaml"),
                "--output-dir",
                str(tiny_project / "mlops-out"),
            ]
        )
        == 0
    )
    branch_with_params(tiny_project, "stronger-reg", "{C: 0.5}")
    assert check(tiny_project) == 0
    result = result_of(tiny_project)
    assert result["baseline"]["source"] == "registry"
    assert result["baseline"]["model"]["version"] == "1.0.0"
    assert "production version 1.0.0" in result["baseline"]["reason"]


def test_explicit_baseline_none_skips_change_rules(tiny_project: Path) -> None:
    branch_with_params(tiny_project, "drop-x1", "{C: 1.0, drop: [x1]}")
    assert check(tiny_project, "--baseline", "none") == 0
    assert result_of(tiny_project)["baseline"]["source"] == "none"


def test_slices_carry_their_own_metrics(tiny_project: Path) -> None:
    assert check(tiny_project) == 0
    slices = result_of(tiny_project)["slices"]
    assert sorted(s["value"] for s in slices) == ["a", "b", "c"]
    assert sum(s["rows"] for s in slices) == 300


def test_failing_project_tests_fail_the_gate_with_counts(tiny_project: Path) -> None:
    (tiny_project / "test_features.py").write_text(
        "def test_ok():\n    pass\n\ndef test_broken():\n    assert 1 == 2\n"
    )
    config = tiny_project / "mlops.yaml"
    config.write_text(
        config.read_text() + "tests:\n  command: python -m pytest -q test_features.py --junitxml {junit}\n"
    )
    assert check(tiny_project) == 1
    tests = result_of(tiny_project)["tests"]
    assert (tests["status"], tests["passed"], tests["failed"]) == ("fail", 1, 1)
    assert any(r.startswith("project tests failed (1 failed)") for r in result_of(tiny_project)["reasons"])


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda p: (p / "mlops.yaml").write_text("version: 1\nmodel: [\n"), "invalid YAML"),
        (lambda p: (p / "train.csv").unlink(), "train.csv: data file not found"),
        (lambda p: (p / "train.csv").write_text(""), "train.csv: data file is empty"),
        (
            lambda p: (p / "train.csv").write_text("row_id,x1,x2,group,label\n"),
            "train.csv: data file has no rows",
        ),
        (
            lambda p: (p / "mlops.yaml").write_text(
                (p / "mlops.yaml").read_text().replace("target: label", "target: outcome")
            ),
            "target column 'outcome' not found",
        ),
        (
            lambda p: (p / "eval.csv").write_text((p / "eval.csv").read_text().replace(",1\n", ",\n", 3)),
            "eval.csv: target column 'label' has 3 missing values",
        ),
        (
            lambda p: (p / "mlops.yaml").write_text((p / "mlops.yaml").read_text().replace("brier]", "f2]")),
            "metrics.others[2]: unknown metric 'f2'",
        ),
    ],
    ids=[
        "malformed-yaml",
        "missing-data",
        "empty-file",
        "no-rows",
        "missing-target",
        "nan-target",
        "unknown-metric",
    ],
)
def test_bad_input_gives_one_line_exit_2_and_writes_nothing(
    tiny_project: Path, capsys: pytest.CaptureFixture[str], mutate, expected: str
) -> None:
    mutate(tiny_project)
    assert check(tiny_project) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    assert not (tiny_project / "mlops-out" / "mlops-result.json").exists()
    assert not (tiny_project / "mlops-out" / "model").exists()
    assert not (tiny_project / ".mlops" / "comments").exists()


def test_a_stale_result_is_removed_when_a_later_check_fails(tiny_project: Path) -> None:
    assert check(tiny_project) == 0
    (tiny_project / "train.csv").unlink()
    assert check(tiny_project) == 2
    assert not (tiny_project / "mlops-out" / "mlops-result.json").exists()


def test_schema_violations_fail_the_gate_and_changed_data_is_compared_with_the_base(
    tiny_project: Path,
) -> None:
    assert (
        main(
            [
                "data",
                "schema",
                "infer",
                str(tiny_project / "train.csv"),
                str(tiny_project / "eval.csv"),
                "--target",
                "label",
                "--id-column",
                "row_id",
                "-o",
                str(tiny_project / "schema.yaml"),
            ]
        )
        == 0
    )
    config = tiny_project / "mlops.yaml"
    config.write_text(
        config.read_text().replace("  slices: [group]\n", "  slices: [group]\n  schema: schema.yaml\n")
    )
    run_git(tiny_project, "add", "-A")
    run_git(tiny_project, "commit", "-q", "-m", "data schema")
    run_git(tiny_project, "checkout", "-q", "-b", "new-data")
    train = (tiny_project / "train.csv").read_text().splitlines()
    train[1] = train[1].rsplit(",", 2)[0] + ",zeta," + train[1].rsplit(",", 1)[1]  # an unseen group
    (tiny_project / "train.csv").write_text("\n".join(train[:-50]) + "\n")  # and 50 rows fewer
    run_git(tiny_project, "commit", "-q", "-am", "refresh training data")
    assert check(tiny_project) == 1
    result = result_of(tiny_project)
    checks = result["data_checks"]
    assert checks["schema"]["status"] == "fail"
    kinds = {v["kind"] for f in checks["schema"]["files"] for v in f["violations"]}
    assert "unseen_category" in kinds or "unseen category" in kinds, kinds
    assert any(r.startswith("data schema:") for r in result["reasons"])
    changed = {f["role"]: f for f in checks["changes"]["files"]}
    assert changed["train"]["changed"] is True and changed["eval"]["changed"] is False
    assert changed["train"]["rows_removed"] == 50
    assert result["data_changed"] is True
