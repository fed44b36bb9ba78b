"""One input of a batch: read (or, in a dry run, probe), compute, map, encode and write it, in
this process or in a worker, and give back plain data: its report entries and its error lines.

:class:`Product` is what a command's ``compute`` and ``describe`` return for one input;
:class:`Job` is everything one input's work needs (forked workers inherit it), :class:`Outcome`
what one input gave.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import click

from ..errors import shown_path
from .faults import environment_fault, write_data
from .inputs import InputFile
from .options import OutputOptions
from .targets import Target, split_paths
from .wording import error_text


@dataclass
class Product:
    """One result of one input: what ``compute`` returns (and, without pixels, ``describe``)."""

    array: Any                     # the result; None in a dry run
    steps: list[dict]
    has_alpha: bool = False
    shape: tuple[int, ...] | None = None   # the result's shape when there is no array (dry run)
    kind: str = "values"           # "values", "angle" (radians) or "mask" (booleans): see values.map_values
    scale: str = "clip"            # this command's default --scale for integer outputs
    extra: dict = field(default_factory=dict)  # more report fields (e.g. global pooling values)
    dtype: str | None = None       # a dtype this product is always written in (a contact sheet: uint8)
    planned_dtype: str | None = None  # the dtype the steps compute, known without pixels (dry run)
    whole: bool = False            # never split into channel files (a contact sheet is one picture)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape) if self.array is not None else tuple(self.shape or ())


@dataclass
class Job:
    """Everything one input's work needs; forked workers inherit it through ``workers._JOB``."""

    inputs: list[InputFile]
    plan: dict[int, list[Target]]
    options: OutputOptions
    compute: Callable[[Any, Any], list[Product]]
    describe: Callable[[Any], list[Product]]
    show: bool
    verbose: bool
    limits: Any                     # images.Limits: what every input is held to before decoding
    memory: Callable[[Any, list[tuple[int, str, str]]], Any] | None = None  # see batch.run_batch
    flags: dict[str, tuple[str, bool]] = field(default_factory=dict)  # the command's options: wording.command_flags
    preview: Any = None             # --preview's settings (cli/show.PreviewSettings), None: no preview
    # stream(info): the one chain this command computes, when an input of that header may be
    # streamed (cli/streamed.Streamable), else None; None here: nothing is streamed.
    stream: Callable[[Any], Any] | None = None
    on_band: Callable[[int, int], None] | None = None  # rows written of all, as a streamed input goes
    # With workers and --fail-fast (shared between processes): the first failed position, whether
    # each position is settled (written, failed or skipped), and how many leading positions are.
    first_failure: Any = None
    settled: Any = None
    settled_prefix: Any = None
    current: frozenset[int] = frozenset()  # positions --update found up to date (cli/update.py): not run


@dataclass
class Outcome:
    """What one input gave: plain data, sent back by a worker (pickled) to the parent."""

    position: int                                  # 0-based, in ``Job.inputs``
    entries: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # lines for standard error (tracebacks with -v)
    failed: bool = False
    shown: list[Product] | None = None             # the products, when the command shows them
    skipped: bool = False                          # not done: --fail-fast stopped before it
    up_to_date: bool = False                       # not done: --update found its outputs up to date
    previews: list[tuple[str, Any]] = field(default_factory=list)  # --preview: (output, its view), as written
    # On a cluster under --fail-fast: outputs written but not yet in place (images.atomic.StagedWrite),
    # for the client to publish in input order (cli/cluster.py).
    staged: list[Any] = field(default_factory=list)


def run_one(job: Job, position: int, *, may_write: Callable[[], bool] | None = None) -> Outcome:
    """Read, compute, encode and write one input; never raises for a bad file or a bug.

    ``may_write``, if given, is asked once before the first write: False skips the input (an
    input before it failed, under --fail-fast).
    """
    import numpy as np

    from .. import images
    from ..errors import ConvcliError, EnvironmentFault, ImageWriteError
    from ..images.atomic import EXISTS, would_clobber
    from ..pipeline import check_output
    from ..report import file_entry

    options = job.options
    input_file = job.inputs[position]
    targets = job.plan[input_file.index]
    if position in job.current:  # neither read nor written: one entry per output, saying so
        from ..vocabulary import UP_TO_DATE

        return Outcome(position, up_to_date=True, entries=[
            file_entry(input=input_file.label, output=target.path, status=UP_TO_DATE) for target in targets])
    outcome = Outcome(position)
    started = time.perf_counter()
    try:
        if options.no_clobber and not options.dry_run:
            for target in targets:
                if target.path != "-" and would_clobber(target.path):
                    raise ConvcliError(EXISTS, path=target.path)
        if job.stream is not None:
            from .streamed import run_streamed

            streamed = run_streamed(job, position, outcome, started, may_write=may_write)
            if streamed is not None:
                return streamed
        limits, estimate = _memory_limits(job, targets)
        if options.dry_run:
            info = images.probe(input_file.source, limits=limits)
            results = job.describe(info)
        else:
            image, info = images.read_image(input_file.source, limits=limits)
            results = job.compute(image, info)
        if job.memory is not None and not estimate:  # a shape-only input: no header to hold to limits
            limits.memory(info)
        memory = {"memory": estimate[0].bytes} if estimate else {}
        if job.show:
            outcome.shown = results
        pieces = [piece for target in targets or [None]
                  for piece in _pieces(target, results[target.product if target else 0], options.split)]
        # From here only the pieces hold the results, and each result is let go once it is mapped:
        # the peak memory of a large image is the float result or its encoding, not both.
        image = results = None
        pieces.reverse()
        while pieces:
            target, result = pieces.pop()
            if target is not None and not target.described_only:
                refuse_overwriting_input(input_file, target.path)
            computed = str(result.array.dtype) if result.array is not None else result.planned_dtype
            fmt = target.format if target else "npy"
            notes = list(info.notes)
            if target is not None and target.described_only:
                fmt, note = _described_output(target, result, options, info.dtype, computed)
                notes.append(note)
            dtype = result.dtype or options.dtype or images.default_dtype(fmt, info.dtype, result_dtype=computed)
            if target is None:  # printed, not written: say what was computed
                dtype = computed or "float64"
            scale = options.scale or result.scale
            if target is not None and not target.described_only:
                try:
                    images.check_writable(fmt, result.out_shape, dtype, has_alpha=result.has_alpha)
                except ImageWriteError as error:  # name the output, not the input
                    raise ImageWriteError(error.message, path=error.path or target.path) from None
            if options.dry_run or target is None:
                out_shape, mapping = result.out_shape, {"scale": scale if dtype.startswith("uint") else "raw"}
            else:
                alpha_max = _integer_max(info.dtype) if result.has_alpha else None
                with np.errstate(over="ignore", invalid="ignore"):  # a cast's overflow: check_output says it
                    mapped, mapping = images.map_values(
                        result.array, dtype=dtype, scale=scale, alpha=result.has_alpha, kind=result.kind,
                        alpha_max=alpha_max,
                    )
                if not options.allow_nonfinite:
                    check_output(result.array, mapped)
                result = replace(result, array=None)
                out_shape = mapped.shape
                data = images.encode_image(mapped, format=fmt, has_alpha=result.has_alpha,
                                           png_compression=options.png_compression)
                written, mapped = (mapped if job.preview is not None else None), None
                if may_write is not None:
                    allowed, may_write = may_write(), None
                    if not allowed:
                        return Outcome(position, skipped=True)
                if target.path == "-":
                    write_data(data)  # all of it, or this file fails (a closed pipe stops the run)
                else:
                    images.write_atomic(target.path, data, no_clobber=options.no_clobber)
                data = None
                if written is not None:  # the values as written, in the output's dtype
                    from .show import output_view

                    outcome.previews.append((target.path, output_view(written, job.preview, has_alpha=result.has_alpha)))
                    written = None
            outcome.entries.append(file_entry(
                input=input_file.label, output=target.path if target and not target.described_only else None,
                input_shape=info.shape, input_dtype=info.dtype,
                output_shape=out_shape, output_dtype=dtype, steps=result.steps,
                seconds=None if options.dry_run else time.perf_counter() - started,
                scale=mapping.get("scale"),
                **{name: mapping[name] for name in ("clipped", "clipped_below", "clipped_above") if name in mapping},
                **({"notes": notes} if notes else {}),
                **memory,
                **result.extra,
            ))
    except (ConvcliError, ValueError) as error:
        record_failure(outcome, input_file, error, started, text=error_text(error, job.flags))
    except (click.exceptions.Exit, BrokenPipeError):  # not the file's fault: let the group handle it
        raise
    except Exception as error:  # noqa: BLE001 - a bug must not stop the other files of a batch
        fault = environment_fault(error)
        if fault is not None:  # out of memory, a full disk...: the environment's, not a bug
            record_failure(outcome, input_file, EnvironmentFault(fault), started)
        else:
            import traceback  # lazy: only an internal error under -v shows one

            record_failure(outcome, input_file, error, started, internal=True,
                           trace=traceback.format_exc().rstrip("\n") if job.verbose else None)
    return outcome


def refuse_overwriting_input(input_file: InputFile, path: str) -> None:
    """Refuse an output that is the input file (a hard link, a path the names did not tell)."""
    from .. import images
    from ..errors import ConvcliError

    if input_file.path and images.same_file(input_file.path, path):
        raise ConvcliError(f"is the input {input_file.path}; refusing to overwrite an input", path=path)


def _described_output(target: Target, result: Product, options: OutputOptions, input_dtype: str,
                  computed: str | None) -> tuple[str, str]:
    """A dry run without -o or -O describes the file -O DIR would write (``target.described_only``):
    its format and a note that says so, with what .npy would hold and, when that format cannot hold
    the result, why (the result is then described as .npy)."""
    from .. import images
    from ..errors import ImageWriteError

    npy = options.dtype or images.default_dtype("npy", input_dtype, result_dtype=computed)
    try:
        images.check_writable(target.format, result.out_shape,
                              options.dtype or images.default_dtype(target.format, input_dtype, result_dtype=computed),
                              has_alpha=result.has_alpha)
    except ImageWriteError as error:
        return "npy", (f"no -o or -O: -O DIR would fail ({target.path}: {error.message}); "
                       "shown as a .npy file")
    return target.format, (f"no -o or -O: the output is shown as -O DIR would write it ({target.path}); "
                           f"a .npy file would hold {npy}")


def _memory_limits(job: Job, targets: list[Target]) -> tuple[Any, list[Any]]:
    """The limits one input is read with: with ``job.memory``, its estimate, from the header and the
    files it makes, is what ``--max-memory`` holds; the list gets the estimate once it is made."""
    from .. import images

    made: list[Any] = []
    if job.memory is None:
        return job.limits, made

    def estimate(info: Any) -> tuple[int, str]:
        outputs = [(t.product, job.options.dtype or images.default_dtype(t.format, info.dtype), t.format)
                   for t in targets]
        made[:] = [job.memory(info, outputs)]
        return made[0].bytes, f"estimated from its header and the plan, most at {made[0].where}"

    return replace(job.limits, memory=estimate), made


def _pieces(target: Target | None, result: Product, split: bool) -> list[tuple[Target | None, Product]]:
    """The files one product makes: itself, or with --split one grey image per channel."""
    if target is None:
        return [(None, result)]
    shape = result.out_shape
    if not split or len(shape) != 3 or result.whole:
        return [(replace(target, path=split_paths(target.path)[0]), result)]
    _, path = split_paths(target.path)
    return [
        (replace(target, path=path.replace("{channel}", str(channel))),
         replace(result, array=None if result.array is None else result.array[..., channel],
                 shape=tuple(shape[:2]), has_alpha=False))
        for channel in range(shape[2])
    ]


def _integer_max(dtype: str) -> float | None:
    """Full scale of an integer dtype (alpha's full opacity), None for floats."""
    import numpy as np

    return float(np.iinfo(dtype).max) if np.dtype(dtype).kind in "ui" else None


def record_failure(outcome: Outcome, input_file: InputFile, error: BaseException, started: float, *,
                   internal: bool = False, trace: str | None = None, text: str | None = None) -> None:
    """Make ``outcome`` a failure: its error line (naming the input) and its report entry; ``text``
    is the error's message as the command line words it (see convcli.cli.wording)."""
    from ..report import file_entry

    message = " ".join((str(error) if text is None else text).split()) or type(error).__name__
    if internal:
        message = f"internal error ({type(error).__name__}): {message}; please report it (-v shows the traceback)"
    # The line always names the input, also when the error is about a pipeline or an output file.
    named = "<stdin>" if input_file.label == "-" else shown_path(input_file.label)
    if named not in message:
        message = f"{named}: {message}"
    if trace:
        outcome.errors.append(trace)
    outcome.errors.append(f"convcli: error: {message}")
    outcome.entries.append(file_entry(input=input_file.label, output=None, status="error", steps=[],
                                      seconds=time.perf_counter() - started, error=message))
    outcome.failed = True
