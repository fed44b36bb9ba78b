"""Sheets of a chain: the maps of its conv layers, a block per layer (:func:`layer_sheet`), or the
contact sheet of its result (:func:`pipeline_sheet` chooses)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .contact import FRAME, _as_channels, _check_labels, _whole, contact_sheet, sheet_font
from .labels import bank_labels, input_labels

__all__ = ["layer_sheet", "pipeline_sheet"]


def layer_sheet(
    maps: Sequence[Any],
    *,
    names: Sequence[str],
    kinds: Sequence[str] | None = None,
    scale: str = "each",
    input_image: Any = None,
    padding: int = 4,
) -> np.ndarray:
    """The maps of several layers in one RGB image: a block per layer, the blocks top to bottom.

    A block is a heading band — the layer's name, its kind in brackets when ``kinds`` are given,
    and its maps' shape (``encode_conv (Conv2D) 28x28x16``), black on white, from ``padding``
    pixels in, across the whole sheet, in the font of the block's labels — over the
    :func:`contact_sheet` of its maps, the tiles labelled with the name and the channel
    (``encode_conv c3``) and their ranges. Blocks narrower than the sheet are filled out on the
    right with :data:`FRAME`.

    Parameters
    ----------
    maps : sequence of array_like
        Each layer's result, (H, W, C) or (H, W) (one map); sizes and channels may differ.
    names : sequence of str
        One name per layer.
    kinds : sequence of str, optional
        One kind per layer (``Conv2D``, ``conv2d``), shown in the heading.
    scale : {"each", "shared"}, optional
        As :func:`contact_sheet`, within each block: ``"shared"`` gives a layer's maps one scale
        (layers' values are on scales of their own, so each block keeps its own).
    input_image : array_like, optional
        The chain's input (without alpha): a first block, headed ``input`` and its shape, its tiles
        labelled ``input`` (``input c0``, ...), on a scale of its own.
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
        No maps, ``names`` (or ``kinds``) not one string per map, or a map (or ``input_image``)
        that :func:`contact_sheet` refuses.
    TypeError
        ``names`` or ``kinds`` is a single string rather than a list of them.

    Examples
    --------
    >>> import numpy as np
    >>> sheet = layer_sheet([np.zeros((8, 8, 2)), np.zeros((4, 4, 3))], names=["conv2d_1", "conv2d_2"])
    >>> sheet.dtype, sheet.shape[1] >= 2 * 128 + 3 * 4
    (dtype('uint8'), True)
    """
    maps = [_as_channels(values, name="maps") for values in maps]
    if not maps:
        raise ValueError("`maps` must hold at least one layer's result")
    names = _check_labels([] if names is None else names, len(maps), name="names", each="map")
    kinds = [""] * len(maps) if kinds is None else _check_labels(kinds, len(maps), name="kinds", each="map")
    padding = _whole(padding, name="padding", minimum=0)
    blocks = [(f"{name} ({kind}) " if kind else f"{name} ", values,
               contact_sheet(values, labels=[f"{name} c{j}" for j in range(values.shape[2])], scale=scale,
                             padding=padding))
              for name, kind, values in zip(names, kinds, maps)]
    if input_image is not None:
        source = _as_channels(input_image, name="input_image")
        blocks.insert(0, ("input ", source, contact_sheet(source, labels=input_labels(source.shape[2]), scale=scale,
                                                          padding=padding)))
    headings = [(title + "x".join(str(n) for n in values.shape), sheet_font([values.shape[:2]]))
                for title, values, _ in blocks]
    width = max([block.shape[1] for _, _, block in blocks] + [font.width(title) + 2 * padding
                                                               for title, font in headings])
    rows = []
    for (title, font), (_, _, block) in zip(headings, blocks):
        band = font.draw([title], width, font.band(1), left=padding)
        rows.append(np.repeat(band[:, :, np.newaxis], 3, axis=2))
        filled = np.empty((block.shape[0], width, 3), dtype=np.uint8)
        filled[...] = FRAME
        filled[:, : block.shape[1]] = block
        rows.append(filled)
    return np.concatenate(rows, axis=0)


def pipeline_sheet(result: Any, steps: Sequence[Any], planned: Any, *, maps: Mapping[int, Any] | None = None,
                   scale: str = "each", input_image: Any = None) -> np.ndarray:
    """The contact sheet of a pipeline: its conv layers' maps, or its result.

    ``steps`` are :class:`convcli.pipeline.Step` objects and ``planned`` their
    :class:`convcli.pipeline.Plan`. A chain with conv layers (:func:`convcli.pipeline.layer_positions`)
    gives the :func:`layer_sheet` of their results, which ``maps`` holds by step position (from
    :func:`convcli.pipeline.run` with ``keep``), each named as the summary table names it
    (:func:`convcli.report.step_names`: a model's layer name, else ``conv2d_1``, ...). Any other
    chain gives the contact sheet of ``result``, each tile labelled with the kernels that made it;
    an alpha channel is left out. When later steps change the channel count (so the bank labels no
    longer fit), tiles are labelled ``c0``, ``c1``, ... ``scale`` is :func:`contact_sheet`'s;
    ``input_image``, the chain's input as read (its alpha channel, if ``planned`` says it has one,
    is left out), makes the first tiles (a first block, in a layer sheet).

    Examples
    --------
    >>> from convcli.pipeline import parse_pipeline, run
    >>> steps = parse_pipeline("steps: [{filter: {kernels: [mean2, edge2], mode: valid}}]", path="p.yaml")
    >>> result, planned, _ = run(steps, np.eye(4))
    >>> pipeline_sheet(result, steps, planned, scale="shared", input_image=np.eye(4)).dtype
    dtype('uint8')
    """
    if input_image is not None and planned.has_alpha:
        input_image = np.asarray(input_image)[..., :-1]
    from ..pipeline import layer_positions

    positions = layer_positions(steps)
    if positions:
        missing = [position for position in positions if maps is None or position not in maps]
        if missing:
            raise ValueError(f"`maps` must hold the result of every conv layer step, by position; missing "
                             f"{missing}: run the chain with `keep={positions}`")
        from ..report import step_names

        records = planned.steps
        names = step_names(records)
        return layer_sheet([maps[p] for p in positions], names=[names[p] for p in positions],
                           kinds=[records[p].get("layer_class", records[p]["op"]) for p in positions],
                           scale=scale, input_image=input_image)
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
    return contact_sheet(values, labels=labels if len(labels) == count else None, scale=scale,
                         input_image=input_image)
