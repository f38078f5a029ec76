"""The metadata store on GitHub: the JSON Lines data branch (metadata/branch.py) through the REST API alone.

Reads: ``GET /git/ref/heads/<branch>`` (the head; 404 = no branch yet), then ``GET /contents/<path>?ref=<head>``
(folders list their files, a file comes base64-encoded) at that very commit. A write is a new tree
(``POST /git/trees`` on the head's tree, from ``GET /git/commits/<head>``), a commit whose parent is the
head read (``POST /git/commits``), and the compare-and-swap: ``PATCH /git/refs/heads/<branch>`` with
``force: false``, which GitHub refuses (422) unless it is a fast-forward, or ``POST /git/refs`` for the
branch's first commit (422 when it exists meanwhile). The token needs ``contents: write``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from mlops_actions.errors import GitHubApiError, StoreError
from mlops_actions.metadata.branch import WriteUnknown, append_record, list_branch_records
from mlops_actions.metadata.records import Listing, RunRecord
from mlops_actions.platforms.github.api import Access, GitHubClient

DEFAULT_BRANCH = "mlops-metadata"
READ_BRANCH = Access("read the metadata data branch", "contents: read")
WRITE_BRANCH = Access("append run records to the metadata data branch", "contents: write")
CONFLICTS = ("not a fast forward", "reference already exists")  # GitHub's 422 when another writer won


class GitHubBranchStore:
    """Run records in ``runs/<model>/<YYYY-MM>.jsonl`` on a branch of the repository."""

    def __init__(self, client: GitHubClient, branch: str = DEFAULT_BRANCH, **loop_options: Any):
        self.client = client
        self.branch = branch
        self.name = f"github data branch {client.repository}@{branch}"
        self.where = self.name
        self._loop_options = loop_options  # attempts, sleep (tests)

    def __repr__(self) -> str:
        return f"GitHubBranchStore(client={self.client!r}, branch={self.branch!r})"

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], env: Mapping[str, str] | None = None, **client_options: Any
    ) -> GitHubBranchStore:
        """The store on ``options["branch"]`` (default mlops-metadata) of ``options["repository"]`` (default
        GITHUB_REPOSITORY) at ``options["api_url"]`` (default GITHUB_API_URL); the token comes from
        MLOPS_GITHUB_TOKEN or GITHUB_TOKEN."""
        try:
            client = GitHubClient.from_options(options, env, **client_options)
        except GitHubApiError as error:
            raise StoreError(f"github metadata store: {error}") from None
        return cls(client, str(options.get("branch") or DEFAULT_BRANCH))

    # -- the store ----------------------------------------------------------------------------------

    def append(self, record: RunRecord) -> None:
        """Append ``record`` once (compare-and-swap on the branch head, retried on conflict)."""
        try:
            append_record(self, record, **self._loop_options)
        except GitHubApiError as error:
            raise StoreError(f"{self.name}: {error}") from None

    def list_records(self, model: str | None = None) -> Listing:
        try:
            return list_branch_records(self, model)
        except GitHubApiError as error:
            raise StoreError(f"{self.name}: {error}") from None

    def close(self) -> None:
        return None

    # -- the branch as files (metadata.branch.BranchFiles) ------------------------------------------

    def _ref_path(self) -> str:
        return self.client.repo_path(f"/git/ref/heads/{quote(self.branch, safe='/')}")

    def _contents_path(self, path: str) -> str:
        return self.client.repo_path(f"/contents/{quote(path, safe='/')}")

    def _json(self, response: Any, where: str) -> dict[str, Any]:
        return self.client.json_of(response, where, expect=dict)

    def head(self) -> str | None:
        response = self.client.request("GET", self._ref_path(), access=READ_BRANCH, allowed=frozenset({404}))
        if response.status_code == 404:
            return None
        sha = self._json(response, "GET the data branch").get("object", {}).get("sha")
        if not isinstance(sha, str) or not sha:
            raise StoreError(f"{self.name}: the branch's ref has no commit sha")
        return sha

    def files(self, head: str, folder: str) -> list[str]:
        response = self.client.request(
            "GET",
            self._contents_path(folder),
            access=READ_BRANCH,
            params={"ref": head},
            allowed=frozenset({404}),
        )
        if response.status_code == 404:
            return []
        entries = self.client.json_of(response, f"GET contents of {folder}")
        if not isinstance(entries, list):
            return []  # a file where a folder was expected: nothing of ours
        found: list[str] = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                continue
            if entry.get("type") == "file":
                found.append(entry["path"])
            elif entry.get("type") == "dir":
                found += self.files(head, entry["path"])
        return found

    def read(self, head: str, path: str) -> str:
        response = self.client.request(
            "GET",
            self._contents_path(path),
            access=READ_BRANCH,
            params={"ref": head},
            allowed=frozenset({404}),
        )
        if response.status_code == 404:
            return ""
        document = self._json(response, f"GET contents of {path}")
        if document.get("encoding") != "base64":
            raise StoreError(
                f"{self.name}: {path} cannot be read through the contents API "
                f"(encoding {document.get('encoding')!r}, {document.get('size')} bytes)"
            )
        try:
            data = base64.b64decode("".join(str(document.get("content", "")).split()), validate=True)
        except (binascii.Error, ValueError):
            raise StoreError(f"{self.name}: {path}: the contents API answered malformed base64") from None
        return data.decode("utf-8", errors="replace")

    def write(self, head: str | None, path: str, text: str, message: str) -> bool:
        entry = {"path": path, "mode": "100644", "type": "blob", "content": text}
        tree_request: dict[str, Any] = {"tree": [entry]}
        if head is not None:
            commit = self._json(
                self.client.request("GET", self.client.repo_path(f"/git/commits/{head}"), access=READ_BRANCH),
                "GET the head commit",
            )
            tree_request["base_tree"] = str(commit.get("tree", {}).get("sha", ""))
        tree = self._json(
            self.client.request(
                "POST", self.client.repo_path("/git/trees"), access=WRITE_BRANCH, json=tree_request
            ),
            "POST a tree",
        )
        created = self._json(
            self.client.request(
                "POST",
                self.client.repo_path("/git/commits"),
                access=WRITE_BRANCH,
                json={"message": message, "tree": tree.get("sha"), "parents": [head] if head else []},
            ),
            "POST a commit",
        )
        sha = created.get("sha")
        if not isinstance(sha, str) or not sha:
            raise StoreError(f"{self.name}: the created commit has no sha")
        if head is None:
            method, target = "POST", self.client.repo_path("/git/refs")
            body: dict[str, Any] = {"ref": f"refs/heads/{self.branch}", "sha": sha}
        else:
            method, target = "PATCH", self.client.repo_path(f"/git/refs/heads/{quote(self.branch, safe='/')}")
            body = {"sha": sha, "force": False}
        try:
            response = self.client.request(
                method, target, access=WRITE_BRANCH, json=body, allowed=frozenset({422}), retry=False
            )
        except GitHubApiError as error:
            if error.status == 0 or error.status >= 500 or self.client.is_retryable(error):
                raise WriteUnknown(str(error)) from None  # it may have moved the branch: read again
            raise
        if response.status_code != 422:
            return True
        reason = str(self.client.json_of(response, f"{method} the branch ref").get("message", ""))
        if any(conflict in reason.lower() for conflict in CONFLICTS):
            return False
        raise StoreError(f"{self.name}: GitHub refused to move the branch (HTTP 422: {reason[:200]})")
