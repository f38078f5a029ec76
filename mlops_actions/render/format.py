"""Number formatting and escaping of untrusted values for Markdown, Mermaid and URLs.

Everything in a result file may come from an untrusted pull request (the fork-safe comment workflow
renders a file that PR code wrote), so every string that reaches a report goes through one of the
escapers here.
"""

from __future__ import annotations

import math
import re
from typing import Any

MISSING = "—"

# C0/C1 control characters, line and paragraph separators, bidirectional overrides and isolates,
# zero-width and BOM characters: all become a plain space (or vanish) in one-line values.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
# Characters with a Markdown meaning: code spans, emphasis, strikethrough, links/images, tables, math.
_MD_PUNCTUATION = re.compile(r"([\\`*~\[\]|$])")
# An underscore between two letters or digits cannot start or end emphasis (column_names stay readable).
_LOOSE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
_ZERO_WIDTH_SPACE = "&#8203;"
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_SAFE_URL = re.compile(r"^https?://[^\s<>\"'`\\]+$")


class MdSafe(str):
    """A string that is already safe to put into Markdown (escaped or produced by the renderer)."""

    __slots__ = ()


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def clip(text: str, limit: int) -> str:
    """The text cut to at most ``limit`` characters, with an ellipsis when it was cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def one_line(value: Any, limit: int = 500) -> str:
    """The value as one line of plain text: controls and invisible characters removed, clipped."""
    text = _ANSI.sub("", str(value))
    text = _INVISIBLE.sub("", text)
    text = " ".join(_CONTROL.sub(" ", text).split())
    return clip(text, limit)


def escape_md(value: Any, limit: int = 500) -> MdSafe:
    """Escape an untrusted value for inline Markdown (a table cell, a list item, a heading).

    The result cannot break a table row (``|``, newlines), open HTML or close a ``<details>`` block
    (``<``, ``>``, ``&``), form a link, image, code span, emphasis or math (backslash escapes), mention
    a user or team (``@`` gets a zero-width space) or become an autolink (``://`` and ``www.`` too).
    None and NaN become "—".
    """
    if isinstance(value, MdSafe):
        return value
    if _is_missing(value):
        return MdSafe(MISSING)
    text = one_line(value, limit)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_PUNCTUATION.sub(r"\\\1", text)
    text = _LOOSE_UNDERSCORE.sub(r"\\_", text)
    text = text.replace("@", "@" + _ZERO_WIDTH_SPACE)
    text = text.replace("://", ":" + _ZERO_WIDTH_SPACE + "//")
    text = re.sub(r"(?i)\bwww\.", lambda m: m.group(0)[:3] + _ZERO_WIDTH_SPACE + ".", text)
    return MdSafe(text)


def escape_mermaid(value: Any, limit: int = 40) -> str:
    """A label safe inside a quoted Mermaid string: letters, digits and a little punctuation only."""
    text = one_line(value, 10 * limit)
    text = "".join(ch if ch.isalnum() or ch in " +-.,()/²_=" else " " for ch in text)
    return clip(" ".join(text.split()), limit) or "?"


def strip_terminal(text: str, max_lines: int | None = None, max_chars: int | None = None) -> str:
    """Terminal output made printable: ANSI escapes and controls (but newlines and tabs) removed.

    With ``max_lines`` / ``max_chars`` only the end is kept (it is a tail: the summary is last).
    """
    text = _ANSI.sub("", text.replace("\r\n", "\n"))
    text = _INVISIBLE.sub("", text)
    text = re.sub("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]", "", text)
    if max_chars is not None and len(text) > max_chars:
        text = text[-max_chars:]
        text = text.split("\n", 1)[1] if "\n" in text else text
    lines = text.rstrip("\n").split("\n")
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[-max_lines:]
    return "\n".join(line.rstrip() for line in lines)


def code_fence(text: str) -> str:
    """A backtick fence longer than any backtick run in the text, so the text cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def safe_url(value: Any) -> str | None:
    """The URL when it is a plain http(s) URL (parentheses percent-encoded), else None."""
    if not isinstance(value, str) or len(value) > 2000 or not _SAFE_URL.match(value):
        return None
    return value.replace("(", "%28").replace(")", "%29").replace("|", "%7C")


# ---------------------------------------------------------------- numbers


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return float(value)


def fmt_num(value: Any, *, signed: bool = False) -> str:
    """A metric value: 4 decimals, scientific notation when tiny or huge; None/NaN as "—"."""
    number = _number(value)
    if number is None:
        return MISSING
    if math.isinf(number):
        return ("+" if signed and number > 0 else "-" if number < 0 else "") + "∞"
    sign = "+" if signed else ""
    magnitude = abs(number)
    if magnitude != 0 and (magnitude >= 1e6 or magnitude < 1e-4):
        return f"{number:{sign}.3e}"
    text = f"{number:{sign}.4f}"
    if signed and text in ("+0.0000", "-0.0000"):
        return "±0.0000" if number == 0 else text
    return text


def fmt_signed(value: Any) -> str:
    """A delta with its sign: +0.0123, -0.0040, ±0.0000."""
    return fmt_num(value, signed=True)


def fmt_interval(low: Any, high: Any, *, signed: bool = True) -> str:
    """An interval "[low, high]", or "—" when an end is missing."""
    if _number(low) is None or _number(high) is None:
        return MISSING
    return f"[{fmt_num(low, signed=signed)}, {fmt_num(high, signed=signed)}]"


def fmt_pvalue(value: Any) -> str:
    """A p-value: 4 decimals, "< 0.0001" below that."""
    number = _number(value)
    if number is None:
        return MISSING
    return "< 0.0001" if number < 1e-4 else f"{number:.4f}"


def fmt_count(value: Any) -> str:
    """An integer count with thousands separators."""
    number = _number(value)
    if number is None:
        return MISSING
    return f"{int(number):,}" if number == int(number) else f"{number:,.2f}"


def plural(count: int, word: str) -> str:
    """'1 column', '2 columns', '1,000 columns'."""
    return f"{fmt_count(count)} {word}{'' if count == 1 else 's'}"


def fmt_percent(value: Any, *, signed: bool = False, digits: int = 2) -> str:
    """A percentage of something already multiplied by 100."""
    number = _number(value)
    if number is None or math.isinf(number):
        return MISSING
    return f"{number:{'+' if signed else ''}.{digits}f}%"


def fmt_seconds(value: Any) -> str:
    """A duration: 0.42 s, 12.3 s, 4 min 5 s."""
    number = _number(value)
    if number is None:
        return MISSING
    if number < 10:
        return f"{number:.2f} s"
    if number < 120:
        return f"{number:.1f} s"
    minutes, seconds = divmod(round(number), 60)
    return f"{minutes} min {seconds} s"


def fmt_confidence(value: Any) -> str:
    """0.95 as "95%"."""
    number = _number(value)
    if number is None:
        return "CI"
    return f"{round(number * 100, 2):g}%"


def short_sha(value: Any, length: int = 7) -> str | None:
    """The first characters of a hex digest (a "sha256:" prefix dropped); None when it is not hex."""
    if not isinstance(value, str):
        return None
    text = value.removeprefix("sha256:")
    if not text or not _HEX.match(text):
        return None
    return text[:length].lower()
