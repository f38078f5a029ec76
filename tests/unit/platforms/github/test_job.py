"""Job summary, annotations and step outputs for GitHub Actions."""

from __future__ import annotations

import io
import re

from mlops_actions.platforms.github.job import (
    MAX_SUMMARY_BYTES,
    error_annotation,
    escape_data,
    escape_property,
    failure_annotations,
    output_lines,
    publish_job_outputs,
)

FAILED = {
    "verdict": "fail",
    "model": {"name": "churn"},
    "reasons": ["roc_auc: Δ ≥ -0.010 (interval) failed: the whole interval [-0.09, -0.04] is below -0.010"],
    "rules": [{"metric": "roc_auc", "status": "fail", "description": "Δ ≥ -0.010 (interval)"}],
}
PATHS = {
    "result": "/tmp/out/mlops-result.json",
    "markdown": "/tmp/out/report.md",
    "html": "/tmp/out/report.html",
}


def read_outputs(text: str) -> dict[str, str]:
    """Parse GITHUB_OUTPUT's delimiter form as the runner does."""
    outputs, lines = {}, iter(text.splitlines())
    for line in lines:
        name, delimiter = line.split("<<", 1)
        value = []
        for inner in lines:
            if inner == delimiter:
                break
            value.append(inner)
        outputs[name] = "\n".join(value)
    return outputs


def test_escaping_follows_the_workflow_command_rules():
    assert escape_data("50%\r\nnext") == "50%25%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_untrusted_text_cannot_start_a_workflow_command():
    line = error_annotation("x\n::add-mask::secret\n::set-output name=a::b", title="t::x,y")
    assert line.count("\n") == 0
    assert line.startswith("::error title=t%3A%3Ax%2Cy::")
    assert "%0A::add-mask::" in line


def test_a_failed_verdict_gives_one_annotation_per_reason():
    [line] = failure_annotations(FAILED)
    assert line.startswith("::error title=mlops-actions%3A churn gate failed::roc_auc: Δ ≥ -0.010")


def test_failed_rules_are_annotated_when_reasons_are_empty():
    [line] = failure_annotations({**FAILED, "reasons": []})
    assert "roc_auc: Δ ≥ -0.010 (interval)" in line


def test_a_pass_has_no_annotations():
    assert failure_annotations({**FAILED, "verdict": "pass", "reasons": []}) == []


def test_many_reasons_are_capped_with_a_count():
    lines = failure_annotations({**FAILED, "reasons": [f"rule {i}" for i in range(25)]})
    assert len(lines) == 11 and lines[-1].endswith("15 more reasons in the job summary")


def test_outputs_survive_newlines_in_values():
    text = output_lines("report-path", "a\nb") + output_lines("verdict", "pass")
    assert read_outputs(text) == {"report-path": "a\nb", "verdict": "pass"}


def test_publish_appends_summary_prints_annotations_and_writes_outputs(tmp_path):
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    summary.write_text("earlier step\n")
    stream = io.StringIO()
    env = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)}
    written = publish_job_outputs(FAILED, "## churn: fail\n| metric |", PATHS, env, stream=stream)
    assert summary.read_text() == "earlier step\n## churn: fail\n| metric |\n"
    assert re.fullmatch(r"::error title=[^\n]+::[^\n]+\n", stream.getvalue())
    assert (
        read_outputs(outputs.read_text())
        == written
        == {
            "verdict": "fail",
            "model": "churn",
            "result-path": PATHS["result"],
            "report-path": PATHS["markdown"],
            "html-report-path": PATHS["html"],
        }
    )


def test_publish_outside_actions_writes_nothing(tmp_path):
    stream = io.StringIO()
    written = publish_job_outputs({**FAILED, "verdict": "pass"}, "# ok", PATHS, {}, stream=stream)
    assert stream.getvalue() == "" and written["verdict"] == "pass"
    assert list(tmp_path.iterdir()) == []


def test_an_oversized_summary_is_truncated_under_the_limit(tmp_path):
    summary = tmp_path / "summary.md"
    publish_job_outputs(
        FAILED, "| row |\n" * 200_000, PATHS, {"GITHUB_STEP_SUMMARY": str(summary)}, stream=io.StringIO()
    )
    text = summary.read_text(encoding="utf-8")
    assert len(text.encode()) <= MAX_SUMMARY_BYTES and "summary truncated" in text


ERRORED = {
    "verdict": "error",
    "model": {"name": "churn"},
    "reasons": ["data.train: train.csv not found"],
    "error": {
        "message": "mlops.yaml: data.train: train.csv not found",
        "stage": "preflight",
        "reproduce": "x",
    },
}


def test_an_error_is_one_annotation_titled_mlops_actions_check_with_its_line():
    assert failure_annotations(ERRORED) == [
        "::error title=mlops-actions check::mlops.yaml: data.train: train.csv not found"
    ]


def test_an_error_line_cannot_start_a_workflow_command_of_its_own():
    errored = {**ERRORED, "error": {**ERRORED["error"], "message": "boom\n::add-mask::x"}}
    [line] = failure_annotations(errored)
    assert "\n" not in line and line.endswith("boom%0A::add-mask::x")


def test_publishing_an_error_writes_its_summary_annotation_and_verdict_output(tmp_path):
    summary, output, stream = tmp_path / "summary.md", tmp_path / "output.txt", io.StringIO()
    env = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)}
    outputs = publish_job_outputs(ERRORED, "## ⚠️ ERROR: model churn\n", PATHS, env, stream=stream)
    assert summary.read_text() == "## ⚠️ ERROR: model churn\n"
    assert stream.getvalue().startswith("::error title=mlops-actions check::mlops.yaml: data.train")
    assert outputs["verdict"] == "error" and outputs["result-path"] == PATHS["result"]
