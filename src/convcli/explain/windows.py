"""Windows: a filter's taps, weights and products; a pooling's window and winner; a gradient's
two filters combined (README, Learning with convcli).

The window is read from the same padded input the ops compute from (``ops.filter.pad_image``) at
the places the shape arithmetic (:mod:`convcli.geometry`) gives, so an explanation is the
computation written out, and a test checks it against the ops' output at random positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .base import Explanation, channel_plane, check_position, outside, read_window

@dataclass(frozen=True)
class FilterExplanation(Explanation):
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

    kind: ClassVar[str] = "filter"

    position: tuple[int, int]
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    padded: np.ndarray
    window: np.ndarray
    weights: np.ndarray
    products: np.ndarray
    value: float


@dataclass(frozen=True)
class PoolExplanation(Explanation):
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

    kind: ClassVar[str] = "pool"

    position: tuple[int, int]
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    padded: np.ndarray
    window: np.ndarray
    op: str
    winner: tuple[int, int] | None
    count: int
    value: float


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
    from ..geometry import conv_geometry
    from ..kernels import Kernel, applied_matrix, load_kernel
    from ..ops.checks import check_keywords, keyword_defaults
    from ..ops.filter import filter2d

    given = keyword_defaults(filter2d, leave_out=("normalize", "engine"))
    check_keywords(options, tuple(given), caller="explain_filter")
    given.update(options)
    mode, boundary, cval, stride, padding, dilation, correlate = (
        given[name] for name in ("mode", "boundary", "cval", "stride", "padding", "dilation", "correlate"))

    if isinstance(kernel, str):
        kernel = load_kernel(kernel)
    weights = np.asarray(kernel.matrix if isinstance(kernel, Kernel) else kernel, dtype=np.float64)
    array = channel_plane(image, channel)
    rows, cols = conv_geometry(array.shape, weights.shape, mode=mode, stride=stride, dilation=dilation,
                               padding=padding, correlate=correlate)
    row, col = check_position(position, (rows.out, cols.out))
    in_rows, in_cols, padded, window = read_window(array, rows, cols, (row, col), weights.shape, boundary=boundary,
                                                   cval=cval)
    applied = applied_matrix(weights, correlate=correlate)
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
    from ..geometry import pool_geometry
    from ..ops.checks import check_keywords, keyword_defaults
    from ..ops.pool import pool2d
    from ..vocabulary import POOL_OPS

    given = keyword_defaults(pool2d, leave_out=("return_indices",))
    check_keywords(options, tuple(given), caller="explain_pool")
    given.update(options)
    if "size" not in options:
        raise TypeError("explain_pool() needs `size`, the window, as pool2d does")
    op, size, stride, mode, ceil, padding, count_include_pad = (
        given[name] for name in ("op", "size", "stride", "mode", "ceil", "padding", "count_include_pad"))

    if op not in POOL_OPS:
        raise ValueError(f"`op` must be one of {', '.join(POOL_OPS)}, got {op!r}")
    array = channel_plane(image, channel)
    rows, cols = pool_geometry(array.shape, size, stride=stride, mode=mode, ceil=ceil, padding=padding)
    row, col = check_position(position, (rows.out, cols.out))
    in_rows = tuple(row * rows.stride + a - rows.before for a in range(rows.kernel))
    in_cols = tuple(col * cols.stride + b - cols.before for b in range(cols.kernel))
    padded = outside(array.shape, in_rows, in_cols)
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


@dataclass(frozen=True)
class GradientExplanation(Explanation):
    """One output value of :func:`convcli.ops.gradients.sobel`: its x and y filters, combined.

    Attributes
    ----------
    position : (int, int)
    operator, component : str
        As the op takes them.
    x, y : FilterExplanation or None
        The gx and gy filters at ``position`` (only the one asked for with component x or y), on
        the blurred image when ``blur`` is given.
    blur : float or None
        The pre-blur's sigma.
    combined : float
        ``√(gx² + gy²)``, ``gx``, ``gy`` or ``atan2(gy, gx)``.
    threshold : float or None
        With a threshold the value is ``|combined| > threshold`` (1.0 or 0.0).
    value : float
        The output value.
    """

    kind: ClassVar[str] = "sobel"

    position: tuple[int, int]
    operator: str
    component: str
    x: FilterExplanation | None
    y: FilterExplanation | None
    blur: float | None
    combined: float
    threshold: float | None
    value: float


def explain_gradient(image: Any, *, position: Sequence[int], channel: int = 0, operator: str = "sobel",
                     component: str = "magnitude", blur: float | None = None, threshold: float | None = None,
                     **geometry: Any) -> GradientExplanation:
    """Write out output ``position`` of :func:`convcli.ops.gradients.sobel` with these options (the
    geometry keywords are :func:`explain_filter`'s), in channel ``channel``.

    Examples
    --------
    >>> img = np.zeros((4, 5)); img[:, 3:] = 10.0
    >>> e = explain_gradient(img, position=(1, 1), mode="valid")
    >>> e.x.value, e.y.value, e.value                  # √(40² + 0²)
    (40.0, 0.0, 40.0)
    """
    import math

    from ..ops.gradients import WEIGHTS, _blur, _check_blur, _check_operator
    from ..vocabulary import COMPONENTS

    x_weights, y_weights = WEIGHTS[_check_operator(operator)]
    if component not in COMPONENTS:
        raise ValueError(f"`component` must be one of {', '.join(COMPONENTS)}, got {component!r}")
    sigma = _check_blur(blur)
    plane = channel_plane(image, channel)
    if sigma is not None:  # the op's own pre-blur, so the gradients read what the op's read
        plane = _blur(plane, sigma, {name: geometry[name] for name in ("boundary", "cval") if name in geometry})
    x = explain_filter(plane, x_weights, position=position, **geometry) if component != "y" else None
    y = explain_filter(plane, y_weights, position=position, **geometry) if component != "x" else None
    if component == "x":
        combined = x.value
    elif component == "y":
        combined = y.value
    elif component == "magnitude":
        combined = math.hypot(x.value, y.value)
    else:
        combined = math.atan2(y.value, x.value)
    value = float(abs(combined) > threshold) if threshold is not None else combined
    return GradientExplanation((x or y).position, operator, component, x, y, sigma, combined, threshold, value)
