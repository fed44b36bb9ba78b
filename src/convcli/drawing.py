"""Grids of annotated cells: the one drawing that ``kernels show --png``, ``convcli show`` and
``convcli animate`` make (README, Learning with convcli). Arrays in, an RGB array out.

The rules, each written once here:

- **Colours of values** (:func:`value_colours`): values with a negative among them (or a scale whose
  low end is below zero) use a diverging map, ColorBrewer RdBu's blue below zero, white at zero, its red
  above, scaled by the largest magnitude, so zero is always white; values without one are greys from
  black (0, or the scale's low end when it is above 0) to white (the largest). A shared scale
  (``limits``) gives every picture of a series the same colour for the same value.
- **Text** (:func:`value_texts`): exact fractions when every value is a simple rational (``1/9``), else
  3 significant digits; written black on light cells and white on dark ones (:func:`text_colour`).
- **Layout** (:func:`grid_picture`): cells of ``cell`` pixels (wider when the widest text needs it),
  separated and framed by :data:`LINE`-pixel grey lines; a cell may carry an outline (a highlight,
  :data:`OUTLINE` pixels wide, drawn inside the cell so the layout never moves).

Pillow (its built-in font, so no font file is needed) is imported when a picture is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CELL",
    "LINE",
    "LINE_COLOUR",
    "NEGATIVE",
    "OUTLINE",
    "POSITIVE",
    "ZERO",
    "Grid",
    "compose_row",
    "grid_picture",
    "pad_width",
    "text_strip",
    "text_width",
    "text_colour",
    "value_colours",
    "value_texts",
]

#: The side of a cell in pixels (the least: a cell is as wide as its widest text and a margin).
CELL = 48
#: The width of the lines between and around the cells.
LINE = 1
#: The width of a cell's outline (a highlight), drawn inside the cell.
OUTLINE = 3
#: The colour of the lines between the cells.
LINE_COLOUR = (128, 128, 128)
_MARGIN = 4
#: The diverging map's ends and middle (ColorBrewer RdBu): below zero, above zero, zero.
NEGATIVE = (33.0, 102.0, 172.0)
POSITIVE = (178.0, 24.0, 43.0)
ZERO = (255.0, 255.0, 255.0)


def text_colour(rgb: Any) -> tuple[int, int, int]:
    """Black on a light colour, white on a dark one (ITU-R BT.601 luma below 128).

    Examples
    --------
    >>> text_colour((255, 255, 255)), text_colour((178, 24, 43)), text_colour((128, 128, 128))
    ((0, 0, 0), (255, 255, 255), (0, 0, 0))
    """
    red, green, blue = (float(c) for c in rgb)
    # In thousandths, so that a grey of exactly 128 is 128 (0.299 + 0.587 + 0.114 is not 1 in floats).
    return (255, 255, 255) if 299 * red + 587 * green + 114 * blue < 128_000 else (0, 0, 0)


def value_colours(values: Any, *, limits: tuple[float, float] | None = None) -> np.ndarray:
    """The colours of ``values``: (…, 3) floats in 0..255, as the module's rules say.

    ``limits`` (low, high) fixes the scale (a shared scale); by default it is the values' own range.
    Non-finite values are coloured as the scale's low end.

    Examples
    --------
    >>> value_colours([[0.0, 2.0]]).tolist()
    [[[0.0, 0.0, 0.0], [255.0, 255.0, 255.0]]]
    >>> value_colours([-1.0, 0.0]).tolist()
    [[33.0, 102.0, 172.0], [255.0, 255.0, 255.0]]
    >>> value_colours([1.0], limits=(0.0, 4.0)).tolist()
    [[63.75, 63.75, 63.75]]
    """
    array = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(array)
    if limits is None:
        low = float(array[finite].min()) if finite.any() else 0.0
        high = float(array[finite].max()) if finite.any() else 0.0
    else:
        low, high = (float(limit) for limit in limits)
    array = np.where(finite, array, low)
    if low < 0:
        largest = max(abs(low), abs(high))
        scaled = np.clip(array / largest, -1.0, 1.0) if largest > 0 else np.zeros_like(array)
        t = np.abs(scaled)[..., np.newaxis]
        end = np.where((scaled < 0)[..., np.newaxis], np.array(NEGATIVE), np.array(POSITIVE))
        return np.array(ZERO) * (1 - t) + end * t
    bottom = min(low, 0.0) if limits is None else low
    span = high - bottom
    scaled = np.clip((array - bottom) / span, 0.0, 1.0) if span > 0 else np.zeros_like(array)
    return np.repeat(scaled[..., np.newaxis] * 255.0, 3, axis=-1)


def value_texts(values: Any) -> list[list[str]]:
    """The text written in each cell of the 2-D ``values``: exact fractions when every finite value is
    a simple rational, else 3 significant digits; ``nan``/``inf`` as such.

    Examples
    --------
    >>> value_texts([[1 / 9, 0.5], [2.0, 0.0]])
    [['1/9', '1/2'], ['2', '0']]
    >>> value_texts([[0.123456789, float("nan")]])
    [['0.123', 'nan']]
    """
    from .kernels.display import exact_fraction

    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)]
    fractions = all(exact_fraction(v) is not None for v in finite)
    return [[str(exact_fraction(v)) if fractions and np.isfinite(v) else f"{float(v) + 0.0:.3g}" for v in row]
            for row in array]


@dataclass(frozen=True)
class Grid:
    """A drawn grid: its ``pixels`` ((H, W, 3) uint8) and the size of its cells, so the box of any
    cell can be found (:meth:`box`)."""

    pixels: np.ndarray
    cell_height: int
    cell_width: int

    def box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """``(top, left, bottom, right)`` of cell (``row``, ``col``), lines excluded, bottom/right exclusive.

        Examples
        --------
        >>> Grid(np.zeros((1, 1, 3), np.uint8), 10, 20).box(1, 2)
        (12, 43, 22, 63)
        """
        top, left = LINE + row * (self.cell_height + LINE), LINE + col * (self.cell_width + LINE)
        return top, left, top + self.cell_height, left + self.cell_width


def grid_picture(colours: Any, texts: Sequence[Sequence[str]] | None = None, *, cell: int = CELL,
                 cell_width: int | None = None,
                 outlines: Mapping[tuple[int, int], tuple[int, int, int]] | None = None) -> Grid:
    """Draw a grid of cells filled with ``colours`` ((rows, cols, 3), 0..255), with ``texts`` written in
    them (black or white by :func:`text_colour`) and ``outlines`` (cell → colour) drawn inside cells.

    Cells are ``cell`` pixels high and as wide as ``cell``, the widest text plus a margin, or
    ``cell_width`` when given (and wide enough): a series of pictures can keep one layout.

    Examples
    --------
    >>> grid = grid_picture(value_colours([[0.0, 1.0]]), [["0", "1"]], cell=10, outlines={(0, 0): (255, 0, 0)})
    >>> grid.pixels.shape, grid.box(0, 1)  # each cell 14 wide: its text and a 4-pixel margin each side
    ((12, 31, 3), (1, 16, 11, 30))
    >>> grid.pixels[1, 1].tolist()  # the outline, inside the cell
    [255, 0, 0]
    """
    from PIL import Image, ImageDraw, ImageFont

    if isinstance(cell, bool) or not isinstance(cell, int | np.integer) or cell < 8:
        raise ValueError(f"`cell` must be a whole number of pixels >= 8, got {cell!r}")
    fills = np.clip(np.rint(np.asarray(colours, dtype=np.float64)), 0, 255).astype(np.uint8)
    if fills.ndim != 3 or fills.shape[2] != 3 or 0 in fills.shape:
        raise ValueError(f"`colours` must be a non-empty (rows, cols, 3) array, got shape {fills.shape}")
    rows, cols = fills.shape[:2]
    if texts is not None and (len(texts) != rows or any(len(row) != cols for row in texts)):
        raise ValueError(f"`texts` must be {rows} rows of {cols} strings, as `colours` is")
    font = ImageFont.load_default()
    boxes = [[font.getbbox(text) for text in row] for row in texts] if texts is not None else []
    width = max([int(cell), int(cell_width or 0), *(box[2] - box[0] + 2 * _MARGIN for row in boxes for box in row)])
    grid = Grid(np.zeros((0, 0, 3), np.uint8), int(cell), width)

    picture = Image.new("RGB", (cols * width + (cols + 1) * LINE, rows * grid.cell_height + (rows + 1) * LINE),
                        LINE_COLOUR)
    draw = ImageDraw.Draw(picture)
    for i in range(rows):
        for j in range(cols):
            top, left, bottom, right = grid.box(i, j)
            fill = tuple(int(c) for c in fills[i, j])
            draw.rectangle((left, top, right - 1, bottom - 1), fill=fill)
            if outlines and (i, j) in outlines:
                draw.rectangle((left, top, right - 1, bottom - 1), outline=tuple(outlines[i, j]), width=OUTLINE)
            if texts is not None:
                box = boxes[i][j]
                x = left + (width - (box[2] - box[0])) // 2 - box[0]
                y = top + (grid.cell_height - (box[3] - box[1])) // 2 - box[1]
                draw.text((x, y), texts[i][j], fill=text_colour(fill), font=font)
    return Grid(np.asarray(picture), grid.cell_height, width)


def text_width(text: str) -> int:
    """The pixels a strip needs to hold ``text`` on one line: its width in the built-in font and a
    margin each side.

    Examples
    --------
    >>> text_width("") == 2 * _MARGIN, text_width("wide text") > text_width("w")
    (True, True)
    """
    from PIL import ImageFont

    return int(ImageFont.load_default().getlength(text)) + 2 * _MARGIN if text else 2 * _MARGIN


def pad_width(picture: np.ndarray, width: int, *, background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """``picture`` ((h, w, 3) uint8) widened to ``width`` pixels with ``background`` on the right (as is
    when it is that wide already).

    Examples
    --------
    >>> pad_width(np.zeros((2, 3, 3), np.uint8), 5)[:, 3:].tolist() == [[[255] * 3] * 2] * 2
    True
    """
    extra = int(width) - picture.shape[1]
    if extra <= 0:
        return picture
    return np.concatenate([picture, np.full((picture.shape[0], extra, 3), background, dtype=np.uint8)], axis=1)


def text_strip(text: str, *, width: int, background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """A ``width``-pixel strip ((h, width, 3) uint8) with ``text`` centred in black, one line high plus
    a margin above and below (the text is cut to the strip: keep it short).

    Examples
    --------
    >>> strip = text_strip("sum = 4", width=80)
    >>> strip.shape[1], strip.dtype.name, bool((strip < 128).any())
    (80, 'uint8', True)
    """
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    reference = font.getbbox("Ag")
    box = font.getbbox(text) if text else reference
    height = max(reference[3], box[3]) - min(reference[1], box[1]) + 2 * _MARGIN
    strip = Image.new("RGB", (max(int(width), 1), height), background)
    x = (int(width) - (box[2] - box[0])) // 2 - box[0]
    ImageDraw.Draw(strip).text((x, _MARGIN - min(reference[1], box[1])), text, fill=(0, 0, 0), font=font)
    return np.asarray(strip)


def compose_row(pictures: Sequence[np.ndarray], *, titles: Sequence[str] | None = None,
                between: Sequence[str] | None = None, caption: str | None = None, gap: int = 12,
                background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Lay ``pictures`` ((h, w, 3) uint8 each) side by side, tops aligned, each under its title, with the
    texts ``between`` them (an operator such as ``"x"`` or ``"="``, one fewer than the pictures; Pillow's
    built-in font draws ASCII only) and a ``caption``
    under the row. An equation of grids: the window, the kernel as applied, the products.

    Examples
    --------
    >>> a = np.zeros((10, 20, 3), np.uint8)
    >>> row = compose_row([a, a], titles=["x", "k"], between=["*"], caption="y")
    >>> row.shape[1] >= 40 + 2 * 12, row.dtype.name
    (True, 'uint8')
    """
    if not pictures:
        raise ValueError("`pictures` must hold at least one picture")
    if between is not None and len(between) != len(pictures) - 1:
        raise ValueError(f"`between` must hold {len(pictures) - 1} texts, one between each two pictures")
    if titles is not None and len(titles) != len(pictures):
        raise ValueError(f"`titles` must hold {len(pictures)} texts, one per picture")
    columns: list = []
    for index, picture in enumerate(pictures):
        width = picture.shape[1]
        if titles is not None:
            width = max(width, text_width(titles[index]))
        column = [text_strip(titles[index], width=width, background=background)] if titles is not None else []
        body = np.full((picture.shape[0], width, 3), background, dtype=np.uint8)
        left = (width - picture.shape[1]) // 2
        body[:, left:left + picture.shape[1]] = picture
        columns.append(np.concatenate([*column, body]))
        if between is not None and index < len(between):
            sign_width = text_width(between[index]) + 2 * gap
            columns.append((between[index], sign_width))  # drawn once the row's height is known
    height = max(c.shape[0] for c in columns if isinstance(c, np.ndarray))
    laid = []
    for column in columns:
        if isinstance(column, tuple):
            text, width = column
            sign = np.full((height, width, 3), background, dtype=np.uint8)
            strip = text_strip(text, width=width, background=background)
            top = (height - strip.shape[0]) // 2
            sign[top:top + strip.shape[0]] = strip
            laid.append(sign)
        else:
            padded = np.full((height, column.shape[1], 3), background, dtype=np.uint8)
            padded[:column.shape[0]] = column
            laid.append(padded)
        if between is None:
            laid.append(np.full((height, gap, 3), background, dtype=np.uint8))
    if between is None:
        laid.pop()
    row = np.concatenate(laid, axis=1)
    margin = np.full((height, gap, 3), background, dtype=np.uint8)
    row = np.concatenate([margin, row, margin], axis=1)
    if caption:
        width = max(row.shape[1], text_width(caption))
        row = np.concatenate([pad_width(row, width, background=background),
                              text_strip(caption, width=width, background=background)])
    return row
