"""Renderers of mlops-result.json: Markdown for PR/MR comments, a self-contained HTML report, JSON.

Renderers read only the result document; every value in it is treated as untrusted and escaped.
The names below are imported when first used, so importing a light module of this package (the result
file's name, the report formats: ``render.report``) costs nothing at start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_actions.render.format import escape_md
    from mlops_actions.render.html import render_html
    from mlops_actions.render.markdown import render_markdown
    from mlops_actions.render.result import InvalidResultError, load_result, validate_result

_HOMES = {
    "InvalidResultError": "result",
    "escape_md": "format",
    "load_result": "result",
    "render_html": "html",
    "render_markdown": "markdown",
    "validate_result": "result",
}

__all__ = [
    "InvalidResultError",
    "escape_md",
    "load_result",
    "render_html",
    "render_markdown",
    "validate_result",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)
