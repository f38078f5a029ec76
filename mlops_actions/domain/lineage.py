"""Where a model came from: git state, library versions, time."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from mlops_actions.errors import GitError

TRACKED_LIBRARIES = ("mlops-actions", "scikit-learn", "numpy", "pandas", "scipy", "skops")


@dataclass(frozen=True)
class GitState:
    commit: str | None
    branch: str | None
    dirty: bool | None
    root: str | None
    tree: str | None = None  # HEAD's tree: equal trees mean equal code, whichever commit holds it

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def git(args: list[str], cwd: str | Path, *, check: bool = True, timeout: float | None = None) -> str:
    """Run git and return its stdout stripped; a GitError with git's own first line on failure (or when it
    outlasts ``timeout`` seconds)."""
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout
        )
    except FileNotFoundError:
        raise GitError("git: command not found, expected git on PATH") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {' '.join(args[:2])}: no answer within {timeout:g} s") from None
    if check and proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["failed"])[0]
        raise GitError(f"git {' '.join(args[:2])}: {first}")
    return proc.stdout.strip()


def git_state(path: str | Path) -> GitState:
    """Commit, branch, tree and dirty flag of the repository holding ``path`` (all None outside a repository)."""
    cwd = Path(path)
    root = git(["rev-parse", "--show-toplevel"], cwd, check=False)
    if not root:
        return GitState(commit=None, branch=None, dirty=None, root=None)
    commit = git(["rev-parse", "HEAD"], cwd, check=False) or None
    branch = git(["rev-parse", "--abbrev-ref", "HEAD"], cwd, check=False) or None
    if branch == "HEAD":
        branch = None
    tree = (git(["rev-parse", "HEAD^{tree}"], cwd, check=False) or None) if commit else None
    status = git(["status", "--porcelain", "--untracked-files=no"], cwd, check=False)
    return GitState(commit=commit, branch=branch, dirty=bool(status), root=root, tree=tree)


def changed_files(ref: str, cwd: str | Path, *, timeout: float = 60.0) -> list[str]:
    """The files (repository-relative POSIX paths) that differ between HEAD and its merge base with ``ref``
    (``git diff <merge-base>...HEAD``): a rename counts as both paths. ``ref`` may also be found as
    ``origin/<ref>``; a GitError names a ref that is neither, or a history too shallow for a merge base."""
    resolved = None
    for candidate in (ref, f"origin/{ref}"):
        if git(
            ["rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}"], cwd, check=False, timeout=timeout
        ):
            resolved = candidate
            break
    if resolved is None:
        raise GitError(f"--changed-since {ref!r}: no such branch, tag or commit here (nor origin/{ref})")
    base = git(["merge-base", resolved, "HEAD"], cwd, check=False, timeout=timeout)
    if not base:
        raise GitError(
            f"--changed-since {ref!r}: {resolved} and HEAD share no commit here "
            "(a shallow clone? fetch the history, e.g. fetch-depth: 0)"
        )
    listing = git(["diff", "--name-only", "--no-renames", "-z", f"{base}...HEAD"], cwd, timeout=timeout)
    return sorted({name for name in listing.split("\0") if name})


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that decide whether a model loads and predicts the same."""
    versions = {"python": platform.python_version()}
    for name in TRACKED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def utc_now() -> str:
    """The current UTC time in ISO 8601 with a Z suffix."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
