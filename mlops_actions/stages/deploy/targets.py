"""Where a version is deployed: the built-in server on the runner, or the config's ``deploy.command``.

:class:`BuiltInTarget` serves the fetched, verified model from a thread of this process
(``serving.server.start_server``), with the environment user code gets while it serves (no forge token), and
stops it again. :class:`CommandTarget` runs ``deploy.command`` with the placeholders ``{model_dir}``,
``{version}``, ``{tag}`` and ``{model}`` (shell-quoted) and the same values in ``MLOPS_MODEL_DIR``,
``MLOPS_VERSION``, ``MLOPS_TAG``, ``MLOPS_MODEL_NAME`` and ``MLOPS_MODEL_DIGEST``; it answers at
``deploy.url`` (same placeholders, unquoted), and deploying another version with the command replaces it.
:func:`wait_ready` waits until ``GET {url}/ready`` answers 200 for the expected version.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.errors import ConfigError, DeployFailed, MlopsError
from mlops_actions.registry import ModelVersion

if TYPE_CHECKING:
    from mlops_actions.domain.config import Config
    from mlops_actions.serving.server import ServerHandle
    from mlops_actions.serving.source import ServedModel

BUILT_IN, COMMAND = "built-in", "command"
READY_POLL_S = 0.1


class TargetFailed(MlopsError):
    """A target did not come up or answer as it should; the deploy rolls back."""


@dataclass(frozen=True)
class FetchedVersion:
    """A version fetched and verified for a deploy."""

    version: ModelVersion
    model_dir: Path


def served_version(config: Config, fetched: FetchedVersion) -> ServedModel:
    """The fetched folder loaded for serving, labelled with its registry version (tag, metrics, lineage)."""
    from mlops_actions.serving.source import load_served_model

    served = load_served_model(config, model_dir=fetched.model_dir)
    found = fetched.version
    return dataclasses.replace(
        served, version=found.version, tag=found.tag, metrics=dict(found.metrics), lineage=dict(found.lineage)
    )


class BuiltInTarget:
    """The model server on this runner, one version at a time."""

    kind = BUILT_IN

    def __init__(self, config: Config, *, port: int | None, log_root: Path):
        self.config = config
        self.port = port or 0
        self.log_root = log_root
        self.handle: ServerHandle | None = None
        self.served: ServedModel | None = None
        self._environment = contextlib.ExitStack()

    def start(self, fetched: FetchedVersion) -> str:
        """Serve ``fetched``; its URL (ready once :func:`wait_ready` says so)."""
        from mlops_actions.domain.secrets import user_code_environment
        from mlops_actions.serving.server import start_server
        from mlops_actions.serving.source import USER_SCOPE

        self.stop()
        self.served = served_version(self.config, fetched)
        self._environment.enter_context(user_code_environment(self.config, USER_SCOPE))
        try:
            self.handle = start_server(
                self.served,
                self.config.serve,
                port=self.port,
                log_dir=self.log_root / f"predictions-{fetched.version.version}",
                wait=False,
            )
        except BaseException:
            self._environment.close()
            raise
        return self.handle.url

    @property
    def url(self) -> str | None:
        return self.handle.url if self.handle is not None else None

    @property
    def tag(self) -> str | None:
        return self.served.tag if self.served is not None else None

    def ready(self, url: str, version: str, *, timeout: float) -> float:
        """Seconds until the server answers ``GET /ready`` with 200 (model loaded, warmed up)."""
        started = time.monotonic()
        if self.handle is None:
            raise TargetFailed(f"the server of {version} is not running")
        try:
            self.handle.wait_ready(timeout)
        except MlopsError as error:
            raise TargetFailed(f"not ready: {error} (deploy.ready_timeout_s)") from None
        wait_ready(url, version, timeout=max(1.0, timeout - (time.monotonic() - started)))
        return time.monotonic() - started

    def leave_user_environment(self) -> None:
        """Give this process its own environment back while the server keeps running (registry writes)."""
        self._environment.close()

    def enter_user_environment(self) -> None:
        from mlops_actions.domain.secrets import user_code_environment
        from mlops_actions.serving.source import USER_SCOPE

        self._environment.enter_context(user_code_environment(self.config, USER_SCOPE))

    def serve_until_stopped(self) -> None:
        """Keep serving (with the user code's environment) until SIGTERM or SIGINT, then stop."""
        import signal
        import threading

        stopped = threading.Event()
        previous = {
            sig: signal.signal(sig, lambda *_: stopped.set()) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            self.enter_user_environment()
            while not stopped.wait(0.5):
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()

    def stop(self) -> None:
        """Stop serving (requests in flight finish, the prediction log is flushed)."""
        if self.handle is not None:
            self.handle.stop()
            self.handle = None
        self._environment.close()


def placeholder_values(config: Config, fetched: FetchedVersion) -> dict[str, str]:
    return {
        "model_dir": str(fetched.model_dir),
        "version": fetched.version.version,
        "tag": fetched.version.tag,
        "model": config.model_name,
    }


def target_url(config: Config, fetched: FetchedVersion) -> str | None:
    """``deploy.url`` with its placeholders filled in for ``fetched``; None without one."""
    url = config.deploy.url
    if url is None:
        return None
    values = placeholder_values(config, fetched)
    del values["model_dir"]
    try:
        return url.format(**values)
    except (KeyError, IndexError, ValueError) as error:
        raise ConfigError(
            f"{config.path}: deploy.url: unknown placeholder {error}, expected {{version}} {{tag}} {{model}}"
        ) from None


class CommandTarget:
    """The config's ``deploy.command``: a container, a cloud endpoint, a server of your own."""

    kind = COMMAND

    def __init__(self, config: Config, *, progress: Any, echo: Any = None):
        self.config = config
        self.progress = progress
        self.echo = echo or sys.stderr

    def command_for(self, fetched: FetchedVersion) -> str:
        values = placeholder_values(self.config, fetched)
        try:
            return str(self.config.deploy_command).format(**{k: shlex.quote(v) for k, v in values.items()})
        except (KeyError, IndexError, ValueError) as error:
            raise ConfigError(
                f"{self.config.path}: deploy.command: unknown placeholder {error}, expected {{model_dir}} "
                "{version} {tag} {model}"
            ) from None

    def start(self, fetched: FetchedVersion, *, step: str = "deploy command") -> str | None:
        """Run the command for ``fetched``; the URL it answers at (None without deploy.url)."""
        from mlops_actions.domain.secrets import env_for_config, run_user_command

        command = self.command_for(fetched)
        url = target_url(self.config, fetched)
        found = fetched.version
        variables = {
            "MLOPS_MODEL_DIR": str(fetched.model_dir),
            "MLOPS_VERSION": found.version,
            "MLOPS_TAG": found.tag,
            "MLOPS_MODEL_NAME": self.config.model_name,
            "MLOPS_MODEL_DIGEST": found.digest,
        }
        timeout = self.config.deploy_timeout_s
        try:
            with self.progress.step(step):
                done = run_user_command(
                    command,
                    cwd=self.config.root,
                    env=env_for_config(self.config, "deploy", variables),
                    timeout=timeout,
                    echo_stdout=self.echo,
                    echo_stderr=self.echo,
                )
        except subprocess.TimeoutExpired:
            raise DeployFailed(
                f"deploy.command timed out after {timeout / 60:g} minutes (deploy.timeout_minutes)"
            ) from None
        if done.returncode != 0:
            raise DeployFailed(f"deploy.command exited with code {done.returncode} deploying {found.tag}")
        return url

    def ready(self, url: str, version: str, *, timeout: float) -> float:
        """Seconds until ``url`` answers ``GET /ready`` with 200 for ``version``."""
        return wait_ready(url, version, timeout=timeout)

    def stop(self) -> None:
        """Nothing: the command deploying the next version replaces this one."""


def _get(url: str, timeout: float) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except (OSError, ValueError):
        return 0, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def wait_ready(
    url: str,
    version: str,
    *,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
) -> float:
    """Seconds until ``GET {url}/ready`` answered 200 for ``version`` (an answer naming another version is a
    target still being replaced); TargetFailed after ``timeout`` seconds."""
    started = clock()
    last = "no answer"
    while True:
        status, answer = _get(url.rstrip("/") + "/ready", timeout=min(5.0, max(timeout, 0.5)))
        named = answer.get("version") if isinstance(answer, dict) else None
        if status == 200 and (named is None or str(named) == version):
            return clock() - started
        last = (
            f"it still serves version {named}"
            if status == 200
            else (f"GET /ready answered {status}" if status else "no answer")
        )
        if clock() - started > timeout:
            raise TargetFailed(f"not ready after {timeout:g} s (deploy.ready_timeout_s): {last}")
        time.sleep(READY_POLL_S)
