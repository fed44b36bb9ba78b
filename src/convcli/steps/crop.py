"""The crop step: rows and columns removed from the edges (Keras ``Cropping2D``)."""

from __future__ import annotations

from typing import Any

from .base import BandRows, Option, Padding, Planning, Running, StepKind, same_dtype
from .zero_pad import headline, margins, memory

OPTIONS = (
    Option("cropping", Padding(), (0, 0, 0, 0), help="Removed: C, CH,CW or TOP,BOTTOM,LEFT,RIGHT."),
)


def plan(step: Any, state: Any, planning: Planning) -> tuple[tuple[int, ...], dict]:
    return margins(state, step.options["cropping"], -1, "crop")


def run(step: Any, array: Any, running: Running) -> Any:
    from ..ops.activations import crop

    top, bottom, left, right = step.options["cropping"]
    return crop(array, cropping=((top, bottom), (left, right)))


def rows(step: Any, stage: Any, start: int, stop: int) -> BandRows:
    """Output row r is input row r + top."""
    from dataclasses import replace

    top, bottom, left, right = step.options["cropping"]
    band = replace(step, options=dict(step.options, cropping=(0, 0, left, right)))
    return BandRows(start + top, stop + top, band, start)


KIND = StepKind(name="crop", summary="Remove rows and columns from the edges (Keras Cropping2D).", options=OPTIONS,
                plan=plan, run=run, memory=memory, headline=headline, result_dtype=same_dtype,
                alpha_in_float=False, rows=rows)
