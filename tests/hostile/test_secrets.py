"""Secrets never reach results, reports, comments or logs, and user code never sees a forge token.

Every forge, CI runtime and service token is set to a distinctive value (some with ``/+=`` and spaces, so their
URL-encoded forms differ), plus two config-named secrets: ``PROJECT_API_KEY`` (never handed to a command) and
``NEEDED_KEY`` (handed to the command under test through ``secrets.pass``). The hostile commands get the token
values from a file outside the project (as a command that found them some other way would) and print them raw,
URL-encoded and as basic auth, print their whole environment, and dump it to a file outside the project.
Each case then proves: no form of any secret in stdout, stderr or any file under the project (results,
reports, comments, registry, models), the command did not see the forge tokens but did see ``NEEDED_KEY``,
and the exit code with its one-line message.
"""

from __future__ import annotations

import base64
import json
import textwrap
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from mlops_actions.cli import main
from tests.conftest import run_git
from tests.hostile.conftest import (
    CliRun,
    assert_nothing_written,
    assert_one_line_error,
    assert_only_the_error_report_written,
    run_cli,
    tree_snapshot,
)

CI_JOB_TOKEN = "jt/Xk+9qR=Lm2/Vp+Wz8=Nc4"
TOKENS = {
    "GITHUB_TOKEN": "ghs_" + "Qm7Rt2Yx9Kp4Lw8Zc3Vb6Nd1Hf5Js0Ga2Ue7",
    "GH_TOKEN": "gho_" + "Wq8Er3Ty6Ui1Op4As7Df2Gh5Jk9Lz0Xc3Vb6",
    "MLOPS_GITHUB_TOKEN": "github_pat_11AAB2C3D0" + "Zx9Cv8Bn7Mq6Wl5Ek4Rj3Th2Yg1",
    "MLOPS_GITLAB_TOKEN": "glpat-" + "Hs8Kd2Lf9Pq4Wm7Zx1Cv",
    "GITLAB_TOKEN": "glpat-" + "Nb3Vc6Xz9Lk2Jh5Gf8Ds",
    "CI_JOB_TOKEN": CI_JOB_TOKEN,
    "CI_JOB_JWT": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJqb2JfMSJ9.c2lnbmF0dXJlLTE",
    "CI_JOB_JWT_V2": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJqb2JfMiJ9.c2lnbmF0dXJlLTI",
    "CI_REGISTRY_PASSWORD": "registry+pass/word=9Tq",
    "CI_DEPLOY_PASSWORD": "deploy pass+word/7Yh=",
    "ACTIONS_RUNTIME_TOKEN": "runtime.Fk3Jd8Ls2Qw7Ez1Rx6Tc",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "idreq.Mn4Bv9Cx2Zl7Kj3Hg8Fd",
    "ACTIONS_ID_TOKEN_REQUEST_URL": "https://pipelines.actions.invalid/Ab12Cd/_apis/idtoken?api-version=2.0&x=Qw3",
    "ACTIONS_CACHE_URL": "https://artifactcache.actions.invalid/Kp9LmN0pQrSt/",
    "MLFLOW_TRACKING_TOKEN": "mlflow-tok/Ut5Yr0Ew+=",
    "MLFLOW_TRACKING_PASSWORD": "mlflow pass&word=Pa55+/",
    "PROJECT_API_KEY": "prj_key+Zq1Wx2Ec3/Rv4=",
    "NEEDED_KEY": "needed/key+Ty6Uh7=Ij8",
}
OPTED_IN = "NEEDED_KEY"
HIDDEN = sorted(set(TOKENS) - {OPTED_IN})
CONTAINS_A_TOKEN = {
    "CI_REPOSITORY_URL": f"https://gitlab-ci-token:{CI_JOB_TOKEN}@gitlab.invalid/group/tiny.git"
}

SECRETS_BLOCK = textwrap.dedent(
    f"""\
    secrets:
      names: [PROJECT_API_KEY, {OPTED_IN}]
      pass:
        tests: [{OPTED_IN}]
        train: [{OPTED_IN}]
        deploy: [{OPTED_IN}]
    """
)

LEAK_SCRIPT = '''\
"""Prints every token it can find, raw, URL-encoded and as basic auth, and dumps its environment."""
import base64, json, os, sys
from pathlib import Path
from urllib.parse import quote, quote_plus

OUTSIDE = Path({outside!r})
role, code = sys.argv[1], int(sys.argv[2])
(OUTSIDE / f"seen-{{role}}.json").write_text(json.dumps(dict(os.environ)))
tokens = json.loads((OUTSIDE / "tokens.json").read_text())
for name, value in tokens.items():
    print(f"leak {{name}} {{value}} {{quote(value, safe='')}} {{quote(value)}} {{quote_plus(value)}}")
    print(f"leak-err {{name}} {{value}} {{quote_plus(value)}}", file=sys.stderr)
basic = base64.b64encode(("x-access-token:" + tokens["GITHUB_TOKEN"]).encode()).decode()
print(f"Authorization: basic {{basic}}")
print(f"seen {{os.environ.get({opted_in!r}, '-')}}")
if len(sys.argv) > 3:  # train.command: train and save the model to {{model}}
    import pandas as pd
    from mlops_actions.domain.model_io import save_model
    from tiny_model import train_model
    frame = pd.read_csv(os.environ["MLOPS_TRAIN_PATH"])
    save_model(train_model(frame[["x1", "x2", "group"]], frame["label"], {{}}), sys.argv[3])
print(f"leak-err last {{tokens['GITHUB_TOKEN']}} {{os.environ.get({opted_in!r}, '-')}}", file=sys.stderr)
sys.exit(code)
'''

LEAKY_MODEL = '''\
"""A training entrypoint whose error message holds every token it can find."""
import json, os
from pathlib import Path
from urllib.parse import quote_plus

OUTSIDE = Path({outside!r})
TOKENS = json.loads((OUTSIDE / "tokens.json").read_text())
{import_time}


def train_raises(X, y, params):
    (OUTSIDE / "seen-entrypoint.json").write_text(json.dumps(dict(os.environ)))
    found = " ".join(f"{{v}} {{quote_plus(v)}}" for v in TOKENS.values())
    raise RuntimeError(f"cannot reach the tracker with {{found}} and {{os.environ.get({opted_in!r}, '-')}}")
'''


def secret_forms(names: Iterable[str] = (*TOKENS, *CONTAINS_A_TOKEN)) -> dict[str, str]:
    """Every way a secret may be written out: raw, URL-encoded (three ways) and as basic auth."""
    forms: dict[str, str] = {}
    for name, value in {**TOKENS, **CONTAINS_A_TOKEN}.items():
        if name not in names:
            continue
        for kind, form in (
            ("raw", value),
            ("quote", quote(value)),
            ("quote-all", quote(value, safe="")),
            ("quote_plus", quote_plus(value)),
        ):
            forms[form] = f"{name} ({kind})"
    forms[base64.b64encode(f"x-access-token:{TOKENS['GITHUB_TOKEN']}".encode()).decode()] = "basic auth"
    return forms


def assert_no_secret_anywhere(
    run: CliRun, roots: Iterable[Path], names: Iterable[str] = (*TOKENS, *CONTAINS_A_TOKEN)
) -> None:
    """No form of any secret (of ``names``) in the run's stdout, stderr, or any file below ``roots``."""
    forms = secret_forms(names)
    places = {"stdout": run.stdout, "stderr": run.stderr}
    for root in roots:
        for name, content in tree_snapshot(root).items():
            places[f"{root.name}/{name}"] = content.decode("utf-8", errors="replace")
    leaks = [
        f"{label} in {where}"
        for where, text in places.items()
        for form, label in forms.items()
        if form in text
    ]
    assert not leaks, leaks


def assert_saw_no_forge_token(outside: Path, role: str) -> None:
    """The user code dumped its environment: no hidden secret, no variable holding one, the opted-in one."""
    seen = json.loads((outside / f"seen-{role}.json").read_text())
    assert not set(seen) & {*HIDDEN, *CONTAINS_A_TOKEN}, sorted(set(seen) & {*HIDDEN, *CONTAINS_A_TOKEN})
    assert not [name for name, value in seen.items() if any(TOKENS[h] in value for h in HIDDEN)]
    assert seen[OPTED_IN] == TOKENS[OPTED_IN]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the project: the token file the hostile code reads and the environments it dumps."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "tokens.json").write_text(json.dumps(TOKENS))
    return folder


@pytest.fixture
def hostile(tiny_project: Path, outside: Path) -> Path:
    """The tiny project with the secrets block, the leaking script and the leaking entrypoints, committed."""
    (tiny_project / "leak.py").write_text(LEAK_SCRIPT.format(outside=str(outside), opted_in=OPTED_IN))
    for module, import_time in (
        ("leaky_model", ""),
        ("leaky_import", 'raise ImportError("no tracker at " + " ".join(TOKENS.values()))'),
    ):
        (tiny_project / f"{module}.py").write_text(
            LEAKY_MODEL.format(outside=str(outside), opted_in=OPTED_IN, import_time=import_time)
        )
    config = tiny_project / "mlops.yaml"
    config.write_text(config.read_text() + SECRETS_BLOCK)
    run_git(tiny_project, "add", "-A")
    run_git(tiny_project, "commit", "-q", "-m", "hostile code and the secrets block")
    return tiny_project


def set_config(project: Path, old: str, new: str) -> None:
    config = project / "mlops.yaml"
    text = config.read_text()
    assert old in text, old
    config.write_text(text.replace(old, new))


def run_with_tokens(args: list[str], project: Path) -> CliRun:
    return run_cli(args, cwd=project, env={**TOKENS, **CONTAINS_A_TOKEN})


# -- project tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exit_code", "verdict"),
    [pytest.param(1, "FAIL", id="failing-tests-fail-the-gate"), pytest.param(0, "PASS", id="passing-check")],
)
def test_a_project_test_command_that_prints_every_token_leaks_none_into_result_report_or_comment(
    hostile: Path, outside: Path, exit_code: int, verdict: str
) -> None:
    set_config(hostile, "registry:", f"tests:\n  command: env; python leak.py tests {exit_code}\nregistry:")
    run = run_with_tokens(["check", "--baseline", "none"], hostile)

    assert run.code == exit_code, run.stderr
    assert f"tiny: {verdict}" in run.stderr
    assert not run.error_lines, run.stderr
    result = json.loads((hostile / "mlops-out" / "mlops-result.json").read_text())
    assert result["verdict"] == verdict.lower()
    tail = result["tests"]["output_tail"]
    assert "leak GITHUB_TOKEN ***" in tail and "Authorization: basic ***" in tail and "seen ***" in tail
    if exit_code:
        assert "project tests failed: env; python leak.py tests 1 exited with 1" in run.stderr
    assert "***" in (hostile / "mlops-out" / "report.html").read_text()
    assert "leak GITHUB_TOKEN" in (hostile / ".mlops" / "comments" / "tiny.md").read_text()
    assert_no_secret_anywhere(run, [hostile])
    assert_saw_no_forge_token(outside, "tests")


def test_a_config_that_hands_a_forge_token_to_a_command_is_refused_before_anything_runs(
    hostile: Path, canary: Path
) -> None:
    set_config(hostile, "tests: [NEEDED_KEY]", "tests: [NEEDED_KEY, GITHUB_TOKEN]")
    set_config(hostile, "registry:", f"tests:\n  command: touch {canary}\nregistry:")
    before = tree_snapshot(hostile)
    run = run_with_tokens(["check"], hostile)
    line = assert_one_line_error(
        run,
        contains=[
            "mlops.yaml: secrets.pass.tests[1]: GITHUB_TOKEN is a forge token, which user commands never"
        ],
    )
    assert not canary.exists()
    result = assert_only_the_error_report_written(before, hostile, line=line)
    assert result["error"]["stage"] == "loading config"
    assert result["error"]["reproduce"] == "mlops-actions doctor --config mlops.yaml"
    assert_no_secret_anywhere(run, [hostile])


# -- training -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entrypoint", "message", "ran"),
    [
        pytest.param(
            "leaky_model:train_raises",
            "train.entrypoint leaky_model:train_raises: training raised RuntimeError: cannot reach the tracker "
            "with *** ***",
            True,
            id="entrypoint-raises-with-tokens",
        ),
        pytest.param(
            "leaky_import:train_raises",
            "train.entrypoint: cannot import module 'leaky_import': no tracker at *** ***",
            False,
            id="entrypoint-module-raises-on-import",
        ),
    ],
)
def test_a_training_entrypoint_error_holding_tokens_is_one_scrubbed_line_and_writes_nothing(
    hostile: Path, outside: Path, entrypoint: str, message: str, ran: bool
) -> None:
    set_config(hostile, "tiny_model:train_model", entrypoint)
    before = tree_snapshot(hostile)
    run = run_with_tokens(["train", "--output-dir", "out"], hostile)
    assert_one_line_error(run, contains=[message])
    assert_nothing_written(before, hostile)
    assert_no_secret_anywhere(run, [hostile])
    if ran:  # the entrypoint ran: it saw the opted-in secret (and printed it, scrubbed) but no forge token
        assert run.error_lines[0].endswith("and ***")
        assert_saw_no_forge_token(outside, "entrypoint")


def test_a_check_whose_entrypoint_raises_with_tokens_reports_the_scrubbed_error_and_leaks_nothing(
    hostile: Path, outside: Path
) -> None:
    set_config(hostile, "tiny_model:train_model", "leaky_model:train_raises")
    before = tree_snapshot(hostile)
    run = run_with_tokens(["check", "--baseline", "none"], hostile)
    line = assert_one_line_error(
        run, contains=["training raised RuntimeError: cannot reach the tracker with ***"]
    )
    result = assert_only_the_error_report_written(before, hostile, line=line)
    assert result["error"]["stage"] == "training candidate"
    comment = (hostile / ".mlops" / "comments" / "tiny.md").read_text()
    assert "cannot reach the tracker with \\*\\*\\* \\*\\*\\*" in comment  # *** escaped for Markdown
    assert_no_secret_anywhere(run, [hostile])
    assert_saw_no_forge_token(outside, "entrypoint")


def test_a_training_command_that_prints_tokens_and_fails_is_one_scrubbed_line_and_writes_nothing(
    hostile: Path, outside: Path
) -> None:
    set_config(hostile, "entrypoint: tiny_model:train_model", "command: python leak.py train 3")
    before = tree_snapshot(hostile)
    run = run_with_tokens(["train", "--output-dir", "out"], hostile)
    assert_one_line_error(run, contains=["train.command exited with code 3: leak-err last *** ***"])
    assert "leak GITHUB_TOKEN *** *** *** ***" in run.stderr  # its stdout is echoed, scrubbed
    assert_nothing_written(before, hostile)
    assert_no_secret_anywhere(run, [hostile])
    assert_saw_no_forge_token(outside, "train")


def test_a_training_command_that_prints_tokens_and_succeeds_leaks_none_into_the_model_or_the_log(
    hostile: Path, outside: Path
) -> None:
    set_config(hostile, "entrypoint: tiny_model:train_model", "command: python leak.py train 0 {model}")
    run = run_with_tokens(["train", "--output-dir", "out"], hostile)
    assert run.code == 0, run.stderr
    assert (hostile / "out" / "model.skops").is_file()
    assert "seen ***" in run.stderr
    assert_no_secret_anywhere(run, [hostile])
    assert_saw_no_forge_token(outside, "train")


# -- merge-base retrain -------------------------------------------------------------------------------------


def test_a_merge_base_retrain_that_raises_with_tokens_is_one_scrubbed_line(
    hostile: Path, outside: Path
) -> None:
    set_config(hostile, "tiny_model:train_model", "leaky_model:train_raises")
    run_git(hostile, "commit", "-q", "-am", "a base whose training leaks")
    run_git(hostile, "checkout", "-q", "-b", "feature")
    set_config(hostile, "leaky_model:train_raises", "tiny_model:train_model")
    run_git(hostile, "commit", "-q", "-am", "the pull request trains again")
    run = run_with_tokens(["check", "--baseline", "retrain"], hostile)
    line = assert_one_line_error(
        run, contains=["baseline retrain at ", " failed: ", "cannot reach the tracker"]
    )
    assert "***" in line
    result = json.loads((hostile / "mlops-out" / "mlops-result.json").read_text())
    assert result["verdict"] == "error" and result["error"]["stage"] == "retraining merge-base"
    assert not (hostile / "mlops-out" / "model").exists()
    assert_no_secret_anywhere(run, [hostile])
    assert_saw_no_forge_token(outside, "entrypoint")


# -- deploy -------------------------------------------------------------------------------------------------


@pytest.fixture
def released(hostile: Path) -> Path:
    """The hostile project released as tiny@v1.0.0 (without any token in the environment)."""
    set_config(hostile, "registry:", "deploy:\n  command: python leak.py deploy 0\nregistry:")
    run_git(hostile, "commit", "-q", "-am", "deploy command")
    config, out = str(hostile / "mlops.yaml"), str(hostile / "mlops-out")
    assert main(["release", "--config", config, "--output-dir", out]) == 0
    return hostile


@pytest.mark.parametrize(
    ("exit_code", "message"),
    [
        pytest.param(0, None, id="deploy-succeeds"),
        pytest.param(4, "deploy.command exited with code 4 deploying tiny@v1.0.0", id="deploy-fails"),
    ],
)
def test_a_deploy_command_that_prints_tokens_leaks_none_and_sees_only_its_opted_in_secret(
    released: Path, outside: Path, exit_code: int, message: str | None
) -> None:
    if exit_code:
        set_config(released, "leak.py deploy 0", f"leak.py deploy {exit_code}")
    run = run_with_tokens(["deploy", "--version-tag", "tiny@v1.0.0", "-o", "deploy-out", "--json"], released)
    if message is None:
        assert run.code == 0, run.stderr
        assert json.loads(run.stdout)["deployed"] is True  # the command's output went to stderr, scrubbed
    else:
        assert_one_line_error(run, code=1, contains=[message])
    assert "leak GITHUB_TOKEN *** *** *** ***" in run.stderr
    assert_no_secret_anywhere(run, [released])
    assert_saw_no_forge_token(outside, "deploy")


# -- results read back --------------------------------------------------------------------------------------
# ``comment`` and ``report`` load no config, so they know the built-in secret variables only; results written
# by ``check`` are scrubbed of the config-named ones already.
BUILT_IN = [name for name in TOKENS if name not in ("PROJECT_API_KEY", OPTED_IN)]


def _result_with_tokens(folder: Path) -> Path:
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "results" / "fail_change_and_slice.json"
    result = json.loads(fixture.read_text())
    leaked = " ".join(f"{TOKENS[name]} {quote_plus(TOKENS[name])}" for name in BUILT_IN)
    result["tests"]["output_tail"] = f"FAILED test_auth - token {leaked}\n"
    result["reasons"] = [*result["reasons"], f"project tests failed: {TOKENS['GITHUB_TOKEN']}"]
    path = folder / "artifact" / "mlops-result.json"
    path.parent.mkdir()
    path.write_text(json.dumps(result))
    return path


def test_a_result_file_holding_tokens_is_commented_without_them(tiny_project: Path, outside: Path) -> None:
    result = _result_with_tokens(outside)
    run = run_with_tokens(["comment", "--result", str(result), "--forge", "local"], tiny_project)
    assert run.code == 0, run.stderr
    comments = list((tiny_project / ".mlops" / "comments").iterdir())
    assert len(comments) == 1 and "FAILED test_auth - token ***" in comments[0].read_text()
    assert_no_secret_anywhere(run, [tiny_project], BUILT_IN)


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_a_result_file_holding_tokens_is_rendered_without_them(
    tiny_project: Path, outside: Path, fmt: str
) -> None:
    result = _result_with_tokens(outside)
    run = run_with_tokens(["report", str(result), "--format", fmt], tiny_project)
    assert run.code == 0, run.stderr
    assert "***" in run.stdout
    assert_no_secret_anywhere(run, [tiny_project], BUILT_IN)
