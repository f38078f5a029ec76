"""The deploy stage: fetch a released version by tag (or alias), check it, run the config's deploy command.

The files come from the registry with every sha256 checked against the version's manifest; the model's
digest is checked once more against the version and its metadata, and the model is loaded with the
config's trusted types, before ``deploy.command`` runs with the placeholders ``{model_dir}``,
``{version}``, ``{tag}`` and ``{model}`` (shell-quoted) and the same values in ``MLOPS_MODEL_DIR``,
``MLOPS_VERSION``, ``MLOPS_TAG``, ``MLOPS_MODEL_NAME`` and ``MLOPS_MODEL_DIGEST``.

:func:`dispatch_deploy` asks the platform to run the deploy workflow instead (on GitHub a
``workflow_dispatch``: tags and releases created with the job's ``GITHUB_TOKEN`` start no workflow runs, so
the release workflow starts the deploy explicitly).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.config import load_config
from mlops_actions.domain.model_io import METADATA_FILE, MODEL_FILE, read_model_metadata, verify_digest
from mlops_actions.domain.secrets import env_for_config, run_user_command
from mlops_actions.errors import ConfigError, MlopsError, RegistryError
from mlops_actions.progress import Progress
from mlops_actions.registry import ModelVersion, open_registry

if TYPE_CHECKING:
    from mlops_actions.platforms.base import Platform

TAG_PATTERN = re.compile(
    r"^(?:refs/tags/)?(?P<model>[a-z0-9][a-z0-9._-]{0,63})@v(?P<version>(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*))$"
)
GIT_REF_PATTERN = re.compile(r"^(?!.*\.\.)[A-Za-z0-9._/@+-]{1,200}$")


class DeployFailed(MlopsError):
    """The deploy command failed: exit code 1, like a failed gate."""

    exit_code = 1


@dataclass(frozen=True)
class DeployOutcome:
    version: ModelVersion | None
    model_dir: Path | None
    command: str | None
    skipped: str | None = None  # why nothing was deployed (a tag of another model)


def parse_version_tag(tag: str) -> tuple[str, str]:
    """(model, version) of ``<model>@v<MAJOR.MINOR.PATCH>`` (``refs/tags/`` accepted)."""
    match = TAG_PATTERN.match(tag.strip())
    if not match:
        shown = tag if len(tag) <= 80 else tag[:80] + "…"
        raise MlopsError(f"version tag {shown!r}: expected <model>@v<MAJOR.MINOR.PATCH>, e.g. churn@v1.2.0")
    return match.group("model"), match.group("version")


def _verify(model_dir: Path, version: ModelVersion, config: Any) -> None:
    """The fetched version's digests match its manifest and it loads with the config's trust (narrowed by
    its metadata), so deploy.command never sees a model that could not be loaded safely."""
    from mlops_actions.domain.model_io import load_model
    from mlops_actions.domain.trust import Trust

    metadata = read_model_metadata(model_dir)
    verify_digest(model_dir / MODEL_FILE, version.digest)
    if metadata.get("model_digest") != version.digest:
        raise RegistryError(
            f"{model_dir / METADATA_FILE}: model_digest {metadata.get('model_digest')} differs from the "
            f"version's {version.digest}"
        )
    load_model(
        model_dir / MODEL_FILE,
        expected_digest=version.digest,
        trust=Trust.from_config(config).narrowed(metadata.get("trusted_types"), model_dir / METADATA_FILE),
        import_root=config.root,
        digest_source=f"version {version.version}'s manifest",
    )


def run_deploy(
    config_path: str | Path,
    output_dir: str | Path,
    *,
    version_tag: str | None = None,
    ref: str | None = None,
    env: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> DeployOutcome:
    """Fetch ``version_tag`` (or the version ``ref`` names, default ``production``), verify it, deploy it.

    Each step runs under ``progress`` (silent by default).
    """
    env = os.environ if env is None else env
    progress = Progress.silent() if progress is None else progress
    with progress.step("loading config"):
        config = load_config(config_path)
    if version_tag:
        model, wanted = parse_version_tag(version_tag)
        if model != config.model_name:
            return DeployOutcome(
                None,
                None,
                None,
                skipped=f"tag {version_tag} is of model {model!r}, this config deploys {config.model_name!r}",
            )
    else:
        wanted = ref or "production"
    if not config.deploy_command:
        raise ConfigError(f"{config.path}: deploy.command: required to deploy, expected a shell command")
    with progress.step("resolving version") as step:
        registry = open_registry(config)
        found = registry.resolve(wanted)
        if found is None:
            raise RegistryError(
                f"the {registry.name} registry has no version {wanted!r} of {config.model_name!r}"
            )
        step.done(found.tag)
    output_dir = Path(output_dir)
    if not output_dir.is_absolute():
        output_dir = Path.cwd() / output_dir
    target = output_dir / "deploy" / found.version
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=output_dir, prefix=".deploy-"))
    try:
        with progress.step("fetching"):
            registry.fetch(found.version, staging)
        with progress.step("verifying"):
            _verify(staging, found, config)
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    values = {
        "model_dir": str(target),
        "version": found.version,
        "tag": found.tag,
        "model": config.model_name,
    }
    try:
        command = config.deploy_command.format(**{k: shlex.quote(v) for k, v in values.items()})
    except (KeyError, IndexError, ValueError) as error:
        raise ConfigError(
            f"{config.path}: deploy.command: unknown placeholder {error}, expected {{model_dir}} {{version}} {{tag}} {{model}}"
        ) from None
    variables = {
        "MLOPS_MODEL_DIR": str(target),
        "MLOPS_VERSION": found.version,
        "MLOPS_TAG": found.tag,
        "MLOPS_MODEL_NAME": config.model_name,
        "MLOPS_MODEL_DIGEST": found.digest,
    }
    try:
        with progress.step("deploy command"):
            done = run_user_command(
                command,
                cwd=config.root,
                env=env_for_config(config, "deploy", variables),
                timeout=config.deploy_timeout_s,
                echo_stdout=sys.stderr,
                echo_stderr=sys.stderr,
            )
    except subprocess.TimeoutExpired:
        raise DeployFailed(
            f"deploy.command timed out after {config.deploy_timeout_s / 60:g} minutes (deploy.timeout_minutes)"
        ) from None
    if done.returncode != 0:
        raise DeployFailed(f"deploy.command exited with code {done.returncode} deploying {found.tag}")
    return DeployOutcome(found, target, command)


def dispatch_deploy(
    workflow: str,
    version_tag: str,
    *,
    git_ref: str | None = None,
    env: Mapping[str, str] | None = None,
    platform: Platform | None = None,
) -> dict[str, Any]:
    """Ask ``platform`` to run the deploy ``workflow`` on ``git_ref`` (default: the job's branch) with the
    input ``version-tag``: a ``workflow_dispatch`` on GitHub (the default platform, from ``env``), a
    pipeline on GitLab, a recorded file locally."""
    parse_version_tag(version_tag)
    if platform is None:
        from mlops_actions.platforms.github.platform import GitHubPlatform

        platform = GitHubPlatform.from_environment(env)
    ref = git_ref or platform.branch() or ""
    if not ref or not GIT_REF_PATTERN.match(ref):
        raise MlopsError(
            f"git ref {ref!r} for the dispatch: expected a branch name (the job's branch or --git-ref)"
        )
    sent = platform.dispatch(
        workflow, ref=ref, inputs={"version-tag": version_tag.removeprefix("refs/tags/")}
    )
    return {
        "workflow": sent.target,
        "ref": sent.ref,
        "version_tag": version_tag,
        "repository": sent.location,  # where it was started: the repository, project or file
        "platform": platform.name,
    }
