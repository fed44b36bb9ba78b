"""The sobel step: gradient magnitude, x, y or direction (Sobel, Scharr or Prewitt kernels)."""

from __future__ import annotations

from typing import Any

from ..vocabulary import COMPONENTS, OPERATORS
from .base import (Choice, Number, Option, Planning, RuleError, Running, StepKind, Wording, field_so_far, floating,
                   window_band)
from .conv import CONV_OPTIONS, complete_conv, conv_rules, conv_schema_rules, filter_memory, geometry, note_zero_border

OPTIONS = (
    Option("operator", Choice(OPERATORS), "sobel", "Gradient kernels: [1,2,1], [3,10,3] or [1,1,1] smoothing."),
    Option("component", Choice(COMPONENTS), "magnitude", "√(gx² + gy²), gx, gy, or atan2(gy, gx) in radians."),
    Option("blur", Number(positive=True, what="a sigma"), None,
           "Gaussian pre-blur with this sigma (same size, same boundary)."),
    Option("threshold", Number(), None,
           "Binary edge map: 1 (white) where the component (|gx|, |gy| for x, y) exceeds it."),
    *CONV_OPTIONS,
)
#: Default mapping of each component into integer outputs (fixed for every file of a batch).
SOBEL_SCALE = {"magnitude": "clip", "x": "offset", "y": "offset", "direction": "clip"}
#: The operators' kernels are 3×3.
KERNEL_SHAPE = (3, 3)


def rules(options: dict[str, Any], say: Wording) -> None:
    conv_rules(options, say)
    if "threshold" in options and options.get("component") == "direction":
        raise RuleError(f"{say('threshold')} makes an edge map from magnitude, x or y, not from direction",
                        option="threshold")


def plan(step: Any, state: Any, planning: Planning) -> tuple[tuple[int, ...], dict]:
    from ..geometry import conv_geometry
    from ..report import window_step

    options, before = step.options, state.shape
    rows, cols = conv_geometry(before, KERNEL_SHAPE, **geometry(options))
    after = (rows.out, cols.out) + before[2:]
    fields: dict[str, Any] = {"operator": options["operator"], "component": options["component"],
                              "kernel_shape": list(KERNEL_SHAPE), "boundary": options["boundary"],
                              "convolution": "correlate" if options["correlate"] else "convolve"}
    if options["blur"]:
        fields["blur"] = options["blur"]
    if options["threshold"] is not None:
        fields["threshold"] = options["threshold"]
    previous = field_so_far(state)
    record = window_step(op="sobel", rows=rows, cols=cols, in_shape=before, out_shape=after, previous=previous,
                         **fields)
    state.kind = ("mask" if options["threshold"] is not None
                  else "angle" if options["component"] == "direction" else "values")
    state.scale = SOBEL_SCALE[options["component"]]
    return after, record


def run(step: Any, array: Any, running: Running) -> Any:
    from ..ops.filter import attach_alpha, carry_alpha
    from ..ops.gradients import sobel

    options = step.options
    colour, alpha = (array[..., :-1], array[..., -1]) if running.has_alpha else (array, None)
    settings = dict(geometry(options), boundary=options["boundary"], cval=options["cval"], engine=running.engine)
    result = sobel(colour, operator=options["operator"], component=options["component"], blur=options["blur"],
                   threshold=options["threshold"], **settings)
    if alpha is not None:
        result = attach_alpha(result, carry_alpha(alpha, kernel_shape=KERNEL_SHAPE, **settings))
    note_zero_border(step, running.plan.stages[running.position].record, colour, running)
    return result


def rows(step: Any, stage: Any, start: int, stop: int) -> Any:
    """The rows the 3×3 windows read, as for filter. Runs whole: with a pre-blur (a second window of
    its own), and for magnitude and direction, which OpenCV computes over the array as one run of
    values (a band's values would meet its vector lanes at other places: other last bits)."""
    from ..geometry import conv_geometry

    options = step.options
    if options["blur"] or options["component"] not in ("x", "y"):
        return None
    rows_axis, cols_axis = conv_geometry(stage.in_shape, KERNEL_SHAPE, **geometry(options))
    return window_band(step, rows_axis, cols_axis, start, stop, fill=options["boundary"], cval=options["cval"],
                       alpha_fill="edge", mode="valid")


def result_dtype(step: Any, dtype: str, *, changed: bool, has_alpha: bool) -> str:
    """A threshold gives a bool mask."""
    return "bool" if step.options.get("threshold") is not None else floating(dtype)


def memory(step: Any, record: dict, sizes: Any) -> int:
    options = step.options
    one = sizes.colour_out * sizes.real  # the result in the working type
    each = filter_memory(step, record, record["in_shape"], sizes.before, sizes.colour_in, one, sizes.engine,
                         alpha=bool(sizes.alpha))
    # The pre-blur, x and y, and the component made from them. Direction also filters |x| (an
    # input-sized copy) into each pixel's rounding tolerance (see ops.gradients._direction).
    gradients = (2 if options["component"] in ("magnitude", "direction") else 1) * one
    extra = (sizes.colour_in * sizes.real + one if options["component"] == "direction"
             else one if options["threshold"] is not None else 0)
    blurred = sizes.colour_in * sizes.real if options["blur"] else 0
    return blurred + each + gradients + extra + sizes.result + (sizes.result if sizes.alpha else 0)


def headline(record: dict) -> str:
    from ..report import window_details

    return f"{record['operator']} {record['component']}, {record['convolution']}" + window_details(record)


KIND = StepKind(name="sobel", summary="Gradients: gx and gy with the operator's x and y kernels, same geometry.",
                options=OPTIONS, plan=plan, run=run, memory=memory, rules=rules, complete=complete_conv,
                result_dtype=result_dtype, headline=headline, rows=rows,
                schema_rules={"allOf": [*conv_schema_rules(), {
                    "if": {"type": "object", "required": ["threshold"]},
                    "then": {"properties": {"component": {"not": {"const": "direction"}}}}}]})
