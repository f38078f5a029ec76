"""Which version a failed deploy goes back to, and where 'production' points afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from mlops_actions.registry import ModelVersion
from mlops_actions.stages.deploy.verdict import hand_back_production, previous_version


class Versions:
    """The part of a registry the verdict uses: versions, aliases and the release lock."""

    def __init__(self, *versions: str, production: str | None = None):
        self.versions = {v: ModelVersion("m", v, f"m@v{v}", "sha256:" + "0" * 64, "", None) for v in versions}
        self.aliases = {"production": production} if production else {}
        self.locked = False

    def resolve(self, ref: str) -> ModelVersion | None:
        return self.versions.get(self.aliases.get(ref, ref))

    def set_alias(self, alias: str, version: str) -> None:
        assert self.locked, "aliases move under the release lock"
        self.aliases[alias] = version

    @contextlib.contextmanager
    def release_lock(self) -> Iterator[None]:
        self.locked = True
        try:
            yield
        finally:
            self.locked = False


def record(version: str, outcome: str, time: str, previous: str | None = None) -> dict:
    return {"version": version, "outcome": outcome, "time": time, "previous": previous}


def test_the_previous_version_is_the_one_the_newest_deploy_left_serving():
    registry = Versions("1.0.0", "1.1.0", "1.2.0", "1.3.0", production="1.3.0")
    records = [
        record("1.0.0", "deployed", "2026-01-01T00:00:00.000Z"),
        record("1.1.0", "deployed", "2026-01-02T00:00:00.000Z"),
        record("1.2.0", "rolled_back", "2026-01-03T00:00:00.000Z", previous="1.1.0"),
    ]
    found, why = previous_version(registry, "1.3.0", records)  # type: ignore[arg-type]
    assert found is not None and found.version == "1.1.0"  # not 1.2.0: it was rolled back
    assert "the last version deployed" in why


def test_a_failed_record_and_the_failed_version_itself_are_skipped():
    registry = Versions("1.0.0", "1.1.0", production="1.1.0")
    records = [
        record("1.0.0", "deployed", "2026-01-01T00:00:00.000Z"),
        record("1.1.0", "deployed", "2026-01-02T00:00:00.000Z"),
        record("0.9.0", "failed", "2026-01-03T00:00:00.000Z"),
    ]
    found, _ = previous_version(registry, "1.1.0", records)  # type: ignore[arg-type]
    assert found is not None and found.version == "1.0.0"


def test_without_records_production_decides_when_it_names_another_version():
    found, why = previous_version(Versions("1.0.0", "1.1.0", production="1.0.0"), "1.1.0", [])  # type: ignore[arg-type]
    assert found is not None and found.version == "1.0.0" and "'production' names it" in why
    none, why = previous_version(Versions("1.1.0", production="1.1.0"), "1.1.0", [])  # type: ignore[arg-type]
    assert none is None and "no deploy record of another version" in why


def test_production_goes_back_only_when_it_names_the_failed_version():
    registry = Versions("1.0.0", "1.1.0", "1.2.0", production="1.1.0")
    assert hand_back_production(registry, "1.1.0", "1.0.0") == (  # type: ignore[arg-type]
        True,
        "'production' moved back from 1.1.0 to 1.0.0",
    )
    assert registry.aliases["production"] == "1.0.0"
    registry.aliases["production"] = "1.2.0"  # a newer release took it meanwhile
    assert hand_back_production(registry, "1.1.0", "1.0.0") == (False, "'production' stays at 1.2.0")  # type: ignore[arg-type]
    assert registry.aliases["production"] == "1.2.0"


def test_production_stays_on_the_failed_version_when_there_is_nothing_to_go_back_to():
    registry = Versions("1.1.0", production="1.1.0")
    moved, note = hand_back_production(registry, "1.1.0", None)  # type: ignore[arg-type]
    assert not moved and "still names 1.1.0" in note and registry.aliases["production"] == "1.1.0"
