"""GitLab CI: its REST client, merge request notes, job reports and packages; ``PLATFORM`` is the adapter the stages receive."""

from mlops_actions.platforms.gitlab.platform import GitLabPlatform

PLATFORM = GitLabPlatform

__all__ = ["PLATFORM"]
