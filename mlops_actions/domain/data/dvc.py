"""DVC-tracked data: find the pointer (.dvc) file of a data path, read it, and pull the data.

A repository that tracks data with DVC commits ``data/train.csv.dvc`` (or ``data.dvc`` for a whole
folder) instead of the data. The data checks need the real file: CI runs ``dvc pull`` first (see
docs/data-checks.md). When the file is absent but a pointer exists, the error says so.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from mlops_actions.errors import DataError


def dvc_pointer_for(path: str | Path) -> Path | None:
    """The .dvc file that tracks path (the file itself or one of its folders), if any."""
    path = Path(path)
    candidates = [path, *path.parents]
    for candidate in candidates[:12]:
        if not candidate.name:
            break
        pointer = candidate.with_name(candidate.name + ".dvc")
        if pointer.is_file():
            return pointer
    return None


def read_dvc_pointer(pointer: str | Path) -> list[dict[str, Any]]:
    """The outputs listed in a .dvc file: path (relative to the pointer), md5/hash, size."""
    from mlops_actions.domain.yaml_loader import read_yaml

    pointer = Path(pointer)
    data = read_yaml(pointer, what="DVC", error=DataError)
    outs = data.get("outs") if isinstance(data, dict) else None
    if not isinstance(outs, list) or not outs:
        raise DataError(f"{pointer}: not a DVC pointer file (expected an 'outs' list)")
    result = []
    for out in outs:
        if not isinstance(out, dict) or "path" not in out:
            raise DataError(f"{pointer}: every entry of 'outs' needs a path")
        result.append(
            {
                "path": str(out["path"]),
                "md5": out.get("md5") or out.get("etag") or out.get("checksum"),
                "size": out.get("size"),
                "hash": out.get("hash", "md5"),
            }
        )
    return result


def missing_data_error(path: str | Path) -> DataError:
    """The error for an absent data file: names its DVC pointer and the command to run when there is one."""
    path = Path(path)
    pointer = dvc_pointer_for(path)
    if pointer is None:
        return DataError(f"{path}: data file not found")
    return DataError(
        f"{path}: data file not found, but it is tracked by DVC ({pointer}); "
        f"run `dvc pull {pointer}` before the data checks (docs/data-checks.md, section DVC)"
    )


def dvc_pull(targets: list[str | Path], *, cwd: str | Path | None = None, timeout: float = 1800) -> None:
    """Run `dvc pull TARGETS` (DVC must be installed); a DataError with DVC's last message on failure."""
    executable = shutil.which("dvc")
    if executable is None:
        raise DataError("dvc is not installed: pip install 'dvc[s3]' (or the extra for your remote)")
    try:
        completed = subprocess.run(
            [executable, "pull", *[str(t) for t in targets]],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DataError(f"dvc pull did not finish within {timeout:g} s") from None
    if completed.returncode != 0:
        lines = [line for line in (completed.stderr or completed.stdout).splitlines() if line.strip()]
        raise DataError(f"dvc pull failed: {lines[-1] if lines else f'exit code {completed.returncode}'}")
