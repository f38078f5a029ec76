"""`mlops-actions doctor`: will this project train, save and load here? Checks, then a trial on a sample."""

from __future__ import annotations

import argparse

from mlops_actions.commands._common import add_config_option


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check the config, train on a sample of rows, load the model back through the safe loader, "
        "and list what it needs trusted",
    )
    add_config_option(parser)
    parser.add_argument(
        "--rows", type=int, default=400, help="rows of the training data to train on (default 400)"
    )
    parser.set_defaults(func=run)


def render_doctor(report: object) -> str:
    """The doctor's findings as plain text lines."""
    from mlops_actions.stages.doctor import DoctorReport

    assert isinstance(report, DoctorReport)
    lines = [f"{'ok' if f.ok else 'PROBLEM':>7}  {f.subject}: {f.detail}" for f in report.preflight.findings]
    if report.preflight.problems:
        lines.append("    ---  trial training skipped: fix the problems above first")
        return "\n".join(lines)
    if report.problem is not None:
        lines.append(f"PROBLEM  trial training on {report.sample_rows} rows: {report.problem}")
        return "\n".join(lines)
    lines.append(
        f"     ok  trial training on {report.sample_rows} rows: {report.train_seconds:.1f} s, "
        "the model loads back through the safe loader (digest checked)"
    )
    if not report.needed_types:
        lines.append("     ok  trusted types: none needed beyond what skops trusts by itself")
    lines += [f"     ok  trusts {needed.name}: {needed.trusted_by}" for needed in report.needed_types]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from mlops_actions.domain.config import load_config
    from mlops_actions.errors import ConfigError
    from mlops_actions.stages.doctor import run_doctor

    if args.rows < 20:
        raise ConfigError(f"--rows: expected at least 20 rows, got {args.rows}")
    report = run_doctor(load_config(args.config), sample_rows=args.rows)
    print(render_doctor(report))
    report.preflight.raise_for_problems()
    if report.problem is not None:
        raise ConfigError(f"trial training failed: {report.problem}")
    return 0
