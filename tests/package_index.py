"""A real local package index for release tests: pypiserver on 127.0.0.1, uploads with twine, builds with build.

``LocalIndex`` serves a temporary packages folder; packages it does not hold are redirected to the machine's
usual index (pypiserver's fallback), so ``pip install --index-url <url> mlops-actions`` finds this project
there and its dependencies where pip always finds them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
UPLOAD_USER = "release"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def last_commit_epoch(repo: Path = REPO_ROOT) -> str:
    """SOURCE_DATE_EPOCH of a reproducible build: the committer time of HEAD."""
    done = subprocess.run(
        ["git", "log", "-1", "--format=%ct"], cwd=repo, capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout.strip()


def build_dists(out_dir: Path, *, source: Path = REPO_ROOT, timeout_s: float = 600) -> list[Path]:
    """The sdist and the wheel of ``source``, built into ``out_dir`` with SOURCE_DATE_EPOCH of its last commit."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SOURCE_DATE_EPOCH": last_commit_epoch(source)}
    subprocess.run(
        [str(BIN / "python"), "-m", "build", "--sdist", "--wheel", "--outdir", str(out_dir), str(source)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    dists = sorted([*out_dir.glob("*.tar.gz"), *out_dir.glob("*.whl")])
    if len(dists) != 2:
        raise RuntimeError(f"expected one sdist and one wheel in {out_dir}, found {[d.name for d in dists]}")
    return dists


class LocalIndex:
    """pypiserver on a free loopback port over a temporary folder; uploads need no password."""

    def __init__(self, *, ready_timeout_s: float = 30.0) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="local-index-")
        self.packages = Path(self._tmp.name) / "packages"
        self.packages.mkdir()
        self.port = free_port()
        self.root_url = f"http://127.0.0.1:{self.port}/"
        self.url = f"{self.root_url}simple/"
        self._ready_timeout_s = ready_timeout_s
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LocalIndex:
        self._process = subprocess.Popen(
            [
                str(BIN / "pypi-server"),
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--authenticate",
                ".",
                "--passwords",
                ".",
                str(self.packages),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self._ready_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"pypiserver exited with {self._process.returncode} before it answered")
            try:
                if requests.get(self.url, timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.close()
        raise RuntimeError(f"pypiserver did not answer on {self.url} within {self._ready_timeout_s:g} s")

    def upload(self, dists: list[Path], *, timeout_s: float = 120) -> None:
        """Upload the files with twine (the same command a release job runs against an index)."""
        env = {
            **os.environ,
            "TWINE_USERNAME": UPLOAD_USER,
            "TWINE_PASSWORD": "unused",
            "TWINE_NON_INTERACTIVE": "1",
        }
        subprocess.run(
            [str(BIN / "twine"), "upload", "--repository-url", self.root_url, *map(str, dists)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def files(self) -> list[str]:
        """The names of the files the index holds."""
        return sorted(p.name for p in self.packages.rglob("*") if p.is_file())

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._tmp.cleanup()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
