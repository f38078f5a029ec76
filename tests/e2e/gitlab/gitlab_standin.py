"""A local stand-in for GitLab's REST API (v4) that enforces ``tests/contracts/gitlab/gitlab-api-contract.json``.

It serves the contract's operations on 127.0.0.1 (random port) for one project and holds their state:
merge request notes, releases with their links, generic packages with their files, and tags (a release
created with ``ref`` creates its tag). Lists are paginated with ``X-Next-Page``, ``X-Page``... and a
``Link`` header. Every request (operation, path parameters, query parameters, token, JSON body) and every
response it sends is checked against the contract; anything that does not match is answered with an
error and recorded in ``violations``, which a test asserts is empty.

Tokens behave as on GitLab: ``PRIVATE-TOKEN`` tokens with scope ``api`` may do everything, ``read_api``
tokens only read (403 ``insufficient_scope``), and the CI/CD job token (``JOB-TOKEN``) can read notes but
not create, edit or delete them (401), while it may use releases and packages.

Each ``PRIVATE-TOKEN`` acts as a user, as on GitLab: ``users`` maps a token to its user (default: the
project access token's bot user ``BOT``); notes it creates are authored by that user, ``GET /user``
returns it, and only the author may edit or delete a note. The job token cannot call ``GET /user``.

It can be told to fail the next requests with 502 (optionally after the request took effect, as when a
response is lost) or 429 with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import jsonschema

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "gitlab" / "gitlab-api-contract.json"
BOT = {"id": 901, "username": "project_42_bot", "name": "mlops bot", "state": "active"}
JOB_USER = {"id": 77, "username": "ci-user", "name": "CI User", "state": "active"}
REVIEWER = {"id": 5, "username": "reviewer", "name": "R", "state": "active"}


@dataclass
class Operation:
    id: str
    method: str
    template: str
    pattern: re.Pattern[str]
    names: list[str]
    spec: dict[str, Any]


@dataclass
class Failure:
    status: int
    operations: frozenset[str] | None
    retry_after: str | None = None
    after_effect: bool = False


@dataclass
class Seen:
    """One request as the stand-in received it."""

    method: str
    path: str
    operation: str | None
    query: dict[str, str]
    token_header: str | None
    status: int = 0


@dataclass
class Package:
    id: int
    name: str
    version: str
    files: list[dict[str, Any]] = field(default_factory=list)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def load_operations(contract: dict[str, Any]) -> list[Operation]:
    operations = []
    for spec in contract["operations"]:
        names = re.findall(r"\{(\w+)\}", spec["path"])
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(spec["path"]))
        operations.append(
            Operation(spec["id"], spec["method"], spec["path"], re.compile(f"^{regex}$"), names, spec)
        )
    return operations


class GitLabStandIn:
    """The API of one project (``project_id`` / ``project_path``) at ``url`` (ends in /api/v4)."""

    def __init__(
        self,
        *,
        project_id: int = 42,
        project_path: str = "acme/credit",
        tokens: dict[str, str] | None = None,
        job_tokens: set[str] | None = None,
        users: dict[str, dict[str, Any]] | None = None,
        merge_requests: tuple[int, ...] = (1,),
        per_page_default: int = 20,
        max_per_page: int = 100,
    ):
        self.contract = json.loads(CONTRACT.read_text(encoding="utf-8"))
        self.operations = load_operations(
            {"operations": self.contract["operations"] + self.contract.get("more_operations", [])}
        )
        self.project_id = project_id
        self.project_path = project_path
        self.tokens = dict(tokens or {})  # PRIVATE-TOKEN value -> scope (api | read_api)
        self.job_tokens = set(job_tokens or ())
        self.users = dict(users or {})  # PRIVATE-TOKEN value -> its user (default BOT)
        self.per_page_default = per_page_default
        self.max_per_page = max_per_page
        self.merge_requests = set(merge_requests)
        self.notes: dict[int, list[dict[str, Any]]] = {iid: [] for iid in merge_requests}
        self.releases: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, dict[str, Any]] = {}
        self.packages: dict[tuple[str, str], Package] = {}
        self.issues: dict[int, dict[str, Any]] = {}  # iid -> issue
        self.issue_notes: dict[int, list[dict[str, Any]]] = {}
        self.pipelines: list[dict[str, Any]] = []  # created with POST /projects/:id/pipeline
        self.violations: list[str] = []
        self.seen: list[Seen] = []
        self._failures: deque[Failure] = deque()
        self._validators: dict[str, Any] = {}
        self._ids = iter(range(1000, 10**9))
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/v4"

    @property
    def server_url(self) -> str:
        return self.url[: -len("/api/v4")]

    def __enter__(self) -> GitLabStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # headers and body leave in one write (no Nagle/delayed-ACK stall)

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                standin._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    # -- test controls -----------------------------------------------------------------------------

    def fail_next(
        self,
        count: int,
        *,
        status: int = 502,
        operations: set[str] | None = None,
        retry_after: str | None = None,
        after_effect: bool = False,
    ) -> None:
        """Answer the next ``count`` requests (of ``operations``, or any) with ``status``.

        With ``after_effect`` a write takes effect before the error is sent, as when a response is lost.
        """
        with self._lock:
            for _ in range(count):
                self._failures.append(
                    Failure(status, frozenset(operations) if operations else None, retry_after, after_effect)
                )

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def add_note(
        self, iid: int, body: str, *, system: bool = False, author: dict[str, Any] | None = None
    ) -> int:
        with self._lock:
            note = self._new_note(
                iid, body, author or {"id": 5, "username": "reviewer", "name": "R", "state": "active"}
            )
            note["system"] = system
            return int(note["id"])

    def add_issue(
        self, description: str, *, title: str = "An issue", author: dict[str, Any] | None = None
    ) -> int:
        """An open issue already in the project (someone else's by default); returns its iid."""
        with self._lock:
            return int(self._new_issue(title, description, [], author or REVIEWER)["iid"])

    def mr_notes(self, iid: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(n) for n in self.notes.get(iid, [])]

    def package_files(self, name: str, version: str) -> dict[str, bytes]:
        """The latest file of each name in a generic package (what a download returns)."""
        with self._lock:
            package = self.packages.get((name, version))
            return {} if package is None else {f["file_name"]: f["_data"] for f in package.files}

    def writes(self) -> list[Seen]:
        return [s for s in self.seen if s.method != "GET"]

    # -- helpers -----------------------------------------------------------------------------------

    def _note(
        self, iid: int, body: str, author: dict[str, Any], noteable: str = "MergeRequest"
    ) -> dict[str, Any]:
        now = _now()
        return {
            "id": next(self._ids),
            "body": body,
            "attachment": None,
            "author": dict(author),
            "created_at": now,
            "updated_at": now,
            "system": False,
            "noteable_id": 5000 + iid,
            "noteable_type": noteable,
            "project_id": self.project_id,
            "noteable_iid": iid,
            "resolvable": False,
            "confidential": False,
            "internal": False,
            "imported": False,
            "imported_from": "none",
        }

    def _new_note(self, iid: int, body: str, author: dict[str, Any]) -> dict[str, Any]:
        note = self._note(iid, body, author)
        self.notes.setdefault(iid, []).append(note)
        return note

    def _new_issue(
        self, title: str, description: str | None, labels: list[str], author: dict[str, Any]
    ) -> dict[str, Any]:
        iid = max(self.issues, default=0) + 1
        now = _now()
        issue = {
            "id": next(self._ids),
            "iid": iid,
            "project_id": self.project_id,
            "title": title,
            "description": description,
            "state": "opened",
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "labels": labels,
            "author": dict(author),
            "web_url": f"{self.server_url}/{self.project_path}/-/issues/{iid}",
            "user_notes_count": 0,
            "confidential": False,
        }
        self.issues[iid] = issue
        self.issue_notes[iid] = []
        return issue

    def _perform_issues(
        self,
        op: str,
        params: dict[str, str],
        query: dict[str, str],
        body: Any,
        user: dict[str, Any],
        path: str,
    ) -> tuple[int, Any, dict[str, str] | None, bytes | None]:
        if op == "listProjectIssues":
            wanted = query.get("state", "all")
            words = query.get("search", "").lower()
            fields = query.get("in", "title,description").split(",")
            found = [
                i
                for i in sorted(
                    self.issues.values(), key=lambda i: i["iid"], reverse=query.get("sort") != "asc"
                )
                if wanted in ("all", i["state"])
                and (not words or any(words in str(i[f] or "").lower() for f in fields))
            ]
            chunk, headers = self._page([dict(i) for i in found], query, path)
            return 200, chunk, headers, None
        if op == "createProjectIssue":
            labels = [name for name in (body.get("labels") or "").split(",") if name]
            issue = self._new_issue(body["title"], body.get("description"), labels, user)
            return 201, dict(issue), None, None
        issue = self.issues.get(int(params["issue_iid"]))
        if issue is None:
            return 404, {"message": "404 Issue Not Found"}, None, None
        if op == "createIssueNote":
            note = self._note(issue["iid"], body["body"], user, noteable="Issue")
            self.issue_notes[issue["iid"]].append(note)
            issue["user_notes_count"] += 1
            return 201, dict(note), None, None
        for key in ("title", "description"):
            if key in body:
                issue[key] = body[key]
        if "labels" in body:
            issue["labels"] = [name for name in body["labels"].split(",") if name]
        if body.get("state_event") == "close":
            issue.update(state="closed", closed_at=_now())
        elif body.get("state_event") == "reopen":
            issue.update(state="opened", closed_at=None)
        issue["updated_at"] = _now()
        return 200, dict(issue), None, None

    def _create_pipeline(self, body: Any, user: dict[str, Any]) -> dict[str, Any]:
        pipeline_id = next(self._ids)
        now = _now()
        pipeline = {
            "id": pipeline_id,
            "iid": len(self.pipelines) + 1,
            "project_id": self.project_id,
            "sha": self._commit(body["ref"])["id"],
            "ref": body["ref"],
            "status": "created",
            "source": "api",
            "created_at": now,
            "updated_at": now,
            "web_url": f"{self.server_url}/{self.project_path}/-/pipelines/{pipeline_id}",
        }
        self.pipelines.append(
            {
                **pipeline,
                "variables": {v["key"]: v["value"] for v in body.get("variables") or []},
                "user": user,
            }
        )
        return pipeline

    def _commit(self, ref: str) -> dict[str, Any]:
        sha = ref if re.fullmatch(r"[0-9a-f]{40}", ref) else hashlib.sha1(ref.encode()).hexdigest()
        return {
            "id": sha,
            "short_id": sha[:8],
            "title": f"commit {sha[:8]}",
            "message": f"commit {sha[:8]}",
            "author_name": "e2e",
            "author_email": "e2e@example.invalid",
            "authored_date": _now(),
            "committer_name": "e2e",
            "committer_email": "e2e@example.invalid",
            "committed_date": _now(),
            "created_at": _now(),
            "parent_ids": [],
            "web_url": f"{self.server_url}/{self.project_path}/-/commit/{sha}",
        }

    def _release_view(self, release: dict[str, Any]) -> dict[str, Any]:
        tag = release["tag_name"]
        encoded = quote(tag, safe="")
        links = [
            {
                "id": link["id"],
                "name": link["name"],
                "url": link["url"],
                "direct_asset_url": f"{self.server_url}/{self.project_path}/-/releases/{encoded}/downloads"
                + link.get("direct_asset_path", f"/{link['name']}"),
                "link_type": link.get("link_type", "other"),
            }
            for link in release["links"]
        ]
        sources = [
            {"format": fmt, "url": f"{self.server_url}/{self.project_path}/-/archive/{encoded}/src.{fmt}"}
            for fmt in ("zip", "tar.gz")
        ]
        return {
            "tag_name": tag,
            "tag_path": f"/{self.project_path}/-/tags/{encoded}",
            "name": release["name"],
            "description": release["description"],
            "created_at": release["created_at"],
            "released_at": release["released_at"],
            "upcoming_release": False,
            "author": dict(release["author"]),
            "commit": self._commit(release["sha"]),
            "milestones": [],
            "evidences": [],
            "assets": {"count": len(links) + len(sources), "sources": sources, "links": links},
            "_links": {"self": f"{self.server_url}/{self.project_path}/-/releases/{encoded}"},
        }

    def _tag_view(self, tag: dict[str, Any]) -> dict[str, Any]:
        release = self.releases.get(tag["name"])
        return {
            "name": tag["name"],
            "message": tag.get("message"),
            "target": tag["sha"],
            "commit": self._commit(tag["sha"]),
            "release": {"tag_name": tag["name"], "description": release["description"]} if release else None,
            "protected": False,
            "created_at": tag["created_at"],
        }

    # -- request handling --------------------------------------------------------------------------

    def _violation(self, text: str) -> None:
        with self._lock:
            self.violations.append(text)

    def _validator(self, schema: dict[str, Any]) -> Any:
        key = json.dumps(schema, sort_keys=True)
        with self._lock:
            if key not in self._validators:
                document = {"definitions": self.contract["definitions"], **schema}
                self._validators[key] = jsonschema.Draft7Validator(document)
            return self._validators[key]

    def _check_response(self, operation: Operation, status: int, payload: Any) -> None:
        schema = operation.spec["responses"].get(str(status))
        if str(status) not in operation.spec["responses"]:
            if status < 400:
                self._violation(f"{operation.id}: response status {status} is not in the contract")
            return
        if schema in (None, "raw"):
            return
        try:
            self._validator(schema).validate(payload)
        except jsonschema.ValidationError as error:
            self._violation(f"{operation.id}: response {status} does not match the contract: {error.message}")

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        payload: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        operation: Operation | None = None,
        seen: Seen | None = None,
    ) -> None:
        if operation is not None and raw is None:
            self._check_response(operation, status, payload)
        if seen is not None:
            seen.status = status
        body = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        handler.send_response(status)
        handler.send_header(
            "Content-Type", "application/octet-stream" if raw is not None else "application/json"
        )
        handler.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body)

    def _match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for operation in self.operations:
            if operation.method != method:
                continue
            found = operation.pattern.match(path)
            if found:
                return operation, found.groupdict()
        return None

    def _coerce_query(self, operation: Operation, query: dict[str, str]) -> dict[str, Any]:
        properties = operation.spec["query"].get("properties", {})
        values: dict[str, Any] = {}
        for key, value in query.items():
            kind = properties.get(key, {}).get("type")
            if kind == "integer":
                values[key] = int(value) if re.fullmatch(r"-?\d+", value) else value
            elif kind == "boolean":
                values[key] = {"true": True, "false": False}.get(value, value)
            else:
                values[key] = value
        return values

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length) if length else b""
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = dict(pairs)
        token_header = next((h for h in ("PRIVATE-TOKEN", "JOB-TOKEN") if handler.headers.get(h)), None)
        path = parts.path
        seen = Seen(handler.command, path, None, query, token_header)
        with self._lock:
            self.seen.append(seen)
        if not path.startswith("/api/v4/"):
            self._violation(f"{handler.command} {path}: not under /api/v4")
            self._send(handler, 404, {"message": "404 Not Found"}, seen=seen)
            return
        matched = self._match(handler.command, path[len("/api/v4") :])
        if matched is None:
            self._violation(f"{handler.command} {path}: no such operation in the contract")
            self._send(handler, 404, {"error": "404 Not Found"}, seen=seen)
            return
        operation, params = matched
        seen.operation = operation.id
        if len(pairs) != len(query):
            self._violation(f"{operation.id}: a query parameter is repeated")

        # -- authentication, as GitLab does it
        scope = None
        if token_header == "PRIVATE-TOKEN":
            scope = self.tokens.get(handler.headers["PRIVATE-TOKEN"])
        elif token_header == "JOB-TOKEN":
            scope = "job" if handler.headers["JOB-TOKEN"] in self.job_tokens else None
            if scope == "job" and not operation.spec["job_token"]:
                self._violation(f"{operation.id}: sent with JOB-TOKEN, which GitLab does not accept here")
                scope = None
        if scope is None:
            self._send(handler, 401, {"message": "401 Unauthorized"}, operation=operation, seen=seen)
            return
        if scope == "read_api" and operation.method != "GET":
            self._send(
                handler,
                403,
                {
                    "error": "insufficient_scope",
                    "error_description": "The request requires higher privileges",
                },
                operation=operation,
                seen=seen,
            )
            return

        # -- path parameters
        for name, kind in operation.spec["path_params"].items():
            value = params[name]
            if kind == "integer" and not re.fullmatch(r"[1-9]\d*", value):
                self._violation(f"{operation.id}: path parameter {name}={value!r} is not an integer")
                self._send(handler, 400, {"error": f"{name} is invalid"}, operation=operation, seen=seen)
                return
            pattern = self.contract["patterns"].get(kind)
            if pattern and not re.fullmatch(pattern, value if kind == "project_id" else unquote(value)):
                self._violation(f"{operation.id}: path parameter {name}={value!r} does not match {pattern}")
                self._send(handler, 400, {"error": f"{name} is invalid"}, operation=operation, seen=seen)
                return
        user = JOB_USER if scope == "job" else self.users.get(handler.headers["PRIVATE-TOKEN"], BOT)
        if operation.id == "getCurrentUser":
            self._send(handler, 200, dict(user), operation=operation, seen=seen)
            return
        project = unquote(params["id"])
        if project not in (str(self.project_id), self.project_path):
            self._send(handler, 404, {"message": "404 Project Not Found"}, operation=operation, seen=seen)
            return

        # -- query and body
        try:
            self._validator(operation.spec["query"]).validate(self._coerce_query(operation, query))
        except jsonschema.ValidationError as error:
            self._violation(f"{operation.id}: query {query} does not match the contract: {error.message}")
            self._send(handler, 400, {"error": error.message}, operation=operation, seen=seen)
            return
        body: Any = None
        if operation.spec["body"] == "raw":
            body = raw_body
        elif operation.spec["body"] is not None:
            if "json" not in (handler.headers.get("Content-Type") or ""):
                self._violation(f"{operation.id}: body is not sent as JSON")
            try:
                body = json.loads(raw_body or b"null")
                self._validator(operation.spec["body"]).validate(body)
            except (ValueError, jsonschema.ValidationError) as error:
                message = getattr(error, "message", str(error))
                self._violation(f"{operation.id}: body does not match the contract: {message}")
                self._send(handler, 400, {"error": message}, operation=operation, seen=seen)
                return
        elif raw_body:
            self._violation(f"{operation.id}: takes no body, got {len(raw_body)} bytes")

        # -- injected failures
        failure = None
        with self._lock:
            if self._failures and (
                self._failures[0].operations is None or operation.id in self._failures[0].operations
            ):
                failure = self._failures.popleft()
        if failure is not None and not failure.after_effect:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else None
            self._send(
                handler, failure.status, {"message": f"{failure.status} injected"}, headers=headers, seen=seen
            )
            return

        with self._lock:
            status, payload, headers, raw = self._perform(operation, params, query, body, user)
        if failure is not None:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else None
            self._send(
                handler, failure.status, {"message": f"{failure.status} injected"}, headers=headers, seen=seen
            )
            return
        self._send(handler, status, payload, headers=headers, raw=raw, operation=operation, seen=seen)

    def _page(self, items: list[Any], query: dict[str, str], path: str) -> tuple[list[Any], dict[str, str]]:
        page = int(query.get("page", "1"))
        per_page = min(int(query.get("per_page", str(self.per_page_default))), self.max_per_page)
        start = (page - 1) * per_page
        chunk = items[start : start + per_page]
        total_pages = max(1, -(-len(items) // per_page))
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Total": str(len(items)),
            "X-Total-Pages": str(total_pages),
            "X-Next-Page": str(page + 1) if page < total_pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
        }
        if page < total_pages:
            following = urlencode({**query, "page": str(page + 1)})
            headers["Link"] = f'<{self.server_url}{path}?{following}>; rel="next"'
        return chunk, headers

    def _perform(
        self,
        operation: Operation,
        params: dict[str, str],
        query: dict[str, str],
        body: Any,
        user: dict[str, Any],
    ) -> tuple[int, Any, dict[str, str] | None, bytes | None]:
        path = f"/api/v4{operation.template}".replace("{id}", params["id"])
        for name, value in params.items():
            path = path.replace("{" + name + "}", value)
        op = operation.id
        if op in ("listProjectIssues", "createProjectIssue", "updateProjectIssue", "createIssueNote"):
            return self._perform_issues(op, params, query, body, user, path)
        if op == "createPipeline":
            return 201, self._create_pipeline(body, user), None, None
        if "Note" in op:
            iid = int(params["merge_request_iid"])
            if iid not in self.merge_requests:
                return 404, {"message": "404 Merge Request Not Found"}, None, None
            notes = self.notes.setdefault(iid, [])
            if op == "listMergeRequestNotes":
                ordered = sorted(notes, key=lambda n: (n["created_at"], n["id"]))
                if query.get("sort", "desc") == "desc":
                    ordered.reverse()
                chunk, headers = self._page(ordered, query, path)
                return 200, chunk, headers, None
            if op == "createMergeRequestNote":
                return 201, dict(self._new_note(iid, body["body"], user)), None, None
            note = next((n for n in notes if n["id"] == int(params["note_id"])), None)
            if note is None:
                return 404, {"message": "404 Note Not Found"}, None, None
            if op == "getMergeRequestNote":
                return 200, dict(note), None, None
            if note["author"]["id"] != user["id"]:
                return 403, {"message": "403 Forbidden"}, None, None
            if op == "updateMergeRequestNote":
                note["body"] = body["body"]
                note["updated_at"] = _now()
                return 200, dict(note), None, None
            notes.remove(note)
            return 204, None, None, None
        if op == "getApiV4ProjectsIdReleases":
            releases = sorted(
                self.releases.values(), key=lambda r: (r[query.get("order_by", "released_at")], r["seq"])
            )
            if query.get("sort", "desc") == "desc":
                releases.reverse()
            chunk, headers = self._page([self._release_view(r) for r in releases], query, path)
            return 200, chunk, headers, None
        if op == "postApiV4ProjectsIdReleases":
            tag = body["tag_name"]
            if tag in self.releases:
                return 409, {"message": "Release already exists"}, None, None
            if tag not in self.tags:
                if not body.get("ref"):
                    return 422, {"message": "Ref is not specified"}, None, None
                self.tags[tag] = {
                    "name": tag,
                    "sha": self._commit(body["ref"])["id"],
                    "message": body.get("tag_message"),
                    "created_at": _now(),
                }
            links = []
            for link in (body.get("assets") or {}).get("links", []):
                if any(
                    existing["name"] == link["name"] or existing["url"] == link["url"] for existing in links
                ):
                    return 400, {"message": "Validation failed: Links have duplicates"}, None, None
                links.append({"id": next(self._ids), **link})
            now = _now()
            self.releases[tag] = {
                "tag_name": tag,
                "name": body.get("name") or tag,
                "description": body.get("description") or "",
                "created_at": now,
                "released_at": body.get("released_at") or now,
                "author": user,
                "sha": self.tags[tag]["sha"],
                "links": links,
                "seq": next(self._ids),
            }
            return 201, self._release_view(self.releases[tag]), None, None
        if op in (
            "getApiV4ProjectsIdReleasesTagName",
            "putApiV4ProjectsIdReleasesTagName",
            "getApiV4ProjectsIdReleasesTagNameAssetsLinks",
        ):
            release = self.releases.get(unquote(params["tag_name"]))
            if release is None:
                return 404, {"message": "404 Not Found"}, None, None
            if op == "putApiV4ProjectsIdReleasesTagName":
                for key in ("name", "description", "released_at"):
                    if key in body:
                        release[key] = body[key]
            if op == "getApiV4ProjectsIdReleasesTagNameAssetsLinks":
                chunk, headers = self._page(self._release_view(release)["assets"]["links"], query, path)
                return 200, chunk, headers, None
            return 200, self._release_view(release), None, None
        if op.startswith("putApiV4ProjectsIdPackagesGeneric"):
            name, version, file_name = (
                unquote(params[k]) for k in ("package_name", "package_version", "file_name")
            )
            package = self.packages.get((name, version))
            if package is None:
                package = self.packages[(name, version)] = Package(next(self._ids), name, version)
            data = body or b""
            record = {
                "id": next(self._ids),
                "package_id": package.id,
                "created_at": _now(),
                "file_name": file_name,
                "size": len(data),
                "file_md5": None,
                "file_sha1": hashlib.sha1(data).hexdigest(),
                "file_sha256": hashlib.sha256(data).hexdigest(),
                "_data": data,
            }
            package.files = [f for f in package.files if f["file_name"] != file_name] + [record]
            if query.get("select") == "package_file":
                return 201, {k: v for k, v in record.items() if not k.startswith("_")}, None, None
            return 201, {"message": "201 Created"}, None, None
        if op.startswith("getApiV4ProjectsIdPackagesGeneric"):
            name, version, file_name = (
                unquote(params[k]) for k in ("package_name", "package_version", "file_name")
            )
            package = self.packages.get((name, version))
            record = next(
                (f for f in (package.files if package else []) if f["file_name"] == file_name), None
            )
            if record is None:
                return 404, {"message": "404 Package Not Found"}, None, None
            return 200, None, {"X-Checksum-SHA256": record["file_sha256"]}, record["_data"]
        if op == "getApiV4ProjectsIdPackages":
            items = [
                {
                    "id": p.id,
                    "name": p.name,
                    "version": p.version,
                    "package_type": "generic",
                    "status": "default",
                    "created_at": _now(),
                }
                for p in self.packages.values()
                if query.get("package_name") in (None, p.name)
                and query.get("package_version") in (None, p.version)
            ]
            chunk, headers = self._page(items, query, path)
            return 200, chunk, headers, None
        if op == "getApiV4ProjectsIdPackagesPackageIdPackageFiles":
            package = next((p for p in self.packages.values() if p.id == int(params["package_id"])), None)
            if package is None:
                return 404, {"message": "404 Package Not Found"}, None, None
            files = [{k: v for k, v in f.items() if not k.startswith("_")} for f in package.files]
            chunk, headers = self._page(files, query, path)
            return 200, chunk, headers, None
        if op == "getApiV4ProjectsIdRepositoryTags":
            chunk, headers = self._page([self._tag_view(t) for t in self.tags.values()], query, path)
            return 200, chunk, headers, None
        if op == "getApiV4ProjectsIdRepositoryTagsTagName":
            tag = self.tags.get(unquote(params["tag_name"]))
            if tag is None:
                return 404, {"message": "404 Tag Not Found"}, None, None
            return 200, self._tag_view(tag), None, None
        if op == "postApiV4ProjectsIdRepositoryTags":
            if body["tag_name"] in self.tags:
                return 400, {"message": "Tag already exists"}, None, None
            self.tags[body["tag_name"]] = {
                "name": body["tag_name"],
                "sha": self._commit(body["ref"])["id"],
                "message": body.get("message"),
                "created_at": _now(),
            }
            return 201, self._tag_view(self.tags[body["tag_name"]]), None, None
        return 500, {"message": f"stand-in does not implement {op}"}, None, None
