"""Live guards: per predict call, the rows whose outputs are NaN, infinite or missing, and per input column the
values outside the trained range and the categories training never had, counted for ``/metrics``.

The trained range and the known categories come from the version's training-data profile
(``data-profile.json``, stored by the release): a numeric column is out of range below the profile's ``min``
or above its ``max`` (the values training saw, without the schema's slack, as the monitor counts them); a
categorical column's value is unseen when the profile's counts never had it. Only the model's feature
columns that the profile describes are guarded, so every ``column`` label is a name the reviewed profile
and the model gave, never one a request chose. Without a profile the input guards are off; outputs are
counted whatever the version.

Counting happens once per predict call, on the merged batch: a numeric column costs a min and a max
(the exact count only when one of them is outside), a categorical column one subset test of its values (a ``Counter`` only when one is unseen),
the outputs one ``isfinite``.
The predict thread is the only writer; every counter exists from the start, so ``/metrics`` reads them
without a lock.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from mlops_actions.domain.data.profile import Profile
    from mlops_actions.domain.data.schema import Schema
    from mlops_actions.serving.source import ServedModel

NUMERIC_TYPES = ("int", "float")
TEXT_TYPES = ("category", "string")
SMALL_BATCH_ROWS = 64  # up to this many rows, a column's range is checked in Python (see _outside)


@dataclass
class LiveGuards:
    """The guarded columns of one served version and their counters (see the module docstring)."""

    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # column -> trained [min, max]
    categories: dict[str, frozenset[str]] = field(default_factory=dict)  # column -> categories trained on
    inputs_on: bool = False
    off_reason: str | None = None
    rows: int = 0
    nonfinite_rows: int = 0
    out_of_range: dict[str, int] = field(default_factory=dict)
    unseen: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.out_of_range = dict.fromkeys(self.ranges, 0)
        self.unseen = dict.fromkeys(self.categories, 0)
        self._allowed = {
            name: known | {None} for name, known in self.categories.items()
        }  # missing: not unseen

    @classmethod
    def from_profile(
        cls, profile: Profile | None, features: list[str], schema: Schema | None, *, missing: str = ""
    ) -> LiveGuards:
        """The guards of a model with these ``features`` (typed by ``schema`` as the server reads them):
        a numeric range per numeric feature the profile has a min and max for, a category set per
        categorical feature whose every value the profile counted; input guards off without a profile
        (``missing`` says why, for ``/metrics`` and the server log)."""
        from mlops_actions.domain.data.profile import CategoricalProfile, NumericProfile

        if profile is None:
            return cls(off_reason=missing or "no training-data profile")
        typed = schema.columns if schema is not None else {}
        ranges: dict[str, tuple[float, float]] = {}
        categories: dict[str, frozenset[str]] = {}
        for name in features:
            column, rule = profile.columns.get(name), typed.get(name)
            if rule is None or rule.role == "target":
                continue  # the server reads untyped columns as they come: no range or category to hold
            if isinstance(column, NumericProfile) and rule.dtype in NUMERIC_TYPES:
                if column.min is not None and column.max is not None:
                    ranges[name] = (float(column.min), float(column.max))
            elif (
                isinstance(column, CategoricalProfile)
                and rule.dtype in TEXT_TYPES
                and column.dtype == "string"
                and column.counts is not None  # None: too many distinct values to track
            ):
                categories[name] = frozenset(column.counts)
        return cls(ranges=ranges, categories=categories, inputs_on=True)

    def notice(self, version: str) -> str:
        """One line for the server log: what is guarded, or why the input guards are off."""
        if not self.inputs_on:
            return (
                f"live guards: input guards off for version {version}: {self.off_reason}; "
                "non-finite outputs are still counted"
            )
        return (
            f"live guards: {len(self.ranges)} numeric range(s) and {len(self.categories)} category set(s) "
            f"from version {version}'s training-data profile"
        )

    def observe(
        self, inputs: dict[str, Any], predictions: np.ndarray | None, probabilities: np.ndarray | None
    ) -> None:
        """Count one predict call: its input columns (numeric ones as arrays, as the model read them) and
        its raw outputs (``predictions`` of a regressor, ``probabilities`` of a classifier)."""
        import numpy as np

        outputs = probabilities if probabilities is not None else predictions
        rows = len(outputs) if outputs is not None else 0
        for name, (low, high) in self.ranges.items():
            values = inputs.get(name)
            if isinstance(values, np.ndarray) and len(values):
                self.out_of_range[name] += _outside(values, low, high)
        for name, allowed in self._allowed.items():
            given = inputs.get(name)
            if given is None or allowed.issuperset(given):  # one pass in C, the common case
                continue
            self.unseen[name] += sum(n for value, n in Counter(given).items() if value not in allowed)
        self.nonfinite_rows += _nonfinite_rows(predictions, probabilities)
        self.rows += rows

    def reset(self) -> None:
        """Forget what was counted (the warm-up's own rows)."""
        self.rows = self.nonfinite_rows = 0
        for counts in (self.out_of_range, self.unseen):
            for name in counts:
                counts[name] = 0


def _outside(values: np.ndarray, low: float, high: float) -> int:
    """How many values are below ``low`` or above ``high`` (NaN is neither): a min and a max first, the
    exact count only when one of them is outside. A small batch is compared in Python, where a numpy call
    would cost more than the comparisons it saves."""
    import numpy as np

    if len(values) <= SMALL_BATCH_ROWS:
        listed = values.tolist()
        # Python's min and max skip a NaN unless it comes first, when the comparisons below are False
        if low <= min(listed) and max(listed) <= high:
            return 0
        return sum(1 for value in listed if value < low or value > high)
    if low <= values.min() and values.max() <= high:  # a NaN makes these False: counted exactly below
        return 0
    return int(np.count_nonzero((values < low) | (values > high)))


def _nonfinite_rows(predictions: np.ndarray | None, probabilities: np.ndarray | None) -> int:
    """Rows with a NaN, infinite or missing output: a regressor's prediction, any class probability."""
    import numpy as np

    if probabilities is not None:
        finite = np.isfinite(np.asarray(probabilities, dtype=np.float64))
        return 0 if finite.all() else int(np.count_nonzero(~finite.all(axis=1)))
    if predictions is None:
        return 0
    try:
        values = np.asarray(predictions, dtype=np.float64)
    except (TypeError, ValueError):  # not numbers: a missing one is None
        return sum(1 for value in predictions if value is None)
    finite = np.isfinite(values)
    return 0 if finite.all() else int(np.count_nonzero(~finite))


def served_guards(served: ServedModel) -> LiveGuards:
    """The live guards of a served model, from the training-data profile stored with it."""
    from mlops_actions.serving.source import RELEASE_PROFILE_FILE

    where = f"version {served.version}" if served.version is not None else "the model folder"
    return LiveGuards.from_profile(
        served.profile, served.features, served.schema, missing=f"{where} has no {RELEASE_PROFILE_FILE}"
    )
