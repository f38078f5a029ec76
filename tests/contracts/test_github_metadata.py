"""tests/contracts/github-metadata-subset.json: the GitHub REST operations of the metadata store's data branch
(``mlops_actions/platforms/github/metadata.py``), derived from the shared extract; regenerate with

    python tests/contracts/test_github_metadata.py [SOURCE]

Source: ``shared/contracts/github-openapi-subset.json`` beside the repository, itself extracted from
github/rest-api-description (descriptions/api.github.com/api.github.com.json, as republished in npm
@octokit/openapi 23.0.2). The operations in OPERATIONS are kept unchanged except that ``examples`` are
dropped, as tests/contracts/derive_github_subset.py does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "contracts" / "github-openapi-subset.json"
TARGET = ROOT / "tests" / "contracts" / "github-metadata-subset.json"

OPERATIONS = (
    ("get", "/repos/{owner}/{repo}/git/ref/{ref}"),  # the branch head (404: no branch yet)
    ("get", "/repos/{owner}/{repo}/contents/{path}"),  # a folder's files, a file's text, at the head
    ("get", "/repos/{owner}/{repo}/git/commits/{commit_sha}"),  # the head's tree
    ("post", "/repos/{owner}/{repo}/git/trees"),  # the head's tree with the file appended to
    ("post", "/repos/{owner}/{repo}/git/commits"),  # a commit whose parent is the head read
    ("patch", "/repos/{owner}/{repo}/git/refs/{ref}"),  # the compare-and-swap (force: false)
    ("post", "/repos/{owner}/{repo}/git/refs"),  # the branch's first commit
)


def _without_examples(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_examples(v) for k, v in node.items() if k != "examples"}
    if isinstance(node, list):
        return [_without_examples(v) for v in node]
    return node


def derive(source: dict[str, Any]) -> dict[str, Any]:
    """The subset of ``source`` holding OPERATIONS only."""
    paths: dict[str, Any] = {}
    for method, path in OPERATIONS:
        paths.setdefault(path, {})[method] = _without_examples(source["paths"][path][method])
    info = dict(source.get("x-extract-info", {}))
    info["derived_by"] = (
        "tests/contracts/test_github_metadata.py from shared/contracts/github-openapi-subset.json"
    )
    info["operations"] = [f"{m.upper()} {p}" for m, p in OPERATIONS]
    return {
        "x-extract-info": info,
        "openapi": source["openapi"],
        "servers": source["servers"],
        "paths": paths,
    }


def test_the_committed_subset_is_derived_from_the_shared_extract():
    if not SHARED.is_file():
        pytest.skip(f"{SHARED} is not beside the repository")
    committed = json.loads(TARGET.read_text(encoding="utf-8"))
    assert committed == derive(json.loads(SHARED.read_text(encoding="utf-8"))), (
        "regenerate with: python tests/contracts/test_github_metadata.py"
    )


def test_the_subset_holds_exactly_the_operations_of_the_data_branch():
    paths = json.loads(TARGET.read_text(encoding="utf-8"))["paths"]
    assert {(method, path) for path, methods in paths.items() for method in methods} == set(OPERATIONS)


def test_the_compare_and_swap_is_a_fast_forward_only_update():
    paths = json.loads(TARGET.read_text(encoding="utf-8"))["paths"]
    update = paths["/repos/{owner}/{repo}/git/refs/{ref}"]["patch"]
    force = update["requestBody"]["content"]["application/json"]["schema"]["properties"]["force"]
    assert force["type"] == "boolean" and force["default"] is False
    assert "422" in update["responses"]  # GitHub's answer to an update that is not a fast-forward
    assert "422" in paths["/repos/{owner}/{repo}/git/refs"]["post"]["responses"]  # the ref exists
    read = paths["/repos/{owner}/{repo}/contents/{path}"]["get"]
    assert "ref" in {p["name"] for p in read["parameters"] if p["in"] == "query"}


def main(argv: list[str]) -> int:
    source_path = Path(argv[1]) if len(argv) > 1 else SHARED
    subset = derive(json.loads(source_path.read_text(encoding="utf-8")))
    TARGET.write_text(json.dumps(subset, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {TARGET} ({len(subset['paths'])} paths)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
