"""The repository as a GitLab CI/CD catalog project: its layout against the catalog's rules, and its own pipeline.

The catalog's rules: components live in ``templates/`` at the repository's root, as ``templates/<name>.yml``
or ``templates/<name>/template.yml`` (this project uses the directory form, with a README per component); at
most 30 components per project; the root ``README.md`` describes them; a release created with the
``release:`` keyword on a semantic version tag publishes the version. The root ``.gitlab-ci.yml`` tests the
components of its own commit, one child pipeline per scenario file, and releases only on version tags.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
PIPELINE = ROOT / ".gitlab-ci.yml"
SCENARIO_DIR = ROOT / ".gitlab" / "ci" / "scenarios"
SCENARIOS = sorted(SCENARIO_DIR.glob("*.yml"))
COMPONENTS = sorted(path.parent.name for path in TEMPLATES.glob("*/template.yml"))
COMPONENT_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
OWN_COMPONENT = re.compile(r"\$CI_SERVER_FQDN/\$CI_PROJECT_PATH/(?P<name>[^@]+)@(?P<ref>.+)")
MAX_COMPONENTS = 30


def pipeline() -> dict[str, Any]:
    return yaml.safe_load(PIPELINE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def trigger_jobs() -> dict[str, dict[str, Any]]:
    return {name: job for name, job in pipeline().items() if isinstance(job, dict) and "trigger" in job}


def test_templates_holds_components_only_one_directory_each_with_template_and_readme():
    assert COMPONENTS, "templates/ holds no component"
    assert len(COMPONENTS) <= MAX_COMPONENTS
    for entry in sorted(TEMPLATES.iterdir()):
        assert entry.is_dir(), f"{entry.relative_to(ROOT)}: templates/ holds one directory per component"
        assert COMPONENT_NAME.fullmatch(entry.name), (
            f"{entry.name}: not a lowercase, hyphenated component name"
        )
        assert sorted(p.name for p in entry.iterdir()) == ["README.md", "template.yml"], entry.name


@pytest.mark.parametrize("name", COMPONENTS)
def test_every_component_starts_with_a_spec_inputs_header(name):
    documents = list(yaml.safe_load_all((TEMPLATES / name / "template.yml").read_text(encoding="utf-8")))
    assert len(documents) == 2, f"{name}: expected the spec header, ---, and the jobs"
    assert isinstance(documents[0]["spec"]["inputs"], dict), f"{name}: no spec: inputs:"


@pytest.mark.parametrize("name", COMPONENTS)
def test_every_component_readme_names_it_and_shows_its_include(name):
    readme = (TEMPLATES / name / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(f"# {name}\n")
    assert f"/mlops-actions/mlops-actions/{name}@" in readme


def has_spec_header(path: Path) -> bool:
    """Whether the YAML file's first document is a component's ``spec:`` header."""
    try:
        first = next(yaml.safe_load_all(path.read_text(encoding="utf-8")), None)
    except (yaml.YAMLError, UnicodeDecodeError):
        return False
    return isinstance(first, dict) and isinstance(first.get("spec"), dict)


def test_no_component_lives_outside_templates():
    strays = [
        path.relative_to(ROOT)
        for pattern in ("*.yml", "*.yaml")
        for path in ROOT.rglob(pattern)
        if not {"node_modules", ".git", ".venv"} & set(path.parts)
        and not path.is_relative_to(TEMPLATES)
        and has_spec_header(path)
    ]
    assert strays == []


def test_the_root_readme_lists_every_component():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("| component | what it adds |", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", table, flags=re.MULTILINE))
    assert listed == set(COMPONENTS)


def test_the_pipeline_has_one_child_pipeline_per_scenario_file():
    assert SCENARIOS, "no scenario in .gitlab/ci/scenarios/"
    included = {}
    for name, job in trigger_jobs().items():
        assert job["trigger"]["strategy"] == "depend", f"{name}: the parent must fail with its child"
        included[name] = ROOT / job["trigger"]["include"]
    assert sorted(included.values()) == SCENARIOS
    assert sorted(included) == sorted(f"scenario-{path.stem}" for path in SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[path.stem for path in SCENARIOS])
def test_each_scenario_includes_components_of_this_commit_only(scenario):
    document = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    entries = document["include"]
    assert entries, scenario.name
    for entry in entries:
        match = OWN_COMPONENT.fullmatch(entry["component"])
        assert match, f"{scenario.name}: {entry['component']!r} is not a component of this project"
        assert match["ref"] == "$CI_COMMIT_SHA", f"{scenario.name}: components are tested at $CI_COMMIT_SHA"
        assert match["name"] in COMPONENTS, f"{scenario.name}: no component {match['name']!r} in templates/"


def test_the_child_pipelines_run_on_merge_requests_the_default_branch_and_tags():
    conditions = [
        rule.get("if", "") for rule in pipeline()["workflow"]["rules"] if rule.get("when") != "never"
    ]
    assert '$CI_PIPELINE_SOURCE == "merge_request_event"' in conditions
    assert "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" in conditions
    assert "$CI_COMMIT_TAG" in conditions
    for name, job in trigger_jobs().items():
        assert "rules" not in job and "only" not in job, f"{name}: runs in every pipeline the workflow allows"


def test_the_release_job_uses_the_release_keyword_on_version_tags_after_every_scenario():
    jobs = [job for job in pipeline().values() if isinstance(job, dict) and "release" in job]
    [release] = jobs
    assert release["release"]["tag_name"] == "$CI_COMMIT_TAG"
    assert release["release"]["description"] == "./release-notes.md"
    [rule] = release["rules"]
    pattern = re.fullmatch(r"\$CI_COMMIT_TAG =~ /(.+)/", rule["if"])
    assert pattern, "the release runs only on tags"
    for tag, matches in (("v0.1.0", True), ("v12.3.40", True), ("v0", False), ("0.1.0", False)):
        assert bool(re.fullmatch(pattern.group(1), tag)) is matches, tag
    assert release["needs"] == ["release-notes"]
    notes = pipeline()["release-notes"]
    assert notes["rules"] == release["rules"]
    assert sorted(notes["needs"]) == sorted(trigger_jobs())
    assert notes["artifacts"]["paths"] == ["release-notes.md"]


def test_the_release_description_is_the_changelog_section_of_the_tagged_version():
    [script] = pipeline()["release-notes"]["script"]
    assert script == 'python3 .ci/release.py notes --version "${CI_COMMIT_TAG#v}" > release-notes.md'
    root = Path(__file__).resolve().parents[2]
    version = re.search(r'__version__ = "([^"]+)"', (root / "mlops_actions" / "__init__.py").read_text())
    assert version
    done = subprocess.run(
        [sys.executable, ".ci/release.py", "notes", "--version", version.group(1)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "CHANGELOG.md has a section for the package's version"
