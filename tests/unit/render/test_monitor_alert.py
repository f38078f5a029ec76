"""The alert's texts: the issue's title and body (cut to what a forge keeps), and the lines the command prints."""

from __future__ import annotations

from mlops_actions.render.monitor_alert import (
    MAX_BODY_CHARS,
    describe_failing,
    issue_body,
    issue_title,
    outcome_lines,
)
from tests.unit.stages.test_monitor_alert import document_of, window


def test_the_failing_items_read_as_checks_with_their_columns_escaped_and_capped():
    failing = ["stability", *(f"input_drift:c{i}" for i in range(7)), "schema:a|b"]
    assert describe_failing(failing) == (
        "stability, schema (a\\|b), input drift (c0, c1, c2, c3, c4, +2 more)"
    )
    assert issue_title("churn", failing, None) == "churn: monitor fails (stability, schema, input drift)"


def test_a_huge_report_is_cut_to_what_a_github_issue_keeps_with_the_state_line_first():
    many = [window(1, drift=tuple(f"col{i:04d}_" + "x" * 60 for i in range(1500)))]
    body = issue_body(document_of(*many), "<!-- state -->", ["input_drift:x"], "medium", None)
    assert len(body) <= MAX_BODY_CHARS and body.startswith("<!-- state -->\n")
    assert body.rstrip().endswith("the job's monitor.md holds all of it)")


def test_the_outcome_lines_say_what_was_done_to_the_issue_and_the_retrain():
    outcome = {
        "action": "updated",
        "issue": {"url": "https://github.example/acme/app/issues/3"},
        "failing": ["stability"],
        "severity": "high",
        "commented": True,
        "retrain": {
            "action": "not-due",
            "decision": {"breaches": 1, "after_windows": 3, "reason": ""},
        },
    }
    assert outcome_lines(outcome) == [
        "monitor issue updated https://github.example/acme/app/issues/3 (severity high, state change commented): "
        "stability",
        "retrain: not due (1 of 3 consecutive windows breach)",
    ]
    assert outcome_lines({"action": "none", "retrain": None}) == [
        "monitor issue: none open, and no check fails"
    ]
