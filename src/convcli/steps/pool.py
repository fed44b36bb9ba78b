"""The pool step: max, avg, min, sum or median over windows, or over the whole image (global)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..vocabulary import POOL_MODES, POOL_OPS
from .base import (BandRows, Choice, Flag, Option, Padding, Pair, Planning, RuleError, Running, StepKind, Wording,
                   field_so_far, window_rows)

OPTIONS = (
    Option("op", Choice(POOL_OPS), "max", "What each window gives."),
    Option("size", Pair(), help="Window: K or KY,KX (required unless global)."),
    Option("stride", Pair(), help="Step between windows: S or SY,SX (default: the window)."),
    Option("mode", Choice(POOL_MODES), "valid",
           "valid (windows inside the input, or the padding given) or same (Keras: ⌈H/s⌉ outputs)."),
    Option("ceil", Flag(), False, "Round the output size up (PyTorch ceil_mode=True)."),
    Option("padding", Padding(), help="Padding P, PH,PW or TOP,BOTTOM,LEFT,RIGHT; padded cells never take part."),
    Option("count_include_pad", Flag(), False,
           "avg: divide by the window's cells inside the padded input, padding included (PyTorch "
           "count_include_pad=True, its default); without it, by the real pixels only."),
    Option("global", Flag(), help="One value per channel over the whole image (the command prints them as a table)."),
)
#: The window options that global pooling replaces.
WINDOW = ("size", "stride", "mode", "ceil", "padding", "count_include_pad")


def rules(options: dict[str, Any], say: Wording) -> None:
    if options.get("global"):
        extra = [name for name in WINDOW if name in options]
        if extra:
            raise RuleError(f"{say('global')} pools the whole image; drop {', '.join(map(say, extra))}",
                            option=extra[0])
    elif "size" not in options:
        raise RuleError(f"give the window with {say('size', 'K')} (or {say.pair('KY', 'KX')}), "
                        f"or {say.switch('global')}")
    if "padding" in options and options.get("mode") == "same":
        raise RuleError(f"{say('padding')} replaces {say('mode')}; drop {say('mode', 'same')}", option="mode")
    if options.get("ceil") and options.get("mode") == "same":
        raise RuleError(f"{say('ceil')} rounds valid or padded windows up; `same` already does", option="ceil")
    if "padding" in options and "size" in options:  # PyTorch's rule, checked before any image is read
        _check_padding(options["padding"], options["size"])
    if options.get("count_include_pad") and options.get("op", "max") != "avg":
        raise RuleError(f"{say.switch('count_include_pad')} sets the divisor of {say('op', 'avg')}; "
                        f"drop it for {say('op', options.get('op', 'max'))}", option="count_include_pad")


def _check_padding(padding: Any, size: tuple[int, int]) -> None:
    from ..geometry import AXIS_NAMES, as_padding, check_pool_padding

    for axis, pads, window_side in zip(AXIS_NAMES, as_padding(padding), size):
        try:
            check_pool_padding(window_side, pads, axis=axis)
        except ValueError as error:
            raise RuleError(str(error), option="padding") from None


def is_unpoolable(step: Any) -> bool:
    """A windowed max pool: what a later max-unpool can undo."""
    return step.op == "pool" and step.options["op"] == "max" and not step.options.get("global")


def plan(step: Any, state: Any, planning: Planning) -> tuple[tuple[int, ...], dict]:
    from ..geometry import pool_geometry
    from ..report import carry_field, pool_step

    options, before = step.options, state.shape
    if options.get("global"):
        after = (1, 1) + before[2:]
        # One window as large as the input, no padding: the field starts where the input's did.
        record = {"op": "global_pool", "pool": options["op"], "in_shape": list(before), "out_shape": list(after),
                  **carry_field(field_so_far(state), taps=before[:2], stride=before[:2])}
    else:
        rows, cols = pool_geometry(before, options["size"], stride=options.get("stride"), mode=options["mode"],
                                   ceil=options["ceil"], padding=options.get("padding"))
        after = (rows.out, cols.out) + before[2:]
        previous = field_so_far(state)
        record = pool_step(pool=options["op"], rows=rows, cols=cols, in_shape=before, out_shape=after,
                           previous=previous, count_include_pad=options["count_include_pad"])
        planning.pooled[planning.position] = before
    state.kind, state.scale = "values", "clip"
    return after, record


def run(step: Any, array: Any, running: Running) -> Any:
    from ..ops.filter import attach_alpha
    from ..ops.pool import global_pool, pool2d

    options = step.options
    colour, alpha = (array[..., :-1], array[..., -1]) if running.has_alpha else (array, None)
    if options.get("global"):
        result = global_pool(colour, op=options["op"])
        return result if alpha is None else attach_alpha(result, global_pool(alpha, op="avg"))  # coverage
    window = {name: options.get(name) for name in ("size", "stride", "mode", "ceil", "padding")}
    if running.position in running.unpooled:  # a later max-unpool puts values back where this took them
        result, running.indices[running.position] = pool2d(colour, op="max", return_indices=True, **window)
    else:
        result = pool2d(colour, op=options["op"], count_include_pad=options["count_include_pad"], **window)
    return result if alpha is None else attach_alpha(result, pool2d(alpha, op="avg", **window))  # coverage


def rows(step: Any, stage: Any, start: int, stop: int) -> Any:
    """The image rows the windows read; the band step pads itself only where the windows pass the
    image's edge (padded cells never take part, so none are gathered), as much as they do, the
    declared padding at most (a ``ceil`` window past it grows it again, as in the whole image).
    A global pool runs whole (and a chain with a max-unpool, which needs the pool's argmax)."""
    from ..geometry import pool_geometry

    options = step.options
    if options.get("global"):
        return None
    height = stage.in_shape[0]
    rows_axis, cols_axis = pool_geometry(stage.in_shape, options["size"], stride=options.get("stride"),
                                         mode=options["mode"], ceil=options["ceil"], padding=options.get("padding"))
    first, last = window_rows(rows_axis, start, stop)
    declared = rows_axis.padded_end - rows_axis.size
    padding = (max(0, -first), min(max(0, last - height), declared), cols_axis.before,
               cols_axis.padded_end - cols_axis.size)
    options = dict(step.options, padding=padding, mode="valid", stride=(rows_axis.stride, cols_axis.stride))
    return BandRows(max(first, 0), min(last, height), replace(step, options=options), start)


def result_dtype(step: Any, dtype: str, *, changed: bool, has_alpha: bool) -> str:
    """Max and min pooling of integers keep the dtype; the others compute in floating point."""
    from ..dtypes import pool_dtype

    return str(pool_dtype(dtype, step.options["op"]))


def memory(step: Any, record: dict, sizes: Any) -> int:
    options = step.options
    if options.get("global"):
        return sizes.n_in * 8 if options["op"] == "median" else sizes.n_in * sizes.real
    if options["op"] == "median":  # float64 windows gathered, then partitioned in a copy
        area = options["size"][0] * options["size"][1]
        (top, bottom), (left, right) = record["padding"]
        rows, cols = record["in_shape"][0] + top + bottom, record["in_shape"][1] + left + right
        padded = rows * cols * sizes.in_channels * 8
        return sizes.n_in * 8 + padded + 2 * sizes.n_out * area * 8 + sizes.n_out * 8 + sizes.result
    indices = sizes.n_out * 9 if options["op"] == "max" else 0  # a max-unpool's argmax (int64) and a mask
    return sizes.result + indices + (sizes.plane_out * sizes.real + sizes.result if sizes.alpha else 0)


def _given(*names: str) -> dict[str, Any]:
    """JSON Schema: one of the options (each also spelled with dashes) is given."""
    return {"anyOf": [{"required": [spelling]} for name in names
                      for spelling in dict.fromkeys((name, name.replace("_", "-")))]}


def _on(name: str) -> dict[str, Any]:
    """JSON Schema: the switch ``name`` (either spelling) is given as true."""
    return {"anyOf": [{"required": [spelling], "properties": {spelling: {"const": True}}}
                      for spelling in dict.fromkeys((name, name.replace("_", "-")))]}


def headline(record: dict) -> str:
    from ..report import shape_text, window_details

    if record["op"] == "global_pool":
        return f"global {record['pool']} pool"
    return f"pool {record['pool']} {shape_text(record['size'])}" + window_details(record)


KIND = StepKind(name="pool", summary="Each window gives its max, avg, min, sum or median; `global: true` pools the "
                "whole image.", options=OPTIONS, plan=plan, run=run, memory=memory, rules=rules,
                result_dtype=result_dtype, headline=headline, record_ops=("global_pool",),
                schema_rules={"allOf": [
                    {"if": _on("global"), "then": {"not": _given(*WINDOW)}, "else": {"required": ["size"]}},
                    {"if": {"anyOf": [{"required": ["padding"]}, *_on("ceil")["anyOf"]]},
                     "then": {"properties": {"mode": {"not": {"const": "same"}}}}},
                    {"if": _on("count_include_pad"), "then": {"required": ["op"], "properties": {"op": {"const": "avg"}}}},
                ]}, rows=rows)


def paired_pool(steps: Any, position: int) -> int | None:
    """Position of the nearest pool step before ``position``, if it is a windowed max pool (what a
    max-unpool at ``position`` undoes); None otherwise."""
    for earlier in range(position - 1, -1, -1):
        if steps[earlier].op == "pool":
            return earlier if is_unpoolable(steps[earlier]) else None
    return None
