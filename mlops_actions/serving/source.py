"""Which model is served: a model folder, or a registry version by tag or alias, digest-checked and loaded.

A version comes from the registry with every file's sha256 checked against its manifest; the model's digest
is checked again against the version and its metadata. Trust always comes from the reviewed config (narrowed,
never widened, by the folder's metadata). Loading runs the project's own classes, so it happens with the
environment user code gets (``secrets.pass.deploy``; no forge token).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.errors import ModelError, RegistryError

if TYPE_CHECKING:
    from mlops_actions.domain.config import Config
    from mlops_actions.domain.data.profile import Profile
    from mlops_actions.domain.data.schema import Schema

USER_SCOPE = "deploy"  # the secrets.pass entry whose secrets the served project code may see
RELEASE_PROFILE_FILE = "data-profile.json"  # the training-data profile a release stores with the version
Observe = Callable[
    [dict[str, Any], Any, Any], None
]  # (inputs as the model read them, predictions, probabilities)


@dataclass
class ServedModel:
    """A loaded, digest-verified model and what the server says about it."""

    estimator: Any
    model_name: str
    task: str
    version: str | None  # None for a model folder that is no registry version
    tag: str | None
    digest: str
    features: list[str]
    classes: list[Any] | None
    schema: Schema | None
    schema_source: str
    metadata: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)
    model_dir: Path | None = None
    profile: Profile | None = None  # the training-data profile stored with the version, if any

    @property
    def label(self) -> str:
        """The version shown in answers, logs and metrics: the version number, else the digest's start."""
        return self.version or self.digest.removeprefix("sha256:")[:12]

    def predict_columns(
        self, columns: dict[str, list[Any]], observe: Observe | None = None
    ) -> tuple[list[Any], list[list[float]] | None]:
        """Predictions (and class probabilities, in ``classes`` order) of rows given column by column;
        ``observe`` (the live guards) sees the inputs as the model read them and the raw outputs.

        A classifier is called once (``predict_proba``; the prediction is the most probable class), because
        every call pays the pipeline's fixed cost.
        """
        import pandas as pd

        data = self._arrays(columns)
        frame = pd.DataFrame(data, columns=self.features)
        if self.classes is None:
            predictions = self.estimator.predict(frame)
            if observe is not None:
                observe(data, predictions, None)
            return [_plain(v) for v in predictions.tolist()], None
        probabilities = self.estimator.predict_proba(frame)
        if observe is not None:
            observe(data, None, probabilities)
        best = probabilities.argmax(axis=1).tolist()
        return [self.classes[i] for i in best], probabilities.tolist()

    def _frame(self, columns: dict[str, list[Any]]) -> Any:
        import pandas as pd

        return pd.DataFrame(self._arrays(columns), columns=self.features)

    def _arrays(self, columns: dict[str, list[Any]]) -> dict[str, Any]:
        """The model's columns: numbers the schema types as arrays, the others as given."""
        import numpy as np

        data: dict[str, Any] = {}
        schema_columns = self.schema.columns if self.schema is not None else {}
        for name in self.features:
            values = columns[name]
            column = schema_columns.get(name)
            if column is not None and column.dtype in ("int", "float"):
                integer = column.dtype == "int" and all(v is not None for v in values)
                data[name] = np.asarray(
                    [np.nan if v is None else v for v in values], dtype=np.int64 if integer else np.float64
                )
            else:
                data[name] = values
        return data

    def describe(self) -> dict[str, Any]:
        """What ``GET /metadata`` answers: version, digest, metrics, schema, lineage."""
        from mlops_actions.domain.data.schema import schema_to_dict

        return {
            "model": self.model_name,
            "task": self.task,
            "version": self.version,
            "tag": self.tag,
            "digest": self.digest,
            "features": self.features,
            "classes": self.classes,
            "metrics": self.metrics,
            "schema": schema_to_dict(self.schema) if self.schema is not None else None,
            "schema_source": self.schema_source,
            "lineage": self.lineage,
            "trained": {
                "commit": (self.metadata.get("git") or {}).get("commit"),
                "created": self.metadata.get("created"),
                "estimator": self.metadata.get("estimator"),
                "train_rows": self.metadata.get("train_rows"),
            },
        }


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def load_served_model(
    config: Config,
    *,
    model_dir: str | Path | None = None,
    version_tag: str | None = None,
    ref: str | None = None,
    fetch_dir: str | Path | None = None,
) -> ServedModel:
    """The model to serve: ``model_dir`` (its metadata's digest checked), else the registry version that
    ``version_tag`` (``<model>@vX.Y.Z``) or ``ref`` (an alias or version number; default ``production``)
    names, fetched into ``fetch_dir`` (default: a new temporary folder) with every digest checked.

    Refused (ModelError, RegistryError) before anything is served when a digest differs, a type is not
    trusted or the model does not load.
    """
    from mlops_actions.domain.model_io import read_model_metadata

    if model_dir is not None:
        folder = Path(model_dir)
        if not folder.is_dir():
            raise ModelError(f"{folder}: model folder not found, expected model.skops and metadata.json")
        metadata = read_model_metadata(folder)
        return _load(config, folder, metadata, metadata["model_digest"], "the folder's metadata.json", None)
    from mlops_actions.registry import open_registry, resolve_version, wanted_version

    wanted = wanted_version(config, version_tag=version_tag, ref=ref, verb="serves")
    registry = open_registry(config)
    found = resolve_version(registry, config, wanted)
    parent = Path(fetch_dir) if fetch_dir is not None else Path(tempfile.mkdtemp(prefix="mlops-serve-"))
    from mlops_actions.registry.base import fetch_whole

    folder = parent / found.version
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    fetch_whole(registry, found.version, folder)
    metadata = read_model_metadata(folder)
    if metadata.get("model_digest") != found.digest:
        raise RegistryError(
            f"{folder / 'metadata.json'}: model_digest {metadata.get('model_digest')} differs from version "
            f"{found.version}'s {found.digest}"
        )
    served = _load(config, folder, metadata, found.digest, f"version {found.version}'s manifest", found)
    return served


def _load(
    config: Config, folder: Path, metadata: dict[str, Any], digest: str, digest_source: str, found: Any
) -> ServedModel:
    from mlops_actions.domain.evaluation import fitted_features
    from mlops_actions.domain.model_io import METADATA_FILE, MODEL_FILE, load_model
    from mlops_actions.domain.secrets import user_code_environment
    from mlops_actions.domain.trust import Trust
    from mlops_actions.registry.base import lineage_of

    if metadata.get("model_name") not in (None, config.model_name):
        raise ModelError(
            f"{folder / METADATA_FILE}: model {metadata.get('model_name')!r}, but {config.path} serves "
            f"{config.model_name!r}"
        )
    trust = Trust.from_config(config).narrowed(metadata.get("trusted_types"), folder / METADATA_FILE)
    with user_code_environment(config, USER_SCOPE):
        estimator = load_model(
            folder / MODEL_FILE,
            expected_digest=digest,
            trust=trust,
            import_root=config.root,
            digest_source=digest_source,
        )
    features = [str(name) for name in fitted_features(estimator, metadata)]
    if not features:
        raise ModelError(f"{folder / METADATA_FILE}: no feature columns recorded and the model names none")
    classes = None
    if config.is_classification:
        found_classes = getattr(estimator, "classes_", None)
        if found_classes is None or not hasattr(estimator, "predict_proba"):
            raise ModelError(f"{folder / MODEL_FILE}: a classifier to serve needs classes_ and predict_proba")
        classes = [_plain(c) for c in found_classes]
    profile = release_profile(folder)
    schema, schema_source = serving_schema(config, profile)
    return ServedModel(
        estimator=estimator,
        model_name=config.model_name,
        task=config.task,
        version=found.version if found is not None else None,
        tag=found.tag if found is not None else None,
        digest=digest,
        features=features,
        classes=classes,
        schema=schema,
        schema_source=schema_source,
        metadata=metadata,
        metrics=dict(found.metrics) if found is not None else {},
        lineage=dict(found.lineage) if found is not None else lineage_of(metadata),
        model_dir=folder,
        profile=profile,
    )


def release_profile(folder: Path) -> Profile | None:
    """The training-data profile the release stored with the version (``data-profile.json``), if any."""
    path = folder / RELEASE_PROFILE_FILE
    if not path.is_file():
        return None
    from mlops_actions.domain.data.profile import load_profile

    return load_profile(path)


def serving_schema(config: Config, profile: Profile | None) -> tuple[Schema | None, str]:
    """The data schema requests are checked against, and where it came from: the config's reviewed
    ``data.schema``; else one inferred (as ``data schema infer`` does) from the training-data ``profile``
    the release stored with the version; else none (only the model's columns are checked)."""
    from mlops_actions.domain.data.schema import infer_schema, load_schema

    if config.schema_path is not None:
        return load_schema(config.schema_path), f"data.schema ({config.schema_path})"
    if profile is not None:
        schema = infer_schema([profile], target=config.target, id_column=config.id_column)
        return schema, f"inferred from the version's training-data profile ({RELEASE_PROFILE_FILE})"
    return None, "none (the model's columns only)"
