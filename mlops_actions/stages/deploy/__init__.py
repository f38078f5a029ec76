"""The deploy stage: fetch → start → ready → smoke → load → promote or roll back (``run.py``); fetching and
verifying a version (``fetch.py``), the targets (``targets.py``), the smoke test (``smoke.py``), the verdict
in the registry (``verdict.py``), the result, report and deploy record (``record.py``), and asking the CI
platform to deploy instead (``dispatch.py``)."""

from mlops_actions.domain.semver import parse_version_tag
from mlops_actions.stages.deploy.dispatch import GIT_REF_PATTERN, dispatch_deploy
from mlops_actions.stages.deploy.run import DeployOutcome, run_deploy

__all__ = ["GIT_REF_PATTERN", "DeployOutcome", "dispatch_deploy", "parse_version_tag", "run_deploy"]
