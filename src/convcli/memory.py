"""How much memory one input's run holds at its busiest, estimated from the header and the plan
before anything is decoded (what ``--max-memory`` holds a run to)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .pipeline import Stage, Step, layer_positions, plan, result_dtype
from .steps import KINDS

#: Bytes added to every estimate for what is not an image-sized array: the engines' row buffers and
#: thread pools, small arrays, the interpreter's own allocations.
MEMORY_OVERHEAD = 8 << 20
#: And a tenth more for what the arrays' model leaves out: allocator slack, libraries' scratch space.
MEMORY_MARGIN = 1.1


#: What importing the library that reads or writes a format adds to the process (zarr and
#: numcodecs: about 19 MiB measured), counted once when the run reads or writes that format.
LIBRARY_MEMORY = {"zarr": 24 << 20}

#: Rows of an input's segments (TIFF tiles or strips, Zarr chunks) the streamed estimate assumes
#: until the reader says (convcli's own tiles and chunks): the reader keeps the last two rows of them.
SEGMENT_ROWS = 256

#: Bounds on a contact sheet tile's label band (a line of Pillow's default font and its margins)
#: and on a tile's width (its label's), in pixels: what a layer sheet's size is estimated with.
SHEET_BAND = 32
SHEET_CELL_WIDTH = 160


@dataclass(frozen=True)
class Memory:
    """An estimate of the most memory one input's run holds at once: ``bytes``, reached ``where``."""

    bytes: int
    where: str


def _elements(shape: Sequence[int]) -> int:
    return math.prod(int(n) for n in shape)


@dataclass(frozen=True)
class Sizes:
    """What a step's :attr:`~convcli.steps.base.StepKind.memory` works from: element counts of its
    input and result (``n_in``, ``n_out``), the result's bytes (``result``), the bytes of one
    element of the floating-point type it computes in (``real``), whether alpha comes along
    (``alpha``: 0 or 1), the input's channels (``in_channels``), its colour elements
    (``colour_in``), one output plane and the output's colour elements (``plane_out``,
    ``colour_out``), the input's dtype (``before``) and the filter engine (``engine``)."""

    n_in: int
    n_out: int
    result: int
    real: int
    alpha: int
    in_channels: int
    colour_in: int
    plane_out: int
    colour_out: int
    before: str
    engine: str


def _step_memory(stage: Stage, before: str, after: str, has_alpha: bool, engine: str) -> int:
    """What one step allocates, in bytes, at its busiest: its result and its working arrays
    (converted and padded copies, the engines' outputs, temporaries), as the ops in convcli.ops
    compute them. Its input is not counted: whoever holds it counts it."""
    import numpy as np

    from .dtypes import work_dtype

    n_in, n_out = _elements(stage.in_shape), _elements(stage.out_shape)
    alpha = 1 if has_alpha else 0
    in_channels = _elements(stage.in_shape[2:])
    out_channels = _elements(stage.out_shape[2:])
    plane_out = n_out // out_channels
    sizes = Sizes(n_in=n_in, n_out=n_out, result=n_out * np.dtype(after).itemsize,
                  real=work_dtype(before).itemsize, alpha=alpha, in_channels=in_channels,
                  colour_in=n_in // in_channels * (in_channels - alpha), plane_out=plane_out,
                  colour_out=plane_out * (out_channels - alpha), before=before, engine=engine)
    return KINDS[stage.step.op].memory(stage.step, stage.record, sizes)


def _layer_sheet_memory(shapes: Sequence[Sequence[int]]) -> tuple[int, int]:
    """Bytes at the busiest while :func:`convcli.sheet.layer_sheet` lays out maps of ``shapes``
    (one block at a time: the maps in float64 and the scaling's temporaries, the enlarged tiles,
    the labelled tiles and their montage, beside the blocks already made; then all blocks joined
    into one image), and the sheet's bytes (RGB, uint8)."""
    from .sheet import tile_zoom

    made, peak = 0, 0
    for shape in shapes:
        height, width = int(shape[0]), int(shape[1])
        channels, zoom = _elements(shape[2:]), tile_zoom(height, width)
        elements = height * width * channels
        block = channels * (height * zoom + SHEET_BAND) * max(width * zoom, SHEET_CELL_WIDTH) * 3
        peak = max(peak, made + 5 * 8 * elements + elements * zoom * zoom + 2 * block)
        made += block
    return max(peak, 2 * made), made


def _mapping_memory(elements: int, result: str, output: str) -> int:
    """Turning a result into the output dtype, besides the mapped array: the general mapping's
    float64 copies (alpha, angles, masks, integers into an integer dtype) or the fast path's."""
    import numpy as np

    if np.dtype(output).kind == "f":
        return 0
    if np.dtype(result).kind != "f":  # integers converted first: float32 for 16 bits or less
        return elements * (4 if np.dtype(result).itemsize <= 2 else 8)
    return elements * np.dtype(result).itemsize  # values beyond the safe range clipped in a copy


def estimate_memory(
    chains: Sequence[Sequence[Step]],
    shape: Sequence[int],
    dtype: str,
    *,
    has_alpha: bool = False,
    start_dtype: str | None = None,
    outputs: Sequence[tuple[int, str, str]] | None = None,
    sheet: bool = False,
    engine: str = "auto",
    max_pixels: int | None = None,
) -> Memory:
    """The most memory one input's run holds at once, from its header and the plan: nothing is decoded.

    The run, as the command line does it: the input decoded (the decoder's array and a converted
    copy), converted to ``start_dtype`` (``--dtype float64``), then each chain's steps in turn —
    at each step the input, the results of earlier chains and saved steps, the step's own input
    and everything the step allocates (see the ops) — then each product mapped to its output
    dtype and encoded while the others wait. The peak is the largest of these sums, plus
    :data:`MEMORY_OVERHEAD`.

    Parameters
    ----------
    chains : sequence of step lists
        One list of steps per product, as :func:`run` takes them.
    shape, dtype, has_alpha
        The input, from its header.
    start_dtype : str, optional
        What the steps start from, when the input is converted first.
    outputs : sequence of (product, dtype, format), optional
        Each file written: which product (the chains' results, then the saved steps in order,
        then a contact sheet), in which dtype and format. Default: each product once to ``.npy``,
        as computed.
    sheet : bool
        A contact sheet is made too: of the first chain's result or, when the one chain has conv
        layers (:func:`~convcli.pipeline.layer_positions`), of their maps, which are then held
        from each layer's step until the sheet is made.
    engine : str
        What computes the filters (``--engine``).
    max_pixels : int, optional
        Checked first, per step, as :func:`plan` does: a result too large to hold says so.

    Examples
    --------
    >>> from convcli.pipeline import parse_pipeline
    >>> steps = parse_pipeline("steps: [{upsample: {method: bilinear, factor: 4}}]", path="up.yaml")
    >>> estimate = estimate_memory([steps], (3000, 3000), "uint8", outputs=[(0, "uint8", "png")])
    >>> round(estimate.bytes / 2**30, 2), estimate.where
    (1.38, 'step 1 (upsample)')
    """
    import numpy as np

    start = str(start_dtype or dtype)
    decoded = _elements(shape) * np.dtype(dtype).itemsize
    base = decoded + (_elements(shape) * np.dtype(start).itemsize if start != str(dtype) else 0)
    peak, where = 2 * decoded, "decoding"
    held = 0  # results of earlier chains and saved steps
    products: list[tuple[int, str, bool, str]] = []  # elements, dtype, alpha, kind
    saves: list[tuple[int, str, bool, str]] = []
    layers = layer_positions(chains[0]) if sheet and len(chains) == 1 else []
    maps: list[tuple[int, ...]] = []
    kept = 0  # the layers' maps held for the sheet and nothing else
    for chain in chains:
        state = plan(chain, shape, has_alpha=has_alpha, max_pixels=max_pixels)
        current, alive = start, 0  # the step's input when it is not the decoded image
        alpha = has_alpha
        for position, (step, stage) in enumerate(zip(chain, state.stages)):
            after = result_dtype(step, current, changed=stage.in_shape != stage.out_shape, has_alpha=alpha)
            need = base + held + alive + _step_memory(stage, current, after, alpha, engine)
            if need > peak:
                peak, where = need, f"step {position + 1} ({step.op})"
            alive = _elements(stage.out_shape) * np.dtype(after).itemsize
            current = after
            if step.save or position in layers:
                held += alive
            if position in layers:
                maps.append(stage.out_shape)
                kept += 0 if step.save else alive
            if step.save:
                kind = plan(chain[: position + 1], shape, has_alpha=has_alpha).kind
                saves.append((_elements(stage.out_shape), after, alpha, kind))
        products.append((_elements(state.shape), current, alpha, state.kind))
        held += alive
    products += saves
    if maps:
        making, elements = _layer_sheet_memory(maps)
        if base + held + making > peak:
            peak, where = base + held + making, "the contact sheet"
        products.append((elements, "uint8", False, "values"))
        held += elements - kept  # the maps go once the sheet is made
    elif sheet:
        elements = products[0][0]
        need = base + held + 2 * elements * 8
        if need > peak:
            peak, where = need, "the contact sheet"
        products.append((elements, "uint8", False, "values"))
        held += elements * 3
    written = outputs if outputs is not None else [(index, product[1], "npy") for index, product in
                                                   enumerate(products)]
    for index, output, fmt in written:
        # The batch loop maps one product at a time while the others wait, lets the result go, then
        # encodes: the compressed bytes, and their joined copy (a .npy is written as it is).
        elements, result, alpha, kind = products[index]
        mapped = elements * np.dtype(output).itemsize
        general = np.dtype(output).kind in "ui" and (alpha or kind != "values")
        mapping = 4 * elements * 8 if general else _mapping_memory(elements, result, output)
        product = elements * np.dtype(result).itemsize
        # A .npy: io.BytesIO grows by an eighth at a time, and NumPy copies 16 MiB pieces into it
        # through a buffer of their own.
        encoded = mapped * 1.25 + min(mapped, 32 << 20) if fmt == "npy" else mapped * 2
        need = max(held + mapped + mapping, held - product + mapped + encoded) + LIBRARY_MEMORY.get(fmt, 0)
        if need > peak:
            peak, where = need, "writing"
    return Memory(int(peak * MEMORY_MARGIN + MEMORY_OVERHEAD), where)


def estimate_stream_memory(
    steps: Sequence[Step],
    shape: Sequence[int],
    dtype: str,
    *,
    band_rows: int,
    output: tuple[str, str],
    decoded_whole: bool,
    segment_rows: int = SEGMENT_ROWS,
    input_format: str | None = None,
    has_alpha: bool = False,
    start_dtype: str | None = None,
    engine: str = "auto",
    max_pixels: int | None = None,
) -> Memory:
    """The most memory a streamed run holds at once (:func:`convcli.bands.stream.stream_chain`),
    from the header and the band plan: nothing is decoded.

    The run holds: the decoded input when its format is decoded whole (``decoded_whole``: PNG,
    JPEG...; a TIFF read by segments, a mapped ``.npy`` or a Zarr array hold only the rows a band
    reads); the reads read ahead (:data:`~convcli.bands.stream.PREFETCH_READS`); for the band with
    the most rows, each step's input rows (gathered, and the parts they are gathered from) and the
    busiest step's working arrays; the result bands waiting for the writer's thread and the one
    being mapped; what the writer holds (:func:`~convcli.images.band_writer_memory`); and the
    libraries the input's and the output's formats load (:data:`LIBRARY_MEMORY`). ``output`` is the
    file's (dtype, format); ``input_format`` the input's.

    Examples
    --------
    >>> from convcli.pipeline import parse_pipeline
    >>> steps = parse_pipeline("steps: [{filter: {kernel: gaussian5}}]", path="p.yaml")
    >>> big = estimate_stream_memory(steps, (40000, 40000), "uint8", band_rows=64,
    ...                              output=("uint8", "tiff"), decoded_whole=False)
    >>> big.bytes < 512 << 20, big.where
    (True, 'band of 64 rows')
    """
    import numpy as np

    from .bands import band_plan
    from .bands.stream import PREFETCH_READS, QUEUE_BANDS
    from .images.band_write import band_writer_memory

    out_dtype, fmt = output
    bands = band_plan(steps, shape, band_rows=band_rows, has_alpha=has_alpha, max_pixels=max_pixels)
    planned = bands.plan
    decoded = _elements(shape) * np.dtype(dtype).itemsize
    start = str(start_dtype or dtype)
    widest = max(bands.bands, key=lambda band: band.need.held if band.need is not None else 0)
    rows_in = [0] * len(steps)
    rows_out = [0] * len(steps)

    def walk(need: Any) -> None:
        rows_in[need.position] += need.rows.stop - need.rows.first
        rows_out[need.position] += need.stop - need.start
        for source in need.sources:
            walk(source)

    if widest.need is None:  # runs whole: every step on the whole image
        return estimate_memory([steps], shape, dtype, has_alpha=has_alpha, start_dtype=start_dtype,
                               outputs=[(0, out_dtype, fmt)], engine=engine, max_pixels=max_pixels)
    walk(widest.need)
    held, busiest = 0, 0
    current, alpha = start, has_alpha
    for position, (step, stage) in enumerate(zip(steps, planned.stages)):
        after = result_dtype(step, current, changed=stage.in_shape != stage.out_shape, has_alpha=alpha)
        band_stage = Stage(step, (rows_in[position], *stage.in_shape[1:]), (rows_out[position], *stage.out_shape[1:]),
                           stage.receptive_field, stage.jump, after, stage.record)
        held += 2 * _elements(band_stage.in_shape) * np.dtype(current).itemsize  # gathered, and its parts
        busiest = max(busiest, _step_memory(band_stage, current, after, alpha, engine))
        current = after
    # The reads waiting for the band being computed (the largest read each), in the input's dtype.
    largest_read = max((stop - first for first, stop in widest.input_ranges()), default=0)
    held += PREFETCH_READS * largest_read * _elements(shape[1:]) * np.dtype(dtype).itemsize
    if not decoded_whole:  # the last two rows of TIFF segments or Zarr chunks the reader keeps
        held += 2 * segment_rows * _elements(shape[1:]) * np.dtype(dtype).itemsize
    result_band = widest.stop - widest.start
    result_bytes = result_band * _elements(planned.shape[1:]) * np.dtype(current).itemsize
    mapped = result_band * _elements(planned.shape[1:]) * np.dtype(out_dtype).itemsize
    writing = (QUEUE_BANDS + 2) * result_bytes + 2 * mapped + _mapping_memory(
        result_band * _elements(planned.shape[1:]), current, out_dtype)
    writing += band_writer_memory(fmt, tuple(int(n) for n in planned.shape), out_dtype, band_rows=band_rows)
    libraries = sum(LIBRARY_MEMORY.get(name, 0) for name in {fmt, input_format})
    peak = (decoded if decoded_whole else 0) + held + busiest + writing + libraries
    where = f"band of {band_rows} rows"
    if decoded_whole and 2 * decoded > peak:
        peak, where = 2 * decoded, "decoding"
    return Memory(int(peak * MEMORY_MARGIN + MEMORY_OVERHEAD), where)
