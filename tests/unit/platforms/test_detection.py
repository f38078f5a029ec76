"""The platform is detected once: built-ins by their variables, or forced by name or by class path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlops_actions.errors import MlopsError
from mlops_actions.platforms import detect_platform, platform_class
from mlops_actions.progress import Progress

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"GITHUB_ACTIONS": "true", "GITLAB_CI": "true"}, "github"),
        ({"GITLAB_CI": "true"}, "gitlab"),
        ({"GITHUB_ACTIONS": "false", "CI": "true"}, "local"),
        ({}, "local"),
    ],
    ids=["github-actions", "gitlab-ci", "other-ci", "a-terminal"],
)
def test_the_platform_is_the_first_built_in_that_detects_itself(env, name):
    assert detect_platform(env).name == name


def test_a_forced_name_or_mlops_platform_wins_over_detection():
    assert detect_platform({"GITHUB_ACTIONS": "true"}, "local").name == "local"
    assert detect_platform({"GITHUB_ACTIONS": "true", "MLOPS_PLATFORM": "gitlab"}).name == "gitlab"
    assert detect_platform({"MLOPS_PLATFORM": "auto", "GITLAB_CI": "true"}).name == "gitlab"


def test_an_out_of_tree_platform_is_loaded_by_its_class_path(tmp_path, monkeypatch):
    (tmp_path / "bitbucket_platform.py").write_text(
        "from mlops_actions.platforms.local.platform import LocalPlatform\n"
        "class Bitbucket(LocalPlatform):\n"
        "    name = 'bitbucket'\n"
        "    @staticmethod\n"
        "    def detect(env):\n"
        "        return env.get('BITBUCKET_BUILD_NUMBER') is not None\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    platform = detect_platform({"MLOPS_PLATFORM": "bitbucket_platform:Bitbucket"}, comment_dir=tmp_path / "c")
    assert platform.name == "bitbucket"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("jenkins", "not a platform; expected one of github, gitlab, local or package.module:Class"),
        ("no_such_module_here:Platform", "cannot import no_such_module_here"),
        ("mlops_actions.errors:MlopsError", "is not a platform class (it lacks"),
        ("mlops_actions.errors:Nothing", "mlops_actions.errors has no Nothing"),
    ],
)
def test_a_bad_platform_name_is_one_line_naming_it(name, message):
    with pytest.raises(MlopsError, match=r"^--platform: ") as raised:
        platform_class(name)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_the_progress_style_follows_the_platform():
    assert Progress.for_platform("github").style == "github"
    assert Progress.for_platform("gitlab").style == "gitlab"
    assert Progress.for_platform("bitbucket").style == "plain"


def test_help_imports_no_platform_module():
    code = (
        "import sys, contextlib, io\n"
        "from mlops_actions.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['check', '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('mlops_actions.platforms')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]"
