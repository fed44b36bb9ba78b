"""A chain streamed from a band reader to a band writer: read, compute, map and write one band of
the result at a time (docs/semantics.md §6, Streaming).

:func:`stream_chain` is the loop the command line runs for an input it streams: the rows each band
needs are read from a :class:`~convcli.images.BandReader`, computed with
:func:`~convcli.bands.run_banded`, mapped to the writer's dtype with
:func:`~convcli.values.map_values` and handed to a :class:`~convcli.images.BandWriter`. Mapping and
writing (encoding, compressing) run on a thread of their own while the next band is computed:
NumPy, OpenCV, zlib and the file system release the GIL, so the two overlap on two cores.

:func:`auto_band_rows` is the band height used when none is given.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["BAND_BYTES", "MappingTotals", "auto_band_rows", "map_band", "stream_chain"]

#: The bytes of one band of the largest step input or result, in the dtype it is computed in, that
#: :func:`auto_band_rows` aims at: small enough that the arrays of the bands in flight (being read,
#: computed, waiting for the writer, written) stay at a few times this, large enough that the
#: per-band overhead (halo rows computed twice, Python calls) is small.
BAND_BYTES = 2 << 20

#: Bands are a multiple of this many rows (TIFF and Zarr outputs' tiles and chunks are 256 rows;
#: 16 divides them), and never fewer.
BAND_ROUND = 16


def auto_band_rows(planned: Any, *, band_bytes: int = BAND_BYTES) -> int:
    """A band height for the chain ``planned`` (a :class:`~convcli.pipeline.Plan`): the rows of
    the result for which the largest step input or result, as float32 (float64 for float64
    chains), holds about ``band_bytes``; a multiple of :data:`BAND_ROUND`, at least that, at most
    the result's height.

    Examples
    --------
    >>> from convcli.pipeline import parse_pipeline, plan
    >>> steps = parse_pipeline("steps: [{filter: {kernel: box3}}]", path="p.yaml")
    >>> auto_band_rows(plan(steps, (4096, 4096), dtype="uint8"))  # 2 MiB of float32 rows of 4096 pixels
    128
    >>> auto_band_rows(plan(steps, (100, 100)))
    100
    """
    import math

    import numpy as np

    if not isinstance(band_bytes, int) or isinstance(band_bytes, bool) or band_bytes < 1:
        raise ValueError(f"`band_bytes` must be a whole number of bytes >= 1, got {band_bytes!r}")
    height = int(planned.shape[0])
    itemsize = 8 if np.dtype(planned.dtype).itemsize == 8 else 4

    def per_result_row(shape: tuple[int, ...]) -> float:
        """Bytes of an array of ``shape`` one row of the result stands for: a step that shrinks
        (stride, pooling) reads several input rows per result row, an upsampling fewer."""
        return math.prod(int(n) for n in shape[1:]) * itemsize * int(shape[0]) / max(1, height)

    row_bytes = max((per_result_row(shape) for stage in planned.stages for shape in (stage.in_shape, stage.out_shape)),
                    default=1)
    rows = max(BAND_ROUND, int(band_bytes // max(1.0, row_bytes)) // BAND_ROUND * BAND_ROUND)
    return min(rows, height)


def stream_chain(
    steps: Sequence[Any],
    reader: Any,
    writer: Any,
    *,
    band_rows: int,
    start_dtype: str | None = None,
    scale: str = "clip",
    kind: str = "values",
    alpha_max: float | None = None,
    engine: str = "auto",
    max_pixels: int | None = None,
    on_band: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run ``steps`` on the rows of ``reader`` band by band and write each result band to ``writer``.

    The written file is the one :func:`convcli.pipeline.run` on the whole image, then
    :func:`~convcli.values.map_values` to ``writer.dtype``, then a whole-image write would make:
    every band holds the same values (see :func:`~convcli.bands.run_banded`), and the mapping is
    value by value. The caller commits the writer (or aborts it on an error).

    Parameters
    ----------
    steps : sequence of Step
        The chain; one :func:`~convcli.bands.run_banded` accepts.
    reader : BandReader
        The input (:func:`~convcli.images.open_band_reader`).
    writer : BandWriter
        The output, of the chain's result shape (:func:`~convcli.images.open_band_writer`).
    band_rows : int
        Rows of the result per band (:func:`auto_band_rows` gives one).
    start_dtype : str, optional
        The dtype the chain starts from (``float64`` to compute in float64); None: the input's.
    scale, kind, alpha_max
        As :func:`~convcli.values.map_values` takes them. ``normalize`` needs the whole result's
        range and is refused.
    engine, max_pixels
        As :func:`~convcli.bands.run_banded` takes them.
    on_band : callable, optional
        ``on_band(rows_done, rows_total)`` after each band is written.

    Returns
    -------
    dict
        What :func:`~convcli.values.map_values` says, summed over the bands (``scale``,
        ``clipped``, ``clipped_below``, ``clipped_above``), and ``bands``: ``{"rows": band_rows,
        "count": number of bands}``.

    Raises
    ------
    ValueError
        ``scale="normalize"`` to an integer dtype, or what the steps, the reader or the writer raise.
    NonFiniteError
        A step's result, or its values cast to the writer's dtype, became NaN or inf.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from convcli.images import open_band_reader, open_band_writer, read_image
    >>> from convcli.pipeline import parse_pipeline, plan
    >>> steps = parse_pipeline("steps: [{filter: {kernel: box3}}]", path="p.yaml")
    >>> with tempfile.TemporaryDirectory() as folder, open_band_reader("sample:camera") as reader:
    ...     out = pathlib.Path(folder, "out.png")
    ...     with open_band_writer(out, shape=plan(steps, reader.shape).shape, dtype="uint8") as writer:
    ...         done = stream_chain(steps, reader, writer, band_rows=100)
    ...         writer.commit()
    ...     read_image(out)[0].shape, done["bands"]
    ((512, 512), {'rows': 100, 'count': 6})
    """
    import numpy as np

    from . import run_banded

    dtype = writer.dtype
    if scale == "normalize" and np.dtype(dtype).kind in "ui":
        raise ValueError("`scale` normalize needs the whole result's range; it cannot be streamed: run it whole")
    has_alpha = bool(reader.has_alpha)
    total = int(writer.shape[0])
    start = np.dtype(start_dtype or reader.dtype)

    totals = MappingTotals()

    def write(band: Any) -> None:
        """Map one result band and write it (on the writer's thread)."""
        mapped, mapping = map_band(band, dtype=dtype, scale=scale, has_alpha=has_alpha, kind=kind,
                                   alpha_max=alpha_max)
        totals.add(mapping)
        writer.write_rows(mapped)
        if on_band is not None:
            on_band(writer.rows_written, total)

    from . import band_plan

    planned = band_plan(steps, reader.shape, band_rows=band_rows, has_alpha=has_alpha, max_pixels=max_pixels)
    with _Prefetch(reader.read_rows, _read_order(planned)) as prefetch:
        def read_rows(first: int, stop: int) -> Any:
            return prefetch.read(first, stop).astype(start, copy=False)

        bands = run_banded(steps, read_rows, reader.shape, band_rows=band_rows, has_alpha=has_alpha, engine=engine,
                           max_pixels=max_pixels, bands=planned)
        count = _pipelined(bands, write)
    return totals.summary(dtype=dtype, scale=scale, band_rows=band_rows, count=count)


def map_band(band: Any, *, dtype: str, scale: str = "clip", has_alpha: bool = False, kind: str = "values",
             alpha_max: float | None = None) -> tuple[Any, dict[str, Any]]:
    """Rows of a chain's result mapped to ``dtype`` as the whole result is
    (:func:`~convcli.values.map_values`, value by value) and checked as it is
    (:func:`~convcli.pipeline.check_output`): the mapped rows and what the mapping says of them.

    Raises
    ------
    NonFiniteError
        Values cast to ``dtype`` became NaN or inf.

    Examples
    --------
    >>> import numpy as np
    >>> mapped, mapping = map_band(np.array([[-1.0, 300.0]]), dtype="uint8")
    >>> mapped.tolist(), mapping["clipped"]
    ([[0, 255]], 2)
    """
    import numpy as np

    from ..pipeline import check_output
    from ..values import map_values

    with np.errstate(over="ignore", invalid="ignore"):  # a cast's overflow: check_output says it
        mapped, mapping = map_values(band, dtype=dtype, scale=scale, alpha=has_alpha, kind=kind, alpha_max=alpha_max)
    check_output(band, mapped)
    return mapped, mapping


#: What :func:`~convcli.values.map_values` counts, summed over the bands of a result.
CLIPPED_COUNTS = ("clipped", "clipped_below", "clipped_above")


class MappingTotals:
    """What :func:`map_band` says of a result's bands, summed in band order (the report's
    ``scale`` and ``clipped*`` of a streamed input).

    Examples
    --------
    >>> totals = MappingTotals()
    >>> totals.add({"scale": "clip", "clipped": 2, "clipped_below": 1, "clipped_above": 1})
    >>> totals.add({"scale": "clip", "clipped": 1, "clipped_below": 0, "clipped_above": 1})
    >>> totals.summary(dtype="uint8", scale="clip", band_rows=8, count=2)
    {'scale': 'clip', 'clipped': 3, 'clipped_below': 1, 'clipped_above': 2, 'bands': {'rows': 8, 'count': 2}}
    """

    def __init__(self) -> None:
        self.scale: str | None = None
        self.counts = dict.fromkeys(CLIPPED_COUNTS, 0)

    def add(self, mapping: dict[str, Any]) -> None:
        """Count one band's mapping."""
        self.scale = mapping["scale"]
        for name in CLIPPED_COUNTS:
            self.counts[name] += int(mapping.get(name, 0))

    def summary(self, *, dtype: str, scale: str, band_rows: int, count: int) -> dict[str, Any]:
        """What :func:`stream_chain` gives: ``scale`` (for no band at all, what the mapping says of
        no values), the counts, and ``bands``: ``{"rows": band_rows, "count": count}``."""
        import numpy as np

        from ..values import map_values

        said = self.scale
        if said is None:  # an empty result: what the mapping says of no values
            said = map_values(np.zeros((0, 0)), dtype=dtype, scale=scale)[1]["scale"]
        return {"scale": said, **self.counts, "bands": {"rows": int(band_rows), "count": count}}


#: Bands waiting for the writer's thread: one being computed, two waiting, one being written.
QUEUE_BANDS = 2

#: Input rows read ahead of the band being computed, in reads (about one band's input each).
PREFETCH_READS = 2


def _read_order(planned: Any) -> list[tuple[int, int]]:
    """The input rows :func:`~convcli.bands.run_banded` reads for a band plan, in the order it
    reads them; empty when the chain runs whole."""
    return [read for band in planned.bands for read in band.reads()]


class _Prefetch:
    """Reads ``order``'s rows on a thread of its own, :data:`PREFETCH_READS` ahead of the caller,
    so decoding (TIFF tiles, Zarr chunks, file reads: zlib and the OS release the GIL) overlaps
    computing. ``read(first, stop)`` gives the next read's rows; a read out of that order stops the
    thread and reads directly from then on."""

    def __init__(self, read: Callable[[int, int], Any], order: list[tuple[int, int]]) -> None:
        self._read, self._order = read, order
        self._queue: queue.Queue = queue.Queue(maxsize=PREFETCH_READS)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if order:
            self._thread = threading.Thread(target=self._reading, name="convcli-band-reader", daemon=True)
            self._thread.start()

    def _reading(self) -> None:
        for first, stop in self._order:
            if self._stop.is_set():
                return
            try:
                item: Any = self._read(first, stop)
            except BaseException as error:  # noqa: BLE001 - raised in the caller's thread, in order
                item = error
            while not self._stop.is_set():
                try:
                    self._queue.put(((first, stop), item), timeout=0.05)
                    break
                except queue.Full:
                    continue
            if isinstance(item, BaseException):
                return

    def read(self, first: int, stop: int) -> Any:
        if self._thread is None:
            return self._read(first, stop)
        while True:
            try:
                wanted, item = self._queue.get(timeout=0.05)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():  # past the plan's reads
                    self._thread = None
                    return self._read(first, stop)
        if wanted != (first, stop):  # not the plan's order: read directly (after the thread stops)
            self.close()
            return self._read(first, stop)
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        if self._thread is not None:
            self._stop.set()
            while self._thread.is_alive():
                try:
                    self._queue.get(timeout=0.05)
                except queue.Empty:
                    continue
            self._thread.join()
            self._thread = None

    def __enter__(self) -> _Prefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pipelined(bands: Any, write: Callable[[Any], None]) -> int:
    """``write(band)`` for each band of ``bands`` (``(start, band)`` pairs) on a thread of its
    own while the next band is computed; the first error of either side is raised here, after the
    thread has stopped. Gives the number of bands."""
    waiting: queue.Queue = queue.Queue(maxsize=QUEUE_BANDS)
    failed: list[BaseException] = []
    stop = threading.Event()  # set by either side on an error: the other side stops too
    done = object()

    def writing() -> None:
        while not stop.is_set():
            band = waiting.get()
            if band is done or stop.is_set():
                return
            try:
                write(band)
            except BaseException as error:  # noqa: BLE001 - raised again in the caller's thread
                failed.append(error)
                stop.set()

    def offer(item: object) -> bool:
        """Queue ``item`` for the writer; False when it has stopped."""
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    thread = threading.Thread(target=writing, name="convcli-band-writer", daemon=True)
    thread.start()
    count = 0
    try:
        for _, band in bands:
            if not offer(band):
                break
            count += 1
        else:
            offer(done)
    except BaseException:
        stop.set()
        raise
    finally:
        if stop.is_set():  # wake a writer waiting for a band, and let queued bands go
            while True:
                try:
                    waiting.get_nowait()
                except queue.Empty:
                    break
            waiting.put_nowait(done)
        thread.join()
    if failed:
        raise failed[0]
    return count
