"""The upsample step: nearest, zeros (bed of nails), bilinear, transpose (stamp a kernel), and
max-unpool (values back where an earlier max pool took them)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..vocabulary import MAX_UNPOOL, UPSAMPLE_METHODS
from .base import (BandRows, Choice, KernelSpec, Option, Padding, Pair, Planning, RuleError, Running, StepKind, Wording,
                   field_so_far)
from .pool import paired_pool

OPTIONS = (
    Option("method", Choice((*UPSAMPLE_METHODS, MAX_UNPOOL)), "nearest",
           "nearest (blocks), zeros (bed of nails), bilinear, transpose (stamp a kernel); in pipelines also "
           "max-unpool (values back where the max pool before took them)."),
    Option("factor", Pair(), help="F or FY,FX: output pixels per input pixel."),
    Option("kernel", KernelSpec(), help="The kernel each pixel stamps (method transpose)."),
    Option("padding", Padding(), help="P, PH,PW or TOP,BOTTOM,LEFT,RIGHT cropped from the output (method transpose)."),
    Option("output_padding", Pair(minimum=0),
           help="Rows/cols added at the end (method transpose; smaller than the factor)."),
)
#: Methods whose result keeps the input's values (and dtype).
KEEPING = ("nearest", "zeros", MAX_UNPOOL)


def rules(options: dict[str, Any], say: Wording) -> None:
    method = options.get("method", "nearest")
    if method == "transpose":
        if "kernel" not in options:
            raise RuleError(f"{say('method', 'transpose')} needs a kernel: {say('kernel', 'KERNEL')}")
        if "output_padding" in options and "factor" in options:  # PyTorch's rule, before any image
            _check_output_padding(options["output_padding"], options["factor"])
    else:
        extra = [name for name in ("kernel", "padding", "output_padding") if name in options]
        if extra:
            raise RuleError(f"{', '.join(map(say, extra))} only apply to {say('method', 'transpose')}",
                            option=extra[0])
    if method == MAX_UNPOOL:
        if "factor" in options:
            raise RuleError(f"max-unpool takes its size from the max pool it undoes; drop {say('factor')}",
                            option="factor")
    elif "factor" not in options:
        raise RuleError(f"give {say('factor', 'F')} (or {say.pair('FY', 'FX')})")


def _check_output_padding(output_padding: tuple[int, int], factor: tuple[int, int]) -> None:
    from ..geometry import AXIS_NAMES, check_output_padding

    for axis, extra, axis_factor in zip(AXIS_NAMES, output_padding, factor):
        try:
            check_output_padding(extra, factor=axis_factor, axis=axis)
        except ValueError as error:
            raise RuleError(str(error), option="output_padding") from None


def chain_rules(steps: Any) -> None:
    """A max-unpool needs a windowed max pool before it (the nearest pool step)."""
    for position, step in enumerate(steps):
        if step.op == "upsample" and step.options["method"] == MAX_UNPOOL and paired_pool(steps, position) is None:
            raise step.error("max-unpool puts values back where a max pool took them: put a pool with op: max "
                             "(not global) before it")


def undoes(steps: Any, position: int) -> int | None:
    """A max-unpool undoes the max pool before it: that pool keeps its argmax."""
    if steps[position].options["method"] == MAX_UNPOOL:
        return paired_pool(steps, position)
    return None


def plan(step: Any, state: Any, planning: Planning) -> tuple[tuple[int, ...], dict]:
    from ..geometry import transpose_output_shape, transposed_window
    from ..report import carry_field

    options, before = step.options, state.shape
    method = options["method"]
    record: dict[str, Any] = {"op": "upsample", "method": method, "in_shape": list(before)}
    first: tuple[int, ...] = (0, 0)  # output 0 reads input 0 (transpose: see transposed_window)
    if method == MAX_UNPOOL:
        if state.has_alpha:
            raise ValueError("max-unpool cannot carry an alpha channel; read the image as a .npy array")
        pool_position = paired_pool(planning.steps, planning.position)
        pool = planning.steps[pool_position]
        target = planning.pooled[pool_position]
        if len(target) != len(before) or target[2:] != before[2:]:
            raise ValueError(f"max-unpool needs the channels its max pool saw ({target}), got {before}")
        factors = pool.options.get("stride") or pool.options["size"]
        after = target
        record["unpools_step"] = pool_position + 1
        arithmetic = {"rows": f"{before[0]} → {target[0]} (the max pool's input)",
                      "cols": f"{before[1]} → {target[1]} (the max pool's input)"}
        taps = (1, 1)
    elif method == "transpose":
        factors = options["factor"]
        after, (rows, cols) = transpose_output_shape(before, options["kernel"].shape, factor=factors,
                                                     padding=options.get("padding", 0),
                                                     output_padding=options.get("output_padding", 0))
        record.update(kernel=options["kernel"].name, kernel_shape=list(options["kernel"].shape),
                      padding=[[rows.before, rows.after], [cols.before, cols.after]],
                      output_padding=[rows.output_padding, cols.output_padding])
        arithmetic = {"rows": rows.formula(), "cols": cols.formula()}
        # An output pixel gathers from ⌈k/F⌉ input pixels at most, output 0 from ⌈(before − k + 1)/F⌉ on.
        taps, first = zip(*(transposed_window(axis.extent, axis.stride, axis.before) for axis in (rows, cols)))
    else:
        factors = options["factor"]
        after = (before[0] * factors[0], before[1] * factors[1]) + tuple(before[2:])
        arithmetic = {"rows": f"{before[0]} → {before[0]}·{factors[0]} = {after[0]}",
                      "cols": f"{before[1]} → {before[1]}·{factors[1]} = {after[1]}"}
        # Output 0 reads input 0 (bilinear's source coordinate is clamped at 0), then its neighbour.
        taps = (2, 2) if method == "bilinear" else (1, 1)
    if state.has_alpha and method == "transpose":
        raise ValueError(
            "method transpose cannot carry an alpha channel (a stamped alpha means nothing); "
            "remove the alpha channel first, or use method nearest, zeros or bilinear"
        )
    record["factor"] = [int(factors[0]), int(factors[1])]
    record.update(out_shape=list(after), **carry_field(field_so_far(state), taps=taps, first=first, factor=factors),
                  arithmetic=arithmetic)
    if method in ("bilinear", "transpose"):
        state.kind, state.scale = "values", "clip"
    return tuple(after), record


def run(step: Any, array: Any, running: Running) -> Any:
    from ..ops.pool import max_unpool
    from ..ops.upsample import upsample

    options = step.options
    if options["method"] == MAX_UNPOOL:
        pool_position = paired_pool(running.steps, running.position)
        shape = running.plan.stages[pool_position].in_shape
        return max_unpool(array, running.indices[pool_position], output_shape=shape)
    extra = {}
    if options["method"] == "transpose":
        extra = {"kernel": options["kernel"], "padding": options.get("padding") or 0,
                 "output_padding": options.get("output_padding") or 0}
    return upsample(array, factor=options["factor"], method=options["method"], **extra)


def rows(step: Any, stage: Any, start: int, stop: int) -> Any:
    """nearest and zeros: output row r comes from input row ⌊r/F⌋. transpose: the input rows whose
    stamps reach the output rows (see :func:`transpose_rows`). bilinear: output row r reads input
    rows ⌊max((r + ½)/F − ½, 0)⌋ and the next (the last row at most), as ops.upsample computes
    them; its weights come from each output row's own coordinate in float64, which a band shifts
    by a whole number of input rows exactly only when F is a power of 2: other factors, and
    max-unpool (its pool's argmax), run whole."""
    method = step.options["method"]
    if method == MAX_UNPOOL:
        return None
    factor = step.options["factor"][0]
    if method == "transpose":
        return transpose_rows(step, stage, start, stop)
    if method == "bilinear" and factor & (factor - 1) == 0:
        height = stage.in_shape[0]

        def below(row: int) -> int:  # ⌊max((row + ½)/F − ½, 0)⌋ in whole numbers
            return max(0, (2 * row + 1 - factor) // (2 * factor))

        first = below(start)
        return BandRows(first, min(height, below(stop - 1) + 2), step, first * factor)
    if method not in ("nearest", "zeros"):
        return None
    first = start // factor
    return BandRows(first, -(-stop // factor), step, first * factor)


def transpose_rows(step: Any, stage: Any, start: int, stop: int) -> Any:
    """Input row i stamps the kernel on stamped rows ``i·F … i·F + e − 1``, output row r being
    stamped row ``r + before``: outputs ``start … stop − 1`` gather inputs from
    ``⌈(start + before − e + 1)/F⌉`` (at most ``⌊(start + before)/F⌋``, so that the band's first
    stamped row is not after ``start``) to ``⌊(stop − 1 + before)/F⌋``. The band step crops nothing
    above or below, and adds the rows past its last stamp that the outputs need (fewer than F, as
    ``output_padding``); its stamps add up in the same order as the whole image's."""
    from ..geometry import transpose_output_shape

    options = step.options
    _, (rows_axis, cols_axis) = transpose_output_shape(stage.in_shape, options["kernel"].shape,
                                                       factor=options["factor"], padding=options.get("padding") or 0,
                                                       output_padding=options.get("output_padding") or 0)
    height, factor, extent = rows_axis.size, rows_axis.stride, rows_axis.extent
    reach = start + rows_axis.before
    first = min(max(0, -(-(reach - extent + 1) // factor)), reach // factor, height - 1)
    last = min(height, (stop - 1 + rows_axis.before) // factor + 1)
    out_first = first * factor - rows_axis.before
    stamped = (last - first - 1) * factor + extent
    extra = max(0, stop - out_first - stamped)
    band = replace(step, options=dict(options, padding=(0, 0, cols_axis.before, cols_axis.after),
                                      output_padding=(extra, cols_axis.output_padding)))
    return BandRows(first, last, band, out_first)


def result_dtype(step: Any, dtype: str, *, changed: bool, has_alpha: bool) -> str:
    """nearest, zeros and max-unpool keep the values and the dtype; bilinear and transpose compute
    in floating point."""
    from .base import floating

    return str(dtype) if step.options["method"] in KEEPING else floating(dtype)


def memory(step: Any, record: dict, sizes: Any) -> int:
    method = step.options["method"]
    if method == "bilinear":  # the input converted, the rows resized, and the result and one more
        rows_done = sizes.n_in * step.options["factor"][0] * sizes.real
        return sizes.n_in * sizes.real + rows_done + 2 * sizes.result
    if method == "transpose":  # the input converted and a scratch copy, the stamped buffer, the result
        return 2 * sizes.n_in * sizes.real + 2 * sizes.result
    return sizes.result


def headline(record: dict) -> str:
    from ..report import shape_text

    head = f"upsample {record['method']}, factor {shape_text(record['factor'])}"
    if "kernel" in record:
        head += f", kernel {record['kernel']} {shape_text(record['kernel_shape'])}"
    return head


# Upsampling repeats alpha with the colours: its result's dtype is the colours'.
def _method(name: str) -> dict[str, Any]:
    """JSON Schema: ``method`` is ``name``."""
    return {"required": ["method"], "properties": {"method": {"const": name}}}


KIND = StepKind(name="upsample", summary="Upsample by `factor` (nearest, zeros, bilinear, transpose with a kernel), or "
                "undo the nearest max pool (max-unpool).",
                options=OPTIONS, plan=plan, run=run, memory=memory, rules=rules, result_dtype=result_dtype,
                alpha_in_float=False, headline=headline, chain_rules=chain_rules, undoes=undoes,
                schema_rules={"allOf": [
                    {"if": _method("transpose"), "then": {"required": ["kernel", "factor"]},
                     "else": {"not": {"anyOf": [{"required": [name]} for name in
                                                ("kernel", "padding", "output_padding", "output-padding")]}}},
                    {"if": _method(MAX_UNPOOL), "then": {"not": {"required": ["factor"]}},
                     "else": {"required": ["factor"]}},
                ]}, rows=rows)
