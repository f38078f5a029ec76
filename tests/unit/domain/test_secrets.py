"""The environment user code runs in and the scrubber that keeps secret values out of every output."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from mlops_actions.domain.config import parse_config
from mlops_actions.domain.secrets import (
    MASK,
    Scrubber,
    current_scrubber,
    is_forge_token,
    run_user_command,
    secret_values,
    user_code_environment,
    user_command_env,
)
from mlops_actions.errors import ConfigError

GITHUB = "ghs_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
GITLAB = "glpat-" + "Zy9Xw8Vu7Ts6Rq5Po4Nm"
ODD = "s3cr/et+va=lue&more"  # its URL-encoded forms differ from the raw value


def test_every_forge_and_ci_runtime_token_is_recognised_and_ordinary_variables_are_not() -> None:
    for name in (
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "MLOPS_GITHUB_TOKEN",
        "MLOPS_GITLAB_TOKEN",
        "GITLAB_TOKEN",
        "CI_JOB_TOKEN",
        "CI_JOB_JWT",
        "CI_JOB_JWT_V2",
        "CI_REGISTRY_PASSWORD",
        "ACTIONS_RUNTIME_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_CACHE_URL",
    ):
        assert is_forge_token(name), name
    for name in ("PATH", "HOME", "GITHUB_REPOSITORY", "CI_PROJECT_ID", "MLFLOW_TRACKING_TOKEN", "TOKENIZER"):
        assert not is_forge_token(name), name


def test_the_scrubber_replaces_raw_url_encoded_and_basic_auth_forms() -> None:
    scrubber = Scrubber([GITHUB, ODD])
    basic = base64.b64encode(f"x-access-token:{GITHUB}".encode()).decode()
    text = f"a {GITHUB} b {quote(ODD, safe='')} c {quote_plus(ODD)} d {quote(ODD)} e {ODD} f basic {basic}"
    cleaned = scrubber.scrub(text)
    assert cleaned == f"a {MASK} b {MASK} c {MASK} d {MASK} e {MASK} f basic {MASK}"


def test_a_secret_inside_a_longer_word_or_url_is_still_replaced() -> None:
    cleaned = Scrubber([GITLAB]).scrub(f"https://gitlab-ci-token:{GITLAB}@gitlab.example/x.git")
    assert cleaned == f"https://gitlab-ci-token:{MASK}@gitlab.example/x.git"


def test_values_too_short_to_be_secrets_are_left_alone() -> None:
    env = {"GITHUB_TOKEN": "true", "CI_JOB_TOKEN": "1234567", "GH_TOKEN": GITHUB, "PATH": "/usr/bin"}
    assert secret_values(env) == [GITHUB]
    assert current_scrubber(env).scrub("true 1234567 /usr/bin") == "true 1234567 /usr/bin"


def test_the_scrubber_cleans_every_string_of_nested_data_keys_included() -> None:
    data = {"tests": {"output_tail": f"token={GITHUB}", GITLAB: [1, f"x{GITLAB}y", None, 2.5, True]}}
    cleaned = Scrubber([GITHUB, GITLAB]).scrub_data(data)
    assert cleaned == {"tests": {"output_tail": f"token={MASK}", MASK: [1, f"x{MASK}y", None, 2.5, True]}}
    assert GITHUB in data["tests"]["output_tail"], "the input is not changed in place"


def test_a_scrubber_without_secrets_returns_text_unchanged() -> None:
    assert Scrubber([]).scrub("nothing to hide ***") == "nothing to hide ***"


def test_config_named_secrets_are_scrubbed_as_well() -> None:
    env = {"WANDB_API_KEY": "wandb-key-0123456789", "OTHER": "not-a-secret-at-all"}
    assert current_scrubber(env, named=["WANDB_API_KEY"]).scrub(str(env)).count(MASK) == 1


def test_the_user_command_env_drops_forge_tokens_and_named_secrets_and_keeps_the_rest() -> None:
    env = {
        "GITHUB_TOKEN": GITHUB,
        "ACTIONS_RUNTIME_TOKEN": "runtime-token-value",
        "CI_JOB_JWT_V2": "eyJhbGciOi.jwt.value",
        "MLFLOW_TRACKING_TOKEN": "mlflow-token-value",
        "DEPLOY_KEY": "deploy-key-value-123",
        "HOME": "/home/ci",
        "PATH": "/usr/bin",
    }
    built = user_command_env(secret_names=["DEPLOY_KEY"], env=env, extra={"MLOPS_JUNIT_PATH": "/tmp/j.xml"})
    assert set(built) == {"HOME", "PATH", "MLOPS_JUNIT_PATH"}
    assert built["PATH"].split(os.pathsep) == [str(Path(sys.executable).parent), "/usr/bin"]


def test_a_variable_whose_value_holds_a_token_is_dropped_too() -> None:
    env = {
        "CI_JOB_TOKEN": GITLAB,
        "CI_REPOSITORY_URL": f"https://gitlab-ci-token:{GITLAB}@gitlab.example/p.git",
    }
    assert "CI_REPOSITORY_URL" not in user_command_env(env=env)


def test_an_opted_in_secret_reaches_the_command_but_a_forge_token_never_does() -> None:
    env = {
        "DEPLOY_KEY": "deploy-key-value-123",
        "MLFLOW_TRACKING_TOKEN": "mlflow-token-value",
        "GH_TOKEN": GITHUB,
    }
    built = user_command_env(
        secret_names=["DEPLOY_KEY"], passed=["DEPLOY_KEY", "MLFLOW_TRACKING_TOKEN", "GH_TOKEN"], env=env
    )
    assert built["DEPLOY_KEY"] == "deploy-key-value-123"
    assert built["MLFLOW_TRACKING_TOKEN"] == "mlflow-token-value"
    assert "GH_TOKEN" not in built


def _config(tmp_path: Path, secrets_block: str) -> object:
    import yaml

    text = textwrap.dedent(
        """\
        version: 1
        model: {name: tiny, task: binary}
        train: {entrypoint: "tiny_model:train_model"}
        data: {train: train.csv, target: label}
        """
    )
    return parse_config(yaml.safe_load(text + secrets_block), tmp_path / "mlops.yaml")


def test_the_config_names_secrets_and_what_each_command_may_receive(tmp_path: Path) -> None:
    config = _config(
        tmp_path, "secrets:\n  names: [DEPLOY_KEY]\n  pass: {deploy: [DEPLOY_KEY, CI_DEPLOY_PASSWORD]}\n"
    )
    assert config.secret_names == ("DEPLOY_KEY",)  # type: ignore[attr-defined]
    assert config.pass_env == {"deploy": ("DEPLOY_KEY", "CI_DEPLOY_PASSWORD")}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("block", "message"),
    [
        pytest.param(
            "secrets: {pass: {deploy: [GITHUB_TOKEN]}}\n",
            "secrets.pass.deploy[0]: GITHUB_TOKEN is a forge token, which user commands never receive",
            id="forge-token-passed",
        ),
        pytest.param(
            "secrets: {pass: {tests: [ACTIONS_RUNTIME_TOKEN]}}\n",
            "secrets.pass.tests[0]: ACTIONS_RUNTIME_TOKEN is a forge token",
            id="runtime-token-passed",
        ),
        pytest.param(
            "secrets: {pass: {train: [HOME]}}\n",
            "secrets.pass.train[0]: HOME is not a secret, expected a name in secrets.names",
            id="not-a-secret-passed",
        ),
        pytest.param(
            "secrets: {pass: {release: [X]}}\n",
            "secrets.pass: unknown key 'release', expected one of deploy, tests, train",
            id="unknown-command",
        ),
        pytest.param(
            "secrets: {names: [bad-name]}\n",
            "secrets.names[0]: 'bad-name' does not match the expected form",
            id="bad-variable-name",
        ),
        pytest.param("secrets: {names: [A_KEY, A_KEY]}\n", "secrets.names: ", id="duplicate-name"),
        pytest.param(
            "secrets: [A_KEY]\n", "secrets: expected object, got list", id="list-instead-of-mapping"
        ),
    ],
)
def test_bad_secrets_keys_are_config_errors_naming_the_key(tmp_path: Path, block: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _config(tmp_path, block)
    assert message in str(raised.value)
    assert str(tmp_path / "mlops.yaml") in str(raised.value)


def test_in_process_user_code_runs_without_tokens_and_the_environment_is_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB)
    monkeypatch.setenv("DEPLOY_KEY", "deploy-key-value-123")
    config = _config(tmp_path, "secrets: {names: [DEPLOY_KEY], pass: {train: [DEPLOY_KEY]}}\n")
    before = dict(os.environ)
    with user_code_environment(config, "train"):
        assert "GITHUB_TOKEN" not in os.environ
        assert os.environ["DEPLOY_KEY"] == "deploy-key-value-123"
    assert dict(os.environ) == before


def test_a_user_command_output_is_scrubbed_as_it_is_captured_and_echoed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", GITLAB)
    run = run_user_command(
        f"echo out {GITLAB}; echo err {quote_plus(GITLAB)} >&2; exit 3",
        cwd=Path.cwd(),
        env=dict(os.environ),
        timeout=30,
        echo_stdout=sys.stderr,
    )
    assert (run.returncode, run.stdout, run.stderr) == (3, f"out {MASK}\n", f"err {MASK}\n")
    assert capsys.readouterr().err == f"out {MASK}\n"


def test_a_user_command_that_overruns_is_killed_with_its_children(tmp_path: Path) -> None:
    marker = tmp_path / "late"
    with pytest.raises(subprocess.TimeoutExpired):
        run_user_command(
            f"(sleep 2; touch {marker}) & sleep 30", cwd=tmp_path, env=dict(os.environ), timeout=0.5
        )
    import time

    time.sleep(2.5)
    assert not marker.exists()


def test_an_unexpected_error_traceback_printed_by_the_cli_is_scrubbed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlops_actions.cli import print_scrubbed_traceback

    monkeypatch.setenv("GH_TOKEN", GITHUB)
    try:
        raise RuntimeError(f"unexpected, holding {GITHUB}")
    except RuntimeError as error:
        print_scrubbed_traceback(RuntimeError, error, error.__traceback__)
    err = capsys.readouterr().err
    assert "Traceback" in err and f"RuntimeError: unexpected, holding {MASK}" in err and GITHUB not in err
