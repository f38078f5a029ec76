"""Secrets: the environment user code runs in, and the scrubber that keeps secret values out of every output.

User commands (``tests.command``, ``train.command``, ``deploy.command``, the merge-base retrain) and the
training entrypoint run without forge tokens, CI runtime tokens, service credentials and the variables the
config names in ``secrets.names``; ``secrets.pass.<command>`` hands a command the secrets it really needs
(never a forge token). Whatever user code prints, and every error line, result file, report and comment,
passes through :class:`Scrubber`, which replaces each known secret value (raw, URL-encoded, and as HTTP basic
auth) with ``***``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, quote_plus

FORGE_TOKEN_VARIABLES = (
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "MLOPS_GITHUB_TOKEN",
    "MLOPS_GITLAB_TOKEN",
    "GITLAB_TOKEN",
    "CI_JOB_TOKEN",
    "CI_REGISTRY_PASSWORD",
)
# ACTIONS_RUNTIME_TOKEN, ACTIONS_ID_TOKEN_REQUEST_TOKEN/URL, ACTIONS_CACHE_URL...; CI_JOB_JWT, CI_JOB_JWT_V2...
FORGE_TOKEN_PREFIXES = ("ACTIONS_", "CI_JOB_JWT")
SERVICE_SECRET_VARIABLES = ("CI_DEPLOY_PASSWORD", "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD")
USER_COMMANDS = ("tests", "train", "deploy")
VARIABLE_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
MIN_SECRET_CHARS = 8  # shorter values ("true", "1") are not secrets and would blank out ordinary text
MASK = "***"

_config_secret_names: set[str] = set()


def is_forge_token(name: str) -> bool:
    """Whether ``name`` holds a forge or CI runtime credential, which no user command ever receives."""
    return name in FORGE_TOKEN_VARIABLES or name.startswith(FORGE_TOKEN_PREFIXES)


def remember_secret_names(names: Iterable[str]) -> None:
    """Record the variables a loaded config names as secrets, so every scrubber of this process knows them."""
    _config_secret_names.update(names)


def is_secret_name(name: str, named: Iterable[str] = ()) -> bool:
    """A forge token, a service credential, or a variable a config names as a secret."""
    return (
        is_forge_token(name)
        or name in SERVICE_SECRET_VARIABLES
        or name in _config_secret_names
        or name in set(named)
    )


def secret_values(env: Mapping[str, str] | None = None, named: Iterable[str] = ()) -> list[str]:
    """The values of the secret variables set in ``env`` (long enough to be secrets), longest first."""
    env = os.environ if env is None else env
    named = tuple(named)
    found = {
        value for name, value in env.items() if is_secret_name(name, named) and len(value) >= MIN_SECRET_CHARS
    }
    return sorted(found, key=lambda value: (-len(value), value))


def _forms(value: str) -> set[str]:
    """How a secret can appear in text: as is, URL-encoded, and inside an HTTP basic-auth header."""
    forms = {value, quote(value), quote(value, safe=""), quote_plus(value)}
    for user in ("x-access-token", "gitlab-ci-token", "oauth2"):
        forms.add(base64.b64encode(f"{user}:{value}".encode()).decode("ascii"))
    return {form for form in forms if len(form) >= MIN_SECRET_CHARS}


class Scrubber:
    """Replaces every form of the given secret values with ``***``."""

    def __init__(self, values: Iterable[str]):
        self.values = tuple(values)
        forms = sorted({form for value in self.values for form in _forms(value)}, key=lambda f: (-len(f), f))
        self._pattern = re.compile("|".join(map(re.escape, forms))) if forms else None

    def scrub(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        return self._pattern.sub(MASK, text) if self._pattern is not None and text else text

    def scrub_data(self, data: Any) -> Any:
        """A copy of JSON-like ``data`` (dicts, lists, strings) with every string scrubbed, keys included."""
        if isinstance(data, str):
            return self.scrub(data)
        if isinstance(data, Mapping):
            return {self.scrub(k) if isinstance(k, str) else k: self.scrub_data(v) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.scrub_data(item) for item in data]
        return data


def current_scrubber(env: Mapping[str, str] | None = None, named: Iterable[str] = ()) -> Scrubber:
    """A scrubber of the secrets set in ``env`` (default: this process's environment) and config-named ones."""
    return Scrubber(tuple(secret_values(env, named)))


def scrub(text: str) -> str:
    """``text`` with every secret of this process's environment replaced by ``***``."""
    return current_scrubber().scrub(text)


def user_command_env(
    *,
    secret_names: Iterable[str] = (),
    passed: Iterable[str] = (),
    extra: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment for user code: ``env`` without its secrets and
    without any variable whose value holds one (e.g. a clone URL with the job token), except those in
    ``passed``; ``python`` on PATH is the interpreter running mlops-actions; ``extra`` added last."""
    env = dict(os.environ if env is None else env)
    named = tuple(secret_names)
    allowed = {name for name in passed if not is_forge_token(name)}
    hidden = [value for name, value in env.items() if is_secret_name(name, named) and name not in allowed]
    hidden = [value for value in hidden if len(value) >= MIN_SECRET_CHARS]
    kept = {
        name: value
        for name, value in env.items()
        if name in allowed or not (is_secret_name(name, named) or any(secret in value for secret in hidden))
    }
    bin_dir = str(Path(sys.executable).parent)
    kept["PATH"] = os.pathsep.join(
        [bin_dir, *(p for p in kept.get("PATH", "").split(os.pathsep) if p != bin_dir)]
    )
    kept.update(extra or {})
    return kept


def env_for_config(config: Any, command: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """:func:`user_command_env` with the config's ``secrets.names`` and ``secrets.pass.<command>``."""
    return user_command_env(
        secret_names=config.secret_names,
        passed=config.pass_env.get(command, ()),
        extra=extra,
    )


@contextlib.contextmanager
def user_code_environment(config: Any, command: str) -> Iterator[None]:
    """Run in-process user code (the training entrypoint) with :func:`env_for_config`; restored on exit."""
    saved = dict(os.environ)
    stripped = env_for_config(config, command)
    try:
        for name in set(saved) - set(stripped):
            del os.environ[name]
        os.environ.update(stripped)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass(frozen=True)
class CommandRun:
    """A finished user command: exit code and its output, already scrubbed."""

    returncode: int
    stdout: str
    stderr: str


def _pump(stream: IO[str], lines: list[str], scrubber: Scrubber, echo: IO[str] | None) -> None:
    for line in stream:
        clean = scrubber.scrub(line)
        lines.append(clean)
        if echo is not None:
            echo.write(clean)
            echo.flush()


def run_user_command(
    command: str,
    *,
    cwd: str | Path,
    env: Mapping[str, str],
    timeout: float,
    echo_stdout: IO[str] | None = None,
    echo_stderr: IO[str] | None = None,
) -> CommandRun:
    """Run a user's shell command; every line it prints is scrubbed before it is kept or echoed.

    On timeout the command's whole process group is killed and ``subprocess.TimeoutExpired`` raised.
    """
    scrubber = current_scrubber()
    proc = subprocess.Popen(
        command,
        shell=True,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    out: list[str] = []
    err: list[str] = []
    assert proc.stdout is not None and proc.stderr is not None
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, out, scrubber, echo_stdout), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, err, scrubber, echo_stderr), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    try:
        returncode = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise
    finally:
        for pump, stream in zip(pumps, (proc.stdout, proc.stderr), strict=True):
            pump.join(timeout=5)
            if not pump.is_alive():  # a background child may still hold the pipe: leave it to the thread
                stream.close()
    return CommandRun(returncode, "".join(out), "".join(err))


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
