"""The deploy section of the config: the target, smoke and load settings, and their defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_actions.domain.config import DeploySettings, parse_config
from mlops_actions.errors import ConfigError

BASE = {
    "version": 1,
    "model": {"name": "m", "task": "binary"},
    "train": {"entrypoint": "m:fit"},
    "data": {"train": "train.csv", "target": "y"},
}


def parse(tmp_path: Path, deploy: object = None) -> DeploySettings:
    (tmp_path / "train.csv").write_text("x,y\n1,0\n")
    doc = dict(BASE) if deploy is None else {**BASE, "deploy": deploy}
    return parse_config(doc, tmp_path / "mlops.yaml").deploy


def test_without_a_deploy_section_the_target_is_the_built_in_server(tmp_path):
    settings = parse(tmp_path)
    assert settings == DeploySettings() and settings.command is None and settings.smoke_tested


def test_an_empty_deploy_section_is_the_built_in_server_with_the_defaults(tmp_path):
    settings = parse(tmp_path, {})
    assert settings == DeploySettings() and settings.command is None and settings.smoke_tested
    assert (settings.smoke_rows, settings.smoke_tolerance, settings.ready_timeout_s, settings.load) == (
        20,
        1e-6,
        60.0,
        True,
    )


def test_a_command_is_smoke_tested_only_with_a_url(tmp_path):
    assert not parse(tmp_path, {"command": "deploy.sh"}).smoke_tested
    settings = parse(
        tmp_path,
        {
            "command": "deploy.sh {tag}",
            "url": "https://models.example/{model}/{version}",
            "port": 8080,
            "ready_timeout_s": 5,
            "smoke": {"rows": 5, "tolerance": 0.001},
            "load": False,
        },
    )
    assert settings.smoke_tested and settings.url == "https://models.example/{model}/{version}"
    assert (settings.port, settings.ready_timeout_s, settings.smoke_rows, settings.smoke_tolerance) == (
        8080,
        5.0,
        5,
        0.001,
    )
    assert settings.load is False


@pytest.mark.parametrize(
    ("deploy", "message"),
    [
        ({"url": "ftp://x"}, "deploy.url"),
        ({"port": 70000}, "deploy.port"),
        ({"smoke": {"rows": 0}}, "deploy.smoke.rows"),
        ({"smoke": {"tolerance": -1}}, "deploy.smoke.tolerance"),
        ({"ready_timeout_s": 0}, "deploy.ready_timeout_s"),
        ({"load": "yes"}, "deploy.load"),
    ],
)
def test_bad_deploy_settings_name_their_key(tmp_path, deploy, message):
    with pytest.raises(ConfigError, match=message):
        parse(tmp_path, deploy)
