"""``mlops-actions comment``: post a rendered ``mlops-result.json`` as the sticky PR/MR comment.

By hand (``--forge local`` writes a file, ``--forge github --pr 12`` posts to a pull request) and in the
fork-safe ``workflow_run`` workflow, where the result comes from an artifact written by pull-request code:
there the file is validated against its schema, used for rendering only, and the pull-request number must
match the run that triggered the workflow.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_actions.errors import MlopsError

if TYPE_CHECKING:
    from mlops_actions.platforms.base import Platform

RESULT_FILE = "mlops-result.json"
PR_NUMBER_FILE = "pr-number"
MAX_PR_FILE_BYTES = 64

HELP = "Post a rendered mlops-result.json as the sticky pull/merge request comment (one per model)."
EPILOG = (
    "Only a comment written by the token's own identity is taken as the sticky one (GitHub App tokens: set "
    "MLOPS_GITHUB_APP_SLUG). Each API call ends within MLOPS_API_DEADLINE seconds (default 30), uploads and "
    "downloads within MLOPS_TRANSFER_DEADLINE (default 900)."
)


@dataclass(frozen=True)
class PostedComment:
    """What happened to one model's comment."""

    model: str
    result_path: str
    action: str  # created | updated | skipped (forge none)
    location: str
    markdown: str


def find_results(path: str | Path) -> list[Path]:
    """The result file itself, or every ``mlops-result.json`` under a directory (sorted; maybe none)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob(RESULT_FILE) if p.is_file())
    raise MlopsError(f"{path}: result file not found")


def pr_number_from_artifacts(results: list[Path]) -> str:
    """The pull request number written next to the result files (``pr-number``); all must agree.

    The text is returned as is (at most 64 bytes read) for the caller to validate: an artifact is data
    written by pull-request code.
    """
    numbers = set()
    for result in results:
        path = result.parent / PR_NUMBER_FILE
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_PR_FILE_BYTES)
        except OSError:
            raise MlopsError(f"{path}: missing; the artifact must hold the pull request number") from None
        numbers.add(raw.decode("utf-8", errors="replace").strip())
    if len(numbers) != 1:
        raise MlopsError(
            f"{PR_NUMBER_FILE}: the artifacts name different pull requests: {sorted(numbers)!r}"[:200]
        )
    return numbers.pop()


def _github_target(pr: str | None, env: Mapping[str, str]) -> tuple[Platform, bool]:
    """The GitHub platform bound to the pull request ``pr`` (default: the event's), and whether the results
    are untrusted: in a ``workflow_run`` workflow they come from an artifact written by pull-request code,
    so the number must be the triggering run's pull request."""
    from mlops_actions.platforms.github.comments import parse_pr_number, verify_workflow_run_pr
    from mlops_actions.platforms.github.platform import GitHubPlatform

    number = parse_pr_number(pr) if pr else None
    platform = GitHubPlatform.from_environment(env, pr_number=number)
    if platform.event_name != "workflow_run":
        return platform, False
    if number is None:
        raise MlopsError("--pr: required in a workflow_run workflow (the pull request of the triggering run)")
    verify_workflow_run_pr(platform.forge, platform.event, number)
    return platform, True


def post_comments(
    result_path: str | Path,
    *,
    forge_name: str = "auto",
    pr: str | None = None,
    pr_from_artifact: bool = False,
    local_dir: str | Path = ".mlops/comments",
    env: Mapping[str, str] | None = None,
    platform: Platform | None = None,
) -> list[PostedComment]:
    """Validate and render each result under ``result_path`` and post it as its model's sticky comment.

    ``platform`` is the one the command runs on (default: detected from ``env``); ``forge_name`` ``auto``
    posts there when :func:`comment_decision` says so. Every file is validated before anything is posted,
    so a bad artifact posts nothing. The links are the platform's (in a ``workflow_run`` workflow, the
    triggering run's); there the results' own links are dropped, as pull-request code wrote them.
    """
    import sys

    from mlops_actions.platforms import detect_platform
    from mlops_actions.platforms.policy import comment_decision
    from mlops_actions.render import load_result, render_markdown

    env = os.environ if env is None else env
    if pr_from_artifact and not Path(result_path).exists():
        return []  # the pull-request run uploaded no result (it failed before writing one)
    paths = find_results(result_path)
    if not paths:
        return []
    results = [(path, load_result(path)) for path in paths]
    if pr_from_artifact:
        if pr:
            raise MlopsError("--pr and --pr-from-artifact: give one, not both")
        pr = pr_number_from_artifacts(paths)
    platform = detect_platform(env, comment_dir=local_dir) if platform is None else platform
    name = platform.name if forge_name == "auto" else forge_name
    if pr and name != "github":
        raise MlopsError(f"--pr: only used with the github forge, not {name!r}")
    target: Platform | None = None
    untrusted = False
    decision = comment_decision(platform, forge_name, named=bool(pr))
    if not decision.post:
        if forge_name != "none":
            print(f"mlops-actions: no comment: {decision.reason}", file=sys.stderr)
    elif name == "github":
        target, untrusted = _github_target(pr, env)
    else:
        target = platform if name == platform.name else detect_platform(env, name, comment_dir=local_dir)
    links = target.links().as_dict() if target is not None else {}
    posted = []
    for path, result in results:
        if untrusted:
            result = {**result, "links": {}}
        markdown = render_markdown(result, links=links or None)
        model = str(result["model"]["name"])
        if target is None:
            posted.append(PostedComment(model, str(path), "skipped", f"forge {name}", markdown))
            continue
        outcome = target.post_sticky_comment(markdown, key=model)
        posted.append(PostedComment(model, str(path), outcome.action, outcome.location, markdown))
    return posted


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from mlops_actions.cli import add_env_option

    parser = subparsers.add_parser("comment", help=HELP, description=HELP, epilog=EPILOG)
    add_env_option(
        parser,
        "--result",
        env="MLOPS_RESULT",
        default="mlops-out/mlops-result.json",
        help=f"result file, or a directory searched for {RESULT_FILE} files (one comment per model)",
    )
    add_env_option(
        parser,
        "--forge",
        env="MLOPS_FORGE",
        default="auto",
        choices=("auto", "local", "github", "gitlab", "none"),
        help="where to post: auto posts on the detected platform when this job's token may write there "
        "(else says why not); none prints the comment",
    )
    add_env_option(
        parser,
        "--pr",
        env="MLOPS_PR_NUMBER",
        help="pull request number (github forge); default: from the pull_request event",
    )
    parser.add_argument(
        "--pr-from-artifact",
        action="store_true",
        help=f"read the pull request number from the {PR_NUMBER_FILE} file next to each result "
        "(the artifact of mlops-pr.yml); it is checked against the triggering run",
    )
    add_env_option(
        parser,
        "--comment-dir",
        env="MLOPS_COMMENT_DIR",
        default=".mlops/comments",
        help="local forge: folder the comment files are written to",
    )
    from mlops_actions.commands._common import add_platform_option

    add_platform_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlops_actions.commands._common import platform_of

    posted = post_comments(
        args.result,
        forge_name=args.forge,
        pr=args.pr,
        pr_from_artifact=args.pr_from_artifact,
        local_dir=args.comment_dir,
        platform=platform_of(args, comment_dir=args.comment_dir),
    )
    if not posted:
        print(f"mlops-actions: no {RESULT_FILE} under {args.result}; nothing to post")
    for item in posted:
        if item.action == "skipped":
            print(item.markdown)
        else:
            print(f"mlops-actions: comment {item.action} for {item.model}: {item.location}")
    return 0
