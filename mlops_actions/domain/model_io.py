"""Saving and loading models with skops: atomic writes, sha256 digests checked before every load."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.data.io import file_sha256
from mlops_actions.errors import ModelError, PathError

if TYPE_CHECKING:
    from mlops_actions.domain.trust import Trust

MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"


def digest_of(path: str | Path) -> str:
    """``sha256:<hex>`` of a file."""
    return f"sha256:{file_sha256(path)}"


def save_model(estimator: Any, path: str | Path) -> str:
    """Save an estimator with skops, atomically; return its digest. For use in training scripts too."""
    import skops.io as sio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        sio.dump(estimator, tmp)
        os.replace(tmp, path)
    except Exception as error:
        Path(tmp).unlink(missing_ok=True)
        raise ModelError(f"{path}: cannot save the model with skops: {str(error).splitlines()[0]}") from None
    return digest_of(path)


def verify_digest(path: str | Path, expected: str | None) -> str:
    """The file's digest; a ModelError when it differs from ``expected`` (a tampered or corrupted file)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    actual = digest_of(path)
    if expected is not None and actual != expected:
        raise ModelError(
            f"{path}: sha256 digest mismatch, expected {expected} from the metadata, got {actual} "
            "(the file was modified or corrupted)"
        )
    return actual


def load_model(
    path: str | Path,
    *,
    expected_digest: str | None,
    trust: Trust,
    import_root: str | Path | None = None,
    digest_source: str = "the metadata",
) -> Any:
    """Load a skops model: read once, digest checked against ``expected_digest`` (from ``digest_source``),
    audited by :mod:`mlops_actions.domain.trust` (types outside skops' defaults must be in ``trust``), then built.

    ``import_root`` is put on sys.path, after the audit, so the project's own transformers can be imported.
    """
    import sys

    import skops.io as sio

    from mlops_actions.domain.trust import audit_model

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found") from None
    except OSError as error:
        raise ModelError(f"{path}: cannot read the model file: {error.strerror}") from None
    actual = f"sha256:{hashlib.sha256(data).hexdigest()}"
    if expected_digest is not None and actual != expected_digest:
        raise ModelError(
            f"{path}: sha256 digest mismatch, expected {expected_digest} from {digest_source}, got {actual} "
            "(the file was modified or corrupted)"
        )
    allowed = audit_model(data, path, trust)
    if import_root is not None and str(import_root) not in sys.path:
        sys.path.insert(0, str(import_root))
    try:
        return sio.loads(data, trusted=allowed)
    except Exception as error:
        raise ModelError(f"{path}: cannot load the skops model: {str(error).splitlines()[0]}") from None


@contextmanager
def path_errors(path: str | Path, action: str) -> Iterator[None]:
    """Turn an OSError raised while doing ``action`` on ``path`` (no space left, not a folder, permission
    denied, read-only file system...) into a one-line PathError naming the path."""
    try:
        yield
    except OSError as error:
        if error.errno is None:  # not a failed system call (a network library's error): not about the path
            raise
        raise PathError.of(error, path, action) from None


def write_text_atomic(path: str | Path, text: str, *, what: str = "the file") -> None:
    """Write text to a temp file in the same folder, then rename it into place; no half-written file remains.
    A failure is a PathError saying it could not write ``what``."""
    path = Path(path)
    with path_errors(path, f"write {what}"):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def write_stream_atomic(
    chunks: Iterable[bytes], path: str | Path, check: Callable[[str], None] | None = None
) -> str:
    """Write ``chunks`` to a temp file beside ``path`` and rename it into place only after ``check`` accepted
    its ``sha256:<hex>`` (``check`` raises to refuse); nothing is left behind on failure. Returns the digest."""
    path = Path(path)
    with path_errors(path, "write the file"):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    digest.update(chunk)
                    handle.write(chunk)
            actual = f"sha256:{digest.hexdigest()}"
            if check is not None:
                check(actual)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return actual


def write_json_atomic(path: str | Path, document: Any) -> None:
    """Write JSON atomically (see write_text_atomic)."""
    write_text_atomic(path, json.dumps(document, indent=2, allow_nan=False) + "\n")


def replace_directory(staging: Path, target: Path) -> None:
    """Move a fully written staging folder to ``target``, replacing an older one, never leaving half of either."""
    with path_errors(target, "replace the folder"):
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            try:
                os.replace(staging, target)
            except BaseException:
                os.replace(old, target)  # put the older folder back rather than leave none
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)


def read_model_metadata(model_dir: str | Path) -> dict[str, Any]:
    """The metadata.json of a model folder; a ModelError when missing or malformed."""
    path = Path(model_dir) / METADATA_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(
            f"{path}: model metadata not found, expected a folder written by 'mlops-actions train'"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{path}: model metadata is not valid JSON: {error}") from None
    if not isinstance(document, dict) or "model_digest" not in document:
        raise ModelError(f"{path}: model metadata lacks 'model_digest'")
    return document
