"""Scoring a model on evaluation rows: predictions aligned by row key, saved without pickle."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.config import Config
from mlops_actions.domain.model_io import (
    METADATA_FILE,
    MODEL_FILE,
    load_model,
    read_model_metadata,
    write_json_atomic,
)
from mlops_actions.domain.secrets import user_code_environment
from mlops_actions.domain.trust import Trust
from mlops_actions.errors import DataError, ModelError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_actions.domain.metrics import Predictions

SCORED_FILE = "predictions.npz"
SCORED_META = "scored.json"


@dataclass
class Scored:
    """One model's predictions on the evaluation rows, with what is needed to compare it with another."""

    task: str
    classes: list[Any] | None
    row_keys: np.ndarray
    y_true: np.ndarray
    predictions: Predictions
    slices: dict[str, np.ndarray] = field(default_factory=dict)
    model_digest: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.row_keys)

    @property
    def n_classes(self) -> int | None:
        return None if self.classes is None else len(self.classes)

    def rows_at(self, index: Any) -> Scored:
        """The same model's predictions on some of the rows (a mask, positions or a slice), without slices."""
        from mlops_actions.domain.metrics import Predictions

        p = self.predictions
        return Scored(
            task=self.task,
            classes=self.classes,
            row_keys=self.row_keys[index],
            y_true=self.y_true[index],
            predictions=Predictions(
                labels=None if p.labels is None else p.labels[index],
                scores=None if p.scores is None else p.scores[index],
                values=None if p.values is None else p.values[index],
            ),
            model_digest=self.model_digest,
        )


def encode_labels(values: pd.Series, classes: list[Any], source: str) -> np.ndarray:
    """Class indices of ``values`` in the model's class order; a DataError names labels the model never saw."""
    import numpy as np
    import pandas as pd

    by_text = {str(c): i for i, c in enumerate(classes)}
    codes = pd.Series(values).astype(str).map(by_text)
    if codes.isna().any():
        unknown = sorted(set(pd.Series(values)[codes.isna()].astype(str)))[:5]
        raise DataError(
            f"{source}: target has labels the model was not trained on: {', '.join(unknown)} "
            f"(model classes: {', '.join(map(str, classes))})"
        )
    return codes.to_numpy(dtype=np.int64)


def fitted_features(model: Any, metadata: dict[str, Any]) -> list[Any]:
    """The columns to score ``model`` on: those it was fitted on (``feature_names_in_``), else the recorded ones.

    A trainer may pick its own columns, so baseline and candidate can use different features.
    """
    fitted = getattr(model, "feature_names_in_", None)
    if fitted is not None:
        return [name.item() if hasattr(name, "item") else name for name in fitted]
    return list(metadata.get("features") or [])


def score_model(
    model_dir: str | Path,
    frame: pd.DataFrame,
    config: Config,
    *,
    import_root: str | Path | None = None,
    classes: list[Any] | None = None,
    source: str = "eval data",
    trust: Trust | None = None,
    expected_digest: str | None = None,
    digest_source: str | None = None,
) -> Scored:
    """Load the model (digest checked) and predict the rows of ``frame``.

    ``trust`` is the reviewed config's (default: ``config``'s); the folder's metadata.json can only narrow
    it. ``expected_digest`` comes from a registry's manifest when given (``digest_source`` says so), else
    from the folder's metadata. ``classes`` fixes the class order (the candidate's) so a baseline's
    probabilities line up with it.
    """
    import numpy as np

    from mlops_actions.domain.datasets import row_keys
    from mlops_actions.domain.metrics import Predictions

    model_dir = Path(model_dir)
    metadata = read_model_metadata(model_dir)
    trust = (trust or Trust.from_config(config)).narrowed(
        metadata.get("trusted_types"), model_dir / METADATA_FILE
    )
    if expected_digest is not None and metadata["model_digest"] != expected_digest:
        raise ModelError(
            f"{model_dir / METADATA_FILE}: model_digest {metadata['model_digest']} differs from "
            f"{expected_digest} of {digest_source or 'the registry'}"
        )
    with user_code_environment(config, "train"):  # loading and predicting run the project's own code
        model = load_model(
            model_dir / MODEL_FILE,
            expected_digest=expected_digest or metadata["model_digest"],
            trust=trust,
            import_root=import_root or config.root,
            digest_source=(digest_source or "the registry") if expected_digest else "the metadata",
        )
        features = fitted_features(model, metadata)
        missing = [c for c in features if c not in frame.columns]
        if missing:
            raise DataError(
                f"{source}: columns the model was fitted on are missing: {', '.join(map(str, missing[:10]))}"
                + (f" (and {len(missing) - 10} more)" if len(missing) > 10 else "")
            )
        if config.target not in frame.columns:
            raise DataError(f"{source}: target column {config.target!r} not found (data.target)")
        X = frame[features]
        try:
            if config.is_classification:
                model_classes = list(metadata.get("classes") or [])
                order = classes if classes is not None else model_classes
                if sorted(map(str, order)) != sorted(map(str, model_classes)):
                    raise ModelError(
                        f"{model_dir}: model classes {model_classes} differ from the candidate's {order}"
                    )
                proba = np.asarray(model.predict_proba(X), dtype=np.float64)
                position = {str(c): i for i, c in enumerate(model_classes)}
                proba = proba[:, [position[str(c)] for c in order]]
                y_true = encode_labels(frame[config.target], order, source)
                labels = proba.argmax(axis=1).astype(np.int64)
                scores = proba[:, 1] if config.task == "binary" else proba
                predictions = Predictions(labels=labels, scores=scores)
                used_classes: list[Any] | None = order
            else:
                values = np.asarray(model.predict(X), dtype=np.float64).reshape(-1)
                y_true = frame[config.target].to_numpy(dtype=np.float64)
                predictions = Predictions(values=values)
                used_classes = None
        except (DataError, ModelError):
            raise
        except Exception as error:
            raise ModelError(
                f"{model_dir}: prediction failed on {source}: {type(error).__name__}: {error}"
            ) from None
    slices = {
        column: frame[column].astype(str).fillna("(missing)").to_numpy(dtype=np.str_)
        for column in config.slices
        if column in frame.columns
    }
    return Scored(
        task=config.task,
        classes=used_classes,
        row_keys=row_keys(frame, config),
        y_true=y_true,
        predictions=predictions,
        slices=slices,
        model_digest=metadata["model_digest"],
        metadata=metadata,
    )


def save_scored(scored: Scored, directory: str | Path) -> None:
    """Write predictions.npz (no pickled objects) and scored.json."""
    import numpy as np

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {"row_keys": scored.row_keys, "y_true": scored.y_true}
    for name in ("labels", "scores", "values"):
        value = getattr(scored.predictions, name)
        if value is not None:
            arrays[name] = value
    for column, values in scored.slices.items():
        arrays[f"slice:{column}"] = values
    tmp = directory / f".{SCORED_FILE}.tmp.npz"
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
    tmp.replace(directory / SCORED_FILE)
    write_json_atomic(
        directory / SCORED_META,
        {
            "task": scored.task,
            "classes": scored.classes,
            "model_digest": scored.model_digest,
            "metadata": scored.metadata,
            "slices": list(scored.slices),
        },
    )


def load_scored(directory: str | Path) -> Scored:
    """Read what save_scored wrote (arrays loaded with allow_pickle=False)."""
    import numpy as np

    from mlops_actions.domain.metrics import Predictions

    directory = Path(directory)
    try:
        meta = json.loads((directory / SCORED_META).read_text(encoding="utf-8"))
        with np.load(directory / SCORED_FILE, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except FileNotFoundError as error:
        raise DataError(
            f"{directory}: not an evaluation folder ({Path(error.filename).name} missing)"
        ) from None
    except (ValueError, OSError, json.JSONDecodeError) as error:
        raise DataError(f"{directory}: unreadable evaluation files: {error}") from None
    predictions = Predictions(
        labels=arrays.get("labels"), scores=arrays.get("scores"), values=arrays.get("values")
    )
    return Scored(
        task=meta["task"],
        classes=meta.get("classes"),
        row_keys=arrays["row_keys"],
        y_true=arrays["y_true"],
        predictions=predictions,
        slices={c: arrays[f"slice:{c}"] for c in meta.get("slices", [])},
        model_digest=meta.get("model_digest"),
        metadata=meta.get("metadata", {}),
    )


def align_classes(scored: Scored, classes: list[Any] | None) -> Scored:
    """Reorder a classifier's class indices and probabilities to ``classes`` (the candidate's order)."""
    import numpy as np

    from mlops_actions.domain.metrics import Predictions

    if classes is None or scored.classes is None or list(map(str, scored.classes)) == list(map(str, classes)):
        return scored
    if sorted(map(str, scored.classes)) != sorted(map(str, classes)):
        raise ModelError(f"baseline classes {scored.classes} differ from the candidate's {classes}")
    position = {str(c): i for i, c in enumerate(scored.classes)}
    order = np.array([position[str(c)] for c in classes])
    inverse = np.argsort(order)
    p = scored.predictions
    scores = p.scores
    if scores is not None and scores.ndim == 2:
        scores = scores[:, order]
    elif scores is not None:  # binary: the score is P(class at index 1)
        scores = scores if order[1] == 1 else 1.0 - scores
    return Scored(
        task=scored.task,
        classes=list(classes),
        row_keys=scored.row_keys,
        y_true=inverse[scored.y_true],
        predictions=Predictions(
            labels=None if p.labels is None else inverse[p.labels], scores=scores, values=p.values
        ),
        slices=scored.slices,
        model_digest=scored.model_digest,
        metadata=scored.metadata,
    )


EVALUATION_FILE = "evaluation.json"


@dataclass(frozen=True)
class Evaluation:
    """A model scored on evaluation rows, with its metrics (bootstrap intervals), overall and per slice.

    The metrics are computed when first read, so a caller that needs the predictions alone (to compare
    them with a baseline's) pays no bootstrap for them.
    """

    scored: Scored
    config: Config

    @cached_property
    def metrics(self) -> list[dict[str, Any]]:
        """One row per configured metric: the value and its interval (no baseline, so no delta)."""
        from mlops_actions.domain.comparison import metric_rows

        return metric_rows(self.config.metrics, self.scored, None, self.config)

    @cached_property
    def slices(self) -> list[dict[str, Any]]:
        """The metrics per value of each configured slice column."""
        from mlops_actions.domain.comparison import slice_rows

        return slice_rows(self.scored, None, self.config)

    def to_dict(self) -> dict[str, Any]:
        """The document of ``evaluation.json``: model digest, rows, metrics and slices."""
        return {
            "model_digest": self.scored.model_digest,
            "rows": self.scored.rows,
            "metrics": self.metrics,
            "slices": self.slices,
        }

    def save(self, directory: str | Path) -> Path:
        """Write the predictions (what ``compare`` reads back) and ``evaluation.json``; returns the folder."""
        directory = Path(directory)
        save_scored(self.scored, directory)
        write_json_atomic(directory / EVALUATION_FILE, self.to_dict())
        return directory


def evaluate(
    model_dir: str | Path,
    frame: pd.DataFrame,
    config: Config,
    *,
    classes: list[Any] | None = None,
    source: str = "eval data",
    trust: Trust | None = None,
    expected_digest: str | None = None,
    digest_source: str | None = None,
) -> Evaluation:
    """Score the model folder ``model_dir`` (digest checked) on the rows of ``frame``.

    ``classes`` puts a classifier's classes in that order (the candidate's, for a baseline); ``trust``,
    ``expected_digest`` and ``digest_source`` are those of :func:`score_model`.
    """
    scored = score_model(
        model_dir,
        frame,
        config,
        source=source,
        trust=trust,
        expected_digest=expected_digest,
        digest_source=digest_source,
    )
    return Evaluation(scored=align_classes(scored, classes), config=config)
