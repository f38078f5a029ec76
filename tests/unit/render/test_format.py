"""Escaping of untrusted values and number formatting used by the report renderers."""

from __future__ import annotations

import math
import re

import pytest

from mlops_actions.render.format import (
    MdSafe,
    code_fence,
    escape_md,
    escape_mermaid,
    fmt_confidence,
    fmt_count,
    fmt_interval,
    fmt_num,
    fmt_percent,
    fmt_pvalue,
    fmt_seconds,
    fmt_signed,
    plural,
    safe_url,
    short_sha,
    strip_terminal,
)

HOSTILE = [
    "a|b",
    "`code`",
    "<script>alert(1)</script>",
    "</details>",
    "@team",
    "[x](javascript:alert(1))",
    "line one\nline two",
    "![img](https://evil.example/x.png)",
    "**bold** _it_ ~~gone~~",
    "$x^2$",
    "https://evil.example",
    "www.evil.example",
    "a\r\nb\u2028c",
    "\u202eevil\u2066",
    "<!-- hidden -->",
    "&lt;script&gt;",
    "back\\slash|",
]


def unescaped_pipes(text: str) -> int:
    return len(re.findall(r"(?<!\\)\|", text))


@pytest.mark.parametrize("value", HOSTILE)
def test_escaped_value_is_one_line_without_html_table_breaks_or_links(value: str) -> None:
    escaped = escape_md(value)
    assert isinstance(escaped, MdSafe)
    assert "\n" not in escaped and "\r" not in escaped and "\u2028" not in escaped
    assert "<" not in escaped and ">" not in escaped
    assert unescaped_pipes(escaped) == 0
    assert not re.search(r"(?<!\\)[\[\]`*_~$]", escaped)
    assert not re.search(r"@[A-Za-z0-9]", escaped)
    assert "://" not in escaped
    assert "\u202e" not in escaped and "\u2066" not in escaped


def test_mention_gets_a_zero_width_space_after_the_at_sign() -> None:
    assert escape_md("@team ping") == "@&#8203;team ping"


def test_underscores_inside_names_stay_readable_but_emphasis_is_escaped() -> None:
    assert escape_md("roc_auc") == "roc_auc"
    assert escape_md("snake_case_column") == "snake_case_column"
    assert escape_md("_it_ and __init__") == "\\_it\\_ and \\_\\_init\\_\\_"


def test_ampersand_is_escaped_so_entities_in_data_stay_literal() -> None:
    assert escape_md("&lt;script&gt;") == "&amp;lt;script&amp;gt;"


def test_closing_details_tag_cannot_survive_escaping() -> None:
    assert "</details>" not in escape_md("</details>")
    assert escape_md("</details>") == "&lt;/details&gt;"


def test_link_syntax_is_broken_by_backslashes() -> None:
    assert escape_md("[x](javascript:alert(1))") == "\\[x\\](javascript:alert(1))"


def test_pipe_and_backslash_are_escaped_for_table_cells() -> None:
    assert escape_md("a|b\\") == "a\\|b\\\\"


def test_newlines_and_runs_of_spaces_become_one_space() -> None:
    assert escape_md("  one\n\n two\tthree  ") == "one two three"


def test_none_and_nan_are_a_dash() -> None:
    assert escape_md(None) == "—"
    assert escape_md(float("nan")) == "—"


def test_long_values_are_clipped_with_an_ellipsis() -> None:
    escaped = escape_md("x" * 1000, limit=10)
    assert escaped == "x" * 9 + "…"


def test_already_safe_text_is_not_escaped_twice() -> None:
    once = escape_md("a|b")
    assert escape_md(once) == once


def test_plain_text_passes_unchanged() -> None:
    assert escape_md("ROC AUC ≥ 0.8000 (interval)") == "ROC AUC ≥ 0.8000 (interval)"


def test_mermaid_label_keeps_only_harmless_characters() -> None:
    label = escape_mermaid('evil"] ; click A call alert()\n%%{init}%%', limit=200)
    assert '"' not in label and "]" not in label and ";" not in label and "%" not in label
    assert "\n" not in label
    assert escape_mermaid("R²") == "R²"


def test_code_fence_is_longer_than_any_backtick_run() -> None:
    assert code_fence("plain") == "```"
    assert code_fence("has ```` four") == "`````"


def test_terminal_output_loses_ansi_colours_and_keeps_the_tail() -> None:
    text = "\x1b[31mred\x1b[0m\n" + "\n".join(f"line {i}" for i in range(10))
    assert strip_terminal(text).startswith("red\nline 0")
    assert strip_terminal(text, max_lines=2) == "line 8\nline 9"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/run/1", "https://example.com/run/1"),
        ("http://localhost:8000/r.html", "http://localhost:8000/r.html"),
        ("https://x.example/a(b)", "https://x.example/a%28b%29"),
        ("javascript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("https://x.example/ [y](z)", None),
        ('https://x.example/"onmouseover=', None),
        (None, None),
    ],
)
def test_only_plain_http_urls_are_linked(url: object, expected: str | None) -> None:
    assert safe_url(url) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.851234, "0.8512"),
        (31250.4, "31250.4000"),
        (0, "0.0000"),
        (None, "—"),
        (float("nan"), "—"),
        (1e-7, "1.000e-07"),
        (2.5e9, "2.500e+09"),
        (math.inf, "∞"),
        (True, "—"),
    ],
)
def test_metric_values_have_four_decimals_and_missing_ones_a_dash(value: object, text: str) -> None:
    assert fmt_num(value) == text


def test_deltas_carry_their_sign() -> None:
    assert fmt_signed(0.0118) == "+0.0118"
    assert fmt_signed(-0.004) == "-0.0040"
    assert fmt_signed(0.0) == "±0.0000"
    assert fmt_signed(None) == "—"


def test_interval_is_a_dash_when_an_end_is_missing() -> None:
    assert fmt_interval(-0.003, 0.008) == "[-0.0030, +0.0080]"
    assert fmt_interval(0.84, 0.88, signed=False) == "[0.8400, 0.8800]"
    assert fmt_interval(None, 0.1) == "—"


def test_p_values_below_the_fourth_decimal_are_shown_as_a_bound() -> None:
    assert fmt_pvalue(0.03121) == "0.0312"
    assert fmt_pvalue(6e-8) == "< 0.0001"
    assert fmt_pvalue(None) == "—"


def test_counts_seconds_percent_and_confidence() -> None:
    assert fmt_count(8400) == "8,400"
    assert fmt_seconds(3.812) == "3.81 s"
    assert fmt_seconds(44.9) == "44.9 s"
    assert fmt_seconds(245) == "4 min 5 s"
    assert fmt_percent(1.386, signed=True) == "+1.39%"
    assert fmt_confidence(0.95) == "95%"
    assert fmt_confidence(0.9) == "90%"
    assert fmt_confidence(0.975) == "97.5%"
    assert plural(1, "column") == "1 column"
    assert plural(2000, "slice") == "2,000 slices"


def test_short_sha_accepts_only_hex_digests() -> None:
    assert short_sha("sha256:" + "ab" * 32) == "abababa"
    assert short_sha("4f1c2a9be07d3c5e") == "4f1c2a9"
    assert short_sha("not-a-sha<script>") is None
    assert short_sha(None) is None
