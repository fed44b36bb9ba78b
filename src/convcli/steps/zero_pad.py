"""The zero_pad step: rows and columns of zeros around the image (Keras ``ZeroPadding2D``)."""

from __future__ import annotations

from typing import Any

from .activation import unchanged_window
from .base import BandRows, Option, Padding, Planning, Running, StepKind, same_dtype

OPTIONS = (
    Option("padding", Padding(), (1, 1, 1, 1), help="Zeros added: P, PH,PW or TOP,BOTTOM,LEFT,RIGHT."),
)


def margins(state: Any, amounts: tuple[int, int, int, int], sign: int, op: str) -> tuple[tuple[int, ...], dict]:
    """The shape and record of a step that adds (``sign`` 1) or removes (−1) rows and columns."""
    top, bottom, left, right = amounts
    before = state.shape
    rows, cols = before[0] + sign * (top + bottom), before[1] + sign * (left + right)
    if rows < 1 or cols < 1:
        raise ValueError(f"cropping {top}+{bottom} rows and {left}+{right} columns leaves nothing of "
                         f"{before[0]}×{before[1]}; crop less")
    word = "+" if sign > 0 else "−"
    after = (rows, cols) + tuple(before[2:])
    record = {"op": op, "padding" if sign > 0 else "cropping": [[top, bottom], [left, right]],
              "in_shape": list(before), "out_shape": list(after),
              "arithmetic": {"rows": f"{before[0]} → {before[0]} {word} {top} {word} {bottom} = {rows}",
                             "cols": f"{before[1]} → {before[1]} {word} {left} {word} {right} = {cols}"}}
    # Output 0 is the first added zero (−top), or, cropped, the first row kept (+top).
    return after, unchanged_window(state, record, first=(-sign * top, -sign * left))


def plan(step: Any, state: Any, planning: Planning) -> tuple[tuple[int, ...], dict]:
    return margins(state, step.options["padding"], 1, "zero_pad")


def run(step: Any, array: Any, running: Running) -> Any:
    from ..ops.activations import zero_pad

    top, bottom, left, right = step.options["padding"]
    return zero_pad(array, padding=((top, bottom), (left, right)))


def rows(step: Any, stage: Any, start: int, stop: int) -> BandRows:
    """Output row r is input row r − top; the rows added above and below are the zeros the band reads."""
    from dataclasses import replace

    top, bottom, left, right = step.options["padding"]
    band = replace(step, options=dict(step.options, padding=(0, 0, left, right)))
    return BandRows(start - top, stop - top, band, start, fill="zero")


def memory(step: Any, record: dict, sizes: Any) -> int:
    return sizes.result


def headline(record: dict) -> str:
    (top, bottom), (left, right) = record.get("padding") or record["cropping"]
    return f"{record['op']} {top},{bottom},{left},{right}"


KIND = StepKind(name="zero_pad", summary="Add rows and columns of zeros (Keras ZeroPadding2D).", options=OPTIONS,
                plan=plan, run=run, memory=memory, headline=headline, result_dtype=same_dtype,
                alpha_in_float=False, rows=rows)
