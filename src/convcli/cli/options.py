"""Options shared by several commands, each defined once (as rasterio's ``rio/options.py`` does).

A command stacks the decorators it needs; :func:`pop_step_options` and :class:`OutputOptions` gather the
parsed values back into what the core and the batch loop take.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import click

from ..geometry import AMBIGUOUS_BOUNDARIES, BOUNDARIES, BOUNDARY_ALIASES
from ..kernels.spec import parametric_examples
from ..vocabulary import OUTPUT_DTYPES, SCALES, SHEET_SCALES, SHOW_MAX_CELLS, gray_formula
from .formats import FORMAT_CHOICES
from .types import KERNEL, PADDING, PAIR, PAIR_NONNEG, TEMPLATE, ChoiceType

# The core's names (geometry: no NumPy), aliases included; `mirror` is not offered but still
# answered with the core's explanation.
BOUNDARY = ChoiceType((*BOUNDARIES, *BOUNDARY_ALIASES), case_sensitive=False, refused=AMBIGUOUS_BOUNDARIES)


class SizeType(click.ParamType):
    """A number of bytes: ``1024``, or with a unit: ``K``, ``M``, ``G``, ``T`` (also ``KiB``, ...) are
    powers of 1024, ``KB``, ``MB``, ``GB``, ``TB`` powers of 1000 (``500M``, ``1.5G``, ``2GB``)."""

    name = "size"
    UNITS = {"": 1, "b": 1} | {
        letter + suffix: base**power
        for power, letter in enumerate("kmgt", start=1)
        for suffix, base in (("", 1024), ("ib", 1024), ("b", 1000))
    }
    _FORM = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*\Z", re.IGNORECASE)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            size = value
        else:
            match = self._FORM.match(str(value))
            if match is None:
                self.fail(f"{value!r} is not a size like 1024, 500M or 2G", param, ctx)
            number, unit = match.groups()
            if unit.lower() not in self.UNITS:
                self.fail(f"{value!r}: unknown unit {unit!r}; use K, M, G, T (powers of 1024) "
                          "or KB, MB, GB, TB (powers of 1000)", param, ctx)
            from decimal import Decimal  # lazy: only --max-memory with a unit needs it

            size = int(Decimal(number) * self.UNITS[unit.lower()])
        if size < 1:
            self.fail(f"{value!r}: a size must be at least 1 byte", param, ctx)
        return size


SIZE = SizeType()


def _compose(*decorators: Callable) -> Callable:
    def apply(f: Callable) -> Callable:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


inputs_argument = click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")

kernel_dir_option = click.option(
    "--kernel-dir", "kernel_dirs", multiple=True, is_eager=True,
    type=click.Path(exists=True, file_okay=False),
    help="Folder of NAME.yaml kernels, searched before CONVCLI_KERNEL_PATH and the built-ins (repeatable).",
)

kernel_option = click.option(
    "-k", "--kernel", "kernels", multiple=True, required=True, type=KERNEL,
    help="Kernel: a name (sobel-x), a file (.yaml .npy .txt .csv), an inline matrix "
    "('1 0 -1; 2 0 -2; 1 0 -1' or '[[1,0],[0,1]]') or " + ", ".join(parametric_examples(every=False))
    + ". Repeat for several kernels.",
)

gray_option = click.option(
    "--gray", is_flag=True,
    help=f"First turn RGB into luminance {gray_formula()} (alpha kept).",
)

summary_option = click.option(
    "--summary", is_flag=True,
    help="Print, for each input, a table of the steps as Keras's model.summary() gives it (layer, output "
         "shape, parameters) with receptive field and jump; without -o or -O nothing is computed.",
)


def pop_summary_options(params: dict[str, Any], *, computed: bool = False) -> tuple[OutputOptions, Callable | None]:
    """The output options of a command with ``--summary``, and what shows each input's results:
    with ``--summary``, its table (and, without -o or -O, a dry run: nothing is computed, unless
    ``computed``: something printed needs the result, as ``--explain``)."""
    import dataclasses

    summary = params.pop("summary")
    options = OutputOptions.pop(params, output_required=not (summary or computed))
    if not summary:
        return options, None
    if options.output is None and options.output_dir is None and not computed:
        options = dataclasses.replace(options, dry_run=True)
    return options, show_summary


def show_summary(input_file: Any, results: list[Any]) -> None:
    """The ``--summary`` table of one input's first result, on standard output."""
    from ..errors import shown_path
    from ..report import layer_table
    from .faults import echo_data

    steps = results[0].steps
    if steps:
        lines = [f"Input: {shown_path(input_file.label)}",
                 *layer_table(steps, input_shape=steps[0]["in_shape"])]
        echo_data("\n".join(lines))


def step_option(op: str, name: str, *decls: str, **settings: Any) -> Callable:
    """The click option of step kind ``op``'s declared option ``name`` (see convcli.steps): its
    flag (``--`` and the name with dashes, after any short ``decls``), type, choices, help and shown
    default come from the declaration, so the command line and pipeline files cannot differ.
    ``settings`` adds what only the command line has (``multiple``, ``required``, ``metavar``,
    ``choices``: a subset of the declared ones).

    Read the values back with :func:`pop_step_options`: a value not given is not passed to the
    step, which holds its own default and knows it was not asked for.
    """
    from ..steps import KINDS
    from ..steps.base import ABSENT, Boundary, Choice, Flag, KernelSpec, LayerPadding, Number, Padding, Pair, Weights, Whole

    declared = KINDS[op].option(name)
    value = declared.value
    flag = "--" + name.replace("_", "-")
    aliases = ["--" + alias.replace("_", "-") for alias in declared.aliases]  # Keras's --strides
    param = _param_name(name)
    shown = not any(declared.default is nothing for nothing in (ABSENT, None, False))
    if isinstance(value, Flag):
        return click.option(flag, *decls, *aliases, param, is_flag=True, help=declared.help, **settings)
    if isinstance(value, Choice):
        kind: Any = ChoiceType(settings.pop("choices", value.choices))
    elif isinstance(value, Boundary):
        kind = BOUNDARY
    elif isinstance(value, Pair):
        kind = PAIR if value.minimum == 1 else PAIR_NONNEG
    elif isinstance(value, Padding):
        kind = PADDING
    elif isinstance(value, Number):
        kind = click.FloatRange(min=0, min_open=True) if value.positive else float
    elif isinstance(value, KernelSpec):
        kind = KERNEL
    elif isinstance(value, Whole):
        kind = click.IntRange(min=value.minimum)
    elif isinstance(value, LayerPadding | Weights):  # read and checked by the step (make_step)
        kind = click.STRING
    else:  # pragma: no cover - a new kind of value needs its command-line type here
        raise TypeError(f"no command-line type for {type(value).__name__}")
    # The declared default is shown and parsed like a value typed; pop_step_options passes only
    # the options given, so the step still knows which ones hold their defaults.
    default = _default_text(declared.default) if shown else None
    return click.option(*decls, flag, *aliases, param, type=kind, default=default, show_default=shown,
                        help=declared.help, **settings)


def _default_text(default: Any) -> str:
    """A declared default as the command line writes it: ``(1, 1)`` is ``1``, ``(2, 1)`` is ``2,1``.

    Examples
    --------
    >>> _default_text((1, 1)), _default_text((2, 1)), _default_text("zero"), _default_text(0.0)
    ('1', '2,1', 'zero', '0.0')
    """
    if isinstance(default, tuple):
        return str(default[0]) if len(set(default)) == 1 else ",".join(map(str, default))
    return str(default)


def conv_options(op: str) -> Callable:
    """The geometry options of a convolution step kind (filter, sobel), in the declared order."""
    from ..steps.conv import CONV_OPTIONS

    return _compose(*(step_option(op, option.name) for option in CONV_OPTIONS))


def pop_step_options(params: dict[str, Any], op: str, names: Sequence[str] | None = None) -> dict[str, Any]:
    """Take step kind ``op``'s options (or only ``names`` of them) out of a command's parameters,
    as step options: only the ones given. The step holds the defaults of the others and knows they
    were not asked for (a zero boundary nobody asked for is said when it frames an image: README,
    Reports); which options go together is the step's own rule, checked by
    :func:`convcli.cli.chain.make_step`.
    """
    from ..steps import KINDS

    ctx = click.get_current_context(silent=True)
    given = {}
    for name in names if names is not None else KINDS[op].names:
        param = _param_name(name)
        if param not in params:
            continue
        value = params.pop(param)
        if value is not None and (ctx is None or ctx.get_parameter_source(param) is not click.core.ParameterSource.DEFAULT):
            given[name] = value
    return given


def _param_name(name: str) -> str:
    """The Python name click gives a step option's value: ``global`` is ``global_``."""
    import keyword

    return name + "_" if keyword.iskeyword(name) else name


def _set_root(name: str) -> Any:
    """A callback that records a flag given after the command as if given before it."""

    def record(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            root = ctx.find_root()
            root.obj = dict(root.obj or {}, **{name: True})

    return record


# `convcli filter ... -q` means what `convcli -q filter ...` means.
quiet_options = _compose(
    click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_root("quiet"),
                 help="No summary on standard error (as `convcli -q`)."),
    click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=_set_root("verbose"),
                 help="Summarise every file (as `convcli -v`)."),
)

output_options = _compose(
    quiet_options,
    click.option("-o", "--output", "output", default=None, metavar="PATH",
                 help="Output file for one input ('-' = standard output, with --format)."),
    click.option("-O", "--output-dir", "output_dir", default=None, type=click.Path(file_okay=False),
                 metavar="DIR", help="Output folder for any number of inputs (created if missing)."),
    click.option("--name", "name_template", type=TEMPLATE, default=None,
                 help="Output name in -O DIR; fields {stem} {ext} {op} {kernel} {index}. "
                 "Default {stem}{ext}, or {stem}-{kernel}{ext} with several kernels."),
    click.option("--scale", type=ChoiceType(SCALES), default=None,
                 help="How values map into an integer output: clip (default), abs, normalize, offset."),
    click.option("--dtype", type=ChoiceType(OUTPUT_DTYPES), default=None,
                 help="Output dtype (default: the input's for PNG/TIFF 16-bit, uint8 for images; for .npy float32, "
                 "or uint8/uint16 when the result kept the image's values, as max pooling does)."),
    click.option("--format", "output_format", type=ChoiceType(FORMAT_CHOICES), default=None,
                 help="Output format for -o - (default: the input's format), or {ext} in --name."),
    click.option("--report", "report_path", default=None, metavar="PATH",
                 help="Write the JSON report to PATH ('-' = standard output)."),
    click.option("--json", "json_report", is_flag=True, help="JSON report on standard output (= --report -)."),
    click.option("--dry-run", is_flag=True, help="Read headers only, report the shapes, write no image."),
    click.option("--no-clobber", is_flag=True, help="Refuse to replace an existing output (that file fails)."),
    click.option("--fail-fast", is_flag=True, help="Stop at the first input that fails."),
    click.option("--update", is_flag=True,
                 help="Skip an input whose outputs all exist and are at least as new as it and as every file the "
                 "run reads (kernel, pipeline, weights files), as make does: reported up-to-date, nothing "
                 "read or written."),
    click.option("--sheet", default=None, metavar="PATH",
                 help="Also write the result as a labelled contact sheet, one tile per channel (8-bit "
                 "PNG; with several kernels, every kernel's channels in one sheet; with conv layers, each "
                 "layer's maps, a block per layer); fields as in --name, inside -O DIR when given."),
    click.option("--sheet-scale", type=ChoiceType(SHEET_SCALES), default=None,
                 help="--sheet's colour scale: each (default; a tile's own min..max) or shared (one for every "
                 "tile, a layer's in a layer sheet: the same value, the same colour). Greys, or blue-white-red "
                 "with zero white when the scale holds a negative."),
    click.option("--sheet-input", is_flag=True,
                 help="--sheet shows the input first: a tile per channel, labelled input."),
    click.option("--split", is_flag=True,
                 help="Write each channel of a result as its own grey image: NAME-c0.png, NAME-c1.png, ... "
                 "(or where {channel} stands in the name)."),
    click.option("-r", "--recursive", is_flag=True,
                 help="A folder INPUT: also take the images in its sub-folders, which -O DIR then "
                 "mirrors (without it, a folder's sub-folders are ignored)."),
    click.option("--png-compression", type=click.IntRange(0, 9), default=1, show_default=True, metavar="0..9",
                 help="zlib level of PNG outputs. 1 uses zlib's run-length strategy: the fastest, and on "
                      "filtered images the smallest; 2-9 use its default strategy (slower; smaller only on "
                      "photographs); 0 stores."),
    click.option("--engine", type=ChoiceType(("auto", "opencv", "scipy")), default="auto", show_default=True,
                 envvar="CONVCLI_ENGINE",
                 help="What computes stride-1 filters: OpenCV (auto) or SciPy, the reference; also "
                 "CONVCLI_ENGINE."),
    click.option("--band-rows", type=click.IntRange(min=1), default=None, metavar="N", envvar="CONVCLI_BAND_ROWS",
                 help="Compute the result in bands of N rows, each from only the input rows it needs, "
                 "and stream it: read, compute and write a band at a time (byte-identical to the whole "
                 "image; without it, large inputs stream in bands convcli picks; what cannot run in bands "
                 "runs whole; docs/semantics.md, Bands); also CONVCLI_BAND_ROWS."),
    click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, metavar="N",
                 help="Worker processes for several inputs (default: one per CPU core; 1: none, "
                 "everything in this process). The results are the same for any N."),
    click.option("--scheduler", default=None, metavar="ADDRESS", envvar="CONVCLI_SCHEDULER",
                 help="Run each input as a task on the Dask cluster whose scheduler is at ADDRESS "
                 "(tcp://HOST:8786; local:N starts N local worker processes for this run); the workers must "
                 "see the same paths. Needs pip install \"convcli[cluster]\"; also CONVCLI_SCHEDULER (which an "
                 "explicit --jobs overrides; empty: this machine)."),
    # The limits (images.Limits), each checked before decoding; defaults are images.DEFAULT_MAX_*.
    click.option("--max-pixels", type=click.IntRange(min=1), default=None, metavar="N",
                 help="Refuse images with more pixels than this (default 178,956,970, Pillow's hard limit)."),
    click.option("--max-side", type=click.IntRange(min=1), default=None, metavar="N",
                 help="Refuse images wider or higher than N pixels (default 65,535)."),
    click.option("--max-frames", type=click.IntRange(min=1), default=None, metavar="N",
                 help="Refuse GIF, APNG, WebP and TIFF files with more than N frames or pages, counted "
                 "from the headers (default 1,000)."),
    click.option("--max-file-size", type=SIZE, default=None, metavar="SIZE",
                 help="Refuse input files larger than SIZE: bytes, or 500M, 2G (K, M, G, T are powers of "
                 "1024) (default 1G)."),
    click.option("--max-memory", type=SIZE, default=None, metavar="SIZE",
                 help="Refuse an input whose run would need more than SIZE of memory, estimated "
                 "from its header and the plan before decoding: every step's result and working "
                 "arrays, and the output's mapping and encoding (default 16G)."),
    click.option("--allow-nonfinite", is_flag=True,
                 help="Accept NaN and inf in .npy and float TIFF inputs (they spread into the "
                 "results), and in results that overflow their dtype."),
    click.option("--preview", is_flag=True,
                 help=f"After writing each output, show it on standard error when that is a terminal (or with "
                 f"--color always): as convcli show does, a grid of its values when it has at most {SHOW_MAX_CELLS} "
                 "cells a side, else a half-block preview."),
)


#: ``--scheduler local:N``: a LocalCluster of N worker processes started for the run (cli/cluster.py).
LOCAL_SCHEDULER = "local:"


def local_workers(address: str) -> int | None:
    """N of ``--scheduler local:N``, None for another address; a bad N is a usage error.

    >>> local_workers("local:3"), local_workers("tcp://10.0.0.1:8786")
    (3, None)
    """
    if not address.startswith(LOCAL_SCHEDULER):
        return None
    count = address[len(LOCAL_SCHEDULER):]
    if not count.isdigit() or int(count) < 1:
        raise click.UsageError(f"--scheduler local:N starts N local worker processes; N must be a whole number "
                               f"of at least 1, got {count!r}")
    return int(count)


@dataclass
class OutputOptions:
    """The output options of one command invocation."""

    output: str | None
    output_dir: str | None
    name_template: str | None
    scale: str | None
    dtype: str | None
    output_format: str | None
    report_path: str | None
    dry_run: bool
    no_clobber: bool
    fail_fast: bool
    max_pixels: int | None
    update: bool = False      # skip inputs whose outputs are up to date (cli/update.py)
    recursive: bool = False
    jobs: int | None = None   # None: one worker per CPU core (see workers.worker_count)
    scheduler: str | None = None  # a Dask scheduler's address, or local:N (cli/cluster.py); None: this machine
    split: bool = False       # one file per channel
    sheet: str | None = None  # also a contact sheet of the result, named like --name
    sheet_scale: str | None = None  # the sheet's colour scale (None: convcli.sheet's default, each)
    sheet_input: bool = False       # the sheet's first tiles are the input's channels
    output_required: bool = True  # False: a result with no -o/-O is printed (global pooling)
    engine: str = "auto"      # what computes stride-1 filters (ops.filter.ENGINES)
    band_rows: int | None = None  # compute chains in bands of this many rows (convcli.bands); None: whole
    png_compression: int = 1  # zlib level of PNG outputs
    # The other limits (None: convcli.images' default) and --allow-nonfinite; see limits().
    max_side: int | None = None
    max_frames: int | None = None
    max_file_size: int | None = None
    max_memory: int | None = None
    allow_nonfinite: bool = False
    preview: bool = False     # show each output on standard error once written (cli/show.py)

    def limits(self) -> Any:
        """The limits these options set, as the :class:`convcli.images.Limits` images.read_image takes."""
        from ..images import Limits

        given = {name: getattr(self, name)
                 for name in ("max_pixels", "max_side", "max_frames", "max_file_size", "max_memory")}
        return Limits(**{name: value for name, value in given.items() if value is not None},
                      allow_nonfinite=self.allow_nonfinite)

    @classmethod
    def pop(cls, params: dict[str, Any], *, output_required: bool = True) -> OutputOptions:
        """Take the output options out of ``params`` and check how they combine.

        ``output_required=False`` lets a command whose result is printed (global pooling) run
        without -o/-O.
        """
        json_report = params.pop("json_report")
        report_path = params.pop("report_path")
        if json_report and report_path not in (None, "-"):
            raise click.UsageError("--json is --report -; give one of them")
        options = cls(
            output=params.pop("output"),
            output_dir=params.pop("output_dir"),
            name_template=params.pop("name_template"),
            scale=params.pop("scale"),
            dtype=params.pop("dtype"),
            output_format=params.pop("output_format"),
            report_path="-" if json_report else report_path,
            dry_run=params.pop("dry_run"),
            no_clobber=params.pop("no_clobber"),
            fail_fast=params.pop("fail_fast"),
            update=params.pop("update", False),
            max_pixels=params.pop("max_pixels"),
            recursive=params.pop("recursive", False),
            jobs=params.pop("jobs", None),
            scheduler=params.pop("scheduler", None) or None,
            split=params.pop("split", False),
            sheet=params.pop("sheet", None),
            sheet_scale=params.pop("sheet_scale", None),
            sheet_input=params.pop("sheet_input", False),
            engine=params.pop("engine", "auto"),
            band_rows=params.pop("band_rows", None),
            png_compression=params.pop("png_compression", 1),
            max_side=params.pop("max_side", None),
            max_frames=params.pop("max_frames", None),
            max_file_size=params.pop("max_file_size", None),
            max_memory=params.pop("max_memory", None),
            allow_nonfinite=params.pop("allow_nonfinite", False),
            preview=params.pop("preview", False),
            output_required=output_required,
        )
        for flag, what, value in (("-o", "a file name", options.output), ("-O", "a folder name", options.output_dir),
                                  ("--sheet", "a file name", options.sheet)):
            # Click gives an option's value the next word even when that is an option: -O --dry-run.
            if value is not None and value.startswith("-") and value != "-":
                raise click.UsageError(f"{flag} takes {what}, got {value!r}, which looks like an option; "
                                       f"give the name after {flag} (./{value} for a {what.split()[1]} of that name)")
        if options.output is not None and options.output_dir is not None:
            raise click.UsageError("give -o PATH (one input) or -O DIR (any number), not both")
        if options.name_template is not None and options.output_dir is None:
            raise click.UsageError("--name names files inside -O DIR; add -O DIR")
        if options.output == "-" and options.report_path == "-":
            raise click.UsageError(
                "standard output carries the image (-o -); write the report to a file with --report PATH"
            )
        if options.sheet is None and (options.sheet_scale is not None or options.sheet_input):
            flag = "--sheet-scale" if options.sheet_scale is not None else "--sheet-input"
            raise click.UsageError(f"{flag} says how --sheet draws the contact sheet; add --sheet PATH")
        if options.sheet == "-":
            raise click.UsageError("--sheet names a file (a PNG); standard output carries the result with -o -")
        if options.split and options.output == "-":
            raise click.UsageError("--split writes one file per channel; give -o PATH or -O DIR, not -o -")
        if options.update and (options.output == "-" or options.split):
            raise click.UsageError(
                "--update compares output files with what they are made from; " + (
                    "-o - writes no file: give -o PATH or -O DIR" if options.output == "-" else
                    "--split's channel files are known only once the input is read: drop one of them"))
        if options.scheduler is not None and options.jobs is not None:
            ctx = click.get_current_context(silent=True)
            source = ctx.get_parameter_source("scheduler") if ctx is not None else None
            if source is click.core.ParameterSource.ENVIRONMENT:  # --jobs given here wins over CONVCLI_SCHEDULER
                options.scheduler = None
            else:
                raise click.UsageError("--jobs sets this machine's worker processes and --scheduler sends the work "
                                       "to a Dask cluster's; give one of them")
        if options.scheduler is not None:
            local_workers(options.scheduler)  # checked before any work, also when no cluster is needed
        if output_required and options.output is None and options.output_dir is None and not options.dry_run:
            raise click.UsageError("no output: give -o PATH, -O DIR, or --dry-run to see the shapes")
        return options


@dataclass(frozen=True)
class ExplainRequest:
    """``--explain``: which output value to write out (see :mod:`convcli.explain`)."""

    position: tuple[int, int]
    step: int | str | None = None  # pipeline: a 1-based step number, a layer name or a step kind; None: the command's step
    channel: int | None = None     # None: every channel of the output
    picture: str | None = None     # --explain-png: also draw it into this file


EXPLAIN_HELP = ("Write out how the output value at ROW,COL (from 0) is made: the input window with padding cells "
                "marked and their boundary values, the kernel as applied (rotated 180° under convolution, dilation "
                "gaps as ·), each product, the sum and the result; for pooling the window and the winner or the "
                "count; for upsampling the pixels and taps that contribute; for a layer each input channel's sum, "
                "the bias and the activation. A table on standard output (standard error with -o -), or in the "
                "JSON report with --json. One input; without -o nothing is written.")


def explain_options(*, steps: bool = False) -> Callable:
    """``--explain ROW,COL`` (``STEP:ROW,COL`` for a pipeline) and ``--explain-channel N``; read
    them back with :func:`pop_explain`."""
    what = "STEP:ROW,COL" if steps else "ROW,COL"

    def read(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        step: int | str | None = None
        if steps:
            step_text, colon, value = value.rpartition(":")
            if not colon or not step_text.strip():
                raise click.BadParameter(f"{value!r}: give {what}: the step (its number from 1, its layer name or "
                                         "its kind) and the position, like 2:10,14", ctx, param)
            step = int(step_text) if step_text.strip().isdigit() else step_text.strip()
        position = PAIR_NONNEG.convert(value, param, ctx)
        return ExplainRequest(position=position, step=step)

    step_help = (" STEP is the pipeline's step (its number from 1, a model's layer name, or its kind when only one "
                 "step has it): the value is explained from that step's input." if steps else "")
    return _compose(
        click.option("--explain", "explain", metavar=what, callback=read, help=EXPLAIN_HELP + step_help),
        click.option("--explain-channel", "explain_channel", type=click.IntRange(min=0), default=None, metavar="N",
                     help="With --explain: only output channel N (default: every channel)."),
        click.option("--explain-png", "explain_png", default=None, metavar="PATH",
                     help="With --explain: also draw it as a picture (8-bit PNG): the input window, the kernel as "
                          "applied and the products as grids of coloured cells with their values, then the sum; "
                          "for filter, sobel, pool and conv2d steps; fields as in --name, inside -O DIR when given."),
    )


def pop_explain(params: dict[str, Any]) -> ExplainRequest | None:
    """The ``--explain`` request of a command's parameters (None without it)."""
    request, channel = params.pop("explain", None), params.pop("explain_channel", None)
    picture = params.pop("explain_png", None)
    if request is None:
        for flag, given in (("--explain-channel", channel), ("--explain-png", picture)):
            if given is not None:
                raise click.UsageError(f"{flag} goes with --explain, which says which value to write out; "
                                       "add --explain ROW,COL")
        return None
    if picture == "-":
        raise click.UsageError("--explain-png names a file (a PNG); standard output carries the table or the result")
    return ExplainRequest(request.position, request.step, channel, picture)
