"""What one window collects, chunk by chunk: the profile of its inputs (on the reference's bins) and of its
outputs (on bins fixed by the first rows read), and the counts the checks need (non-finite outputs,
probabilities outside [0, 1] or not summing to 1, values outside the trained range, values of a wrong type,
columns the reference does not know). Memory is bounded by the profile, whatever the window's size."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlops_actions.domain.data.chunks import CategoricalColumn, Chunk, NumericColumn, TableInfo
from mlops_actions.domain.data.profile import (
    ColumnProfile,
    NumericProfile,
    Profile,
    ProfileBuilder,
    merge_profiles,
)
from mlops_actions.monitoring.columns import PREDICTION, Columns, Layout


@dataclass(frozen=True)
class Outputs:
    """The output columns of the logs (fixed by the first chunk read) and their bins."""

    dtypes: dict[str, str]
    binning: Profile


def output_chunk(columns: Columns, dtypes: dict[str, str]) -> Chunk:
    """The prediction and probability columns of a chunk (a probability column it lacks is missing)."""
    import numpy as np

    found: dict[str, NumericColumn | CategoricalColumn] = {}
    for name in dtypes:
        if name == PREDICTION:
            found[name] = columns.prediction  # type: ignore[assignment]
        else:
            values = columns.probabilities.get(name)
            found[name] = NumericColumn(np.full(columns.rows, np.nan) if values is None else values, "float")
    return Chunk(start=0, rows=columns.rows, columns=found)  # type: ignore[arg-type]


def output_bins(first: Columns) -> Outputs:
    """Bins for the outputs from the first chunk read: every window's outputs are profiled on them, so any
    two windows can be compared."""
    dtypes = {PREDICTION: "float" if isinstance(first.prediction, NumericColumn) else "string"}
    dtypes.update((name, "float") for name in first.probabilities)
    builder = ProfileBuilder(edge_rows=max(1, first.rows), correlation=False)
    builder.start(TableInfo(path="outputs", format="log", columns=list(dtypes), dtypes=dtypes))
    builder.update(output_chunk(first, dtypes))
    return Outputs(dtypes, builder.finish())


@dataclass
class WindowCounts:
    """The counts of one window besides its profiles."""

    rows: int = 0
    nonfinite_rows: int = 0  # an output NaN, infinite or missing
    infinite_rows: int = 0
    outside_unit_rows: int = 0  # a probability outside [0, 1]
    sum_off_rows: int = 0  # probabilities not summing to 1
    out_of_range: dict[str, int] = field(default_factory=dict)
    wrong_type: dict[str, int] = field(default_factory=dict)
    new_columns: dict[str, int] = field(default_factory=dict)


def merge_window_counts(first: WindowCounts, second: WindowCounts) -> WindowCounts:
    """The counts of both windows' rows: every count added (associative and commutative; the keys of
    ``first`` come first)."""

    def added(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
        total = dict(a)
        for name, count in b.items():
            total[name] = total.get(name, 0) + count
        return total

    return WindowCounts(
        rows=first.rows + second.rows,
        nonfinite_rows=first.nonfinite_rows + second.nonfinite_rows,
        infinite_rows=first.infinite_rows + second.infinite_rows,
        outside_unit_rows=first.outside_unit_rows + second.outside_unit_rows,
        sum_off_rows=first.sum_off_rows + second.sum_off_rows,
        out_of_range=added(first.out_of_range, second.out_of_range),
        wrong_type=added(first.wrong_type, second.wrong_type),
        new_columns=added(first.new_columns, second.new_columns),
    )


@dataclass
class WindowPartial:
    """What a window collected from some of its rows: its input profile, output profile and counts. Two
    partials of one window merge into the partial of both's rows (profiles by ``merge_profiles``, counts
    added), so a window may be collected in pieces, anywhere, and merged in any order."""

    inputs: Profile
    outputs: Profile
    counts: WindowCounts

    def merge(self, other: WindowPartial) -> WindowPartial:
        """The partial of both partials' rows."""
        return WindowPartial(
            merge_profiles(self.inputs, other.inputs),
            merge_profiles(self.outputs, other.outputs),
            merge_window_counts(self.counts, other.counts),
        )


class WindowAccumulator:
    """Collects one window's rows (see the module docstring)."""

    def __init__(self, start: int, layout: Layout, reference: Profile, outputs: Outputs, tolerance: float):
        self.start = start
        self.layout = layout
        self.reference = reference
        self.outputs = outputs
        self.tolerance = tolerance
        self.counts = WindowCounts()
        self.inputs = ProfileBuilder(edges_from=reference, correlation=False)
        self.inputs.start(
            TableInfo(
                path="window", format="log", columns=list(layout.features), dtypes=dict(layout.features)
            )
        )
        self.output_profile = ProfileBuilder(edges_from=outputs.binning, correlation=False)
        self.output_profile.start(
            TableInfo(path="outputs", format="log", columns=list(outputs.dtypes), dtypes=dict(outputs.dtypes))
        )
        self.ranges: dict[str, tuple[float, float]] = {
            name: (column.min, column.max)
            for name, column in reference.columns.items()
            if name in layout.features
            and isinstance(column, NumericProfile)
            and column.min is not None
            and column.max is not None
        }

    def add(self, columns: Columns) -> None:
        """Add a chunk's rows (all of this window)."""
        import numpy as np

        counts = self.counts
        counts.rows += columns.rows
        self.inputs.update(Chunk(start=0, rows=columns.rows, columns=dict(columns.features)))
        self.output_profile.update(output_chunk(columns, self.outputs.dtypes))
        for name, (low, high) in self.ranges.items():
            feature = columns.features[name]
            assert isinstance(feature, NumericColumn)
            values = feature.values
            outside = int(np.count_nonzero(values < low)) + int(np.count_nonzero(values > high))
            if outside:
                counts.out_of_range[name] = counts.out_of_range.get(name, 0) + outside
        for name, mask in columns.wrong_type.items():
            counts.wrong_type[name] = counts.wrong_type.get(name, 0) + int(np.count_nonzero(mask))
        for name, present in columns.new.items():
            counts.new_columns[name] = counts.new_columns.get(name, 0) + int(np.count_nonzero(present))
        self._count_outputs(columns)

    def _count_outputs(self, columns: Columns) -> None:
        import numpy as np

        prediction = columns.prediction
        if isinstance(prediction, NumericColumn):
            bad = ~np.isfinite(prediction.values)
            infinite = np.isinf(prediction.values)
        else:
            assert isinstance(prediction, CategoricalColumn)
            bad = prediction.codes < 0
            infinite = np.zeros(columns.rows, dtype=bool)
        probabilities = list(columns.probabilities.values())
        if probabilities:
            stacked = np.vstack(probabilities)
            finite = np.isfinite(stacked)
            bad = bad | ~finite.all(axis=0)
            infinite = infinite | np.isinf(stacked).any(axis=0)
            t = self.tolerance
            with np.errstate(invalid="ignore"):
                outside = ((stacked < -t) | (stacked > 1 + t)).any(axis=0)
                self.counts.outside_unit_rows += int(np.count_nonzero(outside))
                if len(probabilities) > 1:
                    sums = stacked.sum(axis=0)
                    off = finite.all(axis=0) & (np.abs(sums - 1) > t)
                    self.counts.sum_off_rows += int(np.count_nonzero(off))
        self.counts.nonfinite_rows += int(np.count_nonzero(bad))
        self.counts.infinite_rows += int(np.count_nonzero(infinite))

    def finish(self) -> tuple[Profile, Profile, WindowCounts]:
        """The window's input profile, output profile and counts."""
        return self.inputs.finish(), self.output_profile.finish(), self.counts

    def partial(self) -> WindowPartial:
        """What the window collected so far, as a mergeable partial (see WindowPartial)."""
        return WindowPartial(*self.finish())


def finite_only(profile: Profile) -> Profile:
    """The profile with missing and infinite values left out (drift of what the model did answer)."""
    import dataclasses

    columns: dict[str, ColumnProfile] = {}
    for name, column in profile.columns.items():
        if isinstance(column, NumericProfile):
            columns[name] = dataclasses.replace(column, missing=0, infinite=0)
        else:
            columns[name] = dataclasses.replace(column, missing=0)
    return dataclasses.replace(profile, columns=columns)
