"""A kernel drawn as an annotated grid (``convcli kernels show --png``): arrays in, an RGB array out.

Each entry is a square cell of :data:`CELL` pixels (wider when its text needs it), cells are separated
and framed by :data:`LINE`-pixel grey lines, and each cell's value is written in it with Pillow's
built-in font (as :mod:`convcli.sheet` writes its labels), in black on light cells and in white on dark
ones. A kernel with a negative entry is coloured with a diverging map, blue below zero, white at zero
and red above, scaled by the largest magnitude; a kernel without one in greys from black (0) to white
(its largest entry). The written value is the exact fraction when every entry is one
(:func:`~convcli.kernels.display.matrix_fractions`), else 3 significant digits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .display import matrix_fractions

__all__ = ["CELL", "LINE", "MAX_PICTURE_SIDE", "kernel_picture", "text_colour"]

#: The side of a cell in pixels (the least: a cell is as wide as its widest text and a margin).
CELL = 48
#: The width of the lines between and around the cells.
LINE = 1
#: The most rows or columns drawn: a picture of a larger kernel has no readable values (31×31 is about
#: 2000 pixels wide; 1025×1025 would be gigabytes).
MAX_PICTURE_SIDE = 64
_MARGIN = 4
_LINE_COLOUR = (128, 128, 128)
_NEGATIVE = np.array([33.0, 102.0, 172.0])  # the ends of ColorBrewer's RdBu
_POSITIVE = np.array([178.0, 24.0, 43.0])
_ZERO = np.array([255.0, 255.0, 255.0])


def text_colour(rgb: Any) -> tuple[int, int, int]:
    """Black on a light colour, white on a dark one (ITU-R BT.601 luma below 128).

    Examples
    --------
    >>> text_colour((255, 255, 255)), text_colour((178, 24, 43))
    ((0, 0, 0), (255, 255, 255))
    """
    red, green, blue = (float(c) for c in rgb)
    return (255, 255, 255) if 0.299 * red + 0.587 * green + 0.114 * blue < 128 else (0, 0, 0)


def _cell_colours(weights: np.ndarray) -> np.ndarray:
    """(rows, cols, 3) float colours of the entries."""
    largest = float(np.abs(weights).max())
    scaled = weights / largest if largest > 0 else np.zeros_like(weights)
    if (weights < 0).any():
        t = np.abs(scaled)[..., np.newaxis]
        end = np.where((scaled < 0)[..., np.newaxis], _NEGATIVE, _POSITIVE)
        return _ZERO * (1 - t) + end * t
    return np.repeat(scaled[..., np.newaxis] * 255.0, 3, axis=2)


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
    from PIL import Image, ImageDraw, ImageFont

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

    fractions = matrix_fractions(weights)
    texts = ([[str(f) for f in row] for row in fractions] if fractions is not None
             else [[f"{float(v) + 0.0:.3g}" for v in row] for row in weights])
    font = ImageFont.load_default()
    boxes = [[font.getbbox(text) for text in row] for row in texts]
    cell_width = max([int(cell), *(box[2] - box[0] + 2 * _MARGIN for row in boxes for box in row)])
    cell_height = int(cell)
    rows, cols = weights.shape
    colours = np.clip(np.rint(_cell_colours(weights)), 0, 255).astype(np.uint8)

    picture = Image.new("RGB", (cols * cell_width + (cols + 1) * LINE, rows * cell_height + (rows + 1) * LINE),
                        _LINE_COLOUR)
    draw = ImageDraw.Draw(picture)
    for i in range(rows):
        for j in range(cols):
            left, top = LINE + j * (cell_width + LINE), LINE + i * (cell_height + LINE)
            fill = tuple(int(c) for c in colours[i, j])
            draw.rectangle((left, top, left + cell_width - 1, top + cell_height - 1), fill=fill)
            box = boxes[i][j]
            x = left + (cell_width - (box[2] - box[0])) // 2 - box[0]
            y = top + (cell_height - (box[3] - box[1])) // 2 - box[1]
            draw.text((x, y), texts[i][j], fill=text_colour(fill), font=font)
    return np.asarray(picture)
