"""The reports of one result document: Markdown (the PR/MR comment), self-contained HTML, JSON; one writer.

Used alike by ``mlops-actions report`` and by the check stage, so a report reads the same wherever it
was rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from mlops_actions.errors import UsageError

FORMATS = ("md", "html", "json")


@dataclass(frozen=True)
class RenderedReport:
    """The reports of a validated result document; each format is rendered when first read.

    ``links`` (e.g. ``html_report``, ``run_url``) are added to the result's own links in every format;
    ``max_chars`` bounds the Markdown report (None: the Markdown renderer's default, a comment's limit).
    """

    result: dict[str, Any]
    links: dict[str, str] = field(default_factory=dict)
    max_chars: int | None = None

    @cached_property
    def markdown(self) -> str:
        """The Markdown report, at most ``max_chars`` characters."""
        from mlops_actions.render.markdown import DEFAULT_MAX_CHARS, render_markdown

        limit = DEFAULT_MAX_CHARS if self.max_chars is None else self.max_chars
        return render_markdown(self.result, max_chars=limit, links=self.links or None)

    @cached_property
    def html(self) -> str:
        """The self-contained HTML page."""
        from mlops_actions.render.html import render_html

        if not self.links:
            return render_html(self.result)
        return render_html({**self.result, "links": {**self.result.get("links", {}), **self.links}})

    @property
    def json(self) -> str:
        """The result document itself, indented."""
        from json import dumps

        return dumps(self.result, indent=2, ensure_ascii=False) + "\n"

    def text(self, fmt: str) -> str:
        """The report in ``fmt``: ``md``, ``html`` or ``json``."""
        if fmt == "md":
            return self.markdown
        if fmt == "html":
            return self.html
        if fmt == "json":
            return self.json
        raise UsageError(f"unknown report format '{fmt}', expected one of: {', '.join(FORMATS)}")


def report(
    result: dict[str, Any], *, max_chars: int | None = None, links: dict[str, str] | None = None
) -> RenderedReport:
    """The reports of a validated result document (see :func:`mlops_actions.render.load_result`).

    ``max_chars`` bounds the Markdown report (default: a PR/MR comment's limit); ``links`` are added to
    the result's links.
    """
    if max_chars is not None and max_chars < 1:
        raise UsageError(f"the longest Markdown report must be at least 1 character, got {max_chars}")
    return RenderedReport(result=result, links=dict(links or {}), max_chars=max_chars)


def write_report(path: str | Path, text: str) -> None:
    """Write a report through a temporary file in the same folder, so no reader ever sees half of it.

    A failure is one line saying the report could not be written (a PathError).
    """
    from mlops_actions.domain.model_io import write_text_atomic

    write_text_atomic(path, text, what="the report")
