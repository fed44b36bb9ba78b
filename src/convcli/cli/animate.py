"""``convcli animate``: an animated GIF (and PNG frames on request) of a convolution, pooling,
transposed convolution or max-unpool, one frame per output cell (convcli.animate)."""

from __future__ import annotations

import os
from typing import Any

import click

from ..steps.conv import CONV_OPTIONS
from ..vocabulary import ANIMATE_OPS
from .options import gray_option, kernel_dir_option, pop_step_options, quiet_options, step_option
from .types import INPUT, PAIR, ChoiceType

EPILOG = """\b
Examples:
  convcli animate conv shape:5x5 --kernel-size 3 --padding 1 --stride 2 -o conv.gif
  convcli animate conv 'matrix:1 2 3 0; 4 5 6 1; 7 8 9 2' -k '1 0; 0 -1' --mode same --correlate -o same.gif
  convcli animate transpose shape:2x2 --kernel-size 3 --factor 2 -o transposed.gif
  convcli animate pool 'matrix:1 5 2 0; 4 3 9 1; 7 8 2 2; 0 1 3 6' --op max --size 2 -o pool.gif --frames pool-frames
  convcli animate unpool 'matrix:1 5 2 0; 4 3 9 1; 7 8 2 2; 0 1 3 6' --size 2 -o unpool.gif
"""

# The step kind whose declaration gives each flag (declared once there), and the options of each operation.
_DECLARED = {
    "filter": ("kernel", *(option.name for option in CONV_OPTIONS)),
    "pool": ("op", "size", "ceil", "count_include_pad"),
    "upsample": ("factor", "output_padding"),
}
_WINDOW = ("stride", "mode", "padding")
_TAKES = {
    "conv": ("kernel", "kernel_size", *_DECLARED["filter"][1:]),
    "pool": ("op", "size", "ceil", "count_include_pad", *_WINDOW),
    "transpose": ("kernel", "kernel_size", "factor", "padding", "output_padding"),
    "unpool": ("size", "ceil", *_WINDOW),
}
_EXTRA = {"kernel": ("-k",), "output_padding": ()}


def _step_options(command: Any) -> Any:
    """The declared options of :data:`_DECLARED`, as click options, in its order."""
    for kind, names in reversed(_DECLARED.items()):
        for name in reversed(names):
            settings = {"metavar": "Q[,Q]"} if name == "output_padding" else {}
            command = step_option(kind, name, *_EXTRA.get(name, ()), **settings)(command)
    return command


@click.command("animate", epilog=EPILOG)
@click.argument("operation", metavar="OP", type=ChoiceType(ANIMATE_OPS))
@click.argument("source", metavar="INPUT", type=INPUT)
@click.option("-o", "--output", default=None, metavar="OUT.gif", help="The animated GIF to write.")
@click.option("--frames", "frames_dir", default=None, metavar="DIR",
              help="Also write each frame as DIR/frame_000.png, ... (DIR new, empty, or holding only frames).")
@click.option("--duration", type=click.IntRange(min=10), default=700, show_default=True, metavar="MS",
              help="How long each frame is shown, in milliseconds.")
@click.option("--cell", type=click.IntRange(min=8), default=32, show_default=True, metavar="PX",
              help="The height of a cell in pixels (wider when its number needs it).")
@kernel_dir_option
@click.option("--kernel-size", type=PAIR, default=None, metavar="K[,KX]",
              help="conv, transpose: a kernel of this shape without values (a shape-only drawing).")
@_step_options
@gray_option
@quiet_options
def animate_command(operation: str, source: str, output: str | None, frames_dir: str | None, duration: int,
                    cell: int, kernel_size: tuple[int, int] | None, gray: bool, **params: Any) -> None:
    """Animate OP (conv, pool, transpose, unpool) on INPUT, one frame per output cell.

    INPUT is small: shape:HxW (cells without numbers), matrix:'1 2; 3 4', a .npy/.txt/.csv file
    or a tiny image (at most 32×32; one channel, or --gray). Each frame shows the padded input
    (padding pale, holding what --boundary puts there), the window read (orange; max and min
    pooling outline the value taken in green), and the output written so far, the cell being
    written outlined. transpose is drawn as Dumoulin & Visin draw it: factor − 1 zeros between
    the inputs, k − 1 − padding around them, then a stride-1 convolution. unpool max-pools INPUT
    (--size, --stride, --padding) and puts each maximum back, one frame per pooled value.
    Defaults are the commands': filter's for conv (mode same), pool's for pool and unpool (mode
    valid, stride = size).
    """
    from ..animate import animation, animation_frames, write_frames, write_gif
    from ..errors import ConvcliError, ImageReadError, ImageWriteError
    from .faults import say
    from .wording import command_flags, error_text

    params.pop("kernel_dirs", None)
    if output is None and frames_dir is None:
        raise click.UsageError("no output: give -o OUT.gif, --frames DIR, or both")
    if output is not None and os.path.splitext(output)[1].lower() != ".gif":
        raise click.UsageError(f"-o names an animated GIF: end it in .gif, got {output!r}")
    options = _options(operation, params, kernel_size)
    try:
        image = _image(source, gray)
        frames = animation_frames(animation(operation, image, **options), cell=cell)
    except ImageReadError as error:
        raise click.ClickException(str(error)) from None
    except (ValueError, TypeError, ConvcliError) as error:
        raise click.UsageError(error_text(error, command_flags())) from None
    try:
        if frames_dir is not None:
            write_frames(frames.pixels, frames_dir)
        if output is not None:
            write_gif(frames.pixels, output, duration=duration)
    except ImageWriteError as error:
        raise click.ClickException(str(error)) from None
    if not (click.get_current_context().find_root().obj or {}).get("quiet"):
        written = [name for name in (output, frames_dir and os.path.join(frames_dir, "frame_*.png")) if name]
        say(f"{operation} {source}: {len(frames.pixels)} frames → {', '.join(written)}")


def _options(operation: str, params: dict[str, Any], kernel_size: tuple[int, int] | None) -> dict[str, Any]:
    """The options given, as the core's keywords; one that ``operation`` does not take is refused."""
    from ..steps import KINDS
    from ..steps.base import RuleError
    from ..steps.conv import conv_rules
    from .wording import FLAGS

    options: dict[str, Any] = {}
    for kind, names in _DECLARED.items():
        options.update(pop_step_options(params, kind, names))
    if kernel_size is not None:
        options["kernel_size"] = kernel_size
    taken = _TAKES[operation]
    for name in options:
        if name not in taken:
            raise click.UsageError(f"{FLAGS(name)} does not apply to {operation}; its options: "
                                   + ", ".join(FLAGS(n) for n in sorted(taken)))
    if "kernel_size" in taken and ("kernel" in options) == ("kernel_size" in options):
        raise click.UsageError(f"{operation} needs -k KERNEL (values) or --kernel-size K (a shape), one of them")
    if operation in ("pool", "unpool") and "size" not in options:
        raise click.UsageError(f"{operation} needs --size K, the pooling window")
    if operation == "transpose" and "factor" not in options:
        raise click.UsageError("transpose needs --factor F, its stride")
    # Which options go together: the step kinds' own rules (padding replaces mode, cval is constant's, ...).
    rules = {"conv": conv_rules, "pool": KINDS["pool"].rules, "unpool": KINDS["pool"].rules}.get(operation)
    if rules is not None:
        try:
            rules({name: value for name, value in options.items() if name != "kernel_size"}, FLAGS)
        except RuleError as error:
            raise click.UsageError(str(error)) from None
    return options


def _image(source: str, gray: bool) -> Any:
    """INPUT's values (one channel), or its shape for ``shape:HxW``."""
    from ..images import probe, read_image
    from ..ops.filter import to_gray

    if source.startswith("shape:"):
        return tuple(probe(source).shape[:2])
    image, info = read_image(source)
    if gray and image.ndim == 3:
        image = to_gray(image, has_alpha=info.has_alpha)[..., 0] if info.has_alpha else to_gray(image)
    if image.ndim == 3 and image.shape[2] > 1:
        raise ValueError(f"INPUT has {image.shape[2]} channels; an animation draws one: add --gray")
    return image
