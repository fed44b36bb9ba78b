"""One input streamed: read, computed, mapped and written a band of rows at a time
(docs/semantics.md §6, Streaming).

:func:`run_streamed` is the batch loop's path for an input it streams: the input is opened with
:func:`convcli.images.open_band_reader`, the command's one chain runs with
:func:`convcli.bands.stream.stream_chain`, and each band of the result goes to
:func:`convcli.images.open_band_writer` as soon as it is done; the report entry is the one the
whole-image path writes, plus ``bands``. :func:`plan_stream` decides whether (and how) an input
streams, for this path and for a cluster's (:mod:`convcli.cli.cluster_bands`, which runs a Zarr
input's bands as tasks and gives the same entry).

An input is streamed when the command computes one chain that can run in bands into one file a
band writer writes, and either ``--band-rows`` asks for bands or the run on the whole image would
need :data:`STREAM_FROM` bytes or more (or more than ``--max-memory``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

#: Whole-image runs estimated to need this much memory or more are streamed (when they can be):
#: below it an image is small enough that holding it costs little, and the whole-image path's
#: report notes (the frame a default zero boundary draws) are kept.
STREAM_FROM = 64 << 20


#: A streamed run's step results (and padded inputs) may have this many times the input's pixels,
#: or ``--max-pixels`` when that is more: none is held whole, but a result of absurd size (an
#: upsampling by 100000) would fill the disk, or take for ever band by band.
STREAM_GROWTH = 4


def stream_pixel_limit(max_pixels: int, shape: tuple[int, ...]) -> int:
    """The pixel limit of a streamed run's step results: :data:`STREAM_GROWTH` times the input's
    pixels, or ``max_pixels`` when that is more.

    >>> stream_pixel_limit(1000, (100, 100)), stream_pixel_limit(10**6, (10, 10))
    (40000, 1000000)
    """
    return max(int(max_pixels), STREAM_GROWTH * int(shape[0]) * int(shape[1]))


@dataclass
class Streamable:
    """A chain a command may stream for one input (what ``Job.stream(info)`` gives): the steps,
    their plan on the input, the dtype they start from and the pixel limit of results."""

    steps: list[Any]
    planned: Any
    start_dtype: str
    max_pixels: int | None


@dataclass
class StreamPlan:
    """How one input streams (:func:`plan_stream`): its input file and one target, its header, the
    chain, the output dtype and ``--scale``, the band height, how the input is read (decoded whole,
    or by segments of ``segments`` rows) and the limits it is held to (the job's, with the band
    plan's estimate as ``memory``: :meth:`estimate` keeps the one made in ``made``)."""

    input_file: Any
    target: Any
    info: Any
    streamable: Streamable
    dtype: str
    scale: str
    band_rows: int
    decoded_whole: bool
    segments: int
    engine: str
    limits: Any = None
    made: list[Any] = field(default_factory=list)

    def band_memory(self, info: Any, rows: int) -> Any:
        """The streamed run's memory estimate (:func:`~convcli.memory.estimate_stream_memory`)
        for bands of ``rows`` rows of the input ``info``."""
        from ..memory import estimate_stream_memory

        streamable = self.streamable
        return estimate_stream_memory(streamable.steps, info.shape, info.dtype, band_rows=rows,
                                      output=(self.dtype, self.target.format), decoded_whole=self.decoded_whole,
                                      segment_rows=self.segments, input_format=info.format,
                                      has_alpha=info.has_alpha, start_dtype=streamable.start_dtype,
                                      engine=self.engine, max_pixels=streamable.max_pixels)

    def estimate(self, info: Any) -> tuple[int, str]:
        """``Limits.memory`` of the streamed input: the band plan's estimate, kept in ``made``."""
        self.made[:] = [self.band_memory(info, self.band_rows)]
        return self.made[0].bytes, f"estimated from its header and the band plan, most at {self.made[0].where}"

    @property
    def mapping(self) -> dict[str, Any]:
        """How each band is mapped to ``dtype`` besides (:func:`~convcli.bands.stream.map_band`'s
        ``scale``, ``kind`` and ``alpha_max``; ``stream_chain`` takes them too)."""
        from .one_input import _integer_max

        planned = self.streamable.planned
        return {"scale": self.scale, "kind": planned.kind,
                "alpha_max": _integer_max(self.info.dtype) if planned.has_alpha else None}

    @property
    def memory(self) -> Any:
        """The estimate the report gives (made when the input was held to the limits)."""
        return self.made[0]


def plan_stream(job: Any, position: int) -> StreamPlan | None:
    """How input ``position`` of ``job`` (a :class:`~convcli.cli.one_input.Job`) streams, or None
    when it is to be run whole: the command streams one chain into one file a band writer writes,
    the input's header is readable and the chain can run in bands, the mapping needs no whole
    result (``normalize`` to integers, ``--split``), and ``--band-rows`` asks for bands or the
    whole-image run would need :data:`STREAM_FROM` bytes or more (or more than ``--max-memory``).
    Refuses (raises) an output that is the input. The local streamed path
    (:func:`run_streamed`) and a cluster's (:mod:`convcli.cli.cluster_bands`) both decide here."""
    from .. import images
    from ..errors import ConvcliError
    from ..memory import SEGMENT_ROWS, estimate_memory
    from .one_input import refuse_overwriting_input

    options = job.options
    input_file = job.inputs[position]
    targets = job.plan[input_file.index]
    if _static_reason(job, targets) is not None:
        return None
    target = targets[0]
    try:
        info = images.probe(input_file.source, limits=images.streamed_limits(job.limits))
    except (ConvcliError, ValueError):
        return None  # the whole-image path reads it again and says what is wrong, as it always has
    streamable = job.stream(info)
    if streamable is None:
        return None
    planned = streamable.planned
    fmt = target.format
    dtype = options.dtype or images.default_dtype(fmt, info.dtype, result_dtype=planned.dtype)
    scale = options.scale or planned.scale
    if scale == "normalize" and dtype.startswith("uint"):
        return None  # the whole result's range is needed before the first band is mapped
    if options.split and len(planned.shape) == 3:
        return None
    whole = estimate_memory([streamable.steps], info.shape, info.dtype, has_alpha=info.has_alpha,
                            start_dtype=streamable.start_dtype, outputs=[(0, dtype, fmt)], engine=options.engine,
                            max_pixels=streamable.max_pixels)
    max_memory = job.limits.max_memory
    if options.band_rows is None and whole.bytes < STREAM_FROM and (max_memory is None or whole.bytes <= max_memory):
        return None  # a small input: the band machinery is not even imported
    # lazy: the band machinery only for an input that streams
    from ..bands.stream import BAND_ROUND, auto_band_rows

    decoded_whole = not (input_file.path is not None and info.format in images.STREAMED_FORMATS)

    refuse_overwriting_input(input_file, target.path)
    # Until the reader is open, a TIFF's or Zarr array's segments are taken to be convcli's own.
    segments = 0 if decoded_whole or info.format == "npy" else SEGMENT_ROWS
    stream = StreamPlan(input_file, target, info, streamable, dtype, scale,
                        options.band_rows or auto_band_rows(planned), decoded_whole, segments, options.engine)
    if options.band_rows is None and max_memory is not None:  # thinner bands until the run fits
        while stream.band_rows > BAND_ROUND and stream.band_memory(info, stream.band_rows).bytes > max_memory:
            stream.band_rows = max(BAND_ROUND, stream.band_rows // 2 // BAND_ROUND * BAND_ROUND)
    stream.limits = replace(job.limits, memory=stream.estimate)
    return stream


@contextlib.contextmanager
def open_stream_reader(stream: StreamPlan) -> Iterator[Any]:
    """The band reader of a streamed input (:func:`~convcli.images.open_band_reader`), the input
    held to ``stream.limits`` (to all of them when it is decoded whole) and the estimate made."""
    from .. import images
    from ..images.limits import _check_limits as check_limits

    with images.open_band_reader(stream.input_file.source, limits=stream.limits) as reader:
        if reader.streamed != (not stream.decoded_whole) or reader.segment_rows != stream.segments:
            # The reader knows better (a TIFF decoded whole, taller segments): held to that too.
            stream.decoded_whole, stream.segments = not reader.streamed, reader.segment_rows
            stream.made.clear()
            check_limits(reader.info, stream.limits if stream.decoded_whole else images.streamed_limits(stream.limits),
                         stream.input_file.label)
        if not stream.made:  # no memory limit asked for the estimate: the report still gives it
            stream.estimate(reader.info)
        yield reader


def run_streamed(job: Any, position: int, outcome: Any, started: float, *,
                 may_write: Callable[[], bool] | None = None) -> Any:
    """Stream input ``position`` of ``job`` (a :class:`~convcli.cli.one_input.Job`) when it can
    be (:func:`plan_stream`); give the filled ``outcome``, or None when the input is to be run
    whole. Errors are raised for :func:`~convcli.cli.one_input.run_one` to record."""
    from .. import images

    stream = plan_stream(job, position)
    if stream is None:
        return None
    options = job.options
    input_file, target, info, planned = stream.input_file, stream.target, stream.info, stream.streamable.planned
    if options.dry_run:  # held to what the run would be held to, from the header
        images.probe(input_file.source,
                     limits=stream.limits if stream.decoded_whole else images.streamed_limits(stream.limits))
        if not stream.made:
            stream.estimate(info)
        count = -(-int(planned.shape[0]) // stream.band_rows)
        return _entry(outcome, stream, None, {"scale": stream.scale if stream.dtype.startswith("uint") else "raw",
                                              "bands": {"rows": stream.band_rows, "count": count}})
    from ..bands.stream import stream_chain

    with open_stream_reader(stream) as reader:
        with images.open_band_writer(target.path, shape=planned.shape, dtype=stream.dtype, format=target.format,
                                     has_alpha=planned.has_alpha, png_compression=options.png_compression,
                                     no_clobber=options.no_clobber) as writer:
            mapping = stream_chain(
                stream.streamable.steps, reader, writer, band_rows=stream.band_rows,
                start_dtype=stream.streamable.start_dtype, engine=options.engine,
                max_pixels=stream.streamable.max_pixels, on_band=job.on_band, **stream.mapping,
            )
            if may_write is not None and not may_write():
                writer.abort()
                return type(outcome)(position, skipped=True)
            writer.commit()
    return _entry(outcome, stream, time.perf_counter() - started, mapping)


def _entry(outcome: Any, stream: StreamPlan, seconds: float | None, mapping: dict[str, Any]) -> Any:
    """``outcome`` with the streamed input's report entry: the whole-image path's, and ``bands``
    (``mapping`` is what :func:`~convcli.bands.stream.stream_chain` gives)."""
    from ..bands.stream import CLIPPED_COUNTS
    from ..report import file_entry

    input_file, target, info, planned = stream.input_file, stream.target, stream.info, stream.streamable.planned
    dtype, memory = stream.dtype, stream.memory
    outcome.entries.append(file_entry(
        input=input_file.label, output=target.path, input_shape=info.shape, input_dtype=info.dtype,
        output_shape=planned.shape, output_dtype=dtype, steps=planned.steps, seconds=seconds, scale=mapping["scale"],
        **{name: mapping[name] for name in CLIPPED_COUNTS if name in mapping},
        **({"notes": list(info.notes)} if info.notes else {}),
        memory=memory.bytes, bands=mapping["bands"],
    ))
    return outcome


def _static_reason(job: Any, targets: list[Any]) -> str | None:
    """Why no input of this run is streamed, known before any input is opened (the command, the
    output: one file a band writer writes), or None: it may be."""
    options = job.options
    if job.stream is None:
        return "the command computes more than one chain"
    if len(targets) != 1 or targets[0].described_only or targets[0].path == "-":
        return "the result is not one file"
    from ..images.atomic import written_through
    from ..images.formats import BAND_FORMATS

    if targets[0].format not in BAND_FORMATS or written_through(targets[0].path):
        return "the output is not written band by band"
    if job.preview is not None or job.show or options.allow_nonfinite:
        return "the whole result is needed"
    return None
