"""The monitor states contract, the same on every registry: the local folder, GitHub releases and GitLab
packages (against their contract-enforcing API stand-ins) and MLflow (a real `mlflow server`, as in
test_mlflow.py; skipped when mlflow is not installed)."""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlops_actions.errors import RegistryError
from mlops_actions.registry.base import MAX_MONITOR_STATES_CHARS, UnreadableMonitorStates, monitor_states_text
from tests.standins.fault_proxy import FaultProxy, Rule

HAS_MLFLOW = importlib.util.find_spec("mlflow") is not None
if HAS_MLFLOW:
    from tests.unit.registry.test_mlflow import tracking_uri  # noqa: F401 - the real server

BACKENDS = [
    "local",
    "github",
    "gitlab",
    pytest.param("mlflow", marks=pytest.mark.skipif(not HAS_MLFLOW, reason="no mlflow")),
]
MLFLOW_MODELS = itertools.count()


def state(day: int, *, pad: int = 0, **fields: Any) -> dict[str, Any]:
    """A stored window state of 2026-11-<day>, ``pad`` characters of drift columns long."""
    start = f"2026-11-{day:02d}T00:00:00Z"
    document = {
        "start": start,
        "end": f"2026-11-{day:02d}T23:59:59Z",
        "rows": 1000 + day,
        "status": "ok",
        "version": "1.0.0",
        "checks": {"stability": "ok", "input_drift": "ok"},
        "drift": {"income": 0.0123, "region": 0.2},
        "counters": {"nonfinite_share": 0},
        **fields,
    }
    if pad:
        document["drift"] = {f"feature_{i:05d}": 0.1234 for i in range(pad // 24)}
    return document


@dataclass
class Backend:
    """A registry with versions 1.0.0 and 1.1.0 published, and what the tests read around it."""

    name: str
    registry: Any
    stored_text: Callable[[], str]  # what the backend holds for 1.0.0's states ("" for none)
    corrupt: Callable[[], None]  # make what it holds unreadable
    through: Callable[[str], Any]  # the same registry reached through a proxy URL
    upstream: str  # the URL a fault proxy sits in front of ("" for local)
    write: Rule | None  # the request that writes the states


def local_backend(tmp_path: Path) -> Backend:
    from mlops_actions.platforms.local.registry import MONITOR_STATES, LocalRegistry
    from tests.unit.platforms.local.test_registry import make_model_dir

    registry = LocalRegistry(tmp_path / "reg", "credit")
    registry.publish(make_model_dir(tmp_path / "a"), version="1.0.0", metrics={})
    registry.publish(make_model_dir(tmp_path / "b", payload=b"second"), version="1.1.0", metrics={})
    path = tmp_path / "reg" / "credit" / "versions" / "1.0.0" / MONITOR_STATES

    def corrupt() -> None:
        path.write_text("{not json")

    return Backend(
        "local",
        registry,
        lambda: path.read_text().strip() if path.exists() else "",
        corrupt,
        lambda url: registry,
        "",
        None,
    )


def github_backend(tmp_path: Path, start: Callable[..., Any]) -> Backend:
    from mlops_actions.platforms.github.releases import GitHubReleasesRegistry
    from mlops_actions.registry.described import parse_monitor_text
    from tests.unit.platforms.github import test_releases as gh

    api = start(token=gh.TOKEN, repository=gh.REPOSITORY)
    registry = gh.registry_for(api)
    gh.publish(registry, gh.model_folder(tmp_path, gh.COMMIT_A), "1.0.0")
    gh.publish(registry, gh.model_folder(tmp_path, gh.COMMIT_B, payload=b"second"), "1.1.0")

    def release() -> dict[str, Any]:
        [found] = [r for r in api.published() if r["tag_name"] == "tiny@v1.0.0"]
        return found

    def corrupt() -> None:
        stored = api.releases[release()["id"]]  # the stand-in's own record
        text = parse_monitor_text(stored["body"])
        stored["body"] = stored["body"].replace(text, "{not a list")

    def through(url: str) -> Any:
        env = {"GITHUB_API_URL": url, "GITHUB_REPOSITORY": gh.REPOSITORY, "GITHUB_TOKEN": gh.TOKEN}
        return GitHubReleasesRegistry.from_options("tiny", {}, env, sleep=lambda s: None)

    backend = Backend(
        "github",
        registry,
        lambda: parse_monitor_text(release()["body"]),
        corrupt,
        through,
        api.url,
        Rule("error-after", method="PATCH", path=r"/releases/\d+$", status=502),
    )
    backend.api = api  # type: ignore[attr-defined]
    return backend


def gitlab_backend(tmp_path: Path, start: Callable[..., Any]) -> Backend:
    from mlops_actions.platforms.gitlab.packages import GitLabRegistry
    from mlops_actions.registry.described import parse_monitor_text
    from tests.unit.platforms.gitlab import test_packages as gl

    api = start(tokens={gl.READ_ONLY: "read_api"}, job_tokens={gl.JOB_TOKEN}, max_per_page=2)
    registry = gl.registry_for(api)
    gl.publish(registry, gl.model_folder(tmp_path, gl.COMMIT_A), "1.0.0")
    gl.publish(registry, gl.model_folder(tmp_path, gl.COMMIT_B, seed="second"), "1.1.0")

    def release() -> dict[str, Any]:
        return api.releases["churn@v1.0.0"]  # type: ignore[no-any-return]

    def corrupt() -> None:
        text = parse_monitor_text(release()["description"])
        release()["description"] = release()["description"].replace(text, "{not a list")

    def through(url: str) -> Any:
        return GitLabRegistry.from_options(
            "churn", {}, {**gl.env_for(api), "CI_API_V4_URL": url}, sleep=lambda s: None
        )

    backend = Backend(
        "gitlab",
        registry,
        lambda: parse_monitor_text(release()["description"]),
        corrupt,
        through,
        api.url,
        Rule("error-after", method="PUT", path=r"/releases/churn%40v1\.0\.0$", status=502),
    )
    backend.api = api  # type: ignore[attr-defined]
    return backend


def mlflow_backend(tmp_path: Path, uri: str, monkeypatch: pytest.MonkeyPatch) -> Backend:
    from mlops_actions.registry.mlflow import TAG, MlflowRegistry
    from tests.unit.registry import test_mlflow as ml

    model = f"monitor-{next(MLFLOW_MODELS)}"
    registry = MlflowRegistry(model, tracking_uri=uri)
    ml.publish(registry, ml.model_folder(tmp_path, ml.COMMIT_A, model), "1.0.0")
    ml.publish(registry, ml.model_folder(tmp_path, ml.COMMIT_B, model, b"second"), "1.1.0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the registry's own check, not MLflow's retry

    def stored() -> str:
        return str(dict(registry._complete_model_version("1.0.0").tags).get(TAG["monitor"], ""))

    def corrupt() -> None:
        number = str(registry._complete_model_version("1.0.0").version)
        registry.client.set_model_version_tag(registry.registered_model, number, TAG["monitor"], "{x")

    return Backend(
        "mlflow",
        registry,
        stored,
        corrupt,
        lambda url: MlflowRegistry(model, tracking_uri=url),
        uri,
        Rule("error-after", method="POST", path=r"/model-versions/set-tag$", status=502),
    )


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path, monkeypatch) -> Iterator[Backend]:
    name = request.param
    if name == "local":
        yield local_backend(tmp_path)
    elif name == "github":
        made = github_backend(tmp_path, request.getfixturevalue("start_github_releases_standin"))
        yield made
        assert made.api.violations == []  # type: ignore[attr-defined]
    elif name == "gitlab":
        made = gitlab_backend(tmp_path, request.getfixturevalue("start_gitlab_standin"))
        yield made
        assert made.api.violations == []  # type: ignore[attr-defined]
    else:
        yield mlflow_backend(tmp_path, request.getfixturevalue("tracking_uri"), monkeypatch)


def test_no_states_are_kept_until_some_are_recorded(backend):
    assert backend.registry.monitor_states("1.0.0") == []
    assert backend.registry.monitor_states("9.9.9") == []


def test_recorded_states_round_trip_oldest_first_and_a_record_replaces_them(backend):
    first, second, third = state(1), state(2, status="fail", drifted=["income"]), state(3)
    backend.registry.record_monitor_states("1.0.0", [second, first])
    assert backend.registry.monitor_states("v1.0.0") == [first, second]
    backend.registry.record_monitor_states("1.0.0", [second, third])
    assert backend.registry.monitor_states("1.0.0") == [second, third]
    assert backend.registry.monitor_states("1.1.0") == []  # each version keeps its own
    assert json.loads(backend.stored_text()) == [second, third]


def test_states_past_the_size_cap_lose_their_oldest_windows_and_the_write_still_succeeds(backend):
    states = [state(day, pad=6_000) for day in range(1, 29)]  # about 170,000 characters serialised
    assert len(monitor_states_text(states)) > MAX_MONITOR_STATES_CHARS
    backend.registry.record_monitor_states("1.0.0", states)
    kept = backend.registry.monitor_states("1.0.0")
    assert 1 <= len(kept) < len(states) and kept == states[-len(kept) :]
    assert (
        len(backend.stored_text()) <= MAX_MONITOR_STATES_CHARS + 200
    )  # the escaped form may be a bit longer


def test_deploy_records_and_aliases_survive_monitor_states_and_the_other_way_round(backend):
    record = {"time": "2026-12-01T16:00:00Z", "version": "1.0.0", "outcome": "deployed"}
    backend.registry.record_deploy("1.0.0", record)
    backend.registry.set_alias("production", "1.0.0")
    backend.registry.record_monitor_states("1.0.0", [state(1)])
    backend.registry.set_alias("production", "1.1.0")  # rewrites both releases on the forges
    backend.registry.set_alias("production", "1.0.0")
    backend.registry.record_deploy("1.0.0", {**record, "time": "2026-12-01T17:00:00Z"})
    assert backend.registry.monitor_states("1.0.0") == [state(1)]
    assert [r["time"] for r in backend.registry.deploy_records("1.0.0")] == [
        "2026-12-01T16:00:00Z",
        "2026-12-01T17:00:00Z",
    ]
    assert backend.registry.resolve("production").version == "1.0.0"


@pytest.mark.parametrize(
    ("states", "said"),
    [
        ("not a list", "expected a list"),
        ([{"rows": 1}], "a string start time"),
        ([{"start": "2026-11-01T00:00:00Z", "score": float("nan")}], "not JSON-safe"),
    ],
    ids=["not-a-list", "no-start", "nan"],
)
def test_malformed_states_are_refused_with_nothing_written(backend, states, said):
    with pytest.raises(RegistryError, match=said):
        backend.registry.record_monitor_states("1.0.0", states)
    assert backend.stored_text() == ""


def test_states_of_a_missing_version_are_refused(backend):
    with pytest.raises(RegistryError, match=r"missing version 3\.0\.0"):
        backend.registry.record_monitor_states("3.0.0", [state(1)])


def test_unreadable_stored_states_are_said_and_the_next_record_replaces_them(backend):
    backend.registry.record_monitor_states("1.0.0", [state(1)])
    backend.corrupt()
    with pytest.raises(UnreadableMonitorStates, match="not a JSON list"):
        backend.registry.monitor_states("1.0.0")
    backend.registry.record_monitor_states("1.0.0", [state(2)])
    assert backend.registry.monitor_states("1.0.0") == [state(2)]


def test_a_states_write_whose_answer_was_lost_is_checked_not_repeated(backend):
    if backend.write is None:
        pytest.skip("the local registry writes a file under its lock: no answer to lose")
    with FaultProxy(backend.upstream) as proxy:
        rule = proxy.add(backend.write)
        backend.through(proxy.url).record_monitor_states("1.0.0", [state(1), state(2)])
        assert len(proxy.applied(rule.action)) == 1
        writes = [p for p in proxy.log if p.method == rule.method and re.search(rule.path, p.path)]
        assert len(writes) == 1  # read back, found, not sent again
    assert backend.registry.monitor_states("1.0.0") == [state(1), state(2)]


def test_on_github_the_oldest_windows_go_before_any_deploy_record_when_the_body_would_be_too_long(
    start_github_releases_standin, tmp_path
):
    backend = github_backend(tmp_path, start_github_releases_standin)
    registry = backend.registry
    registry.max_description_chars = 12_000  # GitHub's is 125,000; the manifest and card take their part
    records = [
        {"time": f"2026-12-01T16:00:{second:02d}Z", "version": "1.0.0", "reason": "r" * 300}
        for second in range(5)
    ]
    for record in records:
        registry.record_deploy("1.0.0", record)
    states = [state(day, pad=1_500) for day in range(1, 21)]
    registry.record_monitor_states("1.0.0", states)
    kept = registry.monitor_states("1.0.0")
    assert 1 <= len(kept) < len(states) and kept == states[-len(kept) :]
    assert registry.deploy_records("1.0.0") == records  # every deploy record stays
    registry.record_deploy("1.0.0", {**records[0], "time": "2026-12-01T17:00:00Z", "reason": "r" * 3_000})
    assert len(registry.deploy_records("1.0.0")) == 6
    shorter = registry.monitor_states("1.0.0")
    assert shorter == kept[-len(shorter) :] and len(shorter) < len(kept)
    [release] = [r for r in backend.api.published() if r["tag_name"] == "tiny@v1.0.0"]  # type: ignore[attr-defined]
    assert len(release["body"]) <= 12_000
    assert backend.api.violations == []  # type: ignore[attr-defined]
