"""The metadata store as the JSON Lines data branch (metadata/branch.py) pushed with the git CLI: the GitLab
backend (its API has no files endpoint we rely on), usable with any git remote.

Nothing here touches the work tree, the index or the current branch of the clone: the branch is fetched
into a private ref (``git fetch <remote> +refs/heads/<branch>:refs/mlops-metadata/<branch>``), read with
``ls-tree``/``cat-file``, and a new commit is built from objects alone (``hash-object -w``, ``read-tree``
and ``update-index`` into a temporary index named by GIT_INDEX_FILE, ``write-tree``, ``commit-tree -p
<head>``). ``git push <remote> <commit>:refs/heads/<branch>`` without force is the compare-and-swap: the
remote refuses it unless it is a fast-forward of the head read.

The remote is a name (default ``origin``) or a URL. A URL is handed to git through GIT_CONFIG_* variables,
never on a command line, and every message has its credentials scrubbed. Every git call has a time-out.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlops_actions.errors import StoreError
from mlops_actions.metadata.branch import WriteUnknown, append_record, list_branch_records
from mlops_actions.metadata.records import Listing, RunRecord

DEFAULT_BRANCH = "mlops-metadata"
DEFAULT_REMOTE = "origin"
REMOTE_VARIABLE = "MLOPS_METADATA_REMOTE"
PRIVATE_REF_PREFIX = "refs/mlops-metadata/"
URL_REMOTE_NAME = "mlops-metadata-remote"  # the name a URL remote gets through GIT_CONFIG_*
NETWORK_TIMEOUT_SECONDS = 60.0
LOCAL_TIMEOUT_SECONDS = 30.0
IDENTITY = {
    "GIT_AUTHOR_NAME": "mlops-actions",
    "GIT_AUTHOR_EMAIL": "mlops-actions@users.noreply.invalid",
    "GIT_COMMITTER_NAME": "mlops-actions",
    "GIT_COMMITTER_EMAIL": "mlops-actions@users.noreply.invalid",
}
CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")
RACES = ("failed to update ref", "cannot lock ref", "failed to lock")  # a push that met another one
LOST_ANSWER = ("hung up unexpectedly", "early eof", "connection reset", "broken pipe", "timed out")


def scrub_remote(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced by ``***``."""
    return CREDENTIALS.sub(lambda found: f"{found.group('scheme')}***@", text)


class GitBranchStore:
    """Run records in ``runs/<model>/<YYYY-MM>.jsonl`` on a branch of a git remote."""

    def __init__(
        self,
        repo: Path | str,
        *,
        remote: str = DEFAULT_REMOTE,
        branch: str = DEFAULT_BRANCH,
        network_timeout: float = NETWORK_TIMEOUT_SECONDS,
        **loop_options: Any,
    ):
        self.repo = Path(repo)
        self.branch = branch
        self.network_timeout = network_timeout
        self._loop_options = loop_options  # attempts, sleep (tests)
        base = dict(os.environ)  # git runs in this process's environment, with its identity if it has none
        for name, value in IDENTITY.items():
            base.setdefault(name, value)
        base.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "LANGUAGE": "C"})
        base.pop("GIT_INDEX_FILE", None)
        if "://" in remote or remote.startswith("/") or "@" in remote:  # a URL or a path, not a remote's name
            count = int(base.get("GIT_CONFIG_COUNT", "0") or 0)
            base.update(
                {
                    "GIT_CONFIG_COUNT": str(count + 1),
                    f"GIT_CONFIG_KEY_{count}": f"remote.{URL_REMOTE_NAME}.url",
                    f"GIT_CONFIG_VALUE_{count}": remote,
                }
            )
            self.remote = URL_REMOTE_NAME
        else:
            self.remote = remote
        self._env = base
        self._private_ref = PRIVATE_REF_PREFIX + branch
        self.name = f"git data branch {scrub_remote(remote)}@{branch}"
        self.where = self.name

    def __repr__(self) -> str:
        return f"GitBranchStore(name={self.name!r})"

    @classmethod
    def from_options(
        cls, repo: Path | str, options: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> GitBranchStore:
        """The store on ``options["branch"]`` (default mlops-metadata) of ``options["remote"]`` (else env
        MLOPS_METADATA_REMOTE, else origin), for the clone at ``repo``."""
        env = os.environ if env is None else env
        remote = str(options.get("remote") or env.get(REMOTE_VARIABLE) or DEFAULT_REMOTE)
        return cls(repo, remote=remote, branch=str(options.get("branch") or DEFAULT_BRANCH))

    # -- the store ----------------------------------------------------------------------------------

    def append(self, record: RunRecord) -> None:
        """Append ``record`` once (a push without force is the compare-and-swap, retried on conflict)."""
        append_record(self, record, **self._loop_options)

    def list_records(self, model: str | None = None) -> Listing:
        return list_branch_records(self, model)

    def close(self) -> None:
        return None

    # -- git ----------------------------------------------------------------------------------------

    def _git(
        self,
        *args: str,
        input: bytes | None = None,
        timeout: float = LOCAL_TIMEOUT_SECONDS,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        command = ["git", "-C", str(self.repo), *args]
        try:
            done = subprocess.run(
                command,
                input=input,
                capture_output=True,
                timeout=timeout,
                env={**self._env, **(env or {})},
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise _Timeout(f"{self.name}: git {args[0]} took longer than {timeout:g} s") from None
        except OSError as error:
            raise StoreError(f"{self.name}: cannot run git ({error.strerror or error})") from None
        if check and done.returncode != 0:
            raise StoreError(f"{self.name}: git {args[0]} failed: {self._first_line(done.stderr)}")
        return done

    @staticmethod
    def _first_line(stderr: bytes) -> str:
        lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        important = [line for line in lines if line.startswith(("fatal:", "error:", "remote:"))]
        return scrub_remote((important or lines or ["no message"])[0])[:300]

    # -- the branch as files (metadata.branch.BranchFiles) ------------------------------------------

    def head(self) -> str | None:
        refspec = f"+refs/heads/{self.branch}:{self._private_ref}"
        for attempt in range(3):
            done = self._git(
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                "--no-recurse-submodules",
                "--refmap=",  # the remote's tracking branches stay as they are
                self.remote,
                refspec,
                timeout=self.network_timeout,
                check=False,
            )
            if done.returncode == 0:
                break
            message = done.stderr.decode("utf-8", "replace").lower()
            if "couldn't find remote ref" in message:
                return None  # no data branch yet: the first write creates it
            if "cannot lock ref" not in message or attempt == 2:  # a concurrent fetch in the same clone
                raise StoreError(f"{self.name}: git fetch failed: {self._first_line(done.stderr)}")
            time.sleep(0.05 * (attempt + 1))
        found = self._git("rev-parse", "--verify", "--quiet", f"{self._private_ref}^{{commit}}")
        return found.stdout.decode().strip()

    def files(self, head: str, folder: str) -> list[str]:
        done = self._git("ls-tree", "-r", "-z", "--name-only", head, "--", f"{folder}/")
        return [name for name in done.stdout.decode("utf-8", "replace").split("\0") if name]

    def read(self, head: str, path: str) -> str:
        done = self._git("cat-file", "blob", f"{head}:{path}", check=False)
        if done.returncode != 0:
            return ""
        return done.stdout.decode("utf-8", errors="replace")

    def write(self, head: str | None, path: str, text: str, message: str) -> bool:
        blob = self._git("hash-object", "-w", "--stdin", input=text.encode("utf-8")).stdout.decode().strip()
        with tempfile.TemporaryDirectory(prefix="mlops-metadata-") as scratch:
            index = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            self._git("read-tree", *([head] if head else ["--empty"]), env=index)
            self._git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=index)
            tree = self._git("write-tree", env=index).stdout.decode().strip()
        parents: Sequence[str] = ("-p", head) if head else ()
        commit = self._git("commit-tree", tree, *parents, "-m", message).stdout.decode().strip()
        try:
            done = self._git(
                "push",
                "--porcelain",
                "--no-verify",
                self.remote,
                f"{commit}:refs/heads/{self.branch}",
                timeout=self.network_timeout,
                check=False,
            )
        except _Timeout as error:
            raise WriteUnknown(str(error)) from None
        if done.returncode == 0:
            return True
        report = done.stdout.decode("utf-8", "replace")
        refused = [line for line in report.splitlines() if line.startswith("!")]
        if refused and "[remote rejected]" in refused[0] and not any(s in refused[0] for s in RACES):
            reason = scrub_remote(refused[0].split("\t")[-1])
            raise StoreError(f"{self.name}: the remote refused the push: {reason[:200]}")
        if refused and ("[rejected]" in refused[0] or "[remote rejected]" in refused[0]):
            return False  # not a fast-forward, or the ref was locked: another writer moved the branch first
        stderr = done.stderr.decode("utf-8", "replace").lower()
        if any(sign in stderr for sign in LOST_ANSWER):
            raise WriteUnknown(self._first_line(done.stderr))
        raise StoreError(f"{self.name}: git push failed: {self._first_line(done.stderr)}")


class _Timeout(StoreError):
    """A git call ran out of time (for a push: the outcome is unknown)."""
