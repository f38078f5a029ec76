"""The pull request's checked model as a workflow artifact, so the release can promote it instead of retraining.

The PR workflow uploads the check's ``mlops-result.json`` and ``model/`` as the artifact
``mlops-candidate-<model>-<tree>``, where ``<tree>`` is the git tree the check ran on (the pull request
merged into its base). Merging that pull request, by merge commit, squash or rebase, gives the production
branch the same tree when the base did not move, so the release looks the artifact up by name with the
Actions API and hands the folder to :func:`mlops_actions.stages.release.promotable_candidate`, which loads
the model with the release's own config's trust (an artifact can only narrow it; a model that does not load
so is refused and the unpacked folder removed) and still checks the model digest, the tree, the data
fingerprints, the library versions and the gated production version before anything is promoted.

Only artifacts uploaded by a run of this repository's own branches are taken: a pull request from a fork
runs its own copy of the workflow, so its artifacts are ignored (``workflow_run.head_repository_id`` must
be the repository's id). The archive's sha256 is checked against the artifact's ``digest`` when GitHub
reports one, and it is unpacked with no absolute paths, no ``..``, no links and a size cap.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from mlops_actions.domain.model_io import METADATA_FILE, read_model_metadata, write_stream_atomic
from mlops_actions.errors import MlopsError
from mlops_actions.platforms.github.api import Access, GitHubClient

CANDIDATE_PREFIX = "mlops-candidate-"
MAX_ARCHIVE_BYTES = 2 * 1024**3
MAX_UNPACKED_BYTES = 8 * 1024**3
CHUNK_BYTES = 1024 * 1024
READ_ACTIONS = Access("download the pull request's checked model (a workflow artifact)", "actions: read")


def candidate_artifact_name(model_name: str, tree: str) -> str:
    """The artifact name of a checked model: ``mlops-candidate-<model>-<tree>``."""
    return f"{CANDIDATE_PREFIX}{model_name}-{tree}"


def candidate_name_of(result: Mapping[str, Any], model_dir: str | Path) -> str | None:
    """The artifact name under which a check's model may be offered for promotion, or None.

    Only a passing check of a model trained on a clean tree is offered.
    """
    if result.get("verdict") != "pass":
        return None
    try:
        metadata = read_model_metadata(Path(model_dir))
    except (MlopsError, OSError, ValueError):
        return None
    git_info = metadata.get("git") or {}
    tree, name = git_info.get("tree"), metadata.get("model_name")
    if git_info.get("dirty") is not False or not isinstance(tree, str) or not isinstance(name, str):
        return None
    return candidate_artifact_name(name, tree)


def _from_this_repository(artifact: Mapping[str, Any]) -> bool:
    run = artifact.get("workflow_run") or {}
    repository_id = run.get("repository_id")
    return isinstance(repository_id, int) and run.get("head_repository_id") == repository_id


def pick_artifact(artifacts: Sequence[Mapping[str, Any]], name: str) -> tuple[Mapping[str, Any] | None, str]:
    """The newest unexpired artifact ``name`` uploaded by a run of this repository: (artifact, why) or (None, why not)."""
    named = [a for a in artifacts if a.get("name") == name]
    if not named:
        return None, f"no artifact {name} (no passing check of this tree, or it expired)"
    live = [a for a in named if not a.get("expired")]
    if not live:
        return None, f"artifact {name} has expired"
    own = [a for a in live if _from_this_repository(a)]
    if not own:
        return None, f"artifact {name} was uploaded by a run of a fork's branch; it is not promoted"
    newest = max(own, key=lambda a: (str(a.get("created_at") or ""), int(a.get("id") or 0)))
    return (
        newest,
        f"artifact {name} (id {newest.get('id')}) of run {(newest.get('workflow_run') or {}).get('id')}",
    )


def _safe_member_path(info: zipfile.ZipInfo) -> PurePosixPath | None:
    """The member's relative path, or None for a folder entry; MlopsError for anything unsafe."""
    name = info.filename
    mode = (info.external_attr >> 16) & 0o170000
    if mode == stat.S_IFLNK:
        raise MlopsError(f"artifact member {name!r} is a link; refusing to unpack")
    path = PurePosixPath(name)
    if name.startswith(("/", "\\")) or "\\" in name or ".." in path.parts or ":" in name:
        raise MlopsError(f"artifact member {name!r} is not a plain relative path; refusing to unpack")
    if info.is_dir():
        return None
    return path


def unpack_archive(archive: Path, target: Path, *, max_bytes: int = MAX_UNPACKED_BYTES) -> None:
    """Unpack a zip into ``target`` (created whole, or not at all) refusing links, escapes and size bombs."""
    with zipfile.ZipFile(archive) as bundle:
        members = [(info, _safe_member_path(info)) for info in bundle.infolist()]
        total = sum(info.file_size for info, _ in members)
        if total > max_bytes:
            raise MlopsError(f"artifact unpacks to {total} bytes, more than the {max_bytes} allowed")
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            written = 0
            for info, relative in members:
                if relative is None:
                    continue
                destination = staging.joinpath(*relative.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(info) as source, open(destination, "wb") as sink:
                    while chunk := source.read(CHUNK_BYTES):
                        written += len(chunk)
                        if written > max_bytes:  # a header that lies about sizes
                            raise MlopsError(f"artifact unpacks to more than the {max_bytes} bytes allowed")
                        sink.write(chunk)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def download_artifact(
    client: GitHubClient, artifact: Mapping[str, Any], archive: Path, *, max_bytes: int = MAX_ARCHIVE_BYTES
) -> str:
    """Save the artifact's zip to ``archive`` and return its ``sha256:<hex>``, checked against ``digest``."""
    size = int(artifact.get("size_in_bytes") or 0)
    if size > max_bytes:
        raise MlopsError(
            f"artifact {artifact.get('name')} is {size} bytes, more than the {max_bytes} allowed"
        )
    path = client.repo_path(f"/actions/artifacts/{int(artifact['id'])}/zip")
    response = client.download(path, access=READ_ACTIONS, accept="application/vnd.github+json")
    name, expected = artifact.get("name"), artifact.get("digest")

    def capped(chunks: Iterator[bytes]) -> Iterator[bytes]:
        received = 0
        for chunk in chunks:
            received += len(chunk)
            if received > max_bytes:
                raise MlopsError(f"artifact {name}: more than {max_bytes} bytes received")
            yield chunk

    def check(actual: str) -> None:
        if isinstance(expected, str) and expected and expected.lower() != actual:
            raise MlopsError(f"artifact {name}: sha256 {actual} differs from GitHub's digest {expected}")

    try:
        return write_stream_atomic(capped(response.iter_content(CHUNK_BYTES)), archive, check)
    finally:
        response.close()


def fetch_candidate(client: GitHubClient, name: str, target: Path) -> tuple[Path | None, str]:
    """Download and unpack artifact ``name`` into ``target``: (folder, where it came from) or (None, why not).

    API refusals and a digest mismatch raise :class:`MlopsError`; the caller decides whether to retrain.
    """
    artifacts = list(
        client.paginate(
            client.repo_path("/actions/artifacts"),
            access=READ_ACTIONS,
            params={"name": name},
            items_key="artifacts",
        )
    )
    artifact, why = pick_artifact(artifacts, name)
    if artifact is None:
        return None, why
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mlops-artifact-", dir=target.parent) as tmp:
        archive = Path(tmp) / "artifact.zip"
        digest = download_artifact(client, artifact, archive)
        unpack_archive(archive, target)
    if not (target / "model" / METADATA_FILE).is_file():
        return None, f"{why} holds no model/{METADATA_FILE}"
    return target, f"{why}, {digest}"
