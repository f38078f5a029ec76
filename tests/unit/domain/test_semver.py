from __future__ import annotations

import pytest

from mlops_actions.domain.semver import next_version, parse_version, sort_versions, version_tag
from mlops_actions.errors import MlopsError


def test_first_version_is_1_0_0() -> None:
    assert next_version([]) == "1.0.0"


@pytest.mark.parametrize(("bump", "expected"), [("major", "2.0.0"), ("minor", "1.3.0"), ("patch", "1.2.4")])
def test_bump_starts_from_the_highest_version(bump: str, expected: str) -> None:
    assert next_version(["1.2.3", "1.0.0", "0.9.9"], bump) == expected


def test_versions_sort_semantically_not_as_text() -> None:
    assert sort_versions(["1.10.0", "1.2.0", "1.9.1"]) == ["1.2.0", "1.9.1", "1.10.0"]


def test_tag_follows_model_at_v_convention() -> None:
    assert version_tag("credit-default", "v1.2.0") == "credit-default@v1.2.0"


@pytest.mark.parametrize("text", ["1.2", "01.2.3", "1.2.3-rc1", "latest"])
def test_non_semantic_versions_are_refused(text: str) -> None:
    with pytest.raises(MlopsError, match="not a semantic version"):
        parse_version(text)
