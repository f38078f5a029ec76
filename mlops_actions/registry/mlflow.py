"""The MLflow Model Registry backend (optional extra: ``pip install 'mlops-actions[mlflow]'``).

A version ``1.2.0`` of model ``churn`` is an MLflow model version of the registered model ``churn``
(``registry.registered_model``) whose files — ``model.skops``, ``metadata.json``, the model card, the
result, the data profile and ``manifest.json`` — are the artifacts (folder ``model``) of a run in the
experiment ``mlops-actions/churn`` (``registry.experiment``). Its tags carry the lineage:
``mlops.semver``, ``mlops.tag``, ``mlops.commit``, ``mlops.digest``, ``mlops.files`` (sha256 of each file),
``mlops.metrics`` and ``mlops.state``. Aliases such as ``production`` are MLflow aliases. The deploy records
of a version are its tag ``mlops.deploys`` (a JSON list, oldest first); the monitor's window states its tag
``mlops.monitor`` (compact JSON, oldest first, the oldest dropped to stay under 90,000 characters: MLflow 3
keeps model version tag values of up to 100,000).

MLflow numbers model versions itself (1, 2, 3...) and atomically. The semantic version is claimed this
way: create the model version tagged with it, then look at every model version tagged with the same
semantic version; the lowest MLflow number wins, a loser deletes its model version and reports the
version as taken (the release stage then takes the next one). A version is listed only once its
``mlops.state`` tag says ``complete``, after its artifacts were uploaded and their sizes checked; a
failure before that deletes the model version. Downloads are checked against ``mlops.files``.

The tracking server comes from ``registry.tracking_uri`` or ``MLFLOW_TRACKING_URI``; its credentials from
MLflow's own variables (``MLFLOW_TRACKING_TOKEN``, ``MLFLOW_TRACKING_USERNAME``/``PASSWORD``...).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops_actions.domain.model_io import MODEL_FILE, digest_of
from mlops_actions.domain.semver import format_version, parse_version, sort_versions, version_tag
from mlops_actions.errors import MlopsError, RegistryError
from mlops_actions.registry.base import (
    COMPLETE,
    MANIFEST_FILE,
    PUBLISHING,
    ConcurrentRelease,
    ModelVersion,
    VersionTaken,
    check_deploy_record,
    check_monitor_states,
    fitted_monitor_states,
    parse_monitor_states,
    prepare_publication,
    stored_deploy_records,
    with_deploy_record,
)

ARTIFACT_PATH = "model"
MAX_TAG_CHARS = 4_000  # MLflow stores tag values of at most 5,000 characters
TAG = {
    "model": "mlops.model",
    "semver": "mlops.semver",
    "tag": "mlops.tag",
    "commit": "mlops.commit",
    "digest": "mlops.digest",
    "created": "mlops.created",
    "files": "mlops.files",
    "metrics": "mlops.metrics",
    "lineage": "mlops.lineage",
    "state": "mlops.state",
    "deploys": "mlops.deploys",
    "monitor": "mlops.monitor",
}
MAX_DEPLOYS_TAG_CHARS = 90_000  # MLflow 3 stores model version tag values of at most 100,000 characters


def _import_mlflow(needed_by: str = "registry.backend mlflow") -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise RegistryError(
            f"{needed_by} needs the mlflow package: pip install 'mlops-actions[mlflow]'"
        ) from None
    return MlflowClient


def configured_tracking_uri(options: Mapping[str, Any], env: Mapping[str, str] | None = None) -> str:
    """The tracking server of ``registry.tracking_uri``, else MLFLOW_TRACKING_URI ("" when neither is set)."""
    env = os.environ if env is None else env
    return str(options.get("tracking_uri") or env.get("MLFLOW_TRACKING_URI", ""))


def tracking_client(tracking_uri: str, *, needed_by: str = "registry.backend mlflow") -> Any:
    """An MlflowClient of the tracking server, its model registry at the same URI."""
    client_class = _import_mlflow(needed_by)
    return client_class(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _json_tag(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, allow_nan=False)
    return text if len(text) <= MAX_TAG_CHARS else json.dumps({"truncated": True})


def _mlflow_error(error: Exception) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:300]


class MlflowRegistry:
    """Model versions in an MLflow Model Registry."""

    name = "mlflow"
    creates_tags = False  # the release stage tags the clone

    def __init__(
        self,
        model: str,
        *,
        tracking_uri: str,
        registered_model: str | None = None,
        experiment: str | None = None,
    ):
        self.client = tracking_client(tracking_uri)
        self.model = model
        self.tracking_uri = tracking_uri
        self.registered_model = registered_model or model
        self.experiment = experiment or f"mlops-actions/{model}"

    def __repr__(self) -> str:
        return f"MlflowRegistry(model={self.model!r}, tracking_uri={self.tracking_uri!r})"

    @classmethod
    def from_options(
        cls, model: str, options: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> MlflowRegistry:
        """The registry at ``registry.tracking_uri`` (default MLFLOW_TRACKING_URI)."""
        uri = configured_tracking_uri(options, env)
        if not uri:
            raise RegistryError(
                "mlflow registry: no tracking server; set registry.tracking_uri in the config or MLFLOW_TRACKING_URI"
            )
        return cls(
            model,
            tracking_uri=uri,
            registered_model=options.get("registered_model"),
            experiment=options.get("experiment"),
        )

    # -- reading -------------------------------------------------------------------------------------

    def _model_versions(self) -> list[Any]:
        try:
            found = self.client.search_model_versions(f"name='{self.registered_model}'")
        except Exception as error:
            raise RegistryError(f"mlflow registry ({self.tracking_uri}): {_mlflow_error(error)}") from None
        return list(found)

    def _aliases(self) -> dict[str, str]:
        """MLflow version number -> aliases."""
        try:
            registered = self.client.get_registered_model(self.registered_model)
        except Exception:
            return {}
        owners: dict[str, list[str]] = {}
        for alias, number in (getattr(registered, "aliases", None) or {}).items():
            owners.setdefault(str(number), []).append(str(alias))
        return {number: ",".join(sorted(names)) for number, names in owners.items()}

    def _version_of(self, mv: Any, aliases: Mapping[str, str]) -> ModelVersion | None:
        tags = dict(mv.tags or {})
        if tags.get(TAG["model"]) != self.model or tags.get(TAG["state"]) != COMPLETE:
            return None
        try:
            version = format_version(parse_version(tags.get(TAG["semver"], "")))
            files = json.loads(tags.get(TAG["files"], "{}"))
            metrics = json.loads(tags.get(TAG["metrics"], "{}"))
            lineage = json.loads(tags.get(TAG["lineage"], "{}"))
        except (MlopsError, ValueError):
            return None
        lineage["mlflow_version"] = str(mv.version)
        lineage["mlflow_run_id"] = mv.run_id
        names = aliases.get(str(mv.version), "")
        return ModelVersion(
            model=self.model,
            version=version,
            tag=tags.get(TAG["tag"], version_tag(self.model, version)),
            digest=tags.get(TAG["digest"], ""),
            created=tags.get(TAG["created"], ""),
            commit=tags.get(TAG["commit"]),
            metrics=metrics if isinstance(metrics, dict) else {},
            files={str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {},
            aliases=tuple(names.split(",")) if names else (),
            lineage=lineage if isinstance(lineage, dict) else {},
        )

    def list_versions(self) -> list[ModelVersion]:
        aliases = self._aliases()
        found: dict[str, ModelVersion] = {}
        for mv in self._model_versions():
            version = self._version_of(mv, aliases)
            if version is not None and version.version not in found:
                found[version.version] = version
        return [found[v] for v in sort_versions(found)]

    def resolve(self, ref: str) -> ModelVersion | None:
        try:
            wanted = format_version(parse_version(ref))
        except MlopsError:
            wanted = None
        for candidate in self.list_versions():
            if candidate.version == wanted or (wanted is None and ref in candidate.aliases):
                return candidate
        return None

    def fetch(self, ref: str, destination: Path) -> Path:
        found = self.resolve(ref)
        if found is None:
            raise RegistryError(
                f"mlflow registry ({self.tracking_uri}): model {self.model!r} has no version {ref!r}"
            )
        run_id = found.lineage.get("mlflow_run_id")
        destination = Path(destination)
        destination.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".mlops-mlflow-", dir=destination) as tmp:
            try:
                local = Path(self.client.download_artifacts(str(run_id), ARTIFACT_PATH, tmp))
            except Exception as error:
                raise RegistryError(
                    f"mlflow registry: downloading {found.tag}: {_mlflow_error(error)}"
                ) from None
            for name, digest in found.files.items():
                source = local / name
                if not source.is_file():
                    raise RegistryError(f"mlflow registry: version {found.tag} lacks the file {name}")
                actual = digest_of(source)
                if actual != digest:
                    raise RegistryError(
                        f"mlflow registry: {name} of {found.tag}: sha256 digest mismatch, expected {digest} "
                        f"from the version's tags, got {actual}"
                    )
            for name in found.files:
                os.replace(local / name, destination / name)
        return destination

    # -- writing -------------------------------------------------------------------------------------

    def _ensure_registered_model(self) -> None:
        try:
            self.client.get_registered_model(self.registered_model)
            return
        except Exception:
            pass
        try:
            self.client.create_registered_model(self.registered_model, tags={TAG["model"]: self.model})
        except Exception as error:
            if "ALREADY_EXISTS" not in str(error).upper():
                raise RegistryError(
                    f"mlflow registry ({self.tracking_uri}): {_mlflow_error(error)}"
                ) from None

    def _experiment_id(self) -> str:
        experiment = self.client.get_experiment_by_name(self.experiment)
        if experiment is not None:
            return str(experiment.experiment_id)
        try:
            return str(self.client.create_experiment(self.experiment))
        except Exception:
            experiment = self.client.get_experiment_by_name(self.experiment)  # created concurrently
            if experiment is None:
                raise
            return str(experiment.experiment_id)

    def publish(
        self,
        model_dir: Path,
        *,
        version: str,
        metrics: dict[str, Any],
        extra_files: dict[str, Path] | None = None,
    ) -> ModelVersion:
        publication = prepare_publication(self.model, model_dir, version, extra_files)
        version, sources, files = publication.version, publication.sources, publication.files
        commit = str(publication.commit)
        existing = next((v for v in self.list_versions() if v.commit == commit), None)
        if existing is not None:
            return existing
        tag = version_tag(self.model, version)
        manifest = publication.manifest(self.model, metrics, state=COMPLETE)
        lineage = manifest["lineage"]
        short_lineage = {"branch": lineage.get("branch"), "release": lineage.get("release", {})}
        tags = {
            TAG["model"]: self.model,
            TAG["semver"]: version,
            TAG["tag"]: tag,
            TAG["commit"]: commit,
            TAG["digest"]: files[MODEL_FILE],
            TAG["created"]: manifest["created"],
            TAG["files"]: json.dumps(files, sort_keys=True),
            TAG["metrics"]: _json_tag(metrics),
            TAG["lineage"]: _json_tag(short_lineage),
            TAG["state"]: PUBLISHING,
        }
        self._ensure_registered_model()
        try:
            run_id, artifact_uri = self._upload_run(sources, manifest, metrics)
            mv = self.client.create_model_version(
                self.registered_model,
                artifact_uri,
                run_id=run_id,
                tags=tags,
                description=f"{tag} (commit {commit[:12]})",
            )
        except RegistryError:
            raise
        except Exception as error:
            raise RegistryError(f"mlflow registry ({self.tracking_uri}): {_mlflow_error(error)}") from None
        number = str(mv.version)
        try:
            self._win_claim(number, version, commit)
            self._verify_upload(run_id, sources)
            self.client.set_model_version_tag(self.registered_model, number, TAG["state"], COMPLETE)
        except BaseException as error:
            self._discard(number, run_id)
            if isinstance(error, RegistryError):
                raise
            if isinstance(error, Exception):
                raise RegistryError(
                    f"mlflow registry: publishing {tag} failed ({_mlflow_error(error)}); the unfinished model "
                    f"version {number} was deleted"
                ) from None
            raise
        found = self.resolve(version)
        if found is None:
            raise RegistryError(f"mlflow registry: version {tag} was published but cannot be read back")
        return found

    def _upload_run(
        self, sources: Mapping[str, Path], manifest: Mapping[str, Any], metrics: Mapping[str, Any]
    ) -> tuple[str, str]:
        """A run holding the files under ``model/`` and the metrics; (run id, artifact URI of the folder)."""
        run = self.client.create_run(
            self._experiment_id(),
            tags={
                TAG["model"]: self.model,
                TAG["semver"]: str(manifest["version"]),
                TAG["commit"]: str(manifest["commit"]),
            },
            run_name=str(manifest["tag"]),
        )
        run_id = run.info.run_id
        with tempfile.TemporaryDirectory(prefix="mlops-mlflow-") as tmp:
            folder = Path(tmp) / ARTIFACT_PATH
            folder.mkdir()
            for name, source in sources.items():
                shutil.copyfile(source, folder / name)
            (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            self.client.log_artifacts(run_id, str(folder), ARTIFACT_PATH)
        for name, value in metrics.items():
            number = value.get("value") if isinstance(value, Mapping) else value
            if isinstance(number, (int, float)) and not isinstance(number, bool):
                self.client.log_metric(run_id, name, float(number))
        self.client.set_terminated(run_id, "FINISHED")
        return run_id, f"{run.info.artifact_uri.rstrip('/')}/{ARTIFACT_PATH}"

    def _win_claim(self, number: str, version: str, commit: str) -> None:
        """Keep the claim only when ours is the lowest-numbered live model version of its semantic version
        and of its commit (MLflow numbers versions atomically, in creation order)."""
        rivals = []
        for mv in self._model_versions():
            tags = dict(mv.tags or {})
            if tags.get(TAG["model"]) != self.model or str(mv.version) == number:
                continue
            same_version, same_commit = tags.get(TAG["semver"]) == version, tags.get(TAG["commit"]) == commit
            if same_version and same_commit and tags.get(TAG["state"]) != COMPLETE:
                self._discard(str(mv.version), mv.run_id)  # left by an interrupted release of this commit
                continue
            if same_version or same_commit:
                rivals.append(mv)
        earlier = [mv for mv in rivals if int(mv.version) < int(number)]
        if not earlier:
            return
        first = min(earlier, key=lambda mv: int(mv.version))
        tags = dict(first.tags or {})
        if tags.get(TAG["commit"]) == commit:
            raise ConcurrentRelease(
                f"mlflow registry: a concurrent release of commit {commit[:12]} is publishing it as "
                f"{tags.get(TAG['tag'])}; this one stopped without publishing {version}"
            )
        raise VersionTaken(
            f"mlflow registry: version {version} of {self.model!r} is taken (MLflow version {first.version}, "
            f"commit {tags.get(TAG['commit'], '')[:12]}); another release claimed it",
            version,
        )

    def claimed_version(self, commit: str) -> str | None:
        """The version an interrupted release of ``commit`` registered but did not finish, to resume it."""
        for mv in self._model_versions():
            tags = dict(mv.tags or {})
            mine = tags.get(TAG["model"]) == self.model and tags.get(TAG["commit"]) == commit
            if mine and tags.get(TAG["state"]) != COMPLETE:
                return tags.get(TAG["semver"])
        return None

    def release_lock(self) -> contextlib.AbstractContextManager[None]:
        """No lock: MLflow numbers model versions atomically and the lowest number wins a claim."""
        return contextlib.nullcontext()

    def verify_version(self, version: ModelVersion) -> list[str]:
        """Every file of the version is among its run's artifacts; unfinished model versions an interrupted
        release of the same commit registered are deleted."""
        run_id = version.lineage.get("mlflow_run_id")
        try:
            listed = {Path(f.path).name for f in self.client.list_artifacts(str(run_id), ARTIFACT_PATH)}
        except Exception as error:
            raise RegistryError(f"mlflow registry: reading {version.tag}: {_mlflow_error(error)}") from None
        missing = sorted(set(version.files) - listed)
        if missing:
            raise RegistryError(
                f"mlflow registry: version {version.tag} lacks the file(s) {', '.join(missing)}"
            )
        notes = []
        for mv in self._model_versions():
            tags = dict(mv.tags or {})
            mine = tags.get(TAG["model"]) == self.model and tags.get(TAG["commit"]) == version.commit
            if mine and tags.get(TAG["state"]) != COMPLETE:
                self._discard(str(mv.version), mv.run_id)
                notes.append(
                    f"removed the unfinished MLflow model version {mv.version} of an interrupted release"
                )
        return notes

    def _verify_upload(self, run_id: str, sources: Mapping[str, Path]) -> None:
        listed = {Path(f.path).name: f.file_size for f in self.client.list_artifacts(run_id, ARTIFACT_PATH)}
        for name, source in sources.items():
            size = Path(source).stat().st_size
            if listed.get(name) != size:
                raise RegistryError(
                    f"mlflow registry: artifact {name} holds {listed.get(name)} bytes after the upload, expected {size}"
                )

    def _discard(self, number: str, run_id: str | None) -> None:
        with contextlib.suppress(Exception):
            self.client.delete_model_version(self.registered_model, number)
        if run_id:
            with contextlib.suppress(Exception):
                self.client.set_terminated(run_id, "FAILED")

    def set_alias(self, alias: str, version: str) -> None:
        version = format_version(parse_version(version))
        for mv in self._model_versions():
            tags = dict(mv.tags or {})
            if (
                tags.get(TAG["semver"]) == version
                and tags.get(TAG["state"]) == COMPLETE
                and tags.get(TAG["model"]) == self.model
            ):
                try:
                    self.client.set_registered_model_alias(self.registered_model, alias, str(mv.version))
                except Exception as error:
                    raise RegistryError(
                        f"mlflow registry: setting alias {alias!r}: {_mlflow_error(error)}"
                    ) from None
                return
        raise RegistryError(f"mlflow registry: cannot point {alias!r} at missing version {version}")

    # -- deploy records ------------------------------------------------------------------------------

    def _complete_model_version(self, version: str) -> Any | None:
        """The complete MLflow model version of the semantic ``version``, or None."""
        for mv in self._model_versions():
            tags = dict(mv.tags or {})
            if (
                tags.get(TAG["semver"]) == version
                and tags.get(TAG["state"]) == COMPLETE
                and tags.get(TAG["model"]) == self.model
            ):
                return mv
        return None

    @staticmethod
    def _deploys_of(mv: Any) -> list[dict[str, Any]]:
        try:
            document = json.loads(dict(mv.tags or {}).get(TAG["deploys"], "[]"))
        except ValueError:
            return []
        return stored_deploy_records(document)

    def record_deploy(self, version: str, record: Mapping[str, Any]) -> None:
        """Add the record to the version's ``mlops.deploys`` tag, the oldest dropped to stay under MLflow's
        limit. Setting a tag is idempotent; after a failed call the tag is read again before it is repeated."""
        version = format_version(parse_version(version))
        checked = check_deploy_record(version, record)
        for attempt in (1, 2):
            mv = self._complete_model_version(version)
            if mv is None:
                raise RegistryError(f"mlflow registry: cannot record a deploy of missing version {version}")
            stored = self._deploys_of(mv)
            if checked in stored:
                return  # written already, by a call whose answer was lost
            records = with_deploy_record(stored, checked)
            text = json.dumps(records, sort_keys=True, allow_nan=False)
            while len(text) > MAX_DEPLOYS_TAG_CHARS and len(records) > 1:
                records = records[1:]
                text = json.dumps(records, sort_keys=True, allow_nan=False)
            try:
                self.client.set_model_version_tag(
                    self.registered_model, str(mv.version), TAG["deploys"], text
                )
                return
            except Exception as error:
                if attempt == 2:
                    raise RegistryError(
                        f"mlflow registry: recording the deploy of {version}: {_mlflow_error(error)}"
                    ) from None

    def deploy_records(self, version: str | None = None) -> list[dict[str, Any]]:
        if version is not None:
            version = format_version(parse_version(version))
            mv = self._complete_model_version(version)
            records = [] if mv is None else self._deploys_of(mv)
            return [r for r in records if r.get("version") == version]
        found: list[dict[str, Any]] = []
        seen: set[str] = set()
        for mv in self._model_versions():  # the same model version of each semantic version as list_versions
            tags = dict(mv.tags or {})
            semver = tags.get(TAG["semver"], "")
            if tags.get(TAG["model"]) != self.model or tags.get(TAG["state"]) != COMPLETE or semver in seen:
                continue
            seen.add(semver)
            found.extend(r for r in self._deploys_of(mv) if r.get("version") == semver)
        return stored_deploy_records(found)

    # -- monitor states ------------------------------------------------------------------------------

    def record_monitor_states(self, version: str, states: list[dict[str, Any]]) -> None:
        """Replace the version's ``mlops.monitor`` tag. Setting a tag is idempotent; after a failed call the
        tag is read again, and the call repeated only when it did not take effect."""
        version = format_version(parse_version(version))
        text = fitted_monitor_states(check_monitor_states(version, states))
        for attempt in (1, 2):
            mv = self._complete_model_version(version)
            if mv is None:
                raise RegistryError(
                    f"mlflow registry: cannot record monitor states of missing version {version}"
                )
            if dict(mv.tags or {}).get(TAG["monitor"]) == text:
                return  # written already, by a call whose answer was lost
            try:
                self.client.set_model_version_tag(
                    self.registered_model, str(mv.version), TAG["monitor"], text
                )
                return
            except Exception as error:
                if attempt == 2:
                    raise RegistryError(
                        f"mlflow registry: recording the monitor states of {version}: {_mlflow_error(error)}"
                    ) from None

    def monitor_states(self, version: str) -> list[dict[str, Any]]:
        version = format_version(parse_version(version))
        mv = self._complete_model_version(version)
        text = "" if mv is None else dict(mv.tags or {}).get(TAG["monitor"], "")
        where = f"mlflow registry: tag {TAG['monitor']} of {version_tag(self.model, version)}"
        return parse_monitor_states(text, where=where) if text else []
