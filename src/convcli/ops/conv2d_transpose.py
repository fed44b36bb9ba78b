"""The transposed convolution layer: Keras ``Conv2DTranspose`` / ``torch.nn.functional.conv_transpose2d``
on channels-last images, and its output shape from arithmetic alone.

Keras's named paddings are turned into the PyTorch crop that gives the same output
(:func:`conv2d_transpose_shape`), so one computation serves both: every input pixel stamps its
weighted kernel into the output at the stride, one GEMM per kernel tap (input pixels × C_in by
C_in × C_out), so working memory is the input, the output and one tap's product.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..geometry import TransposeAxis, as_pair, conv_axis, transpose_axis
from ..vocabulary import TRANSPOSE_LAYOUTS
from .checks import check_keywords, keywords_of
from .conv2d import _channels, _check_groups, _choice, _layer_inputs, _layer_padding, _whole

__all__ = ["conv2d_transpose", "conv2d_transpose_shape"]


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


def conv2d_transpose(image: Any, weights: Any, *, bias: Any = None, **geometry: Any) -> np.ndarray:
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
    **geometry
        The keywords of :func:`conv2d_transpose_shape`, with its defaults: ``layout`` (as above;
        ``'hwoi'``), ``strides``, ``dilation`` (int or (int, int); 1), ``padding`` (``'valid'``),
        ``output_padding`` (None) and ``groups`` (1):
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
    check_keywords(geometry, _GEOMETRY, caller="conv2d_transpose")
    layout = geometry.get("layout", "hwoi")
    array, kernel, bias_values, (rows, cols) = _layer_inputs(
        image, weights, bias, lambda shape, kernel_shape: conv2d_transpose_shape(shape, kernel_shape, **geometry),
        framework_order=_choice(layout, TRANSPOSE_LAYOUTS, name="layout") == "iohw",
    )
    out = _stamp(array.astype(kernel.dtype, copy=False), kernel, rows, cols, groups=int(geometry.get("groups", 1)))
    if bias_values is not None:
        out += bias_values
    return out


#: What :func:`conv2d_transpose` passes on to :func:`conv2d_transpose_shape`.
_GEOMETRY = keywords_of(conv2d_transpose_shape)


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
