"""tests/contracts/github-releases-subset.json: the GitHub REST operations of the releases registry, the
promotion of the pull request's model (workflow artifacts) and the deploy dispatch, derived from the shared extract; regenerate with

    python tests/contracts/test_github_releases.py [SOURCE]

Source: ``shared/contracts/github-openapi-subset.json`` beside the repository, itself extracted from
github/rest-api-description (descriptions/api.github.com/api.github.com.json, as republished in npm
@octokit/openapi 23.0.2). The operations in OPERATIONS are kept unchanged except that ``examples`` are
dropped, as tests/contracts/derive_github_subset.py does.

The shared extract lacks one operation the registry needs to download a private repository's assets:
``GET /repos/{owner}/{repo}/releases/assets/{asset_id}`` (operationId repos/get-release-asset in
github/rest-api-description). It is added from its upstream operation object, with its ``$ref``s resolved
to the shared extract's own inlined copies (the ``owner``/``repo`` parameters, the ``release-asset`` schema
of the upload response, the ``not_found`` response), and marked ``x-supplemented``.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "contracts" / "github-openapi-subset.json"
TARGET = ROOT / "tests" / "contracts" / "github-releases-subset.json"

OPERATIONS = (
    ("get", "/repos/{owner}/{repo}/releases"),
    ("post", "/repos/{owner}/{repo}/releases"),
    ("get", "/repos/{owner}/{repo}/releases/{release_id}"),
    ("patch", "/repos/{owner}/{repo}/releases/{release_id}"),
    ("delete", "/repos/{owner}/{repo}/releases/{release_id}"),
    ("get", "/repos/{owner}/{repo}/releases/tags/{tag}"),
    ("get", "/repos/{owner}/{repo}/releases/{release_id}/assets"),
    ("post", "/repos/{owner}/{repo}/releases/{release_id}/assets"),
    ("post", "/repos/{owner}/{repo}/git/refs"),
    ("get", "/repos/{owner}/{repo}/git/ref/{ref}"),
    ("delete", "/repos/{owner}/{repo}/git/refs/{ref}"),
    ("post", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("get", "/repos/{owner}/{repo}/actions/artifacts"),
    ("get", "/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}"),
)
ASSET_PATH = "/repos/{owner}/{repo}/releases/assets/{asset_id}"


def _without_examples(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_examples(v) for k, v in node.items() if k != "examples"}
    if isinstance(node, list):
        return [_without_examples(v) for v in node]
    return node


def _get_release_asset(source: dict[str, Any]) -> dict[str, Any]:
    """repos/get-release-asset as upstream describes it, its references resolved within the shared extract."""
    upload = source["paths"]["/repos/{owner}/{repo}/releases/{release_id}/assets"]["post"]
    list_releases = source["paths"]["/repos/{owner}/{repo}/releases"]["get"]
    owner_repo = [p for p in upload["parameters"] if p["name"] in ("owner", "repo")]
    asset_schema = copy.deepcopy(upload["responses"]["201"]["content"]["application/json"]["schema"])
    return {
        "summary": "Get a release asset",
        "description": "To download the asset's binary content, set the `Accept` header of the request to "
        "`application/octet-stream`. The API will either redirect the client to the location, or stream it "
        "directly if possible. API clients should handle both a `200` or `302` response.",
        "tags": ["repos"],
        "operationId": "repos/get-release-asset",
        "parameters": [
            *copy.deepcopy(owner_repo),
            {
                "name": "asset_id",
                "description": "The unique identifier of the asset.",
                "in": "path",
                "required": True,
                "schema": {"type": "integer"},
                "x-resolved-from": "#/components/parameters/asset-id",
            },
        ],
        "responses": {
            "200": {"description": "Response", "content": {"application/json": {"schema": asset_schema}}},
            "404": copy.deepcopy(list_releases["responses"]["404"]),
            "302": {"description": "Found", "x-resolved-from": "#/components/responses/found"},
        },
        "x-supplemented": "not in shared/contracts/github-openapi-subset.json; operation object of "
        "repos/get-release-asset from github/rest-api-description with $refs resolved from the shared extract",
    }


def derive(source: dict[str, Any]) -> dict[str, Any]:
    """The subset of ``source`` holding OPERATIONS, plus the supplemented asset download."""
    paths: dict[str, Any] = {}
    for method, path in OPERATIONS:
        paths.setdefault(path, {})[method] = _without_examples(source["paths"][path][method])
    paths[ASSET_PATH] = {"get": _without_examples(_get_release_asset(source))}
    info = dict(source.get("x-extract-info", {}))
    info["derived_by"] = (
        "tests/contracts/test_github_releases.py from shared/contracts/github-openapi-subset.json"
    )
    info["operations"] = [f"{m.upper()} {p}" for m, p in OPERATIONS] + [f"GET {ASSET_PATH} (supplemented)"]
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
        "regenerate with: python tests/contracts/test_github_releases.py"
    )


def test_every_call_of_the_registry_is_in_the_subset():
    committed = json.loads(TARGET.read_text(encoding="utf-8"))
    for method, path in [*OPERATIONS, ("get", ASSET_PATH)]:
        assert method in committed["paths"][path], (method, path)
    upload = committed["paths"]["/repos/{owner}/{repo}/releases/{release_id}/assets"]["post"]
    assert "application/octet-stream" in upload["requestBody"]["content"]
    asset = upload["responses"]["201"]["content"]["application/json"]["schema"]
    assert {"size", "state", "digest"} <= set(asset["properties"])


def main(argv: list[str]) -> int:
    source_path = Path(argv[1]) if len(argv) > 1 else SHARED
    subset = derive(json.loads(source_path.read_text(encoding="utf-8")))
    TARGET.write_text(json.dumps(subset, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {TARGET} ({len(subset['paths'])} paths)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
