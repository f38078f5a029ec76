"""Where a dataset's rows are, and reading them the same way on any machine.

``resolve_dataset`` turns what the user gave (a file, a folder of data files, Hive-partitioned folders
``key=value/``, a Delta table, a glob, a URI) into a ``Dataset`` with its files in read order (sorted by
path; Delta: the current version's files). ``dataset_table_info`` fixes the dtypes on the driver (Parquet
and Delta from the schema, CSV from the first block as the local scan does) and ``dataset_head`` reads the
first rows in read order (numeric bins come from them). ``dataset_units`` cuts the files into read units
(Parquet row groups, CSV and JSON Lines byte ranges ending at line ends); ``shard_units`` keeps a
contiguous share of them. ``csv_text_table`` parses whole CSV lines with the fixed types and raises
``WiderTypes`` when a value does not fit, so that the run restarts with the wider types, as the local
scan does. ``table_chunk`` turns an Arrow table into the Chunk a job consumes.

Remote files are read through fsspec (``s3fs``, ``gcsfs``, ``adlfs`` for their schemes); Delta tables
through ``deltalake``. Hive folder names are string columns, last in the column list, in folder order
(Delta partition columns take the table's types).
"""

from __future__ import annotations

import copy
import dataclasses
import glob
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

from mlops_actions.domain.data.chunks import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_CHUNK_ROWS,
    Chunk,
    TableInfo,
    arrow_column,
)
from mlops_actions.engines.base import Batch, Dataset, Shard
from mlops_actions.errors import DataError

S = TypeVar("S")

ROW_SUFFIXES = {".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet", ".pq": "parquet"}
LOG_SUFFIXES = {**ROW_SUFFIXES, ".jsonl": "jsonl", ".ndjson": "jsonl"}
URI_SCHEMES = ("s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "hdfs", "file", "memory")
FILESYSTEM_PACKAGES = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
    "az": "adlfs",
    "hdfs": "pyarrow (with libhdfs)",
}
WIDER_TYPES_MARKER = "mlops-wider-types:"
UNIT_BYTES = DEFAULT_CHUNK_BYTES
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
LOGICAL_ARROW_TYPES = {
    "int": "int64",
    "float": "double",
    "bool": "bool",
    "string": "string",
    "datetime": "timestamp[ns]",
    "null": "null",
}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


# ---------------------------------------------------------------------------------------------- the dtypes


@dataclass
class DatasetInfo(TableInfo):
    """A TableInfo that also holds the Arrow ``types`` (as text, e.g. ``int64``) fixed on the driver for the
    selected columns: CSV blocks are parsed with them, partition values cast to them."""

    types: dict[str, str] = field(default_factory=dict)


class WiderTypes(Exception):
    """A CSV block holds values that do not fit the fixed types: ``types`` are the wider Arrow types of every
    selected column (as text). The run restarts with them. Its str carries them after
    ``WIDER_TYPES_MARKER`` as JSON, so the exception survives engines that pass only a worker's message."""

    def __init__(self, types: dict[str, Any]):
        self.types = {name: str(value) for name, value in types.items()}
        super().__init__(WIDER_TYPES_MARKER + json.dumps(self.types, sort_keys=True))

    def __reduce__(self) -> tuple[Any, ...]:
        return (WiderTypes, (self.types,))

    @classmethod
    def from_text(cls, text: str) -> WiderTypes | None:
        """The WiderTypes whose str is inside ``text`` (a worker's error message), or None."""
        at = text.find(WIDER_TYPES_MARKER)
        if at < 0:
            return None
        try:
            types, _ = json.JSONDecoder().raw_decode(text[at + len(WIDER_TYPES_MARKER) :])
        except ValueError:
            return None
        if not isinstance(types, dict) or not all(isinstance(v, str) for v in types.values()):
            return None
        return cls(types)

    @classmethod
    def of(cls, error: BaseException) -> WiderTypes | None:
        """The WiderTypes an error is, or names in its message (Spark and Dask wrap workers' errors)."""
        if isinstance(error, WiderTypes):
            return error
        return cls.from_text(str(error))


def arrow_type(text: Any) -> Any:
    """The pyarrow type a text names (``int64``, ``timestamp[s, tz=UTC]``...); a pyarrow type is kept."""
    import pyarrow as pa

    if isinstance(text, pa.DataType):
        return text
    zoned = re.fullmatch(r"timestamp\[(\w+), tz=(.+)\]", text)
    if zoned:
        return pa.timestamp(zoned.group(1), tz=zoned.group(2))
    return pa.type_for_alias(text)


def info_types(info: TableInfo) -> dict[str, str]:
    """The Arrow types (as text) of the info's selected columns: its own when it is a DatasetInfo, else the
    ones its logical dtypes stand for."""
    types = info.types if isinstance(info, DatasetInfo) else {}
    return {
        name: types.get(name) or LOGICAL_ARROW_TYPES.get(dtype, "string")
        for name, dtype in info.dtypes.items()
    }


def with_types(info: TableInfo, types: dict[str, Any]) -> DatasetInfo:
    """A copy of the info with wider Arrow types (and the logical dtypes they give)."""
    from mlops_actions.domain.data.chunks import arrow_logical_dtype

    merged = info_types(info)
    merged.update({name: str(value) for name, value in types.items() if name in info.dtypes})
    return DatasetInfo(
        path=info.path,
        format=info.format,
        columns=list(info.columns),
        dtypes={name: arrow_logical_dtype(arrow_type(merged[name])) for name in info.dtypes},
        rows=info.rows,
        types=merged,
    )


def job_with_info(job: S, info: TableInfo) -> S:
    """The same job reading with another info (its ``info`` field replaced)."""
    if (
        dataclasses.is_dataclass(job)
        and not isinstance(job, type)
        and "info" in {f.name for f in dataclasses.fields(job)}
    ):
        return dataclasses.replace(job, info=info)
    other = copy.copy(job)
    other.info = info  # type: ignore[attr-defined]
    return other


def run_with_wider_types(job: Any, run_once: Callable[[Any], S]) -> S:
    """``run_once(job)``, run again with the job's info widened whenever a block raises WiderTypes (however an
    engine wrapped it), at most 4 * columns + 2 times, as the local scan restarts."""
    info = job.info
    for _attempt in range(4 * len(info.dtypes) + 2):
        try:
            return run_once(job)
        except Exception as error:
            wider = WiderTypes.of(error)
            if wider is None:
                raise
            widened = with_types(job.info, wider.types)
            if info_types(widened) == info_types(job.info):
                raise DataError(f"{info.path}: column types do not fit and cannot be widened") from None
            job = job_with_info(job, widened)
    raise DataError(f"{info.path}: column types keep changing between parts of the data")


# ------------------------------------------------------------------------------------------ the datasets


def uri_scheme(location: str) -> str:
    """The URI scheme of a location (``s3``...), "" for a local path."""
    match = _SCHEME.match(location)
    return match.group(1).lower() if match else ""


def file_format(name: str, kind: str = "rows") -> str | None:
    """csv / parquet / jsonl from a file name (jsonl only for logs), None for anything else."""
    lower = name.lower()
    for suffix, fmt in (LOG_SUFFIXES if kind == "logs" else ROW_SUFFIXES).items():
        if lower.endswith(suffix):
            return fmt
    return None


def _expected(kind: str) -> str:
    return ", ".join(
        sorted({s for s in (LOG_SUFFIXES if kind == "logs" else ROW_SUFFIXES) if s != ".csv.gz"})
    )


def _is_glob(text: str) -> bool:
    return any(char in text for char in "*?[")


def _glob_root(pattern: str) -> str:
    """The folder before a glob's first wildcard."""
    parts = pattern.split("/")
    fixed = []
    for part in parts:
        if _is_glob(part):
            break
        fixed.append(part)
    return "/".join(fixed)


def filesystem(location: str) -> tuple[Any, str]:
    """The fsspec filesystem of a URI and the path in it; a DataError naming the package to install when the
    scheme's filesystem is missing."""
    scheme = uri_scheme(location)
    try:
        import fsspec
    except ImportError:
        raise DataError(f"{location}: reading {scheme}:// paths needs fsspec: pip install fsspec") from None
    try:
        return fsspec.core.url_to_fs(location)
    except ImportError:
        package = FILESYSTEM_PACKAGES.get(scheme, f"the fsspec filesystem for {scheme}://")
        raise DataError(
            f"{location}: reading {scheme}:// paths needs {package}: pip install {package.split()[0]}"
        ) from None
    except Exception as error:  # a filesystem that cannot start (no libhdfs, bad options)
        raise DataError(f"{location}: cannot open the {scheme}:// filesystem: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _filesystem_or_none(location: str) -> tuple[Any, str] | None:
    try:
        return filesystem(location)
    except DataError:
        return None


def _local_path(location: str) -> str:
    """A ``file://`` URI's local path (other locations unchanged)."""
    if uri_scheme(location) == "file":
        return unquote(location[len("file://") :]) or "/"
    return location


def _hidden(relative: str) -> bool:
    """Spark's and Hive's rule: names starting with ``_`` or ``.`` (``_SUCCESS``, ``_delta_log``) are not data."""
    return any(part.startswith(("_", ".")) for part in relative.split("/") if part)


def resolve_dataset(location: str, *, kind: str = "rows") -> Dataset:
    """The dataset a location names (see the module docstring); a DataError naming the location when there is
    no data there. URIs whose filesystem package is missing keep no files (the engine lists them)."""
    scheme = uri_scheme(location)
    if scheme and scheme not in URI_SCHEMES:
        raise DataError(
            f"{location}: unsupported URI scheme {scheme}://, expected one of {', '.join(URI_SCHEMES)}"
        )
    if scheme in ("", "file"):
        return _resolve_local(location, _local_path(location), scheme, kind)
    found = _filesystem_or_none(location)
    if found is None:
        guessed = file_format(location.rstrip("/"), kind) or "parquet"
        return Dataset(location=location, format=guessed, scheme=scheme)
    fs, path = found
    try:
        return _resolve_remote(location, fs, path, scheme, kind)
    except (DataError, ImportError):
        raise
    except Exception as error:  # credentials, network, permissions
        raise DataError(f"{location}: cannot list the files: {_first_line(error)}") from None


def _resolve_remote(location: str, fs: Any, path: str, scheme: str, kind: str) -> Dataset:
    if _is_glob(path):
        files = sorted(fs.unstrip_protocol(p) for p in fs.glob(path) if fs.isfile(p))
        return _dataset_of_files(location, files, fs.unstrip_protocol(_glob_root(path)), scheme, kind)
    if fs.isdir(path):
        if fs.isdir(path.rstrip("/") + "/_delta_log"):
            return _delta_dataset(location, scheme)
        root = path.rstrip("/")
        files = sorted(fs.unstrip_protocol(p) for p in fs.find(path) if not _hidden(p[len(root) :]))
        return _dataset_of_files(location, files, fs.unstrip_protocol(root), scheme, kind, folder=True)
    if fs.isfile(path):
        return _dataset_of_files(location, [fs.unstrip_protocol(path)], "", scheme, kind)
    raise DataError(f"{location}: no such data file or folder")


def _resolve_local(location: str, path_text: str, scheme: str, kind: str) -> Dataset:
    if _is_glob(path_text):
        files = [p for p in sorted(glob.glob(path_text, recursive=True)) if os.path.isfile(p)]
        return _dataset_of_files(location, files, _glob_root(path_text), scheme, kind)
    path = Path(path_text)
    if path.is_dir():
        if (path / "_delta_log").is_dir():
            return _delta_dataset(location, scheme)
        files = sorted(
            str(p) for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path).as_posix())
        )
        return _dataset_of_files(location, files, str(path), scheme, kind, folder=True)
    if kind == "rows":
        from mlops_actions.domain.data.io import require_data_file, table_format

        single = require_data_file(path)
        return Dataset(location=location, format=table_format(single), scheme=scheme, files=(str(single),))
    if not path.is_file():
        raise DataError(f"{location}: no such data file or folder")
    return _dataset_of_files(location, [str(path)], "", scheme, kind)


def _dataset_of_files(
    location: str, files: list[str], root: str, scheme: str, kind: str, *, folder: bool = False
) -> Dataset:
    """The dataset of listed files: one format, Hive columns when every file sits under ``key=value`` folders."""
    formats = {}
    for name in files:
        fmt = file_format(name, kind)
        if fmt is None and not folder:
            raise DataError(f"{name}: unsupported data format, expected {_expected(kind)}")
        if fmt is not None:
            formats[name] = fmt
    data = [name for name in files if name in formats]
    if not data:
        raise DataError(f"{location}: no data files ({_expected(kind)})")
    kinds = sorted(set(formats.values()))
    if len(kinds) > 1:
        raise DataError(f"{location}: mixes {' and '.join(kinds)} files, expected one format")
    hive = bool(root) and kind == "rows" and bool(_hive_keys(root, data, location))
    return Dataset(location=location, format=kinds[0], scheme=scheme, hive=hive, files=tuple(data))


def _relative_folders(root: str, file: str) -> list[str]:
    relative = file[len(root) :] if root and file.startswith(root) else file
    return [part for part in relative.split("/")[:-1] if part]


def _hive_keys(root: str, files: Sequence[str], location: str) -> list[str]:
    """The ``key`` of every ``key=value`` folder between the root and the files, in folder order; [] when the
    files are not all under such folders; a DataError when files disagree about the keys."""
    keys: list[str] | None = None
    for file in files:
        folders = _relative_folders(root, file)
        if not folders or not all("=" in part for part in folders):
            return []
        these = [part.split("=", 1)[0] for part in folders]
        if keys is None:
            keys = these
        elif these != keys:
            raise DataError(
                f"{location}: partition folders disagree: {'/'.join(keys)} and {'/'.join(these)} ({file})"
            )
    return keys or []


def partition_root(dataset: Dataset) -> str:
    """The folder the partition folders of a dataset's files are relative to."""
    if dataset.scheme not in ("", "file"):
        fs, path = filesystem(dataset.location)
        return str(fs.unstrip_protocol(_glob_root(path) if _is_glob(path) else path.rstrip("/")))
    location = _local_path(dataset.location)
    if _is_glob(location):
        return _glob_root(location)
    if dataset.format == "delta":
        return os.path.realpath(location)  # as deltalake names its files
    return str(Path(location))


def partition_keys(dataset: Dataset) -> list[str]:
    """The partition columns of a dataset (Hive folder keys), in folder order."""
    if not dataset.hive:
        return []
    if dataset.format == "delta":
        return list(_delta_table(dataset.location).metadata().partition_columns)
    if not dataset.files:
        return []
    return _hive_keys(partition_root(dataset), dataset.files[:1], dataset.location)


def partition_values(dataset: Dataset, file: str) -> dict[str, str | None]:
    """The partition values of one file of a Hive or Delta dataset: its last ``key=value`` folders (below
    the dataset's folder), unescaped."""
    if not dataset.hive:
        return {}
    folders = _relative_folders(partition_root(dataset), file)
    first = len(folders)
    while first > 0 and "=" in folders[first - 1]:
        first -= 1
    values: dict[str, str | None] = {}
    for part in folders[first:]:
        key, _, value = part.partition("=")
        text = unquote(value)
        values[key] = None if text == HIVE_NULL else text
    return values


def _delta_dataset(location: str, scheme: str) -> Dataset:
    """A Delta table's current files (sorted), read as Parquet; its partition columns are Hive columns."""
    table = _delta_table(location)
    files = sorted(_local_path(uri) if scheme in ("", "file") else uri for uri in table.file_uris())
    partitioned = bool(table.metadata().partition_columns)
    return Dataset(location=location, format="delta", scheme=scheme, hive=partitioned, files=tuple(files))


def _delta_table(location: str) -> Any:
    try:
        import deltalake
    except ImportError:
        raise DataError(
            f"{location}: a Delta table; reading it needs deltalake: pip install 'mlops-actions[delta]'"
        ) from None
    try:
        return deltalake.DeltaTable(_local_path(location) if uri_scheme(location) == "file" else location)
    except Exception as error:
        raise DataError(f"{location}: cannot read the Delta table: {str(error).splitlines()[0]}") from None


def dataset_files(dataset: Dataset) -> list[str]:
    """The dataset's files in read order: its own list, else listed now (a DataError naming the package to
    install when the URI's filesystem is missing)."""
    if dataset.files:
        return list(dataset.files)
    if dataset.scheme not in ("", "file"):
        filesystem(dataset.location)  # names the missing package
    listed = resolve_dataset(dataset.location, kind="logs" if dataset.format == "jsonl" else "rows")
    return list(listed.files)


# ------------------------------------------------------------------------------------------------ reading


def open_binary(file: str) -> Any:
    """A binary file object of a local path or a URI (through fsspec)."""
    if uri_scheme(file) in ("", "file"):
        return open(_local_path(file), "rb")
    fs, path = filesystem(file)
    return fs.open(path, "rb")


def _file_size(file: str) -> int:
    if uri_scheme(file) in ("", "file"):
        return os.path.getsize(_local_path(file))
    fs, path = filesystem(file)
    return int(fs.size(path))


def _gzipped(file: str) -> bool:
    return file.lower().endswith(".gz")


def _open_text_source(file: str) -> Any:
    """A binary file object of a text file's bytes (decompressed when gzip; closing it closes the file)."""
    if not _gzipped(file):
        return open_binary(file)
    import gzip

    if uri_scheme(file) in ("", "file"):
        return gzip.open(_local_path(file), "rb")
    fs, path = filesystem(file)
    return fs.open(path, "rb", compression="gzip")


def header_line(file: str) -> bytes:
    """The header line of a CSV file (ending with a line break); a DataError when the file is empty."""
    from mlops_actions.domain.data.chunks.csv_ranges import header_of

    with _open_text_source(file) as handle:
        return header_of(handle, file)


def header_names(header: bytes) -> list[str]:
    """The column names of a CSV header line."""
    import csv

    return next(csv.reader([header.decode("utf-8-sig", errors="replace").rstrip("\r\n")]), [])


def _text_blocks(file: str, fmt: str, chunk_bytes: int) -> Iterator[bytes]:
    """Blocks of whole lines (about chunk_bytes each) of a CSV (after its header) or JSON Lines file."""
    from mlops_actions.domain.data.chunks.csv_ranges import line_blocks

    with _open_text_source(file) as handle:
        if fmt == "csv":
            handle.readline()
        yield from line_blocks(handle, chunk_bytes)


def _first_csv_block(file: str, chunk_bytes: int) -> Any:
    """The first block of a CSV file exactly as the local scan cuts it (memory-mapped for local files)."""
    if uri_scheme(file) in ("", "file"):
        from mlops_actions.domain.data.chunks.csv_ranges import csv_byte_ranges

        for body in csv_byte_ranges(Path(_local_path(file)), chunk_bytes):
            yield bytes(body)
        return
    yield from _text_blocks(file, "csv", chunk_bytes)


def _empty_table(names: Sequence[str], types: dict[str, Any]) -> Any:
    import pyarrow as pa

    return pa.table({name: pa.array([], type=arrow_type(types.get(name, "null"))) for name in names})


def csv_text_table(text: bytes, header: bytes, info_types: dict[str, Any], *, origin: str = "csv") -> Any:
    """Whole CSV lines (without the header line) as an Arrow table of the columns of ``info_types`` that the
    header names, parsed with those fixed types (a ``null`` type is inferred); WiderTypes when a value does
    not fit (or a null column gains values), a DataError naming ``origin`` when the text is not CSV."""
    import pyarrow as pa

    from mlops_actions.domain.data.chunks.csv_scan import common_type, read_csv_range

    names = header_names(header)
    selected = [name for name in info_types if name in names]
    types = {name: arrow_type(info_types[name]) for name in selected}
    if not len(text):
        return _empty_table(selected, types)
    try:
        table = read_csv_range(text, names, selected, types)
    except pa.ArrowInvalid as error:
        message = str(error).splitlines()[0]
        if "Empty CSV file" in message:
            return _empty_table(selected, types)
        if "conversion error" not in message:
            raise DataError(f"{origin}: cannot read csv: {message}") from None
        try:
            loose = read_csv_range(text, names, selected, {})
        except Exception:
            raise DataError(f"{origin}: cannot read csv: {message}") from None
        widened = {name: arrow_type(info_types[name]) for name in info_types}
        for name in selected:
            widened[name] = common_type(types[name], loose.schema.field(name).type)
        if all(widened[name].equals(types[name]) for name in selected):
            raise DataError(f"{origin}: cannot read csv: {message}") from None
        raise WiderTypes(widened) from None
    except Exception as error:
        raise DataError(f"{origin}: cannot read csv: {str(error).splitlines()[0]}") from None
    gained = {
        name: table.schema.field(name).type
        for name in selected
        if pa.types.is_null(types[name]) and not pa.types.is_null(table.schema.field(name).type)
    }
    if gained:
        widened = {name: arrow_type(info_types[name]) for name in info_types}
        widened.update(gained)
        raise WiderTypes(widened)
    return table


def with_partitions(table: Any, dataset: Dataset, file: str, types: dict[str, Any]) -> Any:
    """The table with the file's partition columns appended (constant; cast to ``types``, default string)."""

    values = partition_values(dataset, file)
    for key, value in values.items():
        if key not in types:
            continue
        if key in table.column_names:  # the folder's value, not the file's
            table = table.drop_columns([key])
        kind = arrow_type(types.get(key) or "string")
        table = table.append_column(
            key, _constant_column(value, kind, table.num_rows, f"{file}: partition {key}")
        )
    return table


def _constant_column(value: str | None, kind: Any, rows: int, where: str) -> Any:
    """``rows`` times the value, of the type ``kind``."""
    import pyarrow as pa

    if value is None:
        return pa.nulls(rows, kind)
    try:
        scalar = pa.scalar(value, type=pa.string()).cast(kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise DataError(f"{where}={value} is not {kind}") from None
    return pa.repeat(scalar, rows)


def table_chunk(table: Any, info: TableInfo, start: int = 0) -> Chunk:
    """An Arrow table's columns of ``info.dtypes`` as a Chunk (the dtypes fixed on the driver, so every
    partition is normalised alike; a column the table lacks is all missing)."""
    import pyarrow as pa

    columns = {}
    for name, dtype in info.dtypes.items():
        if name in table.column_names:
            columns[name] = arrow_column(table.column(name), dtype)
        else:
            columns[name] = arrow_column(pa.nulls(table.num_rows), "null")
    return Chunk(start=start, rows=table.num_rows, columns=columns)


# ------------------------------------------------------------------------------------- info and head


def parquet_file(file: str) -> Any:
    """A pyarrow ParquetFile of a local path or a URI; a DataError naming the file when it is unreadable."""
    import pyarrow.parquet as pq

    try:
        if uri_scheme(file) in ("", "file"):
            return pq.ParquetFile(_local_path(file))  # pyarrow's own reader: no Python file object
        return pq.ParquetFile(open_binary(file))
    except DataError:
        raise
    except Exception as error:
        raise DataError(f"{file}: cannot read parquet: {str(error).splitlines()[0]}") from None


def _parquet_schema(dataset: Dataset, files: list[str]) -> Any:
    import pyarrow as pa

    if files:
        return parquet_file(files[0]).schema_arrow
    if dataset.format == "delta":
        return pa.schema(_delta_table(dataset.location).schema().to_arrow())
    raise DataError(f"{dataset.location}: no data files")


def _delta_partition_types(dataset: Dataset) -> dict[str, str]:
    if dataset.format != "delta" or not dataset.hive:
        return {}
    import pyarrow as pa

    table = _delta_table(dataset.location)
    schema = pa.schema(table.schema().to_arrow())
    return {name: str(schema.field(name).type) for name in table.metadata().partition_columns}


def partition_types(dataset: Dataset) -> dict[str, str]:
    """The Arrow types (as text) of a dataset's partition columns: strings, a Delta table's own types."""
    delta = _delta_partition_types(dataset)
    return {key: delta.get(key, "string") for key in partition_keys(dataset)}


def dataset_table_info(
    dataset: Dataset, columns: Sequence[str] | None = None, *, block_bytes: int = DEFAULT_CHUNK_BYTES
) -> DatasetInfo:
    """The dataset's columns and the selected ones' dtypes, fixed on the driver: Parquet and Delta from the
    first file's schema, CSV from its first block of ``block_bytes`` as the local scan does; partition
    columns last (strings, Delta's in the table's types). A DataError names the dataset when it is
    unreadable or lacks a column."""
    from collections import Counter

    import pyarrow as pa

    from mlops_actions.domain.data.chunks import arrow_logical_dtype

    files = dataset_files(dataset)
    if dataset.format in ("parquet", "delta"):
        schema = _parquet_schema(dataset, files)
        names = [name for name in schema.names if not name.startswith("__index_level_")]
        types: dict[str, Any] = {name: schema.field(name).type for name in names}
    elif dataset.format == "csv":
        if not files:
            raise DataError(f"{dataset.location}: no data files")
        names = header_names(header_line(files[0]))
        types = {name: pa.null() for name in names}
        first = _first_csv_types(files, names, block_bytes)
        types.update(first)
    else:
        raise DataError(f"{dataset.location}: {dataset.format} files hold prediction logs, not a table")
    keys = partition_keys(dataset)
    partition_types = _delta_partition_types(dataset)
    names = [name for name in names if name not in keys]
    for key in keys:
        names.append(key)
        types[key] = pa.string() if key not in partition_types else arrow_type(partition_types[key])
    duplicated = sorted(name for name, seen in Counter(names).items() if seen > 1)
    if duplicated:
        raise DataError(f"{dataset.location}: duplicate column names {', '.join(duplicated)}")
    if columns is not None:
        missing = [name for name in columns if name not in names]
        if missing:
            raise DataError(f"{dataset.location}: no column {', '.join(repr(m) for m in missing)}")
        selected = list(columns)
    else:
        selected = list(names)
    return DatasetInfo(
        path=_info_path(dataset),
        format="parquet" if dataset.format == "delta" else dataset.format,
        columns=names,
        dtypes={name: arrow_logical_dtype(types[name]) for name in selected},
        types={name: str(types[name]) for name in selected},
    )


def _info_path(dataset: Dataset) -> str:
    """What profiles record as their source: the file as the local scan names it, else the location."""
    if dataset.scheme == "" and len(dataset.files) == 1 and dataset.files[0] == str(Path(dataset.location)):
        return dataset.files[0]
    return dataset.location


def _first_csv_types(files: list[str], names: list[str], block_bytes: int) -> dict[str, Any]:
    """The types pyarrow infers from the first non-empty block (the local scan's first range)."""
    import pyarrow as pa

    from mlops_actions.domain.data.chunks.csv_scan import read_csv_range

    for file in files:
        these = header_names(header_line(file))
        for body in _first_csv_block(file, block_bytes):
            try:
                table = read_csv_range(body, these, [n for n in names if n in these], {})
            except pa.ArrowInvalid as error:
                if "Empty CSV file" in str(error):
                    continue
                raise DataError(f"{file}: cannot read csv: {str(error).splitlines()[0]}") from None
            return {name: table.schema.field(name).type for name in table.column_names}
    return {}


def dataset_head(dataset: Dataset, rows: int, info: TableInfo) -> Chunk:
    """The dataset's first ``rows`` rows in read order (files sorted by path, each in file order) as one Chunk
    with ``info``'s dtypes."""
    import pyarrow as pa

    types = info_types(info)
    parts = []
    seen = 0
    for file in dataset_files(dataset):
        for table in _file_tables(dataset, file, info, types):
            parts.append(table.slice(0, rows - seen))
            seen += parts[-1].num_rows
            if seen >= rows:
                break
        if seen >= rows:
            break
    if not parts:
        return table_chunk(_empty_table([], {}), info)
    head = pa.concat_tables(parts, promote_options="permissive")
    return table_chunk(head, info)


def _file_tables(dataset: Dataset, file: str, info: TableInfo, types: dict[str, str]) -> Iterator[Any]:
    """A file's rows in file order as Arrow tables of the selected columns (partition columns appended)."""
    import pyarrow as pa

    selected = list(info.dtypes)
    if dataset.format in ("parquet", "delta"):
        parquet = parquet_file(file)
        present = [name for name in selected if name in parquet.schema_arrow.names]
        if not present:  # only partition columns: the rows still count
            for group in range(parquet.metadata.num_row_groups):
                yield with_partitions(parquet.read_row_group(group, columns=[]), dataset, file, types)
            return
        for batch in parquet.iter_batches(batch_size=1 << 16, columns=present):
            yield with_partitions(pa.Table.from_batches([batch]), dataset, file, types)
    else:
        header = header_line(file)
        for body in _text_blocks(file, "csv", DEFAULT_CHUNK_BYTES):
            yield with_partitions(csv_text_table(body, header, types, origin=file), dataset, file, types)


# ---------------------------------------------------------------------------------------------- units


@dataclass(frozen=True)
class Unit:
    """One read unit of a dataset: a Parquet row group (``row_group``, its ``rows``, ``first_row`` in the
    file, 0-based), or the whole lines of a CSV or JSON Lines file between the bytes ``start`` and ``end``
    (``end`` None: to the end of the file; a gzip file is one unit), ``first_line`` the 1-based line number
    of its first line when known (the file's first unit)."""

    file: str
    format: str
    row_group: int | None = None
    rows: int | None = None
    first_row: int = 0
    start: int = 0
    end: int | None = None
    first_line: int | None = None


def dataset_units(dataset: Dataset, *, unit_bytes: int = UNIT_BYTES) -> list[Unit]:
    """The dataset's read units in read order (see Unit)."""
    units: list[Unit] = []
    for file in dataset_files(dataset):
        if dataset.format in ("parquet", "delta"):
            metadata = parquet_file(file).metadata
            first = 0
            for group in range(metadata.num_row_groups):
                rows = metadata.row_group(group).num_rows
                units.append(Unit(file, "parquet", row_group=group, rows=rows, first_row=first))
                first += rows
        else:
            units.extend(_text_units(file, dataset.format, unit_bytes))
    return units


def _text_units(file: str, fmt: str, unit_bytes: int) -> list[Unit]:
    """Byte ranges of about unit_bytes, each ending at a line end (gzip files: one unit)."""
    first_line = 2 if fmt == "csv" else 1
    if _gzipped(file):
        return [Unit(file, fmt, first_line=first_line)]
    size = _file_size(file)
    with open_binary(file) as handle:
        start = len(handle.readline()) if fmt == "csv" else 0
        units: list[Unit] = []
        while start < size:
            end = _line_end_after(handle, start + max(1, unit_bytes) - 1, size)
            units.append(Unit(file, fmt, start=start, end=end, first_line=first_line if not units else None))
            start = end
    return units


def _line_end_after(handle: Any, position: int, size: int) -> int:
    """The byte after the first line break at or after ``position`` (the size when there is none)."""
    if position >= size:
        return size
    handle.seek(position)
    while True:
        data = handle.read(1 << 16)
        if not data:
            return size
        cut = data.find(b"\n")
        if cut >= 0:
            return position + cut + 1
        position += len(data)


def shard_units(units: Sequence[Unit], shard: Shard | None) -> list[Unit]:
    """Shard I/N's contiguous share of the units (the N shards together hold every unit once)."""
    if shard is None:
        return list(units)
    count = len(units)
    return list(units[(shard.index - 1) * count // shard.count : shard.index * count // shard.count])


def unit_text(unit: Unit) -> bytes:
    """A CSV or JSON Lines unit's whole lines (a gzip file's all at once: see unit_text_blocks)."""
    return b"".join(unit_text_blocks(unit))


def unit_text_blocks(unit: Unit, block_bytes: int = UNIT_BYTES) -> Iterator[bytes]:
    """A CSV or JSON Lines unit's whole lines, in blocks: the byte range at once, a gzip file's blocks of
    about ``block_bytes``."""
    if unit.end is None:
        yield from _text_blocks(unit.file, unit.format, block_bytes)
        return
    with open_binary(unit.file) as handle:
        handle.seek(unit.start)
        yield bytes(handle.read(unit.end - unit.start))


def unit_table(dataset: Dataset, unit: Unit, info: TableInfo, *, header: bytes | None = None) -> Any:
    """A unit's rows as an Arrow table of the info's selected columns (CSV parsed with the info's types,
    WiderTypes when they do not fit; partition columns appended)."""
    types = info_types(info)
    if unit.format == "parquet":
        parquet = parquet_file(unit.file)
        present = [name for name in info.dtypes if name in parquet.schema_arrow.names]
        table = parquet.read_row_group(unit.row_group, columns=present)
    else:
        head = header if header is not None else header_line(unit.file)
        table = csv_text_table(unit_text(unit), head, types, origin=unit.file)
    return with_partitions(table, dataset, unit.file, types)


def unit_batch(
    unit: Unit,
    *,
    header: bytes | None = None,
    dataset: Dataset | None = None,
    types: dict[str, str] | None = None,
) -> Batch:
    """A unit as a Batch for "logs" jobs: an Arrow table (Parquet; with the partition columns of ``dataset``
    when given, in ``types`` or else ``partition_types(dataset)``) or whole lines of text (CSV, JSON Lines)."""
    if unit.format == "parquet":
        table = parquet_file(unit.file).read_row_group(unit.row_group)
        if dataset is not None and dataset.hive:
            table = with_partitions(table, dataset, unit.file, types or partition_types(dataset))
        return Batch(origin=unit.file, format="parquet", table=table, first_line=unit.first_row + 1)
    head = header if header is not None else (header_line(unit.file) if unit.format == "csv" else None)
    return Batch(
        origin=unit.file, format=unit.format, text=unit_text(unit), header=head, first_line=unit.first_line
    )


def table_slices(table: Any, rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[Any]:
    """The table cut into slices of at most ``rows`` rows (no copy)."""
    step = max(1, rows)
    for offset in range(0, table.num_rows, step):
        yield table.slice(offset, step)
