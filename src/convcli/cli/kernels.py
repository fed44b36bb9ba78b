"""``convcli kernels``: list the kernels convcli can find, or show one."""

from __future__ import annotations

import io
import sys
from typing import Any

import click

from .faults import echo_data, say

from .options import kernel_dir_option
from .types import KERNEL, search_path


# The subcommand is optional (no subcommand lists): said in the usage line on every click version
# (click 8.5 says so by itself, older ones print COMMAND).
@click.group("kernels", invoke_without_command=True, subcommand_metavar="[COMMAND] [ARGS]...")
@click.pass_context
def kernels_command(ctx: click.Context) -> None:
    """List the kernel library (default) or show one kernel."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_command)


@kernels_command.command("list")
@kernel_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per kernel, as a list.")
def list_command(kernel_dirs: tuple[str, ...] = (), as_json: bool = False) -> None:
    """Table of every named kernel: name, size, sum, separable, description."""
    from ..errors import KernelError
    from ..kernels import survey_kernels
    from ..kernels.display import sum_text

    try:
        found, problems = survey_kernels(search_path=search_path(click.get_current_context(), kernel_dirs))
    except KernelError as error:  # a --kernel-dir that is no folder is a usage error, as for -k
        failure = click.ClickException(str(error))
        failure.exit_code = 2
        raise failure from None
    for problem in problems:  # a bad file does not hide the others
        say(f"convcli: warning: {problem}")
    if as_json:
        import json  # lazy: only --json

        echo_data(json.dumps([
            {"name": k.name, "shape": list(k.shape), "sum": k.total, "separable": k.separable,
             "description": k.description, "source": str(k.source)} for k in found
        ], indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("name", "size", "sum", "separable", "description"):
        table.add_column(column, justify="right" if column == "sum" else "left")
    for k in found:
        table.add_row(k.name, f"{k.shape[0]}×{k.shape[1]}", sum_text(k.matrix), "yes" if k.separable else "no",
                      k.description)
    color = (click.get_current_context().obj or {}).get("color")
    if color is None:  # not run through the group
        color = sys.stdout.isatty()
    # no_color is explicit: rich reads NO_COLOR itself and would override --color always.
    style = {"force_terminal": color, "no_color": not color, "color_system": "standard" if color else None}
    if sys.stdout.isatty():
        Console(**style).print(table)
        return
    # A pipe gets one line per kernel, never wrapped, without trailing blanks.
    buffer = io.StringIO()
    Console(file=buffer, width=10_000, **style).print(table)
    echo_data("\n".join(line.rstrip() for line in buffer.getvalue().splitlines()), color=color)


@kernels_command.command("show")
@kernel_dir_option
@click.option("--correlate", is_flag=True,
              help="Show the kernel as correlation applies it (as stored), not rotated 180° as convolution does.")
@click.option("--png", "png", metavar="FILE", default=None,
              help="Also draw the kernel as applied as a grid of coloured cells with their values (PNG).")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object: the matrix as stored and as applied, with exact fractions as strings.")
@click.argument("kernel", type=KERNEL)
def show_command(kernel: Any, kernel_dirs: tuple[str, ...] = (), correlate: bool = False, png: str | None = None,
                 as_json: bool = False) -> None:
    """Show one KERNEL (any spec -k takes) as stored and as applied.

    Entries that are simple fractions are written exactly (a common denominator D as "1/D ×" before
    whole numbers: box3 is 1/9 × ones); a sum that is zero up to rounding is 0. Under convolution (the
    default) the kernel meets the image rotated 180°; with --correlate as stored. A grid wider than the
    terminal is shown in blocks of columns.
    """
    import shutil

    import numpy as np

    from ..kernels.display import applied_matrix, grid_lines, matrix_cells, matrix_fractions, sum_text

    applied = applied_matrix(kernel.matrix, correlate=correlate)
    how = "correlation: as stored" if correlate else "convolution: rotated 180°"
    if png is not None:
        _write_picture(png, applied)
    if as_json:
        import json  # lazy: only --json

        def fractions(matrix: Any) -> list[list[str | None]]:
            exact = matrix_fractions(matrix)
            return [[None if exact is None else str(f) for f in row] for row in (exact or matrix.tolist())]

        echo_data(json.dumps({
            "name": kernel.name, "shape": list(kernel.shape), "sum": kernel.total, "sum_shown": sum_text(kernel.matrix),
            "separable": kernel.separable, "description": kernel.description, "source": str(kernel.source),
            "correlate": correlate, "stored": kernel.matrix.tolist(), "applied": applied.tolist(),
            "stored_fractions": fractions(kernel.matrix), "applied_fractions": fractions(applied),
        }, indent=1))
        return
    width = shutil.get_terminal_size((80, 24)).columns
    lines = _wrapped(f"{kernel.name}: {kernel.shape[0]}×{kernel.shape[1]}, sum {sum_text(kernel.matrix)}, "
                    f"{'separable' if kernel.separable else 'not separable'}", width)
    if kernel.description:
        lines.extend(_wrapped(kernel.description, width))
    grids = [("as stored", kernel.matrix)]
    if correlate:
        grids.append((f"as applied ({how})", None))
    elif np.array_equal(applied, kernel.matrix):
        grids.append((f"as applied ({how}): the same (symmetric)", None))
    else:
        grids.append((f"as applied ({how})", applied))
    for title, matrix in grids:
        lines.append("")
        if matrix is None:
            lines.extend(_wrapped(title, width))
            continue
        factor, cells = matrix_cells(matrix)
        lines.extend(_wrapped(f"{title}:" if factor is None else f"{title}: {factor} ×", width))
        lines.extend(grid_lines(cells, width=width))
    echo_data("\n".join(lines))


def _wrapped(text: str, width: int) -> list[str]:
    """``text`` as lines of at most ``width`` characters (a word longer than that stays whole)."""
    import textwrap

    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]


def _write_picture(path: str, applied: Any) -> None:
    """Write the kernel's picture to ``path``; a path that cannot be written is the user's error."""
    from ..errors import ConvcliError
    from ..images import write_image
    from ..kernels.picture import kernel_picture
    from .targets import check_picture_name

    check_picture_name(path, flag="--png", what="the kernel drawn")
    try:
        write_image(path, kernel_picture(applied), dtype="uint8")
    except ValueError as error:  # no image extension: a usage error, as for -o
        raise click.BadParameter(str(error), param_hint="'--png'") from None
    except ConvcliError as error:
        raise click.ClickException(f"--png {error}") from None
