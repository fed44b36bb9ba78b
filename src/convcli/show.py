"""Looking at an array: a small one as a grid of annotated cells, a large one as a terminal preview
(README, Learning with convcli; docs/semantics.md §5). Arrays in, plain data out; nothing is printed.

- **The grid** (:func:`cell_grid`, :func:`grid_png`): one cell per pixel, filled with the pixel's colour and
  with its value(s) written in it, as the lecture's ``plot_img`` does with ``imshow`` and ``annotate``. The
  colours, texts and drawing are :mod:`convcli.drawing`'s; this module chooses the scale
  (:func:`display_limits`) and what a cell shows for each number of channels.
- **The preview** (:func:`preview_pixels`, :func:`half_blocks`): the image reduced by area averaging
  (:func:`reduce_area`) to at most ``columns`` pixels wide and ``2 × rows`` high, keeping its aspect, then
  paired into half-block characters: a terminal character is about twice as high as it is wide, so a
  character whose upper half is one pixel's colour (``▀`` in the foreground colour) and whose lower half
  is the next row's (the background colour) shows two square pixels.

Channels: 1 (or a 2-D array) — the values' colours (:func:`convcli.drawing.value_colours`); 2 — grey and
alpha (the first channel's colour); 3 and 4 — RGB(A), the pixel's colour (alpha not composited); every
channel's value is written in the cell, separated by commas. More than 4 channels: choose one (``channel``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .drawing import CELL, grid_picture, value_colours, value_texts
from .vocabulary import SHOW_MAX_CELLS
from .vocabulary import SHOW_MOST_CELLS as MOST_CELLS

__all__ = [
    "MOST_CELLS",
    "CellGrid",
    "HalfBlocks",
    "cell_grid",
    "display_limits",
    "fits_grid",
    "grid_png",
    "half_blocks",
    "preview_pixels",
    "preview_size",
    "reduce_area",
    "shown_values",
    "terminal_view",
]

#: The most channels a cell can show together (RGBA).
_MOST_CHANNELS = 4
#: How many values :func:`reduce_area` converts to float64 at a time (32 MiB).
_BAND_VALUES = 1 << 22


@dataclass(frozen=True)
class CellGrid:
    """A grid as data: each cell's fill colour (``colours``, (rows, cols, 3) floats in 0..255) and text."""

    colours: np.ndarray
    texts: list[list[str]]

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.colours.shape[0]), int(self.colours.shape[1])


@dataclass(frozen=True)
class HalfBlocks:
    """A preview as character cells: ``top[r, c]`` is the colour of the upper half of character (r, c)
    (pixel row 2r), ``bottom[r, c]`` that of its lower half (pixel row 2r + 1). An odd number of pixel rows
    leaves the last character row without a lower half: ``bottom`` then has one row fewer. Colours are
    (…, 3) uint8."""

    top: np.ndarray
    bottom: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """Character rows and columns."""
        return int(self.top.shape[0]), int(self.top.shape[1])


def shown_values(array: Any, *, channel: int | None = None) -> np.ndarray:
    """The array a view shows: (H, W) or (H, W, C) with C ≤ 4; ``channel`` picks one channel (H, W).

    Examples
    --------
    >>> shown_values(np.zeros((2, 3, 1))).shape, shown_values(np.zeros((2, 3, 6)), channel=5).shape
    ((2, 3), (2, 3))
    """
    values = np.asarray(array)
    if values.dtype.kind not in "biuf":
        raise ValueError(f"`array` must hold real numbers, got dtype {values.dtype}")
    if values.ndim not in (2, 3) or 0 in values.shape:
        raise ValueError(f"`array` must be a non-empty (H, W) or (H, W, C) array, got shape {values.shape}")
    channels = 1 if values.ndim == 2 else values.shape[2]
    if channel is not None:
        if isinstance(channel, bool) or not isinstance(channel, int | np.integer) or not 0 <= channel < channels:
            raise ValueError(f"`channel` must be a channel of the array, 0 to {channels - 1}, got {channel!r}")
        return values if values.ndim == 2 else values[..., channel]
    if channels > _MOST_CHANNELS:
        raise ValueError(f"an array of {channels} channels has no one picture; choose one with `channel` "
                         f"(0 to {channels - 1})")
    return values[..., 0] if values.ndim == 3 and channels == 1 else values


def display_limits(values: Any) -> tuple[float, float]:
    """The scale a view colours ``values`` on: an unsigned integer dtype's full range (0..255 for uint8,
    so an 8-bit pixel keeps its brightness), else the finite values' own range widened to include 0
    (:func:`convcli.drawing.value_colours`' default, taken from the whole array so that a reduced preview
    keeps it).

    Examples
    --------
    >>> display_limits(np.array([[3, 7]], np.uint8)), display_limits(np.array([[0.5, 2.0]]))
    ((0.0, 255.0), (0.0, 2.0))
    >>> display_limits(np.array([[-1.0, 0.5]]))
    (-1.0, 0.5)
    """
    values = np.asarray(values)
    if values.dtype.kind == "b":
        return 0.0, 1.0
    if values.dtype.kind == "u":
        return 0.0, float(np.iinfo(values.dtype).max)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 0.0
    return min(float(finite.min()), 0.0), float(finite.max())


def _colours(values: np.ndarray, limits: tuple[float, float]) -> np.ndarray:
    """The fill colours of (H, W) or (H, W, C ≤ 4) ``values`` on the scale ``limits`` (module rules)."""
    if values.ndim == 2:
        return value_colours(values, limits=limits)
    if values.shape[2] < 3:  # grey and alpha
        return value_colours(values[..., 0], limits=limits)
    low, high = limits
    rgb = np.asarray(values[..., :3], dtype=np.float64)
    rgb = np.where(np.isfinite(rgb), rgb, low)
    span = high - low
    return np.clip((rgb - low) / span, 0.0, 1.0) * 255.0 if span > 0 else np.zeros_like(rgb)


def _colour_limits(values: np.ndarray) -> tuple[float, float]:
    """:func:`display_limits` of the channels that make the colour (grey, or RGB without alpha)."""
    if values.ndim == 2:
        return display_limits(values)
    return display_limits(values[..., :1] if values.shape[2] < 3 else values[..., :3])


def fits_grid(shape: tuple[int, ...], *, max_cells: int = SHOW_MAX_CELLS) -> bool:
    """Whether an array of ``shape`` is shown as a grid (at most ``max_cells`` a side) or as a preview.

    Examples
    --------
    >>> fits_grid((28, 28)), fits_grid((28, 33, 3))
    (True, False)
    """
    _check_max_cells(max_cells)
    return max(shape[:2]) <= max_cells


def _check_max_cells(max_cells: int) -> None:
    if isinstance(max_cells, bool) or not isinstance(max_cells, int | np.integer) or not 1 <= max_cells <= MOST_CELLS:
        raise ValueError(f"`max_cells` must be a whole number from 1 to {MOST_CELLS}, got {max_cells!r}")


def cell_grid(array: Any, *, channel: int | None = None, max_cells: int = SHOW_MAX_CELLS) -> CellGrid:
    """The annotated grid of a small array: each cell's colour and text (module rules).

    Refused when the array has more than ``max_cells`` rows or columns.

    Examples
    --------
    >>> grid = cell_grid(np.array([[0, 255]], np.uint8))
    >>> grid.texts, grid.colours[0, 1].tolist()
    ([['0', '255']], [255.0, 255.0, 255.0])
    >>> cell_grid(np.array([[[255, 0, 0]]], np.uint8)).texts
    [['255,0,0']]
    """
    _check_max_cells(max_cells)
    values = shown_values(array, channel=channel)
    rows, cols = values.shape[:2]
    if max(rows, cols) > MOST_CELLS:
        raise ValueError(f"a {rows}×{cols} array is too large for a grid (at most {MOST_CELLS} cells a side); "
                         "look at it as a preview, or at a part of it")
    if max(rows, cols) > max_cells:
        raise ValueError(f"a {rows}×{cols} array has more than {max_cells} cells a side; raise `max_cells` to "
                         f"{max(rows, cols)} for its grid, or look at it as a preview")
    colours = _colours(values, _colour_limits(values))
    if values.ndim == 2:
        return CellGrid(colours, value_texts(values))
    per_channel = [value_texts(values[..., c]) for c in range(values.shape[2])]
    texts = [[",".join(channel_texts[i][j] for channel_texts in per_channel) for j in range(cols)]
             for i in range(rows)]
    return CellGrid(colours, texts)


def grid_png(array: Any, *, channel: int | None = None, max_cells: int = SHOW_MAX_CELLS,
             cell: int = CELL) -> np.ndarray:
    """The annotated grid of a small array as a picture ((H, W, 3) uint8), drawn by
    :func:`convcli.drawing.grid_picture`; cells of ``cell`` pixels (wider when a text needs it).

    Examples
    --------
    >>> grid_png(np.eye(2), cell=10).shape  # 2×2 cells, 10 high, 14 wide (text and margins), 1-pixel lines
    (23, 31, 3)
    """
    grid = cell_grid(array, channel=channel, max_cells=max_cells)
    return grid_picture(grid.colours, grid.texts, cell=cell).pixels


def preview_size(shape: tuple[int, ...], *, columns: int, rows: int | None = None) -> tuple[int, int]:
    """The pixel size (height, width) a preview reduces ``shape`` to: the largest size, never larger than
    the image, that keeps its aspect (rounded) and fits ``columns`` pixels wide and ``2 × rows`` high (two
    pixels a character row); ``rows=None`` bounds only the width. At least one pixel each way.

    Examples
    --------
    >>> preview_size((512, 512), columns=80, rows=24), preview_size((100, 400), columns=80)
    ((48, 48), (20, 80))
    """
    for name, value in (("columns", columns), ("rows", rows)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1):
            raise ValueError(f"`{name}` must be a whole number >= 1, got {value!r}")
    height, width = int(shape[0]), int(shape[1])
    scale = min(1.0, columns / width, (2 * rows / height) if rows is not None else 1.0)
    return (min(height, max(1, round(height * scale)), 2 * rows if rows is not None else height),
            min(width, max(1, round(width * scale)), columns))


def reduce_area(array: Any, *, rows: int, cols: int) -> np.ndarray:
    """``array`` ((H, W) or (H, W, C)) reduced to ``rows`` × ``cols`` (no larger than it) by area
    averaging, in float64: output pixel (i, j) covers the input rectangle [i·H/rows, (i+1)·H/rows) ×
    [j·W/cols, (j+1)·W/cols) and is the mean of the input over it, each input pixel weighted by the part
    of it inside (OpenCV's ``INTER_AREA``, Pillow's ``reduce``: exact block means when the sizes divide).

    Examples
    --------
    >>> reduce_area(np.array([[0.0, 3.0, 6.0]]), rows=1, cols=2).tolist()  # [0, 1.5) and [1.5, 3)
    [[1.0, 5.0]]
    """
    values = np.asarray(array)
    if values.ndim not in (2, 3) or 0 in values.shape:
        raise ValueError(f"`array` must be a non-empty (H, W) or (H, W, C) array, got shape {values.shape}")
    for name, size, most in (("rows", rows, values.shape[0]), ("cols", cols, values.shape[1])):
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or not 1 <= size <= most:
            raise ValueError(f"`{name}` must be a whole number from 1 to the array's {most}, got {size!r}")
    reduced = _reduce_axis0(values, int(rows))
    return np.swapaxes(_reduce_axis0(np.swapaxes(reduced, 0, 1), int(cols)), 0, 1)


def _reduce_axis0(values: np.ndarray, size: int) -> np.ndarray:
    """Area averaging along axis 0, from n to ``size`` ≤ n, in integer units (an input pixel is ``size``
    units, an output pixel n) so that the weights are exact; read in bands, so a large image is never
    copied whole as floats."""
    n = values.shape[0]
    pixels = np.arange(n, dtype=np.int64)
    first = pixels * size // n                      # the output each input pixel starts in
    inside = np.minimum((pixels + 1) * size, (first + 1) * n) - pixels * size  # its units in that output
    spill = size - inside                           # and in the next one (an input pixel spans at most two)
    out = np.zeros((size, *values.shape[1:]), dtype=np.float64)
    band = max(1, _BAND_VALUES // max(1, values[0].size))
    for start in range(0, n, band):
        stop = min(n, start + band)
        rows = values[start:stop].astype(np.float64)
        weighted = rows * (inside[start:stop] / n).reshape((-1,) + (1,) * (values.ndim - 1))
        groups = np.flatnonzero(np.r_[True, first[start + 1:stop] != first[start:stop - 1]])
        out[first[start:stop][groups]] += np.add.reduceat(weighted, groups, axis=0)
        spilling = np.flatnonzero(spill[start:stop])
        for local in spilling:
            out[first[start + local] + 1] += rows[local] * (spill[start + local] / n)
    return out


def preview_pixels(array: Any, *, columns: int, rows: int | None = None,
                   channel: int | None = None) -> np.ndarray:
    """The colours ((h, w, 3) uint8) of ``array`` reduced to fit a preview of ``columns`` × ``rows``
    characters (:func:`preview_size`, :func:`reduce_area`), coloured on the whole array's scale
    (:func:`display_limits`) as the grid colours its cells.

    Examples
    --------
    >>> preview_pixels(np.array([[0, 255], [255, 255]], np.uint8), columns=1).tolist()
    [[[191, 191, 191]]]
    """
    values = shown_values(array, channel=channel)
    height, width = preview_size(values.shape, columns=columns, rows=rows)
    limits = _colour_limits(values)
    reduced = reduce_area(values, rows=height, cols=width)
    return np.clip(np.rint(_colours(reduced, limits)), 0, 255).astype(np.uint8)


def half_blocks(pixels: Any) -> HalfBlocks:
    """Pair the rows of ``pixels`` ((h, w, 3)) into half-block characters: rows 2r and 2r + 1 are the upper
    and lower halves of character row r.

    Examples
    --------
    >>> blocks = half_blocks(np.arange(9, dtype=np.uint8).reshape(3, 1, 3))
    >>> blocks.shape, blocks.top[:, 0, 0].tolist(), blocks.bottom[:, 0, 0].tolist()
    ((2, 1), [0, 6], [3])
    """
    colours = np.asarray(pixels)
    if colours.ndim != 3 or colours.shape[2] != 3 or 0 in colours.shape:
        raise ValueError(f"`pixels` must be a non-empty (h, w, 3) array, got shape {colours.shape}")
    return HalfBlocks(colours[0::2], colours[1::2])


def terminal_view(array: Any, *, columns: int, rows: int | None = None, max_cells: int = SHOW_MAX_CELLS,
                  channel: int | None = None) -> CellGrid | HalfBlocks:
    """What a terminal shows of ``array``: its :func:`cell_grid` when it has at most ``max_cells`` cells a
    side (:func:`fits_grid`), else its half-block preview in ``columns`` × ``rows`` characters.

    Examples
    --------
    >>> type(terminal_view(np.eye(3), columns=80)).__name__, terminal_view(np.eye(40), columns=10).shape
    ('CellGrid', (5, 10))
    """
    values = shown_values(array, channel=channel)
    if fits_grid(values.shape, max_cells=max_cells):
        return cell_grid(values, max_cells=max_cells)
    return half_blocks(preview_pixels(values, columns=columns, rows=rows))
