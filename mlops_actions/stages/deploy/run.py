"""The deploy stage, in order: fetch → start → ready → smoke → load → promote, or roll back.

A version is fetched by tag (or alias) with every digest checked, then started on its target (the built-in
server on the runner, or ``deploy.command``), waited for until ``GET /ready`` answers 200, smoke-tested against
the answers recorded at release time and load-tested against ``loadtest.thresholds``. A version that passes
gets ``production`` (by the release's rule) and a ``deployed`` record. On any failure the previous version is
started again the same way and smoke-tested, ``production`` goes back to it if it names the failed version,
and the record says ``rolled_back`` (or ``failed`` when there was nothing to go back to, or that failed too).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.config import load_config
from mlops_actions.domain.semver import parse_version_tag
from mlops_actions.errors import ConfigError, MlopsError, RegistryError, UsageError
from mlops_actions.progress import Progress
from mlops_actions.registry import PRODUCTION, ModelVersion, Registry, open_registry, resolve_version
from mlops_actions.stages.deploy.fetch import fetch_version
from mlops_actions.stages.deploy.record import (
    DeployReport,
    StepTiming,
    VersionAttempt,
    deploy_record,
    write_deploy_files,
)
from mlops_actions.stages.deploy.smoke import SmokeCase, in_process_case, recorded_case, run_smoke
from mlops_actions.stages.deploy.targets import (
    BuiltInTarget,
    CommandTarget,
    FetchedVersion,
    TargetFailed,
    served_version,
)
from mlops_actions.stages.deploy.verdict import (
    DEPLOYED,
    FAILED,
    ROLLED_BACK,
    hand_back_production,
    previous_version,
    promote,
)
from mlops_actions.stages.records import deploy_record as deploy_run_record
from mlops_actions.stages.records import error_record, record_stage

if TYPE_CHECKING:
    from mlops_actions.domain.config import Config
    from mlops_actions.platforms.base import Platform

# (url, duration_s or None for the config's) -> a LoadTestResult (serving.loadtest)
LoadTest = Callable[[str, "float | None"], Any]


@dataclass
class DeployOutcome:
    """What a deploy did. ``failure`` is the one-line reason when it did not deploy (exit code 1);
    ``serving`` is the built-in server left running for ``keep_serving`` (stop it with :meth:`close`)."""

    version: ModelVersion | None
    model_dir: Path | None
    command: str | None
    skipped: str | None = None  # why nothing was deployed (a tag of another model)
    report: DeployReport | None = None
    markdown: str = ""
    paths: dict[str, Path] = field(default_factory=dict)
    failure: str | None = None
    serving: BuiltInTarget | None = None

    def result(self) -> dict[str, Any]:
        """The JSON result (``deploy-result.json``)."""
        return (
            self.report.as_dict() if self.report is not None else {"deployed": False, "skipped": self.skipped}
        )

    def close(self) -> None:
        """Stop the server kept running, if any."""
        if self.serving is not None:
            self.serving.stop()
            self.serving = None


class _Steps:
    """Progress steps that are also kept, with their durations, for the report."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.timings: list[StepTiming] = []

    @contextmanager
    def step(self, name: str) -> Iterator[Any]:
        started = time.monotonic()
        ok = False
        with self.progress.step(name) as step:
            try:
                yield step
                ok = True
            finally:
                self.timings.append(StepTiming(name, time.monotonic() - started, ok, step.detail))


def _now() -> str:
    now = dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _default_load_test(config: Config) -> LoadTest:
    def load_test(url: str, duration_s: float | None) -> Any:
        from mlops_actions.serving.loadtest import request_rows, run_load_test

        return run_load_test(url, config.loadtest, request_rows(config), duration_s=duration_s)

    return load_test


def _check_configured(config: Config, *, load: bool) -> None:
    """One-line errors for a deploy that cannot run at all, before anything is fetched or started."""
    settings = config.deploy
    if settings.url is not None and settings.command is None:
        raise ConfigError(
            f"{config.path}: deploy.url: names where deploy.command's target answers; without deploy.command "
            "the built-in server is tested at its own address"
        )
    if settings.command is None:
        from mlops_actions.serving.server import require_serve_extra

        require_serve_extra()
    if load and settings.smoke_tested and importlib.util.find_spec("locust") is None:
        raise MlopsError(
            "the deploy's load test needs locust: pip install 'mlops-actions[loadtest]' "
            "(or deploy.load: false, or --no-load)"
        )


def _headline(report: DeployReport, *, load_skipped: str | None) -> str:
    attempt = report.attempt
    if report.outcome == DEPLOYED:
        if report.untested:
            return f"{attempt.tag} deployed by deploy.command (not smoke- or load-tested: no deploy.url)"
        parts = [attempt.smoke.summary()] if attempt.smoke is not None else []
        load = attempt.load
        if load is not None:
            p99 = f"p99 {load.p99_ms:.0f} ms" if load.p99_ms is not None else "p99 —"
            parts.append(f"load {load.duration_s:.0f} s {load.rps:.0f} rps {p99}")
        elif load_skipped:
            parts.append(f"no load test ({load_skipped})")
        return f"{attempt.tag} deployed: {', '.join(parts)}"
    previous = report.previous
    if report.outcome == ROLLED_BACK and previous is not None:
        return f"{attempt.tag} rolled back to v{previous.version}: {report.reason}"
    if previous is None:
        return f"{attempt.tag} failed: {report.reason}; no previous version to roll back to"
    return f"{attempt.tag} failed: {report.reason}; the rollback to v{previous.version} failed too: {previous.failure}"


class _Deploy:
    """One deploy run: the state the steps share."""

    def __init__(
        self,
        config: Config,
        registry: Registry,
        output_dir: Path,
        steps: _Steps,
        *,
        load: bool,
        load_duration: float | None,
        load_test: LoadTest,
    ):
        self.config = config
        self.registry = registry
        self.output_dir = output_dir
        self.steps = steps
        self.load = load
        self.load_duration = load_duration
        self.load_test = load_test
        self.notes: list[str] = []
        self.target: BuiltInTarget | CommandTarget = (
            CommandTarget(config, progress=steps)
            if config.deploy.command
            else BuiltInTarget(config, port=config.deploy.port, log_root=output_dir / "deploy")
        )

    def smoke_case(self, fetched: FetchedVersion) -> SmokeCase:
        case = recorded_case(fetched.model_dir)
        if case is not None:
            return case
        served = self.target.served if isinstance(self.target, BuiltInTarget) else None
        if served is None or served.version != fetched.version.version:
            served = served_version(self.config, fetched)
        self.notes.append(
            f"{fetched.version.tag} was released without smoke.json: smoke-tested against answers computed here "
            "from its fetched, verified model on the config's eval rows"
        )
        return in_process_case(self.config, served)

    def try_version(self, fetched: FetchedVersion, *, prefix: str = "", with_load: bool) -> VersionAttempt:
        """Start ``fetched`` on the target, wait until ready, smoke-test it and (``with_load``) load-test it;
        the attempt says what failed, if anything."""
        found = fetched.version
        attempt = VersionAttempt(found.version, found.tag, found.digest, str(fetched.model_dir))
        try:
            if isinstance(self.target, CommandTarget):
                attempt.url = self.target.start(fetched, step=f"{prefix}deploy command")
            else:
                with self.steps.step(f"{prefix}starting server") as step:
                    attempt.url = self.target.start(fetched)
                    step.done(f"{found.tag} on {attempt.url}")
            if attempt.url is None:
                return attempt  # a command target without deploy.url: the command's exit code is all we know
            with self.steps.step(f"{prefix}waiting for ready") as step:
                attempt.ready_s = self.target.ready(
                    attempt.url, found.version, timeout=self.config.deploy.ready_timeout_s
                )
                step.done(f"ready in {attempt.ready_s:.1f} s")
            with self.steps.step(f"{prefix}smoke test") as step:
                case = self.smoke_case(fetched)
                attempt.smoke = run_smoke(
                    attempt.url,
                    case,
                    tolerance=self.config.deploy.smoke_tolerance,
                    regression=not self.config.is_classification,
                    version=found.version,
                )
                step.done(attempt.smoke.summary())
            if not attempt.smoke.passed:
                attempt.failure = attempt.smoke.reason()
                return attempt
            if with_load:
                with self.steps.step(f"{prefix}load test") as step:
                    attempt.load = self.load_test(attempt.url, self.load_duration)
                    load = attempt.load
                    step.done(
                        f"{load.requests} requests, {load.rps:.0f} rps, p99 "
                        + (f"{load.p99_ms:.0f} ms" if load.p99_ms is not None else "—")
                        + ("" if load.passed else " - failed")
                    )
                if not attempt.load.passed:
                    attempt.failure = (
                        f"load {attempt.load.failures[0]}"
                        if attempt.load.failures
                        else "the load test failed"
                    )
        except (ConfigError, UsageError):
            raise
        except (
            MlopsError
        ) as error:  # TargetFailed, DeployFailed, a model that cannot be served, a load that cannot run
            attempt.failure = str(error) if isinstance(error, TargetFailed) else str(error).split("\n")[0]
        return attempt


def run_deploy(
    config_path: str | Path,
    output_dir: str | Path,
    *,
    version_tag: str | None = None,
    ref: str | None = None,
    env: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    platform: Platform | None = None,
    load: bool | None = None,
    load_duration: float | None = None,
    keep_serving: bool = False,
    registry: Registry | None = None,
    load_test: LoadTest | None = None,
) -> DeployOutcome:
    """Deploy ``version_tag`` (or the version ``ref`` names, default ``production``): fetch, start, wait
    until ready, smoke, load, then promote it or roll back. Returns what happened (``failure`` set when it
    did not deploy); raises for a deploy that could not start at all (config, registry, digest).

    ``load`` (default ``deploy.load``) and ``load_duration`` (default ``loadtest.duration_s``) shape the load
    test; ``registry`` and ``load_test`` default to the config's registry and ``serving.loadtest``.
    """
    env = os.environ if env is None else env
    progress = Progress.silent() if progress is None else progress
    steps = _Steps(progress)
    started, started_at = time.monotonic(), _now()
    with steps.step("loading config"):
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
    try:
        return _deploy(
            config,
            wanted,
            output_dir,
            steps,
            started,
            started_at,
            platform=platform,
            load=load,
            load_duration=load_duration,
            keep_serving=keep_serving,
            registry=registry,
            load_test=load_test,
        )
    except MlopsError as error:  # a deploy that could not start at all: recorded, then raised as it was
        record = error_record(
            "deploy",
            config.model_name,
            error,
            started_at=started_at,
            duration_s=time.monotonic() - started,
            version=wanted if version_tag else None,
            links={"run": platform.links().run_url or ""} if platform is not None else None,
        )
        record_stage(config, record)
        raise


def _deploy(
    config: Config,
    wanted: str,
    output_dir: str | Path,
    steps: _Steps,
    started: float,
    started_at: str,
    *,
    platform: Platform | None,
    load: bool | None,
    load_duration: float | None,
    keep_serving: bool,
    registry: Registry | None,
    load_test: LoadTest | None,
) -> DeployOutcome:
    """The deploy of the version ``wanted`` names, after the config is loaded (see :func:`run_deploy`)."""
    load = config.deploy.load if load is None else load
    _check_configured(config, load=load)
    with steps.step("resolving version") as step:
        registry = open_registry(config) if registry is None else registry
        found = resolve_version(registry, config, wanted)
        step.done(found.tag)
    output_dir = Path(output_dir)
    if not output_dir.is_absolute():
        output_dir = Path.cwd() / output_dir
    fetched = FetchedVersion(found, fetch_version(registry, found, config, output_dir, progress=steps))
    run = _Deploy(
        config,
        registry,
        output_dir,
        steps,
        load=load,
        load_duration=load_duration,
        load_test=load_test or _default_load_test(config),
    )
    target = run.target
    report = DeployReport(
        model=config.model_name,
        target=target.kind,
        time=started_at,
        attempt=VersionAttempt(found.version, found.tag, found.digest, str(fetched.model_dir)),
        run_url=(platform.links().run_url if platform is not None else None),
    )
    load_skipped = None if load else ("deploy.load: false" if not config.deploy.load else "--no-load")
    kept: BuiltInTarget | None = None
    try:
        with_load = load and config.deploy.smoke_tested
        report.attempt = run.try_version(fetched, with_load=with_load)
        if report.attempt.url is None and report.attempt.passed:
            report.untested = (
                "deploy.command ran, but the target was neither smoke- nor load-tested: set deploy.url to where "
                "it answers (GET /ready, POST /predict)"
            )
        if isinstance(target, BuiltInTarget):
            target.leave_user_environment()  # the registry is read with this process's own environment
        before = registry.resolve(PRODUCTION)
        report.production = {"before": before.version if before is not None else None}
        if not report.attempt.passed:
            target.stop()  # before the registry is read: the failed version serves no longer
        try:
            records = list(registry.deploy_records())
        except RegistryError as error:
            run.notes.append(f"the deploy records could not be read ({error}); 'production' decides")
            records = []
        previous, chosen = previous_version(registry, found.version, records)
        report.previous_serving = previous.version if previous is not None else None
        if report.attempt.passed:
            report.outcome = DEPLOYED
            target_stopped = False
        else:
            report.reason = report.attempt.failure
            target_stopped = True
            report.previous_chosen = chosen
            if previous is None:
                report.outcome = FAILED
            else:
                label = f"rollback to {previous.version}: "
                attempt = VersionAttempt(previous.version, previous.tag, previous.digest)
                try:
                    previous_dir = fetch_version(
                        registry,
                        previous,
                        config,
                        output_dir,
                        progress=steps,
                        names=(f"{label}fetching", f"{label}verifying"),
                    )
                    attempt = run.try_version(
                        FetchedVersion(previous, previous_dir), prefix=label, with_load=False
                    )
                except (ConfigError, UsageError):
                    raise
                except MlopsError as error:
                    attempt.failure = str(error).split("\n")[0]
                report.previous = attempt
                report.outcome = ROLLED_BACK if attempt.passed else FAILED
                target_stopped = False
        report.headline = _headline(report, load_skipped=load_skipped)
        if isinstance(target, BuiltInTarget):
            if keep_serving and report.outcome != FAILED and not target_stopped and target.handle is not None:
                kept = target
                target.leave_user_environment()  # the registry writes below need this process's own environment
            else:
                target.stop()
        report.duration_s = time.monotonic() - started
        _settle(report, registry, found, config, run.notes)
    except BaseException:
        target.stop()
        raise
    report.notes = run.notes
    report.steps = steps.timings
    report.duration_s = time.monotonic() - started
    note = record_stage(config, deploy_run_record(report, found))
    if note is not None:
        run.notes.append(note)
    from mlops_actions.render.deploy import deploy_markdown

    result = report.as_dict()
    markdown = deploy_markdown(result)
    paths = write_deploy_files(output_dir, result, markdown)
    return DeployOutcome(
        found,
        fetched.model_dir,
        target.command_for(fetched) if isinstance(target, CommandTarget) else None,
        report=report,
        markdown=markdown,
        paths=paths,
        failure=None if report.deployed else report.headline,
        serving=kept,
    )


def _settle(
    report: DeployReport, registry: Registry, found: ModelVersion, config: Config, notes: list[str]
) -> None:
    """Move ``production`` as the verdict says and append the deploy record."""
    production = report.production
    if report.outcome == DEPLOYED:
        moved, note = promote(registry, found, config.root)
    else:
        previous = report.previous.version if report.previous is not None else None
        moved, note = hand_back_production(registry, found.version, previous)
        if report.previous is not None and not report.previous.passed and moved:
            note += " (its rollback failed: check what serves)"
    after = registry.resolve(PRODUCTION)
    production.update(moved=moved, note=note, after=after.version if after is not None else None)
    record = deploy_record(report, time=_now())
    try:
        registry.record_deploy(found.version, record)
        report.record = record
    except MlopsError as error:
        report.record_error = str(error)
        notes.append(f"the deploy record was not written: {error}")
