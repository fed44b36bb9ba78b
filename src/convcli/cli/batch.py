"""The batch loop every image command shares: plan outputs, then read → compute → write each input.

A command hands :func:`run_batch` its inputs (:func:`convcli.cli.inputs.collect_inputs`), the names
of the products it makes from each input (one per kernel, or one stacked array), and two
core-calling functions: ``compute`` (image → arrays and report steps) and ``describe`` (header →
shapes and steps, for ``--dry-run``). This module and the ones it calls own what commands must
never do differently: folder inputs (inputs.py), refusing an output that is an input (targets.py),
atomic writes and one error line per failed file (one_input.py), worker processes for ``--jobs``
(workers.py), the progress bar (progress.py), the JSON report and the human summary, and the exit
code.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import click

from ..errors import shown_path
from .faults import echo_data, environment_fault, is_terminal, say, stdout_closed
from .formats import STACKABLE
from .inputs import InputFile
from .one_input import Job, Outcome, Product, record_failure, run_one
from .options import OutputOptions
from .progress import BandProgressBar, ProgressBar
from .targets import plan_targets, sweep_plan_temp_files
from .workers import Parallel, worker_count
from .wording import command_flags, worded


def run_batch(
    *,
    command: str,
    inputs: Sequence[InputFile],
    products: Sequence[str],
    options: OutputOptions,
    compute: Callable[[Any, Any], list[Product]],
    describe: Callable[[Any], list[Product]],
    stackable: Sequence[bool] | None = None,
    show: Callable[[InputFile, list[Product]], None] | None = None,
    templates: dict[int, str] | None = None,
    memory: Callable[[Any, list[tuple[int, str, str]]], Any] | None = None,
    reads: Sequence[tuple[str, str]] = (),
    stream: Callable[[Any], Any] | None = None,
) -> None:
    """Run one command over its inputs, write outputs, the report and the summary, and exit.

    ``compute(image, info)`` and ``describe(info)`` (for ``--dry-run``, from the header alone)
    return one :class:`Product` per name in ``products``. ``stackable[i]`` says product ``i`` may
    hold more channels than an image format can (a kernel bank stacked into one array): its output
    must be ``.npy`` or TIFF. ``show(input_file, products)``, if given, prints results as data on
    standard output (global pooling's table), always in this process and in input order.
    ``templates`` names some products' files themselves (see :func:`convcli.cli.targets.plan_targets`);
    ``reads`` lists the files the run reads besides its inputs, as ``(role, path)`` (kernel files,
    the pipeline file), which no output may overwrite. ``stream(info)`` gives the one chain the
    command computes when an input of that header may be streamed band by band (see
    :mod:`convcli.cli.streamed`), else None.
    ``memory(info, outputs)`` estimates an input's working memory from its header and the files
    it makes (``outputs``: (product, dtype, format)), as a :class:`convcli.pipeline.Memory`: it is
    held to ``--max-memory`` before anything is decoded and reported as each file's ``memory``.

    With several inputs and ``--jobs`` other than 1, inputs are done by forked worker processes;
    ``compute`` and ``describe`` then run there (they need not be picklable).
    """
    from .. import images
    from ..errors import EnvironmentFault
    from ..report import build_report, summary_lines, to_json

    started = time.perf_counter()
    root = click.get_current_context().find_root()
    state = root.obj or {}
    verbose, quiet = state.get("verbose", False), state.get("quiet", False)
    plan = plan_targets(inputs, products, options, op=command, templates=templates, reads=reads)
    for targets in plan.values():
        for target in targets:
            if (target.product < len(stackable or ()) and stackable[target.product] and target.format not in STACKABLE
                    and not target.described_only):
                raise click.UsageError(
                    "several kernels stack into one array with one channel per kernel: write "
                    f"{shown_path(target.path)} as .npy or .tif, or give {{kernel}} in the name for one file per kernel"
                )
    writes_stdout = any(t.path == "-" for targets in plan.values() for t in targets)
    for wanted, what in ((writes_stdout and not options.dry_run, "the image"),
                         (options.report_path == "-", "the report"), (show is not None, "the values")):
        if wanted and stdout_closed():  # `>&-`: known before any work
            raise click.ClickException(f"standard output is closed; nowhere to write {what}")
    if writes_stdout and not options.dry_run and is_terminal(sys.stdout):  # image bytes would garble it
        raise click.UsageError("-o - writes the image's bytes to standard output, which is a terminal here; "
                               "redirect it (> out.png) or pipe it (| other-command), or give -o FILE")
    current: frozenset[int] = frozenset()  # positions of the inputs --update skips: decided before any is read
    if options.update:
        from .update import current_inputs

        current = current_inputs(inputs, plan, reads)
    if not options.dry_run:
        # Only folders something is written in: an up-to-date run creates nothing, not even a probe.
        folders = {os.path.dirname(t.path) or "." for position, input_file in enumerate(inputs)
                   if position not in current for t in plan[input_file.index]
                   if t.path != "-" and not images.written_through(t.path)}  # nothing is created beside a device
        if options.report_path not in (None, "-") and not images.written_through(options.report_path):
            folders.add(os.path.dirname(options.report_path) or ".")
        for folder in sorted(folders):
            _check_folder(folder, create=options.output_dir is not None)

    preview = None
    if options.preview and not options.dry_run:
        from .show import preview_settings  # lazy: only --preview draws

        preview = preview_settings()
    job = Job(inputs=list(inputs), plan=plan, options=options, compute=compute, describe=describe,
              show=show is not None, verbose=verbose,
              limits=options.limits(), memory=memory, flags=command_flags(),
              preview=preview, stream=stream,
              current=current)
    workers = min(worker_count(options.jobs), len(job.inputs))
    if workers > 1 and (writes_stdout or "fork" not in _start_methods()):  # multiprocessing: only for a pool
        workers = 1
    progress = ProgressBar(
        command, len(job.inputs), root.color,
        # On a terminal only; with --json too (the report comes after the bar is gone), but not
        # while values are printed on the same terminal.
        enabled=(not quiet and len(job.inputs) > 1 and is_terminal(sys.stderr) and job.preview is None
                 and not (show is not None and is_terminal(sys.stdout))),
    )
    # One input: a streamed run shows its bands (a bar only once it takes a while).
    rows_bar = BandProgressBar(command, root.color) if (
        stream is not None and len(job.inputs) == 1 and not quiet and not options.dry_run
        and is_terminal(sys.stderr) and job.preview is None) else None
    job.on_band = rows_bar.update if rows_bar is not None else None
    entries: list[dict] = []
    finished = {"done": 0, "failed": 0, "up_to_date": 0}  # inputs, as they are emitted

    def emit(outcome: Outcome) -> None:
        """One input's results, in input order: its shown data, its error lines, its entries."""
        if show is not None and outcome.shown is not None:
            try:
                show(job.inputs[outcome.position], outcome.shown)
            except EnvironmentFault as error:  # the values are this input's data: their write failing fails it
                seconds = sum(entry.get("seconds") or 0 for entry in outcome.entries)
                outcome.entries.clear()
                record_failure(outcome, job.inputs[outcome.position], error, time.perf_counter() - seconds)
        if outcome.previews:
            from .show import preview_lines, print_preview

            for path, view in outcome.previews:
                print_preview(preview_lines(path, view, job.preview))
        for line in outcome.errors:
            progress.echo(line)
        entries.extend(outcome.entries)
        finished["failed" if outcome.failed else "up_to_date" if outcome.up_to_date else "done"] += 1

    # A cluster does the files it can read and write itself: not a dry run (headers are read here),
    # not an image for this process's standard output.
    cluster = options.scheduler if options.scheduler is not None and not options.dry_run and not writes_stdout else None
    try:
        if cluster is not None:
            from .cluster import run_on_cluster  # lazy: Dask only when a run asks for it

            run_on_cluster(job, emit, progress, address=cluster)
        elif workers > 1:
            Parallel(job, emit, progress).run(workers)
        else:
            for position in range(len(job.inputs)):
                outcome = run_one(job, position)
                if rows_bar is not None:  # gone before the input's error lines
                    rows_bar.stop()
                emit(outcome)
                progress.tick(position + 1)
                if outcome.failed and options.fail_fast:
                    break
    except BaseException:
        if not options.dry_run:
            sweep_plan_temp_files(plan)
        raise
    finally:
        progress.stop()
        if rows_bar is not None:
            rows_bar.stop()

    done, failed, current_count = finished["done"], finished["failed"], finished["up_to_date"]
    report = build_report(command, entries, counts=(done, failed, len(job.inputs) - done - failed - current_count,
                                                    current_count))
    if options.report_path == "-":
        echo_data(to_json(report), nl=False)
    elif options.report_path is not None:
        _write_report(options.report_path, to_json(report).encode("utf-8"))
    elif not quiet:
        for line in summary_lines(report, verbose=verbose, dry_run=options.dry_run,
                                  elapsed=time.perf_counter() - started):
            say(worded(line, job.flags))  # the summary names options the core's way
    if report["failed"]:
        click.get_current_context().exit(1)


def _write_report(path: str, data: bytes) -> None:
    """The report file, atomically; the file system's refusal (a full disk, ``/dev/full``) is one
    line and exit 1, as for an output."""
    from .. import images
    from ..errors import ConvcliError

    try:
        images.write_atomic(path, data)
    except ConvcliError as error:
        raise click.ClickException(f"report {error}") from None
    except OSError as error:
        raise click.ClickException(f"report {shown_path(path)}: cannot write: {environment_fault(error) or error}") from None


def _start_methods() -> list[str]:
    import multiprocessing

    return multiprocessing.get_all_start_methods()


def _check_folder(folder: str, *, create: bool) -> None:
    """Before any work: the folder exists (made, under -O DIR) and a file can be created in it.

    Permissions alone do not tell (root, read-only mounts, full quotas), so a probe file is made
    and removed.
    """
    import tempfile

    try:
        if create:
            os.makedirs(folder, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".convcli-probe.", suffix=".tmp")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise click.UsageError(f"cannot write in the folder {shown_path(folder)}: {error.strerror or error}") from None
