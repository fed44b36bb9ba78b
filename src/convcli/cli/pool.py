"""``convcli pool``: max/avg/min/sum/median pooling, and global pooling."""

from __future__ import annotations

from typing import Any

import click

from .options import OutputOptions, gray_option, inputs_argument, output_options, padding_option, stride_option
from .runner import Product, Source, collect_sources, run_batch
from .types import PAIR

POOL_OPS = ("max", "avg", "min", "sum", "median")

EPILOG = """\b
Examples:
  convcli pool sample:camera --op max --size 4 -o cam-max.png           (4×4 blocks: 512 → 128)
  convcli pool sample:camera --op min --size 4 --stride 2 -o cam-min.npy (overlapping: 512 → 255)
  convcli pool img.npy --op avg --size 3 --stride 2 --padding 1 --ceil -o out.npy
  convcli pool sample:astronaut --op avg --global                        (one value per channel)
"""


@click.command("pool", epilog=EPILOG)
@inputs_argument
@click.option("--op", type=click.Choice(POOL_OPS), default="max", show_default=True, help="What each window gives.")
@click.option("--size", type=PAIR, default=None, help="Window: K or KY,KX (required unless --global).")
@stride_option
@click.option("--mode", type=click.Choice(("valid", "same")), default=None,
              help="valid (default: windows inside the input) or same (Keras: ⌈H/s⌉ outputs).")
@click.option("--ceil", is_flag=True, help="Round the output size up (PyTorch ceil_mode=True).")
@padding_option
@click.option("--global", "global_", is_flag=True,
              help="One value per channel over the whole image, printed as a table on standard output "
              "(only in the report when standard output carries --json or -o -).")
@gray_option
@output_options
def pool_command(inputs: tuple[str, ...], **params: Any) -> None:
    """Pool INPUT images: each window gives its max, avg, min, sum or median.

    Padded cells never take part: max and min ignore them, avg and median use only real pixels
    (PyTorch count_include_pad=False), sum adds only real pixels. The stride defaults to the window.
    Colour images are pooled channel by channel; an alpha channel is averaged over each window.
    """
    from ..geometry import pool_geometry
    from ..ops.filter import gray_shape, to_gray
    from ..ops.pool import global_pool, pool2d
    from ..report import gray_step, pool_step

    op, size, stride, mode = params.pop("op"), params.pop("size"), params.pop("stride"), params.pop("mode")
    ceil, padding, global_, gray = params.pop("ceil"), params.pop("padding"), params.pop("global_"), params.pop("gray")
    if global_:
        given = [name for name, value in (("--size", size), ("--stride", stride), ("--mode", mode),
                                          ("--ceil", ceil), ("--padding", padding)) if value]
        if given:
            raise click.UsageError(f"--global pools the whole image; drop {', '.join(given)}")
    elif size is None:
        raise click.UsageError("give the window with --size K (or KY,KX), or --global")
    if padding is not None and mode == "same":
        raise click.UsageError("--padding replaces --mode; drop --mode same")
    if ceil and mode == "same":
        raise click.UsageError("--ceil rounds valid or padded windows up; `same` already does")
    if padding is not None and size is not None:
        # PyTorch's rule, checked before any input is read: it does not depend on the image.
        from ..geometry import as_padding

        for axis, (before, after), window_side in zip(("rows", "cols"), as_padding(padding), size):
            if max(before, after) * 2 > window_side:
                raise click.BadParameter(
                    f"{max(before, after)} is more than half the window {window_side} along the {axis} "
                    "(PyTorch's rule: a window would hold no real pixel); use a smaller padding",
                    param_hint="'--padding'",
                )
    options = OutputOptions.pop(params, output_required=not global_)
    window = {"size": size, "stride": stride, "mode": mode or "valid", "ceil": ceil, "padding": padding}

    def prepare(shape: tuple[int, ...], has_alpha: bool) -> tuple[list[dict], tuple[int, ...]]:
        gray_to = gray_shape(shape, has_alpha=has_alpha) if gray else None
        if gray_to is None:
            return [], tuple(shape)
        return [gray_step(in_shape=shape, out_shape=gray_to)], gray_to

    def out_shape(shape: tuple[int, ...]) -> tuple[tuple[int, ...], dict]:
        if global_:
            return (1, 1) + tuple(shape[2:]), {"op": "global_pool", "pool": op, "in_shape": list(shape),
                                               "out_shape": [1, 1, *shape[2:]]}
        rows, cols = pool_geometry(shape, size, stride=stride, mode=mode or "valid", ceil=ceil, padding=padding)
        result = (rows.out, cols.out) + tuple(shape[2:])
        return result, pool_step(pool=op, rows=rows, cols=cols, in_shape=shape, out_shape=result)

    def compute(image: Any, info: Any) -> list[Product]:
        steps, _ = prepare(image.shape, info.has_alpha)
        work = to_gray(image, has_alpha=info.has_alpha) if gray else image
        if global_ and info.has_alpha:
            import numpy as np

            colour = global_pool(work[..., :-1], op=op)
            alpha = global_pool(work[..., -1:], op="avg")  # the image's coverage, as for windows
            result = np.concatenate([colour.astype(np.float64), alpha], axis=-1)
        elif global_:
            result = global_pool(work, op=op)
        elif info.has_alpha:
            import numpy as np

            colour = pool2d(work[..., :-1], op=op, **window)
            alpha = pool2d(work[..., -1], op="avg", **window)  # the window's coverage
            result = np.concatenate([colour.astype(np.float64), alpha[..., np.newaxis]], axis=-1)
        else:
            result = pool2d(work, op=op, **window)
        _, step = out_shape(work.shape)
        extra = {"values": [float(v) for v in result.reshape(-1)]} if global_ else {}
        return [Product(result, steps + [step], info.has_alpha, extra=extra)]

    def describe(info: Any) -> list[Product]:
        steps, shape = prepare(info.shape, info.has_alpha)
        result, step = out_shape(shape)
        return [Product(None, steps + [step], info.has_alpha, shape=result)]

    header = [f"input\tchannel\t{op}"]  # printed once, before the first row

    def show(source: Source, results: list[Product]) -> None:
        values = results[0].extra.get("values")
        if values is None:
            return
        while header:
            click.echo(header.pop())
        for channel, value in enumerate(values):
            click.echo(f"{source.label}\t{channel}\t{value:.10g}")

    run_batch(
        command="pool", sources=collect_sources(inputs), products=[op], options=options,
        compute=compute, describe=describe,
        # Standard output may already carry the JSON report or the image: then the values are in
        # the report (and the image) only, never mixed into that stream.
        show=show if global_ and "-" not in (options.output, options.report_path) else None,
    )
