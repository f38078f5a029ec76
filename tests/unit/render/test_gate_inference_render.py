"""The gate's inference in every report: advisory warnings, metric roles, the change rules table with
margin, p-value and power, and how the paired rows were obtained (holdout or cross-fitted)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from mlops_actions.render import render_html, render_markdown, validate_result
from mlops_actions.render.junit import junit_xml
from tests.unit.render.test_html import parse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "results"
METRICS_HEADER = "| metric | baseline | candidate | Δ | 95% CI | rule | status |"
RULES_HEADER = "| change rule | margin | p | MDE | status |"
WARNING = "recall −0.156 [−0.247, −0.074], not gated"
NORTH_NOTE = (
    "underpowered: detects a regression of 0.0410 or more at 80% power; about 3,000 eval rows (now 1,100) "
    "or gate.evaluation: cross_fit would reach 0.0250"
)
NO_INFERENCE = {
    "margin": None,
    "bound": None,
    "p_value": None,
    "p_adjusted": None,
    "family_size": None,
    "equivalent": None,
    "power": None,
}


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def power(mde: float, target: float, **flags: Any) -> dict[str, Any]:
    return {
        "mde": mde,
        "target": target,
        "underpowered": flags.get("underpowered", False),
        "cannot_fail": flags.get("cannot_fail", False),
        "rows_needed": flags.get("rows_needed"),
        "note": flags.get("note"),
    }


INFERENCE = [  # the change rules of fail_change_and_slice, in document order
    {
        "margin": 0.001,
        "bound": -0.01,
        "p_value": 0.0001,
        "p_adjusted": 0.0004,
        "family_size": 4,
        "equivalent": False,
        "power": power(0.0093, 0.015),
    },
    {
        "margin": 0.002,
        "bound": -0.01,
        "p_value": 0.41,
        "p_adjusted": 0.82,
        "family_size": 4,
        "equivalent": True,
        "power": power(0.012, 0.02),
    },
    {
        "margin": 0.001,
        "bound": -0.02,
        "p_value": 0.002,
        "p_adjusted": 0.006,
        "family_size": 4,
        "equivalent": False,
        "power": power(0.041, 0.025, underpowered=True, rows_needed=3000, note=NORTH_NOTE),
    },
    {
        "margin": 0.001,
        "bound": -0.02,
        "p_value": 0.9,
        "p_adjusted": 0.9,
        "family_size": 4,
        "equivalent": False,
        "power": power(
            0.2, 0.025, underpowered=True, cannot_fail=True, note="cannot fail on these 900 eval rows"
        ),
    },
]


def with_inference() -> dict[str, Any]:
    """fail_change_and_slice as the gate now writes it: roles, advisory metrics, warnings, inference."""
    result = fixture("fail_change_and_slice")
    roles = {"roc_auc": "primary", "accuracy": "guard"}
    for row in result["metrics"]:
        row.update(role=roles.get(row["name"], "advisory"), se=0.004)
    result["advisory_metrics"] = [
        {
            "name": "recall",
            "label": "Recall",
            "primary": False,
            "higher_is_better": True,
            "baseline": 0.95,
            "candidate": 0.794,
            "delta": -0.156,
            "ci_low": -0.247,
            "ci_high": -0.074,
            "within_noise": False,
            "role": "advisory",
            "se": 0.043,
        }
    ]
    result["warnings"] = [WARNING]
    result["gate"].update(
        correction="holm",
        evaluation={
            "mode": "cross_fit",
            "folds": 5,
            "rows": 10000,
            "variance": "nadeau-bengio",
            "inflation": 1.5,
            "fallback": None,
        },
    )
    changes = [rule for rule in result["rules"] if rule["kind"] in ("change", "change_relative")]
    assert len(changes) == len(INFERENCE)
    for rule, inference in zip(changes, INFERENCE, strict=True):
        rule.update(copy.deepcopy(inference))
    for rule in result["rules"]:
        if rule["kind"] in ("min", "max"):
            rule.update(NO_INFERENCE)
    return result


def test_the_fixture_is_a_valid_result_document() -> None:
    validate_result(with_inference())


def cells(row: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]]


def rows_after(markdown: str, header: str) -> list[str]:
    lines = markdown.splitlines()
    rows = []
    for line in lines[lines.index(header) + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


@pytest.fixture(scope="module")
def markdown() -> str:
    return render_markdown(with_inference())


@pytest.fixture(scope="module")
def html() -> str:
    return render_html(with_inference())


# ---------------------------------------------------------------- Markdown (the PR/MR comment)


def test_the_advisory_warning_is_the_line_right_under_the_verdict(markdown: str) -> None:
    lines = markdown.splitlines()
    assert lines[0] == "## ❌ FAIL: model churn (binary)"
    assert lines[2] == "⚠ recall −0.156 \\[−0.247, −0.074\\], not gated"
    assert lines[4].startswith("- ROC AUC: Δ = -0.0222")


def test_each_warning_is_its_own_line_and_a_passing_verdict_keeps_its_summary() -> None:
    result = with_inference()
    result.update(
        verdict="pass", reasons=[], warnings=[WARNING, "precision −0.081 [−0.120, −0.040], not gated"]
    )
    lines = render_markdown(result).splitlines()
    assert lines[2].startswith("⚠ recall −0.156") and lines[4].startswith("⚠ precision −0.081")
    assert lines[6] == "All 5 judged rules passed."


def test_a_hostile_warning_cannot_break_out_of_its_line() -> None:
    result = with_inference()
    result["warnings"] = ["recall | x\n## ✅ PASS <details><img src=x> @org/team [a](https://evil.example)"]
    markdown = render_markdown(result)
    [line] = [line for line in markdown.splitlines() if line.startswith("⚠ recall")]
    assert "<details>" not in line and "<img" not in line
    assert markdown.count("<details>") == markdown.count("</details>")
    assert "\\|" in line and "https://evil.example" not in line
    assert not any(line.startswith("## ✅") for line in markdown.splitlines())


def test_metric_roles_are_a_suffix_of_the_metric_and_the_table_keeps_its_columns(markdown: str) -> None:
    rows = [cells(row) for row in rows_after(markdown, METRICS_HEADER)]
    assert [row[0] for row in rows] == [
        "**ROC AUC** · primary",
        "Accuracy · guard",
        "Log loss · advisory",
        "F1 (positive class) · advisory",
    ]
    assert {len(row) for row in rows} == {7}


def test_advisory_metrics_outside_the_config_are_not_in_the_table_but_are_named(markdown: str) -> None:
    assert not any("Recall" in row for row in rows_after(markdown, METRICS_HEADER))
    [roles] = [line for line in markdown.splitlines() if line.startswith("**Roles:**")]
    assert "advisory metrics never fail the gate" in roles
    assert roles.endswith("Also watched, not in the table: Recall.")


def test_change_rules_table_shows_margin_p_value_with_its_family_mde_and_status(markdown: str) -> None:
    rows = [cells(row) for row in rows_after(markdown, RULES_HEADER)]
    assert rows == [
        ["ROC AUC: Δ ≥ -0.0100 (interval)", "±0.0010", "0.0004 (Holm, family of 4)", "0.0093", "❌ fail"],
        [
            "Accuracy: Δ ≥ -0.0100 (interval)",
            "±0.0020",
            "0.8200 (Holm, family of 4)",
            "0.0120",
            "✅ pass · equivalent",
        ],
        [
            "ROC AUC \\[region=north\\]: Δ ≥ -0.0200 (interval)",
            "±0.0010",
            "0.0060 (Holm, family of 4)",
            "0.0410",
            "❌ fail · ⚠ underpowered",
        ],
        [
            "ROC AUC \\[region=south\\]: Δ ≥ -0.0200 (interval)",
            "±0.0010",
            "0.9000 (Holm, family of 4)",
            "0.2000",
            "✅ pass · ⚠ cannot fail",
        ],
    ]


def test_the_rules_table_comes_after_the_metrics_table_and_before_the_decision_rule(markdown: str) -> None:
    lines = markdown.splitlines()
    decision = next(i for i, line in enumerate(lines) if line.startswith("**Decision rule:**"))
    assert lines.index(METRICS_HEADER) < lines.index(RULES_HEADER) < decision


def test_power_notes_are_below_the_table_one_per_affected_rule_naming_metric_and_slice(markdown: str) -> None:
    notes = [line for line in markdown.splitlines() if line.startswith("⚠ **")]
    assert notes == [
        f"⚠ **ROC AUC \\[region=north\\]:** {NORTH_NOTE}",
        "⚠ **ROC AUC \\[region=south\\]:** cannot fail on these 900 eval rows",
    ]


def test_the_legend_says_what_p_and_mde_mean_at_the_gate_level(markdown: str) -> None:
    [legend] = [line for line in markdown.splitlines() if line.startswith("p: ")]
    assert "an interval rule fails when its Holm-adjusted p is below α = 0.025" in legend
    assert "MDE: the smallest regression the rule detects with 80% power on these rows" in legend


def test_a_single_rule_or_no_correction_does_not_claim_holm() -> None:
    single = with_inference()
    for rule in single["rules"]:
        if rule["family_size"]:
            rule["family_size"] = 1
    assert "Holm" not in render_markdown(single)
    uncorrected = with_inference()
    uncorrected["gate"]["correction"] = "none"
    assert "Holm" not in render_markdown(uncorrected)


def test_an_underpowered_rule_without_a_note_gets_one_from_its_mde() -> None:
    result = with_inference()
    result["rules"][3]["power"]["note"] = None
    assert (
        "⚠ **ROC AUC \\[region=north\\]:** underpowered: detects a regression of 0.0410 or more at 80% power"
        in render_markdown(result).splitlines()
    )


def test_cross_fitted_comparison_is_one_line_of_the_method_section(markdown: str) -> None:
    assert (
        "**Evaluation mode:** Cross-fitted on 5 folds of train+eval (10,000 paired rows); "
        "intervals widened ×1.50 (Nadeau–Bengio)." in markdown.splitlines()
    )


def test_a_repeated_cross_fit_names_its_repeats_and_its_paired_rows() -> None:
    result = with_inference()
    result["gate"]["evaluation"].update(
        repeats=2, paired_rows=20000, variance="bouckaert-frank", inflation=1.87
    )
    assert (
        "**Evaluation mode:** Cross-fitted on 5 folds × 2 repeats of train+eval (20,000 paired rows: "
        "2 × 10,000); intervals widened ×1.87 (Bouckaert–Frank)." in render_markdown(result).splitlines()
    )


def test_cross_fitted_rows_are_said_to_come_from_train_and_eval_not_the_eval_file(
    markdown: str, html: str
) -> None:
    [line] = [line for line in markdown.splitlines() if line.startswith("**Evaluation:**")]
    assert "every train and eval row scored out of fold" in line
    assert "every train and eval row, scored out of fold" in html
    holdout = with_inference()
    del holdout["gate"]["evaluation"]
    [plain] = [line for line in render_markdown(holdout).splitlines() if line.startswith("**Evaluation:**")]
    assert "out of fold" not in plain


def test_a_cross_fit_config_that_ran_as_holdout_says_why() -> None:
    result = with_inference()
    result["gate"]["evaluation"] = {
        "mode": "holdout",
        "folds": None,
        "rows": 2000,
        "variance": None,
        "inflation": None,
        "fallback": "a registry baseline cannot be retrained on folds",
    }
    assert (
        "**Evaluation mode:** Holdout eval set (2,000 paired rows), not cross-fitted: "
        "a registry baseline cannot be retrained on folds." in render_markdown(result).splitlines()
    )


def test_a_hostile_fallback_and_power_note_are_escaped() -> None:
    result = with_inference()
    result["gate"]["evaluation"]["mode"] = "holdout"
    result["gate"]["evaluation"]["fallback"] = "x</details><script>alert(1)</script>|"
    result["rules"][3]["power"]["note"] = "underpowered\n## ✅ PASS <img src=x>"
    markdown = render_markdown(result)
    assert "<script>" not in markdown and "<img" not in markdown
    assert markdown.count("<details>") == markdown.count("</details>")
    assert not any(line.startswith("## ✅") for line in markdown.splitlines())


def test_a_result_without_inference_renders_as_before() -> None:
    old = fixture("fail_change_and_slice")
    markdown = render_markdown(old)
    assert RULES_HEADER not in markdown
    assert "**Roles:**" not in markdown and "**Evaluation mode:**" not in markdown and "⚠" not in markdown
    assert cells(rows_after(markdown, METRICS_HEADER)[0])[0] == "**ROC AUC**"


def test_without_a_baseline_the_rows_are_not_called_paired() -> None:
    result = fixture("no_baseline")
    result["gate"]["evaluation"] = {
        "mode": "holdout",
        "folds": None,
        "rows": 2000,
        "variance": None,
        "inflation": None,
        "fallback": None,
    }
    assert "**Evaluation mode:** Holdout eval set (2,000 rows)." in render_markdown(result).splitlines()


def many_underpowered_slice_rules(count: int) -> dict[str, Any]:
    result = with_inference()
    template = result["rules"][4]
    for index in range(count):
        result["rules"].append({**copy.deepcopy(template), "slice": f"store=store-{index:05d}"})
    result["rules"][-3]["status"] = "fail"
    return result


@pytest.mark.parametrize("max_chars", [20_000, 8_000])
def test_many_slice_rules_are_shortened_keeping_the_overall_and_failed_rules(max_chars: int) -> None:
    result = many_underpowered_slice_rules(400)
    markdown = render_markdown(result, max_chars=max_chars)
    assert len(markdown) <= max_chars
    rules = [cells(row)[0] for row in rows_after(markdown, RULES_HEADER)]
    assert rules[:2] == ["ROC AUC: Δ ≥ -0.0100 (interval)", "Accuracy: Δ ≥ -0.0100 (interval)"]
    assert any("store-00397" in rule for rule in rules)  # the failed slice rule is kept
    assert len(rules) < len([r for r in result["rules"] if r["kind"] == "change"])
    assert "more slice rules (failed and underpowered ones are listed first)" in markdown
    assert "slice rules" in markdown.split("✂️")[1]
    assert markdown.splitlines()[2].startswith("⚠ recall −0.156")
    notes = [line for line in markdown.splitlines() if line.startswith("⚠ **")]
    assert len(notes) == len([rule for rule in rules if "[" in rule])  # notes only for the rules shown


def test_every_rules_table_row_has_five_cells(markdown: str) -> None:
    rows = rows_after(markdown, RULES_HEADER)
    assert rows and {len(cells(row)) for row in rows} == {5}


# ---------------------------------------------------------------- HTML


def test_html_shows_the_warning_in_the_header_under_the_verdict(html: str) -> None:
    header = html.split("<header")[1].split("</header>")[0]
    assert f'<p class="warning">⚠ {WARNING}</p>' in header
    assert header.index("FAIL") < header.index("⚠ recall") < header.index('<ul class="reasons">')


def test_html_metric_table_names_each_role(html: str) -> None:
    assert '<td>Accuracy <span class="note">(guard)</span></td>' in html
    assert '<td>Log loss <span class="note">(advisory)</span></td>' in html
    assert "<td>Recall" not in html


def test_html_change_rules_table_has_every_figure_and_the_notes(html: str) -> None:
    table = html.split('<h3 id="change-rules">Change rules</h3>')[1].split("</table>")[0]
    north = table.split("<td>region=north</td>")[1].split("</tr>")[0]
    for cell in ("±0.0010", "-0.0200", "0.0020", "0.0060 (Holm, family of 4)", "0.0410", "0.0250", "3,000"):
        assert f">{cell}</td>" in north, cell
    assert "underpowered" in north
    assert f"<li>⚠ <strong>ROC AUC [region=north]:</strong> {NORTH_NOTE}</li>" in html
    assert "<dt>Evaluation mode</dt><dd>Cross-fitted on 5 folds of train+eval (10,000 paired rows)" in html


def test_html_escapes_warnings_notes_and_fallbacks() -> None:
    result = with_inference()
    result["warnings"] = ["<script>alert(1)</script>"]
    result["rules"][3]["power"]["note"] = "<img src=x onerror=alert(1)>"
    result["gate"]["evaluation"].update(mode="holdout", fallback="<b>why</b>")
    html = render_html(result)
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>why" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_html_of_a_result_without_inference_has_no_rules_table() -> None:
    html = render_html(fixture("fail_change_and_slice"))
    assert "change-rules" not in html and "Evaluation mode" not in html and 'class="warning"' not in html


# ---------------------------------------------------------------- JUnit


def cases_of(xml: str) -> dict[str, ET.Element]:
    return {case.get("name"): case for case in ET.fromstring(xml).iter("testcase")}


def properties_of(case: ET.Element) -> dict[str, str]:
    return {item.get("name"): item.get("value") for item in case.iter("property")}  # type: ignore[misc]


def test_junit_warning_is_a_passing_case_with_the_line_in_its_output() -> None:
    root = ET.fromstring(junit_xml(with_inference()))
    case = cases_of(junit_xml(with_inference()))[f"warning: {WARNING}"]
    assert case.find("failure") is None
    assert case.findtext("system-out", "").startswith(f"⚠ {WARNING}")
    assert properties_of(case)["warning"] == WARNING
    assert root.get("failures") == "3"  # the two failed rules and the project tests, as without warnings


def test_junit_rule_case_carries_margin_p_values_and_power() -> None:
    case = cases_of(junit_xml(with_inference()))["accuracy change: Δ ≥ -0.0100 (interval)"]
    properties = properties_of(case)
    assert {key: properties[key] for key in ("margin", "p_adjusted", "family_size", "equivalent", "mde")} == {
        "margin": "0.002",
        "p_adjusted": "0.82",
        "family_size": "4",
        "equivalent": "true",
        "mde": "0.012",
    }
    assert case.find("system-out") is None  # adequately powered: nothing to explain


def test_junit_power_note_is_in_the_output_of_a_passing_rule_and_after_the_reason_of_a_failed_one() -> None:
    cases = cases_of(junit_xml(with_inference()))
    south = cases["roc_auc [region=south] change: Δ ≥ -0.0200 (interval)"]
    assert south.findtext("system-out") == "cannot fail on these 900 eval rows"
    north = cases["roc_auc [region=north] change: Δ ≥ -0.0200 (interval)"].find("failure")
    assert north is not None
    assert north.get("message", "").startswith("slice region=north: ROC AUC Δ = -0.0611")
    assert (north.text or "").splitlines() == [north.get("message"), NORTH_NOTE]


def test_junit_of_a_result_without_inference_has_no_new_properties() -> None:
    cases = cases_of(junit_xml(fixture("fail_change_and_slice")))
    for case in cases.values():
        assert not {"margin", "p_value", "mde", "warning"} & set(properties_of(case))


def test_a_result_file_read_back_renders_its_warnings_and_rules_in_every_format(tmp_path: Path) -> None:
    from mlops_actions.render import load_result
    from mlops_actions.render.report import report

    path = tmp_path / "mlops-result.json"
    path.write_text(json.dumps(with_inference(), ensure_ascii=False), encoding="utf-8")
    rendered = report(load_result(path))
    assert rendered.markdown.splitlines()[2].startswith("⚠ recall −0.156")
    assert RULES_HEADER in rendered.markdown
    assert f'<p class="warning">⚠ {WARNING}</p>' in rendered.html


def test_html_with_the_new_sections_closes_every_element_it_opens(html: str) -> None:
    parsed = parse(html)
    assert parsed.problems == [] and parsed.stack == []
