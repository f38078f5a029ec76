"""One version everywhere: ``mlops_actions.__version__`` (which pyproject.toml reads), the ``install``
defaults of the action and the reusable workflows, the refs and pin examples of the starter workflows, the
docs and CHANGELOG.md must agree, so that a release tag installs the package of its own version."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENT = re.compile(r"mlops-actions(?:\[[a-z,]+\])?==([0-9][^\s\"'`)]*)")
PIN_EXAMPLE = re.compile(r"@<[^>]*sha[^>]*> # v([0-9][^\s`)]*)")
OWN_USES = re.compile(r"uses:\s*mlops-actions/mlops-actions/[^@\s]+@([^<\s]\S*)")  # <sha>: a pin example
VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"$', re.MULTILINE)


def package_version(root: Path) -> str:
    found = VERSION_LINE.search((root / "mlops_actions" / "__init__.py").read_text(encoding="utf-8"))
    assert found, "mlops_actions/__init__.py: no __version__ line"
    return found.group(1)


def versioned_files(root: Path) -> list[Path]:
    """The files that name a release of the package: action, workflows, starters, GitLab templates, docs."""
    globs = [
        "action.yml",
        ".github/actions/*/action.yml",
        ".github/workflows/mlops-*.yml",
        "ci_templates/github/*.yml",
        "example_project/.github/workflows/*.yml",
        "ci_templates/gitlab/**/*.yml",
        "templates/**/*.yml",
        "docs/*.md",
    ]
    return sorted({path for pattern in globs for path in root.glob(pattern) if path.is_file()})


def disagreements(root: Path) -> list[str]:
    """Every place in ``root`` whose version is not the package's: ``file:line: what``."""
    version = package_version(root)
    major_ref = "v" + version.split(".")[0]
    found = []
    for path in versioned_files(root):
        name = path.relative_to(root).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for other in REQUIREMENT.findall(line):
                if other != version:
                    found.append(f"{name}:{number}: mlops-actions=={other}, expected =={version}")
            for other in PIN_EXAMPLE.findall(line):
                if other != version:
                    found.append(f"{name}:{number}: pin example # v{other}, expected # v{version}")
            for ref in OWN_USES.findall(line):
                if ref != major_ref:
                    found.append(f"{name}:{number}: @{ref}, expected the major tag @{major_ref}")
    changelog = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    if not re.search(rf"^## \[{re.escape(version)}\]", changelog, re.MULTILINE):
        found.append(f"CHANGELOG.md: no section ## [{version}]")
    return found


def test_pyproject_reads_the_version_from_the_package():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    assert not re.search(r"^version\s*=", project, re.MULTILINE), "[project] must not write the version"
    assert re.search(r'^dynamic = \["version"\]$', project, re.MULTILINE)
    dynamic = text.split("[tool.setuptools.dynamic]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^version = \{ attr = "mlops_actions.__version__" \}', dynamic, re.MULTILINE)


def test_the_action_and_the_install_step_default_to_the_package_version():
    version = package_version(ROOT)
    for path in (ROOT / "action.yml", ROOT / ".github" / "actions" / "install" / "action.yml"):
        text = path.read_text(encoding="utf-8")
        assert re.search(rf"^\s+default: mlops-actions=={re.escape(version)}$", text, re.MULTILINE), path


def test_every_starter_workflow_explains_the_major_tag_and_shows_the_sha_pin():
    version = package_version(ROOT)
    starters = sorted((ROOT / "ci_templates" / "github").glob("*.yml"))
    using = [p for p in starters if OWN_USES.search(p.read_text(encoding="utf-8"))]
    assert using, "no starter workflow references mlops-actions"
    for path in using:
        text = path.read_text(encoding="utf-8")
        assert "`@v0` is the major tag" in text, path.name
        assert f"`@<sha> # v{version}`" in text, path.name
        assert "docs/github.md#pinning-a-release" in text, path.name


def test_the_docs_show_a_sha_pin_kept_current_by_dependabot_or_renovate():
    text = (ROOT / "docs" / "github.md").read_text(encoding="utf-8")
    assert "### Pinning a release" in text
    assert "package-ecosystem: github-actions" in text
    assert "helpers:pinGitHubActionDigests" in text
    assert PIN_EXAMPLE.search(text)


def test_the_package_version_the_action_defaults_the_templates_and_the_docs_agree():
    assert disagreements(ROOT) == []


def test_a_version_bump_in_one_place_only_is_caught(tmp_path):
    copy = tmp_path / "repo"
    for path in [*versioned_files(ROOT), ROOT / "mlops_actions" / "__init__.py", ROOT / "CHANGELOG.md"]:
        target = copy / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    init = copy / "mlops_actions" / "__init__.py"
    init.write_text(VERSION_LINE.sub('__version__ = "9.0.0"', init.read_text(encoding="utf-8")))
    found = disagreements(copy)
    assert any(line.startswith("action.yml:") and "expected ==9.0.0" in line for line in found), found
    assert any("expected the major tag @v9" in line for line in found), found
    assert "CHANGELOG.md: no section ## [9.0.0]" in found
