"""How one output value is made (README, Learning with convcli): the input window, with the cells
that are padding marked and the values the boundary gives them, the kernel as applied (rotated 180°
under convolution, taps spread by the dilation), each product and their sum — which equals the
computed output — or, for pooling, the window, the winner or the count divided by.

The window is read from the same padded input the ops compute from (``ops.filter.pad_image``) at
the places the shape arithmetic (:mod:`convcli.geometry`) gives, so an explanation is the
computation written out, and a test checks it against the ops' output at random positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FilterExplanation", "PoolExplanation", "explain_filter", "explain_pool"]


@dataclass(frozen=True)
class FilterExplanation:
    """One output value of a filter, written out.

    Attributes
    ----------
    position : (int, int)
        The output's row and column.
    rows, cols : tuple of int
        Input coordinates of the window's taps (negative, or past the last pixel: padding).
    padded : numpy.ndarray of bool, shape (kh, kw)
        Which taps fall in the padding.
    window : numpy.ndarray, shape (kh, kw)
        The values the taps read (the boundary's values where padded).
    weights : numpy.ndarray, shape (kh, kw)
        The kernel as applied: rotated 180° under convolution, as stored under correlation.
    products : numpy.ndarray, shape (kh, kw)
        ``window · weights``.
    value : float
        The sum of the products: the output value.
    """

    position: tuple[int, int]
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    padded: np.ndarray
    window: np.ndarray
    weights: np.ndarray
    products: np.ndarray
    value: float


@dataclass(frozen=True)
class PoolExplanation:
    """One output value of a pooling, written out.

    Attributes
    ----------
    position, rows, cols, padded, window
        As for :class:`FilterExplanation`; padded cells hold NaN (they never take part).
    op : str
        The pooling operation.
    winner : (int, int) or None
        max and min: the input coordinates of the value taken (the first in row-major order on ties,
        as the ops take it).
    count : int
        avg: what the sum is divided by (the real pixels, or the padded window with
        ``count_include_pad``); otherwise the real pixels in the window.
    value : float
        The output value.
    """

    position: tuple[int, int]
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    padded: np.ndarray
    window: np.ndarray
    op: str
    winner: tuple[int, int] | None
    count: int
    value: float


def _channel(image: Any, channel: int) -> np.ndarray:
    from .ops.checks import as_image

    array = as_image(image)
    if array.ndim == 3:
        if not 0 <= channel < array.shape[2]:
            raise ValueError(f"`channel` must be 0..{array.shape[2] - 1}, got {channel}")
        array = array[:, :, channel]
    elif channel != 0:
        raise ValueError(f"`channel` must be 0 for a one-channel image, got {channel}")
    return array


def _check_position(position: Sequence[int], out: tuple[int, int]) -> tuple[int, int]:
    row, col = (int(n) for n in position)
    if not (0 <= row < out[0] and 0 <= col < out[1]):
        raise ValueError(f"`position` ({row}, {col}) is outside the output, which is {out[0]}×{out[1]} "
                         f"(rows 0..{out[0] - 1}, cols 0..{out[1] - 1})")
    return row, col


def explain_filter(image: Any, kernel: Any, *, position: Sequence[int], channel: int = 0, **options: Any
                   ) -> FilterExplanation:
    """Write out output ``position`` of :func:`convcli.ops.filter.filter2d` with these ``options``
    (its keywords ``mode``, ``boundary``, ``cval``, ``stride``, ``padding``, ``dilation``,
    ``correlate``, with its defaults), in channel ``channel``.

    Examples
    --------
    >>> img = np.arange(9.0).reshape(3, 3)
    >>> e = explain_filter(img, [[1, 0], [0, -1]], position=(0, 0), mode="same")
    >>> e.rows, e.cols, e.padded.tolist()
    ((-1, 0), (-1, 0), [[True, True], [True, False]])
    >>> e.weights.tolist(), e.value                   # rotated 180°: true convolution
    ([[-1.0, 0.0], [0.0, 1.0]], 0.0)
    >>> from convcli.ops.filter import filter2d
    >>> float(filter2d(img, [[1, 0], [0, -1]], mode="same")[0, 0])
    0.0
    """
    from .geometry import conv_geometry
    from .kernels import Kernel, applied_matrix, load_kernel
    from .ops.checks import check_keywords, keyword_defaults
    from .ops.filter import filter2d, pad_image

    given = keyword_defaults(filter2d, leave_out=("normalize", "engine"))
    check_keywords(options, tuple(given), caller="explain_filter")
    given.update(options)
    mode, boundary, cval, stride, padding, dilation, correlate = (
        given[name] for name in ("mode", "boundary", "cval", "stride", "padding", "dilation", "correlate"))

    weights = kernel.weights if isinstance(kernel, Kernel) else np.asarray(
        load_kernel(kernel).weights if isinstance(kernel, str) else kernel, dtype=np.float64)
    array = _channel(image, channel).astype(np.float64)
    rows, cols = conv_geometry(array.shape, weights.shape, mode=mode, stride=stride, dilation=dilation,
                               padding=padding, correlate=correlate)
    row, col = _check_position(position, (rows.out, cols.out))
    padded_image = pad_image(array, ((rows.before, rows.after), (cols.before, cols.after)), boundary=boundary,
                             cval=cval)
    taps_r = [row * rows.stride + a * rows.dilation for a in range(weights.shape[0])]
    taps_c = [col * cols.stride + b * cols.dilation for b in range(weights.shape[1])]
    window = padded_image[np.ix_(taps_r, taps_c)]
    applied = applied_matrix(np.asarray(weights, dtype=np.float64), correlate=correlate)
    in_rows = tuple(t - rows.before for t in taps_r)
    in_cols = tuple(t - cols.before for t in taps_c)
    padded = np.array([[not (0 <= r < array.shape[0] and 0 <= c < array.shape[1]) for c in in_cols] for r in in_rows])
    products = window * applied
    return FilterExplanation((row, col), in_rows, in_cols, padded, window, applied, products, float(products.sum()))


def explain_pool(image: Any, *, position: Sequence[int], channel: int = 0, **options: Any) -> PoolExplanation:
    """Write out output ``position`` of :func:`convcli.ops.pool.pool2d` with these ``options`` (its
    keywords ``op``, ``size``, ``stride``, ``mode``, ``ceil``, ``padding``, ``count_include_pad``,
    with its defaults), in channel ``channel``.

    Examples
    --------
    >>> img = np.array([[1.0, 5.0, 2.0], [4.0, 3.0, 0.0], [7.0, 8.0, 9.0]])
    >>> e = explain_pool(img, position=(0, 1), op="max", size=2, stride=1)
    >>> e.window.tolist(), e.winner, e.value
    ([[5.0, 2.0], [3.0, 0.0]], (0, 1), 5.0)
    >>> e = explain_pool(img, position=(0, 0), op="avg", size=2, padding=1)
    >>> e.padded.tolist(), e.count, e.value          # padding never counts (torch's default)
    ([[True, True], [True, False]], 1, 1.0)
    """
    from .geometry import pool_geometry
    from .ops.checks import check_keywords, keyword_defaults
    from .ops.pool import pool2d
    from .vocabulary import POOL_OPS

    given = keyword_defaults(pool2d, leave_out=("return_indices",))
    check_keywords(options, tuple(given), caller="explain_pool")
    given.update(options)
    if "size" not in options:
        raise TypeError("explain_pool() needs `size`, the window, as pool2d does")
    op, size, stride, mode, ceil, padding, count_include_pad = (
        given[name] for name in ("op", "size", "stride", "mode", "ceil", "padding", "count_include_pad"))

    if op not in POOL_OPS:
        raise ValueError(f"`op` must be one of {', '.join(POOL_OPS)}, got {op!r}")
    array = _channel(image, channel).astype(np.float64)
    rows, cols = pool_geometry(array.shape, size, stride=stride, mode=mode, ceil=ceil, padding=padding)
    row, col = _check_position(position, (rows.out, cols.out))
    in_rows = tuple(row * rows.stride + a - rows.before for a in range(rows.kernel))
    in_cols = tuple(col * cols.stride + b - cols.before for b in range(cols.kernel))
    padded = np.array([[not (0 <= r < array.shape[0] and 0 <= c < array.shape[1]) for c in in_cols] for r in in_rows])
    window = np.array([[np.nan if padded[a, b] else array[r, c] for b, c in enumerate(in_cols)]
                       for a, r in enumerate(in_rows)])
    real = window[~padded]
    winner = None
    if op in ("max", "min"):
        flat = int((np.argmax if op == "max" else np.argmin)(np.where(padded, -np.inf if op == "max" else np.inf,
                                                                       window)))
        a, b = divmod(flat, window.shape[1])
        winner, value = (in_rows[a], in_cols[b]), float(window[a, b])
        count = real.size
    elif op == "avg":
        # The padded window stops at the declared padding (torch); ceil's extra windows go past it.
        inside = [[-rows.before <= r < rows.padded_end - rows.before and -cols.before <= c < cols.padded_end - cols.before
                   for c in in_cols] for r in in_rows]
        count = int(np.sum(inside)) if count_include_pad else real.size
        value = float(real.sum() / count)
    else:
        count = real.size
        value = float(real.sum() if op == "sum" else np.median(real))
    return PoolExplanation((row, col), in_rows, in_cols, padded, window, op, winner, count, value)
