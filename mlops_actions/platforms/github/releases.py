"""The GitHub Releases registry: one release per version, its files as release assets.

A version ``1.2.0`` of model ``churn`` is

- the lightweight tag ``churn@v1.2.0`` on the released commit, created with ``POST /git/refs``: the one
  atomic step that claims the version (GitHub refuses a second ref of the same name);
- the published (non-draft) release of that tag, whose body is the model card followed by a hidden
  manifest (digests and sizes of the files, commit, metrics, lineage) and the aliases that point at it
  (then the version's deploy records and the monitor's window states);
- the assets ``model.skops``, ``metadata.json``, ``model-card.md``, ``mlops-result.json``,
  ``data-profile.json`` (when given) and ``manifest.json``.

Publishing creates the release as a draft, uploads every asset, checks each one's size and GitHub's
sha256 digest, lists the assets again, and only then publishes the draft together with the manifest
marked ``complete``. A draft is never listed as a version. When an upload fails, the draft is deleted (or,
if even that fails, left as a draft and named in the error); the tag stays claimed by its commit, so a
re-run of the same commit resumes the same version and removes the stale drafts once it has published.

Aliases such as ``production`` are recorded in the release bodies with the time they were set; the newest
wins, and setting one removes it from the other releases. The version's deploy records are a hidden line of
its release body too. GitHub's repository-wide "latest" badge is left
alone (``make_latest: false``), since several models may share a repository.

Downloads go through the API (``Accept: application/octet-stream``, redirects followed without the token)
and are checked against the manifest's sha256 before they are moved into place.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mlops_actions.domain.model_io import digest_of
from mlops_actions.domain.semver import format_version, parse_version, version_tag
from mlops_actions.errors import MlopsError, RegistryError
from mlops_actions.platforms.github.api import READ_CONTENTS, WRITE_CONTENTS, GitHubApiError, GitHubClient
from mlops_actions.registry.base import (
    COMPLETE,
    MANIFEST_FILE,
    PUBLISHING,
    ConcurrentRelease,
    ModelVersion,
    VersionTaken,
    download_checked,
    prepare_publication,
)
from mlops_actions.registry.described import DescribedReleases, WriteOutcomeUnknown, parse_description

MAX_CARD_CHARS = 40_000  # GitHub caps a release body at 125,000 characters
MAX_BODY_CHARS = 125_000
MAX_MONITOR_CHARS = 40_000  # the monitor states' line: room is left for the card and the deploy records
ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


__all__ = ["ConcurrentRelease", "GitHubReleasesRegistry", "VersionTaken"]


class GitHubReleasesRegistry(DescribedReleases):
    """Model versions as GitHub releases of one repository."""

    name = "github"
    creates_tags = True  # publish() claims the version by creating its tag on GitHub
    description_field = "body"
    max_card_chars = MAX_CARD_CHARS
    max_description_chars = MAX_BODY_CHARS
    max_monitor_chars = MAX_MONITOR_CHARS

    def __init__(self, client: GitHubClient, model: str):
        self.client = client
        self.model = model

    def __repr__(self) -> str:
        return f"GitHubReleasesRegistry(client={self.client!r}, model={self.model!r})"

    @classmethod
    def from_options(
        cls,
        model: str,
        options: Mapping[str, Any],
        env: Mapping[str, str] | None = None,
        **client_options: Any,
    ) -> GitHubReleasesRegistry:
        """The registry of ``registry.repository`` (default GITHUB_REPOSITORY) at ``registry.api_url``
        (default GITHUB_API_URL); the token comes from MLOPS_GITHUB_TOKEN or GITHUB_TOKEN."""
        try:
            client = GitHubClient.from_options(options, env, **client_options)
        except GitHubApiError as error:
            raise RegistryError(f"github registry: {error}") from None
        return cls(client, model)

    # -- API helpers --------------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self.client.request(method, path, **kwargs)
        except GitHubApiError as error:
            raise RegistryError(f"github registry: {error}") from None

    def _releases(self) -> list[dict[str, Any]]:
        """Every release of the repository (drafts too, when the token may see them), newest first."""
        try:
            return list(self.client.paginate(self.client.repo_path("/releases"), access=READ_CONTENTS))
        except GitHubApiError as error:
            raise RegistryError(f"github registry: {error}") from None

    def _assets(self, release_id: int) -> list[dict[str, Any]]:
        try:
            return list(
                self.client.paginate(
                    self.client.repo_path(f"/releases/{release_id}/assets"), access=READ_CONTENTS
                )
            )
        except GitHubApiError as error:
            raise RegistryError(f"github registry: {error}") from None

    def _tag_commit(self, tag: str) -> str | None:
        """The commit the tag points at; None when there is no such tag."""
        response = self._call(
            "GET",
            self.client.repo_path(f"/git/ref/tags/{quote(tag, safe='@')}"),
            access=READ_CONTENTS,
            allowed=frozenset({404}),
        )
        if response.status_code == 404:
            return None
        payload = response.json()
        target = payload.get("object") if isinstance(payload, dict) else None
        if not isinstance(target, dict):
            return None
        if target.get("type") != "commit":
            raise RegistryError(
                f"github registry: tag {tag} is an annotated tag object, expected a lightweight tag on a commit; "
                "delete it or release another version"
            )
        return str(target.get("sha"))

    # -- reading -------------------------------------------------------------------------------------

    def _is_listed(self, release: Mapping[str, Any]) -> bool:
        return not release.get("draft")

    def _release_lineage(self, release: Mapping[str, Any]) -> dict[str, Any]:
        return {"release_url": release.get("html_url")}

    def resolve(self, ref: str) -> ModelVersion | None:
        try:
            wanted = format_version(parse_version(ref))
        except MlopsError:
            wanted = None
        for candidate in self.list_versions():
            if candidate.version == wanted or (wanted is None and ref in candidate.aliases):
                return candidate
        return None

    def _published_release(self, tag: str) -> dict[str, Any] | None:
        response = self._call(
            "GET",
            self.client.repo_path(f"/releases/tags/{quote(tag, safe='@')}"),
            access=READ_CONTENTS,
            allowed=frozenset({404}),
        )
        if response.status_code == 404:
            return None
        payload = response.json()
        return payload if isinstance(payload, dict) and not payload.get("draft") else None

    def fetch(self, ref: str, destination: Path) -> Path:
        found = self.resolve(ref)
        if found is None:
            raise RegistryError(
                f"github registry ({self.client.repository}): model {self.model!r} has no version {ref!r}"
            )
        release = self._published_release(found.tag)
        if release is None:
            raise RegistryError(f"github registry: release {found.tag} disappeared while fetching it")
        _card, manifest, _aliases = parse_description(str(release.get("body") or ""))
        sizes = (manifest or {}).get("sizes") or {}
        assets = {str(a.get("name")): a for a in self._assets(int(release["id"]))}
        destination = Path(destination)
        destination.mkdir(parents=True, exist_ok=True)
        for name, digest in found.files.items():
            asset = assets.get(name)
            if asset is None:
                raise RegistryError(f"github registry: release {found.tag} lacks the asset {name}")
            self._check_asset(found.tag, asset, digest, sizes.get(name))
            self._download(found.tag, asset, digest, destination / name)
        return destination

    def _check_asset(self, tag: str, asset: Mapping[str, Any], digest: str, size: int | None) -> None:
        name = asset.get("name")
        if asset.get("state") != "uploaded":
            raise RegistryError(
                f"github registry: asset {name} of {tag} is {asset.get('state')!r}, not uploaded"
            )
        if size is not None and asset.get("size") != size:
            raise RegistryError(
                f"github registry: asset {name} of {tag} has {asset.get('size')} bytes, the manifest expects {size}"
            )
        reported = asset.get("digest")
        if reported and reported != digest:
            raise RegistryError(
                f"github registry: GitHub reports {reported} for asset {name} of {tag}, the manifest expects {digest}"
            )

    def _download(self, tag: str, asset: Mapping[str, Any], expected: str, target: Path) -> None:
        try:
            response = self.client.download(str(asset["url"]), access=READ_CONTENTS)
        except GitHubApiError as error:
            raise RegistryError(f"github registry: {error}") from None
        download_checked(
            response, target, expected, where=f"github registry: asset {asset.get('name')} of {tag}"
        )

    def claimed_version(self, commit: str) -> str | None:
        """The version an interrupted release of ``commit`` claimed (its draft and tag remain), to resume it."""
        for release in self._releases():
            _card, manifest, _aliases = parse_description(str(release.get("body") or ""))
            if not release.get("draft") or not manifest or manifest.get("model") != self.model:
                continue
            if manifest.get("commit") == commit and self._tag_commit(str(release.get("tag_name"))) == commit:
                return str(manifest.get("version"))
        return None

    # -- writing -------------------------------------------------------------------------------------

    def release_lock(self) -> contextlib.AbstractContextManager[None]:
        """No lock: the tag ref claims a version atomically on GitHub."""
        return contextlib.nullcontext()

    def verify_version(self, version: ModelVersion) -> list[str]:
        """The release is published with every asset uploaded whole and its tag on the version's commit (a
        missing tag is created again); drafts an interrupted release of that commit left are deleted."""
        release = self._published_release(version.tag)
        if release is None:
            raise RegistryError(f"github registry: release {version.tag} is not published")
        _card, manifest, _aliases = parse_description(str(release.get("body") or ""))
        sizes = (manifest or {}).get("sizes") or {}
        assets = {str(a.get("name")): a for a in self._assets(int(release["id"]))}
        for name, digest in version.files.items():
            if name not in assets:
                raise RegistryError(f"github registry: release {version.tag} lacks the asset {name}")
            self._check_asset(version.tag, assets[name], digest, sizes.get(name))
        notes = []
        commit = str(version.commit)
        owner = self._tag_commit(version.tag)
        if owner is None:
            self._claim(version.tag, version.version, commit)
            notes.append(f"tag {version.tag} was missing and was created again on commit {commit[:12]}")
        elif owner != commit:
            raise RegistryError(
                f"github registry: tag {version.tag} is on commit {owner[:12]}, its release on {commit[:12]}"
            )
        for draft in self._releases():
            _card, drafted, _aliases = parse_description(str(draft.get("body") or ""))
            if not draft.get("draft") or not drafted or drafted.get("model") != self.model:
                continue
            left = drafted.get("commit") == commit or draft.get("tag_name") == version.tag
            if left and self._delete_release(int(draft["id"])):
                notes.append(
                    f"removed the draft release {draft.get('tag_name')} left by an interrupted release"
                )
        return notes

    def _claim(self, tag: str, version: str, commit: str) -> bool:
        """Create the tag at ``commit``; True when created now, False when it was already ours (a re-run)."""
        owner = self._tag_commit(tag)
        if owner is None:
            response = self._call(
                "POST",
                self.client.repo_path("/git/refs"),
                access=WRITE_CONTENTS,
                json={"ref": f"refs/tags/{tag}", "sha": commit},
                allowed=frozenset({422}),
            )
            if response.status_code < 300:
                return True
            owner = self._tag_commit(tag)  # a concurrent claim, or ours whose answer was lost
            if owner is None:
                message = self.client.redact(str((response.json() or {}).get("message", "")))[:200]
                raise RegistryError(
                    f"github registry: GitHub refused to create tag {tag} on commit {commit[:12]} ({message}); "
                    "is the commit pushed to the repository?"
                )
        if owner != commit:
            raise VersionTaken(
                f"github registry: version {version} of {self.model!r} is taken (tag {tag} is on commit "
                f"{str(owner)[:12]}); another release claimed it",
                version,
            )
        return False

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
        tag = version_tag(self.model, version)
        manifest = publication.manifest(self.model, metrics, state=PUBLISHING)
        manifest["sizes"] = {name: Path(source).stat().st_size for name, source in sources.items()}
        card = publication.card(self.model)

        claimed = self._claim(tag, version, commit)
        releases = [r for r in self._releases() if r.get("tag_name") == tag]
        existing = self._existing(tag, version, commit, files, releases)
        if existing is not None:
            return existing
        stale = [int(r["id"]) for r in releases if r.get("draft")]
        release = self._create_draft(tag, version, commit, self._description(card, manifest, {}))
        try:
            self._yield_to_earlier_release_of(commit, tag, int(release["id"]), claimed)
            self._upload_all(release, sources, files, manifest)
            self._verify_assets(tag, int(release["id"]), files, manifest["sizes"])
            manifest["state"] = COMPLETE
            response = self._call(
                "PATCH",
                self.client.repo_path(f"/releases/{release['id']}"),
                access=WRITE_CONTENTS,
                json={
                    "draft": False,
                    "tag_name": tag,
                    "body": self._description(card, manifest, {}),
                    "make_latest": "false",
                },
                allowed=frozenset({422}),
            )
            if response.status_code == 422:  # a release of this tag was published meanwhile
                winner = self._existing(tag, version, commit, files, self._releases())
                if winner is None:
                    raise RegistryError(
                        f"github registry: GitHub refused to publish release {tag} (HTTP 422)"
                    )
                self._delete_release(int(release["id"]))
                return winner
        except BaseException as error:
            winner = None
            if isinstance(error, RegistryError):
                try:
                    winner = self._existing(tag, version, commit, files, self._releases())
                except RegistryError:
                    winner = None
            removed = self._delete_release(int(release["id"]))
            if winner is not None:
                return winner
            if isinstance(error, ConcurrentRelease):
                raise
            if isinstance(error, RegistryError):
                state = (
                    "the draft was removed"
                    if removed
                    else f"the draft release (id {release['id']}) is left unpublished and is never listed"
                )
                raise RegistryError(
                    f"{error}; release {tag} was not published: {state}; tag {tag} stays claimed by commit "
                    f"{commit[:12]}, re-run the release of that commit to finish it"
                ) from None
            raise
        for draft_id in stale:  # drafts left by an interrupted earlier attempt
            self._delete_release(draft_id)
        found = self.resolve(version)
        if found is None:
            raise RegistryError(f"github registry: release {tag} was published but cannot be read back")
        return found

    def _yield_to_earlier_release_of(self, commit: str, tag: str, release_id: int, claimed_now: bool) -> None:
        """Stop when a release of the same commit under another tag was created first (a concurrent run).

        Release ids grow with creation, so of two racing releases of one commit each sees the other's
        draft once its own exists, and exactly one (the lower id) goes on: never two versions of a commit.
        """
        for release in self._releases():
            _card, manifest, _aliases = parse_description(str(release.get("body") or ""))
            if not manifest or manifest.get("model") != self.model or manifest.get("commit") != commit:
                continue
            other = str(release.get("tag_name"))
            if other == tag or int(release.get("id", 0)) >= release_id:
                continue
            if claimed_now:
                self._delete_tag(tag)
            raise ConcurrentRelease(
                f"github registry: a concurrent release of commit {commit[:12]} is publishing it as {other}; "
                f"this one stopped without publishing {tag}"
            )

    def _delete_tag(self, tag: str) -> None:
        with contextlib.suppress(GitHubApiError):
            self.client.request(
                "DELETE",
                self.client.repo_path(f"/git/refs/tags/{quote(tag, safe='@')}"),
                access=WRITE_CONTENTS,
                allowed=frozenset({404, 422}),
            )

    def _existing(
        self, tag: str, version: str, commit: str, files: Mapping[str, str], releases: list[dict[str, Any]]
    ) -> ModelVersion | None:
        """The complete published version of ``tag`` (a re-run or a concurrent release of the same commit)."""
        for release in releases:
            if release.get("tag_name") != tag or release.get("draft"):
                continue
            found = self._version_of(release)
            if found is None:
                _card, manifest, _aliases = parse_description(str(release.get("body") or ""))
                if not manifest or manifest.get("model") != self.model:
                    raise RegistryError(
                        f"github registry: release {tag} exists and was not made by mlops-actions; delete it or "
                        "release another version"
                    )
                continue
            if found.commit != commit:
                raise VersionTaken(
                    f"github registry: version {version} of {self.model!r} already exists (commit "
                    f"{str(found.commit)[:12]})",
                    version,
                )
            return self.resolve(version)
        return None

    def _create_draft(self, tag: str, version: str, commit: str, body: str) -> dict[str, Any]:
        """Create the draft release of ``tag``. The create is not idempotent: after an answer that was lost or
        garbled (it may have taken effect), the releases are listed again and a draft of this tag and commit
        is taken before the create is repeated, so no orphan draft is left."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.client.request(
                    "POST",
                    self.client.repo_path("/releases"),
                    access=WRITE_CONTENTS,
                    json={
                        "tag_name": tag,
                        "target_commitish": commit,
                        "name": f"{self.model} v{version}",
                        "body": body,
                        "draft": True,
                        "prerelease": False,
                        "make_latest": "false",
                    },
                    retry=False,
                )
            except GitHubApiError as error:
                if not self.client.is_retryable(error) or attempt >= self.client.max_attempts:
                    raise RegistryError(f"github registry: {error}") from None
                made = self._draft_of(tag, commit)
                if made is not None:
                    return made
                self.client.pause_before_retry(attempt, error.wait)
                continue
            release = response.json()
            if not isinstance(release, dict) or "id" not in release or "upload_url" not in release:
                raise RegistryError(f"github registry: unexpected answer creating the draft release {tag}")
            return release

    def _draft_of(self, tag: str, commit: str) -> dict[str, Any] | None:
        """The draft release of ``tag`` at ``commit``, when one exists (a create that took effect)."""
        for release in self._releases():
            if (
                release.get("draft")
                and release.get("tag_name") == tag
                and release.get("target_commitish") == commit
                and "id" in release
                and "upload_url" in release
            ):
                return release
        return None

    def _delete_release(self, release_id: int) -> bool:
        try:
            response = self.client.request(
                "DELETE",
                self.client.repo_path(f"/releases/{release_id}"),
                access=WRITE_CONTENTS,
                allowed=frozenset({404}),
            )
        except GitHubApiError:
            return False
        return bool(response.status_code in (204, 404))

    def _upload_all(
        self,
        release: Mapping[str, Any],
        sources: Mapping[str, Path],
        files: Mapping[str, str],
        manifest: Mapping[str, Any],
    ) -> None:
        """Upload every file, then manifest.json; each answer's size, state and digest are checked."""
        for name, source in sources.items():
            self._upload(release, name, Path(source), files[name])
        with tempfile.TemporaryDirectory(prefix="mlops-manifest-") as tmp:
            path = Path(tmp) / MANIFEST_FILE
            path.write_text(json.dumps({**manifest, "state": COMPLETE}, indent=2, sort_keys=True) + "\n")
            self._upload(release, MANIFEST_FILE, path, digest_of(path))

    def _upload(self, release: Mapping[str, Any], name: str, source: Path, expected: str) -> None:
        url = str(release["upload_url"]).split("{", 1)[0]
        size = source.stat().st_size
        try:
            response = self.client.request(
                "POST",
                url,
                access=WRITE_CONTENTS,
                params={"name": name},
                data=lambda: open(source, "rb"),  # noqa: SIM115 - closed by the client after sending
                content_type="application/octet-stream",
                retry=False,  # a failed upload may leave a half asset behind: the draft is discarded instead
            )
        except GitHubApiError as error:
            raise RegistryError(
                f"github registry: uploading {name} to release {release.get('tag_name')}: {error}"
            ) from None
        asset = response.json()
        if not isinstance(asset, dict):
            raise RegistryError(f"github registry: unexpected answer uploading {name}")
        self._check_asset(str(release.get("tag_name")), asset, expected, size)

    def _verify_assets(
        self, tag: str, release_id: int, files: Mapping[str, str], sizes: Mapping[str, int]
    ) -> None:
        """The draft holds exactly the expected assets, each uploaded whole."""
        assets = {str(a.get("name")): a for a in self._assets(release_id)}
        expected = {*files, MANIFEST_FILE}
        if set(assets) != expected:
            missing = sorted(expected - set(assets))
            extra = sorted(set(assets) - expected)
            raise RegistryError(
                f"github registry: draft release {tag} holds the wrong assets (missing {missing}, unexpected {extra})"
            )
        for name, digest in files.items():
            self._check_asset(tag, assets[name], digest, sizes.get(name))
        if assets[MANIFEST_FILE].get("state") != "uploaded":
            raise RegistryError(f"github registry: asset {MANIFEST_FILE} of {tag} is not uploaded")

    def _release(self, tag: str) -> dict[str, Any] | None:
        return self._published_release(tag)

    def _write_description(self, release: Mapping[str, Any], text: str, *, retry: bool = True) -> None:
        try:
            self.client.request(
                "PATCH",
                self.client.repo_path(f"/releases/{release['id']}"),
                access=WRITE_CONTENTS,
                json={"body": text},
                retry=retry,
            )
        except GitHubApiError as error:
            if not retry and self.client.is_retryable(error):
                raise WriteOutcomeUnknown(f"github registry: {error}", wait=error.wait) from None
            raise RegistryError(f"github registry: {error}") from None
