"""Shared fixtures: a tiny ML project in a temporary git repository, the API stand-ins (tests/standins) and
one real mlflow server for the session (tests/mlflow_server.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["tests.standins.fixtures", "tests.mlflow_server"]

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PROJECT = REPO_ROOT / "example_project"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    for key in ("GITHUB_ACTIONS", "GITLAB_CI", "GITHUB_BASE_REF", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("MLOPS_REGISTRY_PATH", raising=False)


def run_git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, env={**os.environ, **GIT_ENV}
    )
    return proc.stdout.strip()


def init_repo(path: Path) -> Path:
    run_git(path, "init", "-q", "-b", "main")
    run_git(path, "add", "-A")
    run_git(path, "commit", "-q", "-m", "initial")
    return path


TINY_MODEL = textwrap.dedent(
    '''
    """A tiny project: logistic regression on two numeric features and one categorical."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    NUMERIC = ["x1", "x2"]


    def train_model(X, y, params):
        numeric = [c for c in NUMERIC if c in X.columns and c not in params.get("drop", [])]
        prep = ColumnTransformer(
            [("num", StandardScaler(), numeric), ("cat", OneHotEncoder(handle_unknown="ignore"), ["group"])]
        )
        model = Pipeline([("prep", prep), ("clf", LogisticRegression(C=params.get("C", 1.0), max_iter=500))])
        return model.fit(X, y)
    '''
)


def write_tiny_data(folder: Path, *, rows: int = 600, seed: int = 7) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    for name, n in (("train", rows), ("eval", rows // 2)):
        x1 = rng.normal(size=n)
        x2 = rng.normal(size=n)
        group = rng.choice(["a", "b", "c"], size=n)
        logit = 1.5 * x1 - 1.0 * x2 + (group == "a") * 0.5
        y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
        start = 0 if name == "train" else rows
        frame = pd.DataFrame(
            {"row_id": np.arange(start, start + n), "x1": x1, "x2": x2, "group": group, "label": y}
        )
        frame.to_csv(folder / f"{name}.csv", index=False)


TINY_CONFIG = textwrap.dedent(
    """\
    version: 1
    model:
      name: tiny
      task: binary
    train:
      entrypoint: tiny_model:train_model
      params: {C: 1.0}
    data:
      train: train.csv
      eval: eval.csv
      target: label
      id: row_id
      slices: [group]
    metrics:
      primary: roc_auc
      others: [accuracy, log_loss, brier]
    gate:
      resamples: 300
      rules:
        - metric: roc_auc
          min: 0.6
          allowed_change: -0.01
    registry:
      backend: local
      path: .registry
    """
)


def make_tiny_project(parent: Path) -> Path:
    """``parent/tiny``: a git repo with a small binary-classification project on branch main."""
    project = parent / "tiny"
    project.mkdir()
    (project / "tiny_model.py").write_text(TINY_MODEL)
    (project / "mlops.yaml").write_text(TINY_CONFIG)
    (project / ".gitignore").write_text(".registry/\nmlops-out/\n.mlops/\n__pycache__/\n")
    write_tiny_data(project)
    return init_repo(project)


@pytest.fixture(scope="session")
def _tiny_project_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny project made once; each test gets a copy (generating the data and committing cost more)."""
    return make_tiny_project(tmp_path_factory.mktemp("tiny-template"))


@pytest.fixture
def tiny_project(_tiny_project_template: Path, tmp_path: Path) -> Path:
    """A git repo with a small binary-classification project on branch main."""
    project = tmp_path / "tiny"
    shutil.copytree(_tiny_project_template, project, symlinks=True)
    return project
