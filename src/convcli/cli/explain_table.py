"""``--explain`` in the terminal: an explanation's plain data (:meth:`convcli.explain.Explanation.to_dict`,
the same data ``--json`` reports) drawn as rich tables — the window with padding cells marked, the
kernel as applied with dilation gaps as ``·``, the products, then the sum and the result."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

#: What a dilation gap (a place between two taps the kernel skips) shows.
GAP = "·"


def number(value: Any) -> str:
    """A value as the table writes it: 6 significant digits, NaN/None as ``–``.

    Examples
    --------
    >>> number(0.1 + 0.2), number(-3.0), number(None), number(True)
    ('0.3', '-3', '–', '1')
    """
    if value is None:
        return "–"
    return f"{float(value) + 0.0:.6g}"  # + 0.0: −0 is written 0


def _spread(taps: Sequence[int]) -> list[int | None]:
    """Input coordinates of the taps with the skipped ones between them (None: a dilation gap).

    Examples
    --------
    >>> _spread([-2, 0, 2])
    [-2, None, 0, None, 2]
    """
    spread: list[int | None] = []
    for n, tap in enumerate(taps):
        if n:
            spread.extend([None] * (tap - taps[n - 1] - 1))
        spread.append(tap)
    return spread


def _grid(title: str, rows: Sequence[int], cols: Sequence[int], cells: Sequence[Sequence[Any]],
          padded: Sequence[Sequence[bool]] | None = None, mark: tuple[int, int] | None = None) -> Any:
    """A rich table of ``cells`` laid out at the taps' input coordinates, gaps as ``·``; padding
    cells dim italic (their value is the boundary's), ``mark`` (a winner) bold."""
    from rich.console import Group
    from rich.table import Table

    spread_rows, spread_cols = _spread(rows), _spread(cols)
    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("", style="dim", justify="right")
    for col in spread_cols:
        table.add_column(GAP if col is None else str(col), justify="right")
    index_r = {r: n for n, r in enumerate(rows)}
    index_c = {c: n for n, c in enumerate(cols)}
    for row in spread_rows:
        line = [GAP if row is None else str(row)]
        for col in spread_cols:
            if row is None or col is None:
                line.append(f"[dim]{GAP}[/dim]")
                continue
            a, b = index_r[row], index_c[col]
            text = number(cells[a][b])
            if padded is not None and padded[a][b]:
                text = f"[dim italic]{text}ᵖ[/dim italic]"
            elif mark is not None and (row, col) == tuple(mark):
                text = f"[bold]{text}[/bold]"
            line.append(text)
        table.add_row(*line)
    return Group(title, table)


def _weights(title: str, cells: Sequence[Sequence[Any]], rows: Sequence[int], cols: Sequence[int]) -> Any:
    """The kernel as applied, at the taps' spacing (the gaps of a dilation shown)."""
    return _grid(title, rows, cols, cells)


def _filter(data: dict, name: str = "") -> list[Any]:
    head = f"{name}: " if name else ""
    return [
        _grid(f"{head}input window (rows × cols; ᵖ = padding, the boundary's value)", data["rows"], data["cols"],
              data["window"], data["padded"]),
        _weights(f"{head}kernel as applied", data["weights"], data["rows"], data["cols"]),
        _grid(f"{head}products", data["rows"], data["cols"], data["products"], data["padded"]),
        f"{head}sum = {number(data['value'])}",
    ]


def _pool(data: dict) -> list[Any]:
    lines: list[Any] = [_grid(f"window ({data['op']}; ᵖ = padding, never taking part)", data["rows"], data["cols"],
                              data["window"], data["padded"], mark=data.get("winner"))]
    if data["winner"] is not None:
        lines.append(f"{data['op']} = {number(data['value'])} at input ({data['winner'][0]}, {data['winner'][1]})")
    elif data["op"] == "avg":
        lines.append(f"sum of the {sum(not p for row in data['padded'] for p in row)} real pixels / "
                     f"{data['count']} = {number(data['value'])}")
    else:
        lines.append(f"{data['op']} of the {data['count']} real pixels = {number(data['value'])}")
    return lines


def _sobel(data: dict) -> list[Any]:
    lines: list[Any] = []
    if data["blur"] is not None:
        lines.append(f"(on the image blurred with gaussian:sigma={data['blur']:g})")
    for name in ("x", "y"):
        if data[name] is not None:
            lines.extend(_filter(data[name], f"g{name}"))
    gx, gy = (_factor(data[name]["value"]) if data[name] else None for name in ("x", "y"))
    formula = {"magnitude": f"√(gx² + gy²) = √({gx}² + {gy}²)", "direction": f"atan2(gy, gx) = atan2({gy}, {gx})",
               "x": "gx", "y": "gy"}[data["component"]]
    lines.append(f"{data['component']} = {formula} = {number(data['combined'])}")
    if data["threshold"] is not None:
        lines.append(f"|{number(data['combined'])}| > {number(data['threshold'])}: {bool(data['value'])}")
    return lines


def _factor(value: float) -> str:
    """A number inside a formula: negative ones in parentheses, so that (−1)² reads as meant."""
    return f"({number(value)})" if value < 0 else number(value)


def _rows_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Any:
    from rich.console import Group
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(cell if isinstance(cell, str) else number(cell) for cell in row))
    return Group(title, table)


def _upsample(data: dict) -> list[Any]:
    rows = [(f"({r}, {c})", v, w, p) for (r, c), v, w, p in
            zip(data["sources"], data["values"], data["weights"], data["products"])]
    if not rows:
        return [f"{data['method']}: no input pixel lands here (off its block's corner): 0"]
    return [_rows_table(f"{data['method']}: input pixels", ("input (row, col)", "value", "weight", "product"), rows),
            f"sum = {number(data['value'])}"]


def _layer_tail(data: dict, what: str) -> list[str]:
    lines = [f"{what} = {number(data['sum'])}"]
    total = data["sum"]
    if data["bias"] is not None:
        total += data["bias"]
        lines.append(f"+ bias {number(data['bias'])} = {number(total)}")
    if data["activation"] != "linear":
        lines.append(f"{data['activation']}({number(total)}) = {number(data['value'])}")
    return lines


def _transpose(data: dict) -> list[Any]:
    rows = [(f"({c['row']}, {c['col']}, {c['channel']})", f"({c['tap_row']}, {c['tap_col']})", c["pixel"], c["weight"],
             c["product"]) for c in data["contributions"]]
    head = (_rows_table("stamps landing here (input pixel · kernel tap, not flipped)",
                        ("input (row, col, ch)", "tap", "pixel", "weight", "product"), rows)
            if rows else "no input pixel stamps here (between stamps, or output padding)")
    return [head, *_layer_tail(data, "sum of the stamps")]


def _conv2d(data: dict) -> list[Any]:
    lines: list[Any] = []
    for channel, part in zip(data["in_channels"], data["channels"]):
        lines.extend(_filter(dict(part, rows=part["rows"], cols=part["cols"]), f"input channel {channel}"))
    return [*lines, *_layer_tail(data, "Σ over the input channels")]


def _point(data: dict) -> list[Any]:
    inputs = ", ".join(number(v) for v in data["inputs"])
    lines = [f"input pixel: [{inputs}]"]
    if data["weights"] is not None:
        lines.append(" + ".join(f"{w:g}·{number(v)}" for w, v in zip(data["weights"], data["inputs"])))
    options = ", ".join(f"{name}={value}" for name, value in data["options"].items() if value is not None)
    lines.append(f"{data['op']}({options}) → {number(data['value'])}")
    return lines


DRAW = {"filter": _filter, "pool": _pool, "sobel": _sobel, "upsample": _upsample, "transpose": _transpose,
        "conv2d": _conv2d, "point": _point}


def render(report: dict, *, color: bool = False) -> str:
    """The ``explain`` field of a report entry (see :func:`convcli.cli.chain.run_chains`) as text."""
    from rich.console import Console, Group

    parts: list[Any] = []
    row, col = report["position"]
    for data in report["channels"]:
        title = f"{report['label']}: output[{row}, {col}" + (f", {data['channel']}]" if report["channeled"] else "]")
        parts.append(f"[bold]{title}[/bold]")
        parts.extend(DRAW[data["kind"]](data))
        parts.append(f"→ output[{row}, {col}" + (f", {data['channel']}" if report["channeled"] else "")
                     + f"] = {number(data['value'])}")
        parts.append("")
    buffer = io.StringIO()
    style = {"force_terminal": color, "no_color": not color, "color_system": "standard" if color else None}
    Console(file=buffer, width=10_000, **style).print(Group(*parts))
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip("\n").splitlines())
