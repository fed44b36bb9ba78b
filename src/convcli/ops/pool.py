"""2-D pooling (max, avg, min, sum, median), global pooling and max unpooling (README, Pooling,
gradients and upsampling).

Window sizes, strides, padding and output sizes come from :func:`convcli.geometry.pool_geometry`
(``valid`` and explicit padding as ``torch.nn.functional.max_pool2d``, ``ceil`` as torch's
``ceil_mode``, ``same`` as Keras). Padded positions never take part: max and min ignore them, avg and
median use only the real pixels of each window (torch ``count_include_pad=False``) and sum adds only
real pixels — unless avg is asked to divide by the padded window (``count_include_pad=True``, torch's
default).

Result dtypes: max and min of integer (or bool) input keep the input's dtype exactly; every other
result is floating point of dtype ``np.result_type(input dtype, np.float32)``: float32 for bool,
(u)int8, (u)int16, float16 and float32 input, float64 for float64 and (u)int32/(u)int64 input.

How it is computed (no loop over pixels):

- max, min, sum and avg are separable: the window is reduced along the rows, then along the columns,
  one window tap at a time (``ky + kx`` whole-array ufunc calls on strided views). A tap's output
  range is clipped to the outputs whose source pixel is real, so no padded copy is ever made and the
  number of real pixels per window (avg) is the outer product of two 1-D counts. This is also faster
  than a reshape-and-reduce over the window axes, which NumPy reduces slowly when those axes are short.
  The output is made in bands of rows whose working arrays stay in the CPU cache.
- sum and avg of integer (or bool) input add in an integer type that holds every possible window sum
  exactly (uint16 for windows of up to 257 uint8 pixels, up to int64), then divide once: each value is
  the exact mean (or sum) rounded once to the result dtype, ``np.float32(exact)`` for float32 results.
  When every sum fits a float32 significand (at most 2**24) the division is done in float32 (an IEEE
  division of exact operands: the same value); otherwise in float64, then rounded. Float input adds
  in float64 (or wider) and is rounded to the result dtype at the end.
- median uses ``sliding_window_view`` windows: ``numpy.median`` for windows that lie inside the
  image, ``numpy.nanmedian`` on a NaN-padded copy only for windows that overlap the padding.
- ``return_indices`` keeps, tap by tap in row-major order, the running maximum and its flat index.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..dtypes import pool_dtype
from ..geometry import AxisGeometry, pool_geometry
from ..vocabulary import POOL_OPS
from .checks import as_image

__all__ = ["POOL_OPS", "global_pool", "max_unpool", "pool2d", "pool_dtype"]



def _check_op(op: Any) -> str:
    if not isinstance(op, str) or op not in POOL_OPS:
        raise ValueError(f"`op` must be one of {', '.join(POOL_OPS)}, got {op!r}")
    return op


#: Integer types window sums may be added in, smallest first.
_SUM_TYPES = tuple(np.dtype(t) for t in (np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64))


def _sum_bound(dtype: np.dtype, area: int) -> tuple[np.dtype, int | None]:
    """The dtype sums of ``area`` pixels of ``dtype`` are added in, and the largest ``|sum|`` possible.

    Integer and bool input: the smallest integer type holding every possible sum exactly (the bound is
    exact). Float input, or integers whose sums even 64 bits cannot hold: float64 or wider (no bound).

    >>> _sum_bound(np.dtype(np.uint8), 4)
    (dtype('uint16'), 1020)
    >>> _sum_bound(np.dtype(np.float32), 4)
    (dtype('float64'), None)
    """
    if dtype == bool:
        low, high = 0, area
    elif np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        low, high = int(info.min) * area, int(info.max) * area
    else:
        return np.result_type(dtype, np.float64), None
    for candidate in _SUM_TYPES:
        info = np.iinfo(candidate)
        if info.min <= low and high <= info.max:
            return candidate, max(-low, high)
    return np.dtype(np.float64), None


def _exact_in(dtype: np.dtype, bound: int | None) -> bool:
    """Every integer of magnitude up to ``bound`` is exact in the float type ``dtype``."""
    return bound is not None and bound <= 2 ** (np.finfo(dtype).nmant + 1)


def _finish(total: np.ndarray, count: Any, op: str, exact: bool, out: np.ndarray) -> np.ndarray:
    """Window sums ``total`` → the sum or avg in ``out`` (whose dtype is the result dtype).

    ``count`` (avg only) is the number of real pixels of each window: an int or an integer array that
    broadcasts against ``total``. ``exact``: every sum is exact in the result dtype (integer sums
    up to 2**24 for float32), so one IEEE division in that dtype gives the exact mean rounded once;
    for float32 that is the float64 quotient rounded to float32, as double rounding is innocuous
    when 53 >= 2·24 + 2. Otherwise sum and divide in float64 (or wider), then round to ``out``.
    """
    if exact:
        if op == "sum":
            np.copyto(out, total, casting="unsafe")
        else:
            np.divide(total, count, out=out, dtype=out.dtype, casting="unsafe")
        return out
    wide = np.result_type(out.dtype, np.float64)
    if op == "sum":
        values = total.astype(wide, copy=False)
    elif total.dtype == out.dtype == wide:
        return np.divide(total, count, out=out)
    else:
        values = np.divide(total, count, dtype=wide, casting="unsafe")
    np.copyto(out, values, casting="unsafe")
    return out


def _extreme(dtype: np.dtype, op: str) -> Any:
    """The identity of max (the lowest value) or min (the highest) for ``dtype``."""
    if dtype == bool:
        return op == "min"
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return info.min if op == "max" else info.max
    return -np.inf if op == "max" else np.inf


def _taps(g: AxisGeometry, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, slice, slice]]:
    """For each window tap ``a``: the outputs whose tap-``a`` pixel is real, and those pixels.

    Output ``i`` reads input ``i·s − before + a``; the outputs for which that lies in ``[0, n)`` are a
    contiguous range, and the pixels they read are a strided slice of the input. Only outputs
    ``[start, stop)`` are looked at, and their slice counts from ``start``.
    """
    stop = g.out if stop is None else stop
    for a in range(g.kernel):
        offset = a - g.before
        first = max(start, -(offset // g.stride))  # ⌈−offset/s⌉, at least start
        last = min(stop, (g.size - 1 - offset) // g.stride + 1)
        if last > first:
            begin = first * g.stride + offset
            end = begin + (last - first - 1) * g.stride + 1
            yield a, slice(first - start, last - start), slice(begin, end, g.stride)


def _counts(g: AxisGeometry, start: int = 0, stop: int | None = None, *, include_pad: bool = False) -> np.ndarray:
    """The divisor of each window ``[start, stop)`` along one axis (int64): its real pixels, or with
    ``include_pad`` its cells inside the declared padded input (torch's ``count_include_pad``:
    ``min(start + k, n + pad_after) − start``, so a ``ceil`` window running past the padding counts
    only up to its end)."""
    starts = np.arange(start, g.out if stop is None else stop, dtype=np.int64) * g.stride - g.before
    if include_pad:
        return np.minimum(starts + g.kernel, g.padded_end) - starts
    return np.minimum(starts + g.kernel, g.size) - np.maximum(starts, 0)


def _reduce_axis(x: np.ndarray, g: AxisGeometry, axis: int, ufunc: np.ufunc, init: Any, dtype: np.dtype,
                 start: int = 0, stop: int | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """Reduce the windows ``[start, stop)`` of ``g`` along ``axis`` of ``x`` with ``ufunc`` in ``dtype``,
    real pixels only, into ``out`` if given."""
    stop = g.out if stop is None else stop
    shape = list(x.shape)
    shape[axis] = stop - start
    lead = (slice(None),) * axis
    taps = [(dst, x[lead + (src,)]) for _, dst, src in _taps(g, start, stop)]
    assert taps  # every window holds a real pixel (geometry guarantees it)
    if out is None:
        out = np.empty(shape, dtype=dtype)
    full = slice(0, stop - start)
    if taps[0][0] != full:
        out.fill(init)
    elif len(taps) > 1 and taps[1][0] == full:  # the first two taps in one call
        ufunc(taps[0][1], taps[1][1], out=out, dtype=dtype)
        taps = taps[2:]
    else:
        np.copyto(out, taps[0][1])
        taps = taps[1:]
    for dst, tap in taps:
        view = out[lead + (dst,)]
        ufunc(view, tap, out=view, dtype=dtype)
    return out


#: Bytes of row-reduced working array per band of output rows (well inside a CPU's L2 cache).
_BAND_BYTES = 1 << 19


def _separable(x: np.ndarray, rows: AxisGeometry, cols: AxisGeometry, op: str, include_pad: bool = False) -> np.ndarray:
    result = pool_dtype(x.dtype, op)
    bound: int | None = None
    if op in ("max", "min"):
        dtype = result
        ufunc = np.maximum if op == "max" else np.minimum
        init = _extreme(dtype, op)
    else:
        dtype, bound = _sum_bound(x.dtype, rows.kernel * cols.kernel)
        ufunc, init = np.add, 0
    out = np.empty((rows.out, cols.out) + x.shape[2:], dtype=result)
    extra = (1,) * (x.ndim - 2)
    count: Any = None
    if op == "avg":
        row_counts, col_counts = _counts(rows, include_pad=include_pad), _counts(cols, include_pad=include_pad)
        if row_counts.min() == row_counts.max() and col_counts.min() == col_counts.max():
            count = int(row_counts[0] * col_counts[0])  # every window is whole: one divisor
    # Bands of output rows: the row-reduced array of a band (and the input rows it reads) stay in the
    # cache for the column pass and the division, instead of going to memory and back.
    per_row = x[0].nbytes * rows.stride + x[0].size * dtype.itemsize  # input read + row-reduced array
    band = max(1, _BAND_BYTES // per_row)
    exact = _exact_in(result, bound)
    # Working arrays made once and reused by every band (fresh ones would cost page faults each time).
    part_buffer = np.empty((min(band, rows.out),) + x.shape[1:], dtype=dtype)
    sum_buffer = None  # column sums, when they are not made in the result array itself
    if op in ("sum", "avg") and dtype != result:
        sum_buffer = np.empty((len(part_buffer),) + out.shape[1:], dtype=dtype)
    for start in range(0, rows.out, band):
        stop = min(rows.out, start + band)
        part = _reduce_axis(x, rows, 0, ufunc, init, dtype, start, stop, out=part_buffer[: stop - start])
        target = out[start:stop]
        reduced = _reduce_axis(part, cols, 1, ufunc, init, dtype,
                               out=target if sum_buffer is None else sum_buffer[: stop - start])
        if op in ("sum", "avg"):
            if op == "avg" and count is None:
                band_count = np.multiply.outer(_counts(rows, start, stop, include_pad=include_pad), col_counts)
                band_count = band_count.reshape(band_count.shape + extra)
            else:
                band_count = count
            _finish(reduced, band_count, op, exact, target)
    return out


def _interior(g: AxisGeometry) -> tuple[int, int]:
    """The outputs ``[first, stop)`` whose window lies wholly inside the input."""
    first = min(g.out, -(-g.before // g.stride))
    stop = (g.size + g.before - g.kernel) // g.stride + 1 if g.size + g.before >= g.kernel else 0
    return first, max(first, min(g.out, stop))


def _median(x: np.ndarray, rows: AxisGeometry, cols: AxisGeometry) -> np.ndarray:
    from numpy.lib.stride_tricks import sliding_window_view

    work = x.astype(np.float64)  # a copy: NaN pixels are replaced below
    nan = np.isnan(work)
    has_nan = bool(nan.any())
    if has_nan:  # a real NaN makes its windows NaN (as numpy.median); keep nanmedian off it
        work[nan] = 0.0
    # The padded extent the windows need (the trailing rows/cols no window reads are left out).
    span_r = (rows.out - 1) * rows.stride + rows.kernel
    span_c = (cols.out - 1) * cols.stride + cols.kernel
    used_r = min(rows.size, span_r - rows.before)
    used_c = min(cols.size, span_c - cols.before)
    if rows.before == cols.before == 0 and used_r == span_r and used_c == span_c:
        padded = work
    else:
        padded = np.full((span_r, span_c) + work.shape[2:], np.nan)
        padded[rows.before : rows.before + used_r, cols.before : cols.before + used_c] = work[:used_r, :used_c]
    windows = sliding_window_view(padded, (rows.kernel, cols.kernel), axis=(0, 1))[:: rows.stride, :: cols.stride]
    out = np.empty((rows.out, cols.out) + work.shape[2:])
    (r0, r1), (c0, c1) = _interior(rows), _interior(cols)
    inside = (slice(r0, r1), slice(c0, c1))
    if r1 > r0 and c1 > c0:
        out[inside] = np.median(windows[inside], axis=(-2, -1))
    border = [
        (slice(0, r0), slice(None)),
        (slice(r1, rows.out), slice(None)),
        (slice(r0, r1), slice(0, c0)),
        (slice(r0, r1), slice(c1, cols.out)),
    ]
    for region in border:
        if windows[region].size:
            out[region] = np.nanmedian(windows[region], axis=(-2, -1))
    if has_nan:
        out[_separable(nan, rows, cols, "max")] = np.nan
    return out.astype(pool_dtype(x.dtype, "median"), copy=False)


def _max_with_indices(x: np.ndarray, rows: AxisGeometry, cols: AxisGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Running max and its flat index ``row·W + col``, tap by tap in row-major window order."""
    extra = (1,) * (x.ndim - 2)
    shape = (rows.out, cols.out) + x.shape[2:]
    best = np.zeros(shape, dtype=pool_dtype(x.dtype, "max"))
    index = np.zeros(shape, dtype=np.int64)
    seen = np.zeros((rows.out, cols.out) + extra, dtype=bool)
    floating = np.issubdtype(best.dtype, np.floating)
    col_taps = list(_taps(cols))
    for a, rdst, rsrc in _taps(rows):
        src_rows = np.arange(rsrc.start, rsrc.stop, rsrc.step)
        for b, cdst, csrc in col_taps:
            src_cols = np.arange(csrc.start, csrc.stop, csrc.step)
            tap = x[rsrc, csrc]
            cell = (rdst, cdst)
            # Strictly greater keeps the first of equal values (row-major), as torch; a NaN always
            # takes over (torch: `val > maxval || isnan(val)`); the first real pixel always does.
            take = ~seen[cell] | (tap > best[cell])
            if floating:
                take |= np.isnan(tap)
            np.copyto(best[cell], tap, where=take)
            flat = (src_rows[:, None] * x.shape[1] + src_cols[None, :]).reshape(take.shape[:2] + extra)
            np.copyto(index[cell], flat, where=take)
            seen[cell] = True
    return best, index


def pool2d(
    image: Any,
    *,
    op: str = "max",
    size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    mode: str = "valid",
    ceil: bool = False,
    padding: int | Sequence[int] | None = None,
    return_indices: bool = False,
    count_include_pad: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Pool an image over (ky, kx) windows, channel by channel (README, Pooling, gradients and upsampling).

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        Channels last; every channel is pooled on its own.
    op : {'max', 'avg', 'min', 'sum', 'median'}
        What each window gives. Padded positions never take part: avg and median use the real
        pixels only (torch ``count_include_pad=False``; see ``count_include_pad``), sum adds the
        real pixels.
    size : int or (int, int)
        Window (ky, kx).
    stride : int or (int, int), optional
        Step between windows; defaults to the window (non-overlapping).
    mode : {'valid', 'same'}
        ``valid``: ``out = ⌊(H − ky)/sy⌋ + 1`` (torch ``max_pool2d``). ``same``: ``out = ⌈H/sy⌉``,
        the padding ``P`` split ``⌊P/2⌋`` before (Keras ``padding='same'``). Ignored when
        ``padding`` is given.
    ceil : bool
        Round the output size up (torch ``ceil_mode=True``); the last window must start inside the
        input or its leading padding. Not with ``same``.
    padding : int, (rows, cols) or (top, bottom, left, right), optional
        Explicit padding, torch semantics (at most half the window on each side).
    return_indices : bool
        Only with ``op='max'``: also return where each maximum was found, as int64 flat indices
        ``row·W + col`` into the unpadded image (per channel), like torch
        ``max_pool2d(return_indices=True)``; of equal values the first in the window (row-major)
        wins. :func:`max_unpool` puts the values back.
    count_include_pad : bool
        Only with ``op='avg'``: divide each window's sum by its cells inside the padded input,
        padding included, as torch ``avg_pool2d(count_include_pad=True)`` (torch's default; convcli's
        is False). Per axis the divisor is ``min(start + k, n + pad_after) − start`` for a window
        starting at ``start`` (padding ``pad_before`` counts from ``−pad_before``): with ``ceil``, a
        last window running past the padding counts only up to the padding's end. Without padding
        it changes nothing.

    Returns
    -------
    numpy.ndarray, shape (H', W') or (H', W', C)
        max and min of integer (or bool) input keep the input's dtype exactly; everything else is
        floating point of dtype ``np.result_type(image.dtype, np.float32)``: float32 for bool,
        (u)int8, (u)int16, float16 and float32 images, float64 for (u)int32, (u)int64 and float64
        ones. Sums and means of integers of up to 32 bits are exact before that one rounding
        (``np.float32`` of the exact mean); 64-bit integers are summed in float64. With
        ``return_indices``, a tuple ``(values, indices)``.

    Raises
    ------
    ValueError
        A parameter out of range (names it).
    GeometryError
        The window does not fit (e.g. ``valid`` with a window larger than the image).

    Examples
    --------
    >>> img = np.arange(16, dtype=np.uint8).reshape(4, 4)
    >>> pool2d(img, size=2)
    array([[ 5,  7],
           [13, 15]], dtype=uint8)
    >>> pool2d(img, op="avg", size=3, stride=1)
    array([[ 5.,  6.],
           [ 9., 10.]], dtype=float32)

    torch's ``ceil_mode``: a 5×5 input with 2×2 windows gives 3×3, the last windows hold one
    row or column only.

    >>> pool2d(np.arange(25).reshape(5, 5), size=2, ceil=True)
    array([[ 6,  8,  9],
           [16, 18, 19],
           [21, 23, 24]])

    Padding never counts: the corner window below averages its 4 real pixels. With
    ``count_include_pad`` (torch's default) it is 12/9.

    >>> pool2d(np.arange(1.0, 10.0).reshape(3, 3), op="avg", size=3, stride=1, padding=1)
    array([[3. , 3.5, 4. ],
           [4.5, 5. , 5.5],
           [6. , 6.5, 7. ]])
    >>> pool2d(np.arange(1.0, 10.0).reshape(3, 3), op="avg", size=3, stride=1, padding=1,
    ...        count_include_pad=True)[0]
    array([1.33333333, 2.33333333, 1.77777778])
    >>> values, indices = pool2d(img, size=2, return_indices=True)
    >>> indices
    array([[ 5,  7],
           [13, 15]])
    """
    op = _check_op(op)
    array = as_image(image)
    if return_indices and op != "max":
        raise ValueError(f"`return_indices` needs op='max', got op={op!r}")
    if count_include_pad and op != "avg":
        raise ValueError(f"`count_include_pad` needs op='avg', got op={op!r}")
    rows, cols = pool_geometry(array.shape, size, stride=stride, mode=mode, ceil=bool(ceil), padding=padding)
    if return_indices:
        return _max_with_indices(array, rows, cols)
    if op == "median":
        return _median(array, rows, cols)
    return _separable(array, rows, cols, op, include_pad=bool(count_include_pad))


def global_pool(image: Any, *, op: str = "avg") -> np.ndarray:
    """One value per channel: the whole image is the window (Keras ``GlobalAveragePooling2D``,
    ``GlobalMaxPooling2D``).

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
    op : {'max', 'avg', 'min', 'sum', 'median'}

    Returns
    -------
    numpy.ndarray, shape (1, 1) or (1, 1, C)
        Dtypes as :func:`pool2d`: max and min of integers keep the dtype, the rest is
        ``np.result_type(image.dtype, np.float32)`` (float32 for 8- and 16-bit images).

    Examples
    --------
    >>> rgb = np.zeros((2, 3, 3), dtype=np.uint8)
    >>> rgb[..., 0], rgb[0, 0, 1] = 10, 60
    >>> global_pool(rgb)
    array([[[10., 10.,  0.]]], dtype=float32)
    >>> global_pool(rgb, op="max")
    array([[[10, 60,  0]]], dtype=uint8)
    >>> global_pool(np.arange(6).reshape(2, 3), op="sum")
    array([[15.]])
    """
    op = _check_op(op)
    array = as_image(image)
    axes = (0, 1)
    result = pool_dtype(array.dtype, op)
    if op == "max":
        out = array.max(axis=axes, keepdims=True)
    elif op == "min":
        out = array.min(axis=axes, keepdims=True)
    elif op in ("avg", "sum"):
        area = array.shape[0] * array.shape[1]
        dtype, bound = _sum_bound(array.dtype, area)
        total = array.sum(axis=axes, dtype=dtype, keepdims=True)
        return _finish(total, area, op, _exact_in(result, bound), np.empty(total.shape, dtype=result))
    else:
        out = np.median(array.astype(np.float64), axis=axes, keepdims=True)
    return out.astype(result, copy=False)


def max_unpool(values: Any, indices: Any, *, output_shape: Sequence[int]) -> np.ndarray:
    """Put each pooled maximum back where :func:`pool2d` found it; zeros elsewhere.

    The inverse of ``pool2d(..., op='max', return_indices=True)`` as torch ``MaxUnpool2d``: channel
    by channel, ``values[i, j]`` goes to the flat position ``indices[i, j] = row·W + col`` of an
    (H, W) plane. An index that occurs twice (overlapping windows) holds the same value both times.

    Parameters
    ----------
    values : array_like, shape (h, w) or (h, w, C)
    indices : array_like of int, same shape as ``values``
    output_shape : (H, W) or (H, W, C)
        Shape of the image before pooling (C must match ``values``).

    Returns
    -------
    numpy.ndarray of ``values``' dtype, shape ``output_shape``

    Examples
    --------
    >>> img = np.arange(1, 17).reshape(4, 4)
    >>> values, indices = pool2d(img, size=2, return_indices=True)
    >>> max_unpool(values, indices, output_shape=img.shape)
    array([[ 0,  0,  0,  0],
           [ 0,  6,  0,  8],
           [ 0,  0,  0,  0],
           [ 0, 14,  0, 16]])
    """
    vals = as_image(values, name="values")
    idx = np.asarray(indices)
    if idx.shape != vals.shape:
        raise ValueError(f"`indices` must have the shape of `values` {vals.shape}, got {idx.shape}")
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"`indices` must be integers, got dtype {idx.dtype}")
    try:
        shape = tuple(int(n) for n in output_shape)
    except (TypeError, ValueError):
        raise ValueError(f"`output_shape` must be (H, W) or (H, W, C), got {output_shape!r}") from None
    if len(shape) != vals.ndim or min(shape) < 1 or shape[2:] != vals.shape[2:]:
        raise ValueError(
            f"`output_shape` must be (H, W) for values of shape (h, w), or (H, W, C) with the values' "
            f"C for (h, w, C); got {shape} for values of shape {vals.shape}"
        )
    plane = shape[0] * shape[1]
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        raise ValueError(
            f"`indices` must lie in 0..{plane - 1} (H·W of `output_shape` {shape}), "
            f"got {int(idx.min())}..{int(idx.max())}"
        )
    channels = int(np.prod(shape[2:], dtype=np.int64))
    out = np.zeros((plane, channels), dtype=vals.dtype)
    flat_idx = idx.reshape(-1, channels)
    out[flat_idx, np.arange(channels)] = vals.reshape(-1, channels)
    return out.reshape(shape)
