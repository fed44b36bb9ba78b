"""A huge Zarr input on a Dask cluster: its result's bands as tasks (docs/semantics.md §10, Cluster
runs; issue 17, point 2).

The client (this process) decides as the local streamed path does (:func:`~convcli.cli.streamed.plan_stream`,
the one decision both use) and, for a Zarr input streamed into a Zarr store, creates the output
store here (a temporary folder, :class:`~convcli.images.atomic.AtomicFolder`, named with this
process's owner mark, its metadata written), then sends the band plan to the cluster: one task
(:func:`run_band_task`) per run of output rows that are whole rows of the store's chunks, so that
no two tasks write one chunk. A task reads only the input rows its bands need (their halo, from
the band plan), computes them with :func:`~convcli.bands.run_banded` (the same bands, and so the
same values, as the local run), maps them as :func:`~convcli.bands.stream.stream_chain` does
(:func:`~convcli.bands.stream.map_band`), writes its rows into the temporary store, and sends
back what the mapping says of them. The client sums those in band order, commits the store (or,
under ``--fail-fast``, leaves it staged), and gives the local streamed path's report entry. The
files are those of the local run, chunk for chunk.

Tasks are submitted one by one (``client.submit``), not built as a dask array
(``da.map_blocks`` + ``da.store``, which gives the same bytes): each task sends back its rows'
clipped counts (a stored block sends back nothing), and a future per task gives the progress as
rows are done, the failing band's own error, and the tasks to cancel when one fails.

Nothing here imports Dask: the client and its futures are given by the caller
(:mod:`convcli.cli.cluster`).
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .cluster import TaskContext, on_worker, stop_tasks
from .one_input import Job, Outcome


@dataclass(frozen=True)
class BandTask:
    """One task of a banded Zarr input on a cluster (plain data; the job is sent to the workers
    without its inputs): output rows ``first … stop − 1`` of the result of ``input_file`` (a
    :class:`~convcli.cli.inputs.InputFile`; whole rows of the output's chunks), computed in the
    bands of ``band_rows`` rows of the local run, mapped to ``dtype`` with ``mapping`` (what
    :func:`~convcli.bands.stream.map_band` takes besides) and written into the Zarr store being
    filled at ``store`` for the output ``output``."""

    input_file: Any
    output: str
    first: int
    stop: int
    band_rows: int
    dtype: str
    mapping: dict[str, Any]
    store: str


def task_rows(band_rows: int, chunk_rows: int) -> int:
    """The output rows one task writes: whole rows of the output's chunks of ``chunk_rows`` rows,
    about ``band_rows`` (the local run's bands). Its bands are those of the local run, so a band
    cut by a task's edge is computed by both tasks it touches; the least common multiple of the
    two is taken when it is not much more than a band (no band is cut), else the nearest multiple
    of ``chunk_rows``.

    Examples
    --------
    >>> task_rows(512, 256), task_rows(128, 256), task_rows(384, 256), task_rows(100, 256)
    (512, 256, 768, 256)
    """
    for name, value in (("band_rows", band_rows), ("chunk_rows", chunk_rows)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a whole number >= 1, got {value!r}")
    common = math.lcm(band_rows, chunk_rows)
    if common <= 2 * max(band_rows, chunk_rows):
        return common
    return chunk_rows * max(1, round(band_rows / chunk_rows))


def run_bands_on_cluster(job: Job, position: int, *, client: Any, job_future: Any, context: TaskContext,
                         on_band: Callable[[int, int], None] | None = None) -> Outcome | None:
    """Run input ``position`` of ``job`` as tasks on the cluster of ``client``, a band of rows
    each, when it is a Zarr input the local run streams into a Zarr store; else None (send it as
    one task, :func:`~convcli.cli.cluster.run_file`).

    Parameters
    ----------
    job : Job
        The batch as this process planned it.
    position : int
        The input, 0-based in ``job.inputs``.
    client : distributed.Client
        The cluster's.
    job_future : distributed.Future
        ``job`` on the workers (a task's result), as the cluster run sends it (without its inputs: each
        task carries its own; :func:`run_band_task` is given it).
    context : TaskContext
        The run's working folder and owner mark; with ``stage``, the store is left staged
        (``Outcome.staged``) for the caller to publish in input order.
    on_band : callable, optional
        ``on_band(rows_done, rows_total)`` as tasks finish (rows of the result written).

    Returns
    -------
    Outcome or None
        The outcome with the local streamed path's report entry (``bands`` included).

    Raises
    ------
    ConvcliError, ValueError
        The input fails (what the local run would record: a chunk that cannot be decoded, a value
        that overflows, a write refused); record it as :func:`~convcli.cli.one_input.run_one`
        does. ``distributed.KilledWorker`` when a task killed every worker that started it; other
        exceptions are internal. On any failure (Ctrl-C too) the temporary store is removed and
        the tasks not started are cancelled.
    """
    from .. import images
    from ..errors import ConvcliError, ImageWriteError
    from ..images.atomic import EXISTS, would_clobber
    from .streamed import _static_reason

    options = job.options
    input_file = job.inputs[position]
    targets = job.plan[input_file.index]
    if (position in job.current or options.dry_run or input_file.path is None
            or _static_reason(job, targets) is not None or targets[0].format != "zarr"):
        return None
    started = time.perf_counter()
    if options.no_clobber and would_clobber(targets[0].path):  # run_one's first check, as locally
        raise ConvcliError(EXISTS, path=targets[0].path)
    from .streamed import open_stream_reader, plan_stream

    stream = plan_stream(job, position)
    if stream is None or stream.info.format != "zarr" or stream.decoded_whole:
        return None
    with open_stream_reader(stream):  # held to the limits (and the estimate made) here, as locally
        pass
    planned = stream.streamable.planned
    target = stream.target
    try:
        images.check_writable("zarr", planned.shape, stream.dtype, has_alpha=planned.has_alpha)
    except ImageWriteError as error:  # name the output, as the band writer does
        raise ImageWriteError(error.message, path=error.path or target.path) from None
    from ..images.atomic import AtomicFolder, staged_commits
    from ..images.zarr_io import create

    folder = AtomicFolder(target.path, no_clobber=options.no_clobber)
    futures: list[Any] = []
    try:
        assert folder.temp_path is not None
        chunk_rows = int(create(folder.temp_path, shape=planned.shape, dtype=stream.dtype).chunks[0])
        height = int(planned.shape[0])
        rows = task_rows(stream.band_rows, chunk_rows)
        tasks = [BandTask(input_file, target.path, first, min(first + rows, height), stream.band_rows,
                          stream.dtype, stream.mapping, folder.temp_path) for first in range(0, height, rows)]
        mappings = _run_tasks(client, job_future, context, position, tasks, futures, on_band, height)
        from ..bands.stream import MappingTotals

        totals = MappingTotals()
        for task_mappings in mappings:
            for mapping in task_mappings:
                totals.add(mapping)
        summary = totals.summary(dtype=stream.dtype, scale=stream.scale, band_rows=stream.band_rows,
                                 count=-(-height // stream.band_rows))
        _remove_partial_writes(folder.temp_path)
        outcome = Outcome(position)
        if context.stage:
            with staged_commits() as staged:
                folder.commit()
            outcome.staged = list(staged)
        else:
            folder.commit()
    except BaseException:
        stop_tasks(client, futures)
        folder.abort()
        raise
    from .streamed import _entry

    return _entry(outcome, stream, time.perf_counter() - started, summary)


#: How zarr's LocalStore names a chunk file while it writes it (``0.<uuid hex>.partial``, then
#: renamed): a worker killed mid-write leaves one behind, which the task run again elsewhere does not
#: remove.
_PARTIAL_WRITE = re.compile(r"\.[0-9a-f]{32}\.partial\Z")


def _remove_partial_writes(store: str) -> None:
    """Remove, from the store being filled, the chunk files a killed worker left half-written."""
    for root, _, names in os.walk(store):
        for name in names:
            if _PARTIAL_WRITE.search(name):
                os.unlink(os.path.join(root, name))


def _run_tasks(client: Any, job_future: Any, context: TaskContext, position: int, tasks: list[BandTask],
               futures: list[Any], on_band: Callable[[int, int], None] | None,
               height: int) -> list[list[dict[str, Any]]]:
    """Submit ``tasks`` of input ``position`` (their futures put in ``futures``) and wait for
    them: what each sends back, in task order; the first failure is raised."""
    from distributed import as_completed

    run_id = os.urandom(6).hex()
    for number, task in enumerate(tasks):
        futures.append(client.submit(run_band_task, job_future, task, context, pure=False, retries=0,
                                     key=f"convcli-band-{run_id}-{position}-{number}"))
    index = {future.key: number for number, future in enumerate(futures)}
    results: list[Any] = [None] * len(tasks)
    done = 0
    for future in as_completed(futures, loop=client.loop):
        number = index[future.key]
        result = future.result()
        future.release()
        if isinstance(result, BandFailure):  # the file's failure, raised here as the worker raised it
            raise result.error
        results[number] = result
        done += tasks[number].stop - tasks[number].first
        if on_band is not None:
            on_band(done, height)
    return results


#: The band plan a worker made last, by the store it fills: a worker's tasks of one input share it.
_PLANS: dict[str, Any] = {}


@dataclass(frozen=True)
class BandFailure:
    """What a band task that failed sends back (as its result, never as the task's error: a task's
    exception crosses with its traceback, which Dask may fail to rebuild on the client, leaving the
    task pending for ever): the error, without its traceback, or a RuntimeError naming it when it
    cannot be sent as it is."""

    error: BaseException


def _portable(error: BaseException) -> BaseException:
    """``error`` without its traceback and chained errors, if it pickles; else a RuntimeError
    that says what it was."""
    import pickle

    error = error.with_traceback(None)
    error.__cause__ = error.__context__ = None
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # noqa: BLE001 - anything pickle cannot carry: said in words
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def run_band_task(job: Job, task: BandTask, context: TaskContext) -> list[dict[str, Any]] | BandFailure:
    """On a worker: rows ``task.first … task.stop − 1`` of the result of ``task.input_file`` with
    ``job`` (the batch as the client planned it, without its inputs), computed in the local run's
    bands from only the input rows they need, mapped, and written into the store at
    ``task.store``; what the mapping says of each band's rows (for the client to sum), or the
    :class:`BandFailure` that stopped it (the task itself never raises)."""
    try:
        return _band_rows(job, task, context)
    except Exception as error:  # noqa: BLE001 - sent back as data, raised on the client
        return BandFailure(_portable(error))


def _band_rows(job: Job, task: BandTask, context: TaskContext) -> list[dict[str, Any]]:
    """:func:`run_band_task`'s work (raising what stops it)."""
    import numpy as np

    from .. import images
    from ..bands import BandPlan, band_plan, run_banded
    from ..bands.stream import map_band
    from ..errors import ImageWriteError
    from ..images.zarr_io import _zarr

    with on_worker(context):
        input_file = task.input_file
        with images.open_band_reader(input_file.source, limits=job.limits) as reader:
            streamable = job.stream(reader.info)
            if streamable is None:  # pragma: no cover - the client planned it from the same header
                raise RuntimeError(f"{input_file.label} cannot be streamed on this worker")
            plan = _PLANS.get(task.store)
            if plan is None:
                plan = band_plan(streamable.steps, reader.shape, band_rows=task.band_rows,
                                 has_alpha=reader.has_alpha, max_pixels=streamable.max_pixels)
                _PLANS.clear()
                _PLANS[task.store] = plan
            mine = plan.bands[task.first // task.band_rows: -(-task.stop // task.band_rows)]
            start = np.dtype(streamable.start_dtype or reader.dtype)

            def read_rows(first: int, stop: int) -> Any:
                return reader.read_rows(first, stop).astype(start, copy=False)

            parts, mappings = [], []
            for row, band in run_banded(streamable.steps, read_rows, reader.shape, band_rows=task.band_rows,
                                        has_alpha=reader.has_alpha, engine=job.options.engine,
                                        max_pixels=streamable.max_pixels,
                                        bands=BandPlan(plan.plan, mine, plan.whole, plan.peak_rows)):
                # A band cut by this task's edge: only this task's rows are mapped and counted.
                kept = band[max(task.first - row, 0): task.stop - row]
                mapped, mapping = map_band(kept, dtype=task.dtype, has_alpha=reader.has_alpha, **task.mapping)
                parts.append(mapped)
                mappings.append(mapping)
        rows = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if not os.path.isdir(task.store):  # the run gave up on this input: recreate nothing
            raise ImageWriteError("the temporary store was removed (the run stopped)", path=task.store)
        try:
            _zarr().open_array(store=task.store, mode="r+")[task.first: task.stop] = rows
        except OSError as error:
            from ..images.info import _reason

            raise ImageWriteError(f"cannot write: {_reason(error)}", path=task.output) from None
    return mappings
