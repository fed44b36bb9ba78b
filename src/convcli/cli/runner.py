"""The batch loop every image command shares: plan outputs, then read → compute → write each input.

A command hands :func:`run_batch` its inputs, the names of the products it makes from each input
(one per kernel, or one stacked array), and two core-calling functions: ``compute`` (image → arrays
and report steps) and ``describe`` (header → shapes and steps, for ``--dry-run``). This module owns
what commands must never do differently: refusing an output that is an input, atomic writes, one
error line per failed file, the JSON report and the human summary, and the exit code.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

from .options import OutputOptions

# Formats that can hold any number of channels: where stacked kernel outputs must go.
STACKABLE = ("npy", "tiff")
EXTENSIONS = {"png": ".png", "jpeg": ".jpg", "tiff": ".tif", "bmp": ".bmp", "gif": ".gif", "webp": ".webp", "npy": ".npy"}
FORMAT_ALIASES = {"jpg": "jpeg", "tif": "tiff"}


@dataclass
class Source:
    """One input as the command line named it."""

    label: str            # as given: a path, "sample:NAME" or "-"
    source: str | bytes   # what convcli.io reads: a path, "sample:NAME" or standard input's bytes
    stem: str
    ext: str              # with the dot; the output extension {ext} stands for
    index: int            # 1-based position among the inputs
    path: str | None      # the file, when it is one


@dataclass
class Target:
    """One output file (or standard output) and which product of its input it holds."""

    path: str
    product: int
    format: str


@dataclass
class Product:
    """One result of one input: what ``compute`` returns (and, without pixels, ``describe``)."""

    array: Any                     # the result; None in a dry run
    steps: list[dict]
    has_alpha: bool = False
    shape: tuple[int, ...] | None = None   # the result's shape when there is no array (dry run)
    kind: str = "values"           # "values", "angle" (radians) or "mask" (booleans): see io.map_values
    scale: str = "clip"            # this command's default --scale for integer outputs
    extra: dict = field(default_factory=dict)  # more report fields (e.g. global pooling values)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape) if self.array is not None else tuple(self.shape or ())


def collect_sources(inputs: Sequence[str]) -> list[Source]:
    """Turn INPUT arguments into sources; ``-`` reads standard input (once)."""
    from ..io import sniff_format

    sources: list[Source] = []
    stdin_used = False
    for index, name in enumerate(inputs, start=1):
        if name == "-":
            if stdin_used:
                raise click.UsageError("'-' (standard input) can be given only once")
            stdin_used = True
            data = sys.stdin.buffer.read()
            fmt = sniff_format(data[:16]) or "png"
            sources.append(Source("-", data, "stdin", EXTENSIONS.get(fmt, ".png"), index, None))
        elif name.startswith("sample:"):
            sample = name.split(":", 1)[1]
            sources.append(Source(name, name, sample, ".png", index, None))
        elif name.startswith("shape:"):  # a shape without pixels, for --dry-run
            sources.append(Source(name, name, "shape", ".npy", index, None))
        else:
            stem, ext = os.path.splitext(os.path.basename(name))
            sources.append(Source(name, name, stem, ext or ".png", index, name))
    return sources


def _format_of(path: str, options: OutputOptions, source: Source) -> str:
    from ..io import format_from_path, sniff_format

    if path == "-":
        if options.output_format:
            return FORMAT_ALIASES.get(options.output_format, options.output_format)
        if isinstance(source.source, bytes):
            return sniff_format(source.source[:16]) or "png"
        try:
            return format_from_path(source.ext) if source.ext else "png"
        except ValueError:
            return "png"
    try:
        return format_from_path(path)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="output") from None


def plan_targets(
    sources: Sequence[Source],
    products: Sequence[str],
    options: OutputOptions,
    *,
    op: str,
    templates: dict[int, str] | None = None,
) -> dict[int, list[Target]]:
    """Every output path, decided before any pixel is read, and checked: no output is an input,
    no two outputs collide, and every output folder exists.

    ``templates`` gives some products a name of their own (a pipeline step's ``save:``), filled in
    like ``--name`` and placed in -O DIR when there is one.
    """
    from ..io import same_file

    templates = templates or {}
    main_products = [p for number, p in enumerate(products) if number not in templates]

    plan: dict[int, list[Target]] = {}
    if options.output is not None:
        if len(sources) != 1:
            raise click.UsageError(f"-o takes one input, got {len(sources)}; use -O DIR for several")
        template = options.output
        if len(main_products) > 1 and "{kernel}" not in template:
            raise click.UsageError("several outputs per input need {kernel} in the output name")
    elif options.output_dir is not None:
        template = os.path.join(
            options.output_dir,
            options.name_template or ("{stem}-{kernel}{ext}" if len(main_products) > 1 else "{stem}{ext}"),
        )
        if len(main_products) > 1 and "{kernel}" not in template:
            raise click.UsageError("several outputs per input need {kernel} in --name")
    else:
        template = None
    seen: dict[str, str] = {}
    for source in sources:
        targets: list[Target] = []
        ext = source.ext
        if options.output_format:
            ext = EXTENSIONS[FORMAT_ALIASES.get(options.output_format, options.output_format)]
        for number, product in enumerate(products):
            own = templates.get(number)
            if own is not None and options.output_dir and not os.path.isabs(own):
                own = os.path.join(options.output_dir, own)
            name = own if own is not None else template
            if name is None:
                continue
            if name == "-":
                path = "-"
            elif "{" in name:
                try:
                    path = name.format(stem=source.stem, ext=ext, op=op, kernel=product, index=source.index)
                except (KeyError, IndexError, ValueError) as error:
                    raise click.BadParameter(f"cannot fill {name!r}: {error}", param_hint="output name")
            else:
                path = name
            if path != "-" and path in seen:
                raise click.UsageError(
                    f"{seen[path]} and {source.label} would both write {path}; add {{index}} or {{stem}} to the name"
                )
            seen[path] = source.label
            targets.append(Target(path, number, _format_of(path, options, source)))
        plan[source.index] = targets
    inputs = [s.path for s in sources if s.path]
    for targets in plan.values():
        for target in targets:
            if target.path == "-":
                continue
            for path in inputs:
                if same_file(path, target.path) or os.path.abspath(path) == os.path.abspath(target.path):
                    raise click.UsageError(f"output {target.path} is the input {path}; refusing to overwrite an input")
            folder = os.path.dirname(target.path) or "."
            if options.output_dir is None and not os.path.isdir(folder):
                raise click.BadParameter(f"folder {folder} does not exist", param_hint="'-o'")
    if options.report_path not in (None, "-"):
        for path in inputs:
            if same_file(path, options.report_path):
                raise click.UsageError(f"report {options.report_path} is the input {path}; refusing to overwrite it")
    return plan


def run_batch(
    *,
    command: str,
    sources: Sequence[Source],
    products: Sequence[str],
    options: OutputOptions,
    compute: Callable[[Any, Any], list[Product]],
    describe: Callable[[Any], list[Product]],
    stackable: Sequence[bool] | None = None,
    show: Callable[[Source, list[Product]], None] | None = None,
    templates: dict[int, str] | None = None,
) -> None:
    """Run one command over its inputs, write outputs, the report and the summary, and exit.

    ``compute(image, info)`` and ``describe(info)`` (for ``--dry-run``, from the header alone)
    return one :class:`Product` per name in ``products``. ``stackable[i]`` says product ``i`` may
    hold more channels than an image format can (a kernel bank stacked into one array): its output
    must be ``.npy`` or TIFF. ``show(source, products)``, if given, prints results as data on
    standard output (global pooling's table). ``templates`` names some products' files
    themselves (see :func:`plan_targets`).
    """
    from .. import io
    from ..errors import ConvcliError
    from ..report import build_report, file_entry, summary_lines, to_json

    state = click.get_current_context().find_root().obj or {}
    verbose, quiet = state.get("verbose", False), state.get("quiet", False)
    plan = plan_targets(sources, products, options, op=command, templates=templates)
    for targets in plan.values():
        for target in targets:
            if stackable and stackable[target.product] and target.format not in STACKABLE:
                raise click.UsageError(
                    f"several kernels stack into one array with one channel per kernel: write {target.path} "
                    "as .npy or .tif, or give {kernel} in the name for one file per kernel"
                )
    if options.output_dir and not options.dry_run:
        for folder in {os.path.dirname(t.path) for targets in plan.values() for t in targets}:
            os.makedirs(folder or ".", exist_ok=True)
    max_pixels = options.max_pixels or io.DEFAULT_MAX_PIXELS

    entries: list[dict] = []
    for source in sources:
        started = time.perf_counter()
        targets = plan[source.index]
        try:
            if options.no_clobber and not options.dry_run:
                for target in targets:
                    if target.path != "-" and os.path.lexists(target.path):
                        raise ConvcliError("exists; --no-clobber refuses to replace it", path=target.path)
            if options.dry_run:
                info = io.probe(source.source, max_pixels=max_pixels)
                results = describe(info)
            else:
                image, info = io.read_image(source.source, max_pixels=max_pixels)
                results = compute(image, info)
            if show is not None:
                show(source, results)
            for target in targets or [None]:
                result = results[target.product if target else 0]
                fmt = target.format if target else "npy"
                dtype = options.dtype or io.default_dtype(fmt, info.dtype)
                if target is None:  # printed, not written: say what was computed
                    dtype = str(result.array.dtype) if result.array is not None else "float64"
                scale = options.scale or result.scale
                if target is not None:
                    io.check_writable(fmt, result.out_shape, dtype)
                if options.dry_run or target is None:
                    out_shape, mapping = result.out_shape, {"scale": scale if dtype.startswith("uint") else "raw"}
                else:
                    mapped, mapping = io.map_values(
                        result.array, dtype=dtype, scale=scale, alpha=result.has_alpha, kind=result.kind
                    )
                    data = io.encode_image(mapped, format=fmt)
                    if target.path == "-":
                        sys.stdout.buffer.write(data)
                        sys.stdout.buffer.flush()
                    else:
                        io.write_atomic(target.path, data, no_clobber=options.no_clobber)
                    out_shape = mapped.shape
                entries.append(file_entry(
                    input=source.label, output=target.path if target else None,
                    input_shape=info.shape, input_dtype=info.dtype,
                    output_shape=out_shape, output_dtype=dtype, steps=result.steps,
                    seconds=None if options.dry_run else time.perf_counter() - started,
                    scale=mapping.get("scale"),
                    **({"clipped": mapping["clipped"]} if "clipped" in mapping else {}),
                    **({"notes": list(info.notes)} if info.notes else {}),
                    **result.extra,
                ))
        except (ConvcliError, ValueError) as error:
            entries.append(_failed(source, error, started))
            if options.fail_fast:
                break
        except (KeyboardInterrupt, SystemExit, click.exceptions.Exit):
            raise
        except Exception as error:  # a bug must not stop the other files of a batch
            if verbose:
                traceback.print_exc()
            entries.append(_failed(source, error, started, internal=True))
            if options.fail_fast:
                break

    report = build_report(command, entries)
    if options.report_path == "-":
        click.echo(to_json(report), nl=False)
    elif options.report_path is not None:
        io.write_atomic(options.report_path, to_json(report).encode("utf-8"))
    elif not quiet:
        for line in summary_lines(report, verbose=verbose, dry_run=options.dry_run):
            click.echo(line, err=True)
    if report["failed"]:
        click.get_current_context().exit(1)


def _failed(source: Source, error: BaseException, started: float, *, internal: bool = False) -> dict:
    from ..report import file_entry

    message = " ".join(str(error).split()) or type(error).__name__
    if internal:
        message = f"internal error ({type(error).__name__}): {message}; please report it (-v shows the traceback)"
    if getattr(error, "path", None) is None and not message.startswith(source.label):
        message = f"{source.label}: {message}"
    click.echo(f"convcli: error: {message}", err=True)
    return file_entry(input=source.label, output=None, status="error", steps=[],
                      seconds=time.perf_counter() - started, error=message)
