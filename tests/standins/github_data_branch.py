"""The GitHub API stand-in extended with the git data and contents operations of a data branch.

It reuses :class:`tests.standins.github.GitHubStandIn` (request/response validation, tokens, injected faults),
serves the operations of ``tests/contracts/github-metadata-subset.json`` (and the sticky comment's) and keeps
a repository's objects and branches, behaving as GitHub does where it matters to a compare-and-swap:

- blobs have git's sha (``sha1("blob <size>\\0" + bytes)``); trees and commits get 40-hex ids of their content;
- ``POST /git/trees`` builds on ``base_tree`` (entries with slashes make folders; ``content`` writes a blob,
  ``sha`` names one, ``sha: null`` deletes); an unknown ``base_tree`` is a 422;
- ``POST /git/commits`` refuses (422) an unknown tree or parent;
- ``PATCH /git/refs/heads/<branch>`` moves a branch only to a descendant of where it points unless
  ``force`` is true (422 "Update is not a fast forward"), and refuses (422) a ref that does not exist;
- ``POST /git/refs`` refuses (422) a ref that exists;
- ``GET /contents/<path>?ref=`` reads at a commit sha or a branch name: a folder lists its entries, a file
  comes base64-encoded in lines of 60 characters, and above 1 MB with ``encoding: none`` and no content,
  as GitHub's contents API does; a missing path, ref or branch is a 404.

:class:`DataBranchRepository` holds that state and those operations, so the releases stand-in
(``tests/standins/github_releases.py``) serves them too. ``before_ref_update`` (a callable, or None) runs
before each ref update is applied, outside the lock: a test uses it to move the branch meanwhile, as a
concurrent job would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.standins.github import Contract, GitHubStandIn, Operation, _now

CONTRACT = Path(__file__).resolve().parents[1] / "contracts" / "github-metadata-subset.json"
SHA = re.compile(r"^[0-9a-f]{40}$")
CONTENTS_LIMIT = 1024 * 1024  # above this the contents API sends no content
MULTI_SEGMENT = ("{ref}", "{path}")


DATA_BRANCH_OPERATIONS = {
    ("GET", "/repos/{owner}/{repo}/contents/{path}"),
    ("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}"),
    ("POST", "/repos/{owner}/{repo}/git/trees"),
    ("POST", "/repos/{owner}/{repo}/git/commits"),
}
GET_REF = ("GET", "/repos/{owner}/{repo}/git/ref/{ref}")
UPDATE_REF = ("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}")
CREATE_REF = ("POST", "/repos/{owner}/{repo}/git/refs")


def with_data_branch_operations(contract: Contract) -> Contract:
    """``contract`` with the data branch's operations added (those it lacks), their ``{ref}`` and ``{path}``
    spanning slashes (``heads/a/b``, ``runs/m/x.jsonl``)."""
    known = {(o.method, o.template) for o in contract.operations}
    for operation in Contract(CONTRACT).operations:
        if (operation.method, operation.template) in known:
            continue
        for name in MULTI_SEGMENT:
            if name in operation.template:
                regex = "^" + re.escape(operation.template).replace(re.escape(name), f"(?P<{name[1:-1]}>.+)")
                regex = re.sub(r"\\\{([a-z_]+)\\\}", r"(?P<\1>[^/]+)", regex) + "$"
                operation.pattern = re.compile(regex)
        contract.operations.append(operation)
    return contract


class DataBranchRepository:
    """The objects and branches of a repository, served through the data branch's operations: mixed into a
    stand-in (``_init_data_branch`` in its ``__init__``, ``_data_branch_call`` and ``_apply_data_branch`` in
    its ``_apply``) that has ``_lock``, ``_next_id``, ``repository``, ``url`` and ``_not_found``."""

    _lock: Any
    _next_id: int
    repository: str
    url: str

    def _init_data_branch(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.trees: dict[str, dict[str, str]] = {}  # tree sha -> {file path: blob sha} (folders implied)
        self.commits: dict[str, dict[str, Any]] = {}
        self.branch_refs: dict[str, str] = {}  # "refs/heads/x" -> commit sha (tags, where served, apart)
        self.trees[self._tree_sha({})] = {}

    @staticmethod
    def _data_branch_call(key: tuple[str, str], params: dict[str, str], body: Any) -> bool:
        """Whether the request is one of the data branch's (a branch's ref, not a tag's)."""
        if key in DATA_BRANCH_OPERATIONS:
            return True
        if key in (GET_REF, UPDATE_REF):
            return params.get("ref", "").startswith("heads/")
        if key == CREATE_REF:
            return isinstance(body, dict) and str(body.get("ref", "")).startswith("refs/heads/")
        return False

    # -- setup and inspection -------------------------------------------------------------------------

    def branch_files(self, branch: str) -> dict[str, str]:
        """The files of ``branch`` at its head, as text."""
        with self._lock:
            commit = self.commits[self.branch_refs[f"refs/heads/{branch}"]]
            return {path: self.blobs[sha].decode() for path, sha in self.trees[commit["tree"]].items()}

    def branch_log(self, branch: str) -> list[str]:
        """The commit messages of ``branch``, newest first (first parents)."""
        with self._lock:
            sha: str | None = self.branch_refs.get(f"refs/heads/{branch}")
            messages = []
            while sha:
                commit = self.commits[sha]
                messages.append(commit["message"])
                sha = commit["parents"][0] if commit["parents"] else None
            return messages

    def commit_files(self, branch: str, files: dict[str, str], message: str = "seeded") -> str:
        """A commit on ``branch`` (created if absent) with ``files`` written on its tree; its sha."""
        with self._lock:
            ref = f"refs/heads/{branch}"
            parent = self.branch_refs.get(ref)
            base = dict(self.trees[self.commits[parent]["tree"]]) if parent else {}
            for path, text in files.items():
                base[path] = self._blob(text.encode())
            tree = self._tree_sha(base)
            self.trees[tree] = base
            sha = self._commit(tree, [parent] if parent else [], message)
            self.branch_refs[ref] = sha
            return sha

    # -- objects --------------------------------------------------------------------------------------

    def _blob(self, data: bytes) -> str:
        sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        self.blobs[sha] = data
        return sha

    @staticmethod
    def _tree_sha(files: dict[str, str]) -> str:
        return hashlib.sha1(b"tree " + json.dumps(sorted(files.items())).encode()).hexdigest()

    def _commit(self, tree: str, parents: list[str], message: str) -> str:
        self._next_id += 1
        stamp = _now()
        sha = hashlib.sha1(json.dumps([tree, parents, message, stamp, self._next_id]).encode()).hexdigest()
        self.commits[sha] = {"tree": tree, "parents": parents, "message": message, "date": stamp}
        return sha

    def _descends(self, sha: str, ancestor: str) -> bool:
        seen, todo = set(), [sha]
        while todo:
            current = todo.pop()
            if current == ancestor:
                return True
            if current in seen or current not in self.commits:
                continue
            seen.add(current)
            todo += self.commits[current]["parents"]
        return False

    # -- views ----------------------------------------------------------------------------------------

    def _commit_view(self, api: str, sha: str) -> dict[str, Any]:
        commit = self.commits[sha]
        person = {
            "name": "github-actions[bot]",
            "email": "bot@users.noreply.github.example",
            "date": commit["date"],
        }
        return {
            "sha": sha,
            "node_id": f"C_{sha[:12]}",
            "url": f"{api}/git/commits/{sha}",
            "html_url": f"https://github.example/{self.repository}/commit/{sha}",
            "author": person,
            "committer": person,
            "tree": {"sha": commit["tree"], "url": f"{api}/git/trees/{commit['tree']}"},
            "message": commit["message"],
            "parents": [
                {
                    "sha": parent,
                    "url": f"{api}/git/commits/{parent}",
                    "html_url": f"https://github.example/{self.repository}/commit/{parent}",
                }
                for parent in commit["parents"]
            ],
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        }

    def _tree_view(self, api: str, sha: str) -> dict[str, Any]:
        return {
            "sha": sha,
            "url": f"{api}/git/trees/{sha}",
            "truncated": False,
            "tree": [
                {
                    "path": path,
                    "mode": "100644",
                    "type": "blob",
                    "sha": blob,
                    "size": len(self.blobs[blob]),
                    "url": f"{api}/git/blobs/{blob}",
                }
                for path, blob in sorted(self.trees[sha].items())
            ],
        }

    def _branch_ref_view(self, api: str, ref: str) -> dict[str, Any]:
        sha = self.branch_refs[ref]
        return {
            "ref": ref,
            "node_id": f"REF_{hashlib.sha1(ref.encode()).hexdigest()[:8]}",
            "url": f"{api}/git/{ref}",
            "object": {"type": "commit", "sha": sha, "url": f"{api}/git/commits/{sha}"},
        }

    def _entry_view(self, api: str, path: str, kind: str, sha: str, size: int, ref: str) -> dict[str, Any]:
        self_url = f"{api}/contents/{path}?ref={ref}"
        git_url = f"{api}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}"
        html = f"https://github.example/{self.repository}/{'blob' if kind == 'file' else 'tree'}/{ref}/{path}"
        return {
            "type": kind,
            "size": size,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "url": self_url,
            "git_url": git_url,
            "html_url": html,
            "download_url": f"https://raw.github.example/{self.repository}/{ref}/{path}"
            if kind == "file"
            else None,
            "_links": {"git": git_url, "html": html, "self": self_url},
        }

    def _contents(self, api: str, path: str, ref: str) -> tuple[int, Any, dict[str, str]]:
        sha = ref if ref in self.commits else self.branch_refs.get(f"refs/heads/{ref}")
        if sha is None:
            return (
                404,
                {
                    "message": f"No commit found for the ref {ref}",
                    "documentation_url": "https://docs.github.com/rest",
                },
                {},
            )
        files = self.trees[self.commits[sha]["tree"]]
        path = path.strip("/")
        if path in files:
            data = self.blobs[files[path]]
            view = self._entry_view(api, path, "file", files[path], len(data), ref)
            if len(data) > CONTENTS_LIMIT:
                return 200, {**view, "content": "", "encoding": "none"}, {}
            encoded = base64.b64encode(data).decode()
            lines = "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60))
            return 200, {**view, "content": lines + ("\n" if lines else ""), "encoding": "base64"}, {}
        prefix = path + "/"
        children: dict[str, tuple[str, int]] = {}
        for file_path, blob in files.items():
            if not file_path.startswith(prefix):
                continue
            name, _, rest = file_path[len(prefix) :].partition("/")
            children[prefix + name] = ("dir", 0) if rest else ("file", len(self.blobs[blob]))
        if not children:
            return self._not_found()
        entries = [
            self._entry_view(
                api,
                child,
                kind,
                files[child]
                if kind == "file"
                else self._tree_sha({p: b for p, b in files.items() if p.startswith(child + "/")}),
                size,
                ref,
            )
            for child, (kind, size) in sorted(children.items())
        ]
        return 200, entries, {}

    def _apply_data_branch(
        self, operation: Operation, repo_name: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        key = (operation.method, operation.template)
        if repo_name != self.repository:
            return self._not_found()
        api = f"{self.url}/repos/{repo_name}"

        def invalid(message: str) -> tuple[int, Any, dict[str, str]]:
            return 422, {"message": message, "documentation_url": "https://docs.github.com/rest"}, {}

        if key == ("GET", "/repos/{owner}/{repo}/git/ref/{ref}"):
            ref = "refs/" + params["ref"]
            return (
                (200, self._branch_ref_view(api, ref), {}) if ref in self.branch_refs else self._not_found()
            )
        if key == ("GET", "/repos/{owner}/{repo}/contents/{path}"):
            default = next(iter(self.branch_refs), "refs/heads/main").removeprefix("refs/heads/")
            return self._contents(api, params["path"], query.get("ref", default))
        if key == ("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}"):
            sha = params["commit_sha"]
            return (200, self._commit_view(api, sha), {}) if sha in self.commits else self._not_found()
        if key == ("POST", "/repos/{owner}/{repo}/git/trees"):
            base_sha = body.get("base_tree")
            if base_sha is not None and base_sha not in self.trees:
                return invalid("base_tree is not a valid tree oid")
            files = dict(self.trees[base_sha]) if base_sha else {}
            for entry in body["tree"]:
                path = str(entry.get("path", "")).strip("/")
                if not path or ("content" in entry and entry.get("sha") is not None):
                    return invalid("tree entries need a path and either content or sha")
                if "content" in entry:
                    files[path] = self._blob(str(entry["content"]).encode())
                elif entry.get("sha") is None:
                    files.pop(path, None)
                elif entry["sha"] in self.blobs:
                    files[path] = entry["sha"]
                else:
                    return invalid("tree.sha is not a valid blob")
            sha = self._tree_sha(files)
            self.trees[sha] = files
            return 201, self._tree_view(api, sha), {"Location": f"{api}/git/trees/{sha}"}
        if key == ("POST", "/repos/{owner}/{repo}/git/commits"):
            tree, parents = body["tree"], list(body.get("parents") or [])
            if tree not in self.trees:
                return invalid("Tree SHA does not exist")
            if any(parent not in self.commits for parent in parents):
                return invalid("Parent SHA does not exist or is not a commit object")
            sha = self._commit(tree, parents, str(body["message"]))
            return 201, self._commit_view(api, sha), {"Location": f"{api}/git/commits/{sha}"}
        if key == ("POST", "/repos/{owner}/{repo}/git/refs"):
            ref, sha = body["ref"], body["sha"]
            if not ref.startswith("refs/") or ref.count("/") < 2 or not SHA.match(sha):
                return invalid("Reference name or sha is invalid")
            if ref in self.branch_refs:
                return invalid("Reference already exists")
            if sha not in self.commits:
                return invalid("Object does not exist")
            self.branch_refs[ref] = sha
            return 201, self._branch_ref_view(api, ref), {"Location": f"{api}/git/{ref}"}
        if key == ("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}"):
            ref, sha = "refs/" + params["ref"], body["sha"]
            if ref not in self.branch_refs:
                return invalid("Reference does not exist")
            if sha not in self.commits:
                return invalid("Object does not exist")
            if not body.get("force") and not self._descends(sha, self.branch_refs[ref]):
                return invalid("Update is not a fast forward")
            self.branch_refs[ref] = sha
            return 200, self._branch_ref_view(api, ref), {}
        return self._not_found()


class GitHubDataBranchStandIn(DataBranchRepository, GitHubStandIn):
    """``with GitHubDataBranchStandIn(token=...) as api:`` — refs, commits, trees and contents (and the
    sticky comment's operations)."""

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.contract = with_data_branch_operations(Contract())
        self._init_data_branch()
        self.before_ref_update: Callable[[], None] | None = None

    # -- hooks into the base stand-in -----------------------------------------------------------------

    def _handle(self, handler: Any) -> None:
        if handler.command in ("PATCH", "POST") and "/git/refs" in handler.path and self.before_ref_update:
            self.before_ref_update()
        return super()._handle(handler)

    def _apply(
        self, operation: Operation, repo_name: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if self._data_branch_call((operation.method, operation.template), params, body):
            return self._apply_data_branch(operation, repo_name, params, query, body)
        return super()._apply(operation, repo_name, params, query, body)
