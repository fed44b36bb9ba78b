"""Options shared by several commands, each defined once (as rasterio's ``rio/options.py`` does).

A command stacks the decorators it needs; :func:`pop_geometry` and :class:`OutputOptions` gather the
parsed values back into what the core and the runner take.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import click

from ..geometry import AMBIGUOUS_BOUNDARIES, BOUNDARIES, BOUNDARY_ALIASES, MODES, resolve_boundary
from .types import KERNEL, PADDING, PAIR, TEMPLATE, ChoiceType

# The core's names (geometry: no NumPy), aliases included; `mirror` is not offered but still
# answered with the core's explanation.
BOUNDARY = ChoiceType((*BOUNDARIES, *BOUNDARY_ALIASES), case_sensitive=False, refused=AMBIGUOUS_BOUNDARIES)
SCALES = ("clip", "abs", "normalize", "offset")
DTYPES = ("uint8", "uint16", "float32", "float64")
FORMATS = ("png", "jpeg", "jpg", "tiff", "tif", "bmp", "gif", "webp", "npy")


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
    "('1 0 -1; 2 0 -2; 1 0 -1' or '[[1,0],[0,1]]') or gaussian:sigma=1.5, box:5, log:sigma=1.4, "
    "dog:sigma1=1,sigma2=2, disk:radius=3. Repeat for several kernels.",
)

gray_option = click.option(
    "--gray", is_flag=True,
    help="First turn RGB into luminance 0.2125 R + 0.7154 G + 0.0721 B (alpha kept).",
)

stride_option = click.option(
    "--stride", type=PAIR, default=None,
    help="Step between outputs: S or SY,SX (default 1; for pooling, the window).",
)
padding_option = click.option(
    "--padding", type=PADDING, default=None,
    help="Padding P, PH,PW or TOP,BOTTOM,LEFT,RIGHT: replaces --mode (filter, sobel, pool); "
    "cropped from the output (upsample --method transpose).",
)

geometry_options = _compose(
    click.option("--mode", type=ChoiceType(MODES), default=None,
                 help="Padding rule: same (default), valid (none) or full."),
    click.option("--boundary", type=BOUNDARY, default="zero", show_default=True,
                 help="What the padding holds, named as numpy.pad names it, or an alias (convcli help "
                 "boundaries); mirror is refused: it means reflect to scipy.ndimage, symmetric elsewhere."),
    click.option("--cval", type=float, default=0.0, show_default=True,
                 help="Fill value for --boundary constant."),
    stride_option,
    padding_option,
    click.option("--dilation", type=PAIR, default="1", show_default=True, help="Step between kernel taps: D or DY,DX."),
    click.option("--correlate", is_flag=True,
                 help="Cross-correlate (the CNN convention, torch conv2d) instead of true convolution."),
)


def pop_geometry(params: dict[str, Any]) -> dict[str, Any]:
    """Take the geometry options out of a command's parameters, as :func:`convcli.filter2d` keywords.

    ``--padding`` replaces ``--mode``; giving both with a mode other than ``valid`` is a usage error.
    ``boundary`` is None when ``--boundary`` was not given: the step then holds its default (zero)
    knowing nobody asked for it, and says so when it frames an image (README, Reports).
    """
    mode = params.pop("mode")
    padding = params.pop("padding")
    given = params.pop("boundary")
    boundary = resolve_boundary(given)  # an alias becomes the core's name
    cval = params.pop("cval")
    if padding is not None and mode not in (None, "valid"):
        raise click.UsageError(f"--padding replaces --mode; drop --mode {mode} (or use --mode valid)")
    if cval != 0.0 and boundary != "constant":
        raise click.UsageError(f"--cval needs --boundary constant (the boundary is {given})")
    ctx = click.get_current_context(silent=True)
    asked = ctx is None or ctx.get_parameter_source("boundary") is not click.core.ParameterSource.DEFAULT
    return {
        "mode": mode or "same",
        "padding": padding,
        "boundary": boundary if asked else None,  # not given: the step's default, which it knows was not asked for
        "cval": cval,
        "stride": params.pop("stride") or (1, 1),
        "dilation": params.pop("dilation"),
        "correlate": params.pop("correlate"),
    }


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
    click.option("--dtype", type=ChoiceType(DTYPES), default=None,
                 help="Output dtype (default: the input's for PNG/TIFF 16-bit, uint8 for images; for .npy float32, "
                 "or uint8/uint16 when the result kept the image's values, as max pooling does)."),
    click.option("--format", "output_format", type=ChoiceType(FORMATS), default=None,
                 help="Output format for -o - (default: the input's format), or {ext} in --name."),
    click.option("--report", "report_path", default=None, metavar="PATH",
                 help="Write the JSON report to PATH ('-' = standard output)."),
    click.option("--json", "json_report", is_flag=True, help="JSON report on standard output (= --report -)."),
    click.option("--dry-run", is_flag=True, help="Read headers only, report the shapes, write no image."),
    click.option("--no-clobber", is_flag=True, help="Refuse to replace an existing output (that file fails)."),
    click.option("--fail-fast", is_flag=True, help="Stop at the first input that fails."),
    click.option("--sheet", default=None, metavar="PATH",
                 help="Also write the result as a labelled contact sheet, one tile per channel (8-bit "
                 "PNG; with several kernels, every kernel's channels in one sheet); fields as in --name, "
                 "inside -O DIR when given."),
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
    click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, metavar="N",
                 help="Worker processes for several inputs (default: one per CPU core; 1: none, "
                 "everything in this process). The results are the same for any N."),
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
)


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
    recursive: bool = False
    jobs: int | None = None   # None: one worker per CPU core (see runner.worker_count)
    split: bool = False       # one file per channel
    sheet: str | None = None  # also a contact sheet of the result, named like --name
    output_required: bool = True  # False: a result with no -o/-O is printed (global pooling)
    engine: str = "auto"      # what computes stride-1 filters (ops.filter.ENGINES)
    png_compression: int = 1  # zlib level of PNG outputs
    # The other limits (None: convcli.images' default) and --allow-nonfinite; see limits().
    max_side: int | None = None
    max_frames: int | None = None
    max_file_size: int | None = None
    max_memory: int | None = None
    allow_nonfinite: bool = False

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
            max_pixels=params.pop("max_pixels"),
            recursive=params.pop("recursive", False),
            jobs=params.pop("jobs", None),
            split=params.pop("split", False),
            sheet=params.pop("sheet", None),
            engine=params.pop("engine", "auto"),
            png_compression=params.pop("png_compression", 1),
            max_side=params.pop("max_side", None),
            max_frames=params.pop("max_frames", None),
            max_file_size=params.pop("max_file_size", None),
            max_memory=params.pop("max_memory", None),
            allow_nonfinite=params.pop("allow_nonfinite", False),
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
        if options.sheet == "-":
            raise click.UsageError("--sheet names a file (a PNG); standard output carries the result with -o -")
        if options.split and options.output == "-":
            raise click.UsageError("--split writes one file per channel; give -o PATH or -O DIR, not -o -")
        if output_required and options.output is None and options.output_dir is None and not options.dry_run:
            raise click.UsageError("no output: give -o PATH, -O DIR, or --dry-run to see the shapes")
        return options
