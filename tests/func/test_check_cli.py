"""The check command end to end on temporary git repositories (local forge, local registry)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
def test_bad_input_gives_one_error_line_exit_2_an_error_result_and_comment_and_no_model(
    tiny_project: Path, capsys: pytest.CaptureFixture[str], mutate, expected: str
) -> None:
    mutate(tiny_project)
    assert check(tiny_project) == 2
    err = capsys.readouterr().err
    [line] = [line for line in err.splitlines() if line.startswith("mlops-actions: error")]
    assert expected in line and "Traceback" not in err, err
    result = result_of(tiny_project)
    assert result_problem(result) is None
    assert result["verdict"] == "error" and line == f"mlops-actions: error: {result['error']['message']}"
    assert sorted(p.name for p in (tiny_project / "mlops-out").iterdir()) == [
        "mlops-result.json",
        "report.html",
        "report.md",
    ]
    comment = (tiny_project / ".mlops" / "comments" / "tiny.md").read_text()
    assert "## ⚠️ ERROR: model tiny" in comment and result["error"]["stage"] in comment


def test_a_pass_comment_and_result_are_replaced_by_the_error_of_a_later_check(tiny_project: Path) -> None:
    assert check(tiny_project) == 0
    comment = tiny_project / ".mlops" / "comments" / "tiny.md"
    assert "✅ PASS" in comment.read_text()
    (tiny_project / "train.csv").unlink()
    assert check(tiny_project) == 2
    result = result_of(tiny_project)
    assert result["verdict"] == "error" and result["error"]["stage"] == "preflight"
    assert "data.train: train.csv: data file not found" in result["error"]["message"]
    assert not (tiny_project / "mlops-out" / "model").exists()
    text = comment.read_text()
    assert "PASS" not in text and "## ⚠️ ERROR: model tiny" in text
    assert "data.train: train.csv: data file not found" in text and "**Failed step:** preflight" in text
    assert "run `mlops-actions doctor --config mlops.yaml`" in text


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


# -- a check stopped by an error still reports -------------------------------------------------------------

RAISING_MODEL = "def train_model(*args, **kwargs):\n    raise RuntimeError('the solver diverged')\n"
STEPS_OF_A_LOCAL_CHECK = [
    "loading config",
    "preflight",
    "tests",
    "training candidate",
    "scoring",
    "resolving baseline",
    "data checks",
    "bootstrap",
    "rendering",
    "posting",
]


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("mlops-actions: error")]


def test_a_check_whose_training_raises_reports_the_error_at_the_training_step_and_keeps_no_model(
    tiny_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tiny_project / "tiny_model.py").write_text(RAISING_MODEL)
    assert check(tiny_project, "--baseline", "none") == 2
    [line] = error_lines(capsys.readouterr().err)
    assert "training raised RuntimeError: the solver diverged" in line
    result = result_of(tiny_project)
    assert result_problem(result) is None
    assert result["error"] == {
        "message": line.removeprefix("mlops-actions: error: "),
        "stage": "training candidate",
        "kind": "TrainingError",
        "reproduce": "mlops-actions check --config mlops.yaml",
    }
    assert list(result["timings"]) == ["loading config", "preflight", "tests", "training candidate"]
    assert not (tiny_project / "mlops-out" / "model").exists()
    assert (tiny_project / "mlops-out" / "report.md").read_text() == (
        tiny_project / ".mlops" / "comments" / "tiny.md"
    ).read_text().split("\n", 1)[1]


def test_a_comment_that_cannot_be_posted_is_a_warning_and_the_error_stays_the_one_line(
    tiny_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tiny_project / "tiny_model.py").write_text(RAISING_MODEL)
    blocker = tiny_project / "comments-file"
    blocker.write_text("a file where the comment folder goes\n")
    assert check(tiny_project, "--baseline", "none", "--comment-dir", str(blocker / "comments")) == 2
    err = capsys.readouterr().err
    [line] = error_lines(err)
    assert "the solver diverged" in line
    assert "mlops-actions: warning: the error result was not published: " in err
    assert result_of(tiny_project)["verdict"] == "error"


def test_a_local_check_prints_one_progress_line_per_step_in_order_on_stderr_only(
    tiny_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(tiny_project, "--baseline", "none") == 0
    captured = capsys.readouterr()
    started = [line for line in captured.err.splitlines() if line.endswith("...")]
    assert [line.split("] ", 1)[1].removesuffix("...") for line in started] == STEPS_OF_A_LOCAL_CHECK
    assert all(line.startswith("[") and "s] " in line for line in started)
    assert "[" not in captured.out.split("<!-- mlops-actions:sticky", 1)[0]
    assert any(line.endswith("] tests: not configured") for line in captured.err.splitlines())
    assert any(line.endswith("] posting: comment created") for line in captured.err.splitlines())
    timings = result_of(tiny_project)["timings"]
    assert list(timings) == STEPS_OF_A_LOCAL_CHECK[:-2]  # rendering and posting come after the result
    assert all(seconds >= 0 for seconds in timings.values())


@pytest.mark.parametrize(
    ("flag", "env"), [(["--quiet"], {}), ([], {"MLOPS_QUIET": "true"})], ids=["--quiet", "MLOPS_QUIET"]
)
def test_quiet_prints_no_progress_lines_and_still_records_the_timings(
    tiny_project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flag: list[str],
    env: dict[str, str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert check(tiny_project, "--baseline", "none", *flag) == 0
    err = capsys.readouterr().err
    assert not [line for line in err.splitlines() if line.startswith("[")], err
    assert "tiny: PASS" in err
    assert "training candidate" in result_of(tiny_project)["timings"]


def test_quiet_is_named_in_the_help_of_check_release_and_deploy(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("check", "release", "deploy"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "MLOPS_QUIET" in capsys.readouterr().out, command


GITHUB_TOKEN_VALUE = "ghs_check-error-token-77c1"


@pytest.fixture
def github_run(
    tiny_project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    start_github_standin: Callable[..., Any],
) -> Iterator[Any]:
    """GitHub Actions for pull request 7 of acme/tiny, against the in-process API stand-in."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"number": 7, "pull_request": {"number": 7}}))
    standin = start_github_standin(token=GITHUB_TOKEN_VALUE, repository="acme/tiny")
    standin.add_pull_request(7, author="octocat")
    for name in ("MLOPS_FORGE", "MLOPS_GITHUB_TOKEN", "MLOPS_PR_NUMBER", "GITLAB_CI"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_API_URL": standin.url,
        "GITHUB_REPOSITORY": "acme/tiny",
        "GITHUB_TOKEN": GITHUB_TOKEN_VALUE,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
    }.items():
        monkeypatch.setenv(name, value)
    yield standin
    assert standin.violations == []


def test_on_github_an_error_updates_the_pass_comment_annotates_and_writes_the_summary(
    tiny_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], github_run: Any
) -> None:
    assert check(tiny_project, "--baseline", "none", "--forge", "github") == 0
    [passed] = github_run.comments(7)
    assert "✅ PASS" in passed["body"]
    (tmp_path / "summary.md").write_text("")
    capsys.readouterr()

    (tiny_project / "tiny_model.py").write_text(RAISING_MODEL)
    assert check(tiny_project, "--baseline", "none", "--forge", "github") == 2
    captured = capsys.readouterr()
    [line] = error_lines(captured.err)
    message = line.removeprefix("mlops-actions: error: ")
    assert f"::error title=mlops-actions check::{message}" in captured.out.splitlines()
    [posted] = github_run.comments(7)
    assert posted["id"] == passed["id"]
    assert "## ⚠️ ERROR: model tiny" in posted["body"] and "✅ PASS" not in posted["body"]
    assert "training candidate" in posted["body"]
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## ⚠️ ERROR: model tiny") and "the solver diverged" in summary
    outputs = (tmp_path / "output.txt").read_text()
    assert "verdict<<" in outputs and "\nerror\n" in outputs
    assert "::group::training candidate" in captured.err and "::endgroup::" in captured.err
    assert GITHUB_TOKEN_VALUE not in captured.out + captured.err + summary + posted["body"]


def test_on_gitlab_an_error_writes_its_junit_and_dotenv_reports_and_steps_are_sections(
    tiny_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("GITLAB_CI", "true")
    (tiny_project / "tiny_model.py").write_text(RAISING_MODEL)
    assert check(tiny_project, "--baseline", "none", "--forge", "local") == 2
    err = capsys.readouterr().err
    assert len(error_lines(err)) == 1
    assert "section_start:" in err and ":mlops_4_training_candidate[collapsed=true]\r" in err
    assert "section_end:" in err
    out = tiny_project / "mlops-out"
    assert "MLOPS_VERDICT=error" in (out / "mlops.env").read_text().splitlines()
    assert 'name="error: training candidate"' in (out / "mlops-junit.xml").read_text()
    assert "## ⚠️ ERROR: model tiny" in (tiny_project / ".mlops" / "comments" / "tiny.md").read_text()
