"""The release stage: gate the production branch's model against production, claim a version, publish it.

1. A commit already released is not released again: its version is verified and completed instead (files
   with their digests, the tag on the commit, ``production`` where it should be, leftovers of an
   interrupted publish cleared), so a re-run after a kill at any point finishes the release.
2. The model is the one built for the pull request when it is provably the same (see
   :func:`promotable_candidate`), else it is trained now; either way it is gated against the registry's
   production version (absolute bounds only when there is none).
3. The bump is ``--bump``/MLOPS_BUMP, else the commit's ``Release-Bump:`` trailer, else the merged pull
   request's ``release:major``/``release:minor``/``release:patch`` label, else minor.
4. The next version is claimed by publishing it: the registry's atomic step (a tag ref on GitHub, the
   release on GitLab, the rename of a staged folder locally, the lowest model version number in MLflow)
   lets one release win; a loser takes the next number, so racing releases end with distinct versions.
5. Published with the model: metadata (with the release lineage), the model card, the result and the
   training-data profile. ``production`` moves to the new version unless a newer commit already holds it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_actions.domain.config import Config, load_config
from mlops_actions.domain.lineage import git, git_state, library_versions
from mlops_actions.domain.model_io import (
    METADATA_FILE,
    MODEL_FILE,
    path_errors,
    write_json_atomic,
    write_text_atomic,
)
from mlops_actions.domain.semver import BUMPS, next_version, parse_version, version_tag
from mlops_actions.errors import GateFailed, GitError, MlopsError, RegistryError
from mlops_actions.progress import Progress
from mlops_actions.registry import PRODUCTION, ModelVersion, Registry, open_registry
from mlops_actions.registry.base import ConcurrentRelease, VersionTaken

BUMP_TRAILER = "Release-Bump"
LABEL_PREFIX = "release:"
RESULT_FILE = "mlops-result.json"
CARD_FILE = "model-card.md"
PROFILE_FILE = "data-profile.json"
MODEL_DIR = "model"
PR_CANDIDATE_DIR = "pr-candidate"
CANDIDATE_SOURCES = ("folder", "github-artifact", "none")
MAX_CLAIM_ATTEMPTS = 5
CONCURRENT_WAIT_SECONDS = 120  # how long the loser of a race of one commit waits for the winner to publish
CONCURRENT_POLL_SECONDS = 2.0
# Libraries whose versions must match for a model built elsewhere to be promoted as it is.
PROMOTION_LIBRARIES = ("scikit-learn", "skops", "numpy", "python")
MERGE_PATTERNS = (
    re.compile(r"^Merge pull request #([1-9][0-9]{0,9}) from "),  # GitHub merge commit
    re.compile(r"\(#([1-9][0-9]{0,9})\)\s*$"),  # GitHub squash merge: "Title (#12)"
)
GITLAB_MERGE_PATTERN = re.compile(r"^See merge request \S+!([1-9][0-9]{0,9})\s*$", re.MULTILINE)


@dataclass(frozen=True)
class ReleaseOutcome:
    version: ModelVersion
    created: bool  # False when this commit was already released (a re-run)
    result: dict[str, Any] | None
    source: str = "existing"  # trained | promoted | existing
    production_moved: bool = False
    notes: tuple[str, ...] = ()
    lineage: dict[str, Any] = field(default_factory=dict)


# -- bump and pull request ------------------------------------------------------------------------


def pr_number_of(repo: Path, env: Mapping[str, str]) -> int | None:
    """The pull (merge) request the HEAD commit came from: MLOPS_PR_NUMBER, else the merge commit's message."""
    given = env.get("MLOPS_PR_NUMBER", "").strip()
    if given:
        if not re.fullmatch(r"[1-9][0-9]{0,9}", given):
            raise MlopsError(f"MLOPS_PR_NUMBER: expected a positive integer, got {given[:20]!r}")
        return int(given)
    message = git(["log", "-1", "--format=%B"], repo, check=False)
    first = message.splitlines()[0] if message else ""
    for pattern in MERGE_PATTERNS:
        match = pattern.search(first)
        if match:
            return int(match.group(1))
    match = GITLAB_MERGE_PATTERN.search(message)
    return int(match.group(1)) if match else None


def pr_labels(pr_number: int | None, env: Mapping[str, str]) -> list[str] | None:
    """The merged pull request's labels: MLOPS_PR_LABELS (comma-separated), else GitHub's API in Actions."""
    if "MLOPS_PR_LABELS" in env:
        return [label.strip() for label in env["MLOPS_PR_LABELS"].split(",") if label.strip()]
    if pr_number is None or env.get("GITHUB_ACTIONS") != "true":
        return None
    from mlops_actions.platforms.github.api import Access, GitHubApiError, GitHubClient

    try:
        client = GitHubClient.from_environment(env)
        response = client.request(
            "GET",
            client.repo_path(f"/issues/{pr_number}"),
            access=Access("read the merged pull request's labels", "pull-requests: read"),
        )
    except GitHubApiError as error:
        raise MlopsError(f"release: cannot read the labels of pull request #{pr_number}: {error}") from None
    payload = response.json()
    labels = payload.get("labels") if isinstance(payload, dict) else None
    names = []
    for label in labels or []:
        name = label.get("name") if isinstance(label, dict) else label
        if isinstance(name, str):
            names.append(name)
    return names


def bump_from_commit(repo: Path, env: Mapping[str, str]) -> str:
    """major/minor/patch from MLOPS_BUMP or the HEAD commit's ``Release-Bump:`` trailer; minor by default."""
    return choose_bump(repo, env, None, None)[0]


def choose_bump(
    repo: Path, env: Mapping[str, str], explicit: str | None, labels: list[str] | None
) -> tuple[str, str]:
    """(bump, where it came from): --bump/MLOPS_BUMP, the ``Release-Bump:`` trailer, a PR label, else minor."""
    chosen = (explicit or env.get("MLOPS_BUMP", "")).strip().lower()
    origin = "--bump / MLOPS_BUMP"
    if not chosen:
        message = git(["log", "-1", "--format=%B"], repo, check=False)
        match = re.search(rf"^{BUMP_TRAILER}:\s*(\S+)\s*$", message, flags=re.MULTILINE | re.IGNORECASE)
        if match:
            chosen, origin = match.group(1).lower(), f"the commit's {BUMP_TRAILER} trailer"
    if chosen and chosen not in BUMPS:
        raise MlopsError(f"release bump {chosen!r} ({origin}) is not one of {', '.join(BUMPS)}")
    if not chosen and labels:
        picked = sorted(
            {label[len(LABEL_PREFIX) :].lower() for label in labels if label.lower().startswith(LABEL_PREFIX)}
        )
        picked = [p for p in picked if p in BUMPS]
        if len(picked) > 1:
            raise MlopsError(
                f"release: the pull request has several bump labels ({', '.join(LABEL_PREFIX + p for p in picked)}); "
                "keep one"
            )
        if picked:
            chosen, origin = picked[0], f"the pull request label {LABEL_PREFIX}{picked[0]}"
    if not chosen:
        chosen, origin = "minor", "the default"
    return chosen, origin


# -- the model: promoted or trained ----------------------------------------------------------------


def _tree_of(repo: Path, commit: str) -> str | None:
    return git(["rev-parse", "--verify", "--quiet", f"{commit}^{{tree}}"], repo, check=False) or None


def _current_fingerprints(config: Config) -> dict[str, str]:
    from mlops_actions.domain.data.io import file_sha256

    files = {"train": config.train_data}
    if config.eval_data is not None:
        files["eval"] = config.eval_data
    return {role: file_sha256(path) for role, path in files.items() if Path(path).is_file()}


def promotable_candidate(
    candidate: Path, config: Config, repo: Path, head: str, production: ModelVersion | None
) -> tuple[Path | None, str]:
    """The check output folder's model when it may be released as it is: (output folder, why) or (None, why not).

    It must be provably what training now would judge: a passing result, trained on a clean tree equal to
    HEAD's (same code and config), on data files with the same sha256, with the same library versions,
    and gated against the production version the registry holds now (or none, when there is none).
    Before any of that, the model is loaded with this (the release's) config's trust, narrowed by its
    metadata: a model that does not load so is refused with a ModelError, never promoted nor retrained.
    """
    from mlops_actions.domain.model_io import load_model, read_model_metadata, verify_digest
    from mlops_actions.domain.trust import Trust

    result_path = candidate / RESULT_FILE
    model_dir = candidate / MODEL_DIR
    if not result_path.is_file() or not (model_dir / METADATA_FILE).is_file():
        return None, f"{candidate} holds no checked model"
    try:
        result = json.loads(result_path.read_text(encoding="utf-8"))
        metadata = read_model_metadata(model_dir)
        verify_digest(model_dir / MODEL_FILE, metadata.get("model_digest"))
    except (MlopsError, ValueError, OSError) as error:
        return None, f"the checked model in {candidate} is unusable ({str(error).splitlines()[0][:160]})"
    load_model(
        model_dir / MODEL_FILE,
        expected_digest=metadata["model_digest"],
        trust=Trust.from_config(config).narrowed(metadata.get("trusted_types"), model_dir / METADATA_FILE),
        import_root=config.root,
    )
    if result.get("verdict") != "pass":
        return None, "the pull request's check did not pass"
    if metadata.get("model_name") != config.model_name:
        return None, f"the checked model is {metadata.get('model_name')!r}, not {config.model_name!r}"
    git_info = metadata.get("git") or {}
    if git_info.get("dirty") is not False:
        return None, "the checked model was trained on a modified working tree"
    built = str(git_info.get("commit") or "")
    head_tree = _tree_of(repo, head)
    tree = git_info.get("tree") or (_tree_of(repo, built) if built else None)
    if built != head and (tree is None or tree != head_tree):
        return (
            None,
            f"the checked commit {built[:12] or '?'} is not HEAD and its tree differs (or is not in this clone)",
        )
    built_data = {role: fp.get("sha256") for role, fp in (metadata.get("data") or {}).items()}
    if built_data != _current_fingerprints(config):
        return None, "the data files changed since the check (sha256 differs)"
    libraries, now = metadata.get("libraries") or {}, library_versions()
    changed = [name for name in PROMOTION_LIBRARIES if libraries.get(name) != now.get(name)]
    if changed:
        return None, f"library versions differ from the check's ({', '.join(changed)})"
    baseline = result.get("baseline") or {}
    gated_against = (
        (baseline.get("model") or {}).get("version") if baseline.get("source") == "registry" else None
    )
    if production is not None and gated_against != production.version:
        return None, f"the check was not gated against the current production version {production.version}"
    return candidate, f"the checked model of commit {built[:12]} has HEAD's tree, the same data and libraries"


def fetch_github_candidate(
    config: Config, repo: Path, commit: str, target: Path, env: Mapping[str, str]
) -> tuple[Path | None, str]:
    """The PR workflow's artifact of the model checked on HEAD's tree: (folder, where from) or (None, why not)."""
    from mlops_actions.platforms.github.api import GitHubClient
    from mlops_actions.platforms.github.artifacts import candidate_artifact_name, fetch_candidate

    tree = _tree_of(repo, commit)
    if tree is None:
        return None, f"no tree for {commit[:12]}"
    shutil.rmtree(target, ignore_errors=True)
    try:
        return fetch_candidate(
            GitHubClient.from_environment(env), candidate_artifact_name(config.model_name, tree), target
        )
    except MlopsError as error:
        return None, f"the pull request's checked model could not be fetched: {str(error).splitlines()[0]}"


def candidate_to_promote(
    source: str,
    candidate_dir: str | Path | None,
    output_dir: Path,
    config: Config,
    repo: Path,
    commit: str,
    production: ModelVersion | None,
    env: Mapping[str, str],
) -> tuple[Path | None, str, list[str]]:
    """(the check folder to promote or None, why, notes for the log) for ``--candidate-source``."""
    if source == "none":
        return None, "promotion is off (--candidate-source none)", []
    if source == "folder":
        candidate = Path(candidate_dir) if candidate_dir is not None else output_dir
        return (*promotable_candidate(candidate, config, repo, commit, production), [])
    fetched, origin = fetch_github_candidate(config, repo, commit, output_dir / PR_CANDIDATE_DIR, env)
    if fetched is None:
        return None, origin, [f"trained anew: {origin}"]
    try:
        promoted, why = promotable_candidate(fetched, config, repo, commit, production)
    except MlopsError:  # refused: keep nothing of the artifact
        shutil.rmtree(fetched, ignore_errors=True)
        raise
    if promoted is None:
        return None, why, [f"trained anew: the model of {origin} is not promoted: {why}"]
    return promoted, f"{why} ({origin})", []


# -- production -------------------------------------------------------------------------------------


def _is_ancestor(repo: Path, older: str, newer: str) -> bool | None:
    """True/False when both commits are in the clone, None when ``older`` is unknown here."""
    if not git(["cat-file", "-t", f"{older}^{{commit}}"], repo, check=False):
        return None
    import subprocess

    done = subprocess.run(
        ["git", "merge-base", "--is-ancestor", older, newer], cwd=repo, capture_output=True, check=False
    )
    return done.returncode == 0


def _is_newer(repo: Path, other: ModelVersion, version: ModelVersion) -> bool:
    """Whether ``other`` was released from a newer commit than ``version``: a descendant of it in this clone,
    else (a commit this clone does not hold) one released later, the higher version breaking a tie."""
    if not other.commit or not version.commit or other.commit == version.commit:
        return False
    if git(["cat-file", "-t", f"{other.commit}^{{commit}}"], repo, check=False):
        return _is_ancestor(repo, version.commit, other.commit) is True
    return (other.created, parse_version(other.version)) > (version.created, parse_version(version.version))


def move_production(registry: Registry, version: ModelVersion, repo: Path) -> tuple[bool, str | None]:
    """Point ``production`` at ``version`` unless a newer commit was released, or ``production`` holds a version
    of a commit that is not an ancestor (decided and set under the registry's release lock).

    A commit this clone does not hold counts as newer: a run that was checked out before it was pushed
    (and overtaken by its release) must not take ``production`` back.
    """
    with registry.release_lock():
        current = registry.resolve(PRODUCTION)
        if current is not None and current.version == version.version:
            return False, None
        newer = [v for v in registry.list_versions() if _is_newer(repo, v, version)]
        if newer:
            latest = max(newer, key=lambda v: (v.created, parse_version(v.version)))
            return False, (
                f"'{PRODUCTION}' is not moved to {version.version}: {latest.version} was released from a newer commit "
                f"{str(latest.commit)[:12]}"
            )
        if current is not None and current.commit and version.commit and current.commit != version.commit:
            ancestor = _is_ancestor(repo, current.commit, version.commit)
            if ancestor is False:
                return False, (
                    f"'{PRODUCTION}' stays at {current.version}: its commit {current.commit[:12]} is not an "
                    f"ancestor of {version.commit[:12]} (a newer commit was released first)"
                )
            if ancestor is None:
                return False, (
                    f"'{PRODUCTION}' stays at {current.version}: its commit {current.commit[:12]} is not in this "
                    f"clone (a newer commit released by a run that overtook this one?); fetch it and re-run to decide"
                )
        registry.set_alias(PRODUCTION, version.version)
    return True, None


# -- lineage, profile, card ------------------------------------------------------------------------


def _config_digest(config: Config) -> str:
    return "sha256:" + hashlib.sha256(config.path.read_bytes()).hexdigest()


def _run_url(env: Mapping[str, str]) -> str | None:
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env.get('GITHUB_REPOSITORY', '')}/actions/runs/{env['GITHUB_RUN_ID']}"
    if env.get("GITLAB_CI") == "true" and env.get("CI_JOB_URL"):
        return env["CI_JOB_URL"]
    return None


def _write_profile(config: Config, target: Path) -> None:
    from mlops_actions.domain.data.profile import build_profile, profile_to_dict

    profile = build_profile(config.train_data)
    document = profile_to_dict(profile)
    write_text_atomic(target, json.dumps(document, allow_nan=False) + "\n")


def _metrics_of(result: Mapping[str, Any]) -> dict[str, Any]:
    return {
        row["name"]: {"value": row["candidate"], "ci_low": row["ci_low"], "ci_high": row["ci_high"]}
        for row in result["metrics"]
    }


def _stage_model(source: Path, target: Path, release: dict[str, Any]) -> None:
    """Copy the model folder to ``target`` (unless it is already there) with the release lineage in its metadata."""
    from mlops_actions.domain.model_io import read_model_metadata

    if source.resolve() != target.resolve():
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target)
    metadata = read_model_metadata(target)
    git_info = dict(metadata.get("git") or {})
    if git_info.get("commit") != release["commit"]:  # promoted: built at another commit with the same tree
        release = {**release, "built_at_commit": git_info.get("commit")}
        git_info.update(commit=release["commit"], branch=release.get("branch"))
    metadata["git"] = git_info
    metadata["release"] = release
    write_json_atomic(target / METADATA_FILE, metadata)


def _claimed_tag_at_head(repo: Path, model: str) -> str | None:
    """A version tag of this model already pointing at HEAD (left by an interrupted release)."""
    prefix = f"{model}@v"
    for tag in git(["tag", "--points-at", "HEAD"], repo, check=False).splitlines():
        if tag.startswith(prefix):
            try:
                parse_version(tag[len(prefix) :])
            except MlopsError:
                continue
            return tag[len(prefix) :]
    return None


def _local_tag_commit(repo: Path, tag: str) -> str:
    return git(["rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}"], repo, check=False)


def _tag_locally(repo: Path, tag: str, commit: str) -> str | None:
    """Create the annotated tag in the local clone unless it is there; a note when a tag of that name is elsewhere."""
    existing = _local_tag_commit(repo, tag)
    if existing == commit:
        return None
    if existing:
        return f"local tag {tag} points at {existing[:12]}, not {commit[:12]}; left as it is"
    try:
        git(["tag", "-a", tag, "-m", f"Release {tag}", commit], repo)
    except GitError:
        if _local_tag_commit(repo, tag) != commit:  # not a concurrent run that tagged it first
            raise
    return None


def _version_of_commit(registry: Registry, commit: str) -> ModelVersion | None:
    return next((v for v in registry.list_versions() if v.commit == commit), None)


def _is_taken(error: RegistryError, registry: Registry, version: str, commit: str) -> bool:
    if isinstance(error, VersionTaken):
        return True
    other = registry.resolve(version)
    return other is not None and other.commit != commit


def _wait_for_version_of(registry: Registry, commit: str, seconds: float) -> ModelVersion | None:
    """The version of ``commit`` a concurrent release is publishing, once it is listed (None after ``seconds``)."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        found = _version_of_commit(registry, commit)
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(CONCURRENT_POLL_SECONDS)


@dataclass(frozen=True)
class StagedRelease:
    """The files a release publishes, written to the output folder before a version is claimed."""

    model_dir: Path
    card: Path
    extra_files: dict[str, Path]
    result: dict[str, Any]
    lineage: dict[str, Any]


def publish_next_version(
    registry: Registry, staged: StagedRelease, *, repo: Path, commit: str, model: str, bump: str
) -> tuple[ModelVersion, bool, list[str]]:
    """Claim the next free version and publish the staged files as it: (version, published by this run, notes).

    A version taken by another commit meanwhile makes this run take the next one; a version of this very
    commit published meanwhile by a concurrent run is returned instead of publishing a second one.
    """
    from mlops_actions.render.model_card import render_model_card

    notes: list[str] = []
    metrics = _metrics_of(staged.result)
    with registry.release_lock():
        taken = [v.version for v in registry.list_versions()]
        # A version claimed by an interrupted run of this commit: the registry knows it, or its tag is at
        # HEAD in this clone (fetched from the forge, or left by the run); the claim step re-checks it.
        resume = registry.claimed_version(commit) or _claimed_tag_at_head(repo, model)
        for _attempt in range(MAX_CLAIM_ATTEMPTS):
            same = _version_of_commit(registry, commit)
            if same is not None:
                return same, False, [*notes, f"a concurrent release of this commit published {same.tag}"]
            version = resume if resume and resume not in taken else next_version(taken, bump)
            resume = None
            write_text_atomic(
                staged.card, render_model_card(staged.result, version=version, lineage=staged.lineage)
            )
            try:
                published = registry.publish(
                    staged.model_dir, version=version, metrics=metrics, extra_files=staged.extra_files
                )
            except RegistryError as error:
                if _is_taken(error, registry, version, commit):
                    notes.append(
                        f"version {version} was claimed by a concurrent release; taking the next one"
                    )
                    taken.append(version)
                    continue
                waited = CONCURRENT_WAIT_SECONDS if isinstance(error, ConcurrentRelease) else 0
                same = _wait_for_version_of(registry, commit, waited)
                if same is None:
                    raise
                return same, False, [*notes, f"a concurrent release of this commit published {same.tag}"]
            if published.commit != commit:
                raise RegistryError(f"release: the registry returned {published.tag} of another commit")
            return published, True, notes
    raise RegistryError(
        f"release: no free version after {MAX_CLAIM_ATTEMPTS} attempts (claimed meanwhile: {', '.join(taken[-3:])})"
    )


def complete_release(
    registry: Registry, version: ModelVersion, repo: Path, model: str
) -> tuple[ModelVersion, bool, list[str]]:
    """Make a published version whole: verified in the registry (leftovers of an interrupted publish cleared),
    tagged in the clone where the registry does not tag, ``production`` moved when it should be.

    Each step checks before it acts, so running this again after a kill at any point repairs only what is
    missing. Returns (the version as the registry lists it now, whether ``production`` moved, notes).
    """
    notes = list(registry.verify_version(version))
    if not registry.creates_tags and version.commit:
        note = _tag_locally(repo, version_tag(model, version.version), version.commit)
        if note:
            notes.append(note)
    moved, note = move_production(registry, version, repo)
    if note:
        notes.append(note)
    return registry.resolve(version.version) or version, moved, notes


def _stage_release(
    config: Config,
    output_dir: Path,
    model_source: Path,
    result_source: Path,
    result: dict[str, Any],
    lineage: dict[str, Any],
) -> StagedRelease:
    """Write the model (with the release lineage), result and data profile to the output folder."""
    from mlops_actions.domain.model_io import read_model_metadata

    with path_errors(output_dir, "write the release files"):
        lineage["libraries"] = read_model_metadata(model_source).get("libraries") or {}
        staged_model = output_dir / "release-model"
        _stage_model(model_source, staged_model, lineage)
        staged_result = output_dir / RESULT_FILE
        if result_source.resolve() != staged_result.resolve():
            shutil.copyfile(result_source, staged_result)
        profile = output_dir / PROFILE_FILE
        _write_profile(config, profile)
    card = output_dir / CARD_FILE
    return StagedRelease(
        model_dir=staged_model,
        card=card,
        extra_files={CARD_FILE: card, RESULT_FILE: staged_result, PROFILE_FILE: profile},
        result=result,
        lineage=lineage,
    )


def run_release(
    config_path: str | Path,
    output_dir: str | Path,
    *,
    bump: str | None = None,
    candidate_dir: str | Path | None = None,
    candidate_source: str = "folder",
    env: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> ReleaseOutcome:
    """Gate HEAD's model against production, publish it as the next ``<model>@v<semver>``, move ``production``.

    The model checked for the pull request is promoted when :func:`promotable_candidate` allows. It comes
    from ``candidate_source``: ``folder`` (``candidate_dir``, default ``output_dir`` itself, where a
    previous ``check`` wrote), ``github-artifact`` (the PR workflow's artifact for HEAD's tree, see
    :mod:`mlops_actions.platforms.github.artifacts`) or ``none`` (always train). A commit released already is not
    released again: its version is verified and completed (see :func:`complete_release`). Each step runs
    under ``progress`` (silent by default); a trained candidate's steps are the check's.
    """
    env = os.environ if env is None else env
    progress = Progress.silent() if progress is None else progress
    if candidate_source not in CANDIDATE_SOURCES:
        raise MlopsError(
            f"--candidate-source: expected one of {', '.join(CANDIDATE_SOURCES)}, got {candidate_source!r}"
        )
    with progress.step("loading config"):
        config = load_config(config_path)
    state = git_state(config.root)
    if state.root is None or state.commit is None:
        raise MlopsError(f"{config.root}: release needs a git repository with at least one commit")
    if state.dirty:
        raise MlopsError(f"{state.root}: release needs a clean working tree (commit or stash the changes)")
    repo, commit = Path(state.root), state.commit
    registry = open_registry(config)

    with progress.step("resolving production"):
        released = _version_of_commit(registry, commit)
        production = registry.resolve(PRODUCTION) if released is None else None
    if released is not None:
        with progress.step("completing release"):
            final, moved, repaired = complete_release(registry, released, repo, config.model_name)
        return ReleaseOutcome(
            version=final, created=False, result=None, production_moved=moved, notes=tuple(repaired)
        )

    output_dir = Path(output_dir)
    if not output_dir.is_absolute():
        output_dir = Path.cwd() / output_dir
    with path_errors(output_dir, "create the output folder"):
        output_dir.mkdir(parents=True, exist_ok=True)
    pr_number = pr_number_of(repo, env)
    labels = pr_labels(pr_number, env)
    chosen_bump, bump_origin = choose_bump(repo, env, bump, labels)

    notes: list[str] = []
    with progress.step("choosing candidate"):
        promoted, why, fetch_notes = candidate_to_promote(
            candidate_source, candidate_dir, output_dir, config, repo, commit, production, env
        )
    notes.extend(fetch_notes)
    if promoted is not None:
        result = json.loads((promoted / RESULT_FILE).read_text(encoding="utf-8"))
        model_source, result_source, source = promoted / MODEL_DIR, promoted / RESULT_FILE, "promoted"
    else:
        from mlops_actions.stages.check import run_check

        check = run_check(
            config_path,
            output_dir,
            baseline_source="registry",  # with no production version yet, the check says so
            env=env,
            progress=progress,
        )
        if not check.passed:
            raise GateFailed("release gate failed: " + "; ".join(check.result["reasons"]))
        result = check.result
        model_source, result_source, source = (
            Path(check.paths["model"]),
            Path(check.paths["result"]),
            "trained",
        )

    lineage: dict[str, Any] = {
        "commit": commit,
        "tree": _tree_of(repo, commit),
        "branch": state.branch or env.get("GITHUB_REF_NAME") or env.get("CI_COMMIT_BRANCH"),
        "pull_request": pr_number,
        "pull_request_labels": labels,
        "bump": chosen_bump,
        "bump_from": bump_origin,
        "model_source": source,
        "model_source_reason": why,
        "baseline": {
            "source": (result.get("baseline") or {}).get("source"),
            "version": ((result.get("baseline") or {}).get("model") or {}).get("version"),
        },
        "config": {
            "path": config.path.relative_to(repo).as_posix()
            if config.path.is_relative_to(repo)
            else config.path.name,
            "sha256": _config_digest(config),
            "content": config.raw,
        },
        "run_url": _run_url(env),
    }
    with progress.step("staging release"):
        staged = _stage_release(config, output_dir, model_source, result_source, result, lineage)
    with progress.step("publishing") as step:
        published, created, claim_notes = publish_next_version(
            registry, staged, repo=repo, commit=commit, model=config.model_name, bump=chosen_bump
        )
        step.done(f"{published.tag} {'published' if created else 'already published'}")
    with progress.step("moving production"):
        final, moved, finish_notes = complete_release(registry, published, repo, config.model_name)
    return ReleaseOutcome(
        version=final,
        created=created,
        result=result,
        source=source if created else "existing",
        production_moved=moved,
        notes=(*notes, *claim_notes, *finish_notes),
        lineage=lineage,
    )
