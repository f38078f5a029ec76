"""The reference of a monitor: the training-data profile a release stored with its version
(``data-profile.json``, fetched from the registry with its digest checked), or a profile file. It was
computed once, at release time, and is reused by every monitor run. A version released with
``eval-outputs.json`` also gives the eval set's outputs (prediction drift, release-time metrics, calibration)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_actions.errors import RegistryError

if TYPE_CHECKING:
    from mlops_actions.domain.config import Config
    from mlops_actions.domain.data.profile import Profile
    from mlops_actions.monitoring.performance import EvalOutputs

RELEASE_PROFILE_FILE = "data-profile.json"


@dataclass(frozen=True)
class Reference:
    profile: Profile
    source: str
    version: str | None = None
    tag: str | None = None
    outputs: EvalOutputs | None = None  # the version's eval-set outputs, when it was released with them


def reference_from_file(path: str | Path) -> Reference:
    """A profile file (``data profile`` output, or a version's ``data-profile.json``)."""
    from mlops_actions.domain.data.profile import load_profile

    return Reference(load_profile(path), f"profile file {path}")


def reference_from_registry(
    config: Config, *, ref: str | None = None, version_tag: str | None = None
) -> Reference:
    """The release-time profile of ``version_tag`` (``<model>@vX.Y.Z``) or of the version ``ref`` names
    (default ``production``), fetched with every file's digest checked against the version's manifest."""
    from mlops_actions.domain.data.profile import load_profile
    from mlops_actions.monitoring.performance import EVAL_OUTPUTS_FILE, load_eval_outputs
    from mlops_actions.registry import open_registry, resolve_version, wanted_version

    wanted = wanted_version(config, version_tag=version_tag, ref=ref)
    registry = open_registry(config)
    found = resolve_version(registry, config, wanted)
    if RELEASE_PROFILE_FILE not in found.files:
        raise RegistryError(
            f"version {found.version} of {config.model_name!r} has no {RELEASE_PROFILE_FILE}; "
            "pass a profile with --reference"
        )
    folder = Path(tempfile.mkdtemp(prefix="mlops-monitor-"))
    try:
        registry.fetch(found.version, folder)
        profile = load_profile(folder / RELEASE_PROFILE_FILE)
        outputs = load_eval_outputs(folder / EVAL_OUTPUTS_FILE) if EVAL_OUTPUTS_FILE in found.files else None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    source = f"version {found.version}'s training-data profile ({RELEASE_PROFILE_FILE}, {wanted})"
    return Reference(profile, source, found.version, found.tag, outputs)
