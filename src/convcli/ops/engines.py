"""The engines behind :func:`convcli.ops.filter.filter2d`: OpenCV's filters (from the unpadded image
where its borders are numpy.pad's, threaded), SciPy's ndimage in row bands, separable and polyphase
(strided) shortcuts, and strided views that compute only the output pixels. Every engine computes
the same correlation of the same padded array; results differ only by floating-point rounding
(README, Speed). ``auto`` takes NumPy's strided views instead of OpenCV for a small filter whose
sums are exact in any order (:func:`auto_engine`, :func:`exact_in_any_order`): the same bits,
without OpenCV's import.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._libraries import opencv_imported
from .._system import usable_cpus
from ..dtypes import work_dtype
from ..geometry import BOUNDARIES, AxisGeometry
from ..vocabulary import ENGINES


def strided_taps(
    padded: np.ndarray, kernel: np.ndarray, rows: AxisGeometry, cols: AxisGeometry
) -> np.ndarray:
    """Sum of kernel-weighted strided views: only the output pixels are ever computed."""
    out = np.zeros((rows.out, cols.out) + padded.shape[2:], dtype=padded.dtype)
    row_span = (rows.out - 1) * rows.stride + 1
    col_span = (cols.out - 1) * cols.stride + 1
    scratch = np.empty_like(out)
    for a in range(kernel.shape[0]):
        top = a * rows.dilation
        for b in range(kernel.shape[1]):
            weight = kernel[a, b]
            if weight == 0:
                continue
            left = b * cols.dilation
            view = padded[top : top + row_span : rows.stride, left : left + col_span : cols.stride]
            np.multiply(view, padded.dtype.type(weight), out=scratch)
            out += scratch
    return out


# ENGINES (convcli.vocabulary): OpenCV (fast, several times quicker than SciPy and threaded), or
# SciPy's ndimage (the reference). Both compute the same correlation of the same padded array;
# results differ only by floating-point rounding. ``auto`` may also be NumPy (auto_engine), only
# where the rounding cannot differ.


def _opencv_available() -> bool:
    try:
        import cv2  # noqa: F401 - lazy: heavy import
    except ImportError:  # pragma: no cover - a regular dependency
        return False
    return True


def resolve_engine(engine: str) -> str:
    """``auto`` → ``opencv`` when OpenCV imports, else ``scipy``; anything else is checked.

    Examples
    --------
    >>> resolve_engine("scipy")
    'scipy'
    """
    if engine not in ENGINES:
        raise ValueError(f"`engine` must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "auto":
        return "opencv" if _opencv_available() else "scipy"
    return engine


def exact_in_any_order(kernel: np.ndarray, dtype: Any, *, fill: float = 0.0) -> bool:
    """Whether every correlation of an image of ``dtype`` with ``kernel`` comes out bit for bit the
    same whatever order its products are summed in (OpenCV's SIMD lanes, fused multiply-adds or
    not, its paired symmetric taps, its two passes of a separable kernel, NumPy's tap by tap); the
    border's values are the image's own or ``fill`` (the constant boundary's value).

    The rule (docs/semantics.md, "Engines"): the image is integer-valued (an integer or bool dtype)
    and so is ``fill``; let ``s`` be the largest exponent of 2 among the weights' denominators
    (``float.as_integer_ratio``) and ``m`` the largest magnitude an input value can have (the
    dtype's range, or ``|fill|`` if larger). When ``Σ|w|·2^s · m < 2^p`` (p = 24 for a float32
    result, 53 for float64: :func:`work_dtype`), every weight, product and partial sum is a
    multiple of ``2^-s`` below ``2^(p-s)``, so it is exact in the working type and any order of
    summation gives the exact sum. A kernel OpenCV filters in two passes (:func:`_separable`) must
    pass the rule as its column factor and as the column and row together; any other kernel must
    have fewer than ``_OPENCV_FFT_TAPS`` taps, from where OpenCV may sum by FFT (never exact).

    Examples
    --------
    >>> sobel = np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])
    >>> exact_in_any_order(sobel, np.uint8), exact_in_any_order(sobel, np.float32)
    (True, False)
    >>> binomial = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256
    >>> exact_in_any_order(binomial, np.uint16)                 # 256 · 65535 < 2^24
    True
    >>> binomial[2, 2] += 1 / 256
    >>> exact_in_any_order(binomial, np.uint16)                 # 257 · 65535 ≥ 2^24
    False
    >>> exact_in_any_order(np.full((3, 3), 1 / 9), np.uint8)   # 1/9 is no binary fraction
    False
    >>> exact_in_any_order(sobel, np.uint8, fill=0.5), exact_in_any_order(sobel, np.uint8, fill=-7)
    (False, True)
    >>> disk = (np.add.outer(np.arange(8) - 3.5, np.zeros(8)) ** 2 + np.add.outer(np.zeros(8), np.arange(8) - 3.5) ** 2 < 12)
    >>> exact_in_any_order(disk.astype(float), np.uint8)      # 64 taps, not separable: OpenCV's FFT
    False
    """
    dtype = np.dtype(dtype)
    if dtype.kind not in "biu" or not math.isfinite(fill) or not float(fill).is_integer():
        return False
    largest = 1 if dtype.kind == "b" else max(abs(int(np.iinfo(dtype).min)), int(np.iinfo(dtype).max))
    largest = max(largest, abs(int(fill)))
    limit = 1 << (np.finfo(work_dtype(dtype)).nmant + 1)  # 2^24, 2^53: the integers held exactly
    whole = _scaled_sum(kernel)
    if whole is None or whole[0] * largest >= limit:
        return False
    factors = _separable(kernel)
    if factors is None:
        return kernel.size < _OPENCV_FFT_TAPS
    # OpenCV's two passes hold the column pass's results, then the row pass's sums of them.
    column, row = (_scaled_sum(f.astype(work_dtype(dtype))) for f in factors)
    return (column is not None and row is not None and column[0] * largest < limit
            and column[0] * row[0] * largest < limit)


def _scaled_sum(weights: np.ndarray) -> tuple[int, int] | None:
    """``(Σ|w|·2^s, s)`` of finite weights, ``s`` the largest exponent of 2 of their denominators
    (an exact integer); None if a weight is not finite."""
    ratios = []
    for weight in np.asarray(weights, dtype=np.float64).ravel().tolist():
        if not math.isfinite(weight):
            return None
        ratios.append(weight.as_integer_ratio())
    shift = max((denominator.bit_length() - 1 for _, denominator in ratios), default=0)
    return sum(abs(numerator) << (shift - denominator.bit_length() + 1) for numerator, denominator in ratios), shift


#: The most output pixels × nonzero taps NumPy filters when OpenCV is not imported yet: NumPy sums
#: a tap of a cache-sized image in about 1 ns a pixel, so below this it is done before OpenCV
#: would have been imported (about 20 ms); above it OpenCV's threaded filters win.
NUMPY_MAX_TAP_PIXELS = 1 << 24
#: And the most bytes NumPy's working arrays may take (the converted image, its padded copy, a
#: product's scratch): half the fixed overhead every memory estimate adds (convcli.memory), since
#: the estimate counts OpenCV's working arrays, which read the image unpadded.
NUMPY_MAX_WORK_BYTES = 4 << 20


def auto_engine(kernel: np.ndarray, dtype: Any, *, padded: int, outputs: int, fill: float = 0.0) -> str:
    """What ``engine="auto"`` runs a filter of an image of ``dtype`` on, given the elements of its
    padded image and of its result (``padded``, ``outputs``; channels included): ``"numpy"``
    (:func:`strided_taps` on the padded image) where the result is the same as OpenCV's whatever
    the order of summation (:func:`exact_in_any_order`) and NumPy is the quicker — OpenCV not
    imported yet, at most :data:`NUMPY_MAX_TAP_PIXELS` outputs × nonzero taps and
    :data:`NUMPY_MAX_WORK_BYTES` of working arrays — else :func:`resolve_engine`'s ``"auto"``
    (OpenCV).

    Examples
    --------
    >>> sobel = np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])
    >>> auto_engine(sobel, np.uint8, padded=258 * 258, outputs=256 * 256) if not opencv_imported() else "numpy"
    'numpy'
    >>> auto_engine(sobel, np.float32, padded=258 * 258, outputs=256 * 256)
    'opencv'
    """
    work = outputs * int(np.count_nonzero(kernel))
    working_bytes = (2 * padded + outputs) * work_dtype(dtype).itemsize
    small = work <= NUMPY_MAX_TAP_PIXELS and working_bytes <= NUMPY_MAX_WORK_BYTES
    if small and not opencv_imported() and exact_in_any_order(kernel, dtype, fill=fill):
        return "numpy"
    return resolve_engine("auto")


def _separable(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(column, row) with ``kernel == column ⊗ row`` when the kernel has rank 1 and is at least 5×5,
    else None: a column and a row of the kernel when their product is the kernel exactly (integer
    and binomial kernels), else the SVD's first pair when the second singular value is below 1e-12
    of the first (those factors carry rounding of about 1e-16). Smaller kernels gain little from
    two passes.

    Examples
    --------
    >>> column, row = _separable(np.outer([1.0, 4, 6, 4, 1], [1.0, 2, 0, -2, -1]))
    >>> np.allclose(np.outer(column, row), np.outer([1, 4, 6, 4, 1], [1, 2, 0, -2, -1]))
    True
    >>> _separable(np.eye(5)) is None, _separable(np.ones((3, 3))) is None
    (True, True)
    """
    if min(kernel.shape) < 5:
        return None
    # Exact factors first: a row of the kernel over its smallest nonzero entry, and that entry's
    # column. They reproduce integer and binomial kernels bit for bit, even in float32, so float32
    # sums of 8- and 16-bit pixels stay exact as with one 2-D pass.
    pivot_row = int(np.argmax(np.abs(kernel).max(axis=1)))
    nonzero = np.flatnonzero(kernel[pivot_row])
    if nonzero.size == 0:
        return None
    pivot_col = int(nonzero[np.argmin(np.abs(kernel[pivot_row, nonzero]))])
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # tiny pivots: then not exact
        column, row = kernel[:, pivot_col].copy(), kernel[pivot_row, :] / kernel[pivot_row, pivot_col]
        exact = np.array_equal(np.outer(column, row), kernel)
    if exact and all(np.array_equal(f.astype(np.float32), f) for f in (column, row)):
        return column, row
    left, singular, right = np.linalg.svd(kernel)
    if singular[1] > 1e-12 * singular[0]:
        return None
    scale = np.sqrt(singular[0])
    return np.ascontiguousarray(left[:, 0] * scale), np.ascontiguousarray(right[0] * scale)


def polyphase(
    padded: np.ndarray, kernel: np.ndarray, rows: AxisGeometry, cols: AxisGeometry, *, engine: str
) -> np.ndarray:
    """Strided (dilation 1) or dilated (stride 1) filters as stride-1 correlations of sub-images.

    Stride s: ``out[i] = Σ_a k[a]·xp[i·s + a]``; the taps with ``a ≡ p (mod s)`` read only the
    phase image ``xp[p::s]``, with the sub-kernel ``k[p::s]``: s² small dense correlations whose
    outputs add up, and no output pixel that is thrown away. Dilation d: the outputs with
    ``i ≡ t (mod d)`` read only ``xp[t::d]``, with the whole kernel: d² dense correlations, each
    writing its own interleaved share of the output — and no kernel inflated with zeros.
    """
    out_shape = (rows.out, cols.out) + padded.shape[2:]
    if rows.dilation == cols.dilation == 1:
        out = np.zeros(out_shape, dtype=padded.dtype)
        for phase_row in range(min(rows.stride, kernel.shape[0])):
            for phase_col in range(min(cols.stride, kernel.shape[1])):
                sub_kernel = kernel[phase_row :: rows.stride, phase_col :: cols.stride]
                phase = padded[phase_row :: rows.stride, phase_col :: cols.stride]
                out += valid_correlate(phase, sub_kernel, (rows.out, cols.out), engine=engine)
        return out
    out = np.empty(out_shape, dtype=padded.dtype)
    for start_row in range(min(rows.dilation, rows.out)):
        for start_col in range(min(cols.dilation, cols.out)):
            share = out[start_row :: rows.dilation, start_col :: cols.dilation]
            phase = padded[start_row :: rows.dilation, start_col :: cols.dilation]
            share[...] = valid_correlate(phase, kernel, share.shape[:2], engine=engine)
    return out


#: At most this many channels (column phases × image channels) go through one OpenCV call: OpenCV
#: takes up to 512, but its filters are tuned for a few; 16 covers dilation 4 of an RGBA image.
MAX_INTERLEAVED = 16


def dilated_opencv(padded: np.ndarray, kernel: np.ndarray, rows: AxisGeometry, cols: AxisGeometry) -> np.ndarray:
    """A dilated filter (stride 1) on OpenCV with no phase image copied and no kernel inflated.

    Columns ``q, q + d, q + 2d, …`` of the padded image are one column phase; viewing each run of
    ``d`` neighbouring columns as the ``d`` channels of one pixel makes every phase a channel of an
    image of width W/d, and OpenCV filters each channel with the same (undilated) kernel — exactly
    the dilated filter of that phase. Its output comes back in the same interleaved layout, which
    is the output's own. Row phases are row-strided views (no copy); each writes its share of rows.
    """
    padded = np.ascontiguousarray(padded)  # rows of pixels next to each other: the view below needs it
    width = padded.shape[1]
    channels = padded.shape[2] if padded.ndim == 3 else 1
    out = np.empty((rows.out, cols.out) + padded.shape[2:], dtype=padded.dtype)
    for start_row in range(min(rows.dilation, rows.out)):
        share = out[start_row :: rows.dilation]
        phase_rows = padded[start_row :: rows.dilation]
        # (rows, W/d, d·C), a view: channel q·C + c is image channel c of column phase q.
        view = phase_rows.reshape(phase_rows.shape[0], width // cols.dilation, cols.dilation * channels)
        full = _opencv_filter(view, kernel, anchor=(0, 0), border="BORDER_CONSTANT")
        full = full.reshape(full.shape[0], -1, channels)[: share.shape[0], : cols.out]
        share[...] = full if padded.ndim == 3 else full[..., 0]
    return out


def valid_correlate(
    array: np.ndarray, kernel: np.ndarray, out_size: tuple[int, int], *, engine: str
) -> np.ndarray:
    """The first ``out_size`` outputs of the valid correlation of ``array`` with ``kernel``
    (stride 1, dilation 1: the padded image's correlation, cropped to the output), in
    ``array``'s floating-point dtype."""
    padded = array
    rows_out, cols_out = out_size
    # Both engines centre the kernel at k//2; output pixel i reads padded[i .. i + k - 1].
    top, left = kernel.shape[0] // 2, kernel.shape[1] // 2
    if engine == "opencv" and (padded.ndim == 2 or padded.shape[2] <= OPENCV_MAX_CHANNELS):
        full = _opencv_filter(np.ascontiguousarray(padded), kernel, anchor=(left, top), border="BORDER_CONSTANT")
        return full[top : top + rows_out, left : left + cols_out]
    return _scipy_valid(padded, kernel, out_size)


#: Output rows per SciPy band: big enough that a thread's start-up is noise, small enough that
#: both cores get work on a mid-sized image.
_BAND_ROWS = 256


def _scipy_valid(padded: np.ndarray, kernel: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
    """SciPy's ``ndimage.correlate`` of the padded image, cropped to the valid outputs, computed in
    bands of rows (each with its halo of ``k - 1`` rows) on a thread per core: ndimage releases
    the GIL, so the bands run in parallel, and each band's numbers are those of one whole call."""
    from scipy import ndimage  # lazy: heavy import

    rows_out, cols_out = out_size
    top, left = kernel.shape[0] // 2, kernel.shape[1] // 2
    weights = kernel if padded.ndim == 2 else kernel[:, :, np.newaxis]
    out = np.empty((rows_out, cols_out) + padded.shape[2:], dtype=padded.dtype)

    def band(first: int) -> None:
        last = min(first + _BAND_ROWS, rows_out)
        slab = padded[first : last + kernel.shape[0] - 1]
        full = ndimage.correlate(slab, weights, mode="constant", cval=0.0)
        out[first:last] = full[top : top + last - first, left : left + cols_out]

    starts = range(0, rows_out, _BAND_ROWS)
    workers = min(usable_cpus(), len(starts))
    if workers < 2:
        for first in starts:
            band(first)
        return out
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done in [pool.submit(band, first) for first in starts]:
            done.result()
    return out


#: Taps from which OpenCV may filter a non-separable kernel by FFT (its own switch is at 50 taps for
#: float64 and 130 for float32 with SSE3; the lower one is taken).
_OPENCV_FFT_TAPS = 50


def spreads_past_taps(kernel: np.ndarray) -> bool:
    """OpenCV would carry a NaN beyond the kernel's nonzero taps: by FFT (a large non-separable
    kernel), or through a zero weight in one of two 1-D passes (a rank-1 kernel with zeros). Its
    direct 2-D filter skips zero taps, as SciPy does."""
    if _separable(kernel) is not None:
        return bool((kernel == 0).any())
    return kernel.size >= _OPENCV_FFT_TAPS


def all_finite(array: np.ndarray) -> bool:
    """No NaN or inf in a float array, in one pass with no mask: NaN and inf make the sum NaN or inf
    (and a sum that overflows only sends a finite image to the slower engine)."""
    if array.dtype == np.float16:  # its sums overflow at 65,504: min and max instead
        return array.size == 0 or (math.isfinite(float(array.min())) and math.isfinite(float(array.max())))
    return math.isfinite(float(array.sum()))


def _opencv_filter(source: np.ndarray, kernel: np.ndarray, *, anchor: tuple[int, int], border: str) -> np.ndarray:
    """``cv2.filter2D`` (or ``sepFilter2D``, a column pass and a row pass, for a rank-1 kernel of 5×5
    or more) of ``source`` into :func:`work_dtype`, with the kernel tap ``anchor`` = (column, row)
    on the output pixel and OpenCV's ``border`` beyond the edges; the channel axis kept as given."""
    import cv2  # lazy: heavy import

    depth = cv2.CV_32F if work_dtype(source.dtype) == np.float32 else cv2.CV_64F
    if source.dtype not in OPENCV_SOURCES or (depth == cv2.CV_64F and source.dtype != np.float64):
        source = source.astype(work_dtype(source.dtype))
    border_type = getattr(cv2, border)
    factors = _separable(kernel)
    if factors is not None:  # rank 1 (box, Gaussian, Sobel): a column pass, then a row pass
        # In the working type: float64 factors make OpenCV's float32 passes slower (31 taps: 68 → 49 ms).
        column, row = (factor.astype(work_dtype(source.dtype)) for factor in factors)
        full = cv2.sepFilter2D(source, depth, row, column, anchor=anchor, borderType=border_type)
    else:
        full = cv2.filter2D(source, depth, np.ascontiguousarray(kernel), anchor=anchor, borderType=border_type)
    if full.ndim == 2 and source.ndim == 3:  # OpenCV drops a single channel's axis
        full = full[:, :, np.newaxis]
    return full


#: Kernels with fewer taps than this are strided by OpenCV's stride-1 pass over the unpadded image
#: and a pick of every stride-th output; larger ones by phase images (:func:`polyphase`). Measured
#: at 4096² float32, stride 2: up to about 9×9 a kernel is bound by memory traffic, and one stride-1
#: pass and the pick (a random 5×5: 44 ms) beat gathering four phase images and filtering each
#: (75 ms), though they compute four times the outputs; at 15×15 the taps dominate and the phases'
#: quarter of the work wins (121 ms against 169 ms).
POLYPHASE_TAPS = 100


#: Channels an image may have for OpenCV's stride-1 filters (more go to SciPy).
OPENCV_MAX_CHANNELS = 4
#: Image dtypes OpenCV's filters read as they are (others are converted first).
OPENCV_SOURCES = tuple(np.dtype(name) for name in ("uint8", "uint16", "int16", "float32", "float64"))
#: OpenCV border types that fill exactly as numpy.pad's modes do (OpenCV's filters cannot wrap).
_OPENCV_BORDERS = {"constant": "BORDER_CONSTANT", "reflect": "BORDER_REFLECT_101",
                   "symmetric": "BORDER_REFLECT", "edge": "BORDER_REPLICATE"}


def opencv_direct(
    array: np.ndarray, kernel: np.ndarray, rows: AxisGeometry, cols: AxisGeometry, *, boundary: str, cval: float
) -> np.ndarray | None:
    """A stride-1 filter straight from the unpadded image, OpenCV filling the border itself, or
    None where OpenCV cannot fill it exactly as ``numpy.pad`` would.

    With the anchor at the padding's ``before``, OpenCV's output pixel i reads the same image and
    border pixels as pixel i of the valid correlation of the padded image, so the first ``out``
    outputs are the answer: no padded copy of the image, and uint8/uint16 read without a converted
    copy. That holds while ``before ≤ k − 1`` and ``before + after ≤ k − 1`` (``same`` and
    ``valid``, not ``full``), and while no border is wider than the image less one pixel (where
    reflection could need to repeat).
    """
    mode = BOUNDARIES[boundary]
    if mode not in _OPENCV_BORDERS or (mode == "constant" and boundary != "zero" and cval != 0):
        return None
    if array.ndim == 3 and array.shape[2] > OPENCV_MAX_CHANNELS:
        return None
    for axis, size in zip((rows, cols), array.shape[:2]):
        reach = axis.kernel - 1
        if axis.before > reach or axis.before + axis.after > reach:
            return None
        if mode != "constant" and max(axis.before, axis.after) > size - 1:
            return None
    source = np.ascontiguousarray(array)
    full = _opencv_filter(source, kernel, anchor=(cols.before, rows.before), border=_OPENCV_BORDERS[mode])
    return full[: rows.out, : cols.out]
