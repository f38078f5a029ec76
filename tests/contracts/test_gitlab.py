"""The GitLab API contract of the tests agrees with the shared notes it is derived from."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests" / "contracts" / "gitlab" / "gitlab-api-contract.json"
NOTES = ROOT.parent / "shared" / "contracts" / "gitlab-api-notes.md"
IDENTITY_NOTES = ROOT.parent / "shared" / "contracts" / "NOTES.md"  # GitLab identity: GET /user


def contract() -> dict:
    return json.loads(CONTRACT.read_text(encoding="utf-8"))


def notes_operations() -> set[tuple[str, str]]:
    """(method, path relative to /api/v4) of every table row of the shared notes ("same path": the row above)."""
    found = set()
    previous = ""
    for method, cell in re.findall(r"^\|\s*(GET|POST|PUT|DELETE)\s*\|\s*([^|]+)\|", NOTES.read_text(), re.M):
        quoted = re.search(r"`([^`]+)`", cell)
        path = quoted.group(1) if quoted else previous if "same path" in cell else ""
        previous = path
        path = re.sub(r":(\w+)", r"{\1}", path.removeprefix("/api/v4"))
        found.add(
            (method, path.replace("*package_version/(*path/){file_name}", "{package_version}/{file_name}"))
        )
    return found


def test_every_operation_of_the_contract_is_in_the_shared_notes():
    if not NOTES.is_file():
        pytest.skip(f"{NOTES} is not there (the shared folder sits next to the repository)")
    documented, text = notes_operations(), NOTES.read_text()
    if IDENTITY_NOTES.is_file():
        text += IDENTITY_NOTES.read_text()
    for operation in contract()["operations"]:
        colon_path = re.sub(r"\{(\w+)\}", r":\1", operation["path"])
        assert (
            (operation["method"], operation["path"]) in documented  # a table row
            or f"`{operation['id']}`" in text  # a bullet naming the operation id
            or f"{operation['method']} {colon_path}" in text  # the prose
        ), operation["id"]


def test_the_job_token_rules_follow_the_job_token_table():
    by_id = {op["id"]: op for op in contract()["operations"]}
    note_writes = {"createMergeRequestNote", "updateMergeRequestNote", "deleteMergeRequestNote"}
    for op_id, operation in by_id.items():
        if op_id in note_writes or op_id in ("postApiV4ProjectsIdRepositoryTags", "getCurrentUser"):
            assert operation["job_token"] is False, op_id
        else:
            assert operation["job_token"] is True, op_id


def test_the_note_body_limit_and_the_release_body_match_the_notes():
    by_id = {op["id"]: op for op in contract()["operations"]}
    assert by_id["createMergeRequestNote"]["body"]["properties"]["body"]["maxLength"] == 1_000_000
    release = by_id["postApiV4ProjectsIdReleases"]["body"]
    assert release["required"] == ["tag_name"]
    assert {"tag_name", "tag_message", "name", "description", "ref", "assets", "released_at"} <= set(
        release["properties"]
    )
    link = release["properties"]["assets"]["properties"]["links"]["items"]
    assert link["required"] == ["name", "url"]
    assert link["properties"]["link_type"]["enum"] == ["other", "runbook", "image", "package"]


def test_every_referenced_definition_exists():
    document = contract()
    refs = set(re.findall(r'"#/definitions/(\w+)"', json.dumps(document)))
    assert refs <= set(document["definitions"])
