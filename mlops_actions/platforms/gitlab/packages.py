"""The GitLab registry: one release per version, its files in the generic package registry.

A version ``1.2.0`` of model ``churn`` is

- the release ``churn@v1.2.0`` (``POST /projects/:id/releases`` with ``ref`` = the released commit, which
  creates the tag: the step that claims the version), whose description is the model card followed by a
  hidden manifest (digests, commit, metrics, lineage) and the aliases that point at it;
- the files ``model.skops``, ``metadata.json``, ``model-card.md``, ``mlops-result.json`` and
  ``manifest.json`` in the generic package ``churn`` version ``1.2.0``, linked from the release.

A version is visible once its manifest says ``complete``, after every file is uploaded and its sha256
confirmed; a re-run for the same commit resumes an unfinished one. Downloads are checked against the
manifest's digests (and GitLab's ``X-Checksum-SHA256`` header). Aliases such as ``production`` are
recorded in the release descriptions with the time they were set; the newest wins. The version's deploy
records are a hidden line of its release description too.

Tokens: ``CI_JOB_TOKEN`` (``JOB-TOKEN``) when set, which may use the Releases and Packages APIs, else
``MLOPS_GITLAB_TOKEN`` (``PRIVATE-TOKEN``, scope ``api``) for use outside CI.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mlops_actions.domain.data.io import file_sha256
from mlops_actions.domain.model_io import MODEL_FILE
from mlops_actions.domain.semver import format_version, parse_version, version_tag
from mlops_actions.errors import MlopsError, RegistryError
from mlops_actions.platforms.gitlab.api import (
    Access,
    GitLabApiError,
    GitLabClient,
    client_from_environment,
    job_token,
    private_token,
)
from mlops_actions.registry.base import (
    COMPLETE,
    MANIFEST_FILE,
    PUBLISHING,
    ModelVersion,
    VersionTaken,
    download_checked,
    prepare_publication,
)
from mlops_actions.registry.described import DescribedReleases, WriteOutcomeUnknown, parse_description

JOB_TOKEN_HINT = (
    "CI_JOB_TOKEN can use the Releases and Packages APIs when the user running the pipeline has at least "
    "the Developer role"
)
READ_RELEASES = Access("read releases", scope="read_api", role="Reporter", token_hint=JOB_TOKEN_HINT)
WRITE_RELEASES = Access(
    "create and edit releases (and the tag of a new release)",
    scope="api",
    role="Developer",
    token_hint=JOB_TOKEN_HINT + "; a protected tag pattern also needs permission to create the tag",
)
READ_PACKAGES = Access(
    "download from the package registry", scope="read_api", role="Reporter", token_hint=JOB_TOKEN_HINT
)
WRITE_PACKAGES = Access(
    "upload to the package registry",
    scope="api",
    role="Developer",
    token_hint=JOB_TOKEN_HINT + "; the package registry must be enabled in the project's settings",
)


class GitLabRegistry(DescribedReleases):
    """Model versions as GitLab releases with files in the generic package registry."""

    name = "gitlab"
    creates_tags = True  # creating the release creates its tag: the step that claims the version
    description_field = "description"

    def __init__(self, client: GitLabClient, model: str, *, package: str | None = None):
        self.client = client
        self.model = model
        self.package = package or model

    def __repr__(self) -> str:
        return f"GitLabRegistry(client={self.client!r}, model={self.model!r}, package={self.package!r})"

    @classmethod
    def from_options(
        cls,
        model: str,
        options: Mapping[str, Any],
        env: Mapping[str, str] | None = None,
        **client_options: Any,
    ) -> GitLabRegistry:
        """The registry of ``registry.project`` (default: the CI job's project) at ``registry.api_url``
        (default: CI_API_V4_URL), files in the generic package ``registry.package`` (default: the model)."""
        env = os.environ if env is None else env
        token = job_token(env) or private_token(env)
        if token is None:
            raise RegistryError(
                "gitlab registry: no token; in CI the job token (CI_JOB_TOKEN) is used, elsewhere set "
                "MLOPS_GITLAB_TOKEN to a personal or project access token with scope `api`"
            )
        for key in ("project", "api_url", "package"):
            if key in options and not isinstance(options[key], (str, int)):
                raise RegistryError(f"registry.{key}: expected a string, got {type(options[key]).__name__}")
        try:
            client = client_from_environment(
                env,
                token=token,
                api_url=str(options["api_url"]) if options.get("api_url") else None,
                project=str(options["project"]) if options.get("project") else None,
                **client_options,
            )
        except GitLabApiError as error:
            raise RegistryError(str(error)) from None
        package = str(options.get("package") or model)
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$", package):
            raise RegistryError(f"registry.package: {package!r} is not a valid generic package name")
        return cls(client, model, package=package)

    # -- API helpers -------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, access: Access, **kwargs: Any) -> Any:
        try:
            return self.client.request(method, path, access=access, **kwargs)
        except GitLabApiError as error:
            raise RegistryError(str(error)) from None

    def _release_path(self, tag: str | None = None) -> str:
        suffix = "/releases" if tag is None else f"/releases/{quote(tag, safe='')}"
        return self.client.project_path(suffix)

    def package_path(self, version: str, file_name: str) -> str:
        """API path of one file of the generic package."""
        return self.client.project_path(
            f"/packages/generic/{quote(self.package, safe='')}/{quote(version, safe='')}/{quote(file_name, safe='')}"
        )

    def package_url(self, version: str, file_name: str) -> str:
        return f"{self.client.api_url}{self.package_path(version, file_name)}"

    def _get_release(self, tag: str) -> dict[str, Any] | None:
        response = self._call("GET", self._release_path(tag), access=READ_RELEASES, accept=frozenset({404}))
        if response.status_code == 404:
            return None
        payload = response.json()
        return payload if isinstance(payload, dict) else None

    def _releases(self) -> list[dict[str, Any]]:
        try:
            return list(
                self.client.paginate(
                    self._release_path(),
                    access=READ_RELEASES,
                    params={"order_by": "released_at", "sort": "asc"},
                )
            )
        except GitLabApiError as error:
            raise RegistryError(str(error)) from None

    # -- reading -----------------------------------------------------------------------------------

    def resolve(self, ref: str) -> ModelVersion | None:
        try:
            version = format_version(parse_version(ref))
        except MlopsError:
            for candidate in self.list_versions():
                if ref in candidate.aliases:
                    return candidate
            return None
        release = self._get_release(version_tag(self.model, version))
        if release is None or self._version_of(release) is None:
            return None
        # The aliases need every release; resolve by number is a single call otherwise.
        return next((v for v in self.list_versions() if v.version == version), None)

    def fetch(self, ref: str, destination: Path) -> Path:
        found = self.resolve(ref)
        if found is None:
            raise RegistryError(
                f"gitlab registry (project {self.client.project}): model {self.model!r} has no version {ref!r}"
            )
        destination = Path(destination)
        destination.mkdir(parents=True, exist_ok=True)
        for name, digest in found.files.items():
            self._download(found.version, name, digest, destination / name)
        return destination

    def _download(self, version: str, name: str, expected: str, target: Path) -> None:
        path = self.package_path(version, name)
        response = self._call("GET", path, access=READ_PACKAGES, stream=True)

        def gitlab_checksum() -> None:
            header = response.headers.get("X-Checksum-SHA256", "").strip().lower()
            if header and f"sha256:{header}" != expected:
                raise RegistryError(
                    f"{self.package_url(version, name)}: GitLab reports sha256 {header}, the release manifest "
                    f"expects {expected}"
                )

        download_checked(
            response, target, expected, where=self.package_url(version, name), also_check=gitlab_checksum
        )

    def claimed_version(self, commit: str) -> str | None:
        """The version of an unfinished release of ``commit`` (created, files not all uploaded), to resume it."""
        for release in self._releases():
            _card, manifest, _aliases = self._described(release)
            if not manifest or manifest.get("model") != self.model or manifest.get("commit") != commit:
                continue
            if manifest.get("state") != COMPLETE and release.get("tag_name") == version_tag(
                self.model, str(manifest.get("version"))
            ):
                return str(manifest.get("version"))
        return None

    def verify_version(self, version: ModelVersion) -> list[str]:
        """The release's tag is on the version's commit and every package file is stored with its digest."""
        response = self._call(
            "GET",
            self.client.project_path(f"/repository/tags/{quote(version.tag, safe='')}"),
            access=READ_RELEASES,
            accept=frozenset({404}),
        )
        payload = response.json() if response.status_code != 404 else None
        target = payload.get("target") if isinstance(payload, dict) else None
        if target != version.commit:
            raise RegistryError(
                f"gitlab registry: tag {version.tag} is on {str(target)[:12] if target else 'no commit'}, "
                f"its release on {str(version.commit)[:12]}"
            )
        stored = self._package_files(version.version)
        for name, digest in version.files.items():
            if name not in stored:
                raise RegistryError(
                    f"{self.package_url(version.version, name)}: file of {version.tag} is missing"
                )
            if f"sha256:{stored[name]}" != digest:
                raise RegistryError(
                    f"{self.package_url(version.version, name)}: GitLab stores sha256 {stored[name]}, the release "
                    f"manifest expects {digest}"
                )
        return []

    def _package_files(self, version: str) -> dict[str, str]:
        """file name -> sha256 hex of the generic package's newest files of ``version``."""
        try:
            packages = [
                p
                for p in self.client.paginate(
                    self.client.project_path("/packages"),
                    access=READ_PACKAGES,
                    params={
                        "package_type": "generic",
                        "package_name": self.package,
                        "package_version": version,
                    },
                )
                if p.get("name") == self.package and p.get("version") == version
            ]
            found: dict[str, str] = {}
            for package in packages:
                for record in self.client.paginate(
                    self.client.project_path(f"/packages/{int(package['id'])}/package_files"),
                    access=READ_PACKAGES,
                ):
                    found[str(record.get("file_name"))] = str(record.get("file_sha256"))
        except GitLabApiError as error:
            raise RegistryError(str(error)) from None
        return found

    def release_lock(self) -> contextlib.AbstractContextManager[None]:
        """No lock: creating the release (and its tag) claims a version atomically on GitLab."""
        return contextlib.nullcontext()

    # -- writing -----------------------------------------------------------------------------------

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
        tag = version_tag(self.model, version)
        manifest = publication.manifest(self.model, metrics, state=PUBLISHING)
        manifest["package"] = {"name": self.package, "version": version}
        card = publication.card(self.model)
        existing = self._claim(tag, version, manifest, card)
        if existing is not None:
            return existing
        self._upload_all(version, sources, files, manifest)
        manifest["state"] = COMPLETE
        self._call(
            "PUT",
            self._release_path(tag),
            access=WRITE_RELEASES,
            json={"description": self._description(card, manifest, {})},
        )
        found = self.resolve(version)
        if found is None:
            raise RegistryError(f"gitlab registry: release {tag} was written but cannot be read back")
        return found

    def _links(self, version: str, names: list[str]) -> list[dict[str, str]]:
        return [
            {
                "name": name,
                "url": self.package_url(version, name),
                "direct_asset_path": f"/{name}",
                "link_type": "package" if name == MODEL_FILE else "other",
            }
            for name in names
        ]

    def _claim(self, tag: str, version: str, manifest: dict[str, Any], card: str) -> ModelVersion | None:
        """Create the release (and its tag), or take over an unfinished one of the same commit.

        Returns the existing version when this exact version is already published (a re-run).
        """
        body = {
            "tag_name": tag,
            "ref": manifest["commit"],
            "tag_message": f"Release {tag}",
            "name": f"{self.model} v{version}",
            "description": self._description(card, manifest, {}),
            "assets": {"links": self._links(version, [*manifest["files"], MANIFEST_FILE])},
        }
        release = self._get_release(tag)
        if release is None:
            try:
                self.client.request(
                    "POST", self._release_path(), access=WRITE_RELEASES, json=body, accept=frozenset({409})
                )
            except GitLabApiError as error:
                raise RegistryError(str(error)) from None
            release = self._get_release(tag)  # ours, or a concurrent winner's (409)
            if release is None:
                raise RegistryError(f"gitlab registry: release {tag} was created but cannot be read back")
        _card, theirs, _aliases = parse_description(str(release.get("description") or ""))
        if not theirs or theirs.get("model") != self.model:
            raise RegistryError(
                f"gitlab registry: release {tag} already exists and was not made by mlops-actions; "
                "delete it or release another version"
            )
        if theirs.get("commit") != manifest["commit"]:
            raise VersionTaken(
                f"gitlab registry: version {version} of {self.model!r} already exists (release {tag}, commit "
                f"{str(theirs.get('commit'))[:12]}); another release claimed it",
                version,
            )
        if theirs.get("state") == COMPLETE:
            if theirs.get("files") == manifest["files"]:
                return self.resolve(version)
            raise RegistryError(
                f"gitlab registry: version {version} of {self.model!r} already exists (release {tag}) with "
                "other files"
            )
        if theirs != manifest:  # an unfinished release of this commit: publish our files under it
            self._call(
                "PUT",
                self._release_path(tag),
                access=WRITE_RELEASES,
                json={"description": self._description(card, manifest, {})},
            )
        return None

    def _upload(self, version: str, name: str, source: Path, expected: str) -> None:
        response = self._call(
            "PUT",
            self.package_path(version, name),
            access=WRITE_PACKAGES,
            upload=source,
            params={"select": "package_file"},
        )
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        reported = payload.get("file_sha256") if isinstance(payload, dict) else None
        if reported and f"sha256:{reported}" != expected:
            raise RegistryError(
                f"{self.package_url(version, name)}: GitLab stored sha256 {reported}, expected {expected} "
                "(the upload was corrupted)"
            )

    def _upload_all(
        self, version: str, sources: Mapping[str, Path], files: Mapping[str, str], manifest: Mapping[str, Any]
    ) -> None:
        """Upload every file, then the manifest; each upload's sha256 is checked against GitLab's."""
        for name, source in sources.items():
            self._upload(version, name, Path(source), files[name])
        with tempfile.TemporaryDirectory(prefix="mlops-manifest-") as tmp:
            path = Path(tmp) / MANIFEST_FILE
            path.write_text(json.dumps({**manifest, "state": COMPLETE}, indent=2, sort_keys=True) + "\n")
            self._upload(version, MANIFEST_FILE, path, f"sha256:{file_sha256(path)}")

    def _release(self, tag: str) -> dict[str, Any] | None:
        return self._get_release(tag)

    def _write_description(self, release: Mapping[str, Any], text: str, *, retry: bool = True) -> None:
        try:
            self.client.request(
                "PUT",
                self._release_path(str(release["tag_name"])),
                access=WRITE_RELEASES,
                json={"description": text},
                retry=retry,
            )
        except GitLabApiError as error:
            if not retry and self.client.is_retryable(error):
                raise WriteOutcomeUnknown(str(error), wait=error.wait) from None
            raise RegistryError(str(error)) from None
