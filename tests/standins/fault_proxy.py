"""A loopback fault proxy that sits in front of an API stand-in and misbehaves on chosen requests.

``with FaultProxy(upstream_url) as proxy:`` serves on 127.0.0.1 (random port); ``proxy.url`` replaces the
stand-in's URL (its path prefix, such as ``/api/v4``, is kept). Every request is forwarded to the stand-in;
the stand-in's own address is rewritten to the proxy's in the answer's headers and body, so pagination
links and upload URLs lead back through the proxy.

A :class:`Rule` picks requests by method, a regular expression searched in the path and which occurrences
(1 = the first matching request, ``None`` = every one), and says what to do with them:

- ``trickle``: forward, then send the answer's body one byte every ``seconds``;
- ``trickle-headers``: forward, then send the answer's status line and headers one byte every ``seconds``;
- ``truncate``: forward, then send the answer's status with the first half of its body (a complete
  exchange whose JSON is cut off);
- ``replace``: forward, then send the answer's status with ``body`` instead of its body;
- ``error-after``: forward (the request takes effect), then answer ``status`` (500, 502...) instead;
- ``delay``: wait ``seconds``, then forward.

Everything is bounded: no answer takes longer than ``max_seconds``, after which the connection is closed.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

ACTIONS = ("trickle", "trickle-headers", "truncate", "replace", "error-after", "delay")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "proxy-connection"}


@dataclass
class Rule:
    """What to do with the requests of ``method`` whose path matches ``path``."""

    action: str
    method: str = "GET"
    path: str = ""  # a regular expression searched in the path (query excluded)
    occurrences: tuple[int, ...] | None = (1,)  # which matching requests (1-based); None: every one
    seconds: float = 1.0  # trickle: between bytes; delay: before forwarding
    status: int = 502  # error-after
    body: bytes = b""  # replace
    seen: int = 0  # matching requests so far

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}, expected one of {ACTIONS}")


@dataclass
class Passed:
    """One request that went through the proxy."""

    method: str
    path: str
    action: str  # "forward" when no rule applied
    status: int = 0


@dataclass
class FaultProxy:
    """A reverse proxy on 127.0.0.1 in front of ``upstream`` (a stand-in's URL, with its path prefix)."""

    upstream: str
    rules: list[Rule] = field(default_factory=list)
    max_seconds: float = 60.0
    log: list[Passed] = field(default_factory=list)

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        if parts.hostname != "127.0.0.1":
            raise ValueError("the fault proxy fronts loopback stand-ins only")
        self._upstream_host, self._upstream_port = parts.hostname, parts.port or 80
        self._prefix = parts.path.rstrip("/")
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                proxy._handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def origin(self) -> str:
        assert self._server is not None, "enter the proxy first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """The stand-in's URL, through the proxy."""
        return f"{self.origin}{self._prefix}"

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def applied(self, action: str) -> list[Passed]:
        """The requests a rule with ``action`` was applied to."""
        with self._lock:
            return [passed for passed in self.log if passed.action == action]

    # -- handling --------------------------------------------------------------------------------

    def _rule_for(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.method == method and re.search(rule.path, path):
                    rule.seen += 1
                    if rule.occurrences is None or rule.seen in rule.occurrences:
                        return rule
        return None

    def _forward(
        self, handler: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(self._upstream_host, self._upstream_port, timeout=30)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        try:
            connection.request(handler.command, handler.path, body=body or None, headers=headers)
            answer = connection.getresponse()
            payload = answer.read()
            kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP]
            return answer.status, kept, payload
        finally:
            connection.close()

    def _rewrite(self, text: str) -> str:
        return text.replace(f"http://127.0.0.1:{self._upstream_port}", self.origin)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        path = urlsplit(handler.path).path
        rule = self._rule_for(handler.command, path)
        passed = Passed(handler.command, path, rule.action if rule else "forward")
        with self._lock:
            self.log.append(passed)
        started = time.monotonic()
        if rule is not None and rule.action == "delay":
            time.sleep(min(rule.seconds, self.max_seconds))
        status, headers, payload = self._forward(handler, body)
        payload = self._rewrite(payload.decode("latin-1")).encode("latin-1")
        headers = [(k, self._rewrite(v)) for k, v in headers]
        if rule is not None and rule.action == "truncate":
            payload = payload[: len(payload) // 2]
        elif rule is not None and rule.action == "replace":
            payload = rule.body
        elif rule is not None and rule.action == "error-after":
            status, payload = rule.status, b"<html><body>Bad gateway</body></html>"
            headers = [(k, v) for k, v in headers if k.lower() not in ("content-type", "location", "link")]
            headers.append(("Content-Type", "text/html"))
        passed.status = status
        if rule is not None and rule.action == "trickle-headers":
            head = f"HTTP/1.1 {status} {http.client.responses.get(status, 'Status')}\r\n" + "".join(
                f"{name}: {value}\r\n" for name, value in [*headers, ("Content-Length", str(len(payload)))]
            )
            self._trickle(handler, (head + "\r\n").encode("latin-1") + payload, rule.seconds, started)
            return
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        try:
            if rule is not None and rule.action == "trickle":
                handler.wfile.flush()
                self._trickle(handler, payload, rule.seconds, started)
            else:
                handler.wfile.write(payload)
        except OSError:  # the client gave up and closed the connection
            handler.close_connection = True

    def _trickle(self, handler: BaseHTTPRequestHandler, data: bytes, seconds: float, started: float) -> None:
        """Send ``data`` one byte every ``seconds``, for ``max_seconds`` at most, then close the connection."""
        handler.close_connection = True
        try:
            for index in range(len(data)):
                if time.monotonic() - started > self.max_seconds:
                    return
                handler.wfile.write(data[index : index + 1])
                handler.wfile.flush()
                time.sleep(seconds)
        except OSError:  # the client gave up and closed the connection
            return
