"""A kernel drawn as an annotated grid (``convcli kernels show --png``): arrays in, an RGB array out.

The grid, its colours (diverging when a weight is negative, greys otherwise) and its texts (exact
fractions where every weight is one) follow :mod:`convcli.drawing`, as every annotated grid does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..drawing import CELL, LINE, grid_picture, text_colour, value_colours, value_texts

__all__ = ["CELL", "LINE", "MAX_PICTURE_SIDE", "kernel_picture", "text_colour"]

#: The most rows or columns drawn: a picture of a larger kernel has no readable values (31×31 is about
#: 2000 pixels wide; 1025×1025 would be gigabytes).
MAX_PICTURE_SIDE = 64


def kernel_picture(matrix: Any, *, cell: int = CELL) -> np.ndarray:
    """Draw ``matrix`` as a grid of coloured cells, each with its value written in it.

    Parameters
    ----------
    matrix : array_like
        2-D real, finite numbers (a kernel's weights, as stored or as applied).
    cell : int, optional
        The least side of a cell in pixels, at least 8.

    Returns
    -------
    numpy.ndarray
        ``(rows·cell + (rows+1)·LINE, cols·w + (cols+1)·LINE, 3)`` uint8, where ``w`` is ``cell`` or the
        widest text plus a margin on each side when that is wider.

    Raises
    ------
    ValueError
        If ``matrix`` is not a non-empty 2-D array of finite numbers, has more than
        :data:`MAX_PICTURE_SIDE` rows or columns, or ``cell`` is below 8.

    Examples
    --------
    >>> picture = kernel_picture([[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    >>> picture.shape, picture.dtype.name
    ((148, 148, 3), 'uint8')
    >>> picture[52, 102].tolist()  # a corner of the cell of -2, the most negative: blue
    [33, 102, 172]
    """
    if isinstance(cell, bool) or not isinstance(cell, int | np.integer) or cell < 8:
        raise ValueError(f"`cell` must be a whole number of pixels >= 8, got {cell!r}")
    weights = np.asarray(matrix)
    if weights.ndim != 2 or weights.size == 0 or weights.dtype.kind not in "iuf":
        raise ValueError(f"`matrix` must be a non-empty 2-D array of real numbers, got shape {weights.shape}")
    if max(weights.shape) > MAX_PICTURE_SIDE:
        raise ValueError(f"`matrix` is {weights.shape[0]}×{weights.shape[1]}; a picture is drawn for at most "
                         f"{MAX_PICTURE_SIDE} rows and columns (its values would not be readable)")
    weights = weights.astype(np.float64)
    if not np.isfinite(weights).all():
        raise ValueError("`matrix` must hold finite numbers only; drop or replace the NaN and inf entries")
    return grid_picture(value_colours(weights), value_texts(weights), cell=cell).pixels
