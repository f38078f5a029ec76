"""Profiling as an engine job: every partition's chunk becomes a Profile, and profiles merge exactly.

The numeric bins are fixed before the job runs (``edges_from``: a reference profile, or the profile of the
dataset's first ``edge_rows`` rows built on the driver), so every partition counts on the same bins and
the merged profile does not depend on how the rows were split. The job is plain data, so engines can
pickle it to their workers.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops_actions.domain.data.chunks import Chunk, TableInfo
from mlops_actions.domain.data.profile.build import ProfileBuilder
from mlops_actions.domain.data.profile.merge import merge_profiles
from mlops_actions.domain.data.profile.summaries import DEFAULT_EDGE_ROWS, NumericProfile, Profile, set_edges


@dataclass
class ProfileJob:
    """The profile of a dataset's rows (columns and dtypes of ``info``), on the bins of ``edges_from``.

    Give it the driver's edges (``engines/data_jobs.py`` does). A numeric column ``edges_from`` has no bins
    for gets no edges (one open bin), the same in every partition, so the summaries still merge: that is
    what one pass fixes for a column whose first rows are all missing, the one case where the driver's
    edges can lack a numeric column (its values, further on, made a CSV column numeric).
    """

    info: TableInfo
    edges_from: Profile | None = None
    edge_rows: int = DEFAULT_EDGE_ROWS
    bins: bool = True
    correlation: bool = True
    reads: str = "rows"

    def builder(self) -> ProfileBuilder:
        """A ProfileBuilder with this job's settings, started on ``info``."""
        builder = ProfileBuilder(
            edges_from=self.edges_from, edge_rows=self.edge_rows, bins=self.bins, correlation=self.correlation
        )
        builder.start(self.info)
        builder.source = ""
        for name in builder.pending:
            column = builder.columns[name]
            assert isinstance(column, NumericProfile)
            set_edges(column, [], [])
        builder.pending = {}
        return builder

    def empty(self) -> Profile:
        """The profile of no rows: merging it changes nothing (the merge's identity)."""
        return self.builder().finish()

    def summarise(self, batch: Chunk) -> Profile:
        """The profile of one chunk's rows (no sources: the driver names the dataset once)."""
        builder = self.builder()
        builder.update(batch)
        return builder.finish()

    def merge(self, first: Profile, second: Profile) -> Profile:
        """The profile of both profiles' rows (``merge_profiles``)."""
        return merge_profiles(first, second)
