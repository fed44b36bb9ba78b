"""Upsampling written out: the input pixels an output value comes from and their weights (nearest,
zeros, bilinear), and the input pixels and kernel taps that stamp into it (transposed convolution,
the ``transpose`` method and the ``conv2d_transpose`` layer)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from .base import Explanation, channel_plane, check_position


@dataclass(frozen=True)
class UpsampleExplanation(Explanation):
    """One output value of nearest, zeros or bilinear upsampling: ``Σ weight · value``.

    Attributes
    ----------
    position : (int, int)
    method : str
    sources : tuple of (int, int)
        The input pixels read (none for a zeros cell off its block's corner; bilinear's clamped
        neighbours may repeat).
    weights, values, products : tuple of float
        Each source's weight, value and their product.
    value : float
        The sum of the products: the output value.
    """

    kind: ClassVar[str] = "upsample"

    position: tuple[int, int]
    method: str
    sources: tuple[tuple[int, int], ...]
    weights: tuple[float, ...]
    values: tuple[float, ...]
    products: tuple[float, ...]
    value: float


def _bilinear_taps(index: int, factor: int, size: int) -> tuple[tuple[int, float], tuple[int, float]]:
    """The two source indices of output ``index`` along one axis and their weights, as torch's
    ``align_corners=False`` (docs/semantics.md §2): source ``(dst + 0.5)/f − 0.5`` clamped at 0."""
    source = max((index + 0.5) / factor - 0.5, 0.0)
    first = int(source)
    weight = source - first
    return (first, 1.0 - weight), (min(first + 1, size - 1), weight)


def explain_upsample(image: Any, *, position: Sequence[int], factor: int | Sequence[int], method: str = "nearest",
                     channel: int = 0) -> UpsampleExplanation:
    """Write out output ``position`` of :func:`convcli.ops.upsample.upsample` for ``method``
    nearest, zeros or bilinear (:func:`explain_transpose` for ``transpose``), in channel ``channel``.

    Examples
    --------
    >>> e = explain_upsample(np.array([[0.0, 4.0]]), position=(0, 2), factor=(1, 2), method="bilinear")
    >>> e.sources, e.weights, e.value                 # source column 0.75: ¼ of 0 and ¾ of 4
    (((0, 0), (0, 1), (0, 0), (0, 1)), (0.25, 0.75, 0.0, 0.0), 3.0)
    """
    from ..geometry import as_pair
    from ..vocabulary import UPSAMPLE_METHODS

    fy, fx = as_pair(factor, name="factor")
    if method not in UPSAMPLE_METHODS or method == "transpose":
        raise ValueError(f"`method` must be one of {', '.join(m for m in UPSAMPLE_METHODS if m != 'transpose')} "
                         f"(explain_transpose explains transpose), got {method!r}")
    plane = channel_plane(image, channel)
    row, col = check_position(position, (plane.shape[0] * fy, plane.shape[1] * fx))
    if method == "nearest":
        taps = [((row // fy, col // fx), 1.0)]
    elif method == "zeros":
        taps = [((row // fy, col // fx), 1.0)] if row % fy == 0 and col % fx == 0 else []
    else:
        taps = [((r, c), wr * wc) for r, wr in _bilinear_taps(row, fy, plane.shape[0])
                for c, wc in _bilinear_taps(col, fx, plane.shape[1])]
    values = tuple(float(plane[source]) for source, _ in taps)
    weights = tuple(weight for _, weight in taps)
    products = tuple(w * v for w, v in zip(weights, values))
    return UpsampleExplanation((row, col), method, tuple(source for source, _ in taps), weights, values, products,
                               float(sum(products)))


@dataclass(frozen=True)
class Contribution(Explanation):
    """One input pixel's stamp into an output value of a transposed convolution: ``pixel · weight``
    from input ``(row, col, channel)`` through kernel tap ``(tap_row, tap_col)``."""

    kind: ClassVar[str] = "contribution"

    row: int
    col: int
    channel: int
    tap_row: int
    tap_col: int
    pixel: float
    weight: float
    product: float


@dataclass(frozen=True)
class TransposeExplanation(Explanation):
    """One output value of a transposed convolution: every stamp that lands on it, summed, then
    the bias and the activation (a layer's; none for the ``transpose`` upsampling).

    Attributes
    ----------
    position : (int, int)
    out_channel : int
    contributions : tuple of Contribution
        Input pixel ``i`` reaches output ``i·s + a·d − before`` through tap ``a`` (no flip); the
        taps are listed in (input channel, tap row, tap col) order.
    sum : float
        Their products added (0 where nothing lands: output padding, or between stamps).
    bias : float or None
    activation : str
    alpha : float or None
    value : float
        ``activation(sum + bias)``: the output value.
    """

    kind: ClassVar[str] = "transpose"

    position: tuple[int, int]
    out_channel: int
    contributions: tuple[Contribution, ...]
    sum: float
    bias: float | None
    activation: str
    alpha: float | None
    value: float


def _landing(rows: Any, cols: Any, position: tuple[int, int], kernel_shape: Sequence[int], size: Sequence[int]
             ) -> Iterator[tuple[int, int, int, int]]:
    """``(i, j, a, b)`` for every input pixel and kernel tap that stamps on output ``position``:
    ``i·s + a·d − before = row``."""
    def axis(g: Any, out: int, taps: int, length: int) -> list[tuple[int, int]]:
        found = []
        for tap in range(taps):
            offset = out + g.before - tap * g.dilation
            if offset % g.stride == 0 and 0 <= offset // g.stride < length:
                found.append((offset // g.stride, tap))
        return found

    for i, a in axis(rows, position[0], kernel_shape[0], size[0]):
        for j, b in axis(cols, position[1], kernel_shape[1], size[1]):
            yield i, j, a, b


def finish(total: float, bias: float | None, activation: str, alpha: float | None) -> float:
    """A layer's value from its sum: the bias added, then the activation (ops.activations)."""
    if bias is not None:
        total += bias
    if activation == "linear":
        return float(total)
    from ..ops.activations import activation as apply

    return float(apply(np.array([[total]]), function=activation, alpha=alpha)[0, 0])


def stamped(array: np.ndarray, kernel: np.ndarray, rows: Any, cols: Any, position: tuple[int, int], out_channel: int,
            in_channels: Sequence[int]) -> tuple[Contribution, ...]:
    """The contributions to ``position`` of an (H, W, C) ``array`` through a (kh, kw, C_out/groups,
    C_in) ``kernel`` (Keras's hwoi), from ``in_channels`` (the output channel's group)."""
    group_out = kernel.shape[2]
    found = []
    for c in in_channels:
        for i, j, a, b in _landing(rows, cols, position, kernel.shape[:2], array.shape[:2]):
            pixel, weight = float(array[i, j, c]), float(kernel[a, b, out_channel % group_out, c])
            found.append(Contribution(i, j, c, a, b, pixel, weight, pixel * weight))
    return tuple(found)


def explain_transpose(image: Any, *, position: Sequence[int], factor: int | Sequence[int], kernel: Any,
                      padding: int | Sequence[int] = 0, output_padding: int | Sequence[int] = 0, channel: int = 0
                      ) -> TransposeExplanation:
    """Write out output ``position`` of :func:`convcli.ops.upsample.upsample` with
    ``method='transpose'`` (the kernel as given, not flipped), in channel ``channel``.

    Examples
    --------
    >>> e = explain_transpose(np.array([[1.0, 10.0]]), position=(0, 2), factor=(1, 2), kernel="1 2 3")
    >>> [(c.col, c.tap_col, c.product) for c in e.contributions], e.value     # 10·1 + 1·3
    ([(1, 0, 10.0), (0, 2, 3.0)], 13.0)
    """
    from ..geometry import as_pair, transpose_output_shape
    from ..kernels import Kernel, load_kernel

    kern = kernel if isinstance(kernel, Kernel) else load_kernel(kernel)
    weights = np.asarray(kern.matrix, dtype=np.float64)
    plane = channel_plane(image, channel)
    shape, (rows, cols) = transpose_output_shape(plane.shape, weights.shape, factor=as_pair(factor, name="factor"),
                                                 padding=padding, output_padding=output_padding)
    row, col = check_position(position, shape)
    # Every channel is stamped with the same kernel: tap (a, b) of channel c is weights[a, b].
    contributions = stamped(plane[:, :, None], weights[:, :, None, None], rows, cols, (row, col), 0, (0,))
    contributions = tuple(replace(c, channel=channel) for c in contributions)
    total = float(sum(c.product for c in contributions))
    return TransposeExplanation((row, col), channel, contributions, total, None, "linear", None, total)
