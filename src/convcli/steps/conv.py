"""What the convolution steps (filter, sobel) share: their geometry options, the rules on them, the
check that a zero boundary nobody asked for frames an image, and their working memory."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..geometry import MODES
from .base import Boundary, Choice, Flag, Number, Option, Padding, Pair, RuleError, Wording

#: The geometry options of a convolution step, as filter and sobel take them.
CONV_OPTIONS = (
    Option("mode", Choice(MODES), "same", "Padding rule: same, valid (none) or full."),
    Option("boundary", Boundary(), "zero",
           "What the padding holds, named as numpy.pad names it, or an alias (convcli help boundaries); "
           "mirror is refused: it means reflect to scipy.ndimage, symmetric elsewhere."),
    Option("cval", Number(), 0.0, "Fill value for boundary constant."),
    Option("stride", Pair(), (1, 1), "Step between outputs: S or SY,SX."),
    Option("padding", Padding(), None, "Padding P, PH,PW or TOP,BOTTOM,LEFT,RIGHT: replaces mode."),
    Option("dilation", Pair(), (1, 1), "Step between kernel taps: D or DY,DX."),
    Option("correlate", Flag(), False, "Cross-correlate (the CNN convention, torch conv2d) instead of true convolution."),
)

#: The options the geometry functions take (convcli.geometry.conv_geometry, the ops).
GEOMETRY = ("mode", "stride", "dilation", "padding", "correlate")


def geometry(options: dict[str, Any]) -> dict[str, Any]:
    """The geometry keywords of a step's options."""
    return {name: options[name] for name in GEOMETRY}


def conv_rules(options: dict[str, Any], say: Wording) -> None:
    """Rules on the geometry options given: padding replaces mode; cval is the constant boundary's."""
    if "padding" in options and options.get("mode", "valid") != "valid":
        raise RuleError(f"{say('padding')} replaces {say('mode')}; drop {say('mode', options['mode'])} "
                        f"(or use {say('mode', 'valid')})", option="mode")
    if "cval" in options and options.get("boundary") != "constant":
        now = f" (the boundary is {options['boundary']})" if "boundary" in options else ""
        raise RuleError(f"{say('cval')} needs {say('boundary', 'constant')}{now}", option="cval")


def conv_schema_rules() -> list[dict[str, Any]]:
    """:func:`conv_rules` as JSON Schema (for ``allOf``)."""
    from ..geometry import BOUNDARY_ALIASES

    constant = ["constant", *(alias for alias, name in BOUNDARY_ALIASES.items() if name == "constant")]
    return [
        {"if": {"type": "object", "required": ["padding"]}, "then": {"properties": {"mode": {"const": "valid"}}}},
        {"dependentSchemas": {"cval": {"required": ["boundary"], "properties": {"boundary": {"enum": constant}}}}},
    ]


def complete_conv(options: dict[str, Any]) -> dict[str, Any]:
    """Explicit padding means mode valid (the padding is all there is)."""
    if options["padding"] is not None:
        options["mode"] = "valid"
    return options


# --- the zero boundary's frame ----------------------------------------------------------------------

#: A zero boundary nobody asked for is said when it moves the border outputs by at least this
#: share of the input's full scale on average (1 %: 2.55 grey levels of an 8-bit image).
VISIBLE_BORDER_CHANGE = 0.01


def tidy(value: float) -> float | int:
    """A whole float as an int (reports show 2, not 2.0)."""
    return int(value) if float(value).is_integer() else float(value)


def full_scale(image: Any) -> float:
    """What "all the way" means for the input's values: an integer dtype's maximum, else the
    largest magnitude in the input (1 when it is all zeros)."""
    import numpy as np

    image = np.asarray(image)
    if image.dtype.kind in "ui":
        return float(np.iinfo(image.dtype).max)
    largest = float(np.max(np.abs(image))) if image.size else 0.0
    return largest if math.isfinite(largest) and largest > 0 else 1.0


def zero_border_change(step: Any, image: Any, *, engine: str = "auto",
                       full_scale: float = 1.0) -> dict[str, Any] | None:
    """How much a filter or sobel step's zero padding changes its border outputs, compared with
    the same step under boundary ``reflect`` (the image continued past its edge); None when that
    is less than :data:`VISIBLE_BORDER_CHANGE` of ``full_scale`` on average, or nothing is padded.

    Only the outputs whose windows reach into the padding can differ, so only those are computed,
    twice: for each side, a strip of the input as wide as the windows that reach past that side,
    with that side's padding given explicitly, so that every strip output is the full result's
    output at the same place (strides counted from the top-left as in the full result). Several
    kernels are measured one by one. ``image`` is the step's input without alpha.

    Returns
    -------
    dict or None
        ``{"mean": m, "max": M, "outputs": n}``: the mean and largest absolute change over the
        ``n`` border outputs (the frame), in the step's units.

    Examples
    --------
    A box mean of a flat grey image: zero padding darkens the first and last rows and columns.

    >>> import numpy as np
    >>> from convcli.pipeline import parse_step
    >>> step = parse_step("filter", {"kernel": "box3"})
    >>> change = zero_border_change(step, np.full((20, 20), 90.0), full_scale=255.0)
    >>> change["max"], round(change["mean"], 4), change["outputs"]
    (50, 31.0526, 76)
    >>> zero_border_change(parse_step("filter", {"kernel": "box3", "mode": "valid"}), np.ones((8, 8)))
    """
    import numpy as np

    from ..geometry import conv_geometry
    from ..ops.filter import filter_bank
    from ..ops.gradients import sobel

    options = step.options
    image = np.asarray(image)
    if step.op == "sobel":
        if options["blur"] or options["threshold"] is not None or options["component"] == "direction":
            return None  # a blur's own padding, a mask, an angle: no change in value units to measure
        shapes = [(3, 3)]
    else:
        shapes = [k.shape for k in options["kernels"]]
    common = {name: options[name] for name in ("stride", "dilation", "correlate")}
    changes: list[np.ndarray] = []
    for number, shape in enumerate(shapes):
        rows, cols = conv_geometry(image.shape[:2], shape, **geometry(options))
        if not (rows.before or rows.after or cols.before or cols.after):
            continue

        def apply(part: np.ndarray, boundary: str, pads: tuple[int, int, int, int]) -> np.ndarray:
            settings = dict(common, mode="valid", padding=pads, boundary=boundary, cval=0.0, engine=engine)
            if step.op == "sobel":
                return sobel(part, operator=options["operator"], component=options["component"], **settings)
            return filter_bank(part, [options["kernels"][number]], **settings)

        for part, pads, keep in _border_strips(image, rows, cols):
            zero = apply(part, "zero", pads)[keep].astype(np.float64)
            continued = apply(part, "reflect", pads)[keep].astype(np.float64)
            changes.append(np.abs(zero - continued).reshape(-1))
    if not changes:
        return None
    change = np.concatenate(changes)
    change = change[np.isfinite(change)]
    if not change.size:
        return None
    # To 7 significant digits, and held to the line so: the strips are filtered by whichever engine
    # `auto` picks in this process (NumPy before OpenCV is imported), whose float results may differ
    # in the last bits, and the report must not depend on which files a process did before (a
    # cluster's workers).
    mean, largest = (float(f"{float(value):.7g}") for value in (change.mean(), change.max()))
    if mean < VISIBLE_BORDER_CHANGE * full_scale:
        return None
    return {"mean": tidy(mean), "max": tidy(largest), "outputs": int(change.size)}


def note_zero_border(step: Any, record: dict, colour: Any, running: Any) -> None:
    """Put the frame a default zero boundary draws (:func:`zero_border_change`) into the step's
    record, when the boundary was not asked for and the frame is visible."""
    if "boundary" not in step.defaulted:
        return
    change = zero_border_change(step, colour, engine=running.engine, full_scale=full_scale(running.image))
    if change is not None:
        record["zero_border"] = change


def _border_strips(image: Any, rows: Any, cols: Any) -> list[tuple[Any, tuple[int, int, int, int], Any]]:
    """The strips :func:`zero_border_change` computes: ``(input part, explicit padding (top,
    bottom, left, right), which of the part's outputs are border outputs)``, each border output in
    exactly one strip; the whole image when it is too small for strips to save work."""
    import numpy as np

    def extent(axis: Any) -> int:
        return (axis.kernel - 1) * axis.dilation + 1

    def reach(axis: Any) -> tuple[int, int]:
        """How many outputs along ``axis`` have windows reaching into the padding before it, and
        the first output whose window reaches into the padding after it."""
        first = min(axis.out, -(-axis.before // axis.stride))
        last_start = max(first, (axis.size + axis.before - extent(axis)) // axis.stride + 1)
        return first, min(axis.out, last_start)

    top, bottom_from = reach(rows)
    left, right_from = reach(cols)
    frame = np.ones((rows.out, cols.out), dtype=bool)
    frame[top:bottom_from, left:right_from] = False
    whole = (image, (rows.before, rows.after, cols.before, cols.after), frame)
    bottom_start, bottom_skip = _far_strip(bottom_from, rows)
    right_start, right_skip = _far_strip(right_from, cols)
    # Strips are worth it when they are a small part of the image (and then never overlap).
    if (4 * (top + rows.out - bottom_from) >= rows.out or 4 * (left + cols.out - right_from) >= cols.out
            or 4 * (rows.before + rows.after + 2) >= rows.size or 4 * (cols.before + cols.after + 2) >= cols.size
            or min(bottom_start, right_start) < 0):
        return [whole]
    strips = []
    # A strip holds at least one pixel more than its padding: reflect (and symmetric) padding
    # mirrors that many pixels, which must be the image's, not the strip's own edge.
    if top:
        height = max((top - 1) * rows.stride + extent(rows) - rows.before, rows.before + 1)
        strips.append((image[:height], (rows.before, 0, cols.before, cols.after), (slice(0, top), slice(None))))
    if bottom_from < rows.out:
        strips.append((image[bottom_start:], (0, rows.after, cols.before, cols.after),
                       (slice(bottom_skip, None), slice(None))))
    middle = slice(top, bottom_from)  # the corners are in the top and bottom strips already
    if left:
        width = max((left - 1) * cols.stride + extent(cols) - cols.before, cols.before + 1)
        strips.append((image[:, :width], (rows.before, rows.after, cols.before, 0), (middle, slice(0, left))))
    if right_from < cols.out:
        strips.append((image[:, right_start:], (rows.before, rows.after, 0, cols.after),
                       (middle, slice(right_skip, None))))
    return strips


def _far_strip(first: int, axis: Any) -> tuple[int, int]:
    """Where the strip of the outputs from ``first`` on (those reaching the padding after the
    image) begins in the input, and how many outputs before ``first`` it also gives, so that it
    holds more pixels than that padding and begins where an output's window does."""
    start = first * axis.stride - axis.before
    skip = max(0, -(-(axis.after + 1 - (axis.size - start)) // axis.stride))
    return start - skip * axis.stride, skip


# --- memory ------------------------------------------------------------------------------------------


def filter_memory(step: Any, window: dict, in_shape: Sequence[int], dtype: str, colour: int, one: int,
                   engine: str, *, alpha: bool) -> int:
    """One filter2d call's working arrays besides its result (``one`` bytes), as
    convcli.ops.filter runs it; ``window`` holds the kernel's ``kernel_shape`` and ``padding`` (a
    step's record, or one kernel's entry of a bank's)."""
    import numpy as np

    from ..dtypes import work_dtype
    from ..geometry import BOUNDARIES
    from ..ops.engines import OPENCV_MAX_CHANNELS, OPENCV_SOURCES, POLYPHASE_TAPS

    options = step.options
    real = work_dtype(dtype).itemsize
    kernel = window["kernel_shape"]
    (top, bottom), (left, right) = window.get("padding") or ((0, 0), (0, 0))
    channels = colour // (in_shape[0] * in_shape[1])
    stride, dilation = options["stride"], options["dilation"]
    mode = BOUNDARIES[options["boundary"]]
    converted = colour * real if np.dtype(dtype) not in OPENCV_SOURCES else 0
    direct = (engine != "scipy" and tuple(dilation) == (1, 1) and channels <= OPENCV_MAX_CHANNELS
              and (tuple(stride) == (1, 1) or kernel[0] * kernel[1] < POLYPHASE_TAPS)
              and mode in ("constant", "reflect", "symmetric", "edge")
              and (options["boundary"] == "zero" or options["cval"] == 0)
              and top <= kernel[0] - 1 and top + bottom <= kernel[0] - 1
              and left <= kernel[1] - 1 and left + right <= kernel[1] - 1)
    if direct:
        # OpenCV from the unpadded image: the colours made contiguous (beside alpha), and when strided
        # the dense output every stride-th pixel is picked from; at stride 1 that output is the result.
        contiguous = colour * np.dtype(dtype).itemsize if alpha else 0
        dense = one * stride[0] * stride[1] if tuple(stride) != (1, 1) else 0
        return converted + contiguous + dense
    padded = (in_shape[0] + top + bottom) * (in_shape[1] + left + right) * channels * real
    # The colours converted, the padded copy, and the engine's output (which the result is cropped
    # from) or its phase sums.
    return colour * real + padded + one
