"""The command that fetches the prediction logs before a monitor run (``monitor --logs-command``), run as every
user command is: in the project folder, without the forge's tokens or the config's secrets, its output
scrubbed, with a deadline."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

from mlops_actions.errors import DataError

if TYPE_CHECKING:
    from mlops_actions.domain.config import Config

LOGS_CREDENTIALS = (
    "MLOPS_LOGS_CREDENTIALS"  # handed to the command (a storage key), never to the monitor's output
)
DEFAULT_LOGS_COMMAND_TIMEOUT_S = 1800.0


def fetch_logs(
    config: Config, command: str, logs: str, *, timeout_s: float = DEFAULT_LOGS_COMMAND_TIMEOUT_S
) -> None:
    """Run ``command`` with ``MLOPS_PREDICTION_LOGS`` set to ``logs`` (and ``MLOPS_LOGS_CREDENTIALS`` passed
    on); a DataError naming its exit code, or its deadline, when it fails."""
    import os

    from mlops_actions.domain.secrets import env_for_config, remember_secret_names, run_user_command

    remember_secret_names((LOGS_CREDENTIALS,))  # scrubbed from whatever the command prints
    env = env_for_config(config, "monitor", {"MLOPS_PREDICTION_LOGS": logs})
    if LOGS_CREDENTIALS in os.environ:
        env[LOGS_CREDENTIALS] = os.environ[LOGS_CREDENTIALS]
    try:
        done = run_user_command(
            command,
            cwd=config.root,
            env=env,
            timeout=timeout_s,
            echo_stdout=sys.stderr,
            echo_stderr=sys.stderr,
        )
    except subprocess.TimeoutExpired:
        raise DataError(f"--logs-command timed out after {timeout_s:g} s") from None
    if done.returncode != 0:
        last = next((line.strip() for line in reversed(done.stderr.splitlines()) if line.strip()), "")
        raise DataError(
            f"--logs-command exited with code {done.returncode}" + (f": {last[:200]}" if last else "")
        )
