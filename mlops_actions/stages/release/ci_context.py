"""What the release reads of the CI run it is in: the merged pull request, its labels, the pull request's
checked-model artifact, the run's link and the branch.

Every read of the CI environment (and of the forge's API on its behalf) made by the release is here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from mlops_actions.domain.lineage import git
from mlops_actions.errors import MlopsError

MERGE_PATTERNS = (
    re.compile(r"^Merge pull request #([1-9][0-9]{0,9}) from "),  # GitHub merge commit
    re.compile(r"\(#([1-9][0-9]{0,9})\)\s*$"),  # GitHub squash merge: "Title (#12)"
)
GITLAB_MERGE_PATTERN = re.compile(r"^See merge request \S+!([1-9][0-9]{0,9})\s*$", re.MULTILINE)


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


def fetch_candidate_artifact(
    model: str, tree: str, target: Path, env: Mapping[str, str]
) -> tuple[Path | None, str]:
    """The PR workflow's GitHub artifact of ``model`` checked at git tree ``tree``, fetched into ``target``:
    (folder, where from) or (None, why not)."""
    from mlops_actions.platforms.github.api import GitHubClient
    from mlops_actions.platforms.github.artifacts import candidate_artifact_name, fetch_candidate

    return fetch_candidate(GitHubClient.from_environment(env), candidate_artifact_name(model, tree), target)


def run_url(env: Mapping[str, str]) -> str | None:
    """The link to the workflow run (GitHub) or job (GitLab) doing the release; None elsewhere."""
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env.get('GITHUB_REPOSITORY', '')}/actions/runs/{env['GITHUB_RUN_ID']}"
    if env.get("GITLAB_CI") == "true" and env.get("CI_JOB_URL"):
        return env["CI_JOB_URL"]
    return None


def ci_branch(env: Mapping[str, str]) -> str | None:
    """The branch the CI says the job runs on (for a detached checkout, where git cannot tell)."""
    return env.get("GITHUB_REF_NAME") or env.get("CI_COMMIT_BRANCH")
