"""The words of a contact sheet: what each tile's label says, and how a label is drawn.

A tile's label is its name (``c1 mean2·edge2``, ``input``, ``encode_conv c3``; :func:`bank_labels`
names filter banks' channels) over its value range (:func:`range_text`, ``[-3.2, 4.1]``), black on a
white band under the tile. The label font grows with the tile (:func:`label_font`: its brackets at
least 1/40 of the tile's longer side high), and a name wider than its tile is wrapped at spaces and between
kernels, never cut. The band's height and the cell's width depend on the names and the tile's size
only, never on the values, so ``--dry-run`` knows a sheet's size before anything is computed.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LINE_SHARE", "LabelFont", "bank_labels", "input_labels", "label_font", "number_text", "range_text"]

#: A label's line is at least 1/LINE_SHARE of its tile's longer side (Pillow's 10-pixel default font
#: up to tiles of 400 pixels, a larger one above).
LINE_SHARE = 40
_BASE_SIZE = 10  # the size of Pillow's default font
_NO_FINITE = "[no finite values]"
# Every character a range text may hold, with "Ag" (an ascender and a descender): a line is as
# high as their ink, whatever the numbers, so the layout never depends on the values.
_REFERENCE = "Ag[]()0123456789-+.,e"


def number_text(value: float) -> str:
    """``value`` to 3 significant digits, as plainly as :func:`format`'s ``g`` writes it.

    Examples
    --------
    >>> [number_text(v) for v in (-3.2149, 4.1, 1020.4, 123456.0, 0.000123456, -0.0, 2.5e7)]
    ['-3.21', '4.1', '1020', '123000', '0.000123', '0', '2.5e+07']
    """
    return f"{float(f'{float(value):.3g}') + 0.0:g}"


def range_text(values: Any) -> str:
    """The value range a tile's label shows: ``[min, max]`` of the finite values, each to 3
    significant digits (:func:`number_text`); ``[no finite values]`` when there are none.

    Examples
    --------
    >>> import numpy as np
    >>> range_text(np.array([[-3.2149, 0.0], [4.1, np.nan]]))
    '[-3.21, 4.1]'
    >>> range_text([7, 7]), range_text([float("inf")])
    ('[7, 7]', '[no finite values]')
    """
    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        return _NO_FINITE
    return f"[{number_text(finite.min())}, {number_text(finite.max())}]"


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
        raise ValueError(f"`channels` must be a whole number >= 1, got {channels!r}")
    chains = [f"in{c}" for c in range(channels)] if channels > 1 else [""]
    for bank in banks:
        if isinstance(bank, str) or not bank or not all(isinstance(name, str) for name in bank):
            raise ValueError(f"each bank of `banks` must be a non-empty list of kernel names, got {bank!r}")
        chains = [f"{chain}·{name}" if chain else name for chain in chains for name in bank]
    return [f"c{j} {chain}" if chain else f"c{j}" for j, chain in enumerate(chains)]


def input_labels(channels: int) -> list[str]:
    """The labels of the input's tiles (``--sheet-input``): ``input``, or ``input c0``, ``input c1``, ...

    Examples
    --------
    >>> input_labels(1), input_labels(3)
    (['input'], ['input c0', 'input c1', 'input c2'])
    """
    return ["input"] if channels == 1 else [f"input c{c}" for c in range(channels)]


@dataclass(frozen=True)
class LabelFont:
    """The font labels are drawn in, and how they are laid out with it.

    ``font`` is Pillow's default font at some size; ``factor`` is a whole enlargement of the text
    drawn with it (above 1 only when Pillow has no FreeType, so that its bitmap font cannot grow).
    Every length here is in the sheet's pixels, the factor applied.
    """

    font: Any
    factor: int

    @functools.cached_property
    def _reference(self) -> tuple[int, int]:
        box = self.font.getbbox(_REFERENCE)
        return int(box[1]), int(box[3])

    @property
    def line(self) -> int:
        """The height of a line of text: the ink of every character a range text may hold."""
        top, bottom = self._reference
        return (bottom - top) * self.factor

    @property
    def margin(self) -> int:
        """Pixels around a label and between its lines (3 at the default size, growing with the font)."""
        return max(3, (self.line // self.factor * 3) // 10) * self.factor

    @property
    def height(self) -> int:
        """The height of the ink of every label's tallest characters, the brackets of its range."""
        box = self.font.getbbox("[]")
        return int(box[3] - box[1]) * self.factor

    def width(self, text: str) -> int:
        """The width of ``text``'s ink."""
        box = self.font.getbbox(_drawn(text)) if text else (0, 0, 0, 0)
        return int(box[2] - box[0]) * self.factor

    def range_width(self) -> int:
        """The widest a :func:`range_text` can be: every number as wide as 3 significant digits and an
        exponent can write it, in the widest digit."""
        digit = max("0123456789", key=self.font.getlength)
        widest = max((f"-{digit}.{digit}{digit}e+{digit * 3}", f"-{digit}.{digit}{digit}e-{digit * 3}",
                      f"-0.000{digit * 3}", f"-{digit * 6}"), key=self.font.getlength)
        return max(self.width(f"[{widest}, {widest}]"), self.width(_NO_FINITE))

    def wrap(self, name: str, width: int) -> list[str]:
        """``name`` as lines no wider than ``width`` (broken at spaces and between kernels), never cut:
        a piece wider than ``width`` has a line of its own; an empty name has no line."""
        lines: list[str] = []
        for word in name.split(" "):
            for index, piece in enumerate(_pieces(word)):
                joined = f"{lines[-1]}{' ' if index == 0 else ''}{piece}" if lines and lines[-1] else piece
                if lines and self.width(joined) <= width:
                    lines[-1] = joined
                else:
                    lines.append(piece)
        return [line for line in lines if line]

    def pieces_width(self, name: str) -> int:
        """The widest piece of ``name`` that :meth:`wrap` never breaks."""
        return max((self.width(piece) for word in name.split(" ") for piece in _pieces(word)), default=0)

    def band(self, lines: int) -> int:
        """The height of a band that holds ``lines`` lines, with a margin above, below and between."""
        return lines * self.line + (lines + 1) * self.margin

    def draw(self, lines: Sequence[str], width: int, height: int, *, left: int | None = None) -> np.ndarray:
        """A white ``height`` × ``width`` band (uint8, grey) with ``lines`` in black, one under the
        other from the top margin, each centred (or from column ``left``)."""
        from PIL import Image, ImageDraw

        factor = self.factor
        strip = Image.new("L", (math.ceil(width / factor), math.ceil(height / factor)), _BACKGROUND)
        draw = ImageDraw.Draw(strip)
        top = self._reference[0]
        step = (self.line + self.margin) // factor
        for number, text in enumerate(lines):
            if not text:
                continue
            text = _drawn(text)
            box = self.font.getbbox(text)
            x = left // factor if left is not None else (strip.width - (box[2] - box[0])) // 2
            draw.text((x - box[0], self.margin // factor + number * step - top), text, fill=_INK, font=self.font)
        pixels = np.asarray(strip)
        if factor > 1:
            pixels = np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)
        return np.ascontiguousarray(pixels[:height, :width])


_BACKGROUND = 255
_INK = 0


def _drawn(text: str) -> str:
    # Pillow's bitmap font (no FreeType) has no "·": the chain of kernels is drawn "mean2>edge2".
    return text.replace("·", ">")


def _pieces(word: str) -> list[str]:
    """A word's pieces that wrapping keeps whole: a chain of kernels breaks after each ``·``."""
    return re.findall(r"[^·]+·?|·", word) or [""]


@functools.lru_cache(maxsize=64)
def label_font(side: int) -> LabelFont:
    """The font of the labels of tiles whose longer side is ``side`` pixels: Pillow's default font at
    the smallest size (10 at least) whose :attr:`LabelFont.height` is at least ``side / 40`` pixels;
    without FreeType, the bitmap default font enlarged by the smallest whole factor that does it.

    Examples
    --------
    >>> label_font(128).height >= 128 / 40, label_font(1024).height >= 1024 / 40
    (True, True)
    """
    need = side / LINE_SHARE
    base = LabelFont(_default_font(None), 1)
    if base.height >= need:
        return base
    try:  # FreeType: the default font (Aileron) at any size, from Pillow 10.1
        size = max(_BASE_SIZE + 1, math.floor(_BASE_SIZE * need / base.height))
        while (font := LabelFont(_default_font(size), 1)).height < need:
            size += 1
        return font
    except ImportError:  # no FreeType: only the bitmap font, drawn larger by whole factors
        return LabelFont(base.font, math.ceil(need / base.height))


@functools.lru_cache(maxsize=64)
def _default_font(size: int | None) -> Any:
    """Pillow's default font (at ``size``, which needs FreeType), loaded once per size."""
    from PIL import ImageFont

    return ImageFont.load_default() if size is None else ImageFont.load_default(size=size)
