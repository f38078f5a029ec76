"""The deploy report: the verdict in its first line, steps, smoke table, rollback; untrusted text escaped."""

from __future__ import annotations

from mlops_actions.render.deploy import deploy_markdown

RESULT = {
    "outcome": "failed",
    "headline": "m@v1.3.0 failed: smoke 0/2 answers wrong: row <b>|x</b>; no previous version to roll back to",
    "reason": "smoke 0/2 answers wrong",
    "version": "1.3.0",
    "tag": "m@v1.3.0",
    "digest": "sha256:" + "1" * 64,
    "target": "command",
    "duration_s": 3.25,
    "attempt": {
        "tag": "m@v1.3.0",
        "url": "http://127.0.0.1:8080",
        "smoke": {
            "source": "in-process",
            "rows": 1,
            "requests": 1,
            "passed_requests": 0,
            "tolerance": 1e-6,
            "checks": [{"row": "id 7", "expected": 1, "single": 0, "batch": None, "max_diff": None, "ok": False,
                        "problem": "predicted 0, recorded 1 (alone)"}],
        },
        "load": None,
    },
    "production": {"before": "1.3.0", "after": "1.3.0", "moved": False, "note": "'production' still names 1.3.0"},
    "steps": [{"name": "smoke test", "seconds": 0.5, "ok": True, "detail": "smoke 0/1"}],
    "notes": ["m@v1.3.0 was released without smoke.json"],
    "record": {"outcome": "failed"},
    "rollback": None,
}  # fmt: skip


def test_the_first_line_is_the_verdict_and_a_failure_without_rollback_is_loud():
    markdown = deploy_markdown(RESULT)
    first, *rest = markdown.splitlines()
    assert first.startswith("## ❌ m@") and "failed: smoke 0/2 answers wrong" in first
    assert "> [!CAUTION]" in rest[1]
    assert "| smoke test | 0.5 s | ✅ smoke 0/1 |" in markdown
    assert "| id 7 | 1 | 0 | — | — | ❌ predicted 0, recorded 1 (alone) |" in markdown
    assert "computed here from the fetched, verified model" in markdown
    assert "- target: `deploy.command`, `http://127.0.0.1:8080`" in markdown


def test_untrusted_text_cannot_break_the_report():
    markdown = deploy_markdown(RESULT)
    assert "<b>" not in markdown and "&lt;b&gt;\\|x&lt;/b&gt;" in markdown.splitlines()[0]
