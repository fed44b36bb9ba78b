"""CNN convolution layers: :func:`conv2d` (summed over input channels, with groups), :func:`depthwise_conv2d`
and :func:`conv2d_transpose`, their output shapes from arithmetic alone, and :func:`layer_counts`
(parameters and multiply-adds, as Keras's ``model.summary()`` counts parameters).

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
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..dtypes import work_dtype
from ..geometry import AxisGeometry, TransposeAxis, as_pair, as_padding, conv_geometry, conv_axis, resolve_boundary, transpose_axis
from ..vocabulary import CONV_LAYERS, CONV_LAYOUTS, LAYER_PADDINGS, TRANSPOSE_LAYOUTS
from .checks import as_image
from .filter import pad_image

__all__ = [
    "BAND_BYTES",
    "LayerCounts",
    "conv2d",
    "conv2d_shape",
    "conv2d_transpose",
    "conv2d_transpose_shape",
    "depthwise_conv2d",
    "depthwise_conv2d_shape",
    "layer_counts",
]

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


# --------------------------------------------------------------------------------------------------
# conv2d_transpose


def _keras_transpose_axis(size: int, *, kernel: int, stride: int, dilation: int, padding: str,
                          output_padding: int | None, axis: str) -> TransposeAxis:
    """One axis of Keras's ``Conv2DTranspose`` as the PyTorch-style crop it equals.

    Keras 3 (``compute_conv_transpose_output_shape`` and its padding conversion), with
    ``e = d·(k − 1) + 1``: ``valid`` gives ``(n − 1)·s + max(e, s)`` (``n·s + max(e − s, 0)``), the
    stamped buffer and zeros after; ``same`` gives ``n·s``, cropping ``⌊P/2⌋`` before where
    ``P = max(e − s, 0)`` (the padding of the ``same`` convolution it is the transpose of). With
    ``output_padding`` given, ``valid`` gives ``(n − 1)·s + e + output_padding`` and ``same``
    ``(n − 1)·s + e mod 2 + output_padding``, cropping ``e − 1 − min(⌈L/2⌉, e − 1)`` before, where
    ``L = e + e mod 2 − 2 + output_padding``.
    """
    extent = dilation * (kernel - 1) + 1
    if output_padding is not None and output_padding >= stride:
        raise ValueError(f"`output_padding` {output_padding} must be smaller than the stride {stride} "
                         f"along the {axis} (Keras's rule)")
    if padding == "valid":
        before = 0
        out = (size - 1) * stride + (max(extent, stride) if output_padding is None else extent + output_padding)
    elif output_padding is None:
        # The transpose of the `same` convolution of an n·s input: it crops that convolution's padding.
        before = conv_axis(size * stride, kernel=kernel, stride=stride, dilation=dilation, mode="same",
                           correlate=True, axis=axis).before
        out = size * stride
    else:
        length = extent + extent % 2 - 2 + output_padding
        before = extent - 1 - min(-(-length // 2), extent - 1)
        out = (size - 1) * stride + extent % 2 + output_padding
    # As torch's arithmetic: crop `before`, then `after`, or add zeros after (output_padding).
    beyond = (size - 1) * stride + extent - before - out
    return transpose_axis(size, kernel=kernel, stride=stride, dilation=dilation,
                          padding=(before, max(beyond, 0)), output_padding=max(-beyond, 0), axis=axis)


def conv2d_transpose_shape(
    shape: Sequence[int],
    weights_shape: Sequence[int],
    *,
    layout: str = "hwoi",
    strides: int | Sequence[int] = 1,
    padding: str | int | Sequence[int] = "valid",
    output_padding: int | Sequence[int] | None = None,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
) -> tuple[tuple[int, int, int], tuple[TransposeAxis, TransposeAxis]]:
    """Output shape of :func:`conv2d_transpose` from the shapes alone.

    Returns
    -------
    (shape, (rows, cols))
        (H', W', C_out) and each axis as a :class:`convcli.geometry.TransposeAxis`: the PyTorch crop
        (``before``, ``after``, ``output_padding``) that gives the same output, whose ``formula()``
        shows ``out = (n − 1)·s − before − after + e + output_padding``.

    Examples
    --------
    >>> conv2d_transpose_shape((7, 7, 8), (3, 3, 16, 8), strides=2, padding="same")[0]
    (14, 14, 16)
    >>> conv2d_transpose_shape((7, 7, 8), (3, 3, 16, 8), strides=2)[0]
    (15, 15, 16)
    >>> shape, (rows, _) = conv2d_transpose_shape((4, 4, 2), (2, 3, 3, 3), layout="iohw", strides=2,
    ...                                           padding=1, output_padding=1)
    >>> shape, rows.formula()
    ((8, 8, 3), '4 → (4 − 1)·2 − 1 − 1 + 3 + 1 = 8')
    """
    layout = _choice(layout, TRANSPOSE_LAYOUTS, name="layout")
    if len(weights_shape) != 4 or min(weights_shape) < 1:
        raise ValueError(f"`weights` must be a 4-D array with every side >= 1, got shape {tuple(weights_shape)}")
    if layout == "hwoi":
        kh, kw, group_out, c_in_weights = (int(n) for n in weights_shape)
    else:
        c_in_weights, group_out, kh, kw = (int(n) for n in weights_shape)
    c_in = _channels(shape)
    groups = _whole(groups, name="groups")
    if c_in_weights != c_in:
        order = "kh, kw, C_out/groups, C_in" if layout == "hwoi" else "C_in, C_out/groups, kh, kw"
        raise ValueError(f"`weights` are for {c_in_weights} input channels (layout {layout}: {order}), "
                         f"but the image has {c_in}: check `layout`")
    _check_groups(groups, c_in, group_out * groups, c_in // groups, what=layout)
    strides = as_pair(strides, name="strides")
    dilation = as_pair(dilation, name="dilation")
    mode, pads = _layer_padding(padding)
    if output_padding is None:
        extras: tuple[int, int] | tuple[None, None] = (0, 0) if mode == "explicit" else (None, None)
    else:
        extras = as_pair(output_padding, name="output_padding", minimum=0)
    axes = []
    for index, name in enumerate(("rows", "cols")):
        size, kernel = int(shape[index]), (kh, kw)[index]
        if pads is None:
            axes.append(_keras_transpose_axis(size, kernel=kernel, stride=strides[index], dilation=dilation[index],
                                              padding=mode, output_padding=extras[index], axis=name))
        else:
            axes.append(transpose_axis(size, kernel=kernel, stride=strides[index], dilation=dilation[index],
                                       padding=pads[index], output_padding=int(extras[index] or 0), axis=name))
    rows, cols = axes
    return (rows.out, cols.out, group_out * groups), (rows, cols)


def conv2d_transpose(
    image: Any,
    weights: Any,
    *,
    bias: Any = None,
    layout: str = "hwoi",
    strides: int | Sequence[int] = 1,
    padding: str | int | Sequence[int] = "valid",
    output_padding: int | Sequence[int] | None = None,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
) -> np.ndarray:
    """A transposed convolution layer: Keras ``Conv2DTranspose`` / ``torch.nn.functional.conv_transpose2d``.

    Each input pixel stamps its weighted kernel into the output at the stride (no flip)::

        out[i·sy + a·dy − top, j·sx + b·dx − left, g·Cog + o] += x[i, j, c] · w[a, b, o, c]

    for input channel c of group g (``Cog = C_out/groups``), then the bias.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C_in)
    weights : array_like, 4-D
        ``layout='hwoi'`` (Keras ``Conv2DTranspose``): (kh, kw, C_out/groups, C_in);
        ``'iohw'`` (PyTorch ``ConvTranspose2d``): (C_in, C_out/groups, kh, kw).
    bias : array_like of shape (C_out,), optional
    strides, dilation : int or (int, int)
    padding : {'valid', 'same'}, int, (rows, cols) or (top, bottom, left, right)
        Keras's rules by name (see :func:`conv2d_transpose_shape`; ``same``: ``out = n·s``;
        ``valid``: ``out = n·s + max(e − s, 0)``), or PyTorch's crop amounts:
        ``out = (n − 1)·s − before − after + d·(k − 1) + output_padding + 1``.
    output_padding : int or (int, int), optional
        Added after; smaller than the stride (or the dilation, PyTorch's rule). None: Keras's default
        with a named padding, 0 with amounts.
    groups : int
        PyTorch's: input channel c feeds the output channels of group ``c // (C_in/groups)``.

    Returns
    -------
    numpy.ndarray, shape (H', W', C_out), of :func:`convcli.dtypes.work_dtype`

    Examples
    --------
    >>> x = np.array([[1.0, 10.0]])
    >>> w = np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1)
    >>> conv2d_transpose(x, w, strides=(1, 2))[..., 0]
    array([[ 1.,  2., 13., 20., 30.]])
    >>> conv2d_transpose(x, w, strides=(1, 2), padding="same")[..., 0]
    array([[ 1.,  2., 13., 20.]])
    """
    array, kernel, bias_values, (rows, cols) = _layer_inputs(
        image, weights, bias, lambda shape, kernel_shape: conv2d_transpose_shape(
            shape, kernel_shape, layout=layout, strides=strides, padding=padding, output_padding=output_padding,
            dilation=dilation, groups=groups),
        framework_order=_choice(layout, TRANSPOSE_LAYOUTS, name="layout") == "iohw",
    )
    out = _stamp(array.astype(kernel.dtype, copy=False), kernel, rows, cols, groups=int(groups))
    if bias_values is not None:
        out += bias_values
    return out


def _stamp(values: np.ndarray, kernel: np.ndarray, rows: TransposeAxis, cols: TransposeAxis, *, groups: int) -> np.ndarray:
    """One GEMM per tap and group (input pixels × C_in/groups by C_in/groups × C_out/groups), added
    into the output at the stride; input pixels whose stamp falls outside the output are skipped."""
    height, width, c_in = values.shape
    kh, kw, group_out, _ = kernel.shape
    group_in = c_in // groups
    out = np.zeros((rows.out, cols.out, group_out * groups), dtype=values.dtype)
    if groups == 1:
        grouped = [values.reshape(height * width, c_in)]
    else:  # each group's channels contiguous once, so a tap's GEMM reads them without a copy
        grouped = list(np.ascontiguousarray(values.reshape(height * width, groups, group_in).transpose(1, 0, 2)))

    def inside(axis: TransposeAxis, tap: int, size: int) -> tuple[int, int, int]:
        """Inputs i with 0 <= i·s + tap·d − before < out: (first, stop, first output index)."""
        offset = tap * axis.dilation - axis.before
        first = max(0, -(offset // axis.stride))  # ⌈−offset/s⌉
        stop = min(size, (axis.out - 1 - offset) // axis.stride + 1)
        return first, stop, first * axis.stride + offset

    for a in range(kh):
        top, bottom, row0 = inside(rows, a, height)
        if top >= bottom:
            continue
        for b in range(kw):
            left, right, col0 = inside(cols, b, width)
            if left >= right:
                continue
            target_rows = slice(row0, row0 + (bottom - top - 1) * rows.stride + 1, rows.stride)
            target_cols = slice(col0, col0 + (right - left - 1) * cols.stride + 1, cols.stride)
            for group, inputs in enumerate(grouped):
                # (C_in/groups, C_out/groups): kernel[a, b, o, g·group_in + c] at [c, o]
                matrix = kernel[a, b, :, group * group_in : (group + 1) * group_in].T
                product = (inputs @ matrix).reshape(height, width, group_out)
                out[target_rows, target_cols, group * group_out : (group + 1) * group_out] += product[top:bottom, left:right]
    return out


# --------------------------------------------------------------------------------------------------
# Counts


@dataclass(frozen=True)
class LayerCounts:
    """Parameters and arithmetic of one layer.

    Attributes
    ----------
    weights, biases : int
        Numbers of weights and of bias values; ``params`` is their sum (Keras's ``Param #``).
    multiply_adds : int
        Multiply-adds of one image: ``H'·W'·C_out·kh·kw·C_in/groups`` for a convolution,
        ``H·W·C_in·kh·kw·C_out/groups`` for a transposed one (every input pixel stamps every tap).
    output_shape : (int, int, int)
    """

    weights: int
    biases: int
    multiply_adds: int
    output_shape: tuple[int, int, int]

    @property
    def params(self) -> int:
        return self.weights + self.biases


def layer_counts(
    layer: str,
    shape: Sequence[int],
    weights_shape: Sequence[int],
    *,
    use_bias: bool = True,
    **options: Any,
) -> LayerCounts:
    """Parameter count and multiply-adds of a ``conv2d``, ``depthwise_conv2d`` or ``conv2d_transpose``.

    Parameters
    ----------
    layer : {'conv2d', 'depthwise_conv2d', 'conv2d_transpose'}
    shape : sequence of int
        The input's (H, W) or (H, W, C).
    weights_shape : sequence of int
        As the layer's function takes the weights (in its ``layout``).
    use_bias : bool
        A bias of one value per output channel counts as parameters.
    **options
        The layer's shape options (``layout``, ``strides``, ``dilation``, ``padding``, ``groups``,
        ``output_padding``), as its shape function takes them.

    Examples
    --------
    Keras ``Conv2D(16, (5, 5), strides=5, use_bias=False)`` on a 1920×1080 RGB image:

    >>> counts = layer_counts("conv2d", (1080, 1920, 3), (5, 5, 3, 16), strides=5, use_bias=False)
    >>> counts.params, counts.output_shape, counts.multiply_adds
    (1200, (216, 384, 16), 99532800)
    >>> layer_counts("depthwise_conv2d", (28, 28, 8), (3, 3, 8, 2)).params
    160
    >>> layer_counts("conv2d_transpose", (7, 7, 8), (3, 3, 16, 8), strides=2, padding="same").params
    1168
    """
    layer = _choice(layer, CONV_LAYERS, name="layer")
    if len(weights_shape) != 4:
        raise ValueError(f"`weights` must be a 4-D array with every side >= 1, got shape {tuple(weights_shape)}")
    weights = int(np.prod(weights_shape))
    c_in = _channels(shape)
    if layer == "conv2d":
        out_shape, _ = conv2d_shape(shape, weights_shape, **options)
        kh, kw, group_in, _ = _as_hwio(weights_shape, str(options.get("layout", "hwio")).lower())
        macs = out_shape[0] * out_shape[1] * out_shape[2] * kh * kw * group_in
    elif layer == "depthwise_conv2d":
        out_shape, _ = depthwise_conv2d_shape(shape, weights_shape, **options)
        macs = out_shape[0] * out_shape[1] * out_shape[2] * weights_shape[0] * weights_shape[1]
    else:
        out_shape, _ = conv2d_transpose_shape(shape, weights_shape, **options)
        taps = weights_shape[0] * weights_shape[1] if str(options.get("layout", "hwoi")).lower() == "hwoi" else weights_shape[2] * weights_shape[3]
        groups = int(options.get("groups", 1))
        macs = shape[0] * shape[1] * c_in * taps * (out_shape[2] // groups)
    return LayerCounts(weights, out_shape[2] if use_bias else 0, int(macs), out_shape)
