"""The GitHub API contract the stand-in enforces is the shared extract, cut to the operations we use."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "github-openapi-subset.json"


def derive_module():
    spec = importlib.util.spec_from_file_location(
        "derive_github_subset", CONTRACTS / "derive_github_subset.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_subset_names_its_upstream_source():
    info = json.loads((CONTRACTS / "github-openapi-subset.json").read_text())["x-extract-info"]
    assert info["source_repository"] == "github/rest-api-description"
    assert "api.github.com.json" in info["source_file"]


def test_the_subset_holds_exactly_the_operations_the_forge_calls():
    paths = json.loads((CONTRACTS / "github-openapi-subset.json").read_text())["paths"]
    found = {(method, path) for path, methods in paths.items() for method in methods}
    assert found == set(derive_module().OPERATIONS)


@pytest.mark.skipif(not SHARED.is_file(), reason="shared/contracts is not beside the repository")
def test_the_subset_matches_the_shared_contract():
    derived = derive_module().derive(json.loads(SHARED.read_text()))
    committed = json.loads((CONTRACTS / "github-openapi-subset.json").read_text())
    assert committed == derived, "run: python tests/contracts/derive_github_subset.py"
