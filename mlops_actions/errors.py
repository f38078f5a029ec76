"""One exception hierarchy; the CLI turns each into a one-line message and an exit code."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


class MlopsError(Exception):
    """Base of every error the CLI reports as one line. Exit code 2: usage, config or data error."""

    exit_code = 2


class UsageError(MlopsError):
    """A wrong combination of options or arguments, e.g. two options that exclude each other."""


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


class StoreError(MlopsError):
    """The metadata store could not store or read records (unreachable, refused, conflicting writers)."""


class VersionTaken(RegistryError):
    """The version already belongs to another commit: a concurrent release claimed it."""

    def __init__(self, message: str, version: str):
        super().__init__(message)
        self.version = version


class ConcurrentRelease(RegistryError):
    """Another run is publishing the same commit under another version; this run stopped cleanly."""


class ForgeError(MlopsError):
    """The forge (GitHub, GitLab, local) refused or failed an operation."""


class ApiError(MlopsError):
    """The API refused a request, or kept failing after every retry."""

    def __init__(self, message: str, *, status: int = 0, wait: float = 0.0, final: bool = False):
        super().__init__(message)
        self.status = status  # HTTP status, 0 for a network error, a time-out or an unreadable answer
        self.wait = wait  # seconds the server asked to wait before a retry
        self.final = final  # not worth sending again (the deadline ran out: retries would multiply it)


class GitHubApiError(ApiError):
    """GitHub refused a request, or kept failing after every retry."""


class GitLabApiError(ApiError):
    """GitLab refused a request, or kept failing after every retry."""


class InvalidResultError(MlopsError):
    """A result file is missing, unreadable, not JSON, or does not match the result schema."""


class GitError(MlopsError):
    """A git command failed (no repository, unknown ref...)."""


class PathError(MlopsError):
    """A file or folder could not be read or written: missing, not a folder, no space left, no permission."""

    @classmethod
    def of(cls, error: OSError, path: object = None, action: str | None = None) -> PathError:
        """The one-line error for ``error``: ``path`` (else the file the system named), what failed and why."""
        import errno as errno_names

        named = path if path is not None else error.filename
        if named is None:
            named = error.filename2
        reason = error.strerror or str(error) or type(error).__name__
        blocking = None
        if error.errno in (errno_names.EEXIST, errno_names.ENOTDIR):
            blocking = _file_in_the_way(error.filename if error.filename is not None else named)
            if blocking is not None:
                what = "it" if blocking == str(named) else _one_line(blocking)
                reason = f"{what} is a file, expected a folder"
        code = errno_names.errorcode.get(error.errno or 0)
        if code:
            reason = f"{reason} [{code}]"
        where = _one_line(str(named)) + ": " if named is not None else ""
        text = f"{where}cannot {action}: {reason}" if action else f"{where}{reason}"
        for other in (error.filename, error.filename2):
            if blocking is None and other is not None and path is not None and str(other) != str(path):
                text += f" (at {_one_line(str(other))})"
                break
        return cls(text)


def _file_in_the_way(path: object) -> str | None:
    """The nearest existing ancestor-or-self of ``path`` when it is not a folder (a file where one is expected)."""
    from pathlib import Path

    if path is None:
        return None
    current = Path(str(path))
    for candidate in (current, *current.parents):
        if candidate.exists() or candidate.is_symlink():
            return None if candidate.is_dir() else str(candidate)
    return None


def _one_line(text: str) -> str:
    """A path as it may appear in a one-line error (control characters escaped)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class GateFailed(MlopsError):
    """The quality gate failed: exit code 1."""

    exit_code = 1


class DeployFailed(MlopsError):
    """The deploy command failed: exit code 1, like a failed gate."""

    exit_code = 1


# -- a request to the model server refused (answered 422/413, never an exit code) --------------------

MAX_PROBLEMS = 20  # problems listed in one 422 answer; the count says how many there were


@dataclass(frozen=True)
class Problem:
    """One reason a request was refused: the row (None: every row, or the body itself), the field, what."""

    row: int | None
    field: str | None
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "problem": self.problem}

    def __str__(self) -> str:
        where = [f"row {self.row}"] if self.row is not None else []
        where += [f"field {self.field!r}"] if self.field is not None else []
        return f"{', '.join(where)}: {self.problem}" if where else self.problem


class InvalidInput(Exception):
    """The request body does not match the schema: a 422 listing the problems."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        shown = "; ".join(str(p) for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__(f"{shown}{more}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "error": f"invalid input: {self}",
            "problems": [p.as_dict() for p in self.problems[:MAX_PROBLEMS]],
            "problem_count": len(self.problems),
        }


class TooManyRows(InvalidInput):
    """More rows in one request than one batch may hold: answered with 413."""

    def __init__(self, count: int, limit: int):
        super().__init__(
            [Problem(None, None, f"{count} rows in one request, at most {limit} (serve.max_batch_size)")]
        )


class Overloaded(Exception):
    """The request would miss its deadline: answered with 503 and ``Retry-After`` seconds."""

    def __init__(self, retry_after_s: float, expected_s: float, budget_s: float):
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        super().__init__(
            f"overloaded: the queued work would answer in about {expected_s * 1000:.0f} ms, beyond the "
            f"latency budget of {budget_s * 1000:.0f} ms (serve.max_latency_ms); retry after "
            f"{self.retry_after_s} s"
        )


class PredictFailed(Exception):
    """The model raised while predicting a batch."""
