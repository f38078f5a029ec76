"""GitHub Actions: its REST client, comments, job outputs, candidate artifacts and releases; ``PLATFORM`` is the adapter the stages receive."""

from mlops_actions.platforms.github.platform import GitHubPlatform

PLATFORM = GitHubPlatform

__all__ = ["PLATFORM"]
