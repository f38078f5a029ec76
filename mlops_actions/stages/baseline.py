"""Choosing the baseline a candidate is compared with: registry, retrain at the merge-base, or none."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_actions.domain.config import Config
from mlops_actions.domain.lineage import git
from mlops_actions.domain.secrets import env_for_config
from mlops_actions.errors import GitError, MlopsError, TrainingError

if TYPE_CHECKING:
    from mlops_actions.domain.cross_fit import FoldPlan
    from mlops_actions.domain.trust import Trust

SOURCES = ("auto", "registry", "retrain", "none")


@dataclass(frozen=True)
class BaselineChoice:
    source: str  # registry | retrain | none
    reason: str
    model_dir: Path | None = None
    version: str | None = None
    commit: str | None = None
    config_path: Path | None = None  # the baseline's own config (retrain: in the worktree)
    code_root: Path | None = None  # where the baseline's project code lives
    digest: str | None = None  # registry: model.skops's sha256 from the version's manifest


FETCH_SECONDS = 120.0  # the deadline of the target branch's fetch
BRANCH_PATTERN = re.compile(r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}$")


def base_ref_candidates(config: Config, explicit: str | None, target_branch: str | None) -> list[str]:
    """Refs to try for the target branch: explicit, then the change request's target branch, then
    baseline.target_branch."""
    names: list[str] = []
    if explicit:
        names.append(explicit)
    if target_branch:
        names += [f"origin/{target_branch}", target_branch]
    names += [f"origin/{config.target_branch}", config.target_branch]
    return list(dict.fromkeys(names))


def fetch_target_branch(repo: Path, branch: str | None, *, timeout: float = FETCH_SECONDS) -> str | None:
    """Fetch ``origin/<branch>`` when the clone lacks it (a merge request pipeline fetches the source branch
    only), within ``timeout`` seconds. Returns one line saying why it could not, else None."""
    if not branch or not git(["rev-parse", "--show-toplevel"], repo, check=False):
        return None
    if git(["rev-parse", "--verify", "--quiet", f"origin/{branch}^{{commit}}"], repo, check=False):
        return None
    if not BRANCH_PATTERN.match(branch):
        return f"target branch {branch[:80]!r}: not a branch name; not fetched"
    if not git(["remote", "get-url", "origin"], repo, check=False):
        return None  # a clone without origin (a laptop): the local branches are all there is
    refspec = f"+refs/heads/{branch}:refs/remotes/origin/{branch}"
    try:
        done = subprocess.run(
            ["git", "fetch", "--quiet", "--no-tags", "origin", refspec],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"could not fetch the target branch {branch} from origin within {timeout:g} s"
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["failed"])[0]
        return f"could not fetch the target branch {branch} from origin: {first[:200]}"
    return None


def merge_base(repo: Path, candidates: list[str]) -> tuple[str, str] | None:
    """(ref, merge-base commit) for the first ref that exists; None when none does."""
    for ref in candidates:
        if git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], repo, check=False):
            base = git(["merge-base", "HEAD", ref], repo, check=False)
            if base:
                return ref, base
    return None


class RetrainWorktree:
    """A detached git worktree at a commit, removed on exit."""

    def __init__(self, repo: Path, commit: str, path: Path):
        self.repo, self.commit, self.path = repo, commit, path

    def __enter__(self) -> Path:
        git(["worktree", "add", "--detach", "--force", str(self.path), self.commit], self.repo)
        return self.path

    def __exit__(self, *exc: object) -> None:
        git(["worktree", "remove", "--force", str(self.path)], self.repo, check=False)
        git(["worktree", "prune"], self.repo, check=False)


def _run_in_worktree(
    commit: str, config: Config, workdir: Path, steps: list[tuple[str, list[str]]]
) -> str | None:
    """Run mlops-actions commands against the commit's own config and code, each in a subprocess;
    a reason string when the commit has no such config."""
    repo = Path(git(["rev-parse", "--show-toplevel"], config.root)).resolve()
    relative_config = config.path.relative_to(repo)
    with RetrainWorktree(repo, commit, workdir / f"worktree-{commit[:12]}") as worktree:
        base_config = worktree / relative_config
        if not base_config.is_file():
            return f"{relative_config} does not exist at {commit[:12]}"
        for step, args in steps:
            _run_tool(commit, config, base_config, step, args)
    return None


def _run_tool(commit: str, config: Config, base_config: Path, step: str, args: list[str]) -> None:
    """One mlops-actions command against ``base_config`` (a config file of the commit's worktree), in a
    subprocess in its folder; a TrainingError with its last line when it fails."""
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_actions", *args, "--config", str(base_config)],
        cwd=base_config.parent,
        capture_output=True,
        text=True,
        env=env_for_config(config, "train"),
        check=False,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1].removeprefix("mlops-actions: error: ")
        raise TrainingError(f"baseline {step} at {commit[:12]} failed: {last}")


def retrain_folds_and_score(commit: str, config: Config, plan: FoldPlan, workdir: Path) -> list[Path] | str:
    """Train the merge-base's code on each fold's training rows and score its held-out rows, in one subprocess
    in a worktree with the commit's own config (``cross-fit``: its trusted types and code are the commit's, only
    the data files are the folds'); the scored folder per fold, or a reason it is impossible."""
    folds_dir = plan.folds[0].train_file.parent
    output_dir = workdir / "baseline-folds"
    problem = _run_in_worktree(
        commit,
        config,
        workdir,
        [("cross-fit", ["cross-fit", "--folds", str(folds_dir), "--output-dir", str(output_dir)])],
    )
    return problem if problem else [output_dir / f"fold-{fold.index + 1}" for fold in plan.folds]


def retrain_and_score(commit: str, config: Config, eval_file: Path, workdir: Path) -> tuple[Path, Path] | str:
    """Train the merge-base's model in a worktree and score it on ``eval_file``, both in subprocesses
    (so the base's own project code is imported); (model folder, scored folder) or a reason it is impossible."""
    model_dir, scored_dir = workdir / "baseline-model", workdir / "baseline-scored"
    score = ["evaluate", "--model", str(model_dir), "--data", str(eval_file), "--output-dir", str(scored_dir)]
    problem = _run_in_worktree(
        commit, config, workdir, [("retrain", ["train", "--output-dir", str(model_dir)]), ("scoring", score)]
    )
    return problem if problem else (model_dir, scored_dir)


def score_at_commit(
    commit: str, config: Config, model_dir: Path, eval_file: Path, workdir: Path, digest: str | None = None
) -> Path | str:
    """Score a published model with the project code and config of the commit that trained it (its own
    transformers and trusted types), ``digest`` being model.skops's sha256 from the registry's manifest;
    the scored folder, or a reason it is impossible (commit not in this clone, no config there)."""
    if not git(["cat-file", "-t", f"{commit}^{{commit}}"], config.root, check=False):
        return f"its commit {commit[:12]} is not in this clone (fetch the full history)"
    scored_dir = workdir / "baseline-scored"
    score = ["evaluate", "--model", str(model_dir), "--data", str(eval_file), "--output-dir", str(scored_dir)]
    if digest:
        score += ["--expected-digest", digest]
    problem = _run_in_worktree(commit, config, workdir, [("scoring", score)])
    return problem if problem else scored_dir


def base_data_files(config: Config, commit: str, workdir: Path) -> dict[str, Path]:
    """The base commit's copies of the config's data files (by role), for the data comparison."""
    repo = Path(git(["rev-parse", "--show-toplevel"], config.root)).resolve()
    roles = {"train": config.train_data, "eval": config.eval_data}
    found: dict[str, Path] = {}
    for role, path in roles.items():
        if path is None:
            continue
        try:
            relative = path.resolve().relative_to(repo)
        except ValueError:
            continue
        proc = subprocess.run(
            ["git", "show", f"{commit}:{relative.as_posix()}"], cwd=repo, capture_output=True, check=False
        )
        if proc.returncode == 0:
            target = workdir / "base-data" / f"{role}{path.suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(proc.stdout)
            found[role] = target
    return found


def resolve_baseline(
    config: Config,
    requested: str,
    *,
    base_ref: str | None,
    workdir: Path,
    target_branch: str | None = None,
) -> BaselineChoice:
    """Pick and materialise the baseline; the choice's reason says which one was used and why.

    ``target_branch`` is the change request's target branch, tried before baseline.target_branch.
    """
    from mlops_actions.registry import PRODUCTION, open_registry

    if requested not in SOURCES:
        raise MlopsError(f"baseline: {requested!r} is not one of {', '.join(SOURCES)}")
    if requested == "none":
        return BaselineChoice("none", "baseline source is 'none': only absolute bounds are judged")

    reasons: list[str] = []
    if requested in ("auto", "registry"):
        registry = open_registry(config)
        production = registry.resolve(PRODUCTION)
        if production is not None:
            model_dir = registry.fetch(production.version, workdir / "baseline-model")
            why = f"the registry's production version {production.version} ({production.tag})"
            if requested == "auto":
                why += ", re-scored on the candidate's evaluation rows (preferred when the registry has one)"
            return BaselineChoice(
                "registry",
                why,
                model_dir=model_dir,
                version=production.version,
                commit=production.commit,
                config_path=config.path,
                code_root=config.root,
                digest=production.digest,
            )
        reasons.append(f"the {registry.name} registry has no {PRODUCTION!r} version yet")
        if requested == "registry":
            return BaselineChoice("none", f"{reasons[0]}; only absolute bounds are judged")

    try:
        repo_root = git(["rev-parse", "--show-toplevel"], config.root)
    except GitError:
        repo_root = ""
    if not repo_root:
        reasons.append("the project is not in a git repository, so the target branch cannot be retrained")
        return BaselineChoice("none", "; ".join(reasons) + "; only absolute bounds are judged")
    found = merge_base(config.root, base_ref_candidates(config, base_ref, target_branch))
    if found is None:
        reasons.append(f"no target branch found ({config.target_branch!r}, baseline.target_branch)")
        return BaselineChoice("none", "; ".join(reasons) + "; only absolute bounds are judged")
    ref, commit = found
    head = git(["rev-parse", "HEAD"], config.root)
    if commit == head and not git(
        ["status", "--porcelain", "--untracked-files=no"], config.root, check=False
    ):
        reasons.append(f"HEAD is the merge-base with {ref}, so there is no other code to compare with")
        return BaselineChoice("none", "; ".join(reasons) + "; only absolute bounds are judged")
    return BaselineChoice(
        "retrain",
        "; ".join([*reasons, f"retrained the merge-base {commit[:12]} of {ref} with the same command"]),
        commit=commit,
    )


def base_branch_trust(
    config: Config, base_ref: str | None, target_branch: str | None = None
) -> tuple[Trust | None, str]:
    """The trust of the target branch's reviewed config (``config``'s file at the merge-base, read with
    ``git show``), for loading what the target branch released: (trust, where from) or (None, why not)."""
    import yaml

    from mlops_actions.domain.config import parse_config
    from mlops_actions.domain.trust import Trust
    from mlops_actions.errors import ConfigError

    found = merge_base(config.root, base_ref_candidates(config, base_ref, target_branch))
    if found is None:
        return None, f"no target branch found ({config.target_branch!r}, baseline.target_branch)"
    ref, commit = found
    repo = Path(git(["rev-parse", "--show-toplevel"], config.root)).resolve()
    try:
        relative = config.path.relative_to(repo).as_posix()
    except ValueError:
        return None, f"{config.path} is outside the repository"
    shown = subprocess.run(
        ["git", "show", f"{commit}:{relative}"], cwd=repo, capture_output=True, text=True, check=False
    )
    where = f"{relative} at {commit[:12]} ({ref})"
    if shown.returncode != 0:
        return None, f"{relative} does not exist at {commit[:12]}"
    try:
        base = parse_config(yaml.safe_load(shown.stdout), config.path)
    except (ConfigError, yaml.YAMLError) as error:
        return None, f"{where} is not a valid config ({str(error).splitlines()[0][:120]})"
    return Trust.from_config(base, label=where), where
