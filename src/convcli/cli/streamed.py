"""One input streamed: read, computed, mapped and written a band of rows at a time
(docs/semantics.md §6, Streaming).

:func:`run_streamed` is the batch loop's path for an input it streams: the input is opened with
:func:`convcli.images.open_band_reader`, the command's one chain runs with
:func:`convcli.bands.stream.stream_chain`, and each band of the result goes to
:func:`convcli.images.open_band_writer` as soon as it is done; the report entry is the one the
whole-image path writes, plus ``bands``. :func:`stream_reason` says why an input is not streamed.

An input is streamed when the command computes one chain that can run in bands into one file a
band writer writes, and either ``--band-rows`` asks for bands or the run on the whole image would
need :data:`STREAM_FROM` bytes or more (or more than ``--max-memory``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
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


def run_streamed(job: Any, position: int, outcome: Any, started: float, *,
                 may_write: Callable[[], bool] | None = None) -> Any:
    """Stream input ``position`` of ``job`` (a :class:`~convcli.cli.one_input.Job`) when it can
    be; give the filled ``outcome``, or None when the input is to be run whole. Errors are raised
    for :func:`~convcli.cli.one_input.run_one` to record."""
    from .. import images
    from ..errors import ConvcliError
    from ..memory import SEGMENT_ROWS, estimate_memory, estimate_stream_memory
    from .one_input import _integer_max, refuse_overwriting_input

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
    from ..bands.stream import BAND_ROUND, auto_band_rows, stream_chain
    from ..images.limits import _check_limits as check_limits

    decoded_whole = not (input_file.path is not None and info.format in images.STREAMED_FORMATS)

    refuse_overwriting_input(input_file, target.path)
    # Until the reader is open, a TIFF's or Zarr array's segments are taken to be convcli's own.
    segments = 0 if decoded_whole or info.format == "npy" else SEGMENT_ROWS

    def band_memory(info: Any, rows: int) -> Any:
        return estimate_stream_memory(streamable.steps, info.shape, info.dtype, band_rows=rows, output=(dtype, fmt),
                                      decoded_whole=decoded_whole, segment_rows=segments, input_format=info.format,
                                      has_alpha=info.has_alpha, start_dtype=streamable.start_dtype,
                                      engine=options.engine, max_pixels=streamable.max_pixels)

    band_rows = options.band_rows or auto_band_rows(planned)
    if options.band_rows is None and max_memory is not None:  # thinner bands until the run fits
        while band_rows > BAND_ROUND and band_memory(info, band_rows).bytes > max_memory:
            band_rows = max(BAND_ROUND, band_rows // 2 // BAND_ROUND * BAND_ROUND)
    made: list[Any] = []

    def estimate(info: Any) -> tuple[int, str]:
        made[:] = [band_memory(info, band_rows)]
        return made[0].bytes, f"estimated from its header and the band plan, most at {made[0].where}"

    limits = replace(job.limits, memory=estimate)
    if options.dry_run:  # held to what the run would be held to, from the header
        images.probe(input_file.source, limits=limits if decoded_whole else images.streamed_limits(limits))
        if not made:
            estimate(info)
        count = -(-int(planned.shape[0]) // band_rows)
        return _entry(outcome, input_file, target, info, planned, dtype, made[0], None,
                      {"scale": scale if dtype.startswith("uint") else "raw", "bands": {"rows": band_rows,
                                                                                          "count": count}})
    with images.open_band_reader(input_file.source, limits=limits) as reader:
        if reader.streamed != (not decoded_whole) or reader.segment_rows != segments:
            # The reader knows better (a TIFF decoded whole, taller segments): held to that too.
            decoded_whole, segments = not reader.streamed, reader.segment_rows
            made.clear()
            check_limits(reader.info, limits if decoded_whole else images.streamed_limits(limits), input_file.label)
        if not made:  # no memory limit asked for the estimate: the report still gives it
            estimate(reader.info)
        with images.open_band_writer(target.path, shape=planned.shape, dtype=dtype, format=fmt,
                                     has_alpha=planned.has_alpha, png_compression=options.png_compression,
                                     no_clobber=options.no_clobber) as writer:
            mapping = stream_chain(
                streamable.steps, reader, writer, band_rows=band_rows, start_dtype=streamable.start_dtype,
                scale=scale, kind=planned.kind, alpha_max=_integer_max(info.dtype) if planned.has_alpha else None,
                engine=options.engine, max_pixels=streamable.max_pixels, on_band=job.on_band,
            )
            if may_write is not None and not may_write():
                writer.abort()
                return type(outcome)(position, skipped=True)
            writer.commit()
    return _entry(outcome, input_file, target, info, planned, dtype, made[0], time.perf_counter() - started, mapping)


def _entry(outcome: Any, input_file: Any, target: Any, info: Any, planned: Any, dtype: str, memory: Any,
           seconds: float | None, mapping: dict[str, Any]) -> Any:
    """``outcome`` with the streamed input's report entry: the whole-image path's, and ``bands``."""
    from ..report import file_entry

    outcome.entries.append(file_entry(
        input=input_file.label, output=target.path, input_shape=info.shape, input_dtype=info.dtype,
        output_shape=planned.shape, output_dtype=dtype, steps=planned.steps, seconds=seconds, scale=mapping["scale"],
        **{name: mapping[name] for name in ("clipped", "clipped_below", "clipped_above") if name in mapping},
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
