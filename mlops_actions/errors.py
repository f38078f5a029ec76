"""One exception hierarchy; the CLI turns each into a one-line message and an exit code."""

from __future__ import annotations


class MlopsError(Exception):
    """Base of every error the CLI reports as one line. Exit code 2: usage, config or data error."""

    exit_code = 2


class ConfigError(MlopsError):
    """The config file is missing, malformed or invalid."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class DataError(MlopsError):
    """A data file is missing, unreadable, empty or lacks what the config expects."""


class ModelError(MlopsError):
    """A model file is missing, corrupted, tampered with, or holds untrusted types."""


class TrainingError(MlopsError):
    """The user's training command or entrypoint failed."""


class RegistryError(MlopsError):
    """The registry refused an operation (version exists, digest mismatch, unknown alias...)."""


class ForgeError(MlopsError):
    """The forge (GitHub, GitLab, local) refused or failed an operation."""


class GitError(MlopsError):
    """A git command failed (no repository, unknown ref...)."""


class GateFailed(MlopsError):
    """The quality gate failed: exit code 1."""

    exit_code = 1
