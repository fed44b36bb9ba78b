"""CNN layers written out: per input channel the window · weights sum (conv2d, depthwise_conv2d),
or the stamps that land on the value (conv2d_transpose); then the bias and the activation. And
the steps that work on one pixel (activation, rescale, batch_norm, gray): the values in and out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .base import Explanation, check_position, read_window
from .upsample import TransposeExplanation, finish, stamped
from .windows import FilterExplanation


@dataclass(frozen=True)
class LayerExplanation(Explanation):
    """One output value of a convolution layer: ``activation(Σ_c window_c · weights_c + bias)``.

    Attributes
    ----------
    position : (int, int)
    out_channel : int
    in_channels : tuple of int
        The input channels this output channel reads (its group's).
    channels : tuple of FilterExplanation
        For each of them: the window, the weights (cross-correlation: as stored), the products
        and their sum (its ``value``).
    sum : float
        The channels' sums added.
    bias : float or None
    activation : str
    alpha : float or None
    value : float
        The output value.
    """

    kind: ClassVar[str] = "conv2d"

    position: tuple[int, int]
    out_channel: int
    in_channels: tuple[int, ...]
    channels: tuple[FilterExplanation, ...]
    sum: float
    bias: float | None
    activation: str
    alpha: float | None
    value: float


def _layer_image(image: Any) -> np.ndarray:
    from ..ops.checks import as_image

    array = as_image(image)
    return (array[:, :, None] if array.ndim == 2 else array).astype(np.float64)


def _bias_value(bias: Any, out_channel: int) -> float | None:
    return None if bias is None else float(np.asarray(bias, dtype=np.float64).reshape(-1)[out_channel])


def _out_channel(out_channel: int, count: int) -> int:
    if not 0 <= out_channel < count:
        raise ValueError(f"`out_channel` must be 0..{count - 1}, got {out_channel}")
    return int(out_channel)


def explain_conv2d(image: Any, weights: Any, *, position: Sequence[int], out_channel: int = 0, bias: Any = None,
                   activation: str = "linear", alpha: float | None = None, **geometry: Any) -> LayerExplanation:
    """Write out output ``(position, out_channel)`` of :func:`convcli.ops.conv2d.conv2d` (its
    keywords ``layout``, ``strides``, ``dilation``, ``padding``, ``groups``, ``boundary``, ``cval``,
    with its defaults), with the layer's ``activation`` applied after the bias.

    Examples
    --------
    >>> img = np.dstack([np.ones((3, 3)), 2 * np.ones((3, 3))])
    >>> e = explain_conv2d(img, np.ones((2, 2, 2, 1)), position=(0, 0), bias=[1.0], activation="relu")
    >>> [c.value for c in e.channels], e.sum, e.value        # 4·1 + 4·2, then + 1
    ([4.0, 8.0], 12.0, 13.0)
    """
    from ..ops.checks import check_keywords, keyword_defaults
    from ..ops.conv2d import conv2d, conv2d_shape

    given = keyword_defaults(conv2d, leave_out=("bias",))
    check_keywords(geometry, tuple(given), caller="explain_conv2d")
    given.update(geometry)
    array = _layer_image(image)
    kernel = np.asarray(weights, dtype=np.float64)
    shape, (rows, cols) = conv2d_shape(array.shape, kernel.shape, layout=given["layout"], strides=given["strides"],
                                       dilation=given["dilation"], padding=given["padding"], groups=given["groups"])
    if given["layout"] == "oihw":  # (C_out, C_in/groups, kh, kw) → Keras's (kh, kw, C_in/groups, C_out)
        kernel = kernel.transpose(2, 3, 1, 0)
    row, col = check_position(position, shape)
    out_channel = _out_channel(out_channel, shape[2])
    group_in = kernel.shape[2]
    group = out_channel // (shape[2] // given["groups"])
    in_channels = tuple(range(group * group_in, (group + 1) * group_in))
    channels = []
    for local, c in enumerate(in_channels):
        in_rows, in_cols, padded, window = read_window(array[:, :, c], rows, cols, (row, col), kernel.shape[:2],
                                                       boundary=given["boundary"], cval=float(given["cval"]))
        applied = kernel[:, :, local, out_channel]
        products = window * applied
        channels.append(FilterExplanation((row, col), in_rows, in_cols, padded, window, applied, products,
                                          float(products.sum())))
    total = float(sum(c.value for c in channels))
    bias_value = _bias_value(bias, out_channel)
    return LayerExplanation((row, col), out_channel, in_channels, tuple(channels), total, bias_value, activation, alpha,
                            finish(total, bias_value, activation, alpha))


def explain_depthwise(image: Any, weights: Any, *, position: Sequence[int], out_channel: int = 0, bias: Any = None,
                      activation: str = "linear", alpha: float | None = None, **geometry: Any) -> LayerExplanation:
    """Write out output ``(position, out_channel)`` of :func:`convcli.ops.conv2d.depthwise_conv2d`:
    output channel ``c·M + m`` is filter m on input channel c alone.

    Examples
    --------
    >>> img = np.dstack([np.ones((3, 3)), 2 * np.ones((3, 3))])
    >>> e = explain_depthwise(img, np.ones((2, 2, 2, 1)), position=(0, 0), out_channel=1)
    >>> e.in_channels, e.value
    ((1,), 8.0)
    """
    kernel = np.asarray(weights, dtype=np.float64)
    if kernel.ndim != 4:
        raise ValueError(f"`weights` must be a 4-D array (kh, kw, C_in, depth_multiplier), got shape {kernel.shape}")
    kh, kw, c_in, multiplier = kernel.shape
    # As the op computes it: conv2d with groups = C_in.
    return explain_conv2d(image, kernel.reshape(kh, kw, 1, c_in * multiplier), position=position,
                          out_channel=out_channel, bias=bias, activation=activation, alpha=alpha, groups=c_in,
                          **geometry)


def explain_conv2d_transpose(image: Any, weights: Any, *, position: Sequence[int], out_channel: int = 0,
                             bias: Any = None, activation: str = "linear", alpha: float | None = None,
                             **geometry: Any) -> TransposeExplanation:
    """Write out output ``(position, out_channel)`` of
    :func:`convcli.ops.conv2d_transpose.conv2d_transpose` (its geometry keywords, with its
    defaults): the input pixels and kernel taps that stamp on it, then bias and activation.

    Examples
    --------
    >>> w = np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1)
    >>> e = explain_conv2d_transpose(np.array([[1.0, 10.0]]), w, position=(0, 2), strides=(1, 2))
    >>> [(c.col, c.tap_col, c.product) for c in e.contributions], e.value
    ([(1, 0, 10.0), (0, 2, 3.0)], 13.0)
    """
    from ..ops.checks import check_keywords, keyword_defaults
    from ..ops.conv2d_transpose import conv2d_transpose_shape

    given = keyword_defaults(conv2d_transpose_shape)
    check_keywords(geometry, tuple(given), caller="explain_conv2d_transpose")
    given.update(geometry)
    array = _layer_image(image)
    kernel = np.asarray(weights, dtype=np.float64)
    shape, (rows, cols) = conv2d_transpose_shape(array.shape, kernel.shape, **given)
    if given["layout"] == "iohw":  # (C_in, C_out/groups, kh, kw) → Keras's (kh, kw, C_out/groups, C_in)
        kernel = kernel.transpose(2, 3, 1, 0)
    row, col = check_position(position, shape)
    out_channel = _out_channel(out_channel, shape[2])
    group = out_channel // kernel.shape[2]
    group_in = array.shape[2] // given["groups"]
    contributions = stamped(array, kernel, rows, cols, (row, col), out_channel,
                            range(group * group_in, (group + 1) * group_in))
    total = float(sum(c.product for c in contributions))
    bias_value = _bias_value(bias, out_channel)
    return TransposeExplanation((row, col), out_channel, contributions, total, bias_value, activation, alpha,
                                finish(total, bias_value, activation, alpha))


@dataclass(frozen=True)
class PointExplanation(Explanation):
    """One output value of a step that works on one pixel at a time: the pixel's values in (every
    channel: gray mixes them) and the value out.

    Attributes
    ----------
    op : str
        The step kind (activation, rescale, batch_norm, gray).
    position : (int, int)
    channel : int
        The output channel.
    inputs : tuple of float
        The input pixel's channels.
    weights : tuple of float or None
        gray: the weight of each channel.
    options : dict
        What the step applies (function, scale and offset, ...), as plain data.
    value : float
        The output value.
    """

    kind: ClassVar[str] = "point"

    op: str
    position: tuple[int, int]
    channel: int
    inputs: tuple[float, ...]
    weights: tuple[float, ...] | None
    options: dict
    value: float
