"""Regenerate github-openapi-subset.json: the GitHub REST operations mlops-actions uses.

Source: ``shared/contracts/github-openapi-subset.json`` beside the repository, itself extracted from
github/rest-api-description (descriptions/api.github.com/api.github.com.json, as republished in npm
@octokit/openapi 23.0.2). This script keeps the operations listed in OPERATIONS unchanged, except that
``examples`` (references to components the extract left out) are dropped.

    python tests/contracts/derive_github_subset.py [SOURCE]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[2] / "shared" / "contracts" / "github-openapi-subset.json"
TARGET = HERE / "github-openapi-subset.json"

# (method, path): what mlops_actions.platforms.github.comments and .platform (issues) call.
OPERATIONS = (
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("delete", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("get", "/user"),  # the token's own identity: whose sticky comments are ours
    ("get", "/repos/{owner}/{repo}/issues"),  # the open issues: which one carries a key's marker
    ("post", "/repos/{owner}/{repo}/issues"),  # open the issue of a key
    ("patch", "/repos/{owner}/{repo}/issues/{issue_number}"),  # update or close it
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
        "tests/contracts/derive_github_subset.py from shared/contracts/github-openapi-subset.json"
    )
    info["operations"] = [f"{m.upper()} {p}" for m, p in OPERATIONS]
    return {
        "x-extract-info": info,
        "openapi": source["openapi"],
        "servers": source["servers"],
        "paths": paths,
    }


def main(argv: list[str]) -> int:
    source_path = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    subset = derive(json.loads(source_path.read_text(encoding="utf-8")))
    TARGET.write_text(json.dumps(subset, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {TARGET} ({len(OPERATIONS)} operations)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
