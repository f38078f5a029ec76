"""CI platforms: one folder each (github, gitlab, local), detected once from the environment.

:func:`detect_platform` is the one place that decides which platform a command runs on: the first
built-in whose ``detect(env)`` is true (GitHub Actions, then GitLab CI, then local), or the one forced by
``--platform`` / ``MLOPS_PLATFORM``: a built-in's name, or ``package.module:Class`` for a platform written
against :class:`mlops_actions.platforms.base.Platform` outside this package.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.errors import MlopsError
from mlops_actions.platforms.comments import CommentResult, Forge, sticky_marker, with_marker

if TYPE_CHECKING:
    from mlops_actions.platforms.base import Platform


def built_in_platforms() -> tuple[str, ...]:
    """The platform folders of this package, in detection order: local, which detects itself everywhere,
    last. A new folder with a ``PLATFORM`` in its ``__init__`` is a built-in platform; nothing else lists it."""
    folder = Path(__file__).resolve().parent
    names = sorted(
        entry.name
        for entry in folder.iterdir()
        if (entry / "__init__.py").is_file() and not entry.name.startswith("_")
    )
    return (*(name for name in names if name != "local"), "local")


BUILT_IN = built_in_platforms()
PLATFORM_VARIABLE = "MLOPS_PLATFORM"
CLASS_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")

__all__ = [
    "BUILT_IN",
    "CommentResult",
    "Forge",
    "detect_platform",
    "get_forge",
    "platform_class",
    "sticky_marker",
    "with_marker",
]


def platform_class(name: str) -> Any:
    """The class of the built-in platform ``name``, or of ``package.module:Class``; one-line error else."""
    if name in BUILT_IN:
        return importlib.import_module(f"mlops_actions.platforms.{name}").PLATFORM
    if not CLASS_PATH.match(name):
        raise MlopsError(
            f"--platform: {name[:80]!r} is not a platform; expected one of {', '.join(BUILT_IN)} "
            "or package.module:Class"
        )
    module_name, _, class_name = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise MlopsError(f"--platform: cannot import {module_name} ({error})") from None
    found = getattr(module, class_name, None)
    missing = [
        member
        for member in ("name", "detect", "from_environment", "change_request", "links", "post_sticky_comment")
        if not hasattr(found, member)
    ]
    if found is None or missing:
        raise MlopsError(
            f"--platform: {name} is not a platform class"
            + (
                f" (it lacks {', '.join(missing)})"
                if found is not None
                else f" ({module_name} has no {class_name})"
            )
        )
    return found


def detect_platform(
    env: Mapping[str, str] | None = None, forced: str | None = None, **options: Any
) -> Platform:
    """The platform this process runs on: ``forced`` (or MLOPS_PLATFORM) when given, else the first built-in
    that detects itself in ``env``. ``options`` (e.g. ``comment_dir``) go to its ``from_environment``."""
    env = os.environ if env is None else env
    forced = (forced or env.get(PLATFORM_VARIABLE, "") or "").strip() or None
    if forced is not None and forced != "auto":
        platform: Platform = platform_class(forced).from_environment(env, **options)
        return platform
    for name in BUILT_IN:
        cls = platform_class(name)
        if cls.detect(env):
            detected: Platform = cls.from_environment(env, **options)
            return detected
    raise AssertionError("the local platform detects itself everywhere")  # pragma: no cover


def get_forge(name: str = "auto", *, local_dir: str | Path = ".mlops/comments", echo: bool = True) -> Any:
    """Where the sticky comment of ``--forge name`` goes: the platform of that name (``auto``: the detected
    one), whose ``post_sticky_comment`` is used."""
    if name != "auto" and name not in BUILT_IN:
        raise MlopsError(f"forge: unknown forge {name!r}, expected auto, {', '.join(BUILT_IN)}")
    platform = detect_platform(os.environ, None if name == "auto" else name, comment_dir=local_dir, echo=echo)
    return platform.forge  # type: ignore[attr-defined]  # every built-in has one
