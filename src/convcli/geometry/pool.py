"""Pooling geometry: window, stride, ``valid``/``same``, ``ceil`` and explicit padding, as PyTorch
and Keras compute them."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from ..errors import GeometryError
from .axes import AxisGeometry, _ceil_div, as_padding, as_pair, per_axis


def check_pool_padding(size: int, padding: tuple[int, int], *, axis: str = "rows") -> None:
    """PyTorch's rule: pooling padding is at most half the window (else a window holds no real pixel).

    Examples
    --------
    >>> check_pool_padding(3, (1, 1))
    >>> check_pool_padding(2, (0, 2))
    Traceback (most recent call last):
    ...
    ValueError: `padding` 2 is more than half the window 2 along the rows (PyTorch's rule: a window would hold no real pixel); use a smaller padding
    """
    if max(padding) * 2 > size:
        raise ValueError(
            f"`padding` {max(padding)} is more than half the window {size} along the {axis} "
            "(PyTorch's rule: a window would hold no real pixel); use a smaller padding"
        )


def pool_axis(
    size: int,
    *,
    kernel: int,
    stride: int | None = None,
    mode: str = "valid",
    ceil: bool = False,
    padding: tuple[int, int] | None = None,
    axis: str = "rows",
) -> AxisGeometry:
    """Padding and output length of one axis of a pooling window (README, Pooling, gradients and upsampling).

    ``valid`` and explicit padding follow ``torch.nn.functional.max_pool2d``: ``⌊(n + p_b + p_a − k)/s⌋ + 1``,
    or ``⌈…⌉ + 1`` with ``ceil``, where the last window must start inside the input or its
    leading padding (torch's rule). ``same`` is Keras's: ``⌈n/s⌉`` with ``⌊P/2⌋`` before. With
    ``ceil``, ``after`` grows to cover the last window; padded cells never take part in any case.

    Examples
    --------
    >>> g = pool_axis(7, kernel=3, stride=2, ceil=True)
    >>> g.out, g.after
    (3, 0)
    >>> g = pool_axis(6, kernel=3, stride=2, ceil=True)
    >>> g.out, g.after, g.formula()
    (3, 1, '6 → ⌈(6 − 3)/2⌉ + 1 = 3')
    >>> pool_axis(5, kernel=2, stride=2, mode="same").out
    3
    """
    stride = kernel if stride is None else stride
    if kernel < 1 or stride < 1:
        raise ValueError(f"`size` and `stride` must be >= 1, got {kernel} and {stride}")
    if mode not in ("valid", "same"):
        raise ValueError(f"`mode` must be valid or same for pooling, got {mode!r}")
    if padding is not None:
        before, after = padding
        check_pool_padding(kernel, padding, axis=axis)
        used_mode = "explicit"
    elif mode == "same":
        if ceil:
            raise ValueError("`ceil` applies to valid or explicit padding; `same` already rounds up")
        out = _ceil_div(size, stride)
        total = max((out - 1) * stride + kernel - size, 0)
        return AxisGeometry(size, kernel, stride, 1, total // 2, total - total // 2, out, "same")
    else:
        before = after = 0
        used_mode = "valid"
    span = size + before + after - kernel
    # torch's pooling_output_shape: ⌊span/s⌋ + 1, or ⌈span/s⌉ + 1 with ceil_mode (so a window
    # wider than the input still gives one output when it starts inside it).
    out = (_ceil_div(span, stride) if ceil else span // stride) + 1
    text = None
    if ceil:
        text = f"{size} → ⌈({size}" + (f" + {before} + {after}" if before or after else "") + f" − {kernel})/{stride}⌉ + 1"
        if (out - 1) * stride >= size + before:  # the last window would start in the trailing padding
            text += f" − 1 (a window starting in the trailing padding is dropped) = {out - 1}"
            out -= 1
        else:
            text += f" = {out}"
    if out < 1:
        raise GeometryError(
            f"the pooling window {kernel} is larger than the {size} {axis} of the input"
            + (f" plus padding {before} + {after}" if before or after else "")
            + "; use a smaller `size`, `padding`, `ceil` or `mode: same`"
        )
    if not ceil:
        return AxisGeometry(size, kernel, stride, 1, before, after, out, used_mode)
    # The last window may reach past the padding; those cells take no part either.
    grown = max(after, (out - 1) * stride + kernel - size - before)
    return AxisGeometry(size, kernel, stride, 1, before, grown, out, used_mode, ceil, text, after)


def pool_geometry(
    shape: Sequence[int],
    size: int | Sequence[int],
    *,
    stride: int | Sequence[int] | None = None,
    mode: str = "valid",
    ceil: bool = False,
    padding: int | Sequence[int] | None = None,
) -> tuple[AxisGeometry, AxisGeometry]:
    """Geometry of both axes of a pooling of an image of ``shape`` (H, W[, C]).

    Examples
    --------
    >>> rows, cols = pool_geometry((512, 512), 4, stride=2)
    >>> rows.out, cols.out
    (255, 255)
    """
    sizes = as_pair(size, name="size")
    strides = sizes if stride is None else as_pair(stride, name="stride")
    pads = None if padding is None else as_padding(padding)
    return per_axis(partial(pool_axis, mode=mode, ceil=ceil), shape, kernel=sizes, stride=strides, padding=pads)
