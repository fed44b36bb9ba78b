"""``convcli kernels``: list the kernels convcli can find, or show one."""

from __future__ import annotations

import io
import json
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


def _number(value: float) -> str:
    return f"{value:.6g}"


@kernels_command.command("list")
@kernel_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per kernel, as a list.")
def list_command(kernel_dirs: tuple[str, ...] = (), as_json: bool = False) -> None:
    """Table of every named kernel: name, size, sum, separable, description."""
    from ..errors import KernelError
    from ..kernels import survey_kernels

    try:
        found, problems = survey_kernels(search_path=search_path(click.get_current_context(), kernel_dirs))
    except KernelError as error:  # a --kernel-dir that is no folder is a usage error, as for -k
        failure = click.ClickException(str(error))
        failure.exit_code = 2
        raise failure from None
    for problem in problems:  # a bad file does not hide the others
        say(f"convcli: warning: {problem}")
    if as_json:
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
        table.add_row(k.name, f"{k.shape[0]}×{k.shape[1]}", _number(k.total), "yes" if k.separable else "no",
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
@click.argument("kernel", type=KERNEL)
def show_command(kernel: Any, kernel_dirs: tuple[str, ...] = ()) -> None:
    """Show one KERNEL (any spec -k takes) as a grid of numbers."""
    cells = [[_number(float(v)) for v in row] for row in kernel.matrix]
    width = max(len(c) for row in cells for c in row)
    lines = [f"{kernel.name}: {kernel.shape[0]}×{kernel.shape[1]}, sum {_number(kernel.total)}, "
             f"{'separable' if kernel.separable else 'not separable'}"]
    if kernel.description:
        lines.append(kernel.description)
    lines.append("")
    lines.extend("  " + " ".join(c.rjust(width) for c in row) for row in cells)
    echo_data("\n".join(lines))
