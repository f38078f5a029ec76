"""Registries whose versions are forge releases (GitHub, GitLab): the release description format and
what reading and aliasing those releases share.

A description is the model card, then a hidden manifest block (digests, commit, metrics, lineage, state),
a hidden line of aliases with the time each was set (the newest setting of an alias wins) and, once the
version was deployed, a hidden line of its deploy records (the newest 20, oldest first) and, once it was
monitored, a hidden line of the monitor's window states (compact JSON, oldest first).

The monitor states live in the description rather than in a release asset: a description is replaced in
one write, so a reader sees the old states or the new ones, never a mix, and a write whose answer was lost
is checked by reading it back; GitHub has no way to replace an asset in one step (upload, then delete the
old one), and GitLab's generic packages keep every upload. The line is capped at 90,000 characters (GitHub:
40,000, beside a model card of up to 40,000); where the description would pass the forge's limit (GitHub:
125,000 characters), the oldest windows go first, before any deploy record: a shorter trend costs less
than a lost deploy history.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from mlops_actions.domain.semver import format_version, parse_version, sort_versions, version_tag
from mlops_actions.errors import MlopsError, RegistryError
from mlops_actions.registry.base import (
    COMPLETE,
    MAX_MONITOR_STATES_CHARS,
    ModelVersion,
    check_deploy_record,
    check_monitor_states,
    fitted_monitor_states,
    monitor_states_text,
    parse_monitor_states,
    stored_deploy_records,
    with_deploy_record,
)

MANIFEST_OPEN = "<!-- mlops-actions:manifest\n"
MANIFEST_CLOSE = "\n-->"
ALIASES_OPEN = "<!-- mlops-actions:aliases "
ALIASES_CLOSE = " -->"
MANIFEST_PATTERN = re.compile(r"<!-- mlops-actions:manifest\n(.*?)\n-->", re.DOTALL)
ALIASES_PATTERN = re.compile(r"<!-- mlops-actions:aliases (.*?) -->")
DEPLOYS_OPEN = "<!-- mlops-actions:deploys "
DEPLOYS_CLOSE = " -->"
DEPLOYS_PATTERN = re.compile(r"<!-- mlops-actions:deploys (.*?) -->")
MONITOR_OPEN = "<!-- mlops-actions:monitor "
MONITOR_CLOSE = " -->"
MONITOR_PATTERN = re.compile(r"<!-- mlops-actions:monitor (.*?) -->")
MAX_CARD_CHARS = 200_000  # model card characters kept in a description (GitHub sets a lower limit)
MAX_DESCRIPTION_CHARS = 1_000_000  # a whole description (GitHub sets a lower limit)
MAX_DEPLOYS_CHARS = 90_000  # the deploy records line; 20 records of the largest size fit


class WriteOutcomeUnknown(RegistryError):
    """A description write whose answer was lost (a time-out, a 5xx): it may have taken effect."""

    def __init__(self, message: str, *, wait: float = 0.0):
        super().__init__(message)
        self.wait = wait


def manifest_block(manifest: Mapping[str, Any]) -> str:
    """The manifest as a hidden block of a release description (``<`` and ``>`` escaped in the JSON)."""
    text = json.dumps(manifest, indent=1, sort_keys=True, allow_nan=False)
    return MANIFEST_OPEN + text.replace("<", "\\u003c").replace(">", "\\u003e") + MANIFEST_CLOSE


def aliases_block(aliases: Mapping[str, str]) -> str:
    """The aliases (name -> time set) as a hidden line of a release description."""
    text = json.dumps(dict(sorted(aliases.items())), sort_keys=True)
    return ALIASES_OPEN + text.replace("<", "\\u003c").replace(">", "\\u003e") + ALIASES_CLOSE


def deploys_block(records: Sequence[Mapping[str, Any]]) -> str:
    """The deploy records as a hidden line of a release description (``<`` and ``>`` escaped in the JSON)."""
    text = json.dumps(list(records), sort_keys=True, allow_nan=False)
    return DEPLOYS_OPEN + text.replace("<", "\\u003c").replace(">", "\\u003e") + DEPLOYS_CLOSE


def monitor_block(states_text: str) -> str:
    """The monitor states (their compact JSON) as a hidden line of a release description (``<`` and ``>``
    escaped, so the line cannot end early)."""
    return MONITOR_OPEN + states_text.replace("<", "\\u003c").replace(">", "\\u003e") + MONITOR_CLOSE


def parse_monitor_text(description: str) -> str:
    """The JSON text of a release description's monitor line ("" when it holds none)."""
    found = MONITOR_PATTERN.search(description)
    return found.group(1) if found else ""


def release_description(
    card: str,
    manifest: Mapping[str, Any],
    aliases: Mapping[str, str],
    *,
    max_card_chars: int = MAX_CARD_CHARS,
    deploys: Sequence[Mapping[str, Any]] = (),
    monitor: str = "",
) -> str:
    """Model card (shortened to ``max_card_chars``), then the hidden manifest, aliases, deploy records and
    monitor states (``monitor``: their JSON text, "" for none)."""
    card = card.strip()
    if len(card) > max_card_chars:
        card = card[:max_card_chars].rsplit("\n", 1)[0] + "\n\n_… model card shortened; see model-card.md._"
    card = card.replace("<!-- mlops-actions:", "<!-- (quoted) mlops-actions:")
    text = f"{card}\n\n{manifest_block(manifest)}\n{aliases_block(aliases)}\n"
    text = text + f"{deploys_block(deploys)}\n" if deploys else text
    return text + f"{monitor_block(monitor)}\n" if monitor else text


def parse_deploys(description: str) -> list[dict[str, Any]]:
    """The deploy records of a release description, oldest first (none when it holds no such line)."""
    found = DEPLOYS_PATTERN.search(description)
    if not found:
        return []
    try:
        document = json.loads(found.group(1))
    except ValueError:
        return []
    return stored_deploy_records(document)


def parse_description(description: str) -> tuple[str, dict[str, Any] | None, dict[str, str]]:
    """(model card, manifest or None, aliases) of a release description."""
    manifest: dict[str, Any] | None = None
    match = MANIFEST_PATTERN.search(description)
    if match:
        try:
            document = json.loads(match.group(1))
        except ValueError:
            document = None
        manifest = document if isinstance(document, dict) else None
    aliases: dict[str, str] = {}
    found = ALIASES_PATTERN.search(description)
    if found:
        try:
            document = json.loads(found.group(1))
        except ValueError:
            document = None
        if isinstance(document, dict):
            aliases = {str(k): str(v) for k, v in document.items()}
    card = description[: match.start()].rstrip() if match else description.rstrip()
    return card, manifest, aliases


def now_precise() -> str:
    """UTC now with microseconds: the order in which aliases were set."""
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class DescribedReleases:
    """Reading versions from release descriptions, moving aliases and keeping deploy records, for a registry
    class that provides ``model``, ``name``, ``client`` (a RestClient), ``_releases()``, ``_release(tag)``
    and ``_write_description(release, text, retry=...)``."""

    model: str
    name: str
    client: Any
    description_field: ClassVar[str]  # the release's description key: "body" (GitHub), "description" (GitLab)
    max_card_chars: ClassVar[int] = MAX_CARD_CHARS
    max_description_chars: ClassVar[int] = MAX_DESCRIPTION_CHARS
    max_monitor_chars: ClassVar[int] = MAX_MONITOR_STATES_CHARS  # the monitor line's own cap

    def _releases(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _release(self, tag: str) -> dict[str, Any] | None:
        """The published release of ``tag``, read afresh; None when there is none."""
        raise NotImplementedError

    def _write_description(self, release: Mapping[str, Any], text: str, *, retry: bool = True) -> None:
        """Replace the release's description; with ``retry=False`` a lost answer raises WriteOutcomeUnknown."""
        raise NotImplementedError

    def _is_listed(self, release: Mapping[str, Any]) -> bool:
        """Whether the release may hold a version at all (GitHub: not a draft)."""
        return True

    def _release_lineage(self, release: Mapping[str, Any]) -> dict[str, Any]:
        """Lineage the release itself adds to the manifest's (GitHub: its URL)."""
        return {}

    def _described(self, release: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None, dict[str, str]]:
        return parse_description(str(release.get(self.description_field) or ""))

    def _description(
        self,
        card: str,
        manifest: Mapping[str, Any],
        aliases: Mapping[str, str],
        deploys: Sequence[Mapping[str, Any]] = (),
        monitor: str = "",
    ) -> str:
        return release_description(
            card, manifest, aliases, max_card_chars=self.max_card_chars, deploys=deploys, monitor=monitor
        )

    def _deploys_of(self, release: Mapping[str, Any]) -> list[dict[str, Any]]:
        return parse_deploys(str(release.get(self.description_field) or ""))

    def _monitor_of(self, release: Mapping[str, Any]) -> str:
        """The JSON text of the release's monitor states, as stored ("" for none)."""
        return parse_monitor_text(str(release.get(self.description_field) or ""))

    def _version_of(
        self, release: Mapping[str, Any], *, aliases: tuple[str, ...] = ()
    ) -> ModelVersion | None:
        """The complete version of this model a release holds, or None."""
        if not self._is_listed(release):
            return None
        _card, manifest, _aliases = self._described(release)
        if not manifest or manifest.get("model") != self.model or manifest.get("state") != COMPLETE:
            return None
        try:
            version = format_version(parse_version(str(manifest.get("version"))))
        except MlopsError:
            return None
        if release.get("tag_name") != version_tag(self.model, version):
            return None
        return ModelVersion(
            model=self.model,
            version=version,
            tag=str(release["tag_name"]),
            digest=str(manifest.get("digest", "")),
            created=str(manifest.get("created", "")),
            commit=manifest.get("commit"),
            metrics=dict(manifest.get("metrics") or {}),
            files={str(k): str(v) for k, v in (manifest.get("files") or {}).items()},
            aliases=aliases,
            lineage={**dict(manifest.get("lineage") or {}), **self._release_lineage(release)},
        )

    def _alias_owners(self, releases: list[dict[str, Any]]) -> dict[str, str]:
        """alias -> tag of the complete release that set it last."""
        best: dict[str, tuple[str, str]] = {}
        for release in releases:
            if self._version_of(release) is None:
                continue
            _card, _manifest, aliases = self._described(release)
            for alias, when in aliases.items():
                if alias not in best or when > best[alias][0]:
                    best[alias] = (when, str(release["tag_name"]))
        return {alias: tag for alias, (_when, tag) in best.items()}

    def _versions(self, releases: list[dict[str, Any]]) -> list[ModelVersion]:
        """The complete versions among ``releases``, oldest first, with their aliases."""
        owners = self._alias_owners(releases)
        found: dict[str, ModelVersion] = {}
        for release in releases:
            tag = str(release.get("tag_name"))
            aliases = tuple(sorted(a for a, owner in owners.items() if owner == tag))
            version = self._version_of(release, aliases=aliases)
            if version is not None:
                found[version.version] = version
        return [found[v] for v in sort_versions(found)]

    def list_versions(self) -> list[ModelVersion]:
        return self._versions(self._releases())

    def set_alias(self, alias: str, version: str) -> None:
        """Record ``alias`` on the version's release, then take it off the others."""
        version = format_version(parse_version(version))
        tag = version_tag(self.model, version)
        releases = self._releases()
        target = next((r for r in releases if r.get("tag_name") == tag and self._version_of(r)), None)
        if target is None:
            raise RegistryError(f"{self.name} registry: cannot point {alias!r} at missing version {version}")
        card, manifest, aliases = self._described(target)
        assert manifest is not None
        aliases[alias] = now_precise()
        deploys, monitor = self._deploys_of(target), self._monitor_of(target)
        self._write_description(target, self._description(card, manifest, aliases, deploys, monitor))
        for release in releases:  # then take it off the others, so one release holds it
            if release.get("tag_name") == tag or self._version_of(release) is None:
                continue
            card, manifest, aliases = self._described(release)
            if alias in aliases and manifest is not None:
                del aliases[alias]
                deploys, monitor = self._deploys_of(release), self._monitor_of(release)
                self._write_description(release, self._description(card, manifest, aliases, deploys, monitor))

    # -- deploy records ----------------------------------------------------------------------------

    def _complete_release(self, version: str) -> dict[str, Any] | None:
        """The complete release of ``version`` (normalised), read afresh; None when there is none."""
        release = self._release(version_tag(self.model, version))
        return release if release is not None and self._version_of(release) is not None else None

    def _fitted_description(
        self,
        release: Mapping[str, Any],
        records: list[dict[str, Any]],
        states: list[dict[str, Any]] | None = None,
    ) -> str:
        """The release's description with ``records`` and the monitor ``states`` (None: those it holds), the
        oldest dropped until it fits the forge's limits: monitor windows first, then deploy records."""
        card, manifest, aliases = self._described(release)
        assert manifest is not None
        monitor = (
            self._monitor_of(release)
            if states is None
            else fitted_monitor_states(states, self.max_monitor_chars)
        )
        while len(deploys_block(records)) > MAX_DEPLOYS_CHARS and len(records) > 1:
            records = records[1:]
        kept: list[dict[str, Any]] | None = None
        while True:
            text = self._description(card, manifest, aliases, records, monitor)
            if len(text) <= self.max_description_chars:
                return text
            if monitor:
                if kept is None:
                    try:
                        kept = parse_monitor_states(monitor, where=self.name)
                    except RegistryError:
                        kept = []  # unreadable: nothing worth keeping
                kept = kept[1:]
                monitor = monitor_states_text(kept) if kept else ""
            elif len(records) > 1:
                records = records[1:]
            else:
                return text

    def _rewrite_description(
        self, version: str, what: tuple[str, str], rewritten: Callable[[dict[str, Any]], str | None]
    ) -> None:
        """Write ``rewritten(release)`` as the description of ``version``'s release (None: written already,
        by a write whose answer was lost, or nothing changes). A write whose answer was lost is checked by
        reading the release again before it is repeated. ``what`` names the record both ways, e.g. ("a deploy",
        "the deploy")."""
        attempt = 0
        while True:
            attempt += 1
            release = self._complete_release(version)
            if release is None:
                raise RegistryError(
                    f"{self.name} registry: cannot record {what[0]} of missing version {version}"
                )
            text = rewritten(release)
            if text is None:
                return
            try:
                self._write_description(release, text, retry=False)
                return
            except WriteOutcomeUnknown as error:
                if attempt >= self.client.max_attempts:
                    raise RegistryError(
                        f"{error}; giving up after {attempt} attempts to record {what[1]} of {version}"
                    ) from None
                self.client.pause_before_retry(attempt, error.wait)

    def record_deploy(self, version: str, record: Mapping[str, Any]) -> None:
        """Add the record to the hidden deploy line of the version's release description, once."""
        version = format_version(parse_version(version))
        checked = check_deploy_record(version, record)

        def rewritten(release: dict[str, Any]) -> str | None:
            stored = self._deploys_of(release)
            if checked in stored:
                return None
            return self._fitted_description(release, with_deploy_record(stored, checked))

        self._rewrite_description(version, ("a deploy", "the deploy"), rewritten)

    def deploy_records(self, version: str | None = None) -> list[dict[str, Any]]:
        if version is not None:
            version = format_version(parse_version(version))
            release = self._complete_release(version)
            records = [] if release is None else self._deploys_of(release)
            return [r for r in records if r.get("version") == version]
        found: list[dict[str, Any]] = []
        for release in self._releases():
            listed = self._version_of(release)
            if listed is not None:
                found.extend(r for r in self._deploys_of(release) if r.get("version") == listed.version)
        return stored_deploy_records(found)

    # -- monitor states ----------------------------------------------------------------------------

    def record_monitor_states(self, version: str, states: list[dict[str, Any]]) -> None:
        """Replace the hidden monitor line of the version's release description."""
        version = format_version(parse_version(version))
        checked = check_monitor_states(version, states)

        def rewritten(release: dict[str, Any]) -> str | None:
            text = self._fitted_description(release, self._deploys_of(release), checked)
            if _states_in(parse_monitor_text(text)) == _states_in(self._monitor_of(release)):
                return None
            return text

        self._rewrite_description(version, ("monitor states", "the monitor states"), rewritten)

    def monitor_states(self, version: str) -> list[dict[str, Any]]:
        version = format_version(parse_version(version))
        release = self._complete_release(version)
        text = "" if release is None else self._monitor_of(release)
        where = f"{self.name} registry: release {version_tag(self.model, version)}"
        return parse_monitor_states(text, where=where) if text else []


def _states_in(text: str) -> list[dict[str, Any]] | None:
    """The states of a monitor line's JSON text ([] for none, None when unreadable)."""
    if not text:
        return []
    try:
        return parse_monitor_states(text, where="")
    except RegistryError:
        return None
