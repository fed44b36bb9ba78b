"""Chains of steps (gray, filter, sobel, pool, upsample): parsed, checked, planned, then run.

A :class:`Step` is one operation with its options already checked. The same steps serve the single
commands (``convcli filter`` is a one- or two-step chain) and pipeline files, so both run through
the same op functions and give the same reports:

- :func:`load_pipeline` reads a YAML file strictly and checks every step and option, each error
  naming the file and line and saying how to fix it (DESIGN §8);
- :func:`plan` works out, from an input's shape alone, every step's shapes, padding, receptive field
  and jump (Araujo et al., Distill 2019) — what ``--dry-run`` reports, and the check that the
  geometry is possible before any pixel is touched;
- :func:`run` computes the result, and the intermediate results steps asked to ``save``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import ConvcliError, GeometryError, NonFiniteError, did_you_mean

__all__ = ["OPS", "PipelineError", "Step", "Plan", "Memory", "check_output", "estimate_memory", "load_pipeline",
           "nonfinite", "parse_pipeline", "plan", "run"]

OPS = ("gray", "filter", "sobel", "pool", "upsample")

_CONV = ("mode", "boundary", "cval", "stride", "padding", "dilation", "correlate")
OPTIONS = {
    "gray": (),
    "filter": ("kernel", "kernels", "normalize", *_CONV),
    "sobel": ("operator", "component", "blur", "threshold", *_CONV),
    "pool": ("op", "size", "stride", "mode", "ceil", "padding", "count_include_pad", "global"),
    "upsample": ("method", "factor", "kernel", "padding", "output_padding"),
}
CHOICES = {
    ("filter", "mode"): ("same", "valid", "full"),
    ("sobel", "mode"): ("same", "valid", "full"),
    ("sobel", "operator"): ("sobel", "scharr", "prewitt"),
    ("sobel", "component"): ("magnitude", "x", "y", "direction"),
    ("pool", "op"): ("max", "avg", "min", "sum", "median"),
    ("pool", "mode"): ("valid", "same"),
    ("upsample", "method"): ("nearest", "zeros", "bilinear", "transpose", "max-unpool"),
}
# Default mapping of each sobel component into integer outputs (fixed for every file of a batch).
SOBEL_SCALE = {"magnitude": "clip", "x": "offset", "y": "offset", "direction": "clip"}


class PipelineError(ConvcliError, ValueError):
    """A pipeline file or step that cannot run (a usage error), with file and line."""


@dataclass(frozen=True)
class Step:
    """One checked operation: ``op`` and its options, and where it was written.

    Build steps with :func:`parse_step` (which checks the options) or :func:`load_pipeline`.
    """

    op: str
    options: dict[str, Any]
    save: str | None = None
    path: str | None = None
    line: int | None = None
    index: int = 0
    #: The options that were not given and hold their defaults (a zero boundary nobody asked for
    #: gets a border check: see :func:`run`).
    defaulted: frozenset[str] = frozenset()

    def error(self, message: str, *, line: int | None = None, cls: type = None) -> ConvcliError:
        """An error about this step, pointing at its file and line."""
        label = f"step {self.index + 1} ({self.op})" if self.path else self.op
        return (cls or PipelineError)(f"{label}: {message}", path=self.path, line=line or self.line)


@dataclass
class Plan:
    """What a chain of steps does to an input of a given shape."""

    shape: tuple[int, ...]
    has_alpha: bool
    steps: list[dict] = field(default_factory=list)
    kind: str = "values"      # "values", "angle" or "mask": how images.map_values treats the result
    scale: str = "clip"       # default --scale for integer outputs
    receptive_field: tuple[float, float] = (1, 1)
    jump: tuple[float, float] = (1, 1)
    dtype: str | None = None  # the result's NumPy dtype, when plan() was given the input's


# --- option checking -------------------------------------------------------------------------------


def _pair(value: Any, *, name: str, minimum: int = 1) -> tuple[int, int]:
    from .geometry import as_pair

    if isinstance(value, str):
        try:
            value = [int(part) for part in value.replace("x", ",").split(",")]
        except ValueError:
            raise ValueError(f"`{name}` must be a whole number or a pair like 2,3, got {value!r}") from None
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"`{name}` must be whole numbers, got {value!r}")
    return as_pair(value, name=name, minimum=minimum)


def _padding(value: Any) -> tuple[int, ...]:
    from .geometry import as_padding

    if isinstance(value, str):
        try:
            value = [int(part) for part in value.split(",")]
        except ValueError:
            raise ValueError(f"`padding` must be whole numbers like 1 or 1,2 or 0,1,1,0, got {value!r}") from None
    if isinstance(value, bool) or value is None:
        raise ValueError(f"`padding` must be whole numbers like 1 or 1,2 or 0,1,1,0, got {value!r}")
    (top, bottom), (left, right) = as_padding(value)
    return (top, bottom, left, right)


def _number(value: Any, *, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number, got {value!r}")
    return float(value)


def _flag(value: Any, *, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be true or false, got {value!r}")
    return value


def _kernel(value: Any, *, search_path: Sequence[str] | None, base: str | None) -> Any:
    from .kernels import FILE_EXTENSIONS, Kernel, load_kernel

    if isinstance(value, Kernel):
        return value
    if isinstance(value, str) and base and not os.path.isabs(value):
        # A kernel file named in a pipeline is found beside the pipeline, wherever convcli runs.
        if value.lower().endswith(tuple(FILE_EXTENSIONS)) or os.sep in value:
            value = os.path.join(base, value)
    if isinstance(value, str) and value.lower().endswith(tuple(FILE_EXTENSIONS)) and not os.path.exists(value):
        raise ValueError(f"no such kernel file {value}")  # reported at the pipeline's line
    if isinstance(value, bool) or value is None or isinstance(value, dict):
        raise ValueError(f"`kernel` must be a kernel spec or a matrix, got {value!r}")
    return load_kernel(value, search_path=search_path)


def parse_step(
    op: str,
    options: dict[str, Any] | None = None,
    *,
    search_path: Sequence[str] | None = None,
    path: str | None = None,
    line: int | None = None,
    index: int = 0,
    flags: bool = False,
) -> Step:
    """Check one step's options and return it ready to plan and run.

    Option names are the commands' (``kernel``, ``mode``, ``stride``, ...; ``output-padding`` and
    ``output_padding`` alike). Values may be YAML scalars or lists (``stride: [2, 1]``) or the
    command-line spelling (``stride: "2,1"``). With ``flags``, a message about options that do not
    go together names them as command-line flags (``--size 2``) rather than YAML keys (`` `size: 2` ``):
    the commands check their options here too.

    Examples
    --------
    >>> sorted(parse_step("pool", {"op": "max", "size": 2}).options.items())
    [('ceil', False), ('count_include_pad', False), ('mode', 'valid'), ('op', 'max'), ('size', (2, 2))]
    >>> parse_step("filter", {"kernel": "box3", "stride": "2,1"}).options["stride"]
    (2, 1)
    """
    key_lines = dict(getattr(options, "key_lines", None) or {})  # a LineDict from the YAML file
    options = dict(options or {})
    step = Step(op, {}, None, path, line, index)
    if op not in OPS:
        raise step.error(f"unknown step {op!r}; steps are {', '.join(OPS)}")
    options = {str(k).replace("-", "_"): v for k, v in options.items()}
    lines = {str(k).replace("-", "_"): v for k, v in key_lines.items()}
    save = options.pop("save", None)
    if save is not None and (not isinstance(save, str) or not save.strip()):
        raise step.error(f"`save` must be a file name, got {save!r}", line=lines.get("save"))
    allowed = OPTIONS[op]
    checked: dict[str, Any] = {}
    base = os.path.dirname(os.path.abspath(path)) if path else None
    for name, value in options.items():
        where = lines.get(name, line)
        if name not in allowed:
            hint = did_you_mean(name, [*allowed, "save"], n=1)
            hint = f"{hint} " if hint else ""
            listing = ", ".join([*allowed, "save"])
            raise step.error(f"unknown option {name!r} for {op}; {hint}options are {listing}", line=where)
        try:
            if (op, name) in CHOICES:
                if value not in CHOICES[(op, name)]:
                    hint = did_you_mean(str(value), CHOICES[(op, name)])
                    raise ValueError(f"`{name}` must be one of {', '.join(CHOICES[(op, name)])}, got {value!r}"
                                     + (f"; {hint}" if hint else ""))
                checked[name] = value
            elif name in ("stride", "dilation", "size", "factor"):
                checked[name] = _pair(value, name=name)
            elif name == "output_padding":
                checked[name] = _pair(value, name=name, minimum=0)
            elif name == "padding":
                checked[name] = _padding(value)
            elif name in ("cval", "threshold"):
                checked[name] = _number(value, name=name)
            elif name == "blur":
                checked[name] = _number(value, name=name)
                if checked[name] <= 0:
                    raise ValueError(f"`blur` must be a sigma > 0, got {value!r}")
            elif name in ("correlate", "normalize", "ceil", "count_include_pad", "global"):
                checked[name] = _flag(value, name=name)
            elif name == "boundary":
                from .ops.filter import resolve_boundary

                checked[name] = resolve_boundary(value) if isinstance(value, str) else resolve_boundary(repr(value))
            elif name == "kernel":
                checked[name] = _kernel(value, search_path=search_path, base=base)
            elif name == "kernels":
                if not isinstance(value, list) or not value:
                    raise ValueError(f"`kernels` must be a non-empty list of kernels, got {value!r}")
                checked[name] = [_kernel(v, search_path=search_path, base=base) for v in value]
        except ConvcliError as error:  # a kernel file's own error keeps its own file and line
            if error.path and error.path != path:
                raise
            raise step.error(error.message, line=where) from None
        except (ValueError, TypeError) as error:
            raise step.error(str(error), line=where) from None
    _check_combination(step, checked, lines, _Wording(flags))
    options = _with_defaults(op, checked)
    return replace(step, options=options, save=save, defaulted=frozenset(options) - frozenset(checked) - {"kernels"})


@dataclass(frozen=True)
class _Wording:
    """How a message names an option: as a command-line flag or as a YAML key."""

    flags: bool

    def __call__(self, name: str, value: str | None = None) -> str:
        """``--size K`` / `` `size: K` ``; without a value ``--size`` / `` `size` ``."""
        if self.flags:
            return f"--{name.replace('_', '-')}" + ("" if value is None else f" {value}")
        return f"`{name}`" if value is None else f"`{name}: {value}`"

    def pair(self, first: str, second: str) -> str:
        """Two values per axis: ``KY,KX`` / ``[KY, KX]``."""
        return f"{first},{second}" if self.flags else f"[{first}, {second}]"

    def switch(self, name: str) -> str:
        """An on/off option turned on: ``--global`` / `` `global: true` ``."""
        return self(name) if self.flags else self(name, "true")


def _check_combination(step: Step, options: dict[str, Any], lines: dict[str, int], say: _Wording) -> None:
    op = step.op
    if op in ("filter", "sobel"):
        if "padding" in options and options.get("mode", "valid") != "valid":
            raise step.error("`padding` replaces `mode`; drop `mode` (or use mode: valid)", line=lines.get("mode"))
        if "cval" in options and options.get("boundary") != "constant":
            raise step.error("`cval` needs boundary: constant", line=lines.get("cval"))
    if op == "filter" and ("kernel" in options) == ("kernels" in options):
        raise step.error("give `kernel: SPEC` or `kernels: [A, B, ...]` (one of them)")
    if op == "sobel" and "threshold" in options and options.get("component") == "direction":
        raise step.error("`threshold` makes an edge map from magnitude, x or y, not from direction",
                         line=lines.get("threshold"))
    if op == "pool":
        if options.get("global"):
            extra = [name for name in ("size", "stride", "mode", "ceil", "padding", "count_include_pad") if name in options]
            if extra:
                raise step.error(f"{say('global')} pools the whole image; drop {', '.join(map(say, extra))}",
                                 line=lines.get(extra[0]))
        elif "size" not in options:
            raise step.error(f"give the window with {say('size', 'K')} (or {say.pair('KY', 'KX')}), "
                             f"or {say.switch('global')}")
        if "padding" in options and options.get("mode") == "same":
            raise step.error(f"{say('padding')} replaces {say('mode')}; drop {say('mode', 'same')}",
                             line=lines.get("mode"))
        if options.get("ceil") and options.get("mode") == "same":
            raise step.error(f"{say('ceil')} rounds valid or padded windows up; `same` already does",
                             line=lines.get("ceil"))
        if options.get("count_include_pad") and options.get("op", "max") != "avg":
            raise step.error(f"{say.switch('count_include_pad')} sets the divisor of {say('op', 'avg')}; "
                             f"drop it for {say('op', options.get('op', 'max'))}",
                             line=lines.get("count_include_pad"))
    if op == "upsample":
        method = options.get("method", "nearest")
        if method == "transpose":
            if "kernel" not in options:
                raise step.error(f"{say('method', 'transpose')} needs a kernel: {say('kernel', 'KERNEL')}")
        else:
            extra = [name for name in ("kernel", "padding", "output_padding") if name in options]
            if extra:
                raise step.error(f"{', '.join(map(say, extra))} only apply to {say('method', 'transpose')}",
                                 line=lines.get(extra[0]))
        if method == "max-unpool":
            if "factor" in options:
                raise step.error(f"max-unpool takes its size from the max pool it undoes; drop {say('factor')}",
                                 line=lines.get("factor"))
        elif "factor" not in options:
            raise step.error(f"give {say('factor', 'F')} (or {say.pair('FY', 'FX')})")


def _with_defaults(op: str, options: dict[str, Any]) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "filter": {"mode": "same", "boundary": "zero", "cval": 0.0, "stride": (1, 1), "padding": None,
                   "dilation": (1, 1), "correlate": False, "normalize": False},
        "sobel": {"operator": "sobel", "component": "magnitude", "blur": None, "threshold": None, "mode": "same",
                  "boundary": "zero", "cval": 0.0, "stride": (1, 1), "padding": None, "dilation": (1, 1),
                  "correlate": False},
        "pool": {"op": "max", "mode": "valid", "ceil": False, "count_include_pad": False},
        "upsample": {"method": "nearest"},
        "gray": {},
    }[op]
    merged = dict(defaults, **options)
    if op == "filter" and "kernel" in merged:
        merged["kernels"] = [merged.pop("kernel")]
    if op == "filter" and merged["normalize"]:
        merged["kernels"] = [k.normalized() for k in merged["kernels"]]
    if op == "filter" and merged["padding"] is not None:
        merged["mode"] = "valid"
    return merged


def parse_pipeline(text: str, *, path: str, search_path: Sequence[str] | None = None) -> list[Step]:
    """Check a whole pipeline text (YAML) and return its steps.

    Examples
    --------
    >>> steps = parse_pipeline("steps:\\n  - gray\\n  - pool: {op: max, size: 2}\\n", path="p.yaml")
    >>> [(s.op, s.line) for s in steps]
    [('gray', 2), ('pool', 3)]
    """
    from .strictyaml import LineDict, LineList, YamlError, load

    try:
        data = load(text, path=path)
    except YamlError as error:
        raise PipelineError(error.message, path=error.path, line=error.line) from None
    if isinstance(data, LineDict):
        unknown = [key for key in data if key not in ("steps", "description", "name")]
        if unknown:
            raise PipelineError(f"unknown key {unknown[0]!r}; a pipeline has steps (and optionally name, description)",
                                path=path, line=data.key_lines.get(unknown[0]))
    if not isinstance(data, LineDict) or "steps" not in data:
        raise PipelineError("a pipeline file holds `steps:`, a list of steps (gray, filter, sobel, pool, upsample)",
                            path=path, line=getattr(data, "line", None) or 1)
    items = data["steps"]
    if not isinstance(items, LineList) or not items:
        raise PipelineError("`steps` must be a non-empty list", path=path, line=data.key_lines.get("steps"))
    steps = []
    for index, (item, line) in enumerate(zip(items, items.item_lines)):
        if isinstance(item, str):
            op, options, where = item, {}, line
        elif isinstance(item, LineDict) and len(item) == 1:
            op = next(iter(item))
            options, where = item[op], item.key_lines.get(op, line)
            if options is None:
                options = {}
            elif not isinstance(options, dict):
                raise PipelineError(f"step {index + 1} ({op}): options must be a mapping like {{kernel: box3}}",
                                    path=path, line=where)
        else:
            raise PipelineError(f"step {index + 1}: write a step as `- gray` or `- filter: {{kernel: box3}}`",
                                path=path, line=line)
        steps.append(parse_step(str(op), options, search_path=search_path, path=path, line=where, index=index))
    _check_unpools(steps)
    return steps


def load_pipeline(path: str, *, search_path: Sequence[str] | None = None) -> list[Step]:
    """Read and check a pipeline file (see :func:`parse_pipeline`)."""
    from .strictyaml import MAX_BYTES

    if os.path.exists(path) and not os.path.isfile(path):  # a folder, FIFO or device: never opened
        raise PipelineError("is not a regular file; give a pipeline YAML file", path=path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise PipelineError(f"cannot read the pipeline: {error.strerror or error}", path=path) from None
    from .images import SNIFF_BYTES, sniff_format

    image_format = sniff_format(data[:SNIFF_BYTES])
    if image_format is not None:  # `pipeline small.png steps.yaml`: the arguments swapped
        raise PipelineError(f"is an image ({image_format.upper()}), not a pipeline file; the pipeline file comes "
                            "first, then the images", path=path)
    if len(data) > MAX_BYTES:
        raise PipelineError(f"larger than {MAX_BYTES // 1024} KiB; a pipeline file is a short list of steps", path=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PipelineError("not UTF-8 text", path=path) from None
    return parse_pipeline(text, path=path, search_path=search_path)


def _check_unpools(steps: Sequence[Step]) -> None:
    for position, step in enumerate(steps):
        if step.op == "upsample" and step.options["method"] == "max-unpool" and _paired_pool(steps, position) is None:
            raise step.error("max-unpool puts values back where a max pool took them: put a pool with op: max "
                             "(not global) before it")


def _paired_pool(steps: Sequence[Step], position: int) -> int | None:
    """Position of the nearest pool step before position ``position``, if it is a (windowed) max pool."""
    for earlier in range(position - 1, -1, -1):
        step = steps[earlier]
        if step.op == "pool":
            return earlier if step.options["op"] == "max" and not step.options.get("global") else None
    return None


# --- planning --------------------------------------------------------------------------------------


def _geometry(options: dict[str, Any]) -> dict[str, Any]:
    return {name: options[name] for name in ("mode", "stride", "dilation", "padding", "correlate")}


def plan(
    steps: Sequence[Step],
    shape: Sequence[int],
    *,
    has_alpha: bool = False,
    max_pixels: int | None = None,
    dtype: str | None = None,
) -> Plan:
    """Shapes, padding, receptive field and jump of every step for an input of ``shape``.

    Raises the error of the first step whose geometry is impossible, naming that step; with
    ``max_pixels``, also of the first step whose result (or padded input) would have more pixels.
    Given the input's ``dtype``, the plan also says the result's (:func:`result_dtype`).

    Examples
    --------
    >>> steps = parse_pipeline(
    ...     "steps: [{filter: {kernel: box3}}, {pool: {op: max, size: 2}}, {filter: {kernel: box3}}]",
    ...     path="rf.yaml")
    >>> p = plan(steps, (16, 16))
    >>> p.shape, p.steps[-1]["receptive_field"], p.steps[-1]["jump"]
    ((8, 8), [8, 8], [2, 2])
    """
    from .geometry import conv_geometry, pool_geometry
    from .ops.filter import bank_output_shape, gray_shape
    from .ops.upsample import transpose_output_shape
    from .report import filter_step, gray_step, pool_step, window_step

    state = Plan(tuple(int(n) for n in shape), has_alpha, dtype=None if dtype is None else str(dtype))
    pooled: dict[int, tuple[int, ...]] = {}
    for position, step in enumerate(steps):
        options, before = step.options, state.shape
        previous = {"receptive_field": list(state.receptive_field), "jump": list(state.jump)}
        try:
            if step.op == "gray":
                grey = gray_shape(before, has_alpha=has_alpha)
                after = grey or before
                record = gray_step(in_shape=before, out_shape=after)
                if grey is None:
                    record["note"] = "already grey"
                record.update(previous)
            elif step.op == "filter":
                kernels = options["kernels"]
                after = bank_output_shape(before, [k.shape for k in kernels], has_alpha=has_alpha,
                                          names=[k.name for k in kernels], **_geometry(options))
                bank = [(k.name, k.shape, *conv_geometry(before, k.shape, **_geometry(options))) for k in kernels]
                names: Any = kernels[0].name if len(kernels) == 1 else [k.name for k in kernels]
                record = filter_step(kernel=names, kernel_shape=kernels[0].shape, rows=bank[0][2], cols=bank[0][3],
                                     boundary=options["boundary"], correlate=options["correlate"], in_shape=before,
                                     out_shape=after, cval=options["cval"], previous=previous, bank=bank)
                state.kind, state.scale = "values", "clip"
            elif step.op == "sobel":
                rows, cols = conv_geometry(before, (3, 3), **_geometry(options))
                after = (rows.out, cols.out) + before[2:]
                fields: dict[str, Any] = {"operator": options["operator"], "component": options["component"],
                                          "kernel_shape": [3, 3], "boundary": options["boundary"],
                                          "convolution": "correlate" if options["correlate"] else "convolve"}
                if options["blur"]:
                    fields["blur"] = options["blur"]
                if options["threshold"] is not None:
                    fields["threshold"] = options["threshold"]
                record = window_step(op="sobel", rows=rows, cols=cols, in_shape=before, out_shape=after,
                                     previous=previous, **fields)
                state.kind = ("mask" if options["threshold"] is not None
                              else "angle" if options["component"] == "direction" else "values")
                state.scale = SOBEL_SCALE[options["component"]]
            elif step.op == "pool":
                if options.get("global"):
                    after = (1, 1) + before[2:]
                    field_r = state.receptive_field[0] + (before[0] - 1) * state.jump[0]
                    field_c = state.receptive_field[1] + (before[1] - 1) * state.jump[1]
                    record = {"op": "global_pool", "pool": options["op"], "in_shape": list(before),
                              "out_shape": list(after), "receptive_field": [field_r, field_c],
                              "jump": [state.jump[0] * before[0], state.jump[1] * before[1]]}
                else:
                    rows, cols = pool_geometry(before, options["size"], stride=options.get("stride"),
                                               mode=options["mode"], ceil=options["ceil"],
                                               padding=options.get("padding"))
                    after = (rows.out, cols.out) + before[2:]
                    record = pool_step(pool=options["op"], rows=rows, cols=cols, in_shape=before,
                                       out_shape=after, previous=previous,
                                       count_include_pad=options["count_include_pad"])
                    pooled[position] = before
                state.kind, state.scale = "values", "clip"
            else:
                after, record = _plan_upsample(step, position, steps, state, pooled, transpose_output_shape)
        except (GeometryError, ValueError) as error:
            if isinstance(error, ConvcliError) and error.path:
                raise
            raise step.error(str(error), cls=GeometryError if isinstance(error, GeometryError) else PipelineError)
        if max_pixels is not None:
            _check_size(step, record, after, max_pixels)
        state.receptive_field = tuple(record["receptive_field"])
        state.jump = tuple(record["jump"])
        if state.dtype is not None:
            state.dtype = result_dtype(step, state.dtype, changed=tuple(after) != tuple(before),
                                       has_alpha=state.has_alpha)
        if step.save:
            record["save"] = step.save
        state.steps.append(record)
        state.shape = tuple(after)
    return state


def result_dtype(step: Step, dtype: str, *, changed: bool = True, has_alpha: bool = False) -> str:
    """The dtype of ``step``'s result for an input of ``dtype``, as the ops compute it.

    Floating-point results are NumPy's promotion of the input with float32 (float32 for 16 bits or
    less); max and min pooling of integers, nearest and zeros upsampling, and max-unpool keep the
    dtype; a Sobel threshold gives a bool mask; ``gray`` of an image that is grey already
    (``changed`` False) keeps it. With an alpha channel (``has_alpha``), which filters, Sobel and
    pooling carry through their geometry in floating point, their results are floating point too.

    Examples
    --------
    >>> steps = parse_pipeline("steps: [{pool: {op: max, size: 2}}, {filter: {kernel: box3}}]", path="p.yaml")
    >>> result_dtype(steps[0], "uint8"), result_dtype(steps[1], "uint8"), result_dtype(steps[1], "float64")
    ('uint8', 'float32', 'float64')
    """
    import numpy as np  # lazy

    from .ops.filter import work_dtype
    from .ops.pool import pool_dtype

    given = np.dtype(dtype)
    floating = str(work_dtype(given))
    options = step.options
    if step.op == "gray":
        return floating if changed else str(given)
    if step.op == "sobel":
        kept = "bool" if options.get("threshold") is not None else floating
    elif step.op == "pool":
        kept = str(pool_dtype(given, options["op"]))
    elif step.op == "upsample":
        kept = str(given) if options["method"] in ("nearest", "zeros", "max-unpool") else floating
    else:
        kept = floating
    # Upsampling repeats alpha with the colours; the other steps carry it in floating point.
    return str(work_dtype(kept)) if has_alpha and step.op != "upsample" else kept


def _check_size(step: Step, record: dict, after: Sequence[int], max_pixels: int) -> None:
    """Refuse, from the plan, a step whose result or padded input would be too large to hold."""
    sizes = [("result", int(after[0]) * int(after[1]))]
    for each in record.get("bank", [record]):  # a bank of kernels of different shapes: each its padding
        if "padding" in each and record["op"] in ("filter", "sobel"):
            (top, bottom), (left, right) = each["padding"]
            rows, cols = record["in_shape"][0] + top + bottom, record["in_shape"][1] + left + right
            sizes.append(("padded input", rows * cols))
    for what, pixels in sizes:
        if pixels > max_pixels:
            raise step.error(
                f"its {what} would have {pixels:,} pixels, over the limit of {max_pixels:,}; "
                "check the options, or raise --max-pixels", cls=GeometryError)


def _plan_upsample(step, position, steps, state, pooled, transpose_output_shape):
    options, before = step.options, state.shape
    method = options["method"]
    rf, jump = list(state.receptive_field), list(state.jump)
    record: dict[str, Any] = {"op": "upsample", "method": method, "in_shape": list(before)}
    if method == "max-unpool":
        if state.has_alpha:
            raise ValueError("max-unpool cannot carry an alpha channel; read the image as a .npy array")
        pool_position = _paired_pool(steps, position)
        pool = steps[pool_position]
        target = pooled[pool_position]
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
        # An output pixel gathers from ⌈k/F⌉ input pixels at most.
        taps = tuple(-(-k // f) for k, f in zip(options["kernel"].shape, factors))
    else:
        factors = options["factor"]
        after = (before[0] * factors[0], before[1] * factors[1]) + tuple(before[2:])
        arithmetic = {"rows": f"{before[0]} → {before[0]}·{factors[0]} = {after[0]}",
                      "cols": f"{before[1]} → {before[1]}·{factors[1]} = {after[1]}"}
        taps = (2, 2) if method == "bilinear" else (1, 1)
    if state.has_alpha and method == "transpose":
        raise ValueError(
            "method transpose cannot carry an alpha channel (a stamped alpha means nothing); "
            "remove the alpha channel first, or use method nearest, zeros or bilinear"
        )
    record["factor"] = [int(factors[0]), int(factors[1])]
    for axis in (0, 1):
        rf[axis] = rf[axis] + (taps[axis] - 1) * jump[axis]
        jump[axis] = _tidy(jump[axis] / factors[axis])
    record.update(out_shape=list(after), receptive_field=[_tidy(v) for v in rf], jump=jump, arithmetic=arithmetic)
    if method in ("bilinear", "transpose"):
        state.kind, state.scale = "values", "clip"
    return tuple(after), record


def _tidy(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


# --- running ---------------------------------------------------------------------------------------


def run(
    steps: Sequence[Step],
    image: Any,
    *,
    has_alpha: bool = False,
    max_pixels: int | None = None,
    engine: str = "auto",
    allow_nonfinite: bool = False,
) -> tuple[Any, Plan, list[tuple[Step, Any]]]:
    """Run ``steps`` on ``image``: the result, its :class:`Plan`, and the saved intermediates.

    The plan is made first, so an impossible geometry fails before any pixel is computed.
    ``engine`` chooses what computes the filters (see :func:`convcli.ops.filter.filter2d`).

    Every step's result is checked: NaN or inf in it, from a finite input (convcli.images refuses NaN and inf
    in inputs unless told otherwise), means its working dtype overflowed, and is a
    :class:`~convcli.errors.NonFiniteError` naming the step, unless ``allow_nonfinite``. NumPy's
    overflow warnings never escape: this check says it, once.

    Examples
    --------
    >>> import numpy as np
    >>> steps = parse_pipeline("steps: [{pool: {op: max, size: 2}}, {upsample: {method: max-unpool}}]",
    ...                        path="unpool.yaml")
    >>> out, p, saved = run(steps, np.array([[1, 2], [4, 3]]))
    >>> out.tolist()
    [[0, 0], [4, 0]]
    >>> run(parse_pipeline("steps: [{filter: {kernel: '1e308 1e308'}}]", path="big.yaml"), np.ones((2, 2)))
    Traceback (most recent call last):
    ...
    convcli.errors.NonFiniteError: big.yaml:1: step 1 (filter): float64 overflowed: its result holds 2 inf from finite values; let them through with --allow-nonfinite
    """
    import numpy as np

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # said once, by _check_step
        return _run(steps, image, has_alpha=has_alpha, max_pixels=max_pixels, engine=engine,
                    allow_nonfinite=allow_nonfinite)


def _run(steps, image, *, has_alpha, max_pixels, engine, allow_nonfinite):
    import numpy as np

    from .ops.filter import attach_alpha, carry_alpha, filter_bank, to_gray
    from .ops.gradients import sobel
    from .ops.pool import global_pool, max_unpool, pool2d
    from .ops.upsample import upsample

    planned = plan(steps, np.shape(image), has_alpha=has_alpha, max_pixels=max_pixels)
    unpooled = {_paired_pool(steps, position) for position, s in enumerate(steps)
                if s.op == "upsample" and s.options["method"] == "max-unpool"}
    indices: dict[int, Any] = {}
    saved: list[tuple[Step, Any]] = []
    array = np.asarray(image)
    for position, step in enumerate(steps):
        options = step.options
        colour, alpha = (array[..., :-1], array[..., -1]) if has_alpha else (array, None)
        if step.op == "gray":
            array = to_gray(array, has_alpha=has_alpha)
        elif step.op == "filter":
            array = filter_bank(array, options["kernels"], has_alpha=has_alpha, boundary=options["boundary"],
                                cval=options["cval"], engine=engine, **_geometry(options))
        elif step.op == "sobel":
            geometry = dict(_geometry(options), boundary=options["boundary"], cval=options["cval"], engine=engine)
            result = sobel(colour, operator=options["operator"], component=options["component"],
                           blur=options["blur"], threshold=options["threshold"], **geometry)
            array = result if alpha is None else attach_alpha(result, carry_alpha(alpha, kernel_shape=(3, 3), **geometry))
        elif step.op == "pool" and options.get("global"):
            array = global_pool(colour, op=options["op"])
            if alpha is not None:  # alpha: the image's coverage
                array = attach_alpha(array, global_pool(alpha, op="avg"))
        elif step.op == "pool":
            window = {name: options.get(name) for name in ("size", "stride", "mode", "ceil", "padding")}
            if position in unpooled:
                pooled, indices[position] = pool2d(colour, op="max", return_indices=True, **window)
            else:
                pooled = pool2d(colour, op=options["op"], count_include_pad=options["count_include_pad"], **window)
            if alpha is not None:  # alpha: the window's coverage
                pooled = attach_alpha(pooled, pool2d(alpha, op="avg", **window))
            array = pooled
        elif options["method"] == "max-unpool":
            pool_position = _paired_pool(steps, position)
            shape = tuple(planned.steps[pool_position]["in_shape"])
            array = max_unpool(array, indices[pool_position], output_shape=shape)
        else:
            extra = {}
            if options["method"] == "transpose":
                extra = {"kernel": options["kernel"], "padding": options.get("padding") or 0,
                         "output_padding": options.get("output_padding") or 0}
            array = upsample(array, factor=options["factor"], method=options["method"], **extra)
        if step.op in ("filter", "sobel") and "boundary" in step.defaulted:
            change = zero_border_change(step, colour, engine=engine, full_scale=_full_scale(image))
            if change is not None:
                planned.steps[position]["zero_border"] = change
        expected = tuple(planned.steps[position]["out_shape"])
        if tuple(array.shape) != expected:  # pragma: no cover - plan and ops disagree: a bug
            raise RuntimeError(f"{step.op} gave {array.shape}, the plan said {expected}")
        if not allow_nonfinite:
            _check_step(step, array)
        if step.save:
            saved.append((step, array))
    return array, planned, saved


# --- the zero boundary's frame ----------------------------------------------------------------------

#: A zero boundary nobody asked for is said when it moves the border outputs by at least this
#: share of the input's full scale on average (1 %: 2.55 grey levels of an 8-bit image).
VISIBLE_BORDER_CHANGE = 0.01


def _full_scale(image: Any) -> float:
    """What "all the way" means for the input's values: an integer dtype's maximum, else the
    largest magnitude in the input (1 when it is all zeros)."""
    import numpy as np

    image = np.asarray(image)
    if image.dtype.kind in "ui":
        return float(np.iinfo(image.dtype).max)
    largest = float(np.max(np.abs(image))) if image.size else 0.0
    return largest if math.isfinite(largest) and largest > 0 else 1.0


def zero_border_change(step: Step, image: Any, *, engine: str = "auto",
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
    >>> step = parse_step("filter", {"kernel": "box3"})
    >>> change = zero_border_change(step, np.full((20, 20), 90.0), full_scale=255.0)
    >>> change["max"], round(change["mean"], 4), change["outputs"]
    (50, 31.0526, 76)
    >>> zero_border_change(parse_step("filter", {"kernel": "box3", "mode": "valid"}), np.ones((8, 8)))
    """
    import numpy as np

    from .geometry import conv_geometry
    from .ops.filter import filter_bank
    from .ops.gradients import sobel

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
        rows, cols = conv_geometry(image.shape[:2], shape, **_geometry(options))
        if not (rows.before or rows.after or cols.before or cols.after):
            continue

        def apply(part: np.ndarray, boundary: str, pads: tuple[int, int, int, int]) -> np.ndarray:
            geometry = dict(common, mode="valid", padding=pads, boundary=boundary, cval=0.0, engine=engine)
            if step.op == "sobel":
                return sobel(part, operator=options["operator"], component=options["component"], **geometry)
            return filter_bank(part, [options["kernels"][number]], **geometry)

        for part, pads, keep in _border_strips(image, rows, cols):
            zero = apply(part, "zero", pads)[keep].astype(np.float64)
            continued = apply(part, "reflect", pads)[keep].astype(np.float64)
            changes.append(np.abs(zero - continued).reshape(-1))
    if not changes:
        return None
    change = np.concatenate(changes)
    change = change[np.isfinite(change)]
    if not change.size or float(change.mean()) < VISIBLE_BORDER_CHANGE * full_scale:
        return None
    return {"mean": _tidy(float(change.mean())), "max": _tidy(float(change.max())), "outputs": int(change.size)}


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


# --- non-finite results ----------------------------------------------------------------------------


def nonfinite(array: Any) -> str | None:
    """None when ``array`` holds only finite numbers, else what it holds instead (``"3 inf and 1 NaN"``).

    One pass and no mask when all is finite (the common case): NaN or inf makes the sum NaN or
    inf. Only when the sum is not finite (also when finite values overflow it) are they counted.

    Examples
    --------
    >>> import numpy as np
    >>> nonfinite(np.array([1.0, 2.0])) is None, nonfinite(np.array([np.inf, -np.inf, np.nan]))
    (True, '2 inf and 1 NaN')
    >>> nonfinite(np.full(4, 3e38, np.float32)) is None  # the sum overflows; the values do not
    True
    """
    import numpy as np

    array = np.asarray(array)
    if array.dtype.kind not in "fc" or array.size == 0:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(float(np.abs(array.sum()))):
            return None
    infinite, missing = int(np.count_nonzero(np.isinf(array))), int(np.count_nonzero(np.isnan(array)))
    held = [f"{infinite:,} inf"] * bool(infinite) + [f"{missing:,} NaN"] * bool(missing)
    return " and ".join(held) or None


def _check_step(step: Step, array: Any) -> None:
    """A step whose finite input gave NaN or inf overflowed its working dtype: an error naming it."""
    held = nonfinite(array)
    if held is None:
        return
    wider = ("" if array.dtype.itemsize >= 8
             else "compute in float64 with --dtype float64 (to .npy or .tif), or ")
    raise step.error(f"{array.dtype} overflowed: its result holds {held} from finite values; "
                     f"{wider}let them through with --allow-nonfinite", cls=NonFiniteError)


def check_output(values: Any, written: Any) -> None:
    """Refuse a finite result that became NaN or inf when cast to the output's dtype (``written``).

    A float64 result beyond float32's range (±3.4e38) would be written to float32 as inf.

    Examples
    --------
    >>> import numpy as np
    >>> values = np.array([1e308, 1.0])
    >>> with np.errstate(over="ignore"):
    ...     written = values.astype(np.float32)
    >>> check_output(values, written)
    Traceback (most recent call last):
    ...
    convcli.errors.NonFiniteError: the result (up to 1e+308) does not fit float32 (up to 3.4e+38): 1 inf when written; write --dtype float64, or let them through with --allow-nonfinite
    """
    import numpy as np

    held = nonfinite(written)
    if held is None or nonfinite(values) is not None:
        return
    largest = float(np.max(np.abs(values)))
    raise NonFiniteError(f"the result (up to {largest:.3g}) does not fit {written.dtype} "
                         f"(up to {float(np.finfo(written.dtype).max):.3g}): {held} when written; "
                         "write --dtype float64, or let them through with --allow-nonfinite")


# --- memory ----------------------------------------------------------------------------------------

#: Bytes added to every estimate for what is not an image-sized array: the engines' row buffers and
#: thread pools, small arrays, the interpreter's own allocations.
MEMORY_OVERHEAD = 8 << 20
#: And a tenth more for what the arrays' model leaves out: allocator slack, libraries' scratch space.
MEMORY_MARGIN = 1.1


@dataclass(frozen=True)
class Memory:
    """An estimate of the most memory one input's run holds at once: ``bytes``, reached ``where``."""

    bytes: int
    where: str


def _elements(shape: Sequence[int]) -> int:
    return math.prod(int(n) for n in shape)


def _step_memory(step: Step, record: dict, before: str, after: str, has_alpha: bool, engine: str) -> int:
    """What one step allocates, in bytes, at its busiest: its result and its working arrays
    (converted and padded copies, the engines' outputs, temporaries), as the ops in convcli.ops
    compute them. Its input is not counted: whoever holds it counts it."""
    import numpy as np

    from .ops.filter import work_dtype

    n_in, n_out = _elements(record["in_shape"]), _elements(record["out_shape"])
    size_in, size_out = np.dtype(before).itemsize, np.dtype(after).itemsize
    real = work_dtype(before).itemsize  # the floating-point type the op computes in
    result = n_out * size_out
    alpha = 1 if has_alpha else 0
    in_channels = _elements(record["in_shape"][2:])
    out_channels = _elements(record["out_shape"][2:])
    colour_in = n_in // in_channels * (in_channels - alpha)
    plane_out = n_out // out_channels
    colour_out = plane_out * (out_channels - alpha)
    options = step.options
    if step.op == "gray":
        return n_in * real + 2 * result  # the colours converted, the luminance, and it stacked with alpha
    if step.op in ("filter", "sobel"):
        kernels = len(options["kernels"]) if step.op == "filter" else 1
        one = colour_out // kernels * real  # one kernel's result in the working type
        # A bank of kernels of different shapes: each kernel its own window and padding (record["bank"]).
        each = max(_filter_memory(step, window, record["in_shape"], before, colour_in, one, engine, alpha=bool(alpha))
                   for window in record.get("bank") or [record])
        if step.op == "filter":  # several kernels, or alpha: each kernel's result is copied into the stack
            own = one if kernels > 1 or alpha else 0
            return result + each + own + (plane_out * real * 2 if alpha else 0)
        # Sobel: the pre-blur, x and y, and the component made from them. Direction also filters |x|
        # (an input-sized copy) into each pixel's rounding tolerance (see ops.gradients._direction).
        gradients = (2 if options["component"] in ("magnitude", "direction") else 1) * one
        extra = (colour_in * real + one if options["component"] == "direction"
                 else one if options["threshold"] is not None else 0)
        blurred = colour_in * real if options["blur"] else 0
        return blurred + each + gradients + extra + result + (result if alpha else 0)
    if step.op == "pool":
        if options.get("global"):
            return n_in * 8 if options["op"] == "median" else n_in * real
        if options["op"] == "median":  # float64 windows gathered, then partitioned in a copy
            area = options["size"][0] * options["size"][1]
            (top, bottom), (left, right) = record["padding"]
            rows, cols = record["in_shape"][0] + top + bottom, record["in_shape"][1] + left + right
            padded = rows * cols * in_channels * 8
            return n_in * 8 + padded + 2 * n_out * area * 8 + n_out * 8 + result
        indices = n_out * 9 if options["op"] == "max" else 0  # a max-unpool's argmax (int64) and a mask
        return result + indices + (plane_out * real + result if alpha else 0)
    method = options["method"]
    if method == "bilinear":  # the input converted, the rows resized, and the result and one more
        rows_done = n_in * options["factor"][0] * real
        return n_in * real + rows_done + 2 * result
    if method == "transpose":  # the input converted and a scratch copy, the stamped buffer, the result
        return 2 * n_in * real + 2 * result
    return result


def _filter_memory(step: Step, window: dict, in_shape: Sequence[int], dtype: str, colour: int, one: int,
                   engine: str, *, alpha: bool) -> int:
    """One filter2d call's working arrays besides its result (``one`` bytes), as
    convcli.ops.filter runs it; ``window`` holds the kernel's ``kernel_shape`` and ``padding`` (a
    step's record, or one kernel's entry of a bank's)."""
    import numpy as np

    from .ops.filter import _OPENCV_MAX_CHANNELS, _OPENCV_SOURCES, _POLYPHASE_TAPS, BOUNDARIES, work_dtype

    options = step.options
    real = work_dtype(dtype).itemsize
    kernel = window["kernel_shape"]
    (top, bottom), (left, right) = window.get("padding") or ((0, 0), (0, 0))
    channels = colour // (in_shape[0] * in_shape[1])
    stride, dilation = options["stride"], options["dilation"]
    mode = BOUNDARIES[options["boundary"]]
    converted = colour * real if np.dtype(dtype) not in _OPENCV_SOURCES else 0
    direct = (engine != "scipy" and tuple(dilation) == (1, 1) and channels <= _OPENCV_MAX_CHANNELS
              and (tuple(stride) == (1, 1) or kernel[0] * kernel[1] < _POLYPHASE_TAPS)
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


def _mapping_memory(elements: int, result: str, output: str) -> int:
    """Turning a result into the output dtype, besides the mapped array: the general mapping's
    float64 copies (alpha, angles, masks, integers into an integer dtype) or the fast path's."""
    import numpy as np

    if np.dtype(output).kind == "f":
        return 0
    if np.dtype(result).kind != "f":  # integers converted first: float32 for 16 bits or less
        return elements * (4 if np.dtype(result).itemsize <= 2 else 8)
    return elements * np.dtype(result).itemsize  # values beyond the safe range clipped in a copy


def estimate_memory(
    chains: Sequence[Sequence[Step]],
    shape: Sequence[int],
    dtype: str,
    *,
    has_alpha: bool = False,
    start_dtype: str | None = None,
    outputs: Sequence[tuple[int, str, str]] | None = None,
    sheet: bool = False,
    engine: str = "auto",
    max_pixels: int | None = None,
) -> Memory:
    """The most memory one input's run holds at once, from its header and the plan: nothing is decoded.

    The run, as the command line does it: the input decoded (the decoder's array and a converted
    copy), converted to ``start_dtype`` (``--dtype float64``), then each chain's steps in turn —
    at each step the input, the results of earlier chains and saved steps, the step's own input
    and everything the step allocates (see the ops) — then each product mapped to its output
    dtype and encoded while the others wait. The peak is the largest of these sums, plus
    :data:`MEMORY_OVERHEAD`.

    Parameters
    ----------
    chains : sequence of step lists
        One list of steps per product, as :func:`run` takes them.
    shape, dtype, has_alpha
        The input, from its header.
    start_dtype : str, optional
        What the steps start from, when the input is converted first.
    outputs : sequence of (product, dtype, format), optional
        Each file written: which product (the chains' results, then the saved steps in order,
        then a contact sheet), in which dtype and format. Default: each product once to ``.npy``,
        as computed.
    sheet : bool
        A contact sheet of the first chain's result is made too.
    engine : str
        What computes the filters (``--engine``).
    max_pixels : int, optional
        Checked first, per step, as :func:`plan` does: a result too large to hold says so.

    Examples
    --------
    >>> steps = parse_pipeline("steps: [{upsample: {method: bilinear, factor: 4}}]", path="up.yaml")
    >>> estimate = estimate_memory([steps], (3000, 3000), "uint8", outputs=[(0, "uint8", "png")])
    >>> round(estimate.bytes / 2**30, 2), estimate.where
    (1.38, 'step 1 (upsample)')
    """
    import numpy as np

    start = str(start_dtype or dtype)
    decoded = _elements(shape) * np.dtype(dtype).itemsize
    base = decoded + (_elements(shape) * np.dtype(start).itemsize if start != str(dtype) else 0)
    peak, where = 2 * decoded, "decoding"
    held = 0  # results of earlier chains and saved steps
    products: list[tuple[int, str, bool, str]] = []  # elements, dtype, alpha, kind
    saves: list[tuple[int, str, bool, str]] = []
    for chain in chains:
        state = plan(chain, shape, has_alpha=has_alpha, max_pixels=max_pixels)
        current, alive = start, 0  # the step's input when it is not the decoded image
        alpha = has_alpha
        for position, (step, record) in enumerate(zip(chain, state.steps)):
            after = result_dtype(step, current, changed=record["in_shape"] != record["out_shape"], has_alpha=alpha)
            need = base + held + alive + _step_memory(step, record, current, after, alpha, engine)
            if need > peak:
                peak, where = need, f"step {position + 1} ({step.op})"
            alive = _elements(record["out_shape"]) * np.dtype(after).itemsize
            current = after
            if step.save:
                held += alive
                kind = plan(chain[: position + 1], shape, has_alpha=has_alpha).kind
                saves.append((_elements(record["out_shape"]), after, alpha, kind))
        products.append((_elements(state.shape), current, alpha, state.kind))
        held += alive
    products += saves
    if sheet:
        elements = products[0][0]
        need = base + held + 2 * elements * 8
        if need > peak:
            peak, where = need, "the contact sheet"
        products.append((elements, "uint8", False, "values"))
        held += elements * 3
    written = outputs if outputs is not None else [(index, product[1], "npy") for index, product in
                                                   enumerate(products)]
    for index, output, fmt in written:
        # The runner maps one product at a time while the others wait, lets the result go, then
        # encodes: the compressed bytes, and their joined copy (a .npy is written as it is).
        elements, result, alpha, kind = products[index]
        mapped = elements * np.dtype(output).itemsize
        general = np.dtype(output).kind in "ui" and (alpha or kind != "values")
        mapping = 4 * elements * 8 if general else _mapping_memory(elements, result, output)
        product = elements * np.dtype(result).itemsize
        # A .npy: io.BytesIO grows by an eighth at a time, and NumPy copies 16 MiB pieces into it
        # through a buffer of their own.
        encoded = mapped * 1.25 + min(mapped, 32 << 20) if fmt == "npy" else mapped * 2
        need = max(held + mapped + mapping, held - product + mapped + encoded)
        if need > peak:
            peak, where = need, "writing"
    return Memory(int(peak * MEMORY_MARGIN + MEMORY_OVERHEAD), where)
