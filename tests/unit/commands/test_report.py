"""`mlops-actions report`: arguments, formats, atomic output and one-line errors."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from mlops_actions.commands import report
from mlops_actions.errors import MlopsError
from mlops_actions.render import InvalidResultError
from mlops_actions.render.report import write_report

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "results"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mlops-actions")
    report.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["report", *argv])


@pytest.fixture
def result_file(tmp_path: Path) -> Path:
    path = tmp_path / "mlops-result.json"
    shutil.copy(FIXTURES / "fail_change_and_slice.json", path)
    return path


def test_defaults_are_markdown_to_stdout_with_the_comment_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MLOPS_REPORT_FORMAT", "MLOPS_REPORT_OUTPUT", "MLOPS_REPORT_MAX_CHARS", "MLOPS_RUN_URL"):
        monkeypatch.delenv(name, raising=False)
    args = parse(["r.json"])
    assert (args.result, args.format, args.output, args.max_chars) == ("r.json", "md", None, 60_000)
    assert args.func is report.run


def test_options_take_defaults_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_REPORT_FORMAT", "html")
    monkeypatch.setenv("MLOPS_REPORT_MAX_CHARS", "1234")
    monkeypatch.setenv("MLOPS_RUN_URL", "https://ci.example/run/5")
    args = parse(["r.json"])
    assert (args.format, args.max_chars, args.run_url) == ("html", 1234, "https://ci.example/run/5")


def test_help_names_the_environment_variables(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(["--help"])
    text = capsys.readouterr().out
    for name in ("MLOPS_REPORT_FORMAT", "MLOPS_REPORT_OUTPUT", "MLOPS_REPORT_MAX_CHARS", "MLOPS_RUN_URL"):
        assert name in text


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_max_chars_must_be_a_positive_number(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        parse(["r.json", "--max-chars", value])
    assert raised.value.code == 2
    assert "--max-chars" in capsys.readouterr().err


def test_markdown_goes_to_stdout(result_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report.run(parse([str(result_file)])) == 0
    out = capsys.readouterr().out
    assert out.startswith("## ❌ FAIL: model churn (binary)\n")


def test_markdown_limit_and_run_link_are_applied(
    result_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse([str(result_file), "--max-chars", "1500", "--run-url", "https://ci.example/run/5"])
    report.run(args)
    out = capsys.readouterr().out
    assert len(out) <= 1500
    assert "[CI run](https://ci.example/run/5)" in out


def test_html_is_written_to_the_output_file(result_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.html"
    assert report.run(parse([str(result_file), "--format", "html", "-o", str(target)])) == 0
    html = target.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "❌ FAIL" in html
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_json_is_the_validated_result_reprinted(result_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy.json"
    report.run(parse([str(result_file), "--format", "json", "-o", str(target)]))
    assert json.loads(target.read_text(encoding="utf-8")) == json.loads(
        result_file.read_text(encoding="utf-8")
    )


def test_invalid_result_fails_with_exit_code_2_and_leaves_no_output(
    result_file: Path, tmp_path: Path
) -> None:
    document = json.loads(result_file.read_text(encoding="utf-8"))
    document["metrics"][0]["delta"] = "big"
    result_file.write_text(json.dumps(document), encoding="utf-8")
    target = tmp_path / "report.md"
    target.write_text("previous report", encoding="utf-8")
    with pytest.raises(InvalidResultError) as raised:
        report.run(parse([str(result_file), "-o", str(target)]))
    assert raised.value.exit_code == 2
    assert str(raised.value) == (
        f"{result_file}: invalid result file at metrics[0].delta: 'big' is not of type 'number', 'null'"
    )
    assert target.read_text(encoding="utf-8") == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlops-result.json", "report.md"]


def test_unwritable_output_is_a_clean_error(result_file: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(MlopsError, match="cannot write the report"):
        report.run(parse([str(result_file), "-o", str(blocker / "report.md")]))


def test_write_atomically_replaces_the_file_in_one_step(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    target.write_text("old", encoding="utf-8")
    write_report(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_command_module_imports_only_the_standard_library_at_import_time() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import mlops_actions.commands.report; "
        "heavy = {'jinja2', 'jsonschema', 'numpy', 'pandas', 'markupsafe'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
