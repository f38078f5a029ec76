"""The check stage renders once, with the platform's links already known."""

from __future__ import annotations

import json

from mlops_actions.errors import ConfigError
from mlops_actions.platforms.gitlab.platform import GitLabPlatform
from mlops_actions.progress import Progress
from mlops_actions.stages.check import error_outcome


def test_the_report_and_the_result_carry_the_job_and_html_report_links(tmp_path):
    env = {"CI_JOB_URL": "https://gitlab.example.com/acme/credit/-/jobs/5", "CI_PROJECT_DIR": str(tmp_path)}
    outcome = error_outcome(
        tmp_path / "mlops.yaml",
        tmp_path / "mlops-out",
        ConfigError("mlops.yaml: not found"),
        progress=Progress.silent(),
        platform=GitLabPlatform(env),
    )
    report = "https://gitlab.example.com/acme/credit/-/jobs/5/artifacts/file/mlops-out/report.html"
    assert json.loads((tmp_path / "mlops-out" / "mlops-result.json").read_text())["links"] == {
        "run_url": env["CI_JOB_URL"],
        "html_report": report,
    }
    assert f"({report})" in outcome.markdown
    assert outcome.markdown == (tmp_path / "mlops-out" / "report.md").read_text()
