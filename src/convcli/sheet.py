"""Contact sheets: every channel of a result as a labelled tile, in one RGB image.

A filter bank turns one image into many channels (the Keras lecture's 48×48×4); a PNG cannot show
them and a .npy cannot be looked at. :func:`contact_sheet` lays the channels out side by side, each
scaled to 0..255 on its own (so a faint channel is as visible as a strong one) and labelled under
the tile; :func:`bank_labels` names the channels of filter banks the way convcli orders them
(channel c·K + k is kernel k on input channel c). A chain of CNN layers gives maps of different
sizes at each conv layer: :func:`layer_sheet` shows each layer's maps as a block of its own, under
a heading, the blocks one above the other.

Only numpy, scikit-image (:func:`skimage.util.montage`) and Pillow (its built-in default font, so
no font file is needed) are used; nothing is printed or written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["FRAME", "SCALES", "bank_labels", "contact_sheet", "layer_sheet", "pipeline_sheet", "tile_zoom"]

#: How values become 0..255: each tile on its own, all tiles together, or as they are.
SCALES = ("normalize", "global", "clip", "abs", "offset")
#: Colour of the frame between tiles and of empty grid cells (a slate blue, unlike any grey tile).
FRAME = (64, 96, 128)
_LABEL_BACKGROUND = 255
_LABEL_INK = 0
_MIN_TILE = 128  # small tiles are enlarged (nearest neighbour, whole factor) to at least this side
_MARGIN = 3      # pixels around a label


def bank_labels(banks: Sequence[Sequence[str]], *, channels: int = 1) -> list[str]:
    """Name the output channels of filter banks applied one after another.

    Channel ``c·K + k`` of a bank of ``K`` kernels is kernel ``k`` applied to input channel ``c``
    (input-channel major, as TensorFlow orders a depthwise convolution; README, Pipelines), so each label
    is the chain of kernel names that made the channel, joined by ``·``, after its index.

    Parameters
    ----------
    banks : sequence of sequence of str
        The kernel names of each filter step, in order (a single kernel is a bank of one).
    channels : int, optional
        Channels of the input of the first bank (default 1, a grey image); with more than one,
        each chain starts with ``in0``, ``in1``, ...

    Returns
    -------
    list of str
        One label per output channel: ``"c{j} name·name"``.

    Examples
    --------
    >>> bank_labels([["mean2", "edge2"], ["mean2", "edge2"]])
    ['c0 mean2·mean2', 'c1 mean2·edge2', 'c2 edge2·mean2', 'c3 edge2·edge2']
    >>> bank_labels([["sobel-x"]], channels=2)
    ['c0 in0·sobel-x', 'c1 in1·sobel-x']
    >>> bank_labels([], channels=2)
    ['c0 in0', 'c1 in1']
    """
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f"channels must be a whole number >= 1, got {channels!r}")
    chains = [f"in{c}" for c in range(channels)] if channels > 1 else [""]
    for bank in banks:
        if isinstance(bank, str) or not bank or not all(isinstance(name, str) for name in bank):
            raise ValueError(f"each bank must be a non-empty list of kernel names, got {bank!r}")
        chains = [f"{chain}·{name}" if chain else name for chain in chains for name in bank]
    return [f"c{j} {chain}" if chain else f"c{j}" for j, chain in enumerate(chains)]


def tile_zoom(height: int, width: int) -> int:
    """The whole factor :func:`contact_sheet` enlarges a ``height`` × ``width`` tile by, unless told:
    the smallest that makes its longer side at least 128 pixels (1 for larger tiles).

    Examples
    --------
    >>> tile_zoom(28, 14), tile_zoom(48, 48), tile_zoom(512, 512)
    (5, 3, 1)
    """
    return max(1, math.ceil(_MIN_TILE / max(int(height), int(width))))


def contact_sheet(
    array: Any,
    *,
    labels: Sequence[str] | None = None,
    scale: str = "normalize",
    columns: int | None = None,
    zoom: int | None = None,
    padding: int = 4,
) -> np.ndarray:
    """Lay out every channel of ``array`` as a labelled grey tile in one RGB image.

    Each channel becomes a tile (enlarged by a whole ``zoom`` factor when small, so that pixels
    stay sharp), with its label written under it in black on white with Pillow's default font.
    :func:`skimage.util.montage` places the tiles on a grid, ``padding`` pixels apart and from
    the border, on a :data:`FRAME`-coloured background (which also fills empty grid cells).

    Parameters
    ----------
    array : array_like
        Real numbers, (H, W) (one tile) or (H, W, C) (C tiles, channel order kept, row by row).
    labels : sequence of str, optional
        One label per channel; default ``"c0"``, ``"c1"``, ... (see :func:`bank_labels`).
    scale : str, optional
        How values become 0..255:

        - ``"normalize"`` (default): each tile's own min..max is stretched to 0..255, so every
          channel is visible whatever its range; a constant tile is all 0;
        - ``"global"``: one min..max for all tiles, so tiles can be compared;
        - ``"clip"``: rounded and clipped to 0..255 (values already in image units);
        - ``"abs"``: absolute value, then rounded and clipped;
        - ``"offset"``: plus 128, then rounded and clipped (0 is mid-grey).

        NaN and infinite values take no part in min..max and are shown as 0 (black).
    columns : int, optional
        Tiles per row; default ⌈√C⌉ (so 4 tiles make 2×2, 2 tiles 1×2, 6 tiles 2×3).
    zoom : int, optional
        Whole enlargement factor for every tile; default the smallest that makes the longer
        side of a tile at least 128 pixels (1 for larger tiles).
    padding : int, optional
        Pixels of frame between tiles and around them (default 4).

    Returns
    -------
    numpy.ndarray
        uint8, (H', W', 3). Each cell is ``H·zoom`` rows of image plus a label band, and
        ``max(W·zoom, label width)`` columns (the image centred); the same input gives the
        same pixels.

    Raises
    ------
    ValueError
        ``array`` is not 2-D or 3-D real numbers, or is empty; ``labels`` does not give one
        string per channel; or an unknown ``scale``, or a bad ``columns``/``zoom``/``padding``.
    TypeError
        ``labels`` is a single string rather than a list of them.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((48, 48, 4))
    >>> x[:, 24:, :] = [1, 2, 3, 4]
    >>> sheet = contact_sheet(x, labels=bank_labels([["mean2", "edge2"]] * 2))
    >>> sheet.dtype, sheet.shape[2]
    (dtype('uint8'), 3)
    >>> top_left = sheet[4:4 + 144, 4:4 + 144]   # tile c0, 48×48 enlarged 3 times
    >>> int(top_left[0, 0, 0]), int(top_left[0, -1, 0])   # every tile spans 0..255
    (0, 255)
    """
    values = _as_channels(array)
    height, width, count = values.shape
    labels = _check_labels(labels, count)
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
    columns = _whole(columns, name="columns", minimum=1) if columns is not None else math.ceil(math.sqrt(count))
    columns = min(columns, count)
    zoom = _whole(zoom, name="zoom", minimum=1) if zoom is not None else tile_zoom(height, width)
    padding = _whole(padding, name="padding", minimum=0)

    grey = _to_uint8(values, scale)
    if zoom > 1:
        grey = np.repeat(np.repeat(grey, zoom, axis=0), zoom, axis=1)
    tiles = _labelled_tiles(grey, labels)

    from skimage.util import montage

    rows = math.ceil(count / columns)
    return montage(tiles, fill=FRAME, grid_shape=(rows, columns), padding_width=padding, channel_axis=-1)


# --- helpers ---------------------------------------------------------------------------------------


def _as_channels(array: Any) -> np.ndarray:
    values = np.asarray(array)
    if values.dtype.kind not in "biuf":
        raise ValueError(f"array must hold real numbers, got dtype {values.dtype}")
    if values.ndim == 2:
        values = values[:, :, np.newaxis]
    if values.ndim != 3:
        raise ValueError(f"array must be (H, W) or (H, W, C), got shape {values.shape}")
    if values.size == 0:
        raise ValueError(f"array is empty (shape {values.shape})")
    return values.astype(np.float64)


def _check_labels(labels: Sequence[str] | None, count: int, *, name: str = "labels", each: str = "channel") -> list[str]:
    if labels is None:
        return [f"c{j}" for j in range(count)]
    if isinstance(labels, str):
        raise TypeError(f"{name} must be a list of strings, one per {each}, not a single string")
    labels = list(labels)
    if len(labels) != count or not all(isinstance(label, str) for label in labels):
        raise ValueError(f"{name} must be {count} strings, one per {each}; got {labels!r}")
    return labels


def _whole(value: Any, *, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def _to_uint8(values: np.ndarray, scale: str) -> np.ndarray:
    """(H, W, C) floats to (H, W, C) uint8 as ``scale`` says; non-finite values become 0."""
    finite = np.isfinite(values)
    out = np.where(finite, values, 0.0)
    if scale in ("normalize", "global"):
        axes = (0, 1) if scale == "normalize" else None
        lo = np.min(np.where(finite, out, np.inf), axis=axes, keepdims=True)
        hi = np.max(np.where(finite, out, -np.inf), axis=axes, keepdims=True)
        span = hi - lo
        flat = ~(span > 0)  # constant (or no finite values): all 0
        out = np.where(flat, 0.0, (out - np.where(flat, 0.0, lo)) * (255.0 / np.where(flat, 1.0, span)))
    elif scale == "abs":
        out = np.abs(out)
    elif scale == "offset":
        out = out + 128.0
    out = np.where(finite, out, 0.0)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _text_band(labels: list[str]) -> tuple[Any, list[str], list[tuple[int, int, int, int]], int, int]:
    """The font, the labels as drawn, their boxes, the ink's top and the height of a band that
    holds any of them (a line's height, whatever the labels hold, plus a margin above and below)."""
    from PIL import ImageFont

    font = ImageFont.load_default()
    # Pillow's built-in font has no "·": draw the chain of kernels as "mean2>edge2" instead.
    labels = [label.replace("·", ">") for label in labels]
    boxes = [font.getbbox(label) if label else (0, 0, 0, 0) for label in labels]
    reference = font.getbbox("Ag")
    top = min([reference[1], *(box[1] for box in boxes if box[3] > box[1])])
    bottom = max([reference[3], *(box[3] for box in boxes)])
    return font, labels, boxes, top, bottom - top + 2 * _MARGIN


def _draw_text(width: int, band: int, text: str, box: Any, top: int, font: Any, *, x: int) -> np.ndarray:
    """A white ``band`` × ``width`` strip (uint8, grey) with ``text`` in black, its ink from column ``x``."""
    from PIL import Image, ImageDraw

    strip = Image.new("L", (width, band), _LABEL_BACKGROUND)
    ImageDraw.Draw(strip).text((x - box[0], _MARGIN - top), text, fill=_LABEL_INK, font=font)
    return np.asarray(strip)


def _labelled_tiles(grey: np.ndarray, labels: list[str]) -> np.ndarray:
    """(h, w, C) uint8 to (C, h + band, W, 3) uint8: each channel over a white band with its label."""
    font, labels, boxes, top, band = _text_band(labels)
    height, width, count = grey.shape
    cell_width = max([width, *((box[2] - box[0]) + 2 * _MARGIN for label, box in zip(labels, boxes) if label)])
    left = (cell_width - width) // 2

    tiles = np.full((count, height + band, cell_width, 3), _LABEL_BACKGROUND, dtype=np.uint8)
    for j, (label, box) in enumerate(zip(labels, boxes)):
        tiles[j, :height, left:left + width, :] = grey[:, :, j, np.newaxis]
        if not label:
            continue
        strip = _draw_text(cell_width, band, label, box, top, font, x=(cell_width - (box[2] - box[0])) // 2)
        tiles[j, height:, :, :] = strip[:, :, np.newaxis]
    return tiles


def layer_sheet(
    maps: Sequence[Any],
    *,
    names: Sequence[str],
    kinds: Sequence[str] | None = None,
    padding: int = 4,
) -> np.ndarray:
    """The maps of several layers in one RGB image: a block per layer, the blocks top to bottom.

    A block is a heading band — the layer's name, its kind in brackets when ``kinds`` are given,
    and its maps' shape (``encode_conv (Conv2D) 28x28x16``), black on white, from ``padding``
    pixels in, across the whole sheet — over the :func:`contact_sheet` of its maps (default
    scale: each tile's min..max to 0..255, the tile's own zoom), the tiles labelled with the
    name and the channel (``encode_conv c3``). Blocks narrower than the sheet are filled out on
    the right with :data:`FRAME`.

    Parameters
    ----------
    maps : sequence of array_like
        Each layer's result, (H, W, C) or (H, W) (one map); sizes and channels may differ.
    names : sequence of str
        One name per layer.
    kinds : sequence of str, optional
        One kind per layer (``Conv2D``, ``conv2d``), shown in the heading.
    padding : int, optional
        Frame between tiles and around each block's tiles (default 4), as :func:`contact_sheet`.

    Returns
    -------
    numpy.ndarray
        uint8, (H', W', 3): H' the sum of each block's heading band and contact sheet heights,
        W' the widest block or heading (its text plus ``padding`` each side).

    Raises
    ------
    ValueError
        No maps, ``names`` (or ``kinds``) not one string per map, or a map that
        :func:`contact_sheet` refuses.
    TypeError
        ``names`` or ``kinds`` is a single string rather than a list of them.

    Examples
    --------
    >>> import numpy as np
    >>> sheet = layer_sheet([np.zeros((8, 8, 2)), np.zeros((4, 4, 3))], names=["conv2d_1", "conv2d_2"])
    >>> sheet.dtype, sheet.shape[1] >= 2 * 128 + 3 * 4
    (dtype('uint8'), True)
    """
    maps = [_as_channels(values) for values in maps]
    if not maps:
        raise ValueError("maps must hold at least one layer's result")
    names = _check_labels([] if names is None else names, len(maps), name="names", each="map")
    kinds = [""] * len(maps) if kinds is None else _check_labels(kinds, len(maps), name="kinds", each="map")
    padding = _whole(padding, name="padding", minimum=0)
    titles = [f"{name} ({kind}) " if kind else f"{name} " for name, kind in zip(names, kinds)]
    titles = [title + "x".join(str(n) for n in values.shape) for title, values in zip(titles, maps)]
    blocks = [contact_sheet(values, labels=[f"{name} c{j}" for j in range(values.shape[2])], padding=padding)
              for name, values in zip(names, maps)]
    font, titles, boxes, top, band = _text_band(titles)
    width = max([block.shape[1] for block in blocks] + [box[2] - box[0] + 2 * padding for box in boxes])
    rows = []
    for title, box, block in zip(titles, boxes, blocks):
        rows.append(np.repeat(_draw_text(width, band, title, box, top, font, x=padding)[:, :, np.newaxis], 3, axis=2))
        filled = np.empty((block.shape[0], width, 3), dtype=np.uint8)
        filled[...] = FRAME
        filled[:, : block.shape[1]] = block
        rows.append(filled)
    return np.concatenate(rows, axis=0)


def pipeline_sheet(result: Any, steps: Sequence[Any], planned: Any, *, maps: Mapping[int, Any] | None = None
                   ) -> np.ndarray:
    """The contact sheet of a pipeline: its conv layers' maps, or its result.

    ``steps`` are :class:`convcli.pipeline.Step` objects and ``planned`` their
    :class:`convcli.pipeline.Plan`. A chain with conv layers (:func:`convcli.pipeline.layer_positions`)
    gives the :func:`layer_sheet` of their results, which ``maps`` holds by step position (from
    :func:`convcli.pipeline.run` with ``keep``), each named as the summary table names it
    (:func:`convcli.report.step_names`: a model's layer name, else ``conv2d_1``, ...). Any other
    chain gives the contact sheet of ``result``, each tile labelled with the kernels that made it;
    an alpha channel is left out. When later steps change the channel count (so the bank labels no
    longer fit), tiles are labelled ``c0``, ``c1``, ...

    Examples
    --------
    >>> from convcli.pipeline import parse_pipeline, run
    >>> steps = parse_pipeline("steps: [{filter: {kernels: [mean2, edge2], mode: valid}}]", path="p.yaml")
    >>> result, planned, _ = run(steps, np.eye(4))
    >>> pipeline_sheet(result, steps, planned).dtype
    dtype('uint8')
    """
    from .pipeline import layer_positions

    positions = layer_positions(steps)
    if positions:
        missing = [position for position in positions if maps is None or position not in maps]
        if missing:
            raise ValueError(f"`maps` must hold the result of every conv layer step, by position; missing "
                             f"{missing}: run the chain with `keep={positions}`")
        from .report import step_names

        records = planned.steps
        names = step_names(records)
        return layer_sheet([maps[p] for p in positions], names=[names[p] for p in positions],
                           kinds=[records[p].get("layer_class", records[p]["op"]) for p in positions])
    values = np.asarray(result, dtype=np.float64)
    if planned.has_alpha:
        values = values[..., :-1]
    banks = [[k.name for k in step.options["kernels"]] for step in steps if step.op == "filter"]
    first = next((step for step in planned.steps if step["op"] == "filter"), None)
    channels = 1
    if first is not None and len(first["in_shape"]) == 3:
        channels = first["in_shape"][2] - (1 if planned.has_alpha else 0)
    labels = bank_labels(banks, channels=channels)
    count = values.shape[2] if values.ndim == 3 else 1
    return contact_sheet(values, labels=labels if len(labels) == count else None)
