"""Chains of steps (gray, filter, sobel, pool, upsample): parsed, checked, planned, then run.

A :class:`Step` is one operation with its options already checked. The same steps serve the single
commands (``convcli filter`` is a one- or two-step chain) and pipeline files, so both run through
the same op functions and give the same reports. What each kind of step takes and does is declared
in its own module of :mod:`convcli.steps`; this module only goes through a chain:

- :func:`load_pipeline` reads a YAML file strictly and checks every step and option, each error
  naming the file and line and saying how to fix it (README, Pipelines);
- :func:`plan` works out, from an input's shape alone, every step's shapes, padding, receptive field
  and jump (Araujo et al., Distill 2019) — what ``--dry-run`` reports, and the check that the
  geometry is possible before any pixel is touched;
- :func:`run` computes the result, and the intermediate results steps asked to ``save``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import ConvcliError, GeometryError, NonFiniteError, did_you_mean
from .steps import KINDS
from .steps.base import KEYS, Context, Planning, RuleError, Running, Wording, floating
from .vocabulary import CONV_LAYERS

__all__ = ["OPS", "PipelineError", "Step", "Stage", "Plan", "check_output", "layer_positions", "load_pipeline", "nonfinite",
           "parse_pipeline", "parse_step", "plan", "result_dtype", "run"]

#: The step kinds, in the order messages list them.
OPS = tuple(KINDS)
#: Each kind's options, and the options that take one of a list of words (derived from the kinds).
OPTIONS = {name: kind.names for name, kind in KINDS.items()}
CHOICES = {(name, option): choices for name, kind in KINDS.items() for option, choices in kind.choices.items()}


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
    #: The layer's name and class when the step comes from a model file (``conv2d_1``, ``Conv2D``).
    layer: tuple[str, str] | None = None
    #: The files its options read, as ``(role, path)``: weight files (``weights: w.npy``).
    files: tuple[tuple[str, str], ...] = ()

    def error(self, message: str, *, line: int | None = None, cls: type = None) -> ConvcliError:
        """An error about this step, pointing at its file and line (a model's: at its layer)."""
        if self.layer is not None:
            label = f"layer {self.index + 1} {self.layer[0]!r} ({self.layer[1]})"
        else:
            label = f"step {self.index + 1} ({self.op})" if self.path else self.op
        return (cls or PipelineError)(f"{label}: {message}", path=self.path, line=line or self.line)


@dataclass
class Stage:
    """One step of a :class:`Plan`: the step, the shapes it takes and gives, the receptive field
    and jump of its outputs, its result's dtype (when the plan knows the input's), and its report
    record: the JSON report's entry for the step, which the step kind's ``plan`` writes from the
    same numbers (``save`` and, once run, ``zero_border`` are added to it)."""

    step: Step
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    receptive_field: tuple[float, float]
    jump: tuple[float, float]
    dtype: str | None
    record: dict


@dataclass
class Plan:
    """What a chain of steps does to an input of a given shape: one :class:`Stage` per step."""

    shape: tuple[int, ...]
    has_alpha: bool
    stages: list[Stage] = field(default_factory=list)
    kind: str = "values"      # "values", "angle" or "mask": how values.map_values treats the result
    scale: str = "clip"       # default --scale for integer outputs
    receptive_field: tuple[float, float] = (1, 1)
    jump: tuple[float, float] = (1, 1)
    receptive_field_start: tuple[float, float] = (0, 0)  # where output (0, 0)'s field starts in the input
    dtype: str | None = None  # the result's NumPy dtype, when plan() was given the input's

    @property
    def steps(self) -> list[dict]:
        """The stages' report records, in order: what reports and ``--dry-run`` show."""
        return [stage.record for stage in self.stages]


# --- option checking -------------------------------------------------------------------------------


def parse_step(
    op: str,
    options: dict[str, Any] | None = None,
    *,
    search_path: Sequence[str] | None = None,
    path: str | None = None,
    line: int | None = None,
    index: int = 0,
    wording: Wording = KEYS,
    layer: tuple[str, str] | None = None,
) -> Step:
    """Check one step's options and return it ready to plan and run.

    Option names are the kind's declared ones (``kernel``, ``mode``, ``stride``, ...;
    ``output-padding`` and ``output_padding`` alike). Values may be YAML scalars or lists
    (``stride: [2, 1]``) or the command-line spelling (``stride: "2,1"``). A message about options
    that do not go together names them through ``wording``: as YAML keys (`` `size: 2` ``, the
    default), or as the front end words them (the command line passes its flags' wording).
    ``layer`` names the model layer (name, class) the step comes from, for its errors and report.

    Examples
    --------
    >>> sorted(parse_step("pool", {"op": "max", "size": 2}).options.items())
    [('ceil', False), ('count_include_pad', False), ('mode', 'valid'), ('op', 'max'), ('size', (2, 2))]
    >>> parse_step("filter", {"kernel": "box3", "stride": "2,1"}).options["stride"]
    (2, 1)
    """
    key_lines = dict(getattr(options, "key_lines", None) or {})  # a LineDict from the YAML file
    options = dict(options or {})
    step = Step(op, {}, None, path, line, index, layer=layer)
    if op not in KINDS:
        raise step.error(f"unknown step {op!r}; steps are {', '.join(KINDS)}")
    kind = KINDS[op]
    options = {str(k).replace("-", "_"): v for k, v in options.items()}
    lines = {str(k).replace("-", "_"): v for k, v in key_lines.items()}
    for alias, name in kind.aliases.items():  # Keras's `strides` is `stride`
        if alias in options:
            if name in options:
                raise step.error(f"`{alias}` is another name for `{name}`: give one of them",
                                 line=lines.get(alias, line))
            options[name] = options.pop(alias)
            if alias in lines:
                lines[name] = lines.pop(alias)
    save = options.pop("save", None)
    if save is not None and (not isinstance(save, str) or not save.strip()):
        raise step.error(f"`save` must be a file name, got {save!r}", line=lines.get("save"))
    context = Context(search_path=search_path, base=os.path.dirname(os.path.abspath(path)) if path else None)
    checked: dict[str, Any] = {}
    for name, value in options.items():
        where = lines.get(name, line)
        if name not in kind.names:
            allowed = [*kind.names, "save"]
            hint = did_you_mean(name, allowed, n=1)
            hint = f"{hint} " if hint else ""
            raise step.error(f"unknown option {name!r} for {op}; {hint}options are {', '.join(allowed)}", line=where)
        try:
            checked[name] = kind.option(name).value.read(value, name=name, context=context)
        except ConvcliError as error:  # a kernel file's own error keeps its own file and line
            if error.path and error.path != path:
                raise
            raise step.error(error.message, line=where) from None
        except (ValueError, TypeError) as error:
            raise step.error(str(error), line=where) from None
    files = tuple((f"{name} file", found) for name, value in options.items()
                  if (found := kind.option(name).value.file(value, context=context)) is not None)
    try:
        kind.rules(checked, wording)
    except RuleError as error:
        raise step.error(str(error), line=lines.get(error.option) if error.option else None) from None
    try:
        completed = kind.complete(dict(kind.defaults, **checked))
    except ConvcliError as error:  # normalizing a kernel that sums to 0: at the step's line
        raise step.error(error.message) from None
    except ValueError as error:  # weights that do not fit the options (a layer's `filters`)
        raise step.error(str(error), line=lines.get("weights")) from None
    return replace(step, options=completed, save=save, files=files,
                   defaulted=frozenset(completed) - frozenset(checked) - {"kernels"})


def parse_pipeline(text: str, *, path: str, search_path: Sequence[str] | None = None) -> list[Step]:
    """Check a whole pipeline text (YAML) and return its steps.

    Examples
    --------
    >>> steps = parse_pipeline("steps:\\n  - gray\\n  - pool: {op: max, size: 2}\\n", path="p.yaml")
    >>> [(s.op, s.line) for s in steps]
    [('gray', 2), ('pool', 3)]
    """
    from .yamlfile import LineDict, LineList, YamlError, load

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
        raise PipelineError(f"a pipeline file holds `steps:`, a list of steps ({', '.join(KINDS)})",
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
    for op in dict.fromkeys(step.op for step in steps):  # rules across steps (max-unpool)
        KINDS[op].chain_rules(steps)
    return steps


#: How a file starts that is a zip archive: a Keras 3 ``.keras`` model, read as layers.
ZIP_MAGIC = b"PK\x03\x04"


def load_pipeline(path: str, *, search_path: Sequence[str] | None = None, until: str | None = None) -> list[Step]:
    """Read and check a pipeline file (see :func:`parse_pipeline`), or a Keras ``.keras`` model,
    whose layers become steps (:func:`convcli.models.steps.model_steps`; ``until`` names the last
    layer to run), or ``sample:NAME``, a model convcli ships."""
    from .yamlfile import MAX_BYTES

    if path.startswith("sample:") and not os.path.exists(path):  # a model convcli ships
        from .models.steps import load_model

        return load_model(path, until=until)
    if os.path.exists(path) and not os.path.isfile(path):  # a folder, FIFO or device: never opened
        raise PipelineError("is not a regular file; give a pipeline YAML file", path=path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise PipelineError(f"cannot read the pipeline: {error.strerror or error}", path=path) from None
    if data.startswith(ZIP_MAGIC) or path.lower().endswith(".keras"):
        from .models.steps import load_model

        return load_model(path, until=until)
    if until is not None:
        raise PipelineError(f"`until` names a layer of a Keras model (.keras); this is a pipeline file: "
                            f"end its `steps:` where you want them to stop (until: {until!r})", path=path)
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


# --- planning --------------------------------------------------------------------------------------


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
    state = Plan(tuple(int(n) for n in shape), has_alpha, dtype=None if dtype is None else str(dtype))
    planning = Planning(steps=steps, position=0)
    for position, step in enumerate(steps):
        before = state.shape
        planning.position = position
        try:
            after, record = KINDS[step.op].plan(step, state, planning)
        except (GeometryError, ValueError) as error:
            if isinstance(error, ConvcliError) and error.path:
                raise
            raise step.error(str(error), cls=GeometryError if isinstance(error, GeometryError) else PipelineError)
        if max_pixels is not None:
            _check_size(step, record, before, after, max_pixels)
        state.receptive_field = tuple(record["receptive_field"])
        state.jump = tuple(record["jump"])
        state.receptive_field_start = tuple(record["receptive_field_start"])
        if state.dtype is not None:
            state.dtype = result_dtype(step, state.dtype, changed=tuple(after) != tuple(before),
                                       has_alpha=state.has_alpha)
        if step.save:
            record["save"] = step.save
        if step.layer is not None:
            record["layer"], record["layer_class"] = step.layer
        state.stages.append(Stage(step, tuple(before), tuple(after), state.receptive_field, state.jump,
                                  state.dtype, record))
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
    kind = KINDS[step.op]
    kept = kind.result_dtype(step, dtype, changed=changed, has_alpha=has_alpha)
    return floating(kept) if has_alpha and kind.alpha_in_float else kept


def _check_size(step: Step, record: dict, before: Sequence[int], after: Sequence[int], max_pixels: int) -> None:
    """Refuse, from the plan, a step whose result or padded input would be too large to hold."""
    sizes = [("result", int(after[0]) * int(after[1]))]
    for each in record.get("bank", [record]):  # a bank of kernels of different shapes: each its padding
        if "padding" in each and record["op"] in ("filter", "sobel"):
            (top, bottom), (left, right) = each["padding"]
            rows, cols = before[0] + top + bottom, before[1] + left + right
            sizes.append(("padded input", rows * cols))
    for what, pixels in sizes:
        if pixels > max_pixels:
            raise step.error(
                f"its {what} would have {pixels:,} pixels, over the limit of {max_pixels:,}; "
                "check the options, or raise `max_pixels`", cls=GeometryError)


def layer_positions(steps: Sequence[Step]) -> list[int]:
    """Where a chain's conv layers are (steps of a kind in :data:`convcli.vocabulary.CONV_LAYERS`):
    the steps whose maps a contact sheet shows (:func:`convcli.sheet.pipeline_sheet`).

    Examples
    --------
    >>> steps = parse_pipeline("steps: [gray, {conv2d: {filters: 2, kernel_size: 3}}, {activation: {function: relu}}]",
    ...                        path="p.yaml")
    >>> layer_positions(steps)
    [1]
    """
    return [position for position, step in enumerate(steps) if step.op in CONV_LAYERS]


# --- running ---------------------------------------------------------------------------------------


def run(
    steps: Sequence[Step],
    image: Any,
    *,
    has_alpha: bool = False,
    max_pixels: int | None = None,
    engine: str = "auto",
    allow_nonfinite: bool = False,
    keep: Collection[int] = (),
) -> tuple[Any, Plan, list[tuple[Step, Any]]]:
    """Run ``steps`` on ``image``: the result, its :class:`Plan`, and the intermediates kept.

    The intermediates are ``(step, result)`` for each step that has ``save``, and each step whose
    position (from 0) is in ``keep`` (the conv layers a contact sheet shows, see
    :func:`layer_positions`), in the chain's order; a step that is both comes once.
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
    convcli.errors.NonFiniteError: big.yaml:1: step 1 (filter): float64 overflowed: its result holds 2 inf from finite values; let them through with `allow_nonfinite`
    """
    import numpy as np

    keep = frozenset(keep)
    if not all(type(position) is int and 0 <= position < len(steps) for position in keep):
        raise ValueError(f"`keep` must list positions of steps, 0 to {len(steps) - 1}, got {sorted(keep, key=str)}")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # said once, by _check_step
        return _run(steps, image, has_alpha=has_alpha, max_pixels=max_pixels, engine=engine,
                    allow_nonfinite=allow_nonfinite, keep=keep)


def _run(steps, image, *, has_alpha, max_pixels, engine, allow_nonfinite, keep):
    import numpy as np

    planned = plan(steps, np.shape(image), has_alpha=has_alpha, max_pixels=max_pixels)
    # Earlier steps whose argmax a later step needs (a max pool that a max-unpool undoes).
    unpooled = frozenset(earlier for position, step in enumerate(steps)
                         if (earlier := KINDS[step.op].undoes(steps, position)) is not None)
    running = Running(steps=steps, position=0, plan=planned, engine=engine, has_alpha=has_alpha, image=image,
                      unpooled=unpooled)
    saved: list[tuple[Step, Any]] = []
    array = np.asarray(image)
    for position, step in enumerate(steps):
        running.position = position
        array = KINDS[step.op].run(step, array, running)
        expected = planned.stages[position].out_shape
        if tuple(array.shape) != expected:  # pragma: no cover - plan and ops disagree: a bug
            raise RuntimeError(f"{step.op} gave {array.shape}, the plan said {expected}")
        if not allow_nonfinite:
            _check_step(step, array)
        if step.save or position in keep:
            saved.append((step, array))
    return array, planned, saved


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
             else "compute in float64 with `dtype: float64` (to .npy or .tif), or ")
    raise step.error(f"{array.dtype} overflowed: its result holds {held} from finite values; "
                     f"{wider}let them through with `allow_nonfinite`", cls=NonFiniteError)


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
    convcli.errors.NonFiniteError: the result (up to 1e+308) does not fit float32 (up to 3.4e+38): 1 inf when written; write `dtype: float64`, or let them through with `allow_nonfinite`
    """
    import numpy as np

    held = nonfinite(written)
    if held is None or nonfinite(values) is not None:
        return
    largest = float(np.max(np.abs(values)))
    raise NonFiniteError(f"the result (up to {largest:.3g}) does not fit {written.dtype} "
                         f"(up to {float(np.finfo(written.dtype).max):.3g}): {held} when written; "
                         "write `dtype: float64`, or let them through with `allow_nonfinite`")
