"""The deploy stage on the tiny project with the real built-in server and a load test chosen by the test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlops_actions.cli import main
from mlops_actions.domain.config import load_config
from mlops_actions.domain.loadtest import LoadTestResult
from mlops_actions.registry import open_registry
from mlops_actions.stages.deploy import run_deploy
from tests.conftest import run_git

pytest.importorskip("uvicorn")


def load_result(*, passed: bool) -> LoadTestResult:
    return LoadTestResult(
        passed=passed,
        aborted=False,
        failures=[] if passed else ["p99 612 ms > 200 ms (loadtest.thresholds.p99_ms)"],
        requests=100,
        errors=0,
        error_rate=0.0,
        rps=50.0,
        p50_ms=5.0,
        p95_ms=9.0,
        p99_ms=12.0 if passed else 612.0,
        max_ms=20.0,
        duration_s=2.0,
        users=2,
        errors_by_kind={},
        thresholds={"p99_ms": 200.0},
    )


@pytest.fixture(scope="module")
def _two_versions_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny@v1.0.0 released as releases were before they recorded smoke.json, then tiny@v1.1.0; made once
    for the module, never changed: each test gets a copy."""
    from tests.conftest import GIT_ENV, make_tiny_project
    from tests.func.conftest import CI_VARIABLES

    project = make_tiny_project(tmp_path_factory.mktemp("two-versions"))
    config = project / "mlops.yaml"
    out = str(project / "mlops-out")
    with pytest.MonkeyPatch.context() as patched:
        for key, value in GIT_ENV.items():
            patched.setenv(key, value)
        for name in CI_VARIABLES:
            patched.delenv(name, raising=False)
        with patched.context() as without_smoke:
            without_smoke.setattr("mlops_actions.stages.release.publication._smoke_files", lambda *_: {})
            assert main(["release", "-c", str(config), "-o", out, "-q"]) == 0
        config.write_text(config.read_text() + "deploy: {}\n")
        run_git(project, "commit", "-q", "-am", "Deploy to the built-in server")
        assert main(["release", "-c", str(config), "-o", out, "-q"]) == 0
    return project


@pytest.fixture
def two_versions(_two_versions_template: Path, tmp_path: Path) -> Path:
    """A copy of tiny@v1.0.0 (released without smoke.json) and tiny@v1.1.0 in one registry."""
    project = tmp_path / "tiny"
    shutil.copytree(_two_versions_template, project, symlinks=True)
    return project


def deploy(project: Path, version: str, *, passed: bool, **options: object):
    seen: list[str] = []

    def load_test(url: str, duration_s: float | None) -> LoadTestResult:
        seen.append(url)
        return load_result(passed=passed)

    outcome = run_deploy(
        project / "mlops.yaml",
        project / "out",
        version_tag=f"tiny@v{version}",
        load_test=load_test,
        **options,
    )
    return outcome, seen


def test_a_version_whose_load_test_fails_is_rolled_back_to_the_last_deployed_one(two_versions):
    registry = open_registry(load_config(two_versions / "mlops.yaml"))
    registry.set_alias("production", "1.0.0")
    first, seen = deploy(two_versions, "1.0.0", passed=True)
    assert first.failure is None and len(seen) == 1
    assert "smoke-tested against answers computed here" in " ".join(
        first.report.notes
    )  # no smoke.json in 1.0.0
    registry.set_alias("production", "1.1.0")
    second, seen = deploy(two_versions, "1.1.0", passed=False)
    assert second.failure == (
        "tiny@v1.1.0 rolled back to v1.0.0: load p99 612 ms > 200 ms (loadtest.thresholds.p99_ms)"
    )
    assert len(seen) == 1  # the version rolled back to is smoke-tested, not load-tested
    result = second.result()
    assert result["attempt"]["smoke"]["source"] == "smoke.json" and result["attempt"]["smoke"]["passed"]
    assert result["rollback"]["version"] == "1.0.0" and result["rollback"]["smoke"]["source"] == "in-process"
    assert result["production"] == {
        "before": "1.1.0",
        "after": "1.0.0",
        "moved": True,
        "note": "'production' moved back from 1.1.0 to 1.0.0",
    }
    assert [r["outcome"] for r in registry.deploy_records()] == ["deployed", "rolled_back"]
    assert [s["name"] for s in result["steps"]][-5:] == [
        "rollback to 1.0.0: fetching",
        "rollback to 1.0.0: verifying",
        "rollback to 1.0.0: starting server",
        "rollback to 1.0.0: waiting for ready",
        "rollback to 1.0.0: smoke test",
    ]
    report = (two_versions / "out" / "deploy-report.md").read_text()
    assert report.startswith("## ↩️ tiny@&#8203;v1.1.0 rolled back to v1.0.0: load p99 612 ms &gt; 200 ms")
    assert "### Rollback to tiny@&#8203;v1.0.0" in report and "released without `smoke.json`" in report
    assert json.loads((two_versions / "out" / "deploy-result.json").read_text()) == result


def test_no_load_smoke_tests_only_and_says_so(two_versions):
    outcome, seen = deploy(two_versions, "1.1.0", passed=False, load=False)
    assert outcome.failure is None and seen == []
    assert outcome.report.headline == "tiny@v1.1.0 deployed: smoke 21/21, no load test (--no-load)"


def test_a_command_without_a_url_is_deployed_untested_and_the_report_says_so(two_versions):
    config = two_versions / "mlops.yaml"
    config.write_text(config.read_text().replace("deploy: {}\n", "deploy:\n  command: 'true'\n"))
    outcome, seen = deploy(two_versions, "1.1.0", passed=False)
    assert outcome.failure is None and seen == []
    assert outcome.report.untested and "set deploy.url" in outcome.report.untested
    assert outcome.result()["record"]["smoke"] is None and outcome.result()["record"]["target"] == "command"


@pytest.mark.parametrize(
    ("deploy_section", "message"),
    [
        ("deploy:\n  url: http://127.0.0.1:1\n", "deploy.url: names where deploy.command's target answers"),
        (
            "deploy:\n  command: 'true'\n  url: 'http://h/{branch}'\n",
            "deploy.url: unknown placeholder 'branch'",
        ),
    ],
)
def test_a_url_without_a_command_or_with_an_unknown_placeholder_is_a_config_error(
    two_versions, deploy_section, message
):
    from mlops_actions.errors import ConfigError

    config = two_versions / "mlops.yaml"
    config.write_text(config.read_text().replace("deploy: {}\n", deploy_section))
    with pytest.raises(ConfigError, match=message):
        deploy(two_versions, "1.1.0", passed=True)
