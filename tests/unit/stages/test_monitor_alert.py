"""The monitor's issue and retrain dispatch against the GitHub and GitLab API stand-ins: opened, updated in
place, never duplicated (also when an answer is lost), commented only when the failing checks change, closed
when they pass; labelled with the severity; a retrain dispatched after K breaching windows, once per breach."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_actions.domain.config import parse_config
from mlops_actions.errors import ConfigError, ForgeError
from mlops_actions.monitoring.result import FAIL, INSUFFICIENT, OK, WARN, Finding, MonitorResult, WindowResult
from mlops_actions.monitoring.state import result_states
from mlops_actions.platforms.github.platform import GitHubPlatform
from mlops_actions.platforms.gitlab.platform import GitLabPlatform
from mlops_actions.platforms.issues import issue_marker
from mlops_actions.stages.monitor_alert import (
    AlertState,
    dispatch_retrain,
    failing_items,
    issue_key,
    retrain_decision,
    sync_monitor_issue,
)
from tests.conftest import TINY_CONFIG
from tests.standins.fault_proxy import FaultProxy, Rule
from tests.standins.github_releases import GitHubReleasesStandIn
from tests.standins.gitlab import GitLabStandIn

GITHUB_TOKEN = "ghs_monitor-alert-token-0123"
GITLAB_TOKEN = "glpat-monitor-alert-token-0123"
MODEL = "tiny"
KEY = issue_key(MODEL)

# -- monitor documents ------------------------------------------------------------------------------------


def _drift(check: str, columns: tuple[str, ...]) -> Finding:
    figures = {
        "columns": {c: {"method": "psi", "score": 0.4, "threshold": 0.2, "drifted": True} for c in columns},
        "drifted": list(columns),
        "share": 1.0,
        "skipped": [],
    }
    problems = tuple(f"{c} drifted (psi 0.4 >= 0.2)" for c in columns)
    return Finding(check, FAIL if columns else OK, problems, figures, {"psi": 0.2})


def window(
    day: int,
    *,
    nan: bool = False,
    drift: tuple[str, ...] = (),
    out_of_range: tuple[str, ...] = (),
    few_rows: bool = False,
    schema: str = OK,
) -> WindowResult:
    """One 1d window of November 2026 with the failures asked for."""
    stability = Finding(
        "stability", FAIL if nan else OK, ("3.0% NaN outputs",) if nan else (), {"nonfinite_share": 0.03}
    )
    ranges = {c: {"count": 50, "share": 0.05, "trained_min": 0, "trained_max": 1} for c in out_of_range}
    range_finding = Finding(
        "range",
        FAIL if out_of_range else OK,
        tuple(f"out-of-range {c} 5.0%" for c in out_of_range),
        {"columns": {**ranges, "x9": {"count": 0, "share": 0.0, "trained_min": 0, "trained_max": 1}}},
        {"out_of_range_share": 0.01},
    )
    findings = (
        stability,
        Finding("schema", schema, ("new column z",) if schema != OK else (), {"new_columns": ["z"]}),
        range_finding,
        _drift("input_drift", drift),
        _drift("prediction_drift", ()),
    )
    if few_rows:
        findings = tuple(
            Finding(f.check, INSUFFICIENT, ("12 rows",), f.figures, f.thresholds) for f in findings
        )
    start = f"2026-11-{day:02d}T00:00:00Z"
    return WindowResult(start, f"2026-11-{day + 1:02d}T00:00:00Z", 12 if few_rows else 1000, findings)


def result_of(*windows: WindowResult) -> MonitorResult:
    return MonitorResult(
        model=MODEL,
        version="1.2.0",
        reference="version 1.2.0's training-data profile",
        window="1d",
        since=None,
        files=("log.jsonl",),
        rows_read=sum(w.rows for w in windows),
        rows_before_since=0,
        partial_lines=0,
        prediction_drift_reference="the first full window",
        windows=tuple(windows),
    )


def document_of(*windows: WindowResult) -> dict[str, Any]:
    return result_of(*windows).to_dict()


@pytest.fixture
def config(tmp_path: Path):
    def make(extra: str = ""):
        return parse_config(yaml.safe_load(TINY_CONFIG + extra), tmp_path / "mlops.yaml")

    return make


# -- the two forges -----------------------------------------------------------------------------------


@dataclass
class Forge:
    """One stand-in and what the tests read from it, the same way on both forges."""

    name: str
    api: Any

    def platform(self, url: str | None = None) -> Any:
        url = url or self.api.url
        if self.name == "github":
            env = {"GITHUB_API_URL": url, "GITHUB_REPOSITORY": "acme/app", "GITHUB_TOKEN": GITHUB_TOKEN}
            return GitHubPlatform(env, sleep=lambda seconds: None)
        return GitLabPlatform(
            {"CI_API_V4_URL": url, "CI_PROJECT_ID": "42", "MLOPS_GITLAB_TOKEN": GITLAB_TOKEN},
            sleep=lambda seconds: None,
        )

    def issues(self) -> list[dict[str, Any]]:
        """Every issue as ``{number, state, title, body, labels}``."""
        if self.name == "github":
            return [
                {
                    "number": i["number"],
                    "state": i["state"],
                    "title": i["title"],
                    "body": i["body"],
                    "labels": [label["name"] for label in i["labels"]],
                }
                for i in self.api.issues()
            ]
        return [
            {
                "number": i["iid"],
                "state": "open" if i["state"] == "opened" else "closed",
                "title": i["title"],
                "body": i["description"],
                "labels": list(i["labels"]),
            }
            for i in sorted(self.api.issues.values(), key=lambda i: i["iid"])
        ]

    def ours(self) -> list[dict[str, Any]]:
        return [i for i in self.issues() if (i["body"] or "").startswith(issue_marker(KEY))]

    def comments(self, number: int) -> list[str]:
        if self.name == "github":
            return [c["body"] for c in self.api.comments(number)]
        return [n["body"] for n in self.api.issue_notes[number]]

    def dispatches(self) -> list[tuple[str, str, str]]:
        """(target, ref, reason) of every dispatch."""
        if self.name == "github":
            return [(d["workflow_id"], d["ref"], d["inputs"]["reason"]) for d in self.api.dispatches]
        return [
            (p["variables"]["MLOPS_DISPATCH"], p["ref"], p["variables"]["MLOPS_REASON"])
            for p in self.api.pipelines
        ]

    def lose_next_answer(self, what: str) -> None:
        """The next create of an issue (``issue``), a comment (``comment``) or a dispatch takes effect but
        its answer is a 502."""
        if self.name == "github":
            self.api.fail_next(1, 502, method="POST", kind="lost-response")
        else:
            operation = {
                "issue": "createProjectIssue",
                "comment": "createIssueNote",
                "dispatch": "createPipeline",
            }
            self.api.fail_next(1, status=502, operations={operation[what]}, after_effect=True)

    def fail_next(self, count: int, status: int) -> None:
        if self.name == "github":
            self.api.fail_next(count, status)
        else:
            self.api.fail_next(count, status=status)

    @property
    def violations(self) -> list[str]:
        return list(self.api.violations)


@pytest.fixture(params=["github", "gitlab"])
def forge(request) -> Iterator[Forge]:
    if request.param == "github":
        with GitHubReleasesStandIn(token=GITHUB_TOKEN, repository="acme/app") as api:
            yield Forge("github", api)
            assert api.violations == []
    else:
        with GitLabStandIn(tokens={GITLAB_TOKEN: "api"}, max_per_page=2) as api:
            yield Forge("gitlab", api)
            assert api.violations == []


# -- what fails ---------------------------------------------------------------------------------------


def test_the_failing_items_name_each_check_with_its_columns_over_every_window():
    document = document_of(window(1, drift=("age",)), window(2, nan=True, out_of_range=("income",)))
    assert failing_items(document) == ("input_drift:age", "range:income", "stability")


def test_warnings_and_windows_with_too_few_rows_are_not_failing_items():
    document = document_of(window(1, schema=WARN), window(2, nan=True, few_rows=True))
    assert failing_items(document) == ()


def test_the_hidden_state_survives_a_column_name_that_would_end_the_html_comment():
    state = AlertState(("input_drift:a-->b",), "medium", "2026-11-03T00:00:00Z")
    line = state.to_line()
    assert line.count("-->") == 1 and line.endswith(" -->")
    assert AlertState.from_body(f"text\n{line}\nmore") == state
    assert AlertState.from_body("<!-- mlops-actions:monitor-state {broken -->") is None


# -- the issue's lifecycle ----------------------------------------------------------------------------


def test_a_failing_run_opens_one_issue_with_the_report_and_the_labels(forge, config):
    outcome = sync_monitor_issue(forge.platform(), config(), document_of(window(1, drift=("x1",))))
    assert outcome.action == "opened" and not outcome.commented
    [issue] = forge.issues()
    assert issue["state"] == "open" and issue["title"] == "tiny: monitor fails (input drift)"
    assert issue["body"].startswith(issue_marker(KEY) + "\n")
    assert "**tiny v1.2.0: 1 of 1 windows fail: x1 drifted" in issue["body"]
    assert sorted(issue["labels"]) == ["mlops", "severity:medium", "tiny"]
    assert AlertState.from_body(issue["body"]) == AlertState(("input_drift:x1",), "medium")


def test_a_rerun_with_the_same_failure_updates_the_body_in_place_without_a_comment(forge, config):
    platform = forge.platform()
    sync_monitor_issue(platform, config(), document_of(window(1, drift=("x1",))))
    again = sync_monitor_issue(
        platform, config(), document_of(window(1, drift=("x1",)), window(2, drift=("x1",)))
    )
    assert again.action == "updated" and not again.commented
    [issue] = forge.issues()
    assert "2 of 2 windows fail" in issue["body"]
    assert forge.comments(issue["number"]) == []


def test_a_changed_failure_is_commented_once_and_raises_the_severity_label(forge, config):
    platform = forge.platform()
    sync_monitor_issue(platform, config(), document_of(window(1, drift=("x1",))))
    changed = document_of(window(2, nan=True, drift=("x2",)))
    outcome = sync_monitor_issue(platform, config(), changed)
    assert outcome.commented and outcome.severity == "high"
    sync_monitor_issue(platform, config(), changed)  # the same state again: no second comment
    [issue] = forge.issues()
    [comment] = forge.comments(issue["number"])
    assert "newly failing: stability, input drift (x2)" in comment
    assert "passing again: input drift (x1)" in comment
    assert sorted(issue["labels"]) == ["mlops", "severity:high", "tiny"]
    assert issue["title"] == "tiny: monitor fails (stability, input drift)"


def test_labels_someone_added_to_the_issue_stay_when_the_severity_changes(forge, config):
    platform = forge.platform()
    sync_monitor_issue(
        platform,
        config("monitor:\n  alert:\n    labels: [ml-oncall]\n"),
        document_of(window(1, drift=("x1",))),
    )
    [issue] = forge.issues()
    if forge.name == "github":
        forge.api._repo().issues[issue["number"]]["labels"].append(forge.api._label("acme/app", "triaged"))
    else:
        forge.api.issues[issue["number"]]["labels"].append("triaged")
    sync_monitor_issue(
        platform, config("monitor:\n  alert:\n    labels: [ml-oncall]\n"), document_of(window(1, nan=True))
    )
    [issue] = forge.issues()
    assert sorted(issue["labels"]) == ["ml-oncall", "mlops", "severity:high", "tiny", "triaged"]


def test_a_healthy_run_closes_the_issue_with_a_comment_and_the_next_failure_opens_a_new_one(forge, config):
    platform = forge.platform()
    opened = sync_monitor_issue(platform, config(), document_of(window(1, nan=True)))
    closed = sync_monitor_issue(platform, config(), document_of(window(2), window(3, schema=WARN)))
    assert closed.action == "closed" and closed.issue is not None and closed.issue.state == "closed"
    [issue] = forge.issues()
    assert issue["state"] == "closed"
    [comment] = forge.comments(issue["number"])
    assert comment.startswith("Recovered: tiny v1.2.0: no check fails in 2 1d window(s)")
    assert sync_monitor_issue(platform, config(), document_of(window(4))).action == "none"
    reopened = sync_monitor_issue(platform, config(), document_of(window(5, nan=True)))
    assert reopened.action == "opened" and reopened.issue.number != opened.issue.number
    assert [i["state"] for i in forge.issues()] == ["closed", "open"]


def test_a_run_whose_windows_all_had_too_few_rows_leaves_the_issue_as_it_is(forge, config):
    platform = forge.platform()
    sync_monitor_issue(platform, config(), document_of(window(1, nan=True)))
    before = forge.issues()
    outcome = sync_monitor_issue(platform, config(), document_of(window(2, few_rows=True)))
    assert outcome.action == "kept" and forge.issues() == before
    assert sync_monitor_issue(platform, config(), document_of()).action == "kept"


def test_a_lost_answer_to_the_create_opens_no_second_issue(forge, config):
    forge.lose_next_answer("issue")
    outcome = sync_monitor_issue(forge.platform(), config(), document_of(window(1, nan=True)))
    assert outcome.issue is not None
    assert len(forge.ours()) == 1
    sync_monitor_issue(forge.platform(), config(), document_of(window(1, nan=True)))
    assert len(forge.ours()) == 1


def test_a_transient_5xx_is_retried_and_the_issue_opened_once(forge, config):
    forge.fail_next(2, 503)
    sync_monitor_issue(forge.platform(), config(), document_of(window(1, nan=True)))
    assert len(forge.ours()) == 1


def test_a_forge_that_keeps_failing_is_one_forge_error(forge, config):
    forge.fail_next(20, 502)
    with pytest.raises(ForgeError, match="502"):
        sync_monitor_issue(forge.platform(), config(), document_of(window(1, nan=True)))


def test_an_issue_list_slower_than_the_deadline_is_a_forge_error_naming_it(forge, config, monkeypatch):
    monkeypatch.setenv("MLOPS_API_DEADLINE", "1")
    for number in (40, 41):  # a list answer of some length, trickled a byte at a time
        if forge.name == "github":
            forge.api.add_issue(number, "someone's issue " + "x" * 100, author="mallory")
        else:
            forge.api.add_issue(f"someone mentions {KEY} " + "x" * 100)
    with FaultProxy(forge.api.url, max_seconds=30) as proxy:
        proxy.add(Rule("trickle", method="GET", path=r"/issues$", occurrences=None, seconds=0.3))
        with pytest.raises(ForgeError, match="MLOPS_API_DEADLINE"):
            sync_monitor_issue(forge.platform(proxy.url), config(), document_of(window(1, nan=True)))
    assert forge.ours() == []


def test_an_issue_someone_else_wrote_with_our_marker_is_left_alone(forge, config):
    planted = f"{issue_marker(KEY)}\n" + AlertState(("stability",), "high").to_line()
    if forge.name == "github":
        forge.api.add_issue(40, planted, author="mallory")
    else:
        forge.api.add_issue(planted)
    sync_monitor_issue(forge.platform(), config(), document_of(window(1, nan=True)))
    ours = [i for i in forge.ours() if i["body"] != planted]
    assert len(ours) == 1 and forge.comments(ours[0]["number"]) == []


# -- retraining ---------------------------------------------------------------------------------------

RETRAIN = "monitor:\n  retrain: {after_windows: 3, checks: [input_drift], workflow: mlops-retrain.yml}\n"


def test_the_retrain_is_due_after_k_consecutive_breaching_windows_and_names_them(config):
    states = result_states(
        result_of(
            window(1),
            window(2, drift=("x1",)),
            window(3, few_rows=True),
            window(4, drift=("x1", "x2")),
            window(5, drift=("x2",)),
        )
    )
    decision = retrain_decision(config(RETRAIN), states)
    assert decision.dispatch and decision.breaches == 3
    assert [w.start[:10] for w in decision.windows] == ["2026-11-02", "2026-11-04", "2026-11-05"]
    assert decision.reason == (
        "tiny: input drift (x1, x2) at fail or worse for 3 consecutive windows (threshold 3), "
        "2026-11-02 00:00 to 2026-11-06 00:00 UTC"
    )
    short = retrain_decision(config(RETRAIN), states[-2:])
    assert not short.dispatch and short.breaches == 2


def test_an_unknown_retrain_check_is_a_config_error_naming_the_key(config):
    with pytest.raises(ConfigError, match=r"^monitor.retrain.checks: unknown check 'drift'"):
        retrain_decision(config("monitor:\n  retrain: {checks: [drift]}\n"), [])


def test_the_retrain_is_dispatched_once_per_breach_with_the_reason(forge, config):
    platform, settings = forge.platform(), config(RETRAIN)
    runs = [window(d, drift=("x1",)) for d in range(1, 6)]
    first = None
    for count in (2, 3, 4, 5):  # the same breach, growing run after run
        result = result_of(*runs[:count])
        outcome = sync_monitor_issue(
            platform, settings, result.to_dict(), retrain=retrain_decision(settings, result_states(result))
        )
        first = first or (outcome.retrain.action if count == 3 else None)
        expected = {2: "not-due", 3: "dispatched"}.get(count, "already")
        assert outcome.retrain is not None and outcome.retrain.action == expected
    assert first == "dispatched"
    [(target, ref, reason)] = forge.dispatches()
    assert (target, ref) == ("mlops-retrain.yml", "main") and reason.startswith("tiny: input drift (x1)")
    [issue] = forge.issues()
    assert "Retrain: already dispatched for this breach (5 windows so far)." in issue["body"]
    assert AlertState.from_body(issue["body"]).retrain_window == "2026-11-03T00:00:00Z"


def test_a_new_breach_after_a_healthy_window_is_dispatched_again_on_the_configured_branch(forge, config):
    platform, settings = forge.platform(), config(RETRAIN.replace("}", ", ref: prod}"))
    first = [window(d, drift=("x1",)) for d in (1, 2, 3)]
    second = [*first, window(4), *(window(d, drift=("x2",)) for d in (5, 6, 7))]
    for runs in (first, second):
        result = result_of(*runs)
        sync_monitor_issue(
            platform, settings, result.to_dict(), retrain=retrain_decision(settings, result_states(result))
        )
    assert [(t, r) for t, r, _ in forge.dispatches()] == [("mlops-retrain.yml", "prod")] * 2
    assert "input drift (x2)" in forge.dispatches()[1][2]


def test_a_dispatch_whose_answer_was_lost_is_said_in_the_issue_and_not_repeated(forge, config):
    platform, settings = forge.platform(), config(RETRAIN)
    result = result_of(*(window(d, drift=("x1",)) for d in (1, 2, 3)))
    decision = retrain_decision(settings, result_states(result))
    forge.lose_next_answer("dispatch")
    outcome = sync_monitor_issue(platform, settings, result.to_dict(), retrain=decision)
    assert outcome.retrain is not None and outcome.retrain.action == "failed"
    assert "502" in outcome.retrain.error
    [issue] = forge.issues()
    assert "Retrain dispatch failed" in issue["body"] and "start the retrain by hand" in issue["body"]
    again = sync_monitor_issue(platform, settings, result.to_dict(), retrain=decision)
    assert again.retrain is not None and again.retrain.action == "already"
    assert len(forge.dispatches()) == 1


def test_a_retrain_due_at_warn_level_opens_a_low_severity_issue_to_keep_its_record(forge, config):
    platform = forge.platform()
    settings = config("monitor:\n  retrain: {after_windows: 2, checks: [schema], level: warn}\n")
    result = result_of(window(1, schema=WARN), window(2, schema=WARN))
    outcome = sync_monitor_issue(
        platform, settings, result.to_dict(), retrain=retrain_decision(settings, result_states(result))
    )
    assert outcome.action == "opened" and outcome.severity == "low"
    [issue] = forge.issues()
    assert issue["title"] == "tiny: retrain dispatched (schema)" and "severity:low" in issue["labels"]
    assert len(forge.dispatches()) == 1


def test_dispatch_retrain_does_nothing_when_not_due(forge, config):
    decision = retrain_decision(config(RETRAIN), result_states(result_of(window(1, drift=("x1",)))))
    assert dispatch_retrain(forge.platform(), config(RETRAIN), decision).action == "not-due"
    assert forge.dispatches() == []


def test_a_retrain_dispatched_on_an_open_issue_is_commented_and_a_thin_run_after_it_changes_nothing(
    forge, config
):
    platform, settings = forge.platform(), config(RETRAIN)
    sync_monitor_issue(platform, settings, document_of(window(1, drift=("x1",))))
    due = result_of(*(window(d, drift=("x1",)) for d in (1, 2, 3)))
    sync_monitor_issue(
        platform, settings, due.to_dict(), retrain=retrain_decision(settings, result_states(due))
    )
    [issue] = forge.issues()
    [comment] = forge.comments(issue["number"])
    assert "- Retrain dispatched: `mlops-retrain.yml` on `main`" in comment
    thin = result_of(*(window(d, drift=("x1",)) for d in (1, 2, 3)), window(4, few_rows=True))
    outcome = sync_monitor_issue(
        platform,
        settings,
        result_of(window(4, few_rows=True)).to_dict(),
        retrain=retrain_decision(settings, result_states(thin)),
    )
    assert outcome.action == "kept" and outcome.retrain is not None and outcome.retrain.action == "already"
    assert forge.issues() == [issue] and len(forge.comments(issue["number"])) == 1
    assert len(forge.dispatches()) == 1
