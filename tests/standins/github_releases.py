"""The GitHub API stand-in extended with releases, release assets, git refs and workflow dispatches.

It reuses :class:`tests.standins.github.GitHubStandIn` (request/response validation, tokens, injected faults,
pull requests as issues, the sticky comment), adds the operations of the contract
``tests/contracts/github-releases-subset.json`` to the comment's and keeps their state, behaving as GitHub
does where it matters to a registry:

- ``POST /git/refs`` refuses (422) a ref that exists: creating a tag is atomic;
- ``PATCH /git/refs/tags/<name>`` moves a tag that exists (else 422); to another commit only with
  ``force: true`` (else 422 "Update is not a fast forward": the stand-in knows no commit graph of tags,
  and a moving major tag is moved with force anyway);
- ``GET /releases`` lists drafts too (the token can push), newest first, with ``Link`` pagination;
  ``GET /releases/tags/{tag}`` finds published releases only;
- a release is published (``draft: false``) only when no other published release has its tag (else 422;
  the description lists only 200/404 for that PATCH, so this one 422 is allowed and documented here);
  publishing creates the tag at ``target_commitish`` when it does not exist yet;
- uploads go to the ``upload_url`` handed out with each release, take the raw bytes as
  ``application/octet-stream``, refuse a name already used in the release (422), and report the
  asset's ``size`` and ``digest`` (``sha256:<hex>``);
- ``GET /releases/assets/{id}`` with ``Accept: application/octet-stream`` redirects (302) to a storage URL
  that must be fetched without the token (``storage_tokens_seen`` records any that arrive there).

- the metadata store's data branch (refs/heads, commits, trees, contents) as
  :class:`tests.standins.github_data_branch.DataBranchRepository` serves it, so the runs a stage records
  land on the branch within the contract;
- ``GET /actions/artifacts?name=`` lists the workflow artifacts added with :meth:`add_artifact` (newest
  first, paginated), and ``GET /actions/artifacts/{id}/zip`` redirects (302) to a storage URL serving the
  zip, which must be fetched without the token; an expired artifact answers 410.

Faults for the tests: ``fail_upload(n)`` answers the n-th next upload with a 502 after storing it (a lost
response), ``corrupt_downloads`` serves altered bytes, ``upload_gate`` holds uploads (``upload_started``
tells when one arrived) so that a test can kill the uploading process midway.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode, urlsplit

from tests.standins.github import Contract, Fault, GitHubStandIn, Operation, _now
from tests.standins.github_data_branch import DataBranchRepository, with_data_branch_operations

CONTRACT = (
    __import__("pathlib").Path(__file__).resolve().parents[1] / "contracts" / "github-releases-subset.json"
)
UPLOAD = ("POST", "/repos/{owner}/{repo}/releases/{release_id}/assets")
ASSET = ("GET", "/repos/{owner}/{repo}/releases/assets/{asset_id}")
ARTIFACTS = ("GET", "/repos/{owner}/{repo}/actions/artifacts")
ARTIFACT_ZIP = ("GET", "/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}")
REPOSITORY_ID = 4242
PATCH_RELEASE = ("PATCH", "/repos/{owner}/{repo}/releases/{release_id}")
STORAGE = "/_storage/"
SHA = re.compile(r"^[0-9a-f]{40}$")


class GitHubReleasesStandIn(DataBranchRepository, GitHubStandIn):
    """``with GitHubReleasesStandIn(token=...) as api:`` — releases, assets, refs and dispatches."""

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.contract = Contract(CONTRACT)
        for operation in self.contract.operations:  # a git ref contains slashes: tags/<name>
            if "{ref}" in operation.template:
                regex = "^" + re.escape(operation.template).replace(r"\{ref\}", "(?P<ref>.+)")
                regex = re.sub(r"\\\{([a-z_]+)\\\}", r"(?P<\1>[^/]+)", regex) + "$"
                operation.pattern = re.compile(regex)
        known = {(o.method, o.template) for o in self.contract.operations}  # and the sticky comment's
        self.contract.operations += [o for o in Contract().operations if (o.method, o.template) not in known]
        self.releases: dict[int, dict[str, Any]] = {}
        self.assets: dict[int, dict[str, Any]] = {}  # asset id -> {"release": id, "meta": ..., "data": bytes}
        self.refs: dict[str, str] = {}  # "refs/tags/x" -> commit sha
        self.ref_moves: list[tuple[str, str]] = []  # (ref, new sha) of every PATCH of a tag's ref
        self.contract = with_data_branch_operations(self.contract)  # the runs a stage records
        self._init_data_branch()
        self.dispatches: list[dict[str, Any]] = []
        self.artifacts: dict[int, dict[str, Any]] = {}  # artifact id -> {"meta": ..., "data": zip bytes}
        self.storage_tokens_seen: list[str] = []
        self.corrupt_downloads = False
        self._upload_countdown: int | None = None
        self._local = threading.local()
        self.upload_started = threading.Event()  # set when an upload arrives
        self.upload_gate: threading.Event | None = None  # when set, uploads wait until it is set

    # -- setup and inspection -------------------------------------------------------------------------

    def fail_upload(self, nth: int = 1) -> None:
        """Answer the ``nth`` next asset upload with a 502 (a ``starter`` asset is left behind)."""
        with self._lock:
            self._upload_countdown = nth

    def set_labels(self, number: int, labels: list[str]) -> None:
        with self._lock:
            self._repo().issues[number]["labels"] = [
                {
                    "id": 9000 + i,
                    "node_id": f"LA_{i}",
                    "url": f"{self.url}/repos/{self.repository}/labels/{name}",
                    "name": name,
                    "description": None,
                    "color": "ededed",
                    "default": False,
                }
                for i, name in enumerate(labels)
            ]

    def add_artifact(
        self,
        name: str,
        data: bytes,
        *,
        run_id: int = 1,
        head_repository_id: int = REPOSITORY_ID,
        expired: bool = False,
        digest: str | None = "",
    ) -> int:
        """Store a workflow artifact (a zip) as a run of ``head_repository_id`` uploaded it; its id.

        ``digest`` "" computes the sha256 as upload-artifact v4+ reports it; None reports none (older uploads).
        """
        with self._lock:
            self._next_id += 1
            aid = self._next_id
            api = f"{self.url}/repos/{self.repository}"
            self.artifacts[aid] = {
                "data": data,
                "meta": {
                    "id": aid,
                    "node_id": f"MDg6QXJ0aWZhY3Q{aid}",
                    "name": name,
                    "size_in_bytes": len(data),
                    "url": f"{api}/actions/artifacts/{aid}",
                    "archive_download_url": f"{api}/actions/artifacts/{aid}/zip",
                    "expired": expired,
                    "created_at": _now(),
                    "expires_at": _now(),
                    "updated_at": _now(),
                    "digest": ("sha256:" + hashlib.sha256(data).hexdigest()) if digest == "" else digest,
                    "workflow_run": {
                        "id": run_id,
                        "repository_id": REPOSITORY_ID,
                        "head_repository_id": head_repository_id,
                        "head_branch": "feature",
                        "head_sha": "f" * 40,
                    },
                },
            }
            return aid

    def published(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self.releases.values() if not r["draft"]]

    def drafts(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self.releases.values() if r["draft"]]

    def asset_bytes(self, release_id: int) -> dict[str, bytes]:
        with self._lock:
            return {a["meta"]["name"]: a["data"] for a in self.assets.values() if a["release"] == release_id}

    # -- hooks into the base stand-in -----------------------------------------------------------------

    def _handle(self, handler: Any) -> None:
        path = urlsplit(handler.path).path
        if path.startswith(STORAGE):
            return self._serve_storage(handler, path)
        self._local.raw = b""
        self._local.accept = ""
        self._local.key = None
        return super()._handle(handler)

    def _serve_storage(self, handler: Any, path: str) -> None:
        if handler.headers.get("Authorization"):
            with self._lock:
                self.storage_tokens_seen.append(handler.headers["Authorization"])
        kind, _, rest = path[len(STORAGE) :].partition("/")
        store = self.artifacts if kind == "artifact" else self.assets
        with self._lock:
            found = store.get(int(rest.split("/", 1)[0])) if rest[:1].isdigit() else None
        status, data = (404, b"not found") if found is None else (200, found["data"])
        if found is not None and self.corrupt_downloads and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        handler.send_response(status)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _check_request(
        self,
        operation: Operation,
        path_params: dict[str, str],
        query: dict[str, str],
        handler: Any,
        raw: bytes,
    ) -> list[str]:
        key = (operation.method, operation.template)
        self._local.key = key
        accept = handler.headers.get("Accept", "")
        self._local.accept = accept
        if key == UPLOAD:
            self._local.raw = raw
            self.upload_started.set()
            if self.upload_gate is not None:  # hold the upload (outside the lock) until the test says
                self.upload_gate.wait(timeout=120)
            problems = super()._check_request(operation, path_params, query, _headers(handler, None), b"")
            content_type = handler.headers.get("Content-Type", "")
            if not content_type or content_type.startswith("application/json"):
                problems.append(f"upload Content-Type {content_type!r}: expected the asset's media type")
            return problems
        if key == ASSET and accept == "application/octet-stream":
            return super()._check_request(
                operation, path_params, query, _headers(handler, "application/json"), raw
            )
        return super()._check_request(operation, path_params, query, handler, raw)

    def _check_response(
        self, operation: Operation, status: int, body: Any, headers: dict[str, str], where: str
    ) -> None:
        key = (operation.method, operation.template)
        if key == ASSET and status == 302:
            headers = {k: v for k, v in headers.items() if k != "Location"}
        if key == PATCH_RELEASE and status == 422:  # GitHub's "already_exists" for a tag's second release
            return
        super()._check_response(operation, status, body, headers, where)

    def _take_fault(self, method: str) -> Fault | None:
        if getattr(self._local, "key", None) == UPLOAD:
            with self._lock:
                if self._upload_countdown is not None:
                    self._upload_countdown -= 1
                    if self._upload_countdown == 0:
                        self._upload_countdown = None
                        return Fault(502, "POST", "lost-response")
        return super()._take_fault(method)

    # -- state ----------------------------------------------------------------------------------------

    def _release_view(self, release: dict[str, Any]) -> dict[str, Any]:
        assets = [a["meta"] for a in self.assets.values() if a["release"] == release["id"]]
        return {**release, "assets": assets}

    def _page(self, items: list[Any], query: dict[str, str], base: str) -> tuple[list[Any], dict[str, str]]:
        per_page = int(query.get("per_page", 30))
        page = int(query.get("page", 1))
        last = max(1, -(-len(items) // per_page))
        kept = {k: v for k, v in query.items() if k not in ("per_page", "page")}  # filters stay in the links
        links = []
        if page < last:
            links.append(
                f'<{base}?{urlencode({**kept, "per_page": per_page, "page": page + 1})}>; rel="next"'
            )
            links.append(f'<{base}?{urlencode({**kept, "per_page": per_page, "page": last})}>; rel="last"')
        return items[(page - 1) * per_page : page * per_page], ({"Link": ", ".join(links)} if links else {})

    def _new_release(self, repo_name: str, body: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        rid = self._next_id
        api = f"{self.url}/repos/{repo_name}"
        draft = bool(body.get("draft", False))
        return {
            "url": f"{api}/releases/{rid}",
            "html_url": f"https://github.example/{repo_name}/releases/tag/{body['tag_name']}",
            "assets_url": f"{api}/releases/{rid}/assets",
            "upload_url": f"{api}/releases/{rid}/assets{{?name,label}}",
            "tarball_url": None,
            "zipball_url": None,
            "id": rid,
            "node_id": f"RE_{rid}",
            "tag_name": body["tag_name"],
            "target_commitish": body.get("target_commitish", "main"),
            "name": body.get("name"),
            "body": body.get("body"),
            "draft": draft,
            "prerelease": bool(body.get("prerelease", False)),
            "created_at": _now(),
            "published_at": None if draft else _now(),
            "updated_at": _now(),
            "author": self._user(self.caller_login()),
        }

    def _tag_published_elsewhere(self, tag: str, rid: int) -> bool:
        return any(r["tag_name"] == tag and not r["draft"] and r["id"] != rid for r in self.releases.values())

    def _ensure_tag(self, tag: str, target: str) -> None:
        if f"refs/tags/{tag}" not in self.refs and SHA.match(target):
            self.refs[f"refs/tags/{tag}"] = target

    def _apply(
        self, operation: Operation, repo_name: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if repo_name != self.repository:
            return self._not_found()
        key = (operation.method, operation.template)
        if self._data_branch_call(key, params, body):
            return self._apply_data_branch(operation, repo_name, params, query, body)
        api = f"{self.url}/repos/{repo_name}"
        invalid = {"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest"}
        if key == ("POST", "/repos/{owner}/{repo}/git/refs"):
            ref, sha = body["ref"], body["sha"]
            if not ref.startswith("refs/") or ref.count("/") < 2 or not SHA.match(sha):
                return 422, {**invalid, "errors": [{"resource": "Ref", "code": "invalid"}]}, {}
            if ref in self.refs:
                return (
                    422,
                    {
                        "message": "Reference already exists",
                        "documentation_url": "https://docs.github.com/rest",
                    },
                    {},
                )
            self.refs[ref] = sha
            return 201, self._ref_view(api, ref), {"Location": f"{api}/git/{ref}"}
        if key == ("GET", "/repos/{owner}/{repo}/git/ref/{ref}"):
            ref = "refs/" + params["ref"]
            if ref not in self.refs:
                return self._not_found()
            return 200, self._ref_view(api, ref), {}
        if key == ("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}"):  # a tag's (branches: the data branch)
            ref, sha = "refs/" + params["ref"], body["sha"]
            if ref not in self.refs:
                return 422, {**invalid, "message": "Reference does not exist"}, {}
            if not SHA.match(sha):
                return 422, {**invalid, "errors": [{"resource": "Ref", "code": "invalid"}]}, {}
            if sha != self.refs[ref] and not body.get("force"):
                return 422, {**invalid, "message": "Update is not a fast forward"}, {}
            self.refs[ref] = sha
            self.ref_moves.append((ref, sha))
            return 200, self._ref_view(api, ref), {}
        if key == ("DELETE", "/repos/{owner}/{repo}/git/refs/{ref}"):
            ref = "refs/" + params["ref"]
            if self.refs.pop(ref, None) is None:
                return (
                    422,
                    {
                        "message": "Reference does not exist",
                        "documentation_url": "https://docs.github.com/rest",
                    },
                    {},
                )
            return 204, None, {}
        if key == ("POST", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"):
            self.dispatches.append({"workflow_id": params["workflow_id"], **body})
            return 204, None, {}
        if key == ("GET", "/repos/{owner}/{repo}/releases"):
            items = [self._release_view(r) for r in sorted(self.releases.values(), key=lambda r: -r["id"])]
            chunk, headers = self._page(items, query, f"{api}/releases")
            return 200, chunk, headers
        if key == ("POST", "/repos/{owner}/{repo}/releases"):
            if not body.get("draft") and self._tag_published_elsewhere(body["tag_name"], -1):
                return (
                    422,
                    {
                        **invalid,
                        "errors": [{"resource": "Release", "code": "already_exists", "field": "tag_name"}],
                    },
                    {},
                )
            release = self._new_release(repo_name, body)
            self.releases[release["id"]] = release
            if not release["draft"]:
                self._ensure_tag(release["tag_name"], release["target_commitish"])
            return 201, self._release_view(release), {"Location": release["url"]}
        if key[1] == "/repos/{owner}/{repo}/releases/{release_id}":
            release = self.releases.get(int(params["release_id"]))
            if release is None:
                return self._not_found() if key[0] != "GET" else (401, {"message": "Not Found"}, {})
            if key[0] == "DELETE":
                del self.releases[release["id"]]
                for aid in [a for a, v in self.assets.items() if v["release"] == release["id"]]:
                    del self.assets[aid]
                return 204, None, {}
            if key[0] == "PATCH":
                if body.get("draft") is False and release["draft"]:
                    tag = body.get("tag_name", release["tag_name"])
                    if self._tag_published_elsewhere(tag, release["id"]):
                        return (
                            422,
                            {**invalid, "errors": [{"resource": "Release", "code": "already_exists"}]},
                            {},
                        )
                    release["published_at"] = _now()
                    self._ensure_tag(tag, release["target_commitish"])
                for field in ("tag_name", "target_commitish", "name", "body", "draft", "prerelease"):
                    if field in body:
                        release[field] = body[field]
                release["updated_at"] = _now()
            return 200, self._release_view(release), {}
        if key == ("GET", "/repos/{owner}/{repo}/releases/tags/{tag}"):
            for release in self.releases.values():
                if release["tag_name"] == params["tag"] and not release["draft"]:
                    return 200, self._release_view(release), {}
            return self._not_found()
        if key == ("GET", "/repos/{owner}/{repo}/releases/{release_id}/assets"):
            rid = int(params["release_id"])
            items = [a["meta"] for a in self.assets.values() if a["release"] == rid]
            chunk, headers = self._page(items, query, f"{api}/releases/{rid}/assets")
            return 200, chunk, headers
        if key == UPLOAD:
            rid = int(params["release_id"])
            release = self.releases.get(rid)
            name = query["name"]
            if release is None:  # deleted meanwhile, e.g. by a concurrent release
                return self._not_found()
            if any(a["release"] == rid and a["meta"]["name"] == name for a in self.assets.values()):
                return (
                    422,
                    {
                        **invalid,
                        "errors": [{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}],
                    },
                    {},
                )
            data: bytes = self._local.raw
            self._next_id += 1
            aid = self._next_id
            meta = {
                "url": f"{api}/releases/assets/{aid}",
                "browser_download_url": f"https://github.example/{repo_name}/releases/download/{release['tag_name']}/{name}",
                "id": aid,
                "node_id": f"RA_{aid}",
                "name": name,
                "label": None,
                "state": "uploaded",
                "content_type": "application/octet-stream",
                "size": len(data),
                "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
                "download_count": 0,
                "created_at": _now(),
                "updated_at": _now(),
                "uploader": self._user(self.caller_login()),
            }
            self.assets[aid] = {"release": rid, "meta": meta, "data": data}
            return 201, meta, {}
        if key == ASSET:
            found = self.assets.get(int(params["asset_id"]))
            if found is None:
                return self._not_found()
            if self._local.accept == "application/octet-stream":
                location = f"{self.url.split('/api/v3')[0]}{STORAGE}asset/{found['meta']['id']}/{secrets.token_hex(8)}"
                return 302, None, {"Location": location}
            return 200, found["meta"], {}
        if key == ARTIFACTS:
            items = [
                a["meta"]
                for _, a in sorted(self.artifacts.items(), reverse=True)
                if "name" not in query or a["meta"]["name"] == query["name"]
            ]
            chunk, headers = self._page(items, query, f"{api}/actions/artifacts")
            return 200, {"total_count": len(items), "artifacts": chunk}, headers
        if key == ARTIFACT_ZIP:
            artifact = self.artifacts.get(int(params["artifact_id"]))
            if artifact is None or params["archive_format"] != "zip":
                return self._not_found()
            if artifact["meta"]["expired"]:
                return (
                    410,
                    {"message": "Artifact has expired", "documentation_url": "https://docs.github.com/rest"},
                    {},
                )
            location = f"{self.url.split('/api/v3')[0]}{STORAGE}artifact/{artifact['meta']['id']}/{secrets.token_hex(8)}"
            return 302, None, {"Location": location}
        return super()._apply(operation, repo_name, params, query, body)

    def _ref_view(self, api: str, ref: str) -> dict[str, Any]:
        sha = self.refs[ref]
        return {
            "ref": ref,
            "node_id": f"REF_{abs(hash(ref)) % 10_000}",
            "url": f"{api}/git/{ref}",
            "object": {"type": "commit", "sha": sha, "url": f"{api}/git/commits/{sha}"},
        }


def _headers(handler: Any, accept: str | None) -> Any:
    """The handler as the base check sees it: the Accept header replaced, no body Content-Type."""
    headers = {k: v for k, v in handler.headers.items()}
    if accept is not None:
        headers["Accept"] = accept
    else:
        headers.pop("Content-Type", None)
    return SimpleNamespace(headers=_Caseless(headers))


class _Caseless(dict):  # type: ignore[type-arg]
    def get(self, key: Any, default: Any = None) -> Any:
        for name, value in self.items():
            if name.lower() == str(key).lower():
                return value
        return default


def releases_json(api: GitHubReleasesStandIn) -> str:
    """The stand-in's releases as JSON, for failure messages."""
    return json.dumps([{k: r[k] for k in ("id", "tag_name", "draft")} for r in api.releases.values()])
