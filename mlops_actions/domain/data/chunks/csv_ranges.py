"""A CSV file cut into buffers of whole lines: memory-mapped slices of a plain file, pieces of a gzip file.

Values never contain line breaks (the same assumption as pyarrow's parallel reader).
"""

from __future__ import annotations

import contextlib
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlops_actions.errors import DataError


def csv_header_line(path: Path) -> bytes:
    """The header line of a CSV file (plain or gzip), ending with a line break; a DataError when empty."""
    with _open_bytes(path) as handle:
        return header_of(handle, str(path))


def header_of(handle: Any, name: str) -> bytes:
    """The first line of an open binary CSV stream, ending with a line break; a DataError naming ``name``
    when the stream is empty."""
    line = handle.readline()
    if not line.strip():
        raise DataError(f"{name}: data file is empty, expected a header and at least one row")
    return line if line.endswith(b"\n") else line + b"\n"


def _open_bytes(path: Path) -> io.BufferedIOBase:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def csv_byte_ranges(path: Path, chunk_bytes: int) -> Iterator[Any]:
    """Buffers of whole lines (about chunk_bytes each) after the header line.

    Plain files are memory-mapped and sliced without copying; gzip files are decompressed piecewise.
    """
    import mmap

    chunk_bytes = max(1, chunk_bytes)
    if path.name.lower().endswith(".gz"):
        yield from _gzip_byte_ranges(path, chunk_bytes)
        return
    if path.stat().st_size == 0:
        return
    with open(path, "rb") as handle:
        # closed when the last slice is released (an explicit close fails while slices are alive)
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    view = memoryview(mapped)
    size = len(mapped)
    start = mapped.find(b"\n") + 1
    if start <= 0:
        return
    while start < size:
        end = min(size, start + chunk_bytes)
        if end < size:
            cut = mapped.rfind(b"\n", start, end)
            end = cut + 1 if cut >= 0 else _next_line_end(mapped, end, size)
        yield view[start:end]
        _forget_pages(mapped, end)
        start = end


def _forget_pages(mapped: Any, end: int) -> None:
    """Drop already-parsed pages of a read-only mapping from the process (they stay in the page cache)."""
    import mmap

    advice = getattr(mmap, "MADV_DONTNEED", None)
    length = end - end % mmap.PAGESIZE
    if advice is not None and length > 0:
        with contextlib.suppress(OSError, ValueError):
            mapped.madvise(advice, 0, length)


def _next_line_end(mapped: Any, position: int, size: int) -> int:
    cut = mapped.find(b"\n", position)
    return size if cut < 0 else cut + 1


def _gzip_byte_ranges(path: Path, chunk_bytes: int) -> Iterator[bytes]:
    with gzip.open(path, "rb") as handle:
        handle.readline()
        yield from line_blocks(handle, chunk_bytes)


def line_blocks(handle: Any, chunk_bytes: int) -> Iterator[bytes]:
    """The rest of an open binary stream as blocks of whole lines (about chunk_bytes each; the last block
    may lack its line break)."""
    rest = b""
    while True:
        data = handle.read(max(1, chunk_bytes))
        if not data:
            if rest:
                yield rest
            return
        buffer = rest + data if rest else data
        cut = buffer.rfind(b"\n")
        if cut < 0:
            rest = buffer
            continue
        yield buffer[: cut + 1]
        rest = buffer[cut + 1 :]
