"""An explanation drawn (``--explain-png``): the input window, the kernel as applied and the products
as grids side by side, ``window x kernel = products``, with the sum and the result under them; for
pooling the window with the winner outlined; for a gradient a row per direction; for a layer a row
per input channel. Every number drawn is the explanation's, so the picture says what the table says.

Cells are coloured and written as every annotated grid is (:mod:`convcli.drawing`); padding cells
take the padding fill of ``convcli animate`` (:data:`convcli.animate.PADDING_FILL`) so they read as
padding in both views. Pillow's built-in font draws ASCII only: captions write ``x``, ``sqrt``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import Explanation
from .layers import LayerExplanation
from .windows import FilterExplanation, GradientExplanation, PoolExplanation

__all__ = ["PICTURED", "PICTURED_STEPS", "explanation_picture"]

#: The kinds of explanation drawn; the others (upsampling, transposed layers, one-pixel steps) are tables.
PICTURED = ("filter", "sobel", "pool", "conv2d")
#: The step kinds whose explanations are of those kinds (a depthwise layer is written out as conv2d).
PICTURED_STEPS = ("filter", "sobel", "pool", "conv2d", "depthwise_conv2d")


def _number(value: float) -> str:
    return f"{float(value) + 0.0:.6g}"


def _window_grid(window: np.ndarray, padded: np.ndarray, *, cell: int, marks: dict | None = None) -> np.ndarray:
    from ..animate import PADDING_FILL
    from ..drawing import grid_picture, value_colours, value_texts

    colours = value_colours(np.where(padded, np.nan, window))
    colours[padded] = PADDING_FILL
    texts = value_texts(np.where(np.isnan(window), 0.0, window))
    texts = [[text if not np.isnan(window[a, b]) else "-" for b, text in enumerate(row)] for a, row in enumerate(texts)]
    return grid_picture(colours, texts, cell=cell, outlines=marks).pixels


def _values_grid(values: np.ndarray, *, cell: int) -> np.ndarray:
    from ..drawing import grid_picture, value_colours, value_texts

    return grid_picture(value_colours(values), value_texts(values), cell=cell).pixels


def _span(coordinates: Sequence[int]) -> str:
    return f"{coordinates[0]}..{coordinates[-1]}" if len(coordinates) > 1 else f"{coordinates[0]}"


def _filter_row(explanation: FilterExplanation, *, cell: int, name: str = "") -> np.ndarray:
    from ..drawing import compose_row

    head = f"{name}: " if name else ""
    pictures = [_window_grid(explanation.window, explanation.padded, cell=cell),
                _values_grid(explanation.weights, cell=cell),
                _values_grid(explanation.products, cell=cell)]
    titles = [f"{head}input rows {_span(explanation.rows)}, cols {_span(explanation.cols)}", "kernel as applied",
              "products"]
    return compose_row(pictures, titles=titles, between=["x", "="],
                       caption=f"{head}sum of the products = {_number(explanation.value)}")


def _stack(rows: Sequence[np.ndarray], caption: str | None = None) -> np.ndarray:
    """``rows`` one under the other, left-aligned, then ``caption``; as wide as the widest."""
    from ..drawing import pad_width, text_strip, text_width

    width = max([*(row.shape[1] for row in rows), text_width(caption) if caption else 0])
    parts = [pad_width(row, width) for row in rows]
    if caption:
        parts.append(text_strip(caption, width=width))
    return np.concatenate(parts)


def _picture(explanation: Explanation, *, cell: int) -> np.ndarray:
    from ..drawing import compose_row

    position = f"output[{explanation.position[0]}, {explanation.position[1]}]"  # type: ignore[attr-defined]
    if isinstance(explanation, FilterExplanation):
        return _stack([_filter_row(explanation, cell=cell)], f"-> {position} = {_number(explanation.value)}")
    if isinstance(explanation, PoolExplanation):
        from ..animate.frames import WINNER_OUTLINE

        winner = explanation.winner
        marks = ({(explanation.rows.index(winner[0]), explanation.cols.index(winner[1])): WINNER_OUTLINE}
                 if winner is not None else None)
        grid = _window_grid(explanation.window, explanation.padded, cell=cell, marks=marks)
        if winner is not None:
            how = f"{explanation.op} = {_number(explanation.value)} at input ({winner[0]}, {winner[1]})"
        elif explanation.op == "avg":
            total = float(np.nansum(np.where(explanation.padded, 0.0, explanation.window)))
            how = f"sum {_number(total)} / {explanation.count} = {_number(explanation.value)}"
        else:
            how = f"{explanation.op} of the {explanation.count} real pixels = {_number(explanation.value)}"
        title = f"input rows {_span(explanation.rows)}, cols {_span(explanation.cols)}"
        return compose_row([grid], titles=[title], caption=f"{how} -> {position}")
    if isinstance(explanation, GradientExplanation):
        rows = [_filter_row(part, cell=cell, name=f"g{axis}")
                for axis, part in (("x", explanation.x), ("y", explanation.y)) if part is not None]
        formula = {"magnitude": "sqrt(gx^2 + gy^2)", "direction": "atan2(gy, gx)", "x": "gx", "y": "gy"}
        caption = f"{explanation.component} = {formula[explanation.component]} = {_number(explanation.combined)}"
        if explanation.threshold is not None:
            caption += f"; above {_number(explanation.threshold)}: {bool(explanation.value)}"
        return _stack(rows, f"{caption} -> {position} = {_number(explanation.value)}")
    if isinstance(explanation, LayerExplanation):
        rows = [_filter_row(part, cell=cell, name=f"input channel {channel}")
                for channel, part in zip(explanation.in_channels, explanation.channels)]
        caption = f"sum over channels {_number(explanation.sum)}"
        if explanation.bias is not None:
            caption += f" + bias {_number(explanation.bias)}"
        if explanation.activation != "linear":
            caption += f", then {explanation.activation}"
        return _stack(rows, f"{caption} -> {position}, channel {explanation.out_channel} = "
                      f"{_number(explanation.value)}")
    raise ValueError(f"`explanations`: a picture is drawn for {', '.join(PICTURED)} explanations, not for "
                     f"{explanation.kind}; its table (or JSON) writes it out")


def explanation_picture(explanations: Sequence[Explanation], *, cell: int = 32,
                        titles: Sequence[str] | None = None) -> np.ndarray:
    """Draw ``explanations`` (one per output channel, say) one under the other, each under its title.

    Parameters
    ----------
    explanations : sequence of Explanation
        Of the kinds :data:`PICTURED` names.
    cell : int, optional
        The side of a grid cell in pixels (at least 8).
    titles : sequence of str, optional
        A heading for each explanation (``"channel 1"``).

    Returns
    -------
    numpy.ndarray
        (H, W, 3) uint8.

    Examples
    --------
    >>> from convcli.explain import explain_filter
    >>> e = explain_filter(np.arange(9.0).reshape(3, 3), [[1, 0], [0, -1]], position=(0, 0), mode="same")
    >>> picture = explanation_picture([e])
    >>> picture.dtype.name, picture.shape[2]
    ('uint8', 3)
    """
    from ..drawing import text_strip, text_width

    if not explanations:
        raise ValueError("`explanations` must hold at least one explanation")
    if titles is not None and len(titles) != len(explanations):
        raise ValueError(f"`titles` must hold {len(explanations)} texts, one per explanation")
    blocks = []
    for index, explanation in enumerate(explanations):
        block = _picture(explanation, cell=cell)
        if titles is not None:
            block = _stack([text_strip(titles[index], width=text_width(titles[index])), block])
        blocks.append(block)
    return _stack(blocks)
