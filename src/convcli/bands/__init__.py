"""Banded execution: a chain of steps computed a band of output rows at a time, each band from
only the input rows it needs (docs/semantics.md, Bands).

Each step kind declares, once, which rows of its input an output row range needs
(``StepKind.rows``, a :class:`~convcli.steps.base.BandRows` derived from the geometry its ``plan``
uses). :func:`band_plan` accumulates those declarations backwards through the chain: for each band
of the result, the rows of each step's input it reads (the halo of the whole plan), as one or
more ranges of real rows — the rows past an input's edge come from the step's boundary rule
(``wrap`` reads the opposite edge; ``zero`` and ``constant`` read nothing). :func:`run_banded`
then computes each band: every step runs, through its kind's own ``run``, on exactly the rows
it needs, gathered by a row-index map that applies the boundary rule (numpy.pad's, as the whole
image is padded), with no row padding of its own; the columns are handled as for the whole
image. Results are byte-identical to :func:`convcli.pipeline.run`.

A chain holding a step that cannot run in bands (:func:`whole_reason`: a global pool, a
max-unpool, bilinear upsampling by a factor other than a power of 2, the conv layers, Sobel magnitude, direction or pre-blur, a bank of
kernels of different shapes) runs whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Band", "BandPlan", "Need", "band_plan", "run_banded", "whole_reason"]


@dataclass
class Need:
    """What computing output rows ``start … stop − 1`` of the step at ``position`` reads.

    ``rows`` is the step's declaration (its band step, and the input rows ``rows.first …
    rows.stop − 1``, past the input's edges where it reads padding); ``ranges`` are the real input
    rows those are gathered from (one range, or two where a boundary reads rows elsewhere), and
    ``sources`` how each range is computed by the step before (none for the chain's input).
    """

    position: int
    start: int
    stop: int
    rows: Any
    ranges: list[tuple[int, int]]
    sources: list[Need] = field(default_factory=list)

    @property
    def held(self) -> int:
        """Input rows this step's band and the steps' before it hold (the band's whole halo)."""
        return (self.rows.stop - self.rows.first) + sum(source.held for source in self.sources)


@dataclass
class Band:
    """One band of the chain's result: output rows ``start … stop − 1`` and what they need
    (None when the chain runs whole)."""

    start: int
    stop: int
    need: Need | None

    def reads(self) -> list[tuple[int, int]]:
        """The chain's input rows this band reads, as ranges (start, stop), in the order
        :func:`run_banded` reads them (depth first through the steps), repeats included."""
        found: list[tuple[int, int]] = []

        def walk(need: Need) -> None:
            if need.position == 0:
                found.extend(need.ranges)
            for source in need.sources:
                walk(source)

        if self.need is not None:
            walk(self.need)
        return found

    def input_ranges(self) -> list[tuple[int, int]]:
        """The chain's input rows this band reads, as sorted ranges (start, stop)."""
        return sorted(set(self.reads()))


@dataclass
class BandPlan:
    """The bands of a chain's result (:func:`band_plan`): the chain's plan, the bands, why the
    chain runs whole (None when it runs in bands), the most input rows of all steps one band
    holds at once."""

    plan: Any
    bands: list[Band]
    whole: str | None
    peak_rows: int


def whole_reason(steps: Sequence[Any], planned: Any) -> str | None:
    """Why the chain of ``steps`` (planned as ``planned``) must run whole, or None when it can run
    in bands: the first step whose kind declares it cannot (``StepKind.rows`` gives None).

    Examples
    --------
    >>> from convcli.pipeline import parse_pipeline, plan
    >>> steps = parse_pipeline("steps: [gray, {pool: {op: avg, global: true}}]", path="p.yaml")
    >>> whole_reason(steps, plan(steps, (8, 8, 3)))
    'step 2 (pool) cannot run in bands'
    """
    from ..steps import KINDS

    for position, (step, stage) in enumerate(zip(steps, planned.stages)):
        if KINDS[step.op].rows(step, stage, 0, 1) is None:
            return f"step {position + 1} ({step.op}) cannot run in bands"
    if any(KINDS[step.op].undoes(steps, position) is not None for position, step in enumerate(steps)):
        return "a max-unpool needs its pool's argmax over the whole image"
    return None


def band_plan(
    steps: Sequence[Any],
    shape: Sequence[int],
    *,
    band_rows: int,
    has_alpha: bool = False,
    max_pixels: int | None = None,
) -> BandPlan:
    """For each band of ``band_rows`` rows of the chain's result, the rows of each step's input
    it needs, accumulated backwards through the chain.

    Raises the plan's errors (:func:`convcli.pipeline.plan`) for an impossible geometry.

    Examples
    --------
    Two 3×3 box filters need two rows of halo above and below each band:

    >>> from convcli.pipeline import parse_pipeline
    >>> steps = parse_pipeline("steps: [{filter: {kernel: box3}}, {filter: {kernel: box3}}]", path="p.yaml")
    >>> bands = band_plan(steps, (10, 10), band_rows=4)
    >>> [(band.start, band.stop, band.input_ranges()) for band in bands.bands]
    [(0, 4, [(0, 6)]), (4, 8, [(2, 10)]), (8, 10, [(6, 10)])]
    >>> bands.peak_rows
    14

    With ``wrap``, the first band also reads the last rows:

    >>> steps = parse_pipeline("steps: [{filter: {kernel: box3, boundary: wrap}}]", path="p.yaml")
    >>> band_plan(steps, (10, 10), band_rows=5).bands[0].input_ranges()
    [(0, 6), (9, 10)]
    """
    from ..pipeline import plan

    if isinstance(band_rows, bool) or not isinstance(band_rows, int) or band_rows < 1:
        raise ValueError(f"`band_rows` must be a whole number >= 1, got {band_rows!r}")
    planned = plan(steps, shape, has_alpha=has_alpha, max_pixels=max_pixels)
    height = planned.shape[0]
    reason = whole_reason(steps, planned)
    bands = []
    for start in range(0, height, band_rows):
        stop = min(start + band_rows, height)
        bands.append(Band(start, stop, None if reason else _need(steps, planned, len(steps) - 1, start, stop)))
    peak = int(shape[0]) if reason else max(band.need.held for band in bands)
    return BandPlan(planned, bands, reason, peak)


def _need(steps: Sequence[Any], planned: Any, position: int, start: int, stop: int) -> Need:
    """What output rows ``start … stop − 1`` of the step at ``position`` need, recursively."""
    import numpy as np

    from ..steps import KINDS

    step, stage = steps[position], planned.stages[position]
    rows = KINDS[step.op].rows(step, stage, start, stop)
    index = _row_index(rows.first, rows.stop, stage.in_shape[0], rows.fill)
    if rows.alpha_fill is not None:  # the alpha channel's rows too (when the chain's image has alpha)
        index = np.concatenate([index, _row_index(rows.first, rows.stop, stage.in_shape[0], rows.alpha_fill)])
    # A band of padding alone still reads the nearest real row: its dtype is the band's (the
    # plan's dtype is not always the run's).
    nearest = min(max(rows.first, 0), stage.in_shape[0] - 1)
    need = Need(position, start, stop, rows, _runs(index) or [(nearest, nearest + 1)])
    if position > 0:
        need.sources = [_need(steps, planned, position - 1, first, last) for first, last in need.ranges]
    return need


def _row_index(first: int, stop: int, height: int, fill: str | None) -> Any:
    """For each row ``first … stop − 1`` of an input of ``height`` rows, the input row it holds, or
    −1 where ``fill`` is a constant: the rows numpy.pad puts past the edges (as the whole image is
    padded; reflections repeat when the padding is wider than the image)."""
    import numpy as np

    from ..geometry import BOUNDARIES

    before, after = max(0, -first), max(0, stop - height)
    if not (before or after):
        return np.arange(first, stop)
    if fill is None:  # pragma: no cover - a kind's declaration and its band step disagree: a bug
        raise RuntimeError(f"rows {first}…{stop - 1} of {height} read past the edge with no boundary rule")
    if BOUNDARIES[fill] == "constant":
        inside = np.arange(min(max(first, 0), stop), max(min(stop, height), first))
        above, below = min(stop, 0) - first if first < 0 else 0, stop - max(first, height) if stop > height else 0
        return np.concatenate([np.full(above, -1), inside, np.full(below, -1)])
    padded = np.pad(np.arange(height), (before, after), mode=BOUNDARIES[fill])
    return padded[first + before: stop + before]


def _runs(index: Any) -> list[tuple[int, int]]:
    """The real rows an index map reads, as sorted ranges of consecutive rows."""
    import numpy as np

    rows = np.unique(index[index >= 0])
    if rows.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(rows) != 1)
    starts = [int(rows[0]), *(int(rows[b + 1]) for b in breaks)]
    stops = [*(int(rows[b]) + 1 for b in breaks), int(rows[-1]) + 1]
    return list(zip(starts, stops))


def run_banded(
    steps: Sequence[Any],
    read_rows: Callable[[int, int], Any],
    shape: Sequence[int],
    *,
    band_rows: int,
    has_alpha: bool = False,
    engine: str = "auto",
    allow_nonfinite: bool = False,
    max_pixels: int | None = None,
    bands: BandPlan | None = None,
) -> Iterator[tuple[int, Any]]:
    """Run ``steps`` on an input of ``shape`` band by band: ``(first output row, result band)``
    for each band of ``band_rows`` rows of the result, in order.

    ``read_rows(r0, r1)`` gives rows ``r0 … r1 − 1`` of the input (a band reader; several calls
    may ask for overlapping rows). The bands put together are exactly
    :func:`convcli.pipeline.run`'s result with the same ``has_alpha``, ``engine`` and
    ``allow_nonfinite`` (``engine`` ``auto`` is resolved once, for every band). A chain that cannot
    run in bands (:func:`whole_reason`) reads the whole input and runs whole. A step's result
    holding NaN or inf from finite values raises :class:`~convcli.errors.NonFiniteError` as the
    whole run does (naming the first step whose band overflowed; only the rows computed are
    checked: rows of a step's result that no band needs, as a stride skips them, are never
    computed). An input holding NaN or inf
    (``allow_nonfinite``) may send a band to another engine than the whole image (see
    :func:`convcli.ops.filter.filter2d`): run such an input whole. ``bands``, if given, is
    :func:`band_plan`'s plan for these same arguments, made already (it is not made again).

    Examples
    --------
    >>> import numpy as np
    >>> from convcli.pipeline import parse_pipeline, run
    >>> steps = parse_pipeline("steps: [{filter: {kernel: box3, boundary: reflect}}, {pool: {op: max, size: 2}}]",
    ...                        path="p.yaml")
    >>> image = np.arange(80.0).reshape(10, 8)
    >>> bands = list(run_banded(steps, lambda r0, r1: image[r0:r1], image.shape, band_rows=2))
    >>> [start for start, _ in bands]
    [0, 2, 4]
    >>> bool(np.array_equal(np.concatenate([band for _, band in bands]), run(steps, image)[0]))
    True
    """
    import numpy as np

    from ..ops.engines import resolve_engine

    engine = resolve_engine(engine)
    if bands is None:
        bands = band_plan(steps, shape, band_rows=band_rows, has_alpha=has_alpha, max_pixels=max_pixels)
    if bands.whole is not None:
        yield from _run_whole(steps, read_rows, shape, bands, has_alpha=has_alpha, engine=engine,
                              allow_nonfinite=allow_nonfinite, max_pixels=max_pixels)
        return
    for band in bands.bands:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # said once, by the check
            result = _compute(steps, band.need, read_rows, bands, has_alpha=has_alpha, engine=engine,
                              allow_nonfinite=allow_nonfinite)
        yield band.start, result


def _run_whole(steps, read_rows, shape, bands, *, has_alpha, engine, allow_nonfinite, max_pixels):
    """A chain that cannot run in bands: the whole input, the whole result, given in the bands."""
    from ..pipeline import run

    image = _checked_rows(read_rows, 0, int(shape[0]), shape)
    result = run(steps, image, has_alpha=has_alpha, engine=engine, allow_nonfinite=allow_nonfinite,
                 max_pixels=max_pixels)[0]
    for band in bands.bands:
        yield band.start, result[band.start:band.stop]


def _checked_rows(read_rows: Callable[[int, int], Any], first: int, stop: int, shape: Sequence[int]) -> Any:
    import numpy as np

    rows = np.asarray(read_rows(first, stop))
    expected = (stop - first, *(int(n) for n in shape[1:]))
    if tuple(rows.shape) != expected:
        raise ValueError(f"`read_rows({first}, {stop})` must give an array of shape {expected}, got {rows.shape}")
    return rows


def _compute(steps, need: Need, read_rows, bands: BandPlan, *, has_alpha: bool, engine: str,
             allow_nonfinite: bool) -> Any:
    """Output rows ``need.start … need.stop − 1`` of the step at ``need.position``."""
    import numpy as np

    from ..pipeline import _check_step
    from ..steps import KINDS
    from ..steps.base import Running

    planned = bands.plan
    stage = planned.stages[need.position]
    if need.position == 0:
        parts = [_checked_rows(read_rows, first, stop, stage.in_shape) for first, stop in need.ranges]
    else:
        parts = [_compute(steps, source, read_rows, bands, has_alpha=has_alpha, engine=engine,
                          allow_nonfinite=allow_nonfinite) for source in need.sources]
    rows = need.rows
    band = _gather(parts, need.ranges, rows, stage.in_shape, has_alpha=has_alpha)
    step = steps[need.position]
    running = Running(steps=steps, position=need.position, plan=planned, engine=engine, has_alpha=has_alpha,
                      image=None)
    result = KINDS[step.op].run(rows.step, band, running)
    result = result[need.start - rows.out_first: need.stop - rows.out_first]
    expected = (need.stop - need.start, *stage.out_shape[1:])
    if tuple(result.shape) != expected:  # pragma: no cover - a kind's declaration is wrong: a bug
        raise RuntimeError(f"{step.op} gave a band of {result.shape}, the band plan said {expected}")
    if not allow_nonfinite:
        _check_step(step, result)
    return np.ascontiguousarray(result)


def _gather(parts: list[Any], ranges: list[tuple[int, int]], rows: Any, in_shape: Sequence[int], *,
            has_alpha: bool) -> Any:
    """The rows ``rows.first … rows.stop − 1`` of a step's input, from the real rows computed
    (``parts``, one per range), the rows past the edges as the boundary rule fills them."""
    import numpy as np

    height = int(in_shape[0])
    if len(parts) == 1 and ranges[0] == (rows.first, rows.stop):
        return parts[0]  # no row past an edge: the rows as they are
    index = _row_index(rows.first, rows.stop, height, rows.fill)
    real = np.concatenate(parts) if len(parts) > 1 else parts[0]
    starts = np.array([first for first, _ in ranges])
    offsets = np.cumsum([0] + [stop - first for first, stop in ranges])[:-1]

    def positions(wanted: Any) -> Any:
        slot = np.searchsorted(starts, wanted, side="right") - 1
        return offsets[slot] + wanted - starts[slot]

    filled = index < 0
    dtype = np.dtype(parts[0].dtype)
    cval = rows.cval if rows.fill == "constant" else 0
    if filled.any() and not np.array_equal(np.array(cval).astype(dtype), cval):
        from ..dtypes import work_dtype

        dtype = np.dtype(work_dtype(dtype))  # a fill the input's dtype cannot hold: the whole image pads converted
    band = np.empty((rows.stop - rows.first, *(int(n) for n in in_shape[1:])), dtype=dtype)
    band[filled] = cval
    band[~filled] = real[positions(index[~filled])]
    if has_alpha and rows.alpha_fill is not None and rows.alpha_fill != rows.fill:
        alpha_index = _row_index(rows.first, rows.stop, height, rows.alpha_fill)
        band[..., -1] = real[positions(alpha_index), ..., -1]
    return band
