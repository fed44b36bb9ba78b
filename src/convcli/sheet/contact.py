"""The contact sheet: every channel of a result (and, when asked, of its input) as a labelled tile.

Each tile is coloured by :func:`convcli.drawing.value_colours` on a scale (low, high): its own
values' min..max (``each``) or every tile's together (``shared``); enlarged by a whole factor when
small (:func:`tile_zoom`); and labelled under it with its name and value range
(:mod:`convcli.sheet.labels`). The tiles are laid out row by row on cells of one size,
:data:`FRAME`-coloured between and around them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..vocabulary import SHEET_SCALES
from .labels import LabelFont, input_labels, label_font, range_text

__all__ = ["FRAME", "contact_sheet", "sheet_font", "tile_zoom"]

#: Colour of the frame between tiles, around them in cells wider or higher than they are, and of empty
#: grid cells (a slate blue, unlike any tile colour).
FRAME = (64, 96, 128)
_MIN_TILE = 128  # small tiles are enlarged (nearest neighbour, whole factor) to at least this side
_RULE = 1  # rows of frame between a tile and its label band: a white tile edge stays visible


def tile_zoom(height: int, width: int) -> int:
    """The whole factor :func:`contact_sheet` enlarges a ``height`` × ``width`` tile by, unless told:
    the smallest that makes its longer side at least 128 pixels (1 for larger tiles).

    Examples
    --------
    >>> tile_zoom(28, 14), tile_zoom(48, 48), tile_zoom(512, 512)
    (5, 3, 1)
    """
    return max(1, math.ceil(_MIN_TILE / max(int(height), int(width))))


def sheet_font(shapes: Sequence[tuple[int, int]], *, zoom: int | None = None) -> LabelFont:
    """The font of a sheet of tiles of ``shapes`` ((H, W) each) enlarged by ``zoom`` (default each its
    :func:`tile_zoom`): :func:`convcli.sheet.labels.label_font` of the longest enlarged side.

    Examples
    --------
    >>> sheet_font([(28, 28)]) == sheet_font([(300, 400)]), sheet_font([(1024, 1024)]).line >= 1024 / 40
    (True, True)
    """
    return label_font(max(max(int(h), int(w)) * (zoom or tile_zoom(h, w)) for h, w in shapes))


def contact_sheet(
    array: Any,
    *,
    labels: Sequence[str] | None = None,
    scale: str = "each",
    input_image: Any = None,
    columns: int | None = None,
    zoom: int | None = None,
    padding: int = 4,
) -> np.ndarray:
    """Lay out every channel of ``array`` as a labelled tile in one RGB image.

    Each channel becomes a tile coloured by :func:`convcli.drawing.value_colours` on its scale:
    greys from the scale's low end (black) to its high end (white) when the scale has no negative
    value; else the diverging map, zero white, blue below and red above, its ends at ± the largest
    magnitude. Under the tile, on a white band, its label in black: the name, and under it the
    range of the tile's own values (:func:`convcli.sheet.labels.range_text`: ``[-3.21, 4.1]``).

    Parameters
    ----------
    array : array_like
        Real numbers, (H, W) (one tile) or (H, W, C) (C tiles, channel order kept, row by row).
    labels : sequence of str, optional
        One name per channel; default ``"c0"``, ``"c1"``, ... (see :func:`convcli.sheet.bank_labels`);
        ``""`` for a tile with its range only.
    scale : {"each", "shared"}, optional
        ``"each"`` (default): a tile's scale is its own values' min..max, so every tile uses the
        whole map whatever its range; ``"shared"``: one min..max over every tile (the input's
        too), so the same value is the same colour in every tile.
    input_image : array_like, optional
        The image the result was computed from, (H₀, W₀) or (H₀, W₀, C₀) without alpha: its
        channels are the first tiles, labelled ``input`` (``input c0``, ``input c1``, ...). It
        may differ in size from ``array``; each tile is enlarged by its own zoom.
    columns : int, optional
        Tiles per row; default ⌈√n⌉ for n tiles (so 4 tiles make 2×2, 2 tiles 1×2, 6 tiles 2×3).
    zoom : int, optional
        Whole enlargement factor for every tile; default each tile's :func:`tile_zoom` (the
        smallest that makes its longer side at least 128 pixels; 1 for larger tiles).
    padding : int, optional
        Pixels of frame between cells and around them (default 4).

    Returns
    -------
    numpy.ndarray
        uint8, (H', W', 3), the same for the same input. Every cell is as high as the highest
        enlarged tile, a one-pixel frame line and a label band, and as wide as the widest tile, a label line's widest
        unbroken piece (a name is wrapped at spaces and between kernels, never cut) or the widest
        range a label can show, so the layout depends on the shapes and names only. A tile sits
        at the top of its cell, centred; its label band at the bottom. NaN and infinite values
        take no part in a scale and are coloured as its low end.

    Raises
    ------
    ValueError
        ``array`` or ``input_image`` is not 2-D or 3-D real numbers, or is empty; ``labels`` does
        not give one string per channel; or an unknown ``scale``, or a bad
        ``columns``/``zoom``/``padding``.
    TypeError
        ``labels`` is a single string rather than a list of them.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((48, 48, 2))
    >>> x[:, 24:, :] = [1, -2]
    >>> sheet = contact_sheet(x, labels=["c0 mean2", "c1 edge2"])
    >>> sheet.dtype, sheet.shape[2]
    (dtype('uint8'), 3)
    >>> c0 = sheet[4:4 + 144]                            # 48×48 enlarged 3 times, on the first row of cells
    >>> c0[0, 4 + 8].tolist(), c0[0, 4 + 143 - 8].tolist()   # 0 .. 1: greys from black to white
    ([0, 0, 0], [255, 255, 255])
    """
    values = _as_channels(array, name="array")
    names = _check_labels(labels, values.shape[2])
    if scale not in SHEET_SCALES:
        raise ValueError(f"`scale` must be one of {', '.join(SHEET_SCALES)}, got {scale!r}")
    if zoom is not None:
        zoom = _whole(zoom, name="zoom", minimum=1)
    padding = _whole(padding, name="padding", minimum=0)
    groups = [values]
    if input_image is not None:
        source = _as_channels(input_image, name="input_image")
        groups.insert(0, source)
        names = input_labels(source.shape[2]) + names
    count = len(names)
    columns = _whole(columns, name="columns", minimum=1) if columns is not None else math.ceil(math.sqrt(count))
    columns = min(columns, count)

    planes = [group[:, :, j] for group in groups for j in range(group.shape[2])]
    zooms = [zoom or tile_zoom(*group.shape[:2]) for group in groups for _ in range(group.shape[2])]
    limits = [_finite_range(plane) for plane in planes]
    if scale == "shared":
        limits = [(min(low for low, _ in limits), max(high for _, high in limits))] * count
    texts = [range_text(plane) for plane in planes]
    tiles = [_zoomed(_tile_colours(plane, limit), factor) for plane, limit, factor in zip(planes, limits, zooms)]
    font = sheet_font([group.shape[:2] for group in groups], zoom=zoom)
    return _lay_out(tiles, names, texts, font=font, columns=columns, padding=padding)


def _tile_colours(plane: np.ndarray, limits: tuple[float, float]) -> np.ndarray:
    """(H, W) values to (H, W, 3) uint8 colours on the scale ``limits``."""
    from ..drawing import value_colours

    return np.clip(np.rint(value_colours(plane, limits=limits)), 0, 255).astype(np.uint8)


def _finite_range(plane: np.ndarray) -> tuple[float, float]:
    finite = plane[np.isfinite(plane)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)


def _zoomed(tile: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(tile, factor, axis=0), factor, axis=1) if factor > 1 else tile


def _lay_out(tiles: list[np.ndarray], names: list[str], texts: list[str], *, font: LabelFont, columns: int,
             padding: int) -> np.ndarray:
    """Tiles ((h, w, 3) uint8, sizes may differ) on a grid of equal cells, each over its label."""
    margin = font.margin
    cell_width = max([max(tile.shape[1] for tile in tiles), font.range_width() + 2 * margin,
                      *(font.pieces_width(name) + 2 * margin for name in names)])
    wrapped = [font.wrap(name, cell_width - 2 * margin) for name in names]
    most = max(len(name) for name in wrapped)
    lines = [[*name, *[""] * (most - len(name)), text] for name, text in zip(wrapped, texts)]  # ranges in line
    band = font.band(most + 1)
    image_height = max(tile.shape[0] for tile in tiles) + _RULE
    cell_height = image_height + band

    rows = math.ceil(len(tiles) / columns)
    sheet = np.empty((rows * cell_height + (rows + 1) * padding, columns * cell_width + (columns + 1) * padding, 3),
                     dtype=np.uint8)
    sheet[...] = FRAME
    for number, (tile, label) in enumerate(zip(tiles, lines)):
        top = padding + (number // columns) * (cell_height + padding)
        left = padding + (number % columns) * (cell_width + padding)
        height, width = tile.shape[:2]
        offset = left + (cell_width - width) // 2
        sheet[top:top + height, offset:offset + width] = tile
        sheet[top + image_height:top + cell_height, left:left + cell_width] = (
            font.draw(label, cell_width, band)[:, :, np.newaxis])
    return sheet


# --- checks ----------------------------------------------------------------------------------------


def _as_channels(array: Any, *, name: str) -> np.ndarray:
    values = np.asarray(array)
    if values.dtype.kind not in "biuf":
        raise ValueError(f"`{name}` must hold real numbers, got dtype {values.dtype}")
    if values.ndim == 2:
        values = values[:, :, np.newaxis]
    if values.ndim != 3:
        raise ValueError(f"`{name}` must be (H, W) or (H, W, C), got shape {values.shape}")
    if values.size == 0:
        raise ValueError(f"`{name}` is empty (shape {values.shape}): give at least one value")
    return values.astype(np.float64)


def _check_labels(labels: Sequence[str] | None, count: int, *, name: str = "labels", each: str = "channel"
                  ) -> list[str]:
    if labels is None:
        return [f"c{j}" for j in range(count)]
    if isinstance(labels, str):
        raise TypeError(f"`{name}` must be a list of strings, one per {each}, not a single string")
    labels = list(labels)
    if len(labels) != count or not all(isinstance(label, str) for label in labels):
        raise ValueError(f"`{name}` must be {count} strings, one per {each}; got {labels!r}")
    return labels


def _whole(value: Any, *, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"`{name}` must be a whole number >= {minimum}, got {value!r}")
    return int(value)
