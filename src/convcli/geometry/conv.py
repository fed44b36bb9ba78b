"""Convolution geometry: the modes and the padding and output length they give (see the package
docstring for the rules)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from ..errors import GeometryError
from .axes import AxisGeometry, _ceil_div, as_padding, as_pair, per_axis

MODES = ("same", "valid", "full")


def conv_axis(
    size: int,
    *,
    kernel: int,
    stride: int = 1,
    dilation: int = 1,
    mode: str = "same",
    padding: tuple[int, int] | None = None,
    correlate: bool = False,
    axis: str = "rows",
) -> AxisGeometry:
    """Padding and output length of one axis of a convolution.

    Parameters
    ----------
    size : int
        Input length.
    kernel, stride, dilation : int
        Kernel taps, step between outputs, step between taps.
    mode : {'same', 'valid', 'full'}
        Ignored when ``padding`` is given.
    padding : (int, int), optional
        Explicit (before, after) padding.
    correlate : bool
        Only matters for ``same`` with an odd total padding: correlation puts the extra pixel after,
        true convolution before.
    axis : str
        Name used in error messages.

    Raises
    ------
    GeometryError
        When the window does not fit and no output pixel would remain.

    Examples
    --------
    >>> g = conv_axis(6, kernel=2, mode="same")
    >>> (g.before, g.after, g.out)
    (1, 0, 6)
    >>> g = conv_axis(6, kernel=2, mode="same", correlate=True)
    >>> (g.before, g.after, g.out)
    (0, 1, 6)
    >>> conv_axis(10, kernel=3, stride=3, padding=(1, 2)).out
    4
    """
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {', '.join(MODES)}, got {mode!r}")
    extent = dilation * (kernel - 1) + 1
    if padding is not None:
        before, after = padding
        out = (size + before + after - extent) // stride + 1
        used_mode = "explicit"
    elif mode == "valid":
        before = after = 0
        out = (size - extent) // stride + 1
        used_mode = mode
    elif mode == "full":
        before = after = extent - 1
        out = (size + 2 * (extent - 1) - extent) // stride + 1
        used_mode = mode
    else:
        out = _ceil_div(size, stride)
        total = max((out - 1) * stride + extent - size, 0)
        before = total // 2 if correlate else _ceil_div(total, 2)
        after = total - before
        used_mode = mode
    if size + before + after < extent or out < 1:
        what = f"the kernel's extent {extent}" + (f" (dilation {dilation})" if dilation > 1 else "")
        raise GeometryError(
            f"{what} is larger than the {size} {axis} of the input"
            + (f" plus padding {before} + {after}" if before or after else "")
            + f"; {'this padding' if used_mode == 'explicit' else '`' + used_mode + '`'} leaves no output: "
            "use a smaller kernel, more padding or `mode: same`"
        )
    return AxisGeometry(size, kernel, stride, dilation, before, after, out, used_mode)


def conv_geometry(
    shape: Sequence[int],
    kernel_shape: Sequence[int],
    *,
    mode: str = "same",
    stride: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    padding: int | Sequence[int] | None = None,
    correlate: bool = False,
) -> tuple[AxisGeometry, AxisGeometry]:
    """Geometry of both axes of a 2-D convolution of an image of ``shape`` (H, W[, C]).

    Examples
    --------
    >>> rows, cols = conv_geometry((512, 512, 3), (4, 4), mode="valid", stride=2)
    >>> rows.out, cols.out
    (255, 255)
    """
    strides = as_pair(stride, name="stride")
    dilations = as_pair(dilation, name="dilation")
    pads = None if padding is None else as_padding(padding)
    if len(kernel_shape) != 2 or min(kernel_shape) < 1:
        raise ValueError(f"`kernel` must be a non-empty 2-D matrix, got shape {tuple(kernel_shape)}")
    kernel_sizes = (int(kernel_shape[0]), int(kernel_shape[1]))
    return per_axis(partial(conv_axis, mode=mode, correlate=correlate), shape, kernel=kernel_sizes,
                    stride=strides, dilation=dilations, padding=pads)
