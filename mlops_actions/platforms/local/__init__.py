"""A laptop: comment files and the local registry; ``PLATFORM`` is the adapter the stages receive."""

from mlops_actions.platforms.local.platform import LocalPlatform

PLATFORM = LocalPlatform

__all__ = ["PLATFORM"]
