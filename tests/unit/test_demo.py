"""The demo's arguments: an installed package names the example project; a wrong one stops before anything."""

from __future__ import annotations

from mlops_actions import demo


def test_an_example_folder_without_mlops_yaml_is_refused_before_the_workspace_is_touched(tmp_path, capsys):
    workspace = tmp_path / "demo-workspace"
    workspace.mkdir()
    (workspace / "kept.txt").write_text("mine")
    code = demo.main(["--workspace", str(workspace), "--example", str(tmp_path / "nowhere")])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"--example {tmp_path / 'nowhere'}: expected a folder holding mlops.yaml (the example project)"
    )
    assert (workspace / "kept.txt").read_text() == "mine"


def test_the_default_example_is_the_source_checkouts_example_project():
    assert (demo.EXAMPLE / "mlops.yaml").is_file()
