"""Asking the CI platform to run the deploy workflow instead of deploying here.

On GitHub this is a ``workflow_dispatch``: tags and releases created with the job's ``GITHUB_TOKEN`` start no
workflow runs, so the release workflow starts the deploy explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.semver import parse_version_tag
from mlops_actions.errors import MlopsError

if TYPE_CHECKING:
    from mlops_actions.platforms.base import Platform

GIT_REF_PATTERN = re.compile(r"^(?!.*\.\.)[A-Za-z0-9._/@+-]{1,200}$")


def dispatch_deploy(
    workflow: str,
    version_tag: str,
    *,
    git_ref: str | None = None,
    env: Mapping[str, str] | None = None,
    platform: Platform | None = None,
) -> dict[str, Any]:
    """Ask ``platform`` to run the deploy ``workflow`` on ``git_ref`` (default: the job's branch) with the
    input ``version-tag``: a ``workflow_dispatch`` on GitHub (the default platform, from ``env``), a
    pipeline on GitLab, a recorded file locally."""
    parse_version_tag(version_tag)
    if platform is None:
        from mlops_actions.platforms.github.platform import GitHubPlatform

        platform = GitHubPlatform.from_environment(env)
    ref = git_ref or platform.branch() or ""
    if not ref or not GIT_REF_PATTERN.match(ref):
        raise MlopsError(
            f"git ref {ref!r} for the dispatch: expected a branch name (the job's branch or --git-ref)"
        )
    sent = platform.dispatch(
        workflow, ref=ref, inputs={"version-tag": version_tag.removeprefix("refs/tags/")}
    )
    return {
        "workflow": sent.target,
        "ref": sent.ref,
        "version_tag": version_tag,
        "repository": sent.location,  # where it was started: the repository, project or file
        "platform": platform.name,
    }
