"""Transposed-convolution geometry: each input pixel stamps the kernel at stride F
(``torch.nn.functional.conv_transpose2d``; docs/semantics.md §2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import GeometryError
from .axes import WindowAxis, as_padding, as_pair, per_axis


def check_output_padding(output_padding: int, *, factor: int, dilation: int = 1, axis: str = "rows") -> None:
    """PyTorch's rule for transposed convolution: output padding below the factor (or the dilation).

    Examples
    --------
    >>> check_output_padding(1, factor=2)
    >>> check_output_padding(2, factor=2)
    Traceback (most recent call last):
    ...
    ValueError: `output_padding` 2 must be smaller than the factor 2 along the rows (PyTorch's rule)
    """
    if output_padding >= max(factor, dilation):
        raise ValueError(
            f"`output_padding` {output_padding} must be smaller than the factor {factor}"
            + (f" or the dilation {dilation}" if dilation > 1 else "")
            + f" along the {axis} (PyTorch's rule)"
        )


@dataclass(frozen=True)
class TransposeAxis(WindowAxis):
    """One axis of a transposed convolution: each input pixel stamps the kernel at stride ``stride``.

    ``out = (n − 1)·s − before − after + e + output_padding`` (``torch.nn.functional.conv_transpose2d``).
    """

    output_padding: int
    out: int

    def formula(self) -> str:
        """Examples
        --------
        >>> transpose_axis(4, kernel=3, stride=2, padding=(1, 1), output_padding=1).formula()
        '4 → (4 − 1)·2 − 1 − 1 + 3 + 1 = 8'
        """
        return (
            f"{self.size} → ({self.size} − 1)·{self.stride} − {self.before} − {self.after} + {self.extent}"
            f" + {self.output_padding} = {self.out}"
        )


def transpose_axis(
    size: int,
    *,
    kernel: int,
    stride: int,
    dilation: int = 1,
    padding: tuple[int, int] = (0, 0),
    output_padding: int = 0,
    axis: str = "rows",
) -> TransposeAxis:
    """Output length of one axis of a transposed convolution (docs/semantics.md §2).

    Examples
    --------
    >>> transpose_axis(3, kernel=2, stride=2).out
    6
    """
    if min(kernel, stride, dilation) < 1:
        raise ValueError("`kernel`, `factor` and `dilation` must be >= 1")
    if output_padding < 0 or min(padding) < 0:
        raise ValueError("`padding` and `output_padding` must be >= 0")
    check_output_padding(output_padding, factor=stride, dilation=dilation, axis=axis)
    extent = dilation * (kernel - 1) + 1
    out = (size - 1) * stride - padding[0] - padding[1] + extent + output_padding
    if out < 1:
        raise GeometryError(
            f"padding {padding[0]} + {padding[1]} removes every output {axis} "
            f"({(size - 1) * stride + extent + output_padding} before cropping); use less padding"
        )
    return TransposeAxis(size, kernel, stride, dilation, padding[0], padding[1], output_padding, out)


def transpose_output_shape(
    shape: Sequence[int],
    kernel_shape: Sequence[int],
    *,
    factor: int | Sequence[int],
    padding: int | Sequence[int] = 0,
    output_padding: int | Sequence[int] = 0,
) -> tuple[tuple[int, ...], tuple[TransposeAxis, TransposeAxis]]:
    """Output shape of a transposed convolution, from arithmetic alone (for ``--dry-run`` and reports).

    Per axis ``out = (n − 1)·F − before − after + k + output_padding``
    (``torch.nn.functional.conv_transpose2d``).

    Parameters
    ----------
    shape : sequence of int
        Input shape (H, W) or (H, W, C); channels pass through.
    kernel_shape : (int, int)
        Rows and columns of the kernel.
    factor : int or (int, int)
        The stride F (rows, cols), >= 1.
    padding : int, (rows, cols) or (top, bottom, left, right)
        Rows/cols cropped from the stamped buffer (torch's ``padding``; four values generalise it to
        unequal sides).
    output_padding : int or (rows, cols)
        Rows/cols added at the end; each smaller than the factor along its axis (torch's rule).

    Returns
    -------
    (shape, (rows, cols))
        The output shape and the :class:`convcli.geometry.TransposeAxis` of each axis, whose
        ``formula()`` shows the arithmetic.

    Raises
    ------
    ValueError
        A parameter out of range (names it).
    GeometryError
        The padding crops every output row or column.

    Examples
    --------
    >>> shape, (rows, cols) = transpose_output_shape((4, 5, 3), (3, 3), factor=2, padding=1, output_padding=1)
    >>> shape
    (8, 10, 3)
    >>> rows.formula()
    '4 → (4 − 1)·2 − 1 − 1 + 3 + 1 = 8'
    >>> transpose_output_shape((8, 7), (4, 3), factor=(2, 3), padding=(1, 0), output_padding=(0, 1))[0]
    (16, 22)
    """
    factors = as_pair(factor, name="factor")
    pads = as_padding(padding)
    extras = as_pair(output_padding, name="output_padding", minimum=0)
    kernel_shape = tuple(kernel_shape)
    if len(kernel_shape) != 2 or any(isinstance(k, bool) or int(k) != k or int(k) < 1 for k in kernel_shape):
        raise ValueError(f"`kernel_shape` must be two whole numbers >= 1, got {kernel_shape}")
    shape = tuple(shape)
    if len(shape) not in (2, 3) or any(isinstance(n, bool) or int(n) != n or int(n) < 1 for n in shape[:2]):
        raise ValueError(f"`shape` must be (H, W) or (H, W, C) with H, W >= 1, got {shape}")
    rows, cols = per_axis(transpose_axis, shape, kernel=[int(k) for k in kernel_shape], stride=factors,
                          padding=pads, output_padding=extras)
    return (rows.out, cols.out) + tuple(int(c) for c in shape[2:]), (rows, cols)
