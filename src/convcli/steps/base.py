"""What a step kind is: its options, declared once, and the functions that check, plan and run it.

A step kind (gray, filter, sobel, pool, upsample) is one module of this package that builds a
:class:`StepKind`; :mod:`convcli.steps` lists them. The pipeline's checks and defaults
(:func:`convcli.pipeline.parse_step`), its planning and running, the memory estimate and the
JSON Schema of pipeline files all come from these declarations. docs/architecture.md gives the
recipe for adding a kind.

Messages about options are worded through a :class:`Wording`, which the front end chooses: option
names as YAML keys (`` `size: 2` ``, :data:`KEYS`, what pipeline files get) or as the command line's
flags (the CLI's own wording). The core itself never names a flag.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import did_you_mean

if TYPE_CHECKING:  # pragma: no cover - types only
    from ..pipeline import Plan, Step

#: The default of an option that a step holds only when it is given (pool's ``stride``).
ABSENT = object()


# --- values: how an option's value is read ----------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What reading a value may need besides the value: where kernel names are looked up, and the
    folder that relative kernel files are found in (the pipeline file's)."""

    search_path: Sequence[str] | None = None
    base: str | None = None


class Value:
    """How one option's value is checked and converted; ``kind`` names it for the front ends (which
    command-line type, which JSON Schema)."""

    kind = "value"

    def read(self, value: Any, *, name: str, context: Context) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def file(self, value: Any, *, context: Context) -> str | None:
        """The file :meth:`read` reads for ``value`` besides the pipeline file, or None (a run never
        writes over it, and ``--update`` compares its time: docs/semantics.md §7)."""
        return None


@dataclass(frozen=True)
class Choice(Value):
    """One of ``choices``; a mistyped value gets the closest ones suggested."""

    choices: tuple[str, ...]
    kind = "choice"

    def read(self, value: Any, *, name: str, context: Context) -> Any:
        if value not in self.choices:
            hint = did_you_mean(str(value), self.choices)
            raise ValueError(f"`{name}` must be one of {', '.join(self.choices)}, got {value!r}"
                             + (f"; {hint}" if hint else ""))
        return value


@dataclass(frozen=True)
class Pair(Value):
    """Whole numbers per axis: ``2``, ``[2, 1]`` or the command line's ``"2,1"`` (each ≥ ``minimum``)."""

    minimum: int = 1
    kind = "pair"

    def read(self, value: Any, *, name: str, context: Context) -> tuple[int, int]:
        from ..geometry import as_pair

        if isinstance(value, str):
            try:
                value = [int(part) for part in value.replace("x", ",").split(",")]
            except ValueError:
                raise ValueError(f"`{name}` must be a whole number or a pair like 2,3, got {value!r}") from None
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"`{name}` must be whole numbers, got {value!r}")
        return as_pair(value, name=name, minimum=self.minimum)


@dataclass(frozen=True)
class Padding(Value):
    """Padding amounts: P, (PH, PW), (TOP, BOTTOM, LEFT, RIGHT) or Keras's ((TOP, BOTTOM), (LEFT,
    RIGHT)); kept as (top, bottom, left, right)."""

    kind = "padding"

    def read(self, value: Any, *, name: str, context: Context) -> tuple[int, ...]:
        from ..geometry import as_padding

        form = f"`{name}` must be whole numbers like 1 or 1,2 or 0,1,1,0, got {value!r}"
        if isinstance(value, str):
            try:
                value = [int(part) for part in value.split(",")]
            except ValueError:
                raise ValueError(form) from None
        if isinstance(value, bool) or value is None:
            raise ValueError(form)
        if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, list | tuple) for v in value):
            value = [*value[0], *value[1]]  # Keras's ((top, bottom), (left, right))
        (top, bottom), (left, right) = as_padding(value)
        return (top, bottom, left, right)


@dataclass(frozen=True)
class Number(Value):
    """A finite number; with ``positive``, above 0 (``what`` says what it is: "a sigma")."""

    positive: bool = False
    what: str = "a number"
    kind = "number"

    def read(self, value: Any, *, name: str, context: Context) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"`{name}` must be a finite number, got {value!r}")
        if self.positive and value <= 0:
            raise ValueError(f"`{name}` must be {self.what} > 0, got {value!r}")
        return float(value)


@dataclass(frozen=True)
class Whole(Value):
    """A whole number ≥ ``minimum`` (``16``, ``16.0`` or the command line's ``"16"``)."""

    minimum: int = 1
    kind = "whole"

    def read(self, value: Any, *, name: str, context: Context) -> int:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
            raise ValueError(f"`{name}` must be a whole number, got {value!r}")
        if value < self.minimum:
            raise ValueError(f"`{name}` must be >= {self.minimum}, got {int(value)}")
        return int(value)


@dataclass(frozen=True)
class LayerPadding(Value):
    """A layer's padding: ``valid`` or ``same`` (Keras's rule), or amounts as :class:`Padding` reads
    them (PyTorch's ``padding=``), kept as (top, bottom, left, right)."""

    kind = "layer_padding"
    words = ("valid", "same")

    def read(self, value: Any, *, name: str, context: Context) -> str | tuple[int, ...]:
        if isinstance(value, str) and not value.replace(",", "").replace(" ", "").isdigit():
            if value.lower() in self.words:
                return value.lower()
            hint = did_you_mean(value.lower(), self.words)
            raise ValueError(f"`{name}` must be valid, same or amounts like 1 or 1,2 or 0,1,1,0, got {value!r}"
                             + (f"; {hint}" if hint else ""))
        return Padding().read(value, name=name, context=context)


@dataclass(frozen=True)
class Weights(Value):
    """Numbers a layer holds: an array (from Python or a model file), a list of numbers or nested
    lists (on the command line in brackets: ``[[0.25, -1], [0.25, 1]]``), a file (``w.npy``, ``model.npz:KEY``, ``model.safetensors:KEY``, found beside the
    pipeline file), or, with ``initializers``, the name of an initialiser (``glorot_uniform``: the
    array is made when the input's channels are known)."""

    initializers: bool = False
    kind = "weights"

    def read(self, value: Any, *, name: str, context: Context) -> Any:
        from ..vocabulary import INITIALIZERS

        if isinstance(value, str) and self.initializers and value in INITIALIZERS:
            return value
        if isinstance(value, str) and value.lstrip().startswith("["):  # the command line's '[[0.25, -1], ...]'
            import ast

            try:
                value = ast.literal_eval(value.strip())
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                raise ValueError(f"`{name}` must be numbers in brackets like [[1, 2], [3, 4]], got {value!r}"[:300]) from None
            return _finite_array(value, name=name)
        if isinstance(value, str):
            from ..models.weights import load_array

            return _finite_array(load_array(value, base_dir=context.base), name=name)
        if isinstance(value, bool) or value is None or isinstance(value, dict):
            raise ValueError(f"`{name}` must be numbers, a file like w.npy or model.npz:KEY"
                             + (" or an initialiser name" if self.initializers else "") + f", got {value!r}")
        return _finite_array(value, name=name)

    def file(self, value: Any, *, context: Context) -> str | None:
        """The weight file ``value`` names, found as :meth:`read` finds it; None for numbers or an
        initialiser's name.

        >>> Weights(initializers=True).file("he_normal", context=Context()), Weights().file("[[1]]", context=Context())
        (None, None)
        >>> Weights().file("model.npz:conv1/kernel", context=Context(base="/data"))
        '/data/model.npz'
        """
        from ..vocabulary import INITIALIZERS

        if not isinstance(value, str) or (self.initializers and value in INITIALIZERS) or value.lstrip().startswith("["):
            return None
        from ..models.weights import split_spec

        return str(split_spec(value, base_dir=context.base)[0])


def _finite_array(value: Any, *, name: str) -> Any:
    import numpy as np

    try:
        array = np.asarray(value, dtype=np.float64 if np.asarray(value).dtype == np.float64 else np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be numbers (nested lists of equal length), got {value!r}"[:300]) from None
    if array.size == 0:
        raise ValueError(f"`{name}` holds no numbers")
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}` holds NaN or inf")
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class Flag(Value):
    """On or off."""

    kind = "flag"

    def read(self, value: Any, *, name: str, context: Context) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"`{name}` must be true or false, got {value!r}")
        return value


@dataclass(frozen=True)
class Boundary(Value):
    """A boundary name or alias, resolved to the core's name (see convcli.geometry)."""

    kind = "boundary"

    def read(self, value: Any, *, name: str, context: Context) -> str:
        from ..geometry import resolve_boundary

        return resolve_boundary(value if isinstance(value, str) else repr(value))


@dataclass(frozen=True)
class KernelSpec(Value):
    """A kernel: a name, a file (found beside the pipeline file), an inline matrix or a parametric
    spec, or a :class:`~convcli.kernels.Kernel`; with ``many``, a non-empty list of them."""

    many: bool = False

    @property
    def kind(self) -> str:  # type: ignore[override]
        return "kernels" if self.many else "kernel"

    def read(self, value: Any, *, name: str, context: Context) -> Any:
        if not self.many:
            return _kernel(value, name=name, context=context)
        if not isinstance(value, list) or not value:
            raise ValueError(f"`{name}` must be a non-empty list of kernels, got {value!r}")
        return [_kernel(each, name=name, context=context) for each in value]


def _kernel(value: Any, *, name: str, context: Context) -> Any:
    import os

    from ..kernels import FILE_EXTENSIONS, Kernel, load_kernel

    if isinstance(value, Kernel):
        return value
    base = context.base
    if isinstance(value, str) and base and not os.path.isabs(value):
        # A kernel file named in a pipeline is found beside the pipeline, wherever convcli runs.
        if value.lower().endswith(tuple(FILE_EXTENSIONS)) or os.sep in value:
            value = os.path.join(base, value)
    if isinstance(value, str) and value.lower().endswith(tuple(FILE_EXTENSIONS)) and not os.path.exists(value):
        raise ValueError(f"no such kernel file {value}")  # reported at the pipeline's line
    if isinstance(value, bool) or value is None or isinstance(value, dict):
        raise ValueError(f"`kernel` must be a kernel spec or a matrix, got {value!r}")
    return load_kernel(value, search_path=context.search_path)


# --- options and wording -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One option of a step kind, declared once.

    ``name`` is the YAML key (the command line's flag is ``--`` + the name with dashes), and each of
    ``aliases`` is read as it (the frameworks' names where they differ from convcli's); ``default``
    is what the step holds when it is not given (:data:`ABSENT`: nothing); ``help`` is the one-line
    description the front ends show.
    """

    name: str
    value: Value
    default: Any = ABSENT
    help: str = ""
    #: Other names read as this one (Keras's ``strides`` for ``stride``).
    aliases: tuple[str, ...] = ()


class Wording:
    """How a message names an option: as a YAML key (this class) or, in the CLI, as a flag."""

    def __call__(self, name: str, value: str | None = None) -> str:
        """`` `size: K` ``; without a value `` `size` ``."""
        return f"`{name}`" if value is None else f"`{name}: {value}`"

    def pair(self, first: str, second: str) -> str:
        """Two values per axis: ``[KY, KX]``."""
        return f"[{first}, {second}]"

    def switch(self, name: str) -> str:
        """An on/off option turned on: `` `global: true` ``."""
        return self(name, "true")


#: Options named as YAML keys: pipeline files, and the Python API.
KEYS = Wording()


class RuleError(ValueError):
    """Options that do not go together; ``option`` is the one the message points at (its line)."""

    def __init__(self, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


# --- planning and running ----------------------------------------------------------------------------


@dataclass
class Planning:
    """What planning one step may look at besides its input: the whole chain and this step's place
    in it, and the inputs of the pools planned so far (by position: a max-unpool restores one)."""

    steps: Sequence[Step]
    position: int
    pooled: dict[int, tuple[int, ...]] = field(default_factory=dict)


def field_so_far(state: Plan) -> dict[str, list]:
    """The receptive field, jump and field start of the chain planned so far, as the ``previous``
    record that :func:`convcli.report.window_step` and :func:`convcli.report.carry_field` take."""
    return {"receptive_field": list(state.receptive_field), "jump": list(state.jump),
            "receptive_field_start": list(state.receptive_field_start)}


@dataclass
class Running:
    """What running one step may use besides its input array: the chain, this step's place, the
    plan, the engine that computes filters, whether the last channel is alpha, the chain's input
    (``image``) and the argmax indices of max pools that a later max-unpool needs."""

    steps: Sequence[Step]
    position: int
    plan: Plan
    engine: str
    has_alpha: bool
    image: Any
    indices: dict[int, Any] = field(default_factory=dict)
    unpooled: frozenset[int] = frozenset()


def floating(dtype: Any) -> str:
    """The dtype an op computes in for an input of ``dtype`` (see convcli.dtypes.work_dtype)."""
    from ..dtypes import work_dtype

    return str(work_dtype(dtype))


def float_dtype(step: Step, dtype: str, *, changed: bool, has_alpha: bool) -> str:
    """The result dtype of a step that computes in floating point whatever its input."""
    return floating(dtype)


def same_dtype(step: Step, dtype: str, *, changed: bool, has_alpha: bool) -> str:
    """The result dtype of a step that moves or drops values but computes none (zero_pad, crop)."""
    return str(dtype)


def no_rules(options: dict[str, Any], say: Wording) -> None:
    """A kind whose options all go together."""


def as_given(options: dict[str, Any]) -> dict[str, Any]:
    """A kind whose options need nothing more once the defaults are in."""
    return options


@dataclass(frozen=True)
class BandRows:
    """What a step needs to compute its output rows ``start … stop − 1`` from a band of its input
    (convcli.bands): the input rows ``first … stop − 1`` in the input's coordinates (below 0 or
    past its height where the step reads its padding), and the step to run on those rows
    gathered, whose result's row 0 is output row ``out_first``.

    ``fill`` is the boundary rule (a convcli boundary name, ``cval`` for ``constant``) that gives
    the rows outside the input; None when the step reads none (its band step pads itself).
    ``alpha_fill`` is the alpha channel's rule when it differs (filters carry alpha with ``edge``).
    """

    first: int
    stop: int
    step: Any
    out_first: int
    fill: str | None = None
    cval: float = 0.0
    alpha_fill: str | None = None


def same_rows(step: Any, stage: Any, start: int, stop: int) -> BandRows:
    """A point-wise step: output row r is computed from input row r alone."""
    return BandRows(start, stop, step, start)


def whole_rows(step: Any, stage: Any, start: int, stop: int) -> None:
    """A step that cannot run in bands (its chain runs whole)."""
    return None


def window_rows(axis: Any, start: int, stop: int) -> tuple[int, int]:
    """The input rows (padded coordinates: row 0 is the input's first) that the sliding windows of
    outputs ``start … stop − 1`` of ``axis`` (a :class:`convcli.geometry.AxisGeometry`) read."""
    return start * axis.stride - axis.before, (stop - 1) * axis.stride - axis.before + axis.extent


def window_band(step: Any, rows: Any, cols: Any, start: int, stop: int, *, fill: str | None = None,
                cval: float = 0.0, alpha_fill: str | None = None, **changes: Any) -> BandRows:
    """A filter's :class:`BandRows`: the rows its windows read, and the step with the padding the
    whole image has (explicit amounts, so that the engine computes every output with the same
    kernel anchor and path as there), its other options updated with ``changes``.

    The step pads the band itself, and the outputs whose windows reach that padding are not
    kept: the band starts ⌈before/stride⌉ windows early (a whole number of strides, so that its
    outputs fall on the image's), and those first outputs, and any past ``stop``, are dropped.
    """
    from dataclasses import replace

    early = -(-rows.before // rows.stride)
    last = window_rows(rows, start, stop)[1]
    options = dict(step.options, padding=(rows.before, rows.after, cols.before, cols.after), **changes)
    return BandRows((start - early) * rows.stride, last, replace(step, options=options, defaulted=frozenset()),
                    start - early, fill, cval, alpha_fill)


@dataclass(frozen=True)
class StepKind:
    """One kind of step, declared once.

    - ``options``: what it takes (see :class:`Option`);
    - ``rules(options, say)``: raises :class:`RuleError` for options given that do not go
      together (only the options given are in ``options``), worded with ``say``;
    - ``complete(options)``: the step's options once the defaults are in, normalised;
    - ``plan(step, state, planning)``: the result's shape and the step's report record; updates
      ``state`` (the value kind and default scale of the result) where the step changes them;
    - ``run(step, array, running)``: the result;
    - ``result_dtype(step, dtype, changed=, has_alpha=)``: the result's dtype for an input of
      ``dtype`` (``changed``: the shape changed); with ``alpha_in_float``, a result that carries
      an alpha channel is made floating point (the alpha is carried through the geometry so);
    - ``memory(step, record, sizes)``: bytes the step allocates at its busiest, its result and
      working arrays (see :class:`convcli.memory.Sizes`);
    - ``schema_rules``: ``rules`` as JSON Schema keywords (``allOf``, ``oneOf``) for the pipeline
      file's schema (convcli.steps.schema), so that editors refuse what the rules refuse;
    - ``headline(record)``: the summary line of a step of this kind, from its report record (the
      shapes and arithmetic lines are added by convcli.report); ``record_ops``: the ``op`` names
      its records carry besides the kind's own name (``global_pool``);
    - ``chain_rules(steps)``: raises for a chain this kind cannot be part of (a max-unpool needs a
      max pool before it); ``undoes(steps, position)``: the position of an earlier step whose
      argmax the step at ``position`` needs (that step is then run with ``running.unpooled``);
    - ``rows(step, stage, start, stop)``: the :class:`BandRows` that give output rows ``start …
      stop − 1`` of the step (its :class:`~convcli.pipeline.Stage` in a plan), or None when the step
      cannot run in bands (convcli.bands; :func:`whole_rows`, the default).
    """

    name: str
    summary: str
    options: tuple[Option, ...]
    plan: Callable[..., tuple[tuple[int, ...], dict]]
    run: Callable[..., Any]
    memory: Callable[..., int]
    rules: Callable[[dict[str, Any], Wording], None] = no_rules
    complete: Callable[[dict[str, Any]], dict[str, Any]] = as_given
    result_dtype: Callable[..., str] = float_dtype
    alpha_in_float: bool = True
    schema_rules: dict[str, Any] = field(default_factory=dict)
    headline: Callable[[dict], str] = lambda record: str(record.get("op"))
    record_ops: tuple[str, ...] = ()
    chain_rules: Callable[[Any], None] = lambda steps: None
    undoes: Callable[[Any, int], int | None] = lambda steps, position: None
    rows: Callable[..., BandRows | None] = whole_rows

    def option(self, name: str) -> Option:
        """The declared option called ``name``."""
        return next(option for option in self.options if option.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(option.name for option in self.options)

    @property
    def aliases(self) -> dict[str, str]:
        """Each other name an option is read under, with the option's own name."""
        return {alias: option.name for option in self.options for alias in option.aliases}

    @property
    def choices(self) -> dict[str, tuple[str, ...]]:
        """The options that take one of a list of words, and their words."""
        return {option.name: option.value.choices for option in self.options if isinstance(option.value, Choice)}

    @property
    def defaults(self) -> dict[str, Any]:
        return {option.name: option.default for option in self.options if option.default is not ABSENT}
