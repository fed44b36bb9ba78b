"""The JSON report (README, Reports and exit codes) and the human summary, built from plain data.

Nothing here reads images or prints: the CLI collects one entry per output file with
:func:`file_entry`, wraps them with :func:`build_report`, and writes :func:`to_json` or
:func:`summary_lines` where it wants them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from ._version import __version__
from .errors import shown_path
from .geometry import AxisGeometry, ReceptiveField
from .vocabulary import GRAY_WEIGHTS, UP_TO_DATE

__all__ = ["carry_field", "start_text", "window_step", "filter_step", "pool_step", "gray_step", "file_entry",
           "build_report", "to_json", "summary_lines", "layer_table", "shape_text", "step_names"]


def shape_text(shape: Sequence[int]) -> str:
    """``(512, 512, 3)`` → ``'512×512×3'``.

    Examples
    --------
    >>> shape_text((512, 512, 3))
    '512×512×3'
    """
    return "×".join(str(int(n)) if float(n).is_integer() else f"{n:g}" for n in shape)


def carry_field(
    previous: dict | None,
    *,
    taps: Sequence[int] = (1, 1),
    stride: Sequence[int] = (1, 1),
    first: Sequence[int] = (0, 0),
    factor: Sequence[int] = (1, 1),
) -> dict[str, list]:
    """A step's ``receptive_field``, ``jump`` and ``receptive_field_start`` (rows, cols), from those
    of the step before (``previous``; None for a chain's first step: field 1, jump 1, start 0) and
    the step's (rows, cols) ``taps``, ``stride``, ``first`` and ``factor``, as
    :class:`~convcli.geometry.ReceptiveField` defines them. The defaults keep every pixel where it is.

    Examples
    --------
    >>> carry_field(None, taps=(3, 3), first=(-1, -1))
    {'receptive_field': [3, 3], 'jump': [1, 1], 'receptive_field_start': [-1, -1]}
    >>> carry_field({"receptive_field": [3, 3], "jump": [1, 1], "receptive_field_start": [-1, -1]}, factor=(2, 2))
    {'receptive_field': [3, 3], 'jump': [0.5, 0.5], 'receptive_field_start': [-1, -1]}
    """
    fields = []
    for axis in (0, 1):
        before = (ReceptiveField() if previous is None else
                  ReceptiveField(previous["receptive_field"][axis], previous["jump"][axis],
                                 previous.get("receptive_field_start", (0, 0))[axis]))
        fields.append(before.through(taps=taps[axis], stride=stride[axis], first=first[axis], factor=factor[axis]))
    return {"receptive_field": [f.size for f in fields], "jump": [f.jump for f in fields],
            "receptive_field_start": [f.start for f in fields]}


def start_text(start: Sequence[float]) -> str:
    """Where a receptive field starts, ``[-1, 0.5]`` → ``'(−1, 0.5)'`` (a minus sign, as formulas write it).

    Examples
    --------
    >>> start_text([-1, -0.5])
    '(−1, −0.5)'
    """
    return "(" + ", ".join(f"{float(n):g}".replace("-", "−") for n in start) + ")"


def window_step(
    *,
    op: str,
    rows: AxisGeometry,
    cols: AxisGeometry,
    in_shape: Sequence[int],
    out_shape: Sequence[int],
    previous: dict | None = None,
    **fields: Any,
) -> dict:
    """A sliding-window step (filter, pool) of a report: its geometry, shapes, receptive field, jump
    and where output 0's field starts (:func:`carry_field`).

    ``fields`` (kernel, pool op, boundary, ...) come right after ``op``. ``previous`` is the step
    before in a chain; a first step starts from a receptive field of 1, a jump of 1 and a start of 0.

    Examples
    --------
    >>> from convcli.geometry import pool_geometry
    >>> r, c = pool_geometry((8, 8), 2)
    >>> step = window_step(op="pool", rows=r, cols=c, in_shape=(8, 8), out_shape=(4, 4), pool="max")
    >>> step["pool"], step["padding"], step["receptive_field"], step["jump"], step["receptive_field_start"]
    ('max', [[0, 0], [0, 0]], [2, 2], [2, 2], [0, 0])
    """
    # Output 0's window starts `before` pixels into the padding; dilation spreads the taps, not the first.
    field = carry_field(previous, taps=(rows.extent, cols.extent), stride=(rows.stride, cols.stride),
                        first=(-rows.before, -cols.before))
    step: dict[str, Any] = {"op": op, **fields}
    step.update({
        "mode": rows.mode,
        "stride": [rows.stride, cols.stride],
        "dilation": [rows.dilation, cols.dilation],
        "padding": [[rows.before, rows.after], [cols.before, cols.after]],
        "in_shape": [int(n) for n in in_shape],
        "out_shape": [int(n) for n in out_shape],
        **field,
        "arithmetic": {"rows": rows.formula(), "cols": cols.formula()},
    })
    extents = [f"{name} {formula}" for name, formula in (("rows", rows.extent_formula()), ("cols", cols.extent_formula())) if formula]
    if extents:
        step["arithmetic"]["extent"] = "; ".join(extents)
    return step


def filter_step(
    *,
    kernel: str | list[str],
    kernel_shape: Sequence[int],
    rows: AxisGeometry,
    cols: AxisGeometry,
    boundary: str,
    correlate: bool,
    in_shape: Sequence[int],
    out_shape: Sequence[int],
    cval: float | None = None,
    previous: dict | None = None,
    bank: Sequence[tuple[str, Sequence[int], AxisGeometry, AxisGeometry]] | None = None,
) -> dict:
    """One filter step of a report (a kernel bank lists its kernels under ``kernels``).

    ``bank`` holds each kernel's (name, shape, rows, cols) geometry. When its kernels differ in
    shape, no single kernel_shape, padding or arithmetic describes the step: each kernel gets its
    own entry under ``bank`` (kernel, kernel_shape, padding, receptive_field, receptive_field_start,
    arithmetic), and the step's field is the union of theirs (what the next step of a chain builds
    on): from the earliest ``receptive_field_start`` to the latest end, the largest field when the
    windows share a centre or a start.
    A bank of one shape reports as one kernel does (``rows``, ``cols``, ``kernel_shape``).

    Examples
    --------
    >>> from convcli.geometry import conv_geometry
    >>> r, c = conv_geometry((8, 8), (3, 3), mode="valid")
    >>> step = filter_step(kernel="box3", kernel_shape=(3, 3), rows=r, cols=c, boundary="zero",
    ...                    correlate=False, in_shape=(8, 8), out_shape=(6, 6))
    >>> step["padding"], step["receptive_field"], step["jump"]
    ([[0, 0], [0, 0]], [3, 3], [1, 1])
    >>> bank = [(name, shape, *conv_geometry((8, 8), shape)) for name, shape in (("box3", (3, 3)), ("box5", (5, 5)))]
    >>> step = filter_step(kernel=["box3", "box5"], kernel_shape=(3, 3), rows=bank[0][2], cols=bank[0][3],
    ...                    boundary="zero", correlate=False, in_shape=(8, 8), out_shape=(8, 8, 2), bank=bank)
    >>> [(k["kernel"], k["kernel_shape"], k["padding"]) for k in step["bank"]], step["receptive_field"]
    ([('box3', [3, 3], [[1, 1], [1, 1]]), ('box5', [5, 5], [[2, 2], [2, 2]])], [5, 5])
    """
    fields: dict[str, Any] = {
        ("kernels" if isinstance(kernel, list) else "kernel"): kernel,
        "kernel_shape": [int(n) for n in kernel_shape],
        "boundary": boundary,
        "convolution": "correlate" if correlate else "convolve",
    }
    if boundary == "constant" and cval is not None:
        fields["cval"] = cval
    mixed = bank is not None and len({tuple(int(n) for n in shape) for _, shape, _, _ in bank}) > 1
    if not mixed:
        return window_step(op="filter", rows=rows, cols=cols, in_shape=in_shape, out_shape=out_shape,
                           previous=previous, **fields)
    del fields["kernel_shape"]
    step = window_step(op="filter", rows=rows, cols=cols, in_shape=in_shape, out_shape=out_shape,
                       previous=previous, **fields)
    entries = []
    for name, shape, kernel_rows, kernel_cols in bank:
        own = window_step(op="filter", rows=kernel_rows, cols=kernel_cols, in_shape=in_shape,
                          out_shape=out_shape, previous=previous)
        entries.append({"kernel": name, "kernel_shape": [int(n) for n in shape], "padding": own["padding"],
                        "receptive_field": own["receptive_field"],
                        "receptive_field_start": own["receptive_field_start"], "arithmetic": own["arithmetic"]})
    del step["padding"], step["arithmetic"]
    # The step's field is the union of its kernels' windows: from the earliest start to the latest end.
    starts = [min(e["receptive_field_start"][axis] for e in entries) for axis in (0, 1)]
    ends = [max(e["receptive_field_start"][axis] + e["receptive_field"][axis] for e in entries) for axis in (0, 1)]
    step["receptive_field"] = [ends[axis] - starts[axis] for axis in (0, 1)]
    step["receptive_field_start"] = starts
    step["bank"] = entries
    return step


def pool_step(
    *, pool: str, rows: AxisGeometry, cols: AxisGeometry, in_shape: Sequence[int], out_shape: Sequence[int],
    previous: dict | None = None, count_include_pad: bool = False,
) -> dict:
    """One pooling step of a report (``count_include_pad`` appears only when it is on).

    Examples
    --------
    >>> from convcli.geometry import pool_geometry
    >>> r, c = pool_geometry((7, 7), 3, stride=2, ceil=True)
    >>> pool_step(pool="max", rows=r, cols=c, in_shape=(7, 7), out_shape=(3, 3))["ceil"]
    True
    """
    fields: dict[str, Any] = {"pool": pool, "size": [rows.kernel, cols.kernel], "ceil": rows.ceil}
    if count_include_pad:
        fields["count_include_pad"] = True
    return window_step(op="pool", rows=rows, cols=cols, in_shape=in_shape, out_shape=out_shape,
                       previous=previous, **fields)


def gray_step(*, in_shape: Sequence[int], out_shape: Sequence[int]) -> dict:
    """The ``--gray`` step: RGB(A) to luminance (alpha kept).

    Examples
    --------
    >>> gray_step(in_shape=(4, 4, 3), out_shape=(4, 4))["op"]
    'gray'
    """
    return {
        "op": "gray",
        "weights": list(GRAY_WEIGHTS),
        "in_shape": [int(n) for n in in_shape],
        "out_shape": [int(n) for n in out_shape],
    }


def file_entry(
    *,
    input: str,
    output: str | None,
    status: str = "ok",
    input_shape: Sequence[int] | None = None,
    input_dtype: str | None = None,
    output_shape: Sequence[int] | None = None,
    output_dtype: str | None = None,
    steps: Iterable[dict] = (),
    seconds: float | None = None,
    error: str | None = None,
    **extra: Any,
) -> dict:
    """One ``files`` entry of the report (one per output file; a failed input gets one too).

    Examples
    --------
    >>> file_entry(input="a.png", output=None, status="error", error="a.png: not an image")["status"]
    'error'
    """
    entry: dict[str, Any] = {"input": input, "output": output, "status": status}
    if input_shape is not None:
        entry["input_shape"] = [int(n) for n in input_shape]
        entry["input_dtype"] = input_dtype
    if output_shape is not None:
        entry["output_shape"] = [int(n) for n in output_shape]
        entry["output_dtype"] = output_dtype
    entry["steps"] = list(steps)
    entry.update(extra)
    if seconds is not None:
        entry["seconds"] = round(seconds, 6)
    if error is not None:
        entry["error"] = error
    return entry


def build_report(command: str, entries: Sequence[dict], *, counts: tuple[int, int, int, int] | None = None,
                 **extra: Any) -> dict:
    """Wrap file entries with the version, the command and the counts.

    ``ok`` and ``failed`` count inputs (an input fails when any of its outputs did), ``skipped``
    the inputs never started (``--fail-fast`` stopped the run), ``up_to_date`` the inputs whose
    outputs were up to date (``update``: neither read nor written), ``outputs`` the output files of
    the entries (written, or planned in a dry run). The batch loop (cli/batch.py) gives ``counts`` (done, failed,
    skipped, up to date) as it counted them; without them, the entries of one input are taken to be
    consecutive and to share its name, and nothing was skipped.

    Examples
    --------
    >>> r = build_report("filter", [{"input": "a.png", "status": "ok", "output": "a-x.png"},
    ...                             {"input": "a.png", "status": "ok", "output": "a-y.png"},
    ...                             {"input": "b.png", "status": "error", "output": None},
    ...                             {"input": "c.png", "status": "up-to-date", "output": "c-x.png"}])
    >>> r["ok"], r["failed"], r["skipped"], r["up_to_date"], r["outputs"]
    (1, 1, 0, 1, 2)
    """
    report: dict[str, Any] = {"convcli": __version__, "command": command, "files": list(entries)}
    report.update(extra)
    if counts is None:
        groups: list[list[dict]] = []
        for entry in entries:
            if not groups or groups[-1][0].get("input") != entry.get("input"):
                groups.append([])
            groups[-1].append(entry)
        current = sum(1 for group in groups if all(e.get("status") == UP_TO_DATE for e in group))
        failed = sum(1 for group in groups if any(e.get("status") not in ("ok", UP_TO_DATE) for e in group))
        counts = (len(groups) - failed - current, failed, 0, current)
    report["ok"], report["failed"], report["skipped"], report["up_to_date"] = counts
    report["outputs"] = sum(1 for e in entries if e.get("status") == "ok" and e.get("output"))
    return report


def _finite(value: Any) -> Any:
    # JSON has no NaN or Infinity: a report must stay parseable by every JSON reader.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _canonical(value: Any) -> Any:
    """``value`` as a hashable key, equal for values ``json.dumps(..., sort_keys=True)`` writes the
    same: mappings in key order, lists and tuples alike, 1, 1.0 and True apart (without importing
    json for every summary).

    Examples
    --------
    >>> _canonical({"b": [1, (2,)], "a": True}) == _canonical({"a": True, "b": ((1,), [2])})
    False
    >>> _canonical({"b": [1, (2,)], "a": True}) == _canonical({"a": True, "b": (1, [2])})
    True
    >>> _canonical([True]) == _canonical([1]), _canonical([1]) == _canonical([1.0])
    (False, False)
    """
    if isinstance(value, dict):
        return ("{", tuple((str(key), _canonical(item)) for key, item in sorted(value.items(), key=lambda kv: str(kv[0]))))
    if isinstance(value, (list, tuple)):
        return ("[", tuple(_canonical(item) for item in value))
    return (type(value).__name__, repr(value))  # 1, 1.0 and True apart; NaN equal to itself


def to_json(report: dict) -> str:
    """The report as JSON text (UTF-8 friendly, no NaN), ending in a newline.

    Examples
    --------
    >>> to_json({"a": float("nan")})
    '{"a": null}\\n'
    """
    import json  # lazy: only a run that writes its report as JSON needs it

    return json.dumps(_finite(report), ensure_ascii=False, allow_nan=False) + "\n"


def summary_lines(
    report: dict, *, verbose: bool = False, dry_run: bool = False, elapsed: float | None = None
) -> list[str]:
    """The short human summary: each distinct computation once, with its arithmetic, then totals
    (and the time taken, when ``elapsed`` is given).

    Files whose shapes and steps repeat an earlier file's are not spelled out again unless
    ``verbose``; failures are listed by the CLI as they happen.

    Examples
    --------
    >>> from convcli.geometry import conv_geometry
    >>> r, c = conv_geometry((512, 512), (4, 4), mode="valid", stride=2)
    >>> step = filter_step(kernel="box:4", kernel_shape=(4, 4), rows=r, cols=c, boundary="zero",
    ...                    correlate=False, in_shape=(512, 512), out_shape=(255, 255))
    >>> e = file_entry(input="a.png", output="b.png", input_shape=(512, 512), input_dtype="uint8",
    ...                output_shape=(255, 255), output_dtype="uint8", steps=[step], scale="clip")
    >>> print("\\n".join(summary_lines(build_report("filter", [e]))))
    a.png 512×512 uint8 → b.png 255×255 uint8
      filter box:4 4×4, convolve, valid, boundary zero, stride 2×2 → 255×255
        rows: 512 → ⌊(512 − 4)/2⌋ + 1 = 255
        cols: 512 → ⌊(512 − 4)/2⌋ + 1 = 255
    1 done, 0 failed
    """
    lines: list[str] = []
    seen: set[str] = set()
    shown = 0
    for entry in report.get("files", []):
        if entry.get("status") != "ok":
            continue
        signature = _canonical([entry.get("input_shape"), entry.get("steps")])
        if not verbose and signature in seen:
            continue
        seen.add(signature)
        shown += 1
        if not verbose and shown > 5:
            continue
        output = f"{shown_path(entry['output'])} " if entry.get("output") else ""
        lines.append(
            f"{shown_path(entry['input'])} {shape_text(entry['input_shape'])} {entry['input_dtype']} → "
            f"{output}{shape_text(entry['output_shape'])} {entry['output_dtype']}"
        )
        lines.extend(f"  note: {note}" for note in entry.get("notes", []))
        for step in entry.get("steps", []):
            lines.extend("  " + line for line in _step_lines(step))
            if report.get("command") == "pipeline" and "receptive_field" in step:
                lines.append(f"    receptive field {shape_text(step['receptive_field'])}, "
                             f"jump {shape_text(step['jump'])}, from {start_text(step['receptive_field_start'])}")
            if "zero_border" in step and str(entry.get("output_dtype")).startswith("uint"):  # an image
                lines.append("    " + _border_line(step["zero_border"], report.get("command")))
        if entry.get("clipped"):
            lines.append("  " + _clipping_line(entry, report.get("command")))
        if "bands" in entry:
            lines.append("  " + _bands_line(entry))
    if not verbose and shown > 5:
        lines.append(f"… and {shown - 5} more kinds of computation (-v shows all)")
    ok, failed, skipped = report.get("ok", 0), report.get("failed", 0), report.get("skipped", 0)
    outputs = report.get("outputs", ok)
    tail = f"{ok} done"
    if outputs and outputs != ok:  # more files than inputs: sheets, save:, --split, one per kernel
        tail += f" ({outputs} files {'planned' if dry_run else 'written'})"
    tail += f", {failed} failed"
    if skipped:
        tail += f", {skipped} not started (`fail_fast`)"
    if report.get("up_to_date"):
        tail += f", {report['up_to_date']} {UP_TO_DATE.replace('-', ' ')}"
    if elapsed is not None:
        tail += f" in {elapsed:.2f} s"
    if dry_run:
        tail += " (dry run: nothing written)"
    lines.append(tail)
    return lines


def step_names(steps: Sequence[dict]) -> list[str]:
    """The name of each step of a chain, from its report records: a model layer's own name, else
    the kind numbered among the steps of that kind (``conv2d_1``, ``conv2d_2``), as Keras numbers
    the layers it names.

    Examples
    --------
    >>> step_names([{"op": "conv2d"}, {"op": "pool"}, {"op": "conv2d", "layer": "encode_conv"}, {"op": "conv2d"}])
    ['conv2d_1', 'pool_1', 'encode_conv', 'conv2d_2']
    """
    counts: dict[str, int] = {}
    names = []
    for step in steps:
        if "layer" in step:
            names.append(step["layer"])
            continue
        counts[step["op"]] = counts.get(step["op"], 0) + 1
        names.append(f"{step['op']}_{counts[step['op']]}")
    return names


def layer_table(steps: Sequence[dict], *, input_shape: Sequence[int]) -> list[str]:
    """A table of a chain's steps as Keras's ``model.summary()`` gives it (layer and type, output
    shape with ``None`` for the batch, parameters), with each step's receptive field, jump and where
    output (0, 0)'s field starts in the input (``RF start``), and the total of parameters. A grey
    image's shape has one channel, as a Keras tensor has.

    Examples
    --------
    >>> from convcli.pipeline import parse_step, plan
    >>> steps = [parse_step("conv2d", {"filters": 16, "kernel_size": 5, "strides": 5})]
    >>> print("\\n".join(layer_table(plan(steps, (1080, 1920, 3)).steps, input_shape=(1080, 1920, 3))))
    Layer (type)          Output Shape            Param #  Receptive field  Jump  RF start
    input                 (None, 1080, 1920, 3)         0  1×1              1×1   (0, 0)
    conv2d_1 (conv2d)     (None, 216, 384, 16)      1,200  5×5              5×5   (0, 0)
    Total params: 1,200
    """
    def shape(dims: Sequence[int]) -> str:
        dims = [int(n) for n in dims]
        return "(None, " + ", ".join(map(str, dims + [1] * (len(dims) == 2))) + ")"

    rows = [("input", shape(input_shape), "0", "1×1", "1×1", start_text((0, 0)))]
    for step, named in zip(steps, step_names(steps)):
        op = step["op"]
        name = f"{named} ({step.get('layer_class', op)})"
        # Keras's global pooling drops the rows and columns (keepdims=False): (None, C).
        out = step["out_shape"][2:] if op == "global_pool" else step["out_shape"]
        rows.append((name, "(None, " + ", ".join(map(str, out)) + ")" if op == "global_pool" else shape(out),
                     f"{step.get('params', 0):,}",
                     shape_text(step["receptive_field"]), shape_text(step["jump"]),
                     start_text(step["receptive_field_start"])))
    header = ("Layer (type)", "Output Shape", "Param #", "Receptive field", "Jump", "RF start")
    widths = [max(len(row[i]) for row in [header, *rows]) + 2 for i in range(5)]

    def line(row: Sequence[str]) -> str:
        return (f"{row[0]:<{widths[0]}}{row[1]:<{widths[1]}}{row[2]:>{widths[2] - 2}}  "
                f"{row[3]:<{widths[3]}}{row[4]:<{widths[4]}}{row[5]}")

    lines = [line(header), *(line(row) for row in rows)]
    lines.append(f"Total params: {sum(step.get('params', 0) for step in steps):,}")
    return lines


def _border_line(change: dict, command: str | None) -> str:
    """The zero boundary nobody asked for, when it visibly framed the image (see
    convcli.steps.conv.zero_border_change).

    Examples
    --------
    >>> _border_line({"mean": 42.5, "max": 105, "outputs": 2044}, "filter")  # doctest: +NORMALIZE_WHITESPACE
    'border: zero padding (the default boundary) moved the 2044 border outputs by 42.5 on average
    (up to 105), framing the image; `boundary: reflect` (or edge) continues the image instead'
    """
    fix = "`boundary: reflect` (or edge)" + (" on this step" if command == "pipeline" else "")
    return (f"border: zero padding (the default boundary) moved the {change['outputs']} border outputs by "
            f"{change['mean']:.3g} on average (up to {change['max']:.3g}), framing the image; {fix} "
            "continues the image instead")


def _bands_line(entry: dict) -> str:
    """How a streamed input was computed: its bands and the memory they were planned to need.

    Examples
    --------
    >>> _bands_line({"bands": {"rows": 80, "count": 75}, "memory": 29561408})
    'streamed: 75 bands of 80 rows, planned to hold at most 28.2 MiB'
    >>> _bands_line({"bands": {"rows": 16, "count": 1}, "memory": 1536 << 20})
    'streamed: 1 band of 16 rows, planned to hold at most 1.5 GiB'
    """
    from .images.limits import size_text

    bands = entry["bands"]
    plural = "s" if bands["count"] != 1 else ""
    return (f"streamed: {bands['count']} band{plural} of {bands['rows']} rows, planned to hold at most "
            f"{size_text(entry['memory'])}")


def _clipping_line(entry: dict, command: str | None) -> str:
    """What was clipped, and what would have kept it: for values below 0, a scale that keeps signs;
    for values above the top, one that fits the range, a normalised kernel or a wider dtype.

    Examples
    --------
    >>> _clipping_line({"scale": "clip", "output_dtype": "uint8", "clipped": 3, "clipped_below": 0,
    ...                 "clipped_above": 3}, "filter")  # doctest: +NORMALIZE_WHITESPACE
    'scale clip: 3 values were outside the uint8 range 0..255 and were clipped (3 above 255);
    `scale: normalize` fits the range into 0..255, `normalize` divides the kernel by its sum,
    `dtype: uint16` (PNG, TIFF) holds up to 65535, and .npy keeps the raw values'
    """
    scale, dtype = entry.get("scale"), entry["output_dtype"]
    top = {"uint8": 255, "uint16": 65535}.get(dtype)
    below, above = entry.get("clipped_below"), entry.get("clipped_above")
    line = f"scale {scale}: {entry['clipped']} values were outside the {dtype} range"
    if top is None or below is None or above is None:  # a report made before the counts were split
        return line + " and were clipped"
    line += f" 0..{top} and were clipped ({', '.join(part for part in (below and f'{below} below 0', above and f'{above} above {top}') if part)})"
    if scale == "clip" and not above:
        fixes = ["`scale: abs` (the magnitude) or offset (0 at mid-grey) keeps signed responses"]
    else:
        fixes = [f"`scale: normalize` fits the range into 0..{top}"]
        if command == "filter" and not below:
            fixes.append("`normalize` divides the kernel by its sum")
        if dtype == "uint8" and not below:
            fixes.append("`dtype: uint16` (PNG, TIFF) holds up to 65535")
    fixes.append(".npy keeps the raw values")
    return line + "; " + ", ".join(fixes[:-1]) + (", and " if len(fixes) > 2 else " and ") + fixes[-1]


def _step_lines(step: dict) -> list[str]:
    from .steps import kind_of_record

    head = kind_of_record(step).headline(step)
    lines = [f"{head} → {shape_text(step['out_shape'])}" if "out_shape" in step else head]
    lines.extend(_arithmetic_lines(step.get("arithmetic", {}), "  "))
    for entry in step.get("bank", []):  # a bank of kernels of different shapes: each its own working
        lines.append(f"  {entry['kernel']} {shape_text(entry['kernel_shape'])}")
        lines.extend(_arithmetic_lines(entry["arithmetic"], "    "))
    return lines


def window_details(step: dict) -> str:
    """What a windowed step's summary line says after its name: mode or explicit padding,
    boundary, stride, dilation and the options that change how windows are read.

    Examples
    --------
    >>> window_details({"mode": "same", "boundary": "zero", "stride": [2, 2], "dilation": [1, 1]})
    ', same, boundary zero, stride 2×2'
    """
    mode = step["mode"]
    if mode == "explicit":
        (top, bottom), (left, right) = step["padding"] if "padding" in step else step["bank"][0]["padding"]
        mode = f"padding {top},{bottom},{left},{right}"
    text = f", {mode}"
    if "boundary" in step:
        text += f", boundary {step['boundary']}"
        if step.get("cval") is not None:
            text += f" {step['cval']:g}"
    if step["stride"] != [1, 1]:
        text += f", stride {shape_text(step['stride'])}"
    if step["dilation"] != [1, 1]:
        text += f", dilation {shape_text(step['dilation'])}"
    if step.get("ceil"):
        text += ", ceil"
    if step.get("count_include_pad"):
        text += ", padding counted"
    if step.get("blur"):
        text += f", blur σ={step['blur']:g}"
    if step.get("threshold") is not None:
        text += f", threshold {step['threshold']:g}"
    return text


def _arithmetic_lines(arithmetic: dict, indent: str) -> list[str]:
    lines = [f"{indent}{arithmetic['extent']}"] if "extent" in arithmetic else []
    lines.extend(f"{indent}{axis}: {arithmetic[axis]}" for axis in ("rows", "cols") if axis in arithmetic)
    return lines
