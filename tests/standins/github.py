"""A local stand-in for the GitHub REST API that enforces the OpenAPI contract.

It serves the operations of ``tests/contracts/github-openapi-subset.json`` on 127.0.0.1 (random port) and
holds their state: pull requests and issues and their comments, with ``Link``-header pagination. Every
request (operation, path and query parameters, headers, JSON body) and every response it sends (status,
headers, JSON body) is checked against the contract; anything that does not match is answered with an
error and recorded in ``violations``, which a test asserts is empty.

It can be told to fail the next requests (502, 403, a secondary rate limit with Retry-After, or a 502 sent
after the request took effect, as when a response is lost), and to treat tokens as read-only, as GitHub
does for pull requests from forks.

Tokens have identities, as on GitHub: ``token`` and ``read_only_tokens`` are Actions-style installation
tokens, which author as ``github-actions[bot]`` and get ``403 Resource not accessible by integration``
from ``GET /user``; ``app_tokens`` (token -> app slug) are another GitHub App's installation tokens,
authoring as ``<slug>[bot]``; ``user_tokens`` (token -> login) are personal tokens, authoring as their
user, which ``GET /user`` returns.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jsonschema

CONTRACT = Path(__file__).resolve().parents[1] / "contracts" / "github-openapi-subset.json"
API_VERSION = "2022-11-28"
BOT_LOGIN = "github-actions[bot]"
MAX_BODY_CHARS = 65536


def openapi_to_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema (draft 4): ``nullable: true`` becomes a union with null."""
    if isinstance(node, list):
        return [openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {
        key: openapi_to_json_schema(value)
        for key, value in node.items()
        if key not in ("nullable", "example", "examples", "discriminator", "xml", "externalDocs")
        and not key.startswith("x-")
    }
    if "properties" in node:
        converted["properties"] = {k: openapi_to_json_schema(v) for k, v in node["properties"].items()}
    if node.get("nullable"):
        if "enum" in converted and None not in converted["enum"]:
            converted["enum"] = [*converted["enum"], None]
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@dataclass
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]

    def parameters(self, where: str) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in self.spec.get("parameters", []) if p["in"] == where}

    def response(self, status: int) -> dict[str, Any] | None:
        return self.spec["responses"].get(str(status))


class Contract:
    """The operations of an OpenAPI extract, with validators for parameters, bodies and responses."""

    def __init__(self, path: Path = CONTRACT):
        document = json.loads(path.read_text(encoding="utf-8"))
        self.operations: list[Operation] = []
        for template, methods in document["paths"].items():
            regex = "^" + re.sub(r"\\\{([a-z_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
            for method, spec in methods.items():
                self.operations.append(Operation(method.upper(), template, re.compile(regex), spec))
        self._validators: dict[int, jsonschema.Draft4Validator] = {}

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for operation in self.operations:
            found = operation.pattern.match(path)
            if found and operation.method == method:
                return operation, found.groupdict()
        return None

    def _validator(self, schema: dict[str, Any]) -> jsonschema.Draft4Validator:
        key = id(schema)
        if key not in self._validators:
            self._validators[key] = jsonschema.Draft4Validator(openapi_to_json_schema(schema))
        return self._validators[key]

    def problems(self, schema: dict[str, Any], instance: Any) -> list[str]:
        errors = sorted(self._validator(schema).iter_errors(instance), key=lambda e: list(map(str, e.path)))
        return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}" for e in errors[:5]]

    @staticmethod
    def coerce(value: str, schema: dict[str, Any]) -> Any:
        if schema.get("type") == "integer":
            if not re.fullmatch(r"-?[0-9]+", value):
                raise ValueError(f"expected an integer, got {value!r}")
            return int(value)
        return value


@dataclass
class Fault:
    """How to answer one of the next matching requests."""

    status: int
    method: str | None = None
    kind: str = "plain"  # plain | secondary-rate-limit | lost-response
    retry_after: int | None = None


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    status: int
    token: str
    body: Any = None


@dataclass
class Repository:
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHubStandIn:
    """Start with ``with GitHubStandIn(token=...) as api:``; ``api.url`` is the GITHUB_API_URL to use."""

    def __init__(self, *, token: str = "ghs_standin-token", repository: str = "acme/app", prefix: str = ""):
        self.contract = Contract()
        self.prefix = prefix.rstrip("/")  # "/api/v3" serves like GitHub Enterprise Server
        self.token = token
        self.read_only_tokens: set[str] = set()
        self.user_tokens: dict[str, str] = {}  # personal token -> login
        self.app_tokens: dict[str, str] = {}  # a GitHub App's installation token -> app slug
        self._caller = threading.local()  # the login of the token of the request being handled
        self.repository = repository
        self.repositories: dict[str, Repository] = {repository: Repository()}
        self.violations: list[str] = []
        self.log: list[Recorded] = []
        self.faults: deque[Fault] = deque()
        self._lock = threading.RLock()
        self._next_id = 1000
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> GitHubStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _dispatch(self) -> None:
                standin._handle(self)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _dispatch

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GitHubStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    # -- state the tests set up and inspect ----------------------------------------------------------

    def _repo(self, repository: str | None = None) -> Repository:
        return self.repositories.setdefault(repository or self.repository, Repository())

    def _user(self, login: str) -> dict[str, Any]:
        base = f"{self.url}/users/{login}"
        return {
            "login": login,
            "id": abs(hash(login)) % 10_000_000,
            "node_id": "U_standin",
            "avatar_url": "https://avatars.example/u/1",
            "gravatar_id": "",
            "url": base,
            "html_url": f"https://github.example/{login}",
            "followers_url": f"{base}/followers",
            "following_url": f"{base}/following{{/other_user}}",
            "gists_url": f"{base}/gists{{/gist_id}}",
            "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{base}/subscriptions",
            "organizations_url": f"{base}/orgs",
            "repos_url": f"{base}/repos",
            "events_url": f"{base}/events{{/privacy}}",
            "received_events_url": f"{base}/received_events",
            "type": "Bot" if login.endswith("[bot]") else "User",
            "site_admin": False,
        }

    def _issue(
        self, repo_name: str, number: int, *, title: str, body: str | None, author: str, state: str
    ) -> dict[str, Any]:
        """An issue as GitHub's issues API shows it."""
        api = f"{self.url}/repos/{repo_name}"
        return {
            "id": 500_000 + number,
            "node_id": f"I_standin{number}",
            "url": f"{api}/issues/{number}",
            "repository_url": api,
            "labels_url": f"{api}/issues/{number}/labels{{/name}}",
            "comments_url": f"{api}/issues/{number}/comments",
            "events_url": f"{api}/issues/{number}/events",
            "html_url": f"https://github.example/{repo_name}/issues/{number}",
            "number": number,
            "state": state,
            "title": title,
            "body": body,
            "user": self._user(author),
            "labels": [],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "comments": 0,
            "closed_at": None,
            "created_at": _now(),
            "updated_at": _now(),
            "author_association": "CONTRIBUTOR",
        }

    def _label(self, repo_name: str, name: str) -> dict[str, Any]:
        return {
            "id": abs(hash(name)) % 10_000_000,
            "node_id": "LA_standin",
            "url": f"{self.url}/repos/{repo_name}/labels/{name}",
            "name": name,
            "description": None,
            "color": "ededed",
            "default": False,
        }

    def add_pull_request(
        self, number: int, *, author: str = "octocat", state: str = "open", repository: str | None = None
    ) -> None:
        """A pull request (as GitHub's issues API shows it)."""
        repo_name = repository or self.repository
        api = f"{self.url}/repos/{repo_name}"
        with self._lock:
            issue = self._issue(
                repo_name, number, title=f"Pull request {number}", body=None, author=author, state=state
            )
            issue["node_id"] = f"PR_standin{number}"
            issue["html_url"] = f"https://github.example/{repo_name}/pull/{number}"
            issue["pull_request"] = {
                "url": f"{api}/pulls/{number}",
                "html_url": f"https://github.example/{repo_name}/pull/{number}",
                "diff_url": f"https://github.example/{repo_name}/pull/{number}.diff",
                "patch_url": f"https://github.example/{repo_name}/pull/{number}.patch",
                "merged_at": None,
            }
            self._repo(repo_name).issues[number] = issue
            self._repo(repo_name).comments.setdefault(number, [])

    def add_issue(
        self,
        number: int,
        body: str,
        *,
        title: str = "An issue",
        author: str = "octocat",
        repository: str | None = None,
    ) -> None:
        """An open issue already in the repository (someone else's, with any body)."""
        repo_name = repository or self.repository
        with self._lock:
            self._repo(repo_name).issues[number] = self._issue(
                repo_name, number, title=title, body=body, author=author, state="open"
            )
            self._repo(repo_name).comments.setdefault(number, [])

    def issues(self, repository: str | None = None) -> list[dict[str, Any]]:
        """The issues (pull requests left out), by number."""
        with self._lock:
            found = self._repo(repository).issues
            return [dict(found[n]) for n in sorted(found) if "pull_request" not in found[n]]

    def add_comment(
        self, number: int, body: str, *, user: str = "octocat", repository: str | None = None
    ) -> int:
        """A comment already on the pull request (someone else's, another bot's...). Returns its id."""
        with self._lock:
            return self._create_comment(repository or self.repository, number, body, user)["id"]  # type: ignore[no-any-return]

    def author_of(self, token: str) -> str:
        """The login that authors what ``token`` creates."""
        if token in self.user_tokens:
            return self.user_tokens[token]
        if token in self.app_tokens:
            return f"{self.app_tokens[token]}[bot]"
        return BOT_LOGIN

    def caller_login(self) -> str:
        """The author of what the request being handled creates."""
        return str(getattr(self._caller, "login", BOT_LOGIN))

    def _known_token(self, token: str) -> bool:
        return (
            token == self.token
            or token in self.read_only_tokens
            or token in self.user_tokens
            or (token in self.app_tokens)
        )

    def _public_user(self, login: str) -> dict[str, Any]:
        return {
            **self._user(login),
            "name": login.title(),
            "company": None,
            "blog": "",
            "location": None,
            "email": None,
            "hireable": None,
            "bio": None,
            "public_repos": 1,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": "2020-01-01T00:00:00Z",
            "updated_at": _now(),
        }

    def comments(self, number: int, repository: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._repo(repository).comments.get(number, [])]

    def fail_next(
        self,
        count: int,
        status: int = 502,
        *,
        method: str | None = None,
        kind: str = "plain",
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``count`` requests (of ``method``, if given) with an error instead."""
        with self._lock:
            for _ in range(count):
                self.faults.append(Fault(status, method, kind, retry_after))

    def writes(self) -> list[Recorded]:
        return [r for r in self.log if r.method in ("POST", "PATCH", "PUT", "DELETE")]

    # -- request handling ----------------------------------------------------------------------------

    def _create_comment(self, repo_name: str, number: int, body: str, login: str) -> dict[str, Any]:
        self._next_id += 1
        cid = self._next_id
        api = f"{self.url}/repos/{repo_name}"
        comment = {
            "id": cid,
            "node_id": f"IC_standin{cid}",
            "url": f"{api}/issues/comments/{cid}",
            "html_url": f"https://github.example/{repo_name}/pull/{number}#issuecomment-{cid}",
            "body": body,
            "user": self._user(login),
            "created_at": _now(),
            "updated_at": _now(),
            "issue_url": f"{api}/issues/{number}",
            "author_association": "NONE",
        }
        self._repo(repo_name).comments.setdefault(number, []).append(comment)
        return comment

    def _violation(self, text: str) -> None:
        with self._lock:
            self.violations.append(text)

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            for fault in list(self.faults):
                if fault.method in (None, method):
                    self.faults.remove(fault)
                    return fault
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        method = handler.command
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        auth = handler.headers.get("Authorization", "")
        token = auth.split(" ", 1)[1] if " " in auth else ""
        where = f"{method} {parts.path}"

        def send(
            status: int, body: Any = None, headers: dict[str, str] | None = None, *, checked: bool = True
        ) -> None:
            if checked and operation is not None:
                self._check_response(operation, status, body, headers or {}, where)
            payload = (
                b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
            )
            handler.send_response(status)
            content_type = "text/html" if isinstance(body, bytes) else "application/json; charset=utf-8"
            if body is not None:
                handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(payload)))
            handler.send_header("X-GitHub-Api-Version-Selected", API_VERSION)
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)
            with self._lock:
                self.log.append(Recorded(method, parts.path, query, status, token, body_doc))

        body_doc: Any = None
        path = parts.path
        if self.prefix and not path.startswith(self.prefix + "/"):
            operation = None
            self._violation(f"{where}: outside the API base path {self.prefix}")
            return send(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
        path = path[len(self.prefix) :]
        matched = self.contract.match(method, path)
        operation = matched[0] if matched else None
        if matched is None:
            self._violation(f"{where}: no such operation in the contract")
            return send(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
        operation, path_params = matched

        problems = self._check_request(operation, path_params, query, handler, raw)
        if raw:
            try:
                body_doc = json.loads(raw)
            except ValueError:
                body_doc = None
        if problems:
            for problem in problems:
                self._violation(f"{where}: {problem}")
            return send(
                400,
                {"message": "; ".join(problems)[:500], "documentation_url": "https://docs.github.com/rest"},
                checked=False,
            )
        if not self._known_token(token):
            self._violation(f"{where}: missing or wrong token")
            return send(
                401,
                {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
                checked=False,
            )

        fault = self._take_fault(method)
        if fault is not None and fault.kind != "lost-response":
            if fault.kind == "secondary-rate-limit":
                headers = {"Retry-After": str(fault.retry_after or 1)}
                message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
                return send(
                    fault.status,
                    {"message": message, "documentation_url": "https://docs.github.com/rest"},
                    headers,
                    checked=False,
                )
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            if fault.status >= 500:
                return send(fault.status, b"<html><body>Bad gateway</body></html>", headers, checked=False)
            return send(
                fault.status,
                {"message": "Injected failure", "documentation_url": "https://docs.github.com/rest"},
                headers,
                checked=False,
            )

        if method != "GET" and token in self.read_only_tokens:
            return send(
                403,
                {
                    "message": "Resource not accessible by integration",
                    "documentation_url": "https://docs.github.com/rest",
                },
            )
        self._caller.login = self.author_of(token)
        if operation.template == "/user":
            if token in self.user_tokens:
                return send(200, self._public_user(self.user_tokens[token]))
            message = "Resource not accessible by integration"
            return send(403, {"message": message, "documentation_url": "https://docs.github.com/rest"})
        owner_repo = f"{path_params['owner']}/{path_params['repo']}"
        if isinstance(body_doc, dict) and len(str(body_doc.get("body", ""))) > MAX_BODY_CHARS:
            self._violation(f"{where}: comment body longer than {MAX_BODY_CHARS} characters")
            return send(
                422,
                {
                    "message": "Validation Failed",
                    "documentation_url": "https://docs.github.com/rest",
                    "errors": [
                        {
                            "resource": "IssueComment",
                            "field": "body",
                            "code": "custom",
                            "message": "body is too long (maximum is 65536 characters)",
                        }
                    ],
                },
            )
        with self._lock:
            status, body, headers = self._apply(operation, owner_repo, path_params, query, body_doc)
        if fault is not None:  # lost response: the request took effect, the answer did not arrive
            return send(fault.status, b"<html><body>Bad gateway</body></html>", {}, checked=False)
        return send(status, body, headers)

    def _check_request(
        self,
        operation: Operation,
        path_params: dict[str, str],
        query: dict[str, str],
        handler: BaseHTTPRequestHandler,
        raw: bytes,
    ) -> list[str]:
        problems = []
        for name, spec in operation.parameters("path").items():
            try:
                value = self.contract.coerce(path_params[name], spec["schema"])
            except ValueError as error:
                problems.append(f"path parameter {name}: {error}")
                continue
            problems += [f"path parameter {name}: {p}" for p in self.contract.problems(spec["schema"], value)]
        declared = operation.parameters("query")
        for name, text in query.items():
            if name not in declared:
                problems.append(f"query parameter {name!r} is not in the contract")
                continue
            try:
                value = self.contract.coerce(text, declared[name]["schema"])
            except ValueError as error:
                problems.append(f"query parameter {name}: {error}")
                continue
            problems += [
                f"query parameter {name}: {p}"
                for p in self.contract.problems(declared[name]["schema"], value)
            ]
        if name_missing := [n for n, s in declared.items() if s.get("required") and n not in query]:
            problems.append(f"missing required query parameters {name_missing}")
        if "per_page" in query and query["per_page"].isdigit() and not 1 <= int(query["per_page"]) <= 100:
            problems.append("query parameter per_page: must be 1..100")
        version = handler.headers.get("X-GitHub-Api-Version")
        if version is not None and version != API_VERSION:
            problems.append(f"X-GitHub-Api-Version {version!r} is not {API_VERSION}")
        accept = handler.headers.get("Accept", "")
        if accept and not any(t in accept for t in ("application/vnd.github", "application/json", "*/*")):
            problems.append(f"Accept {accept!r} is not a GitHub media type")
        request_body = operation.spec.get("requestBody")
        if request_body is None:
            if raw:
                problems.append("a body was sent to an operation that takes none")
            return problems
        if not raw:
            if request_body.get("required"):
                problems.append("the required JSON body is missing")
            return problems
        if not handler.headers.get("Content-Type", "").startswith("application/json"):
            problems.append(f"Content-Type {handler.headers.get('Content-Type')!r} is not application/json")
        try:
            document = json.loads(raw)
        except ValueError:
            return [*problems, "the body is not JSON"]
        schema = request_body["content"]["application/json"]["schema"]
        problems += [f"body: {p}" for p in self.contract.problems(schema, document)]
        return problems

    def _check_response(
        self, operation: Operation, status: int, body: Any, headers: dict[str, str], where: str
    ) -> None:
        spec = operation.response(status)
        if spec is None and status == 404 and isinstance(body, dict) and body.get("message") == "Not Found":
            return  # GitHub answers any missing resource so, where the description lists it or not
        if spec is None:
            self._violation(f"{where}: response status {status} is not in the contract")
            return
        content = spec.get("content") or {}
        schema = (content.get("application/json") or {}).get("schema")
        if schema is not None:
            for problem in self.contract.problems(schema, body):
                self._violation(f"{where}: response {status} body: {problem}")
        elif body is not None:
            self._violation(f"{where}: response {status} has a body the contract does not declare")
        declared_headers = spec.get("headers") or {}
        for name in headers:
            if name not in declared_headers and name != "Retry-After":
                self._violation(f"{where}: response header {name} is not in the contract")

    def _linked_page(
        self, items: list[dict[str, Any]], query: dict[str, str], base: str
    ) -> tuple[int, Any, dict[str, str]]:
        """One page of ``items`` with the ``Link`` header GitHub sends (other query parameters kept)."""
        per_page = int(query.get("per_page", 30))
        page = int(query.get("page", 1))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        kept = {k: v for k, v in query.items() if k not in ("per_page", "page")}
        links = []
        if page < last:
            links.append(
                f'<{base}?{urlencode({**kept, "per_page": per_page, "page": page + 1})}>; rel="next"'
            )
            links.append(f'<{base}?{urlencode({**kept, "per_page": per_page, "page": last})}>; rel="last"')
        if page > 1:
            links.append(
                f'<{base}?{urlencode({**kept, "per_page": per_page, "page": page - 1})}>; rel="prev"'
            )
            links.append(f'<{base}?{urlencode({**kept, "per_page": per_page, "page": 1})}>; rel="first"')
        return 200, chunk, ({"Link": ", ".join(links)} if links else {})

    def _not_found(self) -> tuple[int, Any, dict[str, str]]:
        return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, {}

    def _apply(
        self, operation: Operation, repo_name: str, params: dict[str, str], query: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        repo = self.repositories.get(repo_name)
        if repo is None:
            return self._not_found()
        key = (operation.method, operation.template)
        if key == ("GET", "/repos/{owner}/{repo}/issues"):
            wanted = query.get("state", "open")
            labels = {name for name in query.get("labels", "").split(",") if name}
            items = [
                {**issue, "comments": len(repo.comments.get(number, []))}
                for number, issue in sorted(repo.issues.items())
                if wanted in ("all", issue["state"])
                and labels <= {label["name"] for label in issue["labels"]}
            ]
            if query.get("direction") == "desc":
                items.reverse()
            return self._linked_page(items, query, f"{self.url}/repos/{repo_name}/issues")
        if key == ("POST", "/repos/{owner}/{repo}/issues"):
            number = max(repo.issues, default=0) + 1
            issue = self._issue(
                repo_name,
                number,
                title=str(body["title"]),
                body=body.get("body"),
                author=self.caller_login(),
                state="open",
            )
            issue["labels"] = [self._label(repo_name, str(name)) for name in body.get("labels") or []]
            repo.issues[number] = issue
            repo.comments.setdefault(number, [])
            return 201, issue, {"Location": issue["url"]}
        if key == ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"):
            issue = repo.issues.get(int(params["issue_number"]))
            if issue is None:
                return self._not_found()
            for field_name in ("title", "body"):
                if field_name in body:
                    issue[field_name] = body[field_name]
            if "labels" in body:  # replaces the issue's labels, as GitHub does
                names = [name if isinstance(name, str) else name["name"] for name in body["labels"]]
                issue["labels"] = [self._label(repo_name, str(name)) for name in names]
            if body.get("state") in ("open", "closed"):
                issue["state"] = body["state"]
                issue["closed_at"] = _now() if body["state"] == "closed" else None
            issue["updated_at"] = _now()
            return 200, {**issue, "comments": len(repo.comments.get(issue["number"], []))}, {}
        if key == ("GET", "/repos/{owner}/{repo}/issues/{issue_number}"):
            issue = repo.issues.get(int(params["issue_number"]))
            if issue is None:
                return self._not_found()
            return 200, {**issue, "comments": len(repo.comments.get(issue["number"], []))}, {}
        if key[1] == "/repos/{owner}/{repo}/issues/{issue_number}/comments":
            number = int(params["issue_number"])
            if number not in repo.issues:
                return self._not_found()
            if key[0] == "POST":
                comment = self._create_comment(repo_name, number, body["body"], self.caller_login())
                return 201, comment, {"Location": comment["url"]}
            items = repo.comments.get(number, [])
            return self._linked_page(items, query, f"{self.url}/repos/{repo_name}/issues/{number}/comments")
        if key[1] == "/repos/{owner}/{repo}/issues/comments/{comment_id}":
            cid = int(params["comment_id"])
            for items in repo.comments.values():
                for index, comment in enumerate(items):
                    if comment["id"] != cid:
                        continue
                    if key[0] == "DELETE":
                        del items[index]
                        return 204, None, {}
                    if key[0] == "PATCH":
                        comment["body"] = body["body"]
                        comment["updated_at"] = _now()
                        return 200, comment, {}
                    return 200, comment, {}
            return self._not_found()
        return self._not_found()


@contextmanager
def running(**options: Any) -> Iterator[GitHubStandIn]:
    """``with running() as api:`` — a started stand-in, stopped afterwards."""
    standin = GitHubStandIn(**options).start()
    try:
        yield standin
    finally:
        standin.stop()
