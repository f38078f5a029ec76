"""Trust comes only from the reviewed config: a hostile model that lists its own payload as trusted, at every
entry point that could load it. Each case proves the payload never ran (the canary is absent), the one-line
error and exit code, and that nothing was published, tagged, commented or half-written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV, TINY_CONFIG, run_git
from tests.hostile.conftest import (
    CliRun,
    assert_nothing_written,
    assert_one_line_error,
    assert_only_the_error_report_written,
    run_cli,
    run_cli_in_one_process,
    tree_snapshot,
)
from tests.hostile.skops_payloads import (
    IMPORT_MODULE,
    PAYLOADS,
    hostile_model_bytes,
    plant_module,
    write_model_folder,
)

# The name each payload's refusal must state.
REFUSED_NAME = {
    "reduce-posix-system": "posix.system",
    "reduce-os-system": "os.system",
    "reduce-subprocess-popen": "subprocess.Popen",
    "reduce-builtins-exec": "builtins.exec",
    "reduce-builtins-eval": "builtins.eval",
    "list-subprocess-popen": "subprocess.Popen",
    "ndarray-subprocess-popen": "subprocess.Popen",
    "loss-posix-system": "posix.system",
    "dict-key-type-posix-system": "posix.system",
    "operator-call-builtins-exec": "operator.call",
    "partial-args-posix-system": "posix.system",
    "function-import": f"{IMPORT_MODULE}.Planted",
    "type-import": f"{IMPORT_MODULE}.Planted",
    "object-import": f"{IMPORT_MODULE}.Planted",
    "method-import": f"{IMPORT_MODULE}.Planted",
    "random-state-import": f"{IMPORT_MODULE}.Planted",
}
# A few payloads for the slow entry points: a command through a reduce, an array and an import.
SAMPLE = ["reduce-posix-system", "ndarray-subprocess-popen", "operator-call-builtins-exec"]


def hostile_folder(folder: Path, payload: str, canary: Path, **metadata: object) -> Path:
    """A model folder whose metadata.json (matching digest) lists the payload's types as trusted."""
    return write_model_folder(folder, hostile_model_bytes(payload, canary), metadata=dict(metadata))


def use_command_trainer(project: Path, model_file: Path) -> None:
    """Train by copying ``model_file`` to {model}: the pull request's own trainer writes the hostile file."""
    config = project / "mlops.yaml"
    config.write_text(
        config.read_text().replace(
            "entrypoint: tiny_model:train_model", f"command: cp '{model_file}' {{model}}"
        )
    )


def publish(project: Path, folder: Path, version: str = "1.0.0", *, production: bool = True) -> None:
    from mlops_actions.platforms.local.registry import LocalRegistry

    registry = LocalRegistry(project / ".registry", "tiny")
    registry.publish(folder, version=version, metrics={})
    if production:
        registry.set_alias("production", version)


def head(project: Path) -> str:
    return run_git(project, "rev-parse", "HEAD")


# -- evaluate --model: the given --config --------------------------------------------------------------


@dataclass(frozen=True)
class EvaluateRun:
    """evaluate --model on one payload's folder: the folder it ran in (a tiny project in ``tiny``), its
    canary, the model folder, the tree before the run, and the run."""

    folder: Path
    canary: Path
    model: Path
    before: dict[str, bytes]
    run: CliRun


@pytest.fixture(scope="module")
def evaluated_payloads(
    _tiny_project_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, EvaluateRun]:
    """Every payload given to ``evaluate --model`` in its own copy of the tiny project, the runs made by
    one CLI process one after the other (the planted module forgotten between them)."""
    cases = {}
    for payload in sorted(PAYLOADS):
        folder = tmp_path_factory.mktemp(f"evaluate-{payload}")
        project = folder / "tiny"
        shutil.copytree(_tiny_project_template, project, symlinks=True)
        canary = folder / "canary-ran"
        model = hostile_folder(folder / "hostile-model", payload, canary)
        if PAYLOADS[payload].needs_module:
            plant_module(project, canary)
        args = ["evaluate", "--model", str(model), "--data", "eval.csv", "-o", str(folder / "eval-out")]
        cases[payload] = (folder, canary, model, tree_snapshot(folder), args, project)
    cleared = ("GITHUB_", "GITLAB_CI", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "MLOPS_REGISTRY_PATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(cleared)} | GIT_ENV
    runs = run_cli_in_one_process(
        [(args, project) for *_, args, project in cases.values()],
        workdir=tmp_path_factory.mktemp("evaluate-runs"),
        env=env,
    )
    return {
        payload: EvaluateRun(folder, canary, model, before, run)
        for (payload, (folder, canary, model, before, _, _)), run in zip(cases.items(), runs, strict=True)
    }


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_evaluate_refuses_every_payload_a_model_folder_declares_trusted(evaluated_payloads, payload):
    evaluated = evaluated_payloads[payload]
    canary, model, run, before = evaluated.canary, evaluated.model, evaluated.run, evaluated.before
    assert not canary.exists()
    assert_one_line_error(run, contains=[str(model / "model.skops"), REFUSED_NAME[payload]])
    assert_nothing_written(before, evaluated.folder)


def test_evaluate_checks_a_registry_digest_given_to_it_not_the_folders_own(tiny_project, tmp_path, canary):
    model = hostile_folder(tmp_path / "model", "function-import", canary)
    before = tree_snapshot(tmp_path)
    digest = "sha256:" + "1" * 64
    run = run_cli(
        ["evaluate", "--model", str(model), "--expected-digest", digest, "-o", str(tmp_path / "out")],
        cwd=tiny_project,
    )
    assert_one_line_error(run, contains=["model_digest", digest, "--expected-digest"])
    assert not canary.exists()
    assert_nothing_written(before, tmp_path)


# -- train (a command trainer) and check's candidate: the pull request's config ---------------------------


@pytest.mark.parametrize("payload", SAMPLE)
def test_train_refuses_a_hostile_file_its_command_wrote_and_leaves_no_model_folder(
    tiny_project, tmp_path, canary, payload
):
    model_file = tmp_path / "hostile.skops"
    model_file.write_bytes(hostile_model_bytes(payload, canary))
    use_command_trainer(tiny_project, model_file)
    before = tree_snapshot(tiny_project)
    run = run_cli(["train", "-o", "mlops-out/model"], cwd=tiny_project)
    assert not canary.exists()
    assert_one_line_error(run, contains=["model.skops", REFUSED_NAME[payload]])
    assert_nothing_written(before, tiny_project)


@pytest.mark.parametrize("payload", ["reduce-builtins-eval", "list-subprocess-popen"])
def test_check_refuses_a_hostile_candidate_and_reports_the_error_without_keeping_the_model(
    tiny_project, tmp_path, canary, payload
):
    model_file = tmp_path / "hostile.skops"
    model_file.write_bytes(hostile_model_bytes(payload, canary))
    use_command_trainer(tiny_project, model_file)
    before = tree_snapshot(tiny_project)
    run = run_cli(["check", "--forge", "local", "--baseline", "none"], cwd=tiny_project)
    assert not canary.exists()
    line = assert_one_line_error(run, contains=[REFUSED_NAME[payload]])
    assert_only_the_error_report_written(before, tiny_project, line=line)


# -- check's registry baseline: the config that released it, never the pull request's -----------------------


@pytest.mark.parametrize(
    "commit",
    ["known", "unknown", "unrecorded"],
    ids=["scored-at-its-commit", "commit-not-in-clone", "no-commit"],
)
def test_check_refuses_a_hostile_production_baseline_whatever_its_recorded_commit(
    tiny_project, tmp_path, canary, commit
):
    recorded = {"known": head(tiny_project), "unknown": "f" * 40, "unrecorded": None}[commit]
    publish(
        tiny_project, hostile_folder(tmp_path / "v1", "reduce-posix-system", canary, git={"commit": recorded})
    )
    before = tree_snapshot(tiny_project)
    run = run_cli(["check", "--forge", "local", "--baseline", "registry"], cwd=tiny_project)
    assert not canary.exists()
    line = assert_one_line_error(run, contains=["posix.system", "never trusted"])
    assert_only_the_error_report_written(before, tiny_project, line=line)


def pull_request_trusting_the_planted_type(project: Path, canary: Path) -> None:
    """A branch whose config lists the planted module's type and which commits that module."""
    run_git(project, "checkout", "-q", "-b", "feature")
    plant_module(project, canary)
    config = project / "mlops.yaml"
    config.write_text(
        config.read_text().replace(
            "params: {C: 1.0}", f"params: {{C: 1.0}}\n  trusted_types: [{IMPORT_MODULE}.Planted]"
        )
    )
    run_git(project, "add", "-A")
    run_git(project, "commit", "-q", "-m", "Trust the planted type")


@pytest.mark.parametrize("commit", ["known", "unknown"], ids=["scored-at-its-commit", "target-branch-config"])
def test_a_pull_request_cannot_widen_the_trust_its_production_baseline_is_loaded_with(
    tiny_project, tmp_path, canary, commit
):
    main_commit = head(tiny_project)
    recorded = main_commit if commit == "known" else "f" * 40
    publish(tiny_project, hostile_folder(tmp_path / "v1", "object-import", canary, git={"commit": recorded}))
    pull_request_trusting_the_planted_type(tiny_project, canary)
    before = tree_snapshot(tiny_project)
    run = run_cli(["check", "--forge", "local", "--baseline", "registry"], cwd=tiny_project)
    assert not canary.exists()
    line = assert_one_line_error(run, contains=[f"{IMPORT_MODULE}.Planted", "train.trusted_types"])
    if commit == "unknown":
        assert f"mlops.yaml at {main_commit[:12]}" in line, line
    assert_only_the_error_report_written(before, tiny_project, line=line)


def test_without_a_readable_target_branch_only_types_both_the_config_and_the_metadata_list_are_trusted(
    tiny_project, tmp_path, canary
):
    publish(
        tiny_project,
        write_model_folder(
            tmp_path / "v1", hostile_model_bytes("object-import", canary), trusted=[], metadata={"git": {}}
        ),
    )
    pull_request_trusting_the_planted_type(tiny_project, canary)
    run_git(tiny_project, "branch", "-D", "main")
    before = tree_snapshot(tiny_project)
    run = run_cli(["check", "--forge", "local", "--baseline", "registry"], cwd=tiny_project)
    assert not canary.exists()
    line = assert_one_line_error(run, contains=[f"{IMPORT_MODULE}.Planted", "not listed in", "metadata.json"])
    assert_only_the_error_report_written(before, tiny_project, line=line)


# -- release: the release's own config, before anything is published --------------------------------------


def candidate_folder(folder: Path, payload: str, canary: Path, project: Path) -> Path:
    hostile_folder(folder / "model", payload, canary, git={"commit": head(project), "dirty": False})
    (folder / "mlops-result.json").write_text(json.dumps({"verdict": "pass"}))
    return folder


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ("reduce-subprocess-popen", "given"),
        ("loss-posix-system", "given"),
        ("dict-key-type-posix-system", "output-dir"),
    ],
    ids=["popen-given-folder", "loss-node-given-folder", "key-type-default-output-dir"],
)
def test_release_refuses_a_hostile_candidate_folder_and_publishes_and_tags_nothing(
    tiny_project, tmp_path, canary, payload, where
):
    folder = tmp_path / "pr-check" if where == "given" else tiny_project / "mlops-out"
    candidate_folder(folder, payload, canary, tiny_project)
    before = tree_snapshot(tiny_project)
    args = ["release", "--candidate", str(folder)] if where == "given" else ["release"]
    run = run_cli(args, cwd=tiny_project)
    assert not canary.exists()
    assert_one_line_error(run, contains=[REFUSED_NAME[payload]])
    assert_nothing_written(before, tiny_project)
    assert not (tiny_project / ".registry").exists()
    assert run_git(tiny_project, "tag") == ""


@pytest.fixture
def github_api(start_github_releases_standin):  # type: ignore[no-untyped-def]
    return start_github_releases_standin(token="ghs_hostile-trust-token-7c2a", repository="acme/tiny")


def zip_folder(folder: Path) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            bundle.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


@pytest.mark.parametrize("payload", ["reduce-os-system", "partial-args-posix-system"])
def test_release_refuses_a_hostile_github_candidate_artifact_and_keeps_nothing_of_it(
    tiny_project, tmp_path, canary, github_api, payload
):
    from mlops_actions.platforms.github.artifacts import candidate_artifact_name

    tree = run_git(tiny_project, "rev-parse", "HEAD^{tree}")
    folder = candidate_folder(tmp_path / "artifact", payload, canary, tiny_project)
    github_api.add_artifact(candidate_artifact_name("tiny", tree), zip_folder(folder), run_id=9)
    env = {
        "GITHUB_API_URL": github_api.url,
        "GITHUB_REPOSITORY": "acme/tiny",
        "GITHUB_TOKEN": github_api.token,
    }
    before = tree_snapshot(tiny_project)
    run = run_cli(["release", "--candidate-source", "github-artifact"], cwd=tiny_project, env=env)
    assert not canary.exists()
    assert_one_line_error(run, contains=[REFUSED_NAME[payload], "pr-candidate"])
    assert_nothing_written(before, tiny_project)
    assert not (tiny_project / ".registry").exists() and run_git(tiny_project, "tag") == ""
    assert github_api.published() == [] and github_api.violations == []
    assert github_api.token not in run.stderr + run.stdout


# -- deploy, registry fetch ------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", ["reduce-builtins-exec", "method-import"])
def test_deploy_refuses_a_hostile_released_version_and_never_runs_the_deploy_command(
    tiny_project, tmp_path, canary, payload
):
    if PAYLOADS[payload].needs_module:
        plant_module(tiny_project, canary)
    publish(
        tiny_project, hostile_folder(tmp_path / "v1", payload, canary, git={"commit": head(tiny_project)})
    )
    deployed = tmp_path / "deployed"
    config = tiny_project / "mlops.yaml"
    config.write_text(config.read_text() + f"deploy:\n  command: touch '{deployed}'\n")
    before = tree_snapshot(tiny_project)
    run = run_cli(["deploy", "--ref", "production"], cwd=tiny_project)
    assert not canary.exists() and not deployed.exists()
    assert_one_line_error(run, contains=[REFUSED_NAME[payload]])
    assert_nothing_written(before, tiny_project)


@pytest.mark.parametrize("payload", ["reduce-posix-system", "type-import"])
def test_registry_fetch_copies_a_hostile_version_without_loading_it(tiny_project, tmp_path, canary, payload):
    plant_module(tiny_project, canary)
    model = hostile_folder(tmp_path / "v1", payload, canary)
    publish(tiny_project, model)
    run = run_cli(["fetch", "production", "-o", str(tmp_path / "fetched")], cwd=tiny_project)
    assert run.code == 0, run.stderr
    assert not canary.exists()
    assert (tmp_path / "fetched" / "model.skops").read_bytes() == (model / "model.skops").read_bytes()


# -- compare and comment never load a model ---------------------------------------------------------------


def test_compare_refuses_pickled_predictions_without_unpickling_them(tiny_project, tmp_path, canary):
    import numpy as np

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            import os

            return (os.system, (f"touch '{canary}'",))

    scored = tmp_path / "scored"
    scored.mkdir()
    (scored / "scored.json").write_text(json.dumps({"task": "binary", "classes": [0, 1], "slices": []}))
    np.savez(scored / "predictions.npz", row_keys=np.array([Payload()], dtype=object), y_true=np.array([1]))
    hostile_folder(scored / "model", "reduce-posix-system", canary)
    before = tree_snapshot(tmp_path)
    run = run_cli(["compare", "--candidate", str(scored)], cwd=tiny_project)
    assert not canary.exists()
    assert_one_line_error(run, contains=[str(scored), "unreadable evaluation files"])
    assert_nothing_written(before, tmp_path)


def comment_artifact(folder: Path, canary: Path) -> Path:
    """What the pull request's workflow uploads: a result, the pr-number and (hostile) the model folder."""
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "results"
    folder.mkdir(parents=True)
    (folder / "mlops-result.json").write_text((fixtures / "pass_with_baseline.json").read_text())
    (folder / "pr-number").write_text("7\n")
    hostile_folder(folder / "model", "object-import", canary)
    plant_module(folder, canary)
    return folder


def test_the_comment_command_posts_from_an_artifact_holding_a_hostile_model_without_loading_it(
    tmp_path, canary
):
    artifact = comment_artifact(tmp_path / "artifact", canary)
    comments = tmp_path / "comments"
    run = run_cli(
        ["comment", "--result", str(artifact), "--forge", "local", "--comment-dir", str(comments)],
        cwd=artifact,
    )
    assert run.code == 0, run.stderr
    assert not canary.exists()
    assert [p.name for p in comments.iterdir()] == ["churn.md"]


def test_the_comment_command_never_imports_a_model_loader(tmp_path, canary):
    artifact = comment_artifact(tmp_path / "artifact", canary)
    code = (
        "import sys\n"
        "from mlops_actions.commands.comment import post_comments\n"
        f"posted = post_comments({str(artifact)!r}, forge_name='local', local_dir={str(tmp_path / 'c')!r}, env={{}})\n"
        "loaders = sorted(m for m in ('skops', 'skops.io', 'mlops_actions.domain.model_io', 'mlops_actions.domain.trust', "
        f"{IMPORT_MODULE!r}) if m in sys.modules)\n"
        "print(len(posted), loaders)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=artifact, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "1 []", done.stdout + done.stderr
    assert not canary.exists()


# -- what the reviewed config trusts still loads ------------------------------------------------------------

CUSTOM_ESTIMATOR = (
    "from sklearn.base import BaseEstimator, ClassifierMixin\nimport numpy as np\n"
    "class Always(ClassifierMixin, BaseEstimator):\n"
    "    def fit(self, X, y):\n        self.classes_ = np.unique(y)\n        return self\n"
    "    def predict(self, X):\n        return np.zeros(len(X), dtype=int)\n"
    "    def predict_proba(self, X):\n        return np.tile([0.5, 0.5], (len(X), 1))\n"
    "def fit(X, y, params):\n    return Always().fit(X, y)\n"
)


def test_a_user_type_the_reviewed_config_lists_still_trains_evaluates_and_deploys(tiny_project, tmp_path):
    (tiny_project / "custom.py").write_text(CUSTOM_ESTIMATOR)
    config = tiny_project / "mlops.yaml"
    config.write_text(
        config.read_text()
        .replace("tiny_model:train_model", "custom:fit")
        .replace("params: {C: 1.0}", "params: {C: 1.0}\n  trusted_types: [custom.Always]")
    )
    trained = run_cli(["train", "-o", str(tmp_path / "model")], cwd=tiny_project)
    assert trained.code == 0, trained.stderr
    evaluated = run_cli(
        ["evaluate", "--model", str(tmp_path / "model"), "-o", str(tmp_path / "eval")], cwd=tiny_project
    )
    assert evaluated.code == 0, evaluated.stderr
    assert json.loads((tmp_path / "eval" / "evaluation.json").read_text())["rows"] == 300
    metadata = json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert metadata["trusted_types"] == ["custom.Always"] and metadata["estimator"] == "custom.Always"


TUNED_ESTIMATOR = (
    "from sklearn.linear_model import LogisticRegression\n"
    "import tiny_model\n"
    "class Tuned(LogisticRegression):\n    pass\n"
    "def fit(X, y, params):\n"
    "    model = tiny_model.train_model(X, y, params)\n"
    "    model.steps[-1] = ('clf', Tuned(max_iter=500).fit(model[:-1].transform(X), y))\n"
    "    return model\n"
)


def test_a_production_baseline_loads_with_the_target_branchs_trust_even_when_the_pull_request_drops_it(
    tiny_project, tmp_path
):
    (tiny_project / "custom.py").write_text(TUNED_ESTIMATOR)
    config = tiny_project / "mlops.yaml"
    config.write_text(
        config.read_text()
        .replace("tiny_model:train_model", "custom:fit")
        .replace("params: {C: 1.0}", "params: {C: 1.0}\n  trusted_types: [custom.Tuned]")
    )
    run_git(tiny_project, "add", "-A")
    run_git(tiny_project, "commit", "-q", "-m", "Train the custom estimator")
    main_commit = head(tiny_project)
    released = run_cli(["release"], cwd=tiny_project)
    assert released.code == 0, released.stderr
    manifest = tiny_project / ".registry" / "tiny" / "versions" / "1.0.0" / "manifest.json"
    document = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**document, "commit": "f" * 40}))  # scored here, not at its commit
    run_git(tiny_project, "checkout", "-q", "-b", "feature")
    config.write_text(TINY_CONFIG)
    run_git(tiny_project, "commit", "-q", "-am", "Back to the logistic regression, trusting nothing")
    run = run_cli(["check", "--forge", "none", "--baseline", "registry"], cwd=tiny_project)
    assert run.code in (0, 1), run.stderr
    result = json.loads((tiny_project / "mlops-out" / "mlops-result.json").read_text())
    assert result["baseline"]["source"] == "registry"
    assert f"trusting the types of mlops.yaml at {main_commit[:12]} (main)" in result["baseline"]["reason"]
