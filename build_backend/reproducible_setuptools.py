"""setuptools' build backend with a reproducible sdist: the one build backend of this project.

setuptools writes wheels reproducibly under ``SOURCE_DATE_EPOCH`` but not sdists: their tar entries keep the
files' own times, owners and order, and the gzip header the build time. ``build_sdist`` here rewrites the
archive setuptools made with its entries sorted, owned by root with no names, modes reduced to 644/755,
times clamped to ``SOURCE_DATE_EPOCH`` (when set) and a gzip header without time or file name, so two builds
of one commit are byte-identical. Every other hook is setuptools' own.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403  (the hooks this module does not change)


def _normalized(member: tarfile.TarInfo, epoch: int | None) -> tarfile.TarInfo:
    member.pax_headers = {}  # they repeat the fine-grained times and owners
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    member.mode = 0o755 if member.isdir() or member.mode & 0o111 else 0o644
    if epoch is not None:
        member.mtime = min(int(member.mtime), epoch)
    else:
        member.mtime = int(member.mtime)
    return member


def normalize_sdist(path: Path, epoch: int | None) -> None:
    """Rewrite the sdist at ``path`` in a canonical form (see the module docstring)."""
    with tarfile.open(path, "r:gz") as source:
        members = sorted(source.getmembers(), key=lambda m: m.name)
        contents = {m.name: source.extractfile(m).read() for m in members if m.isfile()}  # type: ignore[union-attr]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as target:
        for member in members:
            member = _normalized(member, epoch)
            data = contents.get(member.name)
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    staged = path.with_name(path.name + ".part")
    with open(staged, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped:
        zipped.write(buffer.getvalue())
    staged.replace(path)


def build_sdist(sdist_directory: str, config_settings: dict[str, object] | None = None) -> str:
    """setuptools' sdist, rewritten reproducibly; its file name."""
    name = _setuptools.build_sdist(sdist_directory, config_settings)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    normalize_sdist(Path(sdist_directory) / name, int(epoch) if epoch else None)
    return name
