"""Renderers of mlops-result.json: Markdown for PR/MR comments, a self-contained HTML report, JSON.

Renderers read only the result document; every value in it is treated as untrusted and escaped.
"""

from __future__ import annotations

from mlops_actions.render.format import escape_md
from mlops_actions.render.html import render_html
from mlops_actions.render.markdown import render_markdown
from mlops_actions.render.result import InvalidResultError, load_result, validate_result

__all__ = [
    "InvalidResultError",
    "escape_md",
    "load_result",
    "render_html",
    "render_markdown",
    "validate_result",
]
