"""CNN convolution layers: :func:`conv2d` (summed over input channels, with groups) and
:func:`depthwise_conv2d`, and their output shapes from arithmetic alone. The transposed layer is in
:mod:`convcli.ops.conv2d_transpose`, parameter and multiply-add counts in :mod:`convcli.ops.layer_counts`.

Images are channels last, (H, W) or (H, W, C) (a 2-D image has C = 1), and every function here
returns (H', W', C_out). They compute in :func:`convcli.dtypes.work_dtype` of the image (float32 for
images of 16 bits or less and float32, float64 otherwise). Cross-correlation, as Keras and PyTorch
compute it (no kernel flip)::

    out[i, j, o] = bias[o] + Σ_a Σ_b Σ_c w[a, b, c, o] · xp[i·sy + a·dy, j·sx + b·dx, g·Cg + c]

with ``g = o // (C_out / groups)``, ``Cg = C_in / groups`` and ``xp`` the padded image. Shapes and
padding amounts come from :mod:`convcli.geometry` (Keras's ``same``: the extra pixel after).

How it is computed (README, Speed): a matrix product per band of output rows. The image is copied
once into padded channel planes; for each band, every (input channel, tap) pair contributes one row
of a patch matrix (a strided copy of one plane, contiguous for stride 1), and one GEMM of the patch
matrix with the weights writes the band's outputs. Working memory is the input's planes, the output
and one band's patch matrix (about :data:`BAND_BYTES`), never ``kh·kw`` copies of the image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..dtypes import work_dtype
from ..geometry import AxisGeometry, as_pair, as_padding, conv_geometry, resolve_boundary
from ..vocabulary import CONV_LAYOUTS, LAYER_PADDINGS
from .checks import as_image
from .filter import pad_image

__all__ = ["BAND_BYTES", "conv2d", "conv2d_shape", "depthwise_conv2d", "depthwise_conv2d_shape"]

#: Bytes of one band's patch matrix (at most: a small image's whole matrix may be smaller). Measured
#: on this project's 2-core machine with OpenBLAS (float32, 3×3, padding same, medians of 7, under
#: load): the GEMM of a band gets faster per pixel as the band grows, up to about this size, and
#: no faster beyond (64→64 channels at 256²: 4 MB bands 349 ms, 16 MB 217 ms, 64 MB 221 ms; 3→16 at
#: 1024²: 227, 176 and 229 ms). It is a quarter of one tap's product (H'·W'·C_out values) or less
#: for images of 1024² and 16 output channels and more.
BAND_BYTES = 16 << 20


# --------------------------------------------------------------------------------------------------
# Checks


def _weights(weights: Any, *, name: str = "weights") -> np.ndarray:
    """``weights`` as a float64 array of 4 dimensions, each >= 1, all finite."""
    array = np.asarray(weights)
    if array.ndim != 4 or 0 in array.shape:
        raise ValueError(f"`{name}` must be a 4-D array with every side >= 1, got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) or np.iscomplexobj(array):
        raise ValueError(f"`{name}` must hold real numbers, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}` must be finite: it holds NaN or inf")
    return array


def _choice(value: Any, choices: Sequence[str], *, name: str) -> str:
    if not isinstance(value, str) or value.lower() not in choices:
        raise ValueError(f"`{name}` must be one of {', '.join(choices)}, got {value!r}")
    return value.lower()


def _whole(value: Any, *, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer | float) or int(value) != value:
        raise ValueError(f"`{name}` must be a whole number, got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {int(value)}")
    return int(value)


def _layer_padding(padding: Any) -> tuple[str, tuple[tuple[int, int], tuple[int, int]] | None]:
    """``("valid" | "same", None)`` or ``("explicit", ((top, bottom), (left, right)))``."""
    if isinstance(padding, str):
        return _choice(padding, LAYER_PADDINGS, name="padding"), None
    try:
        return "explicit", as_padding(padding)
    except TypeError:
        raise ValueError(
            f"`padding` must be {' or '.join(LAYER_PADDINGS)}, or amounts: an int, (rows, cols) or "
            f"(top, bottom, left, right), got {padding!r}"
        ) from None


def _channels(shape: Sequence[int]) -> int:
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(f"`image` must have shape (H, W) or (H, W, C) with H, W, C >= 1, got {tuple(shape)}")
    return 1 if len(shape) == 2 else int(shape[2])


def _check_groups(groups: Any, c_in: int, c_out: int, group_in: int, *, what: str) -> int:
    groups = _whole(groups, name="groups")
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"`groups` {groups} must divide both the {c_in} input and the {c_out} output channels; "
            "use a divisor of both"
        )
    if group_in != c_in // groups:
        raise ValueError(
            f"`weights` take {group_in} input channel{'s' if group_in != 1 else ''} per group ({what}), "
            f"but the image has {c_in} channel{'s' if c_in != 1 else ''} in {groups} group{'s' if groups != 1 else ''} "
            f"({c_in // groups} per group): give weights for {c_in // groups}, or check `layout`"
        )
    return groups


def _bias(bias: Any, c_out: int, dtype: np.dtype) -> np.ndarray | None:
    if bias is None:
        return None
    array = np.asarray(bias)
    if array.ndim != 1 or array.shape[0] != c_out:
        raise ValueError(f"`bias` must hold one value per output channel ({c_out}), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array) or not np.isfinite(array).all():
        raise ValueError("`bias` must hold finite real numbers")
    return array.astype(dtype)


def _layer_inputs(image: Any, weights: Any, bias: Any, shape_of: Callable[..., tuple[Any, Any]], *,
                  framework_order: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Any]:
    """What :func:`conv2d` and :func:`conv2d_transpose` check and convert alike: the image as (H, W, C),
    the weights in Keras's order (PyTorch's ``framework_order`` moved: (o|i, i|o, kh, kw) → (kh, kw, i|o,
    o|i)) and the bias, both in the image's :func:`work_dtype`, and the axes ``shape_of`` gives."""
    array = as_image(image)
    kernel = _weights(weights)
    (_, _, c_out), axes = shape_of(array.shape, kernel.shape)
    work = work_dtype(array.dtype)
    if framework_order:
        kernel = kernel.transpose(2, 3, 1, 0)
    bias_values = _bias(bias, c_out, work)
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    return array, kernel.astype(work), bias_values, axes


# --------------------------------------------------------------------------------------------------
# conv2d


def _as_hwio(weights_shape: Sequence[int], layout: str) -> tuple[int, int, int, int]:
    kh, kw, group_in, c_out = weights_shape if layout == "hwio" else (
        weights_shape[2], weights_shape[3], weights_shape[1], weights_shape[0])
    return int(kh), int(kw), int(group_in), int(c_out)


def conv2d_shape(
    shape: Sequence[int],
    weights_shape: Sequence[int],
    *,
    layout: str = "hwio",
    strides: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    padding: str | int | Sequence[int] = "valid",
    groups: int = 1,
) -> tuple[tuple[int, int, int], tuple[AxisGeometry, AxisGeometry]]:
    """Output shape of :func:`conv2d` from the shapes alone (for dry runs and reports).

    Parameters are :func:`conv2d`'s; ``weights_shape`` is the weights' shape in ``layout``.

    Returns
    -------
    (shape, (rows, cols))
        (H', W', C_out) and each axis's :class:`convcli.geometry.AxisGeometry` (padding, its
        ``formula()``).

    Examples
    --------
    >>> shape, (rows, cols) = conv2d_shape((1080, 1920, 3), (5, 5, 3, 16), strides=5)
    >>> shape
    (216, 384, 16)
    >>> conv2d_shape((28, 28), (3, 3, 1, 16), padding="same")[0]
    (28, 28, 16)
    >>> conv2d_shape((8, 8, 4), (6, 2, 3, 3), layout="oihw", groups=2, padding=1)[0]
    (8, 8, 6)
    """
    layout = _choice(layout, CONV_LAYOUTS, name="layout")
    if len(weights_shape) != 4 or min(weights_shape) < 1:
        raise ValueError(f"`weights` must be a 4-D array with every side >= 1, got shape {tuple(weights_shape)}")
    kh, kw, group_in, c_out = _as_hwio(weights_shape, layout)
    c_in = _channels(shape)
    _check_groups(groups, c_in, c_out, group_in, what=f"layout {layout}: {'kh, kw, C_in/groups, C_out' if layout == 'hwio' else 'C_out, C_in/groups, kh, kw'}")
    strides = as_pair(strides, name="strides")
    dilation = as_pair(dilation, name="dilation")
    mode, pads = _layer_padding(padding)
    rows, cols = conv_geometry(
        shape, (kh, kw), mode="valid" if mode == "explicit" else mode, stride=strides, dilation=dilation,
        padding=None if pads is None else (*pads[0], *pads[1]), correlate=True,
    )
    return (rows.out, cols.out, c_out), (rows, cols)


def conv2d(
    image: Any,
    weights: Any,
    *,
    bias: Any = None,
    layout: str = "hwio",
    strides: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    padding: str | int | Sequence[int] = "valid",
    groups: int = 1,
    boundary: str = "zero",
    cval: float = 0.0,
) -> np.ndarray:
    """A convolution layer: Keras ``Conv2D`` / ``torch.nn.functional.conv2d`` on a channels-last image.

    Cross-correlation summed over the input channels of each group, plus the bias.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C_in)
        Channels last; a 2-D image has one channel.
    weights : array_like, 4-D
        ``layout='hwio'`` (Keras): (kh, kw, C_in/groups, C_out); ``'oihw'`` (PyTorch):
        (C_out, C_in/groups, kh, kw). Finite.
    bias : array_like of shape (C_out,), optional
    layout : {'hwio', 'oihw'}
    strides, dilation : int or (int, int)
        Step between outputs and between taps (Keras ``strides``, ``dilation_rate``).
    padding : {'valid', 'same'}, int, (rows, cols) or (top, bottom, left, right)
        ``same`` is Keras's (``out = ⌈n/s⌉``, total ``P = max((out − 1)·s + e − n, 0)``, ``⌊P/2⌋``
        before, the extra pixel after); amounts are PyTorch's ``padding``.
    groups : int
        PyTorch's: output channel ``o`` reads input channels ``g·C_in/groups … (g + 1)·C_in/groups − 1``
        with ``g = o // (C_out/groups)``. ``groups = C_in`` is depthwise: with M filters per channel,
        output channel ``c·M + m`` is filter m on channel c (the order of
        :func:`convcli.ops.filter.filter_bank`).
    boundary : {'zero', 'constant', 'reflect', 'symmetric', 'edge', 'wrap'}
        What the padding holds (as for :func:`convcli.ops.filter.filter2d`); frameworks pad zeros.
    cval : float
        Fill value for ``boundary='constant'``.

    Returns
    -------
    numpy.ndarray, shape (H', W', C_out), of :func:`convcli.dtypes.work_dtype`

    Raises
    ------
    ValueError
        A parameter out of range or that does not fit the image (names it).
    GeometryError
        The window leaves no output pixel.

    Examples
    --------
    Two 2×2 filters on a grey image, summed over its one channel:

    >>> img = np.array([[0, 0, 9], [0, 0, 9], [0, 0, 9]], dtype=np.uint8)
    >>> w = np.zeros((2, 2, 1, 2)); w[:, :, 0, 0] = 0.25; w[:, :, 0, 1] = [[-1, 1], [-1, 1]]
    >>> conv2d(img, w)[..., 1]
    array([[ 0., 18.],
           [ 0., 18.]], dtype=float32)
    >>> conv2d(np.ones((4, 4, 3)), np.ones((3, 3, 3, 2)), bias=[0, 1], padding="same")[1, 1]
    array([27., 28.])
    """
    boundary_name = resolve_boundary(boundary)
    if isinstance(cval, bool) or not isinstance(cval, int | float | np.number) or not np.isfinite(cval):
        raise ValueError(f"`cval` must be a finite number, got {cval!r}")
    array, kernel, bias_values, (rows, cols) = _layer_inputs(
        image, weights, bias, lambda shape, kernel_shape: conv2d_shape(
            shape, kernel_shape, layout=layout, strides=strides, dilation=dilation, padding=padding, groups=groups),
        framework_order=_choice(layout, CONV_LAYOUTS, name="layout") == "oihw",
    )
    if array.dtype == bool:
        array = array.view(np.uint8)
    work = kernel.dtype
    planes = _padded_planes(array, rows, cols, boundary=boundary_name, cval=float(cval), dtype=work)
    out = _gemm_conv(planes, kernel, rows, cols, groups=int(groups))
    if bias_values is not None:
        out += bias_values
    return out


def _padded_planes(array: np.ndarray, rows: AxisGeometry, cols: AxisGeometry, *, boundary: str, cval: float,
                   dtype: np.dtype) -> np.ndarray:
    """The image as padded channel planes (C, Hp, Wp) in ``dtype``, padded one plane at a time."""
    pads = ((rows.before, rows.after), (cols.before, cols.after))
    planes = np.empty((array.shape[2], array.shape[0] + sum(pads[0]), array.shape[1] + sum(pads[1])), dtype=dtype)
    for channel in range(array.shape[2]):
        planes[channel] = pad_image(array[:, :, channel], pads, boundary=boundary, cval=cval)
    return planes


def _gemm_conv(planes: np.ndarray, kernel: np.ndarray, rows: AxisGeometry, cols: AxisGeometry, *, groups: int) -> np.ndarray:
    """Banded im2col and GEMM: ``kernel`` is (kh, kw, C_in/groups, C_out) in the planes' dtype."""
    kh, kw, group_in, c_out = kernel.shape
    group_out = c_out // groups
    taps = kh * kw
    depth = group_in * taps  # rows of a group's patch matrix, ordered (channel, a, b)
    # (groups, depth, group_out): row c·taps + a·kw + b of group g is kernel[a, b, c, g·group_out:…]
    matrices = np.ascontiguousarray(
        kernel.reshape(taps, group_in, groups, group_out).transpose(2, 1, 0, 3).reshape(groups, depth, group_out)
    )
    out_h, out_w = rows.out, cols.out
    out = np.empty((out_h, out_w, c_out), dtype=planes.dtype)
    band = max(1, min(out_h, BAND_BYTES // (groups * depth * out_w * planes.itemsize)))
    # One band's patch matrix; its rows (channel, tap) are filled one tap at a time for every channel.
    buffer = np.empty((groups, group_in, taps, band, out_w), dtype=planes.dtype)
    patches = buffer.reshape(groups, depth, band * out_w)  # a view: the GEMM's operand
    sy, sx, dy, dx = rows.stride, cols.stride, rows.dilation, cols.dilation
    col_span = (out_w - 1) * sx + 1
    for first in range(0, out_h, band):
        count = min(band, out_h - first)
        pixels = count * out_w
        row_span = (count - 1) * sy + 1
        for a in range(kh):
            top = first * sy + a * dy
            source = planes[:, top : top + row_span : sy]
            for b in range(kw):
                window = source[:, :, b * dx : b * dx + col_span : sx]
                buffer[:, :, a * kw + b, :count] = window.reshape(groups, group_in, count, out_w)
        target = out[first : first + count].reshape(pixels, c_out)
        if groups == 1:
            np.matmul(patches[0, :, :pixels].T, matrices[0], out=target)
        else:
            products = np.matmul(patches[:, :, :pixels].transpose(0, 2, 1), matrices)  # (groups, pixels, group_out)
            target.reshape(pixels, groups, group_out)[...] = products.transpose(1, 0, 2)
    return out


# --------------------------------------------------------------------------------------------------
# depthwise_conv2d


def depthwise_conv2d_shape(
    shape: Sequence[int],
    weights_shape: Sequence[int],
    *,
    strides: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    padding: str | int | Sequence[int] = "valid",
) -> tuple[tuple[int, int, int], tuple[AxisGeometry, AxisGeometry]]:
    """Output shape of :func:`depthwise_conv2d`: (H', W', C_in·M) and each axis's geometry.

    Examples
    --------
    >>> depthwise_conv2d_shape((50, 50, 3), (2, 2, 3, 2))[0]
    (49, 49, 6)
    """
    kh, kw, c_in, multiplier = _depthwise_shape(shape, weights_shape)
    return conv2d_shape(shape, (kh, kw, 1, c_in * multiplier), strides=strides, dilation=dilation,
                        padding=padding, groups=c_in)


def _depthwise_shape(shape: Sequence[int], weights_shape: Sequence[int]) -> tuple[int, int, int, int]:
    if len(weights_shape) != 4 or min(weights_shape) < 1:
        raise ValueError(
            f"`weights` must be a 4-D array (kh, kw, C_in, depth_multiplier) with every side >= 1, "
            f"got shape {tuple(weights_shape)}"
        )
    c_in = _channels(shape)
    if weights_shape[2] != c_in:
        raise ValueError(
            f"`weights` are for {weights_shape[2]} input channels (kh, kw, C_in, depth_multiplier), "
            f"but the image has {c_in}"
        )
    return tuple(int(n) for n in weights_shape)  # type: ignore[return-value]


def depthwise_conv2d(
    image: Any,
    weights: Any,
    *,
    bias: Any = None,
    strides: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    padding: str | int | Sequence[int] = "valid",
    boundary: str = "zero",
    cval: float = 0.0,
) -> np.ndarray:
    """Keras ``DepthwiseConv2D``: every input channel filtered by its own M filters, not summed.

    ``weights`` has Keras's shape (kh, kw, C_in, depth_multiplier M); output channel ``c·M + m`` is
    filter m on channel c, as :func:`conv2d` with ``groups = C_in`` and the order of
    :func:`convcli.ops.filter.filter_bank`. ``bias`` has C_in·M values; the other parameters are
    :func:`conv2d`'s.

    Examples
    --------
    >>> img = np.dstack([np.ones((3, 3)), 2 * np.ones((3, 3))])
    >>> depthwise_conv2d(img, np.stack([np.ones((2, 2, 2)), -np.ones((2, 2, 2))], axis=-1))[0, 0]
    array([ 4., -4.,  8., -8.])
    """
    kernel = _weights(weights)
    kh, kw, c_in, multiplier = _depthwise_shape(np.shape(image), kernel.shape)
    return conv2d(image, kernel.reshape(kh, kw, 1, c_in * multiplier), bias=bias, strides=strides,
                  dilation=dilation, padding=padding, groups=c_in, boundary=boundary, cval=cval)
