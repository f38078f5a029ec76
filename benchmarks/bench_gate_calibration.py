"""How often the gate fails equally good models (A/A) and catches worse ones (power), through the gate's own code.

Every trial draws a synthetic table (features ``X`` ~ N(0, I), 5 columns) and trains real scikit-learn models
on it: LogisticRegression for the binary task (target drawn from a logistic model, about 30% positives),
Ridge for regression (a linear signal plus noise). Each model sees the features through its own noise,
``X + sigma * noise`` with a fresh draw per model: that is how two equally good models disagree (another
seed, another feature pipeline), and ``sigma`` sets the score correlation of the two models (0.7 or 0.95:
the within-class correlation of the two models' logits, or the correlation of their errors). A worse
candidate has extra noise on its most informative feature, sized so its expected ROC AUC is 0.5, 1 or 2
points lower, or its expected RMSE 0.5%, 1% or 2% higher (measured once on 200,000 rows before the trials).
An A/A candidate is the same model class with another noise draw.

  holdout    both models are fitted on 4 x ``rows`` training rows and scored on ``rows`` eval rows.
  cross_fit  the same 5 x ``rows`` rows are split into 5 folds (one assignment for both models); each model
             is fitted on 4 folds and scores the fifth, and the pooled out-of-fold predictions are compared
             with ``inflation = cross_fit_inflation(5)`` (Nadeau and Bengio's correction).

Decisions go through the library (``metric_rows`` and ``judge``, as ``compare`` runs them) with two rule
sets: "one rule" (``allowed_change: 0`` on the primary metric, the default rule) and "every metric"
(``allowed_change: 0`` on every metric of the task, judged as one Holm family). The fail rate is the
family-wise false-alarm rate in A/A trials and the power otherwise; intervals are Wilson 95%. "identical"
counts failures when the candidate's predictions equal the baseline's (they must never fail).

The same run checks each configuration's reported minimum detectable effect (``power.mde`` of the primary
rule as the report states it for a candidate of that effect: the median over the trials of each simulated
effect, interpolated at it; the standard error grows a little with the effect) against the effect the
simulation detects with 80% power (interpolated on
the probit scale between the simulated effects; larger effects are tried when 2 points / 2% is not enough):
"ok" when they agree within 25%; the exit code is 1 when a configuration's check fails. Each configuration's
lines are printed to stderr as they come, the whole table to stdout at the end.

Every configuration runs ``--trials`` trials (default 200) of A/A and of each effect; a trial draws one table,
fits each model once (baseline, A/A candidate, one candidate per effect) and runs one paired bootstrap per
candidate, whose metric rows are judged under both rule sets. Trials run in blocks on ``--workers`` processes
(default: the number of CPUs); trial ``i`` of a configuration takes its random numbers from its own seed, so
the table does not depend on the worker count or on how the trials are split into blocks.

    .venv/bin/python benchmarks/bench_gate_calibration.py                  # the table: 15 minutes on 2 busy cores
    .venv/bin/python benchmarks/bench_gate_calibration.py --tasks binary --correlations 0.7
    .venv/bin/python benchmarks/bench_gate_calibration.py --quick          # a smoke run, under a minute
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import heapq
import itertools
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from statistics import NormalDist
from typing import Any

FEATURES = 5
FOLDS = 5
TRAIN_PER_EVAL = 4  # holdout: training rows per eval row (the usual 80/20 split)
BINARY_WEIGHTS = (1.2, -0.8, 0.6, 0.4, 0.2)
BINARY_INTERCEPT = -1.2
REGRESSION_WEIGHTS = (3.0, -2.0, 1.5, 1.0, 0.5)
REGRESSION_NOISE = 1.0
POWER_TARGET = 0.8
MDE_TOLERANCE = 0.25
# The simulated effects: ROC AUC points lost (binary), relative RMSE gained (regression).
EFFECTS = {"binary": (0.005, 0.01, 0.02), "regression": (0.005, 0.01, 0.02)}


@dataclasses.dataclass(frozen=True)
class World:
    """The synthetic population of one task: how a model sees it, and the candidate noise per effect."""

    task: str
    correlation: float
    sigma: float  # every model's own feature noise
    taus: dict[float, float]  # effect -> the candidate's extra noise on feature 0


def draw_table(task: str, rows: int, rng: Any) -> tuple[Any, Any]:
    """Features and target of ``rows`` rows of the task's population."""
    import numpy as np

    x = rng.normal(size=(rows, FEATURES))
    if task == "binary":
        latent = x @ np.array(BINARY_WEIGHTS) + BINARY_INTERCEPT
        y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-latent))).astype(np.int64)
    else:
        y = 50.0 + x @ np.array(REGRESSION_WEIGHTS) + rng.normal(scale=REGRESSION_NOISE, size=rows)
    return x, y


def model_view(x: Any, sigma: float, tau: float, rng: Any) -> Any:
    """The features as one model sees them: its own noise on every column, extra noise on the first."""
    view = x + sigma * rng.normal(size=x.shape)
    if tau:
        view[:, 0] += tau * rng.normal(size=len(x))
    return view


def fit_predict(task: str, x_train: Any, y_train: Any, x_test: Any) -> Any:
    """A real fit: LogisticRegression (positive-class probabilities) or Ridge (predicted values)."""
    from sklearn.linear_model import LogisticRegression, Ridge

    if task == "binary":
        model = LogisticRegression(C=1.0, solver="newton-cholesky", max_iter=100)
        return model.fit(x_train, y_train).predict_proba(x_test)[:, 1]
    return Ridge(alpha=1.0).fit(x_train, y_train).predict(x_test)


def score_correlation(task: str, y: Any, a: Any, b: Any) -> float:
    """Within-class correlation of two models' logits (binary), or the correlation of their errors."""
    import numpy as np

    if task == "binary":
        la, lb = np.log(a / (1 - a)), np.log(b / (1 - b))
        return float(np.mean([np.corrcoef(la[y == c], lb[y == c])[0, 1] for c in (0, 1)]))
    return float(np.corrcoef(y - a, y - b)[0, 1])


def population_metric(task: str, y: Any, predictions: Any) -> float:
    """ROC AUC (binary) or RMSE (regression) of predictions."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    if task == "binary":
        return float(roc_auc_score(y, predictions))
    return float(np.sqrt(np.mean((y - predictions) ** 2)))


def _bisect(function: Any, target: float, low: float, high: float, steps: int) -> float:
    """The x in [low, high] where the increasing ``function`` reaches ``target``."""
    for _ in range(steps):
        middle = (low + high) / 2
        if function(middle) < target:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def build_world(task: str, correlation: float, pilot_rows: int, seed: int) -> World:
    """Find sigma for the score correlation and tau for each effect on a large pilot sample."""
    import numpy as np

    rng = np.random.default_rng([seed, 99])
    x_train, y_train = draw_table(task, pilot_rows, rng)
    x_test, y_test = draw_table(task, pilot_rows, rng)
    # common random numbers: the same noise draws for every sigma and tau tried
    noise = [rng.normal(size=(2, pilot_rows, FEATURES)) for _ in range(2)]
    extra = rng.normal(size=(2, pilot_rows))

    def predictions(model: int, sigma: float, tau: float = 0.0) -> Any:
        views = []
        for part, x in enumerate((x_train, x_test)):
            view = x + sigma * noise[model][part]
            view[:, 0] += tau * extra[part]
            views.append(view)
        return fit_predict(task, views[0], y_train, views[1])

    def decorrelation(sigma: float) -> float:
        return 1.0 - score_correlation(task, y_test, predictions(0, sigma), predictions(1, sigma))

    # regression errors share the target's noise, and a model that sees only noise predicts the mean as
    # its twin does: their correlation falls, then rises again with sigma; search below the turn (sigma 1)
    sigma = _bisect(decorrelation, 1.0 - correlation, 0.0, 6.0 if task == "binary" else 1.0, 14)
    reference = population_metric(task, y_test, predictions(0, sigma))

    def worsening(tau: float) -> float:
        value = population_metric(task, y_test, predictions(0, sigma, tau))
        return reference - value if task == "binary" else value / reference - 1.0

    taus = {effect: _bisect(worsening, effect, 0.0, 8.0, 14) for effect in EFFECTS[task]}
    return World(task=task, correlation=correlation, sigma=sigma, taus=taus)


def extend_world(world: World, effects: list[float], pilot_rows: int, seed: int) -> World:
    """The same world with the candidate noise for more effect sizes (the 80%-power search)."""
    import numpy as np

    rng = np.random.default_rng([seed, 99])
    task, sigma = world.task, world.sigma
    x_train, y_train = draw_table(task, pilot_rows, rng)
    x_test, y_test = draw_table(task, pilot_rows, rng)
    noise = [rng.normal(size=(2, pilot_rows, FEATURES)) for _ in range(2)]
    extra = rng.normal(size=(2, pilot_rows))

    def metric(tau: float) -> float:
        views = []
        for part, x in enumerate((x_train, x_test)):
            view = x + sigma * noise[0][part]
            view[:, 0] += tau * extra[part]
            views.append(view)
        return population_metric(task, y_test, fit_predict(task, views[0], y_train, views[1]))

    reference = metric(0.0)

    def worsening(tau: float) -> float:
        return reference - metric(tau) if task == "binary" else metric(tau) / reference - 1.0

    taus = dict(world.taus)
    for effect in effects:
        taus[effect] = _bisect(worsening, effect, 0.0, 40.0, 16)
    return dataclasses.replace(world, taus=taus)


def gate_config(task: str, rule_set: str, resamples: int, folder: Path) -> Any:
    """A validated config with every metric of the task and the rule set's change rules."""
    from mlops_actions.domain.config import parse_config
    from mlops_actions.domain.metric_names import DEFAULT_PRIMARY, metrics_for_task

    primary = DEFAULT_PRIMARY[task]
    names = metrics_for_task(task)
    gated = [primary] if rule_set == "one rule" else names
    doc = {
        "version": 1,
        "model": {"name": "calibration", "task": task},
        "train": {"command": "true"},
        "data": {"train": "train.csv", "target": "y"},
        "metrics": {"primary": primary, "others": [n for n in names if n != primary]},
        "gate": {
            "decision": "interval",
            "confidence": 0.95,
            "resamples": resamples,
            "seed": 0,
            "rules": [{"metric": name, "allowed_change": 0} for name in gated],
        },
    }
    return parse_config(doc, folder / "mlops.yaml")


def scored(task: str, y: Any, predictions: Any) -> Any:
    """The library's view of one model's predictions on the compared rows."""
    import numpy as np

    from mlops_actions.domain.evaluation import Scored
    from mlops_actions.domain.metrics import Predictions

    if task == "binary":
        p = Predictions(labels=(predictions >= 0.5).astype(np.int64), scores=predictions)
        classes: list[Any] | None = [0, 1]
    else:
        p = Predictions(values=predictions)
        classes = None
    return Scored(task=task, classes=classes, row_keys=np.arange(len(y)), y_true=y, predictions=p)


def judge_rows(config: Any, candidate: Any, baseline: Any, inflation: float) -> list[dict[str, Any]]:
    """Metric rows of every metric of the task (one paired bootstrap): what ``compare`` computes."""
    from mlops_actions.domain.comparison import metric_rows

    return metric_rows(config.metrics, candidate, baseline, config, with_tests=False, inflation=inflation)


def verdict(
    config: Any, metric_table: list[dict[str, Any]], compared_rows: int, inflation: float
) -> tuple[bool, dict[str, Any]]:
    """(the gate failed, the primary metric's judged change rule) for these metric rows, judged as
    ``compare`` judges them (the config's settings, Holm family, power)."""
    from mlops_actions.domain.gate import judge

    outcome = judge(
        config.rules,
        metric_table,
        [],
        min_slice_rows=config.min_slice_rows,
        config=config,
        rows=compared_rows,
        evaluation="cross_fit" if inflation > 1.0 else "holdout",
    )
    primary = next(r for r in outcome.rules if r["metric"] == config.primary_metric and r["slice"] is None)
    return not outcome.passed, primary


def trial_predictions(
    world: World, rows: int, mode: str, effects: list[float], rng: Any
) -> tuple[Any, Any, dict[float, Any]]:
    """Compared rows' target, the baseline's predictions and the candidate's per effect (0: A/A)."""
    import numpy as np

    task = world.task
    total = rows * (TRAIN_PER_EVAL + 1)
    x, y = draw_table(task, total, rng)
    views = {
        effect: model_view(x, world.sigma, world.taus.get(effect, 0.0), rng) for effect in [-1.0, *effects]
    }
    if mode == "holdout":
        train, test = slice(0, total - rows), slice(total - rows, total)
        predicted = {
            effect: fit_predict(task, view[train], y[train], view[test]) for effect, view in views.items()
        }
        target = y[test]
    else:
        fold = rng.permutation(np.arange(total) % FOLDS)
        predicted = {effect: np.empty(total) for effect in views}
        for k in range(FOLDS):
            held, kept = fold == k, fold != k
            for effect, view in views.items():
                predicted[effect][held] = fit_predict(task, view[kept], y[kept], view[held])
        target = y
    baseline = predicted.pop(-1.0)
    return target, baseline, predicted


def wilson(successes: int, trials: int) -> tuple[float, float]:
    """Wilson 95% interval of a binomial rate."""
    if trials == 0:
        return math.nan, math.nan
    z = NormalDist().inv_cdf(0.975)
    rate = successes / trials
    centre = (rate + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclasses.dataclass
class Cell:
    """Fail counts of one configuration (task, mode, rows, correlation), per rule set and effect."""

    trials: dict[float, int] = dataclasses.field(default_factory=dict)
    fails: dict[tuple[str, float], int] = dataclasses.field(default_factory=dict)
    primary_fails: dict[tuple[str, float], int] = dataclasses.field(default_factory=dict)
    identical_fails: dict[str, int] = dataclasses.field(default_factory=dict)
    identical_trials: int = 0
    mde: dict[tuple[str, float], list[float]] = dataclasses.field(default_factory=dict)
    baseline_values: list[float] = dataclasses.field(default_factory=list)

    def add(self, other: Cell) -> None:
        """Count another block's trials in (counts add up; the order of blocks does not matter)."""
        _add_counts(self.trials, other.trials)
        _add_counts(self.fails, other.fails)
        _add_counts(self.primary_fails, other.primary_fails)
        _add_counts(self.identical_fails, other.identical_fails)
        self.identical_trials += other.identical_trials
        for key, values in other.mde.items():
            self.mde.setdefault(key, []).extend(values)
        self.baseline_values.extend(other.baseline_values)


def _add_counts(mine: dict[Any, int], theirs: dict[Any, int]) -> None:
    for key, count in theirs.items():
        mine[key] = mine.get(key, 0) + count


RULE_SETS = ("one rule", "every metric")


@dataclasses.dataclass(frozen=True)
class Block:
    """Trials ``first`` .. ``first + count - 1`` of one configuration at the given effects: a unit of work.

    Trial ``i`` draws everything from ``default_rng([seed, rows, correlation, mode, i])``, so a trial's
    outcome does not depend on the block it falls in, nor on the process that runs it.
    """

    world: World
    rows: int
    mode: str
    effects: tuple[float, ...]
    first: int
    count: int
    identical: int  # trials with an index below this also compare the baseline with itself
    resamples: int
    seed: int


_CONFIGS: dict[tuple[str, int], dict[str, Any]] = {}  # one process's validated configs, built once


def rule_set_configs(task: str, resamples: int) -> dict[str, Any]:
    """The config of each rule set for the task (parsed once per process)."""
    key = (task, resamples)
    if key not in _CONFIGS:
        with tempfile.TemporaryDirectory() as folder:
            _CONFIGS[key] = {rs: gate_config(task, rs, resamples, Path(folder)) for rs in RULE_SETS}
    return _CONFIGS[key]


def run_block(block: Block) -> Cell:
    """Simulate a block of trials and count the verdicts.

    Per trial: one table, one fit per model (baseline, each candidate), one paired bootstrap per candidate
    (every metric of the task), judged under both rule sets from the same metric rows.
    """
    import numpy as np

    from mlops_actions.domain.inference import cross_fit_inflation

    world, mode = block.world, block.mode
    configs = rule_set_configs(world.task, block.resamples)
    inflation = cross_fit_inflation(FOLDS) if mode == "cross_fit" else 1.0
    any_config = configs[RULE_SETS[0]]
    cell = Cell()
    for trial in range(block.first, block.first + block.count):
        rng = np.random.default_rng([block.seed, block.rows, int(world.correlation * 100), len(mode), trial])
        y, baseline_predictions, candidates = trial_predictions(
            world, block.rows, mode, list(block.effects), rng
        )
        baseline = scored(world.task, y, baseline_predictions)
        for effect in block.effects:
            metric_table = judge_rows(
                any_config, scored(world.task, y, candidates[effect]), baseline, inflation
            )
            cell.trials[effect] = cell.trials.get(effect, 0) + 1
            for rule_set in RULE_SETS:
                failed, primary = verdict(configs[rule_set], metric_table, len(y), inflation)
                key = (rule_set, effect)
                cell.fails[key] = cell.fails.get(key, 0) + failed
                cell.primary_fails[key] = cell.primary_fails.get(key, 0) + (primary["status"] == "fail")
                power = primary.get("power") or {}
                if power.get("mde") is not None:
                    cell.mde.setdefault(key, []).append(float(power["mde"]))
            if effect == 0.0:
                row = next(r for r in metric_table if r["name"] == any_config.primary_metric)
                cell.baseline_values.append(float(row["baseline"]))
        if trial < block.identical:
            metric_table = judge_rows(any_config, baseline, baseline, inflation)
            cell.identical_trials += 1
            for rule_set in RULE_SETS:
                failed, _ = verdict(configs[rule_set], metric_table, len(y), inflation)
                cell.identical_fails[rule_set] = cell.identical_fails.get(rule_set, 0) + failed
    return cell


def effect_at_power(curve: list[tuple[float, float]], target: float = POWER_TARGET) -> float | None:
    """The effect where the simulated power crosses ``target``, interpolated on the probit scale."""
    normal = NormalDist()

    def probit(p: float) -> float:
        return normal.inv_cdf(min(max(p, 0.002), 0.998))

    for (e0, p0), (e1, p1) in itertools.pairwise(sorted(curve)):
        if p0 < target <= p1:
            q0, q1, qt = probit(p0), probit(p1), probit(target)
            return e0 + (e1 - e0) * (qt - q0) / (q1 - q0) if q1 != q0 else e1
    return None


def _primary_power_curve(cell: Cell) -> list[tuple[float, float]]:
    """(effect, share of trials where the one rule failed) for every simulated effect."""
    return [(e, cell.primary_fails[("one rule", e)] / cell.trials[e]) for e in cell.trials]


def _rate(fails: int, trials: int) -> str:
    low, high = wilson(fails, trials)
    return f"{fails / trials:5.1%} [{low:4.1%}, {high:4.1%}]"


@dataclasses.dataclass(frozen=True)
class Settings:
    """How many trials and resamples, from the command line."""

    trials: int
    resamples: int
    identical: int
    search_trials: int
    pilot_rows: int
    seed: int


def _trials_per_block(task: str, rows: int, mode: str) -> int:
    """Blocks of about equal work (a few seconds), so that the workers finish together."""
    compared = rows * (TRAIN_PER_EVAL + 1) if mode == "cross_fit" else rows
    weight = compared / 2000 * (1.0 if task == "binary" else 0.5)
    return max(4, min(50, round(60 / weight)))


def _blocks(
    world: World, rows: int, mode: str, effects: list[float], trials: int, identical: int, settings: Settings
) -> list[Block]:
    size = _trials_per_block(world.task, rows, mode)
    return [
        Block(
            world,
            rows,
            mode,
            tuple(effects),
            first,
            min(size, trials - first),
            identical,
            settings.resamples,
            settings.seed,
        )
        for first in range(0, trials, size)
    ]


@dataclasses.dataclass
class Configuration:
    """One line pair of the table, while it is being simulated."""

    task: str
    correlation: float
    mode: str
    rows: int
    world: World | None = None
    cell: Cell = dataclasses.field(default_factory=Cell)
    extra: list[float] = dataclasses.field(default_factory=list)
    pending: int = 0  # blocks submitted and not yet counted
    searches: int = 0
    simulated: float | None = None
    done: bool = False

    def next_effects(self) -> list[float]:
        """The extra effect to simulate when 80% power is not bracketed yet (at most 3 searches), or none."""
        curve = _primary_power_curve(self.cell)
        if effect_at_power(curve) is not None or self.searches >= 3:
            return []
        largest = max(e for e, _ in curve)
        too_weak = dict(curve)[largest] < POWER_TARGET
        return [largest * 2] if too_weak else [min(e for e in self.cell.trials if e) / 2]


def _run_inline(function: Any, *args: Any) -> Any:
    """Run a job in this process (one worker): a Future-like holder of its result."""
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    future.set_result(function(*args))
    return future


def simulate(
    tasks: list[str],
    correlations: list[float],
    modes: list[str],
    rows_list: list[int],
    settings: Settings,
    workers: int,
    report: Any,
) -> list[Configuration]:
    """Simulate every configuration on ``workers`` processes; ``report(configuration)`` as each one ends.

    The work: a world per (task, correlation), then blocks of trials per configuration, then, where 80% power
    is not bracketed, a wider world and blocks of trials at the extra effect. The pool always holds at most
    one job more than it has workers; the rest wait here, worlds and searches first (others wait on them),
    then blocks in the order of the table. Counts add up, so the result does not depend on ``workers``.
    """
    configurations = [
        Configuration(task, correlation, mode, rows)
        for task in tasks
        for correlation in correlations
        for mode in modes
        for rows in rows_list
    ]
    waiting: list[tuple[int, int, Any, tuple[Any, ...], Any]] = []  # (priority, order, function, args, then)
    order = itertools.count()

    def queue(priority: int, function: Any, args: tuple[Any, ...], then: Any) -> None:
        heapq.heappush(waiting, (priority, next(order), function, args, then))

    def start_blocks(
        conf: Configuration, effects: list[float], trials: int, identical: int, priority: int
    ) -> None:
        assert conf.world is not None
        blocks = _blocks(conf.world, conf.rows, conf.mode, effects, trials, identical, settings)
        conf.pending += len(blocks)
        for block in blocks:
            queue(priority, run_block, (block,), lambda cell, conf=conf: block_done(conf, cell))

    def world_done(world: World, correlation: float) -> None:
        for conf in configurations:
            if conf.task == world.task and conf.correlation == correlation:
                conf.world = world
                start_blocks(conf, [0.0, *EFFECTS[world.task]], settings.trials, settings.identical, 1)

    def extended(conf: Configuration, world: World, effects: list[float]) -> None:
        conf.world = world
        start_blocks(conf, effects, settings.search_trials, 0, 0)

    def block_done(conf: Configuration, cell: Cell) -> None:
        conf.cell.add(cell)
        conf.pending -= 1
        if conf.pending:
            return
        new = conf.next_effects()
        if new:
            conf.searches += 1
            conf.extra.extend(new)
            args = (conf.world, new, settings.pilot_rows, settings.seed)
            queue(0, extend_world, args, lambda world, conf=conf, new=new: extended(conf, world, new))
            return
        conf.simulated = effect_at_power(_primary_power_curve(conf.cell))
        conf.done = True
        report(conf)

    for task in tasks:
        for correlation in correlations:
            args = (task, correlation, settings.pilot_rows, settings.seed)
            queue(0, build_world, args, lambda world, correlation=correlation: world_done(world, correlation))

    pool = None
    if workers > 1:
        pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers, initializer=_one_blas_thread)
    else:
        _one_blas_thread()
    running: dict[concurrent.futures.Future[Any], Any] = {}
    try:
        while waiting or running:
            while waiting and len(running) <= (workers if pool else 0):
                _, _, function, job_args, then = heapq.heappop(waiting)
                future = pool.submit(function, *job_args) if pool else _run_inline(function, *job_args)
                running[future] = then
            finished, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                running.pop(future)(future.result())
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    return configurations


def _one_blas_thread() -> None:
    """BLAS on one thread in every process: the processes use the cores, and the fits' sums do not depend
    on how many threads BLAS would have had (threadpoolctl comes with scikit-learn)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def reported_mde(cell: Cell, rule_set: str, effect: float | None) -> float | None:
    """The MDE the report states for a candidate of this true effect: the median over the trials of each
    simulated effect, interpolated linearly at ``effect`` (the A/A median when there is no effect)."""
    medians = sorted(
        (e, statistics.median(values)) for (rs, e), values in cell.mde.items() if rs == rule_set and values
    )
    if not medians:
        return None
    if effect is None:
        return dict(medians).get(0.0)
    for (e0, m0), (e1, m1) in itertools.pairwise(medians):
        if e0 <= effect <= e1:
            return m0 + (m1 - m0) * (effect - e0) / (e1 - e0)
    return medians[-1][1] if effect > medians[-1][0] else medians[0][1]


def table_lines(
    world: World, rows: int, mode: str, cell: Cell, simulated: float | None, extra: list[float]
) -> tuple[list[str], bool]:
    """The table's two lines of one configuration (one rule, every metric), and whether the MDE check passed."""
    task = world.task
    scale = 1.0
    if task == "regression" and cell.baseline_values:
        scale = statistics.median(cell.baseline_values)  # the effects are relative
    lines = []
    ok = False
    for rule_set in RULE_SETS:
        identical = f"{cell.identical_fails.get(rule_set, 0)}/{cell.identical_trials}"
        powers = "".join(f"{cell.fails[(rule_set, e)] / cell.trials[e]:>10.1%}" for e in EFFECTS[task])
        check = ""
        reported_text = simulated_text = "-"
        if rule_set == "one rule":
            reported = reported_mde(cell, rule_set, simulated)
            reported = None if reported is None else reported / scale
            reported_text = "n/a" if reported is None else f"{reported * 100:.2f}"
            simulated_text = "n/a" if simulated is None else f"{simulated * 100:.2f}"
            if reported is not None and simulated is not None:
                ok = abs(reported - simulated) <= MDE_TOLERANCE * simulated
                check = f"{'ok' if ok else 'FAIL'} ({reported / simulated - 1:+.0%})"
            else:
                check = "FAIL (not measured)"
            if extra:
                check += f"; searched {', '.join(f'{e * 100:g}' for e in extra)}"
        lines.append(
            f"{task:<11}{mode:<10}{rows:>6}{world.correlation:>6.2f}{cell.trials[0.0]:>7}  {rule_set:<13}"
            f"{identical:>10}  {_rate(cell.fails[(rule_set, 0.0)], cell.trials[0.0]):<25}{powers}"
            f"{reported_text:>14}{simulated_text:>15}  {check}"
        )
    return lines, ok


HEADER = (
    f"{'task':<11}{'mode':<10}{'rows':>6}{'corr':>6}{'trials':>7}  {'rules':<13}{'identical':>10}  "
    f"{'A/A false alarms [95% CI]':<25}{'power Δ1':>10}{'power Δ2':>10}{'power Δ3':>10}"
    f"{'MDE reported':>14}{'80% simulated':>15}  MDE check"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--trials", type=int, default=200, help="trials per configuration and effect (default: 200)"
    )
    parser.add_argument("--resamples", type=int, default=200, help="bootstrap resamples (default: 200)")
    parser.add_argument(
        "--rows", default="2000,10000", help="eval rows, comma-separated (default: 2000,10000)"
    )
    parser.add_argument("--correlations", default="0.7,0.95", help="score correlations (default: 0.7,0.95)")
    parser.add_argument("--modes", default="holdout,cross_fit", help="evaluation modes (default: both)")
    parser.add_argument("--tasks", default="binary,regression", help="tasks (default: binary,regression)")
    parser.add_argument(
        "--identical", type=int, default=20, help="identical-model trials per configuration (default: 20)"
    )
    parser.add_argument(
        "--search-trials",
        type=int,
        help="trials per extra effect of the 80%%-power search (default: --trials)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes that simulate (default: the number of CPUs); the results do not depend on it",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulation (default: 0)")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 20 trials, 2,000 rows, 200 resamples"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.resamples, args.rows, args.identical, args.search_trials = 20, 200, "2000", 5, 10
    tasks = args.tasks.split(",")
    correlations = [float(c) for c in args.correlations.split(",")]
    settings = Settings(
        trials=args.trials,
        resamples=args.resamples,
        identical=min(args.identical, args.trials),
        search_trials=args.trials if args.search_trials is None else args.search_trials,
        pilot_rows=50_000 if args.quick else 100_000,
        seed=args.seed,
    )

    started = time.perf_counter()
    print(
        f"gate calibration: {settings.trials} trials per configuration and effect ({settings.search_trials} "
        f"per extra effect of the 80%-power search, {settings.identical} identical-model trials), "
        f"{settings.resamples} resamples, 95% interval, allowed_change 0 with the default margins, {FOLDS} "
        f"folds for cross_fit; {args.workers} worker process(es)"
    )
    checks: dict[int, bool] = {}
    lines: dict[int, list[str]] = {}

    def report(conf: Configuration) -> None:  # as it comes (stderr); the whole table follows on stdout
        assert conf.world is not None
        key = id(conf)
        lines[key], checks[key] = table_lines(
            conf.world, conf.rows, conf.mode, conf.cell, conf.simulated, conf.extra
        )
        for line in lines[key]:
            print(line, file=sys.stderr, flush=True)

    configurations = simulate(
        tasks,
        correlations,
        args.modes.split(","),
        [int(r) for r in args.rows.split(",")],
        settings,
        max(1, args.workers),
        report,
    )
    print(HEADER)
    for task in tasks:
        unit = "ROC AUC points lost" if task == "binary" else "% RMSE added"
        effects = ", ".join(f"{e * 100:g}" for e in EFFECTS[task])
        print(f"{task}: Δ1, Δ2, Δ3 = {effects} {unit}; MDE in the same unit")
        for conf in configurations:
            if conf.task == task:
                for line in lines[id(conf)]:
                    print(line)
    passed = sum(checks.values())
    print(
        f"MDE within {MDE_TOLERANCE:.0%} of the simulated 80%-power effect: {passed}/{len(checks)} "
        "configurations"
    )
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"took {time.perf_counter() - started:.0f} s on {args.workers} worker(s), load average {load}")
    return 0 if passed == len(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
