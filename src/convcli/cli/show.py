"""``convcli show`` and what ``--preview`` prints: the views of convcli.show as terminal text (SGR colour
codes; rich's colours say what a terminal of fewer colours shows).

Colour follows the terminal (rich's ``color_system``): true colour, else rich's nearest of 256 colours;
a terminal of 16 colours gets the greys of the colours (their BT.601 luma), nearer than 16 hues; no colour
(``--color never``, ``NO_COLOR``, not a terminal) gives a grid's values as plain text and no preview.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from typing import Any

import click

from ..vocabulary import SHOW_MAX_CELLS, SHOW_MOST_CELLS
from .faults import echo_data, is_terminal, say
from .types import INPUT

#: The upper half block: its foreground colour is a character's upper pixel, its background the lower one.
UPPER_HALF = "\u2580"
#: rich's colour systems that show an RGB colour (or its nearest of 256); others get greys.
_RGB_SYSTEMS = ("truecolor", "256")
#: The size of a terminal whose size cannot be found.
_FALLBACK_SIZE = (80, 24)


@dataclass(frozen=True)
class PreviewSettings:
    """How ``--preview`` shows outputs (a batch's workers inherit it): the largest grid, the preview's
    size in characters and rich's colour system (None: no colour)."""

    columns: int
    rows: int | None
    color_system: str | None
    max_cells: int = SHOW_MAX_CELLS


def terminal_size(stream: Any) -> tuple[int, int]:
    """Columns and lines of the terminal ``stream`` writes to (``COLUMNS``/``LINES`` first, as
    :func:`shutil.get_terminal_size` reads them; 80×24 when nothing tells)."""
    columns, lines = _FALLBACK_SIZE
    try:
        size = os.get_terminal_size(stream.fileno())
        columns, lines = size.columns or columns, size.lines or lines
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        pass
    for name, value in (("COLUMNS", columns), ("LINES", lines)):
        text = os.environ.get(name, "")
        if text.isdigit() and int(text) > 0:
            columns, lines = (int(text), lines) if name == "COLUMNS" else (columns, int(text))
    return columns, lines


def color_system(colour: bool) -> str | None:
    """rich's colour system for a terminal (from ``COLORTERM`` and ``TERM``), or None without colour."""
    if not colour:
        return None
    from rich.console import Console

    return Console(file=io.StringIO(), force_terminal=True).color_system


def preview_settings(stream: Any = None) -> PreviewSettings | None:
    """``--preview``'s settings for ``stream`` (standard error): None when nothing is to be shown there
    (not a terminal, unless ``--color always``). ``--color never`` and ``NO_COLOR`` keep grids (as plain
    text) and drop the half-block previews."""
    stream = sys.stderr if stream is None else stream
    ctx = click.get_current_context(silent=True)
    forced = ctx.find_root().color if ctx is not None else None  # True: always; False: never, NO_COLOR
    if not is_terminal(stream) and forced is not True:
        return None
    columns, lines = terminal_size(stream)
    return PreviewSettings(columns=columns, rows=max(1, lines - 2), color_system=color_system(forced is not False))


def render(view: Any, *, color_system: str | None, width: int) -> str:
    """A :class:`convcli.show.CellGrid` or :class:`convcli.show.HalfBlocks` as terminal text (SGR colours
    of rich's ``color_system``, or none), lines of at most ``width`` characters (a grid wider than that is
    shown in blocks of columns)."""
    from ..show import CellGrid

    if isinstance(view, CellGrid):
        return "\n".join(_grid_lines(view, width, color_system))
    return "\n".join(_block_lines(view, color_system))


def _painted(text: str, color_system: str | None, foreground: Any, background: Any = None) -> str:
    """``text`` in ``foreground`` on ``background`` (RGB triples, 0..255) as ``color_system`` shows them:
    rich's colours, downgraded to the system's (its nearest of 256, or of 16 from the colour's grey).

    rich's Style is not used: it caches its escape codes across colour systems."""
    from rich.color import Color, ColorSystem

    if color_system is None:
        return text
    system = {"truecolor": ColorSystem.TRUECOLOR, "256": ColorSystem.EIGHT_BIT,
              "windows": ColorSystem.WINDOWS}.get(color_system, ColorSystem.STANDARD)
    codes: list[str] = []
    for colour, is_foreground in ((foreground, True), (background, False)):
        if colour is None:
            continue
        red, green, blue = (int(round(float(c))) for c in colour)
        if color_system not in _RGB_SYSTEMS:
            red = green = blue = int(round(0.299 * red + 0.587 * green + 0.114 * blue))
        codes.extend(Color.from_rgb(red, green, blue).downgrade(system).get_ansi_codes(foreground=is_foreground))
    return f"\x1b[{';'.join(codes)}m{text}\x1b[0m"


def _grid_lines(grid: Any, width: int, color_system: str | None) -> list[str]:
    """A grid's rows of cells, each its text right-aligned with a space either side, on its colour (plain
    aligned values without colour, no trailing blanks)."""
    from ..drawing import text_colour

    rows, cols = grid.shape
    cell = max(len(text) for row in grid.texts for text in row) + 2
    per_block = max(1, width // cell)
    lines: list[str] = []
    for first in range(0, cols, per_block):
        last = min(cols, first + per_block)
        if per_block < cols:
            lines.append(f"columns {first}–{last - 1}:" if last - first > 1 else f"column {first}:")
        for i in range(rows):
            cells = [_painted(f" {grid.texts[i][j]:>{cell - 2}} ", color_system, text_colour(grid.colours[i, j]),
                              grid.colours[i, j]) for j in range(first, last)]
            lines.append("".join(cells) if color_system is not None else "".join(cells).rstrip())
    return lines


def _block_lines(blocks: Any, color_system: str | None) -> list[str]:
    """Half-block characters: the upper pixel in the foreground, the lower one in the background."""
    rows, cols = blocks.shape
    return ["".join(_painted(UPPER_HALF, color_system, blocks.top[r, c],
                             blocks.bottom[r, c] if r < blocks.bottom.shape[0] else None) for c in range(cols))
            for r in range(rows)]


def preview_lines(label: str, view: Any, settings: PreviewSettings) -> list[str]:
    """What ``--preview`` prints for one written output: a line naming it and its view (or why there is
    none: a note from the view, or no colour for a half-block preview)."""
    from ..errors import shown_path
    from ..show import HalfBlocks

    name = "<stdout>" if label == "-" else shown_path(label)
    if isinstance(view, str):
        return [f"preview of {name}: {view}"]
    if isinstance(view, HalfBlocks) and settings.color_system is None:
        return [f"preview of {name}: none without colour (--color never or NO_COLOR)"]
    return [f"{name}:", render(view, color_system=settings.color_system, width=settings.columns)]


def output_view(array: Any, settings: PreviewSettings, *, has_alpha: bool = False) -> Any:
    """The view of one written output for ``--preview``: a grid or a half-block preview, or a note (a
    string) when it has none: channels that are no image's colours (2 or 4 without alpha, more than 4)."""
    from ..show import terminal_view

    channels = array.shape[2] if array.ndim == 3 else 1
    if channels > 1 and channels != 3 and not has_alpha:
        return f"{channels} channels, no one picture; --split writes (and previews) each as its own image"
    try:
        return terminal_view(array, columns=settings.columns, rows=settings.rows, max_cells=settings.max_cells)
    except ValueError as error:  # the output is written: a preview it cannot have never fails it
        return str(error)


def print_preview(lines: list[str]) -> None:
    """``preview_lines`` on standard error, best effort (colour already decided: kept as written)."""
    for line in lines:
        try:
            click.echo(line, err=True, color=True)
        except (OSError, ValueError):
            return


EPILOG = """\b
Examples:
  convcli show 'matrix:1 2 3; 4 5 6'
  convcli show digit.png -o digit-grid.png      (a 28×28 image: every pixel's value in its cell)
  convcli show sample:astronaut --width 60      (a large image: a preview, on a terminal)
  convcli show bank.npy --channel 3
"""


@click.command("show", epilog=EPILOG)
@click.argument("input_name", metavar="INPUT", type=INPUT)
@click.option("-o", "--output", default=None, metavar="PATH",
              help="Also draw the grid as a picture (PNG, or the image format the name's extension says).")
@click.option("--max-cells", type=click.IntRange(1, SHOW_MOST_CELLS), default=SHOW_MAX_CELLS, show_default=True,
              metavar="N", help=f"The largest array (cells a side) shown as a grid; larger ones are previews "
              f"(at most {SHOW_MOST_CELLS}).")
@click.option("--width", "columns", type=click.IntRange(min=1), default=None, metavar="COLS",
              help="Width of a preview in characters (default: the terminal's, its height bounded by the terminal's); "
              "a grid wider than this is shown in blocks of columns.")
@click.option("--channel", type=click.IntRange(min=0), default=None, metavar="C",
              help="Show channel C alone (an array of more than 4 channels needs it).")
@click.pass_context
def show_command(ctx: click.Context, input_name: str, output: str | None, max_cells: int, columns: int | None,
                 channel: int | None) -> None:
    """Show INPUT as a grid of its values (a small array) or a half-block preview (a larger image).

    An array of at most --max-cells a side is a grid of cells, each filled with its colour and with its
    value written in it (-o draws it as a picture too); a larger image is reduced by area averaging to
    the terminal's size (or --width) and drawn in half-block characters, two pixels a character.
    INPUT is anything the other commands read: an image file, a .npy array, a .txt or .csv file of
    numbers, matrix:..., sample:NAME or '-'. Greys are on the dtype's full scale for 8- and 16-bit
    images, else on the values' own range (blue below zero, white at zero, red above when a value is
    negative); colour images show each pixel's colour and its values. The grid goes to standard output:
    in colour on a terminal, as plain aligned values otherwise (nothing with -o, unless a terminal). A
    preview is shown only on a terminal (or with --color always); -o draws grids only.
    """
    from .. import images
    from ..errors import ConvcliError, shown_path
    from ..show import fits_grid, shown_values, terminal_view
    from .inputs import collect_inputs
    from .wording import command_flags, error_text

    if input_name.startswith("shape:"):
        raise click.UsageError(f"{input_name} has a shape but no pixels to show; give an image, a .npy or matrix:...")
    found = collect_inputs([input_name], recursive=False)
    if len(found) != 1:
        raise click.UsageError(f"show takes one image; {shown_path(input_name)} is a folder of {len(found)}: "
                               "name one of them")
    source = found[0]
    if output is not None:
        _check_picture_name(output, source.path)
    flags = command_flags(ctx)

    def fail(error: Exception) -> None:
        message = " ".join(error_text(error, flags).split())
        label = "<stdin>" if source.label == "-" else shown_path(source.label)
        say(f"convcli: error: {message if label in message else f'{label}: {message}'}")
        ctx.exit(1)

    try:
        array, _ = images.read_image(source.source)
        values = shown_values(array, channel=channel)
        small = fits_grid(values.shape, max_cells=max_cells)
        if output is not None:
            _write_grid(output, values, max_cells)
    except (ConvcliError, ValueError) as error:
        fail(error)
        return
    colour = bool((ctx.find_root().obj or {}).get("color", is_terminal(sys.stdout)))
    terminal = is_terminal(sys.stdout) or colour  # --color always: as on a terminal
    system = color_system(colour)
    if not small:  # (-o has refused it already)
        if not terminal or system is None:
            reason = "is not a terminal" if not terminal else "has no colour (--color never or NO_COLOR)"
            say(f"convcli: nothing shown: {shown_path(source.label)} is {values.shape[0]}×{values.shape[1]}, "
                f"more than {max_cells} cells a side, and its half-block preview needs a colour terminal; standard "
                f"output {reason} (raise --max-cells for its values as a grid, or give --color always)")
            return
        width, lines = terminal_size(sys.stdout)
        view = terminal_view(values, columns=columns or width, rows=None if columns else max(1, lines - 2),
                             max_cells=max_cells)
        echo_data(render(view, color_system=system, width=columns or width), color=True)
        return
    if output is not None and not terminal:
        return
    # a pipe: one line per row, never blocks of columns (unless --width asks for them)
    width = columns or (terminal_size(sys.stdout)[0] if terminal else 1_000_000)
    grid = terminal_view(values, columns=1, max_cells=max_cells)
    echo_data(render(grid, color_system=system, width=width), color=system is not None)


def _check_picture_name(path: str, input_path: str | None) -> None:
    """-o must name an image file that is not the input (usage errors, before anything is read)."""
    from .. import images
    from .targets import check_picture_name

    check_picture_name(path, flag="-o", what="the grid")
    if input_path is not None and os.path.exists(path) and images.same_file(input_path, path):
        raise click.BadParameter(f"{path} is the input; refusing to overwrite an input", param_hint="'-o'")


def _write_grid(path: str, values: Any, max_cells: int) -> None:
    """The grid's picture, written atomically to ``path``."""
    from ..images import write_image
    from ..show import grid_png

    write_image(path, grid_png(values, max_cells=max_cells), dtype="uint8")
