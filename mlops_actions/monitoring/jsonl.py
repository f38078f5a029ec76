"""JSON Lines in blocks: whole lines of at most about ``chunk_bytes``, parsed by pyarrow, or line by line
when pyarrow refuses a block (mixed types, a malformed line: then the line is named).

A last line without its newline is left out: the server may be writing it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_actions.errors import DataError

INPUTS, PROBABILITIES = "inputs", "probabilities"
PROBA_PREFIX = "proba_"


@dataclass(frozen=True)
class Block:
    """Whole lines of a file: ``first_line`` is the 1-based number of its first line."""

    first_line: int
    data: bytes


def line_blocks(path: Path, chunk_bytes: int) -> Iterator[Block]:
    """Blocks of whole lines; an unterminated last line is not yielded."""
    line = 1
    carry = b""
    try:
        with open(path, "rb") as handle:
            while True:
                data = handle.read(chunk_bytes)
                if not data:
                    return
                data = carry + data
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                block, carry = data[: cut + 1], data[cut + 1 :]
                yield Block(line, block)
                line += block.count(b"\n")
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error.strerror or error}") from None


PARSE_BLOCK_BYTES = 1 << 20  # pyarrow parses blocks of this size in parallel
ARROW_TYPES = {"int": "float64", "float": "float64", "string": "string", "bool": "bool_"}


def input_schema(features: dict[str, str] | None) -> Any:
    """The expected type of each input (name -> dtype of the reference), so pyarrow need not guess them;
    fields not named are still read (their types inferred)."""
    import pyarrow as pa

    if not features:
        return None
    fields = [pa.field(n, getattr(pa, ARROW_TYPES[d])()) for n, d in features.items() if d in ARROW_TYPES]
    return pa.schema([pa.field(INPUTS, pa.struct(fields))])


def parse_block(path: Path, block: Block, schema: Any = None) -> Any:
    """The block's records as a flat pyarrow table: ``inputs.x`` becomes ``x``, ``probabilities.c``
    becomes ``proba_c``, other fields keep their names. ``schema`` (see input_schema) types the inputs."""
    import pyarrow as pa
    import pyarrow.json as pj

    try:
        table = pj.read_json(
            io.BytesIO(block.data),
            read_options=pj.ReadOptions(block_size=PARSE_BLOCK_BYTES),
            parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return _parse_lines(path, block)
    for field in table.schema:
        if field.name in (INPUTS, PROBABILITIES) and not pa.types.is_struct(field.type):
            return _parse_lines(path, block)
    return _flat(table)


def _flat(table: Any) -> Any:
    import pyarrow as pa

    columns, names = [], []
    for name in table.column_names:
        column = table.column(name)
        if name in (INPUTS, PROBABILITIES) and pa.types.is_struct(column.type):
            prefix = "" if name == INPUTS else PROBA_PREFIX
            combined = column.combine_chunks()
            for index in range(combined.type.num_fields):
                names.append(prefix + combined.type.field(index).name)
                columns.append(combined.field(index))
        else:
            names.append(name)
            columns.append(column)
    return pa.table(columns, names=names)


def _parse_lines(path: Path, block: Block) -> Any:
    """Line by line with the json module: the slow path that names a malformed line."""
    import pyarrow as pa

    records: list[dict[str, Any]] = []
    for offset, raw in enumerate(block.data.split(b"\n")):
        if not raw.strip():
            continue
        line = block.first_line + offset
        try:
            record = json.loads(raw)
        except ValueError as error:
            raise DataError(f"{path}:{line}: not valid JSON: {error}") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}:{line}: expected a JSON object per line, got {type(record).__name__}")
        flat: dict[str, Any] = {}
        for key, value in record.items():
            if key in (INPUTS, PROBABILITIES) and isinstance(value, dict):
                prefix = "" if key == INPUTS else PROBA_PREFIX
                flat.update((prefix + str(k), v) for k, v in value.items())
            elif key in (INPUTS, PROBABILITIES) and value is not None:
                raise DataError(f"{path}:{line}: '{key}' must be an object, got {type(value).__name__}")
            else:
                flat[key] = value
        records.append(flat)
    names = list(dict.fromkeys(name for record in records for name in record))
    arrays = [_array([record.get(name) for record in records]) for name in names]
    return pa.table(arrays, names=names) if names else pa.table({})


def _array(values: list[Any]) -> Any:
    """A pyarrow array of the values; mixed types become text (numbers kept readable as numbers)."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in values])
