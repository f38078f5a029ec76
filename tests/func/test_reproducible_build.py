"""Two builds of one commit are byte-identical (sdist and wheel) under SOURCE_DATE_EPOCH, as release.yml
builds them, and the sdist's entries carry no build-time trace (times, owners, gzip header)."""

from __future__ import annotations

import gzip
import hashlib
import tarfile
from pathlib import Path

from tests.package_index import build_dists, last_commit_epoch


def digests(dists: list[Path]) -> dict[str, str]:
    return {d.name: hashlib.sha256(d.read_bytes()).hexdigest() for d in dists}


def test_two_builds_of_the_same_commit_are_byte_identical(tmp_path):
    first = build_dists(tmp_path / "first")
    second = build_dists(tmp_path / "second")
    assert [d.name for d in first] == [d.name for d in second]
    assert digests(first) == digests(second)

    [sdist] = [d for d in first if d.name.endswith(".tar.gz")]
    header = sdist.read_bytes()[:10]
    assert header[4:8] == b"\0\0\0\0", "the gzip header must carry no time"
    epoch = int(last_commit_epoch())
    with tarfile.open(sdist, "r:gz") as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert all(m.mtime <= epoch and m.uid == 0 and m.gid == 0 and not m.uname for m in members)
    assert gzip.decompress(sdist.read_bytes())  # a valid archive
