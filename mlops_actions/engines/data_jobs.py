"""The data checks on an engine: profile, validate and drift a dataset with jobs whose summaries merge.

A profile is an edges pre-pass on the driver (the numeric bins are the percentiles of the dataset's first
``edge_rows`` rows, from ``Engine.head``, unless a reference profile gives them), then one ProfileJob summary
per partition, then merges. Validation merges ValidationStates. Drift profiles the current data on the
reference's bins and compares the profiles. So every engine, partitioning and shard split gives the same
counts and verdicts as one pass over the whole table.

The local engine on one local file without partitions or shards takes the single-pass path of
``domain/data`` (``build_profile``, ``validate_file``, ``drift_files``): the same scan, the same output to
the byte, and no pre-pass.

Shards (``Shard``, ``data profile --shard I/N``) write partial profiles that record their shard and
dataset; ``merge_profile_documents`` checks that every shard 1..N is there exactly once and merges them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.engines.base import Dataset, Engine, Shard
from mlops_actions.errors import DataError

if TYPE_CHECKING:
    from mlops_actions.domain.data.chunks import TableInfo
    from mlops_actions.domain.data.drift import DriftReport
    from mlops_actions.domain.data.profile import Profile
    from mlops_actions.domain.data.schema import Schema
    from mlops_actions.domain.data.validate import FileValidation

DEFAULT_EDGE_ROWS = 100_000


def data_dataset(text: str) -> Dataset:
    """DATA as given on the command line: one local file (named in the readers' errors exactly as the
    single-file commands name it), else a folder, glob or URI resolved by ``engines/sources.py``."""
    from mlops_actions.domain.data.io import require_data_file, table_format

    if "://" not in text and not any(char in text for char in "*?[") and not Path(text).is_dir():
        path = require_data_file(text)
        return Dataset(location=str(path), format=table_format(path), files=(str(path),))
    from mlops_actions.engines.sources import resolve_dataset

    return resolve_dataset(text)


def single_pass_file(engine: Engine, dataset: Dataset, shard: Shard | None = None) -> str | None:
    """The local file to scan in one pass when the local engine reads one whole local CSV/Parquet file
    without partitions (the path the single-file commands take), else None."""
    if engine.name != "local" or shard is not None:
        return None
    options = getattr(engine, "options", None)
    if getattr(options, "partitions", None) is not None:
        return None
    if dataset.scheme or dataset.hive or dataset.format not in ("csv", "parquet") or len(dataset.files) > 1:
        return None
    return dataset.location if Path(dataset.location).is_file() else None


def profile_dataset(
    engine: Engine,
    dataset: Dataset,
    *,
    columns: Sequence[str] | None = None,
    edges_from: Profile | None = None,
    edge_rows: int = DEFAULT_EDGE_ROWS,
    bins: bool = True,
    correlation: bool = True,
    shard: Shard | None = None,
) -> Profile:
    """The profile of the dataset (of one shard of it), on the bins of ``edges_from`` or else of the
    dataset's first ``edge_rows`` rows; a DataError when the dataset has no rows (an empty shard's profile
    has zero rows, so that it still merges)."""
    from mlops_actions.domain.data.profile import build_profile
    from mlops_actions.domain.data.profile.job import ProfileJob

    edge_rows = max(1, edge_rows)
    path = single_pass_file(engine, dataset, shard)
    if path is not None:
        return build_profile(
            dataset.location,
            columns=list(columns) if columns is not None else None,
            edges_from=edges_from,
            edge_rows=edge_rows,
            bins=bins,
            correlation=correlation,
        )
    info = engine.table_info(dataset, columns)
    if bins:
        edges_from, info = bins_profile(engine, dataset, info, edges_from, edge_rows)
    job = ProfileJob(info, edges_from=edges_from, edge_rows=edge_rows, bins=bins, correlation=correlation)
    profile = engine.run(dataset, job, shard=shard)
    if profile is None:
        if shard is None:
            raise DataError(f"{dataset.location}: data file has no rows, expected at least one")
        profile = job.empty()
    profile.edge_rows = edge_rows
    profile.sources = [dataset.location]
    return profile


def bins_profile(
    engine: Engine, dataset: Dataset, info: TableInfo, edges_from: Profile | None, edge_rows: int
) -> tuple[Profile | None, TableInfo]:
    """A profile whose numeric columns carry the bins every partition counts on: ``edges_from``'s where it
    has them, else the percentiles of the dataset's first ``edge_rows`` rows (``Engine.head``), computed on
    the driver exactly as one pass over the whole table fixes them; and the info to run with (wider CSV
    types when the first rows needed them)."""
    from mlops_actions.domain.data.profile import NumericProfile, ProfileBuilder

    def has_edges(name: str) -> bool:
        column = edges_from.columns.get(name) if edges_from is not None else None
        return isinstance(column, NumericProfile) and column.edges is not None

    def missing_bins(info: TableInfo) -> bool:
        return any(dtype in ("int", "float") and not has_edges(name) for name, dtype in info.dtypes.items())

    if not missing_bins(info):
        return edges_from, info
    head, info = head_with_wider_types(engine, dataset, edge_rows, info)
    if not missing_bins(info):
        return edges_from, info
    builder = ProfileBuilder(edges_from=edges_from, edge_rows=edge_rows, correlation=False)
    builder.start(info)
    builder.update(head)
    return builder.finish(), info


def head_with_wider_types(
    engine: Engine, dataset: Dataset, rows: int, info: TableInfo
) -> tuple[Any, TableInfo]:
    """``Engine.head`` and the info it was read with: widened (as a run widens it) whenever the first rows
    hold values that do not fit the driver's CSV types."""
    from mlops_actions.engines.sources import WiderTypes, with_types

    for _attempt in range(4 * len(info.dtypes) + 2):
        try:
            return engine.head(dataset, rows, info), info
        except Exception as error:
            wider = WiderTypes.of(error)
            if wider is None:
                raise
            info = with_types(info, wider.types)
    raise DataError(f"{dataset.location}: column types keep changing between parts of the data")


def validate_dataset(engine: Engine, dataset: Dataset, schema: Schema) -> FileValidation:
    """The dataset checked against the schema: the same violations and counts as ``validate_file`` on
    the whole table, however the engine splits it."""
    from mlops_actions.domain.data.validate import FileValidation, ValidationJob, validate_file

    path = single_pass_file(engine, dataset)
    if path is not None:
        return validate_file(dataset.location, schema)
    job = ValidationJob(schema, engine.table_info(dataset))
    state = engine.run(dataset, job)
    return FileValidation(
        path=dataset.location, rows=state.rows if state is not None else 0, violations=job.violations(state)
    )


def drift_dataset(
    engine: Engine,
    reference: Dataset | Path,
    current: Dataset | Path,
    *,
    columns: list[str] | None = None,
    exclude: Iterable[str] = (),
    thresholds: Mapping[str, float] | None = None,
    top_correlations: int = 10,
) -> DriftReport:
    """Drift of the current data against the reference: each a dataset, or a profile JSON file (a
    Path). The current data is profiled on the reference's bins; a current profile must have been built on
    them (``data profile --bins-from``)."""
    from mlops_actions.domain.data.drift import compare_profiles, drift_files, resolve_thresholds
    from mlops_actions.domain.data.profile import load_profile

    if isinstance(current, Dataset):
        current_path = single_pass_file(engine, current)
        reference_path = (
            str(reference) if isinstance(reference, Path) else single_pass_file(engine, reference)
        )
        if current_path is not None and reference_path is not None:
            return drift_files(
                reference if isinstance(reference, Path) else reference.location,
                current.location,
                columns=columns,
                exclude=exclude,
                thresholds=thresholds,
                top_correlations=top_correlations,
            )
    t = resolve_thresholds(thresholds)
    excluded = set(exclude)
    reference_name = str(reference) if isinstance(reference, Path) else reference.location
    current_name = str(current) if isinstance(current, Path) else current.location
    current_profile = load_profile(current) if isinstance(current, Path) else None
    if current_profile is not None:
        current_header = list(current_profile.columns)
    else:
        assert isinstance(current, Dataset)
        current_header = list(engine.table_info(current).columns)
    reference_profile = load_profile(reference) if isinstance(reference, Path) else None
    if reference_profile is not None:
        wanted = [c for c in reference_profile.columns if c not in excluded]
    else:
        assert isinstance(reference, Dataset)
        wanted = [c for c in engine.table_info(reference).columns if c not in excluded]
    if columns:
        unknown = [c for c in columns if c not in wanted]
        if unknown:
            raise DataError(f"{reference_name}: no column {', '.join(repr(c) for c in unknown)}")
        wanted = list(columns)
    if reference_profile is None:
        assert isinstance(reference, Dataset)
        reference_profile = profile_dataset(engine, reference, columns=wanted)
    shared = [c for c in wanted if c in current_header]
    if not shared:
        raise DataError(f"{current_name}: has none of the reference's columns")
    if current_profile is None:
        assert isinstance(current, Dataset)
        current_profile = profile_dataset(engine, current, columns=shared, edges_from=reference_profile)
    else:
        current_profile = select_columns(current_profile, shared)
    report = compare_profiles(
        reference_profile, current_profile, thresholds=t, exclude=excluded, top_correlations=top_correlations
    )
    report.new_columns = (
        []
        if columns
        else [c for c in current_header if c not in reference_profile.columns and c not in excluded]
    )
    report.missing_columns = [c for c in wanted if c not in current_header]
    report.reference, report.current = reference_name, current_name
    return report


def select_columns(profile: Profile, names: Sequence[str]) -> Profile:
    """The profile of only these columns (in this order), with their pairs' co-moments."""
    import numpy as np

    from mlops_actions.domain.data.profile import CorrelationProfile, Profile

    correlation = None
    if profile.correlation is not None:
        kept = [c for c in profile.correlation.columns if c in names]
        if kept:
            index = [profile.correlation.columns.index(c) for c in kept]
            grid = np.ix_(index, index)
            c = profile.correlation
            correlation = CorrelationProfile(
                columns=kept, n=c.n[grid], mean=c.mean[grid], m2=c.m2[grid], comoment=c.comoment[grid]
            )
    return Profile(
        rows=profile.rows,
        columns={name: profile.columns[name] for name in names},
        correlation=correlation,
        edge_rows=profile.edge_rows,
        sources=list(profile.sources),
    )


SHARD_KEY = "shard"
DATASET_KEY = "dataset"


def shard_profile_document(profile: Profile, shard: Shard, dataset: Dataset) -> dict[str, Any]:
    """A partial profile's JSON document: the profile, its shard ``I/N`` and the dataset it is a share of."""
    from mlops_actions.domain.data.profile import profile_to_dict

    document = profile_to_dict(profile)
    document[SHARD_KEY] = str(shard)
    document[DATASET_KEY] = dataset.location
    return document


def merge_profile_documents(documents: Sequence[tuple[str, Any]]) -> Profile:
    """Merge profile documents (name, parsed JSON) in order. When they are shards, every shard 1..N of one
    dataset must be there exactly once; a DataError names the shard missing or repeated otherwise."""
    from mlops_actions.domain.data.profile import merge_profiles, profile_from_dict

    if not documents:
        raise DataError("data merge needs at least one profile file")
    check_shards(documents)
    profiles = [profile_from_dict(document, name) for name, document in documents]
    merged = profiles[0]
    for profile in profiles[1:]:
        merged = merge_profiles(merged, profile)
    if any(isinstance(document, dict) and SHARD_KEY in document for _, document in documents):
        merged.sources = list(dict.fromkeys(merged.sources))
    return merged


def check_shards(documents: Sequence[tuple[str, Any]]) -> None:
    """A DataError unless the documents are no shards, or every shard 1..N of one dataset exactly once."""
    from mlops_actions.engines.base import parse_shard
    from mlops_actions.errors import UsageError

    shards: dict[tuple[int, int], str] = {}
    plain: list[str] = []
    datasets: dict[str, str] = {}
    for name, document in documents:
        text = document.get(SHARD_KEY) if isinstance(document, dict) else None
        if text is None:
            plain.append(name)
            continue
        try:
            shard = parse_shard(str(text))
        except UsageError:
            raise DataError(f"{name}: malformed shard {text!r}, expected I/N") from None
        key = (shard.index, shard.count)
        if key in shards:
            raise DataError(f"shard {shard} appears twice: {shards[key]} and {name}")
        shards[key] = name
        datasets.setdefault(str(document.get(DATASET_KEY, "")), name)
    if not shards:
        return
    if plain:
        raise DataError(f"{plain[0]}: not a shard profile, but {next(iter(shards.values()))} is one")
    counts = sorted({count for _, count in shards})
    if len(counts) > 1:
        raise DataError(f"shards of different counts: {', '.join(f'/{count}' for count in counts)}")
    if len(datasets) > 1:
        raise DataError(f"shards of different datasets: {', '.join(sorted(datasets))}")
    count = counts[0]
    missing = [index for index in range(1, count + 1) if (index, count) not in shards]
    if missing:
        listed = ", ".join(f"{index}/{count}" for index in missing)
        raise DataError(f"shard {listed} missing: merge every shard 1..{count} exactly once")
