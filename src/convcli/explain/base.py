"""What every explanation shares: plain data for JSON (:meth:`Explanation.to_dict`), the channel
and position checks, and the window of taps read from the padded input."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import fields
from typing import Any, ClassVar

import numpy as np


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: arrays and tuples as lists, NumPy scalars as Python numbers,
    NaN and inf as None (JSON has neither), explanations as their dicts.

    Examples
    --------
    >>> plain((np.float32(1.5), np.array([[np.nan, 2.0]]), np.True_))
    [1.5, [[None, 2.0]], True]
    """
    if isinstance(value, Explanation):
        return value.to_dict()
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Explanation:
    """A frozen dataclass of one output value written out; ``kind`` names what made the value."""

    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """The explanation as plain data (``kind`` first, then the fields): what ``--json`` prints."""
        return {"kind": self.kind, **{field.name: plain(getattr(self, field.name)) for field in fields(self)}}


def channel_plane(image: Any, channel: int) -> np.ndarray:
    """Channel ``channel`` of an image as float64 (a 2-D image has one channel, 0)."""
    from ..ops.checks import as_image

    array = as_image(image)
    if array.ndim == 3:
        if not 0 <= channel < array.shape[2]:
            raise ValueError(f"`channel` must be 0..{array.shape[2] - 1}, got {channel}")
        array = array[:, :, channel]
    elif channel != 0:
        raise ValueError(f"`channel` must be 0 for a one-channel image, got {channel}")
    return array.astype(np.float64)


def check_position(position: Sequence[int], out: Sequence[int], *, name: str = "`position`") -> tuple[int, int]:
    """``position`` as (row, col) inside an output of ``out`` (rows, cols), or a ValueError naming
    the output's size (and the position as ``name``: a front end gives its own)."""
    row, col = (int(n) for n in position)
    if not (0 <= row < out[0] and 0 <= col < out[1]):
        raise ValueError(f"{name} ({row}, {col}) is outside the output, which is {out[0]}×{out[1]} "
                         f"(rows 0..{out[0] - 1}, cols 0..{out[1] - 1})")
    return row, col


def read_window(plane: np.ndarray, rows: Any, cols: Any, position: tuple[int, int], kernel_shape: Sequence[int], *,
                boundary: str, cval: float) -> tuple[tuple[int, ...], tuple[int, ...], np.ndarray, np.ndarray]:
    """The taps of output ``position`` under the axes' geometry (``before``, ``stride``,
    ``dilation``), as the ops read them from the padded plane: their input rows and columns
    (negative or past the end in the padding), which are padding, and the values they read."""
    from ..ops.filter import pad_image

    padded_plane = pad_image(plane, ((rows.before, rows.after), (cols.before, cols.after)), boundary=boundary, cval=cval)
    taps_r = [position[0] * rows.stride + a * rows.dilation for a in range(kernel_shape[0])]
    taps_c = [position[1] * cols.stride + b * cols.dilation for b in range(kernel_shape[1])]
    in_rows = tuple(t - rows.before for t in taps_r)
    in_cols = tuple(t - cols.before for t in taps_c)
    return in_rows, in_cols, outside(plane.shape, in_rows, in_cols), padded_plane[np.ix_(taps_r, taps_c)]


def outside(shape: Sequence[int], in_rows: Sequence[int], in_cols: Sequence[int]) -> np.ndarray:
    """Which cells of the grid ``in_rows × in_cols`` fall outside an image of ``shape``."""
    rows_out = np.array([not 0 <= r < shape[0] for r in in_rows])
    cols_out = np.array([not 0 <= c < shape[1] for c in in_cols])
    return rows_out[:, None] | cols_out[None, :]
