"""Semantic versions of models and the ``<model>@v<MAJOR.MINOR.PATCH>`` tag convention."""

from __future__ import annotations

import re
from collections.abc import Iterable

from mlops_actions.errors import MlopsError

_VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
BUMPS = ("major", "minor", "patch")


def parse_version(text: str) -> tuple[int, int, int]:
    """(major, minor, patch) of 'MAJOR.MINOR.PATCH' (a leading 'v' is accepted)."""
    match = _VERSION.match(text[1:] if text.startswith("v") else text)
    if not match:
        raise MlopsError(
            f"version {text!r} is not a semantic version, expected MAJOR.MINOR.PATCH such as 1.2.0"
        )
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch)


def format_version(parts: tuple[int, int, int]) -> str:
    return ".".join(map(str, parts))


def next_version(existing: Iterable[str], bump: str = "minor") -> str:
    """The version after the highest of ``existing``; 1.0.0 when there is none."""
    if bump not in BUMPS:
        raise MlopsError(f"bump {bump!r} is not one of {', '.join(BUMPS)}")
    versions = sorted(parse_version(v) for v in existing)
    if not versions:
        return "1.0.0"
    major, minor, patch = versions[-1]
    if bump == "major":
        return format_version((major + 1, 0, 0))
    if bump == "minor":
        return format_version((major, minor + 1, 0))
    return format_version((major, minor, patch + 1))


def version_tag(model: str, version: str) -> str:
    """The git tag of a model version: ``credit-default@v1.2.0``."""
    return f"{model}@v{format_version(parse_version(version))}"


def sort_versions(versions: Iterable[str]) -> list[str]:
    """Versions in ascending semantic order."""
    return sorted(versions, key=parse_version)


TAG_PATTERN = re.compile(
    r"^(?:refs/tags/)?(?P<model>[a-z0-9][a-z0-9._-]{0,63})@v(?P<version>(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*))$"
)


def parse_version_tag(tag: str) -> tuple[str, str]:
    """(model, version) of ``<model>@v<MAJOR.MINOR.PATCH>`` (``refs/tags/`` accepted)."""
    match = TAG_PATTERN.match(tag.strip())
    if not match:
        shown = tag if len(tag) <= 80 else tag[:80] + "…"
        raise MlopsError(f"version tag {shown!r}: expected <model>@v<MAJOR.MINOR.PATCH>, e.g. churn@v1.2.0")
    return match.group("model"), match.group("version")
