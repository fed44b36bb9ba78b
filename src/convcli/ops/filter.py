"""2-D filtering (convolution and correlation) with exact mode, boundary, stride, padding and dilation.

One function, :func:`filter2d`, computes ``out[i, j] = Σ_a Σ_b k[a, b] · xp[i·sy + a·dy, j·sx + b·dx]``
on the padded image ``xp`` (correlation; true convolution uses ``k[::-1, ::-1]`` and mirrors the
``same`` split). Padding amounts come from :mod:`convcli.geometry`; what the padding holds is
``numpy.pad``'s job, named as ``numpy.pad`` names it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from .._system import usable_cpus
from ..errors import GeometryError
# The boundary names live with the shape rules (the command line reads them without NumPy);
# they stay importable from here.
from ..geometry import BOUNDARIES, BOUNDARY_ALIASES, AxisGeometry, conv_geometry, resolve_boundary
from ..vocabulary import ENGINES, GRAY_WEIGHTS

__all__ = ["work_dtype", "BOUNDARIES", "BOUNDARY_ALIASES", "ENGINES", "resolve_engine", "attach_alpha", "bank_output_shape", "carry_alpha", "filter2d", "filter_bank", "gray_shape", "resolve_boundary", "pad_image", "to_gray"]



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


def pad_image(
    image: np.ndarray,
    pad_amounts: tuple[tuple[int, int], tuple[int, int]],
    *,
    boundary: str = "zero",
    cval: float = 0.0,
) -> np.ndarray:
    """Pad the first two axes of ``image`` as ``boundary`` says; channels are never padded.

    Examples
    --------
    >>> pad_image(np.array([[1, 2, 3, 4]]), ((0, 0), (2, 2)), boundary="symmetric")
    array([[2, 1, 1, 2, 3, 4, 4, 3]])
    """
    name = resolve_boundary(boundary)
    widths = [tuple(pad_amounts[0]), tuple(pad_amounts[1])] + [(0, 0)] * (image.ndim - 2)
    if not any(any(w) for w in widths):
        return image
    if BOUNDARIES[name] == "constant":
        fill = 0.0 if name == "zero" else cval
        return np.pad(image, widths, mode="constant", constant_values=fill)
    return np.pad(image, widths, mode=BOUNDARIES[name])


def gray_shape(shape: Sequence[int], *, has_alpha: bool = False) -> tuple[int, ...] | None:
    """Shape :func:`to_gray` gives for ``shape``, or None when the image is grey already.

    Examples
    --------
    >>> gray_shape((4, 5, 3)), gray_shape((4, 5, 4), has_alpha=True), gray_shape((4, 5))
    ((4, 5), (4, 5, 2), None)
    """
    alpha = 1 if has_alpha else 0
    if len(shape) == 2 or shape[2] - alpha == 1:
        return None
    if shape[2] - alpha != 3:
        raise ValueError(
            f"`gray` needs an RGB or RGBA image, got {shape[2]} channels"
            + ("" if has_alpha else " (none of them alpha)")
        )
    return tuple(shape[:2]) + ((2,) if has_alpha else ())


def to_gray(image: np.ndarray, *, has_alpha: bool = False) -> np.ndarray:
    """Luminance ``0.2125 R + 0.7154 G + 0.0721 B`` in the input's own units (:func:`work_dtype`).

    An alpha channel (``has_alpha``, RGBA input) is kept as a second channel: (H, W, 4) gives
    (H, W, 2). Grey input is returned unchanged.

    Examples
    --------
    >>> to_gray(np.array([[[100, 100, 100], [255, 0, 0]]], dtype=np.int64)).tolist()
    [[100.0, 54.1875]]
    """
    if gray_shape(image.shape, has_alpha=has_alpha) is None:
        return image
    work = work_dtype(image.dtype)
    gray = image[..., :3].astype(work) @ np.asarray(GRAY_WEIGHTS, dtype=work)
    if has_alpha:
        return np.stack([gray, image[..., 3].astype(work)], axis=-1)
    return gray


def _strided_taps(
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
# results differ only by floating-point rounding.


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


def _polyphase(
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
                out += _valid_correlate(phase, sub_kernel, (rows.out, cols.out), engine=engine)
        return out
    out = np.empty(out_shape, dtype=padded.dtype)
    for start_row in range(min(rows.dilation, rows.out)):
        for start_col in range(min(cols.dilation, cols.out)):
            share = out[start_row :: rows.dilation, start_col :: cols.dilation]
            phase = padded[start_row :: rows.dilation, start_col :: cols.dilation]
            share[...] = _valid_correlate(phase, kernel, share.shape[:2], engine=engine)
    return out


#: At most this many channels (column phases × image channels) go through one OpenCV call: OpenCV
#: takes up to 512, but its filters are tuned for a few; 16 covers dilation 4 of an RGBA image.
_MAX_INTERLEAVED = 16


def _dilated_opencv(padded: np.ndarray, kernel: np.ndarray, rows: AxisGeometry, cols: AxisGeometry) -> np.ndarray:
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


def _valid_correlate(
    array: np.ndarray, kernel: np.ndarray, out_size: tuple[int, int], *, engine: str
) -> np.ndarray:
    """The first ``out_size`` outputs of the valid correlation of ``array`` with ``kernel``
    (stride 1, dilation 1: the padded image's correlation, cropped to the output), in
    ``array``'s floating-point dtype."""
    padded = array
    rows_out, cols_out = out_size
    # Both engines centre the kernel at k//2; output pixel i reads padded[i .. i + k - 1].
    top, left = kernel.shape[0] // 2, kernel.shape[1] // 2
    if engine == "opencv" and (padded.ndim == 2 or padded.shape[2] <= _OPENCV_MAX_CHANNELS):
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


def _spreads_past_taps(kernel: np.ndarray) -> bool:
    """OpenCV would carry a NaN beyond the kernel's nonzero taps: by FFT (a large non-separable
    kernel), or through a zero weight in one of two 1-D passes (a rank-1 kernel with zeros). Its
    direct 2-D filter skips zero taps, as SciPy does."""
    if _separable(kernel) is not None:
        return bool((kernel == 0).any())
    return kernel.size >= _OPENCV_FFT_TAPS


def _all_finite(array: np.ndarray) -> bool:
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
    if source.dtype not in _OPENCV_SOURCES or (depth == cv2.CV_64F and source.dtype != np.float64):
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
#: and a pick of every stride-th output; larger ones by phase images (:func:`_polyphase`). Measured
#: at 4096² float32, stride 2: up to about 9×9 a kernel is bound by memory traffic, and one stride-1
#: pass and the pick (a random 5×5: 44 ms) beat gathering four phase images and filtering each
#: (75 ms), though they compute four times the outputs; at 15×15 the taps dominate and the phases'
#: quarter of the work wins (121 ms against 169 ms).
_POLYPHASE_TAPS = 100


#: Channels an image may have for OpenCV's stride-1 filters (more go to SciPy).
_OPENCV_MAX_CHANNELS = 4
#: Image dtypes OpenCV's filters read as they are (others are converted first).
_OPENCV_SOURCES = tuple(np.dtype(name) for name in ("uint8", "uint16", "int16", "float32", "float64"))
#: OpenCV border types that fill exactly as numpy.pad's modes do (OpenCV's filters cannot wrap).
_OPENCV_BORDERS = {"constant": "BORDER_CONSTANT", "reflect": "BORDER_REFLECT_101",
                   "symmetric": "BORDER_REFLECT", "edge": "BORDER_REPLICATE"}


def _opencv_direct(
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
    if array.ndim == 3 and array.shape[2] > _OPENCV_MAX_CHANNELS:
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


def filter2d(
    image: Any,
    kernel: Any,
    *,
    mode: str = "same",
    boundary: str = "zero",
    cval: float = 0.0,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] | None = None,
    dilation: int | Sequence[int] = 1,
    correlate: bool = False,
    normalize: bool = False,
    engine: str = "auto",
) -> np.ndarray:
    """Convolve (default) or correlate an image with a kernel, with exact shape semantics.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        Channels last; every channel is filtered with the same kernel. Computed in
        :func:`work_dtype` (float32 for images of 16 bits or less and float32; float64 otherwise);
        nothing is rescaled.
    kernel : str, Kernel or array_like
        A 2-D matrix, a :class:`convcli.kernels.Kernel`, or any spec :func:`convcli.load_kernel`
        accepts (``"sobel-x"``, ``"gaussian:sigma=1.5"``, ``"1 0 -1; 2 0 -2; 1 0 -1"``, a path).
    mode : {'same', 'valid', 'full'}
        Padding rule when ``padding`` is not given (see :mod:`convcli.geometry`).
    boundary : {'zero', 'constant', 'reflect', 'symmetric', 'edge', 'wrap'}
        What the padding holds, named as ``numpy.pad`` names it; ``constant`` uses ``cval``.
    cval : float
        Fill value for ``boundary='constant'``.
    stride, dilation : int or (int, int)
        Step between output pixels and between kernel taps, per axis.
    padding : int, (rows, cols) or (top, bottom, left, right), optional
        Explicit padding; replaces ``mode``.
    correlate : bool
        Cross-correlation (the CNN convention, ``torch.nn.functional.conv2d``) instead of true
        convolution (``scipy.signal.convolve2d``).
    normalize : bool
        Divide the kernel by its sum first.
    engine : {'auto', 'opencv', 'scipy'}
        What computes stride-1, dilation-1 filters (the common case): OpenCV's ``filter2D`` (what
        ``auto`` picks; it reads the unpadded image and fills zero, reflect, symmetric and edge
        borders itself) or SciPy's ``ndimage.correlate`` (the reference; in bands of rows on a
        thread per core). Strides and dilations never inflate the kernel with zeros. On OpenCV a
        strided kernel under 10×10 whose border OpenCV fills itself is one stride-1 pass and a pick
        of every stride-th output (cheaper, measured, than gathering phase images for a
        memory-bound filter); any other strided filter is a sum of stride-1 correlations of phase
        sub-images with sub-kernels. A dilated filter on OpenCV views the column phases as channels
        (no copy) and filters each with the plain kernel; on SciPy it filters each phase sub-image.
        One both strided and dilated visits only the taps and output pixels that exist, with
        NumPy. An image holding NaN or inf is filtered by SciPy on any engine wherever OpenCV would
        carry NaN past the kernel's nonzero taps.

    Returns
    -------
    numpy.ndarray of :func:`work_dtype`, shape (H', W') or (H', W', C)

    Raises
    ------
    ValueError
        A parameter out of range (names it).
    GeometryError
        The window leaves no output pixel (e.g. ``valid`` with a kernel larger than the image).

    Examples
    --------
    >>> img = np.array([[0, 1, 2, 3]] * 3)
    >>> filter2d(img, "1 0 -1", mode="valid")          # true convolution: a rising ramp is positive
    array([[2., 2.],
           [2., 2.],
           [2., 2.]])
    >>> filter2d(img, "1 0 -1", mode="valid", correlate=True)
    array([[-2., -2.],
           [-2., -2.],
           [-2., -2.]])
    >>> filter2d(np.ones((4, 4)), "box:2", mode="valid", stride=2)
    array([[1., 1.],
           [1., 1.]])
    """
    from ..kernels import Kernel, load_kernel

    array = np.asarray(image)
    if array.ndim not in (2, 3) or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"`image` must have shape (H, W) or (H, W, C) with H, W >= 1, got {array.shape}")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) or np.iscomplexobj(array):
        raise ValueError(f"`image` must hold real numbers, got dtype {array.dtype}")
    if mode not in ("same", "valid", "full"):
        raise ValueError(f"`mode` must be one of same, valid, full, got {mode!r}")
    boundary_name = resolve_boundary(boundary)
    if not np.isfinite(cval):
        raise ValueError(f"`cval` must be a finite number, got {cval!r}")

    kern = kernel if isinstance(kernel, Kernel) else load_kernel(kernel)
    if normalize:
        kern = kern.normalized()
    weights = np.asarray(kern.matrix, dtype=np.float64)
    if not correlate:
        weights = weights[::-1, ::-1]

    rows, cols = conv_geometry(
        array.shape, weights.shape, mode=mode, stride=stride, dilation=dilation,
        padding=padding, correlate=correlate,
    )
    chosen = resolve_engine(engine)
    if chosen == "opencv" and array.dtype.kind == "f" and _spreads_past_taps(weights) and not _all_finite(array):
        # NaN and inf must reach only the outputs whose nonzero taps cover them; for this kernel
        # OpenCV would spread them further, so SciPy's direct sums take this image.
        chosen = "scipy"
    if array.dtype == bool:
        array = array.view(np.uint8)
    plain = rows.stride == cols.stride == rows.dilation == cols.dilation == 1
    if chosen == "opencv" and rows.dilation == cols.dilation == 1 and (plain or weights.size < _POLYPHASE_TAPS):
        # Stride 1, or a strided small kernel: OpenCV's stride-1 pass over the unpadded image,
        # then every stride-th output (see _POLYPHASE_TAPS for why that beats phase images here).
        dense = (replace(rows, stride=1, out=(rows.out - 1) * rows.stride + 1),
                 replace(cols, stride=1, out=(cols.out - 1) * cols.stride + 1))
        direct = _opencv_direct(array, weights, *dense, boundary=boundary_name, cval=float(cval))
        if direct is not None:
            return direct if plain else np.ascontiguousarray(direct[:: rows.stride, :: cols.stride])
    channels = array.shape[2] if array.ndim == 3 else 1
    interleave = (chosen == "opencv" and rows.stride == cols.stride == 1 and not plain
                  and cols.dilation * channels <= _MAX_INTERLEAVED)
    # Interleaving column phases as channels needs a padded width that is a multiple of the dilation;
    # the extra columns are never read by an output that is kept.
    extra = -(cols.size + cols.before + cols.after) % cols.dilation if interleave else 0
    padded = pad_image(
        array.astype(work_dtype(array.dtype), copy=False),
        ((rows.before, rows.after), (cols.before, cols.after + extra)),
        boundary=boundary_name,
        cval=float(cval),
    )
    if plain:
        return _valid_correlate(padded, weights, (rows.out, cols.out), engine=chosen)
    if interleave:
        return _dilated_opencv(padded, weights, rows, cols)
    if rows.dilation == cols.dilation == 1 or rows.stride == cols.stride == 1:
        return _polyphase(padded, weights, rows, cols, engine=chosen)
    # Strided and dilated at once: touch only the taps and output pixels that exist.
    return _strided_taps(padded, weights, rows, cols)


def _window_centres(g: AxisGeometry, correlate: bool) -> np.ndarray:
    """Input index of the pixel at the centre of each output's window along one axis, clamped
    into the image (boundary ``edge``).

    Output ``i`` reads padded pixels ``i·s .. i·s + e − 1``; their centre is ``(e − 1)/2`` in. For an
    even extent the centre falls between two pixels, and the one taken is the one `same` at stride 1
    maps onto itself: ``⌊(e − 1)/2⌋`` in for correlation, ``⌈(e − 1)/2⌉`` for convolution (the
    way :func:`convcli.geometry.conv_axis` splits an odd total padding).
    """
    half = (g.extent - 1) // 2 if correlate else g.extent // 2
    centres = np.arange(g.out, dtype=np.int64) * g.stride + half - g.before
    return np.clip(centres, 0, g.size - 1)


def carry_alpha(alpha: np.ndarray, *, kernel_shape: Sequence[int], **geometry: Any) -> np.ndarray:
    """Take an alpha channel (H, W) through a filter's geometry without filtering it.

    Each output pixel gets the alpha of the input pixel at the centre of its window (boundary
    ``edge`` where that falls in the padding), for any mode, stride, padding and dilation. Where
    the window's extent ``e = d·(k − 1) + 1`` is even the centre lies between two pixels; the one
    taken is the one that makes stride-1 ``same`` the identity — the earlier for correlation, the
    later for true convolution, as ``same`` splits an odd padding. ``geometry`` holds
    :func:`filter2d`'s mode, stride, padding, dilation and correlate; other keywords (boundary,
    cval, normalize, engine) are ignored. The result has :func:`work_dtype`.

    Examples
    --------
    >>> alpha = np.arange(16.0).reshape(4, 4)
    >>> carry_alpha(alpha, kernel_shape=(3, 3), mode="valid")
    array([[ 5.,  6.],
           [ 9., 10.]])
    >>> row = np.array([[0.0, 40, 80, 120, 160, 200]])
    >>> carry_alpha(row, kernel_shape=(1, 2), dilation=2)  # windows j − 1 .. j + 1: alpha[j]
    array([[  0.,  40.,  80., 120., 160., 200.]])
    """
    wanted = {"mode", "stride", "padding", "dilation", "correlate"}
    kept = {name: value for name, value in geometry.items() if name in wanted}
    array = np.asarray(alpha)
    correlate = bool(kept.pop("correlate", False))
    rows, cols = conv_geometry(array.shape, tuple(kernel_shape), correlate=correlate, **kept)
    picked = array[np.ix_(_window_centres(rows, correlate), _window_centres(cols, correlate))]
    return picked.astype(work_dtype(array.dtype))


def attach_alpha(result: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Append ``alpha`` (H', W') as the last channel of ``result`` (H', W'[, C]).

    Examples
    --------
    >>> attach_alpha(np.zeros((2, 2)), np.ones((2, 2))).shape
    (2, 2, 2)
    """
    if result.ndim == 2:
        result = result[..., np.newaxis]
    work = np.result_type(result.dtype, alpha.dtype)
    return np.concatenate([result.astype(work, copy=False), alpha[..., np.newaxis].astype(work, copy=False)], axis=-1)


def filter_bank(
    image: Any,
    kernels: Sequence[Any],
    *,
    has_alpha: bool = False,
    boundary: str = "zero",
    normalize: bool = False,
    **geometry: Any,
) -> np.ndarray:
    """Filter every channel with every kernel: channel ``c·K + k`` is kernel ``k`` on channel ``c``.

    This is the order of TensorFlow's depthwise convolution (input-channel major) and of Keras
    ``Conv2D(K, ...)`` on a grey image. A grey image with one kernel gives (H', W'); otherwise
    (H', W', C·K).

    The alpha rule: with ``has_alpha`` the last channel is alpha. It is not filtered by the kernels;
    it goes through the same geometry (mode, stride, padding, dilation): each output takes the alpha
    of the pixel at the centre of its window (:func:`carry_alpha`; boundary ``edge``; the first
    kernel's window when the bank mixes shapes), and it comes back once, as the last channel. So at
    stride 1 in ``same`` mode alpha is exactly the input's alpha.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
    kernels : sequence of kernels (anything :func:`filter2d` takes)
        All must give the same output shape (same kernel shape, or `same` mode at stride 1).
    has_alpha : bool
        The last channel is alpha (an image file's grey+alpha or RGBA, or a bank's result of one).
    boundary, normalize, **geometry
        As for :func:`filter2d`.

    Examples
    --------
    >>> img = np.arange(9.0).reshape(3, 3)
    >>> filter_bank(img, ["identity", "0 0 0; 0 2 0; 0 0 0"], mode="valid").tolist()
    [[[4.0, 8.0]]]
    >>> rgba = np.dstack([img, img, img, np.full((3, 3), 255.0)])
    >>> out = filter_bank(rgba, ["box3"], has_alpha=True)
    >>> out.shape, bool((out[..., 3] == 255).all())
    ((3, 3, 4), True)
    """
    from ..kernels import Kernel, load_kernel

    if not kernels:
        raise ValueError("`kernels` must hold at least one kernel")
    array = np.asarray(image)
    kerns = [k if isinstance(k, Kernel) else load_kernel(k) for k in kernels]
    if has_alpha and (array.ndim != 3 or array.shape[2] < 2):
        raise ValueError(f"`has_alpha` needs channels besides alpha, got shape {array.shape}")
    colour = array[..., :-1] if has_alpha else array
    # Checked from the arithmetic first: no kernel is run when the bank cannot be stacked.
    bank_output_shape(array.shape, [k.shape for k in kerns], names=[k.name for k in kerns], **geometry)
    # Each kernel's result goes straight into its channels of the stacked result, so the bank holds
    # the stacked result and one kernel's result, never a list of them all and their stack too.
    stacked: Any = None
    count = len(kerns)
    for index, kern in enumerate(kerns):
        result = filter2d(colour, kern, boundary=boundary, normalize=normalize, **geometry)
        if stacked is None:
            if count == 1 and not has_alpha:
                return result
            channels = 1 if result.ndim == 2 else result.shape[2]
            total = channels * count + (1 if has_alpha else 0)
            stacked = np.empty(result.shape[:2] + (total,), dtype=result.dtype)
        # channel c·K + k is kernel k on channel c
        stacked[..., index : channels * count : count] = result.reshape(result.shape[:2] + (channels,))
        result = None
    if not has_alpha:
        return stacked
    stacked[..., -1] = carry_alpha(array[..., -1], kernel_shape=kerns[0].shape, **geometry)
    return stacked


def bank_output_shape(
    shape: Sequence[int],
    kernel_shapes: Sequence[Sequence[int]],
    *,
    has_alpha: bool = False,
    names: Sequence[str] | None = None,
    **geometry: Any,
) -> tuple[int, ...]:
    """The shape :func:`filter_bank` returns for an image of ``shape``, from arithmetic alone.

    Used by ``--dry-run``, which reads only the file's header.

    Raises
    ------
    GeometryError
        The kernels give different output sizes for this input (each listed, by ``names`` if
        given), so their results cannot be stacked as channels of one image.

    Examples
    --------
    >>> bank_output_shape((50, 50), [(2, 2), (2, 2)], mode="valid", correlate=True)
    (49, 49, 2)
    >>> bank_output_shape((512, 512, 3), [(4, 4)], mode="valid", stride=2)
    (255, 255, 3)
    >>> bank_output_shape((50, 50), [(3, 3), (5, 5)], mode="valid", names=["box3", "box5"])
    Traceback (most recent call last):
    ...
    convcli.errors.GeometryError: the kernels of the bank give different output sizes (box3 3×3 → 48×48, box5 5×5 → 46×46), so their results cannot be stacked as channels of one image: filter them one at a time, or use mode same
    """
    wanted = {"mode", "stride", "dilation", "padding", "correlate"}
    kept = {k: v for k, v in geometry.items() if k in wanted}
    outs = [tuple(g.out for g in conv_geometry(shape, kernel_shape, **kept)) for kernel_shape in kernel_shapes]
    rows, cols = outs[0]
    if len(set(outs)) > 1:
        labels = names or [f"kernel {i + 1}" for i in range(len(kernel_shapes))]
        listing = ", ".join(f"{label} {kh}×{kw} → {oh}×{ow}"
                            for label, (kh, kw), (oh, ow) in zip(labels, kernel_shapes, outs))
        raise GeometryError(
            f"the kernels of the bank give different output sizes ({listing}), so their results cannot be "
            "stacked as channels of one image: filter them one at a time, or use mode same"
        )
    count = len(kernel_shapes)
    if len(shape) == 2:
        return (rows, cols) if count == 1 else (rows, cols, count)
    colours = shape[2] - (1 if has_alpha else 0)
    return (rows, cols, colours * count + (1 if has_alpha else 0))
