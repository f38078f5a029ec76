"""pyarrow arrays as scan columns, read from their buffers (pyarrow's own conversions import pandas)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.data.chunks.columns import CategoricalColumn, Column, NumericColumn, OtherColumn

if TYPE_CHECKING:
    import numpy as np


def arrow_logical_dtype(arrow_type: Any) -> str:
    """int / float / bool / string / datetime / null for a pyarrow type."""
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        return "string"
    if pa.types.is_integer(arrow_type):
        return "int"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "float"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_temporal(arrow_type):
        return "datetime"
    if pa.types.is_null(arrow_type):
        return "null"
    return "string"


def _arrow_to_numpy(array: Any, numpy_dtype: Any) -> np.ndarray:
    """The values buffer of a fixed-width pyarrow array as a numpy view (nulls hold arbitrary values).

    Reading buffers directly avoids pyarrow's conversions, which import pandas (slow to start).
    """
    import numpy as np

    width = np.dtype(numpy_dtype).itemsize
    return np.frombuffer(array.buffers()[1], dtype=numpy_dtype, count=len(array), offset=array.offset * width)


def _numpy_dtype(arrow_type: Any) -> Any:
    """The numpy dtype of a fixed-width integer or floating pyarrow type."""
    import numpy as np
    import pyarrow as pa

    if pa.types.is_floating(arrow_type):
        return np.dtype(f"f{arrow_type.bit_width // 8}")
    signed = pa.types.is_signed_integer(arrow_type)
    return np.dtype(f"{'i' if signed else 'u'}{arrow_type.bit_width // 8}")


def _arrow_bits(buffer: Any, offset: int, length: int) -> np.ndarray:
    import numpy as np

    bits = np.unpackbits(np.frombuffer(buffer, dtype=np.uint8), bitorder="little")
    return bits[offset : offset + length].astype(bool)


def _arrow_valid(array: Any) -> np.ndarray | None:
    """Boolean mask of present values, or None when nothing is missing."""
    if array.null_count == 0 or array.buffers()[0] is None:
        return None
    return _arrow_bits(array.buffers()[0], array.offset, len(array))


def arrow_column(array: Any, dtype: str) -> Column:
    """Normalise one pyarrow (chunked) array to the scan's column types."""
    import numpy as np
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    if dtype in ("int", "float"):
        if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
            values = _arrow_to_numpy(array, _numpy_dtype(array.type))
            if values.dtype != np.float64:
                values = values.astype(np.float64)
        else:  # decimals and other numbers
            array = array.cast(pa.float64())
            values = _arrow_to_numpy(array, np.float64)
        valid = _arrow_valid(array)
        if valid is not None:
            values = np.where(valid, values, np.nan)
        return NumericColumn(values, dtype)
    if dtype == "bool":
        valid = _arrow_valid(array)
        codes = _arrow_bits(array.buffers()[1], array.offset, len(array)).astype(np.int64)
        if valid is not None:
            codes[~valid] = -1
        return CategoricalColumn(codes, ["False", "True"], "bool")
    if dtype == "string":
        if pa.types.is_dictionary(array.type):
            dictionary = array.dictionary
            if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
                dictionary = dictionary.cast(pa.string())
            indices = array.indices
        else:
            if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
                array = array.cast(pa.string())
            encoded = array.dictionary_encode()
            dictionary, indices = encoded.dictionary, encoded.indices
        codes = _arrow_to_numpy(indices, _numpy_dtype(indices.type)).astype(np.int64)
        valid = _arrow_valid(indices)
        if valid is not None:
            codes = np.where(valid, codes, -1)
        return CategoricalColumn(codes, dictionary, "string")
    if dtype == "null" or pa.types.is_null(array.type):
        return OtherColumn(np.ones(len(array), dtype=bool), dtype)
    valid = _arrow_valid(array)
    missing = np.zeros(len(array), dtype=bool) if valid is None else ~valid
    stamps: np.ndarray | None = None
    if pa.types.is_temporal(array.type):
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
            nanoseconds = array.cast(pa.timestamp("ns")).cast(pa.int64())
            stamps = _arrow_to_numpy(nanoseconds, np.int64)
    return OtherColumn(missing, dtype, values=stamps)
