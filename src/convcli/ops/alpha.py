"""Alpha through the geometry of a filter: each output takes the alpha of the pixel at the centre of
its window (boundary edge where that is padding), and comes back as the last channel (README,
Values, dtypes and --scale)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..dtypes import work_dtype
from ..geometry import AxisGeometry, conv_geometry


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
