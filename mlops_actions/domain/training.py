"""Running the user's training and writing the model folder: model.skops + metadata.json, atomically."""

from __future__ import annotations

import importlib
import json
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_actions import __version__
from mlops_actions.domain.config import Config
from mlops_actions.domain.datasets import Datasets, feature_columns, load_datasets
from mlops_actions.domain.lineage import git_state, library_versions, utc_now
from mlops_actions.domain.model_io import (
    METADATA_FILE,
    MODEL_FILE,
    digest_of,
    load_model,
    replace_directory,
    save_model,
    write_json_atomic,
)
from mlops_actions.domain.secrets import env_for_config, run_user_command, user_code_environment
from mlops_actions.domain.trust import Trust
from mlops_actions.errors import MlopsError, TrainingError

METADATA_VERSION = 1
# How to fix a type defined in a training script run as a program (saved as __main__.<name>).
MAIN_MODULE_FIX = (
    "define it in an importable module of the project (e.g. features.py) and import it from the training script "
    "(running the script with 'python -m' does not help: it still runs as __main__)"
)


@dataclass(frozen=True)
class TrainedModel:
    directory: Path
    digest: str
    metadata: dict[str, Any]
    datasets: Datasets  # the rows it was trained on and the evaluation rows, as read for training


def _import_entrypoint(spec: str, root: Path) -> Any:
    module_name, function_name = spec.split(":")
    if str(root) in sys.path:
        sys.path.remove(str(root))
    sys.path.insert(0, str(root))
    top = module_name.split(".")[0]
    for name in [n for n in sys.modules if n == top or n.startswith(f"{top}.")]:
        del sys.modules[name]  # always import the project's code as it is on disk now
    importlib.invalidate_caches()
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise TrainingError(f"train.entrypoint: cannot import module {module_name!r}: {error}") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise TrainingError(f"train.entrypoint: {module_name!r} has no function {function_name!r}")
    return function


def _train_with_entrypoint(config: Config, datasets: Datasets, features: list[str], model_path: Path) -> None:
    with user_code_environment(config, "train"):
        function = _import_entrypoint(str(config.train_entrypoint), config.root)
    X = datasets.train[features]
    y = datasets.train[config.target]
    try:
        with user_code_environment(config, "train"):
            estimator = function(X, y, dict(config.train_params))
    except MlopsError:
        raise
    except Exception as error:
        raise TrainingError(
            f"train.entrypoint {config.train_entrypoint}: training raised {type(error).__name__}: {error}"
        ) from None
    if estimator is None or not hasattr(estimator, "predict"):
        raise TrainingError(
            f"train.entrypoint {config.train_entrypoint}: expected a fitted estimator with predict(), "
            f"got {type(estimator).__name__}"
        )
    with user_code_environment(config, "train"):  # saving runs the project's own __getstate__
        save_model(estimator, model_path)


def _train_with_command(config: Config, datasets: Datasets, workdir: Path, model_path: Path) -> None:
    train_file = workdir / "train.csv"
    eval_file = workdir / "eval.csv"
    if config.eval_data is None:  # split rows: hand the command exactly the training part
        datasets.train.to_csv(train_file, index=False)
        datasets.eval.to_csv(eval_file, index=False)
    else:
        train_file, eval_file = config.train_data, config.eval_data
    params_file = workdir / "params.json"
    params_file.write_text(json.dumps(config.train_params))
    values = {
        "model": str(model_path),
        "train": str(train_file),
        "eval": str(eval_file),
        "params": str(params_file),
        "workdir": str(workdir),
    }
    try:
        command = str(config.train_command).format(**{k: shlex.quote(v) for k, v in values.items()})
    except (KeyError, IndexError) as error:
        raise TrainingError(
            f"train.command: unknown placeholder {error}, expected {{model}} {{train}} {{eval}} {{params}} {{workdir}}"
        ) from None
    env = env_for_config(config, "train", {f"MLOPS_{k.upper()}_PATH": v for k, v in values.items()})
    try:
        proc = run_user_command(
            command, cwd=config.root, env=env, timeout=config.train_timeout_s, echo_stdout=sys.stderr
        )
    except subprocess.TimeoutExpired:
        raise TrainingError(
            f"train.command timed out after {config.train_timeout_s / 60:g} minutes (train.timeout_minutes)"
        ) from None
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise TrainingError(f"train.command exited with code {proc.returncode}: {tail}")
    if not model_path.is_file():
        raise TrainingError(
            "train.command finished but wrote no model at {model}; save it with "
            "mlops_actions.domain.model_io.save_model(estimator, path) or skops.io.dump"
        )


def refuse_main_module_types(model_path: Path) -> None:
    """A TrainingError naming the first ``__main__.*`` object the saved model holds, with the fix.

    A function or class defined in a training script run as ``python train.py`` is saved as ``__main__.<name>``;
    no later process can import it, so the model could never be loaded again.
    """
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=model_path)
    except Exception:  # not a readable skops file: the loader says so
        return
    in_main = sorted(name for name in untrusted if name.startswith("__main__."))
    if in_main:
        name = in_main[0].removeprefix("__main__.")
        raise TrainingError(
            f"the model holds {name!r}, defined in the training script itself ({in_main[0]}), which no other "
            f"process can import: {MAIN_MODULE_FIX}"
        )


def train(config: Config, output_dir: str | Path) -> TrainedModel:
    """Train the configured model and write ``output_dir`` (model.skops + metadata.json) atomically."""
    output_dir = Path(output_dir)
    datasets = load_datasets(config)
    features = feature_columns(datasets.train, config, config.train_data)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=output_dir.parent, prefix=f".{output_dir.name}.staging-"))
    try:
        model_path = staging / MODEL_FILE
        started = time.perf_counter()
        if config.train_entrypoint:
            _train_with_entrypoint(config, datasets, features, model_path)
        else:
            with tempfile.TemporaryDirectory(prefix="mlops-train-") as workdir:
                _train_with_command(config, datasets, Path(workdir), model_path)
        seconds = time.perf_counter() - started
        refuse_main_module_types(model_path)
        digest = digest_of(model_path)
        with user_code_environment(config, "train"):  # loading runs the project's own classes
            model = load_model(
                model_path, expected_digest=digest, trust=Trust.from_config(config), import_root=config.root
            )
            classes = _classes_of(model, config)
        metadata = {
            "metadata_version": METADATA_VERSION,
            "model_name": config.model_name,
            "task": config.task,
            "model_digest": digest,
            "model_file": MODEL_FILE,
            "estimator": f"{type(model).__module__}.{type(model).__qualname__}",
            "classes": classes,
            "features": features,
            "target": config.target,
            "trusted_types": list(config.trusted_types),
            "trainer": {"entrypoint": config.train_entrypoint, "command": config.train_command},
            "params": config.train_params,
            "git": git_state(config.root).as_dict(),
            "data": datasets.fingerprints,
            "split": datasets.split,
            "train_rows": len(datasets.train),
            "libraries": library_versions(),
            "tool_version": __version__,
            "train_seconds": round(seconds, 3),
            "created": utc_now(),
        }
        write_json_atomic(staging / METADATA_FILE, metadata)
        replace_directory(staging, output_dir)
    except BaseException:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise
    return TrainedModel(directory=output_dir, digest=digest, metadata=metadata, datasets=datasets)


def _classes_of(model: Any, config: Config) -> list[Any] | None:
    if not config.is_classification:
        return None
    classes = getattr(model, "classes_", None)
    if classes is None:
        raise TrainingError(f"{config.model_name}: a classifier must expose classes_ after fitting")
    if not hasattr(model, "predict_proba"):
        raise TrainingError(
            f"{config.model_name}: a classifier must offer predict_proba for ROC AUC, log loss and Brier"
        )
    return [c.item() if hasattr(c, "item") else c for c in classes]
