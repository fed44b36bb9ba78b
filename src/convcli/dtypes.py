"""The dtype rule, in one place: what a result is computed in, and which results keep the input's
dtype (README, Values, dtypes and --scale)."""

from __future__ import annotations

from typing import Any

import numpy as np


def work_dtype(dtype: Any) -> np.dtype:
    """The floating-point type a result of an image of ``dtype`` is computed and returned in.

    NumPy's promotion of ``dtype`` with float32, as PyTorch computes: images of 16 bits or less
    (uint8, uint16, int8, int16, bool, float16) and float32 give float32, which holds their sums
    exactly for small integer kernels and to about 1e-7 relative otherwise; float64 and wide
    integers give float64.

    Examples
    --------
    >>> work_dtype(np.uint8), work_dtype(np.float32), work_dtype(np.int64), work_dtype(np.float64)
    (dtype('float32'), dtype('float32'), dtype('float64'), dtype('float64'))
    """
    return np.result_type(np.dtype(dtype), np.float32)


def pool_dtype(dtype: Any, op: str) -> np.dtype:
    """The dtype pooling by ``op`` gives an image of ``dtype``: max/min keep integer (and bool)
    dtypes exactly; everything else is :func:`work_dtype`.

    >>> [str(pool_dtype(np.dtype(t), "avg")) for t in ("uint8", "int16", "float32", "int32", "float64")]
    ['float32', 'float32', 'float32', 'float64', 'float64']
    >>> pool_dtype(np.dtype(np.uint8), "max")
    dtype('uint8')
    """
    dtype = np.dtype(dtype)
    if op in ("max", "min") and (np.issubdtype(dtype, np.integer) or dtype == bool):
        return dtype
    return work_dtype(dtype)


def start_dtype(input_dtype: Any, *, output_dtype: str | None = None) -> str:
    """What a chain of steps starts from: float64 when the output asks for float64 (so that it is
    computed in float64, not computed in float32 and widened), else the input's own dtype.

    >>> start_dtype("uint8"), start_dtype("uint8", output_dtype="float64")
    ('uint8', 'float64')
    """
    return "float64" if output_dtype == "float64" else str(np.dtype(input_dtype))
