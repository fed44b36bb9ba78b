"""Upsampling: nearest (blocks), zeros (bed of nails), bilinear, and transposed convolution
(docs/semantics.md §2).

Every method works on (H, W) or (H, W, C) images, channels last, every channel the same way:

- ``nearest``: each pixel repeated into an ``fy × fx`` block (Keras ``UpSampling2D``); dtype kept;
- ``zeros``: each pixel at the top-left corner of its block, zeros elsewhere ("bed of nails"); dtype kept;
- ``bilinear``: ``torch.nn.functional.interpolate(mode='bilinear', align_corners=False)``; float32 for
  images of 16 bits or less and float32, else float64 (as :func:`convcli.dtypes.work_dtype`);
- ``transpose``: ``torch.nn.functional.conv_transpose2d`` with one channel in and out: each input pixel
  stamps ``value · k`` at stride F into a buffer of ``(H − 1)·F + kh`` rows, then ``padding`` is
  cropped and ``output_padding`` rows/cols are added at the end; float32 or float64 as bilinear.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..dtypes import work_dtype
from ..geometry import (
    TransposeAxis,
    as_pair,
    transpose_output_shape,
)
from ..vocabulary import UPSAMPLE_METHODS
from .checks import as_image

__all__ = ["UPSAMPLE_METHODS", "transpose_output_shape", "upsample"]

_AXES = ("rows", "cols")


def _is_zero(value: Any) -> bool:
    """True for the "nothing given" padding values: 0, (0, 0), (0, 0, 0, 0), None."""
    if value is None:
        return True
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == 0
    try:
        return all(not isinstance(v, bool) and v == 0 for v in value)
    except TypeError:
        return False


def _bilinear_axis(array: np.ndarray, factor: int, axis: int) -> np.ndarray:
    """Resize one axis by an integer ``factor`` as torch's bilinear ``align_corners=False`` does."""
    n = array.shape[axis]
    dst = np.arange(n * factor, dtype=np.float64)
    src = np.maximum((dst + 0.5) / factor - 0.5, 0.0)
    i0 = src.astype(np.intp)  # src >= 0, so truncation is floor
    i1 = np.minimum(i0 + 1, n - 1)
    w1 = (src - i0).astype(array.dtype)  # the weights in the array's float type keep it there
    w0 = 1 - w1
    shape = [1] * array.ndim
    shape[axis] = n * factor
    # In place: the result and one more array of its size at a time, the same sums in the same order.
    out = np.take(array, i0, axis=axis)
    out *= w0.reshape(shape)
    part = np.take(array, i1, axis=axis)
    part *= w1.reshape(shape)
    out += part
    return out


def _transpose(array: np.ndarray, weights: np.ndarray, rows: TransposeAxis, cols: TransposeAxis) -> np.ndarray:
    """Stamp ``value · weights`` at the stride, then crop and pad: one numpy op per kernel tap."""
    height, width = array.shape[:2]
    kh, kw = weights.shape
    full_h = (height - 1) * rows.stride + kh
    full_w = (width - 1) * cols.stride + kw
    work = work_dtype(array.dtype)  # as filter2d: float32 for 16 bits or less
    values = array.astype(work, copy=False)
    full = np.zeros((full_h, full_w) + array.shape[2:], dtype=work)
    span_h = (height - 1) * rows.stride + 1
    span_w = (width - 1) * cols.stride + 1
    scratch = np.empty_like(values)
    for a in range(kh):
        for b in range(kw):
            weight = weights[a, b]
            if weight == 0:
                continue
            np.multiply(values, work.type(weight), out=scratch)
            full[a : a + span_h : rows.stride, b : b + span_w : cols.stride] += scratch
    # Output index i is full-buffer index i + before; past the buffer's end (output_padding) it is 0.
    out = np.zeros((rows.out, cols.out) + array.shape[2:], dtype=work)
    r_end = min(rows.before + rows.out, full_h)
    c_end = min(cols.before + cols.out, full_w)
    if r_end > rows.before and c_end > cols.before:
        out[: r_end - rows.before, : c_end - cols.before] = full[rows.before : r_end, cols.before : c_end]
    return out


def upsample(
    image: Any,
    *,
    factor: int | Sequence[int],
    method: str = "nearest",
    kernel: Any = None,
    padding: int | Sequence[int] = 0,
    output_padding: int | Sequence[int] = 0,
) -> np.ndarray:
    """Upsample an image by an integer factor per axis.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        Channels last; every channel is upsampled the same way.
    factor : int or (int, int)
        Output pixels per input pixel along (rows, cols), >= 1; the stride F of ``transpose``.
    method : {'nearest', 'zeros', 'bilinear', 'transpose'}
        ``nearest``: each pixel repeated into an ``fy × fx`` block (Keras ``UpSampling2D``).
        ``zeros``: the pixel at its block's top-left corner, zeros elsewhere ("bed of nails").
        ``bilinear``: ``torch.nn.functional.interpolate(scale_factor=(fy, fx), mode='bilinear',
        align_corners=False)``: source coordinate ``(dst + 0.5)/f − 0.5``, clamped at 0, the next
        pixel clamped at the last one.
        ``transpose``: ``torch.nn.functional.conv_transpose2d(x, k, stride=(fy, fx), padding,
        output_padding)`` with one channel in and out and ``k`` used as given (not flipped):
        ``out[i·F + a − before] += x[i] · k[a]``.
    kernel : str, Kernel or array_like, optional
        The kernel each pixel stamps (anything :func:`convcli.load_kernel` takes). Required for
        ``transpose`` and refused for the other methods.
    padding : int, (rows, cols) or (top, bottom, left, right)
        ``transpose`` only: rows/cols cropped from the start and end of the stamped buffer. One or two
        values are torch's (symmetric) ``padding``; four generalise it.
    output_padding : int or (rows, cols)
        ``transpose`` only: rows/cols added at the end (zeros where the buffer has nothing); each must be
        smaller than the factor along its axis.

    Returns
    -------
    numpy.ndarray
        Shape ``(H·fy, W·fx[, C])`` for ``nearest``, ``zeros`` and ``bilinear``;
        ``((H − 1)·fy − top − bottom + kh + opy, (W − 1)·fx − left − right + kw + opx[, C])`` for
        ``transpose``. ``nearest`` and ``zeros`` keep the input dtype (uint8 stays uint8); ``bilinear``
        and ``transpose`` give float32 for images of 16 bits or less and float32, else float64.

    Raises
    ------
    ValueError
        A parameter out of range (names it).
    GeometryError
        ``transpose`` padding that crops every output row or column.

    Examples
    --------
    >>> img = np.array([[1, 2], [3, 4]], dtype=np.uint8)
    >>> upsample(img, factor=2)
    array([[1, 1, 2, 2],
           [1, 1, 2, 2],
           [3, 3, 4, 4],
           [3, 3, 4, 4]], dtype=uint8)
    >>> upsample(img, factor=(1, 2), method="zeros")
    array([[1, 0, 2, 0],
           [3, 0, 4, 0]], dtype=uint8)
    >>> upsample(np.array([[0.0, 4.0]]), factor=(1, 2), method="bilinear")
    array([[0., 1., 3., 4.]])
    >>> upsample(np.array([[1.0, 10.0]]), factor=(1, 2), method="transpose", kernel="1 2 3")
    array([[ 1.,  2., 13., 20., 30.]])
    >>> upsample(np.array([[1.0, 10.0]]), factor=(1, 2), method="transpose", kernel="1 2 3",
    ...          padding=(0, 1), output_padding=(0, 1))
    array([[ 2., 13., 20., 30.]])
    """
    array = as_image(image)
    fy, fx = as_pair(factor, name="factor")
    if not isinstance(method, str) or method not in UPSAMPLE_METHODS:
        raise ValueError(f"`method` must be one of {', '.join(UPSAMPLE_METHODS)}, got {method!r}")
    if method != "transpose":
        if kernel is not None:
            raise ValueError(f"`kernel` only applies to method='transpose', not method={method!r}")
        for name, value in (("padding", padding), ("output_padding", output_padding)):
            if not _is_zero(value):
                raise ValueError(f"`{name}` only applies to method='transpose', not method={method!r}")

    if method == "nearest":
        height, width = array.shape[:2]
        out = np.empty((height * fy, width * fx) + array.shape[2:], dtype=array.dtype)
        out.reshape((height, fy, width, fx) + array.shape[2:])[...] = array[:, None, :, None]
        return out
    if method == "zeros":
        out = np.zeros((array.shape[0] * fy, array.shape[1] * fx) + array.shape[2:], dtype=array.dtype)
        out[::fy, ::fx] = array
        return out
    if method == "bilinear":
        values = array.astype(work_dtype(array.dtype), copy=False)
        return _bilinear_axis(_bilinear_axis(values, fy, axis=0), fx, axis=1)

    # transpose
    from ..kernels import Kernel, load_kernel

    if kernel is None:
        raise ValueError("`kernel` is needed for method='transpose'")
    kern = kernel if isinstance(kernel, Kernel) else load_kernel(kernel)
    weights = np.asarray(kern.matrix, dtype=np.float64)
    _, (rows, cols) = transpose_output_shape(
        array.shape, weights.shape, factor=(fy, fx), padding=padding, output_padding=output_padding
    )
    return _transpose(array, weights, rows, cols)
