"""The gray step: RGB to luminance (skimage.color.rgb2gray's weights), alpha kept."""

from __future__ import annotations

from typing import Any

from ..vocabulary import gray_formula
from .base import same_rows, Planning, Running, StepKind, field_so_far, floating


def plan(step: Any, state: Any, planning: Planning) -> tuple[tuple[int, ...], dict]:
    from ..ops.filter import gray_shape
    from ..report import carry_field, gray_step

    before = state.shape
    grey = gray_shape(before, has_alpha=state.has_alpha)
    after = grey or before
    record = gray_step(in_shape=before, out_shape=after)
    if grey is None:
        record["note"] = "already grey"
    record.update(carry_field(field_so_far(state)))
    return after, record


def run(step: Any, array: Any, running: Running) -> Any:
    from ..ops.filter import to_gray

    return to_gray(array, has_alpha=running.has_alpha)


def result_dtype(step: Any, dtype: str, *, changed: bool, has_alpha: bool) -> str:
    """An image that is grey already (``changed`` False) is kept as it is."""
    return floating(dtype) if changed else str(dtype)


def memory(step: Any, record: dict, sizes: Any) -> int:
    """The colours converted, the luminance, and it stacked with alpha."""
    return sizes.n_in * sizes.real + 2 * sizes.result


def headline(record: dict) -> str:
    how = "already grey" if record.get("note") == "already grey" else gray_formula()
    return f"gray ({how})"


KIND = StepKind(name="gray", summary=f"RGB to luminance {gray_formula()} (alpha kept).", options=(), plan=plan,
                run=run, memory=memory, result_dtype=result_dtype, headline=headline, rows=same_rows,
                alpha_in_float=False)  # grey + alpha stays as it is; RGBA becomes float anyway
