"""The release of mlops-actions itself, as .github/workflows/release.yml runs it (standard library only).

    python .ci/release.py check-version --tag v0.1.0 --dist dist
    python .ci/release.py notes --version 0.1.0 [--changelog CHANGELOG.md]
    python .ci/release.py github-release --tag v0.1.0 --commit SHA --dist dist [--changelog CHANGELOG.md]
    python .ci/release.py move-major-tag --tag v0.1.0 --commit SHA [--tags-from .]

It lives here, not in the package: it ships this repository, users never run it, and with no third-party
import a release job runs it from the checkout without installing anything. The GitHub calls read
``GITHUB_API_URL``, ``GITHUB_REPOSITORY`` and ``GITHUB_TOKEN`` from the environment (the token never on the
command line); each has a deadline. Exit codes: 0 done, 1 a failed check or API call, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VERSION_FILE = ROOT / "mlops_actions" / "__init__.py"
VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"$', re.MULTILINE)
COMMIT = re.compile(r"^[0-9a-f]{40}$")
RELEASE_TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
SECTION = re.compile(r"^## \[([^\]]+)\][^\n]*$", re.MULTILINE)
REQUEST_TIMEOUT_S = 30.0
MOVE_DEADLINE_S = 120.0
API_VERSION = "2022-11-28"


class BadInput(Exception):
    """Input that cannot be used (exit 2)."""


class Failed(Exception):
    """A check or an API call that failed (exit 1)."""


def package_version(version_file: Path = VERSION_FILE) -> str:
    """The package's version: ``__version__`` of mlops_actions/__init__.py (pyproject reads it from there)."""
    found = VERSION_LINE.search(version_file.read_text(encoding="utf-8"))
    if found is None:
        raise BadInput(f'{version_file}: expected a line __version__ = "X.Y.Z"')
    return found.group(1)


def parse_release_tag(tag: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a release tag ``vX.Y.Z``."""
    found = RELEASE_TAG.match(tag)
    if found is None:
        raise BadInput(f"tag {tag!r}: expected vMAJOR.MINOR.PATCH, e.g. v0.1.0")
    major, minor, patch = (int(part) for part in found.groups())
    return major, minor, patch


def version_problems(tag: str, version: str, dist_names: list[str]) -> list[str]:
    """Why the tag, the package version and the built files disagree (empty when they agree)."""
    problems = []
    if tag != f"v{version}":
        problems.append(f"tag {tag} is not the package version {version} (mlops_actions/__init__.py)")
    sdists = [n for n in dist_names if n == f"mlops_actions-{version}.tar.gz"]
    wheels = [n for n in dist_names if n.startswith(f"mlops_actions-{version}-") and n.endswith(".whl")]
    if len(sdists) != 1 or len(wheels) != 1 or len(dist_names) != 2:
        problems.append(f"expected the sdist and one wheel of {version}, found {sorted(dist_names)}")
    return problems


def changelog_section(text: str, version: str) -> str:
    """The body of CHANGELOG.md's ``## [version]`` section (Keep a Changelog), without its heading."""
    headings = list(SECTION.finditer(text))
    for index, heading in enumerate(headings):
        if heading.group(1) == version:
            end = headings[index + 1].start() if index + 1 < len(headings) else len(text)
            body = text[heading.end() : end]
            body = re.sub(r"^\[[^\]]+\]: \S+\s*$", "", body, flags=re.MULTILINE)  # link references
            body = body.strip()
            if not body:
                raise BadInput(f"CHANGELOG.md: the section ## [{version}] is empty")
            return body
    raise BadInput(f"CHANGELOG.md: no section ## [{version}] (expected one per released version)")


def highest_release(tags: list[str], major: int) -> tuple[int, int, int] | None:
    """The highest ``vMAJOR.Y.Z`` among ``tags`` (others ignored)."""
    versions = [v for v in (RELEASE_TAG.match(t) for t in tags) if v and int(v.group(1)) == major]
    parsed = [(int(v.group(1)), int(v.group(2)), int(v.group(3))) for v in versions]
    return max(parsed) if parsed else None


# -- the GitHub REST API ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    body: Any


@dataclass
class GitHub:
    """Calls to one repository's REST API, each with a deadline; answers 5xx and lost connections raise."""

    api_url: str
    repository: str
    token: str
    timeout_s: float = REQUEST_TIMEOUT_S

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> GitHub:
        env = dict(os.environ if env is None else env)
        missing = [n for n in ("GITHUB_REPOSITORY", "GITHUB_TOKEN") if not env.get(n)]
        if missing:
            raise BadInput(f"environment: {', '.join(missing)} must be set")
        api_url = env.get("GITHUB_API_URL") or "https://api.github.com"
        return cls(api_url.rstrip("/"), env["GITHUB_REPOSITORY"], env["GITHUB_TOKEN"])

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        url: str | None = None,
        data: bytes | None = None,
        content_type: str = "application/json",
    ) -> Response:
        target = url or f"{self.api_url}/repos/{self.repository}{path}"
        payload = data if data is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(target, data=payload, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", API_VERSION)
        if payload is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                raw = answer.read()
                return Response(answer.status, json.loads(raw) if raw else None)
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode(errors="replace")
            if error.code >= 500:
                raise Failed(f"{method} {target}: HTTP {error.code}") from None
            return Response(error.code, parsed)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise Failed(f"{method} {target}: {error}") from None


def _expect(response: Response, statuses: tuple[int, ...], what: str) -> Any:
    if response.status not in statuses:
        message = response.body.get("message") if isinstance(response.body, dict) else response.body
        raise Failed(f"{what}: HTTP {response.status} {message}")
    return response.body


def publish_github_release(
    api: GitHub, tag: str, commit: str, notes: str, dists: list[Path]
) -> dict[str, Any]:
    """The published GitHub release of ``tag`` with ``notes`` and ``dists`` attached; re-runnable.

    A new release is made as a draft, gets its files, then is published, so it never shows up half-made;
    a release of the tag that exists already gets the notes and whichever files it lacks.
    """
    found = api.call("GET", f"/releases/tags/{urllib.parse.quote(tag)}")
    if found.status == 200:
        release = found.body
        _expect(api.call("PATCH", f"/releases/{release['id']}", {"body": notes}), (200,), f"update {tag}")
    else:
        _expect(found, (404,), f"find the release of {tag}")
        release = _expect(
            api.call(
                "POST",
                "/releases",
                {"tag_name": tag, "target_commitish": commit, "name": tag, "body": notes, "draft": True},
            ),
            (201,),
            f"create the release of {tag}",
        )
    present = {asset["name"] for asset in release.get("assets", [])}
    upload = release["upload_url"].split("{", 1)[0]
    for dist in dists:
        if dist.name in present:
            continue
        _expect(
            api.call(
                "POST",
                "",
                url=f"{upload}?{urllib.parse.urlencode({'name': dist.name})}",
                data=dist.read_bytes(),
                content_type="application/octet-stream",
            ),
            (201,),
            f"upload {dist.name}",
        )
    if release.get("draft"):
        release = _expect(
            api.call("PATCH", f"/releases/{release['id']}", {"draft": False}), (200,), f"publish {tag}"
        )
    return dict(release)


def point_tag(
    api: GitHub,
    tag: str,
    commit: str,
    *,
    deadline_s: float = MOVE_DEADLINE_S,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> str:
    """Make ``refs/tags/<tag>`` point at ``commit`` (create it, or move it with force); what was done.

    Before every attempt the ref is read again, so a repeat after a lost answer or a concurrent change acts
    on what is there now; gives up at the deadline.
    """
    deadline = clock() + deadline_s
    path = f"/git/ref/tags/{urllib.parse.quote(tag)}"
    done = "unchanged"
    last_problem = ""
    wait = 1.0
    while True:
        try:
            current = api.call("GET", path)
            if current.status == 200 and current.body["object"]["sha"] == commit:
                return done
            if current.status == 404:
                created = api.call("POST", "/git/refs", {"ref": f"refs/tags/{tag}", "sha": commit})
                if created.status == 201:
                    done = "created"
                    continue  # read it back
                last_problem = f"create refs/tags/{tag}: HTTP {created.status}"
            elif current.status == 200:
                moved = api.call(
                    "PATCH", f"/git/refs/tags/{urllib.parse.quote(tag)}", {"sha": commit, "force": True}
                )
                if moved.status == 200:
                    done = f"moved from {current.body['object']['sha']}"
                    continue
                last_problem = f"move refs/tags/{tag}: HTTP {moved.status}"
            else:
                raise Failed(f"read refs/tags/{tag}: HTTP {current.status}")
        except Failed as error:
            if str(error).startswith("read refs/tags/"):
                raise
            last_problem = str(error)
        if clock() + wait > deadline:
            raise Failed(f"refs/tags/{tag} does not point at {commit} after {deadline_s:g} s: {last_problem}")
        pause(wait)
        wait = min(wait * 2, 10.0)


def git_tags(repo: Path) -> list[str]:
    """The tags of the git checkout ``repo``."""
    done = subprocess.run(
        ["git", "tag", "--list"], cwd=repo, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.split()


def move_major_tag(api: GitHub, tag: str, commit: str, tags: list[str]) -> str:
    """Point ``vMAJOR`` at ``commit`` unless a higher ``vMAJOR.Y.Z`` than ``tag`` exists; a one-line summary."""
    version = parse_release_tag(tag)
    major = f"v{version[0]}"
    highest = highest_release([*tags, tag], version[0])
    if highest is not None and highest > version:
        newer = "v{}.{}.{}".format(*highest)
        return f"{major} left where it is: {newer} is newer than {tag}"
    done = point_tag(api, major, commit)
    return f"{major} -> {commit} ({done})"


# -- the command line ------------------------------------------------------------------------------------


def _dists(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise BadInput(f"--dist {folder}: no such folder")
    return sorted([*folder.glob("*.tar.gz"), *folder.glob("*.whl")])


def _changelog(path: Path) -> str:
    if not path.is_file():
        raise BadInput(f"--changelog {path}: no such file")
    return path.read_text(encoding="utf-8")


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="release.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check-version", help="the tag, the package version and the dists agree")
    check.add_argument("--tag", required=True)
    check.add_argument("--dist", type=Path, required=True)
    notes = commands.add_parser("notes", help="print CHANGELOG.md's section of a version")
    notes.add_argument("--version", required=True)
    notes.add_argument("--changelog", type=Path, default=ROOT / "CHANGELOG.md")
    release = commands.add_parser("github-release", help="publish the GitHub release of a tag")
    release.add_argument("--tag", required=True)
    release.add_argument("--commit", required=True)
    release.add_argument("--dist", type=Path, required=True)
    release.add_argument("--changelog", type=Path, default=ROOT / "CHANGELOG.md")
    move = commands.add_parser("move-major-tag", help="point vMAJOR at the release commit")
    move.add_argument("--tag", required=True)
    move.add_argument("--commit", required=True)
    move.add_argument("--tags-from", type=Path, default=ROOT, help="git checkout whose tags are known")
    args = parser.parse_args(argv)
    if getattr(args, "commit", None) is not None and not COMMIT.match(args.commit):
        raise BadInput(f"--commit {args.commit!r}: expected a full 40-character commit sha")

    if args.command == "check-version":
        version = package_version()
        parse_release_tag(args.tag)
        problems = version_problems(args.tag, version, [d.name for d in _dists(args.dist)])
        for problem in problems:
            print(problem, file=sys.stderr)
        if not problems:
            print(f"{args.tag}: the package and its dists are version {version}")
        return 1 if problems else 0
    if args.command == "notes":
        print(changelog_section(_changelog(args.changelog), args.version))
        return 0
    if args.command == "github-release":
        version = ".".join(map(str, parse_release_tag(args.tag)))
        body = changelog_section(_changelog(args.changelog), version)
        dists = _dists(args.dist)
        if not dists:
            raise BadInput(f"--dist {args.dist}: holds no sdist or wheel")
        published = publish_github_release(GitHub.from_environment(), args.tag, args.commit, body, dists)
        print(f"released {args.tag}: {published.get('html_url')} ({len(dists)} files)")
        return 0
    summary = move_major_tag(GitHub.from_environment(), args.tag, args.commit, git_tags(args.tags_from))
    print(summary)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except BadInput as error:
        print(error, file=sys.stderr)
        return 2
    except Failed as error:
        print(error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
