"""Mergeable data profiles: one pass over chunks, bounded memory, JSON round trip, exact merges.

A profile summarises a table per column. Numeric columns keep counts of finite, missing and infinite
values, the mean and the sum of squared deviations (merged with Chan's formula), min and max, and a
histogram on fixed bins: the percentiles 1..99 of the column's first ``edge_rows`` rows (or the bins of
another profile, ``edges_from``), with per-bin counts and sums. The deciles are a subset of these edges.
Small columns also keep their values, for exact tests. Categorical columns keep the count of every
value up to ``max_categories`` distinct values. Numeric pairs keep co-moments for correlations.

Counts add up and moments merge exactly, so the profile of a file's shards merged together equals
the profile of the whole file, provided the shards share the same bins (build the later shards with
``edges_from`` the first one's profile).

Modules: ``summaries`` (what a profile holds), ``build`` (profiling one batch of rows: a file or a
DataFrame), ``accumulate`` (adding one chunk's values), ``merge`` (merging two profiles),
``serialisation`` (JSON). This package only re-exports their public names.
"""

from mlops_actions.domain.data.profile.build import (
    FINE_BINS,
    MAX_CORRELATION_COLUMNS,
    ProfileBuilder,
    build_profile,
    profile_frame,
)
from mlops_actions.domain.data.profile.merge import merge_correlations, merge_profiles
from mlops_actions.domain.data.profile.serialisation import (
    PROFILE_FORMAT,
    PROFILE_VERSION,
    load_profile,
    profile_from_dict,
    profile_to_dict,
    read_profile_document,
    save_profile,
)
from mlops_actions.domain.data.profile.summaries import (
    DEFAULT_EDGE_ROWS,
    EXACT_VALUES_LIMIT,
    MAX_TRACKED_CATEGORIES,
    CategoricalProfile,
    ColumnProfile,
    CorrelationProfile,
    NumericProfile,
    OtherProfile,
    Profile,
)

__all__ = [
    "DEFAULT_EDGE_ROWS",
    "EXACT_VALUES_LIMIT",
    "FINE_BINS",
    "MAX_CORRELATION_COLUMNS",
    "MAX_TRACKED_CATEGORIES",
    "PROFILE_FORMAT",
    "PROFILE_VERSION",
    "CategoricalProfile",
    "ColumnProfile",
    "CorrelationProfile",
    "NumericProfile",
    "OtherProfile",
    "Profile",
    "ProfileBuilder",
    "build_profile",
    "load_profile",
    "merge_correlations",
    "merge_profiles",
    "profile_frame",
    "profile_from_dict",
    "profile_to_dict",
    "read_profile_document",
    "save_profile",
]
