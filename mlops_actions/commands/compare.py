"""`mlops-actions compare`: candidate vs baseline predictions on the same rows, and the gate verdict."""

from __future__ import annotations

import argparse

from mlops_actions.commands._common import add_config_option


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "compare", help="compare two evaluations (paired bootstrap, McNemar, DeLong) and judge the gate"
    )
    add_config_option(parser)
    parser.add_argument("--candidate", required=True, help="evaluation folder of the candidate (evaluate -o)")
    parser.add_argument(
        "--baseline", help="evaluation folder of the baseline; omit to judge absolute bounds only"
    )
    parser.add_argument("--json", action="store_true", help="print metrics, rules and verdict as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlops_actions.commands._common import print_json
    from mlops_actions.domain.comparison import compare
    from mlops_actions.domain.config import load_config
    from mlops_actions.domain.evaluation import load_scored

    config = load_config(args.config)
    candidate = load_scored(args.candidate)
    baseline = load_scored(args.baseline) if args.baseline else None
    comparison = compare(candidate, baseline, config)
    if args.json:
        print_json(comparison.to_dict())
    else:
        if comparison.absolute_only:
            print("no baseline: only absolute bounds are judged")
        for row in comparison.metrics:
            if row["delta"] is None:
                continue
            noise = "  (within noise)" if row["within_noise"] else ""
            print(
                f"{row['name']:<18} Δ {row['delta']:+.4f}  [{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]{noise}"
            )
        print(f"verdict: {comparison.verdict.upper()}")
        for warning in comparison.warnings:
            print(f"  ⚠ {warning}")
        for reason in comparison.gate.reasons:
            print(f"  - {reason}")
        for rule in comparison.gate.rules:
            note = (rule.get("power") or {}).get("note")
            if note:
                where = f" [{rule['slice']}]" if rule.get("slice") else ""
                print(f"  {rule['metric']}{where}: {note}")
    return 0 if comparison.passed else 1
