"""Drawing an animation's frames: both boards through :func:`convcli.drawing.grid_picture`, side by
side under a caption, one RGB frame per step (docs/animate.md).

Every frame has one layout (the cells as wide as the widest number any frame writes), so a cell's
box is the same in every frame (:meth:`Frames.input_box`, :meth:`Frames.output_box`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scenes import EMPTY_FILL, Animation

__all__ = ["CURRENT_OUTLINE", "WINDOW_OUTLINE", "WINNER_OUTLINE", "Frames", "animation_frames"]

#: The outline of the window's cells (the kernel's shadow) and of the output cell being written.
WINDOW_OUTLINE = (240, 120, 0)
CURRENT_OUTLINE = (200, 0, 120)
#: The outline of the cell a max or min pooling takes.
WINNER_OUTLINE = (0, 150, 60)
_BACKGROUND = (255, 255, 255)
_TEXT = (0, 0, 0)
_MARGIN = 8
_GAP = 24  # between the boards
_LINE_HEIGHT = 14


@dataclass(frozen=True)
class Frames:
    """The frames of an animation and where each board's cells are in them.

    Attributes
    ----------
    pixels : tuple of numpy.ndarray
        One (H, W, 3) uint8 frame per step, all of one size.
    input_origin, output_origin : (int, int)
        Top-left pixel of each board in a frame.
    cell_height, cell_width : int
        The size of every cell (both boards).
    """

    pixels: tuple[np.ndarray, ...]
    input_origin: tuple[int, int]
    output_origin: tuple[int, int]
    cell_height: int
    cell_width: int

    def _box(self, origin: tuple[int, int], row: int, col: int) -> tuple[int, int, int, int]:
        from ..drawing import Grid

        top, left, bottom, right = Grid(self.pixels[0], self.cell_height, self.cell_width).box(row, col)
        return top + origin[0], left + origin[1], bottom + origin[0], right + origin[1]

    def input_box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """``(top, left, bottom, right)`` of input-board cell (``row``, ``col``) in a frame."""
        return self._box(self.input_origin, row, col)

    def output_box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """``(top, left, bottom, right)`` of output-board cell (``row``, ``col``) in a frame."""
        return self._box(self.output_origin, row, col)


def animation_frames(animation: Animation, *, cell: int = 32) -> Frames:
    """Draw every frame of ``animation``: frame k outlines step k's window (and the winner), the
    output cells of steps 0..k written (values or fill) and step k's outlined.

    Examples
    --------
    >>> from convcli.animate import animation
    >>> frames = animation_frames(animation("pool", (4, 4), size=2), cell=16)
    >>> len(frames.pixels), frames.pixels[0].dtype.name
    (4, 'uint8')
    >>> top, left, _, _ = frames.input_box(0, 0)
    >>> frames.pixels[0][top + 1, left + 1].tolist() == list(WINDOW_OUTLINE)
    True
    """
    from PIL import Image, ImageDraw, ImageFont

    from ..drawing import grid_picture

    if isinstance(cell, bool) or not isinstance(cell, int | np.integer) or cell < 8:
        raise ValueError(f"`cell` must be a whole number of pixels >= 8, got {cell!r}")
    # One cell width for every frame and both boards: the widest number drawn anywhere.
    width = max(grid_picture(animation.input_fills, animation.input_texts, cell=cell).cell_width,
                grid_picture(animation.output_fills, animation.output_texts, cell=cell).cell_width)
    font = ImageFont.load_default()
    out_rows, out_cols = animation.output_fills.shape[:2]
    captions = [[animation.title, step.caption] for step in animation.steps]
    text_width = max(int(font.getlength(line)) for lines in captions for line in lines + list(animation.labels))
    labels_top = _MARGIN + 2 * _LINE_HEIGHT + _MARGIN
    boards_top = labels_top + _LINE_HEIGHT

    pixels = []
    written_fills = np.empty_like(animation.output_fills)
    written_fills[...] = EMPTY_FILL
    written_texts = None if animation.output_texts is None else [[animation.blank_text] * out_cols for _ in range(out_rows)]
    for step, lines in zip(animation.steps, captions):
        row, col = step.output
        written_fills[row, col] = animation.output_fills[row, col]
        if written_texts is not None and animation.output_texts is not None:
            written_texts[row][col] = animation.output_texts[row][col]
        inputs = {cell_: WINDOW_OUTLINE for cell_ in step.window}
        if step.winner is not None:
            inputs[step.winner] = WINNER_OUTLINE
        outputs = {cell_: WINDOW_OUTLINE for cell_ in step.source}
        outputs[step.output] = CURRENT_OUTLINE
        left = grid_picture(animation.input_fills, animation.input_texts, cell=cell, cell_width=width, outlines=inputs)
        right = grid_picture(written_fills, written_texts, cell=cell, cell_width=width, outlines=outputs)
        right_left = _MARGIN + max(left.pixels.shape[1], int(font.getlength(animation.labels[0]))) + _GAP
        frame_width = max(right_left + right.pixels.shape[1], _MARGIN + text_width) + _MARGIN
        frame_height = boards_top + max(left.pixels.shape[0], right.pixels.shape[0]) + _MARGIN
        picture = Image.new("RGB", (frame_width, frame_height), _BACKGROUND)
        draw = ImageDraw.Draw(picture)
        for i, line in enumerate(lines):
            draw.text((_MARGIN, _MARGIN + i * _LINE_HEIGHT), line, fill=_TEXT, font=font)
        draw.text((_MARGIN, labels_top), animation.labels[0], fill=_TEXT, font=font)
        draw.text((right_left, labels_top), animation.labels[1], fill=_TEXT, font=font)
        frame = np.asarray(picture).copy()
        frame[boards_top:boards_top + left.pixels.shape[0], _MARGIN:_MARGIN + left.pixels.shape[1]] = left.pixels
        frame[boards_top:boards_top + right.pixels.shape[0], right_left:right_left + right.pixels.shape[1]] = right.pixels
        pixels.append(frame)
    return Frames(tuple(pixels), (boards_top, _MARGIN), (boards_top, right_left), cell, width)
