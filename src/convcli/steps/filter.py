"""The filter step: one kernel, or a bank of kernels (one output channel per kernel per channel)."""

from __future__ import annotations

from typing import Any

from .base import Flag, KernelSpec, Option, Planning, RuleError, Running, StepKind, Wording, field_so_far, window_band
from .conv import CONV_OPTIONS, complete_conv, conv_rules, conv_schema_rules, filter_memory, geometry, note_zero_border

OPTIONS = (
    Option("kernel", KernelSpec(), help="The kernel: a name, a file, an inline matrix or a parametric spec."),
    Option("kernels", KernelSpec(many=True), help="Several kernels: one output channel per kernel."),
    Option("normalize", Flag(), False, "Divide each kernel by its sum first."),
    *CONV_OPTIONS,
)


def rules(options: dict[str, Any], say: Wording) -> None:
    conv_rules(options, say)
    if ("kernel" in options) == ("kernels" in options):
        raise RuleError(f"give {say('kernel', 'SPEC')} or {say('kernels', '[A, B, ...]')} (one of them)")


def complete(options: dict[str, Any]) -> dict[str, Any]:
    """One kernel is a bank of one; ``normalize`` is applied to the kernels here, once."""
    if "kernel" in options:
        options["kernels"] = [options.pop("kernel")]
    if options["normalize"]:
        options["kernels"] = [kernel.normalized() for kernel in options["kernels"]]
    return complete_conv(options)


def plan(step: Any, state: Any, planning: Planning) -> tuple[tuple[int, ...], dict]:
    from ..geometry import conv_geometry
    from ..ops.filter import bank_output_shape
    from ..report import filter_step

    options, before = step.options, state.shape
    kernels = options["kernels"]
    after = bank_output_shape(before, [k.shape for k in kernels], has_alpha=state.has_alpha,
                              names=[k.name for k in kernels], **geometry(options))
    bank = [(k.name, k.shape, *conv_geometry(before, k.shape, **geometry(options))) for k in kernels]
    names: Any = kernels[0].name if len(kernels) == 1 else [k.name for k in kernels]
    previous = field_so_far(state)
    record = filter_step(kernel=names, kernel_shape=kernels[0].shape, rows=bank[0][2], cols=bank[0][3],
                         boundary=options["boundary"], correlate=options["correlate"], in_shape=before,
                         out_shape=after, cval=options["cval"], previous=previous, bank=bank)
    state.kind, state.scale = "values", "clip"
    return after, record


def run(step: Any, array: Any, running: Running) -> Any:
    from ..ops.filter import filter_bank

    options = step.options
    result = filter_bank(array, options["kernels"], has_alpha=running.has_alpha, boundary=options["boundary"],
                         cval=options["cval"], engine=running.engine, **geometry(options))
    colour = array[..., :-1] if running.has_alpha else array
    note_zero_border(step, running.plan.stages[running.position].record, colour, running)
    return result


def rows(step: Any, stage: Any, start: int, stop: int) -> Any:
    """The rows the windows read, the boundary filling those outside (alpha: edge). Runs whole: a
    bank of kernels of different shapes (each its own padding), and a kernel OpenCV may filter by
    FFT (a large one that is not separable: each output then depends on the whole array's size)."""
    import numpy as np

    from ..geometry import conv_geometry
    from ..ops.engines import _OPENCV_FFT_TAPS, _separable  # the engine's own rule for its FFT

    options = step.options
    shapes = {kernel.shape for kernel in options["kernels"]}
    if len(shapes) > 1 or any(kernel.matrix.size >= _OPENCV_FFT_TAPS
                              and _separable(np.asarray(kernel.matrix, dtype=np.float64)) is None
                              for kernel in options["kernels"]):
        return None
    rows_axis, cols_axis = conv_geometry(stage.in_shape, shapes.pop(), **geometry(options))
    return window_band(step, rows_axis, cols_axis, start, stop, fill=options["boundary"], cval=options["cval"],
                       alpha_fill="edge", mode="valid")


def memory(step: Any, record: dict, sizes: Any) -> int:
    kernels = len(step.options["kernels"])
    one = sizes.colour_out // kernels * sizes.real  # one kernel's result in the working type
    # A bank of kernels of different shapes: each kernel its own window and padding (record["bank"]).
    each = max(filter_memory(step, window, record["in_shape"], sizes.before, sizes.colour_in, one, sizes.engine,
                             alpha=bool(sizes.alpha))
               for window in record.get("bank") or [record])
    own = one if kernels > 1 or sizes.alpha else 0  # several kernels, or alpha: each result copied into the stack
    return sizes.result + each + own + (sizes.plane_out * sizes.real * 2 if sizes.alpha else 0)


def headline(record: dict) -> str:
    from ..report import shape_text, window_details

    names = record.get("kernel") or ", ".join(record.get("kernels", []))
    shape = f" {shape_text(record['kernel_shape'])}" if "kernel_shape" in record else ""
    return f"filter {names}{shape}, {record['convolution']}" + window_details(record)


KIND = StepKind(name="filter", summary="Convolve with one kernel (`kernel`) or a bank (`kernels`: output channel "
                "c·K + k is kernel k on input channel c).", options=OPTIONS,
                plan=plan, run=run, memory=memory, rules=rules, complete=complete, headline=headline, rows=rows,
                schema_rules={"oneOf": [{"required": ["kernel"]}, {"required": ["kernels"]}],
                              "allOf": conv_schema_rules()})
