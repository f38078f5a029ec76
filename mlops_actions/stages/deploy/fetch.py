"""Fetching a released version for a deploy: every sha256 checked against the version's manifest, the model's
digest checked once more against the version and its metadata, and the model loaded with the config's trusted
types, so no target ever sees a model that could not be loaded safely."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mlops_actions.domain.model_io import METADATA_FILE, MODEL_FILE, read_model_metadata, verify_digest
from mlops_actions.errors import RegistryError
from mlops_actions.registry import ModelVersion, Registry


def verify_fetched(model_dir: Path, version: ModelVersion, config: Any) -> None:
    """The fetched version's digests match its manifest and it loads with the config's trust (narrowed by
    its metadata)."""
    from mlops_actions.domain.model_io import load_model
    from mlops_actions.domain.secrets import user_code_environment
    from mlops_actions.domain.trust import Trust

    metadata = read_model_metadata(model_dir)
    verify_digest(model_dir / MODEL_FILE, version.digest)
    if metadata.get("model_digest") != version.digest:
        raise RegistryError(
            f"{model_dir / METADATA_FILE}: model_digest {metadata.get('model_digest')} differs from the "
            f"version's {version.digest}"
        )
    with user_code_environment(config, "deploy"):  # loading imports the project's own classes
        load_model(
            model_dir / MODEL_FILE,
            expected_digest=version.digest,
            trust=Trust.from_config(config).narrowed(
                metadata.get("trusted_types"), model_dir / METADATA_FILE
            ),
            import_root=config.root,
            digest_source=f"version {version.version}'s manifest",
        )


def fetch_version(
    registry: Registry,
    version: ModelVersion,
    config: Any,
    output_dir: Path,
    *,
    progress: Any,
    names: tuple[str, str] = ("fetching", "verifying"),
) -> Path:
    """``version`` fetched into ``<output_dir>/deploy/<version>`` and verified (the two steps ``names``);
    whole or not at all: a failure leaves no folder behind."""
    target = output_dir / "deploy" / version.version
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=output_dir, prefix=".deploy-"))
    try:
        with progress.step(names[0]):
            registry.fetch(version.version, staging)
        with progress.step(names[1]):
            verify_fetched(staging, version, config)
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
