"""``convcli filter``: convolve or correlate images with one or more kernels."""

from __future__ import annotations

from typing import Any

import click

from .options import (
    OutputOptions,
    geometry_options,
    gray_option,
    inputs_argument,
    kernel_dir_option,
    kernel_option,
    output_options,
    pop_geometry,
)
from .runner import Product, collect_sources, run_batch

EPILOG = """\b
Examples:
  convcli filter sample:astronaut -k sobel-x -o astronaut-sobel-x.png
  convcli filter a.png b.png -k gaussian:sigma=2 -O out/ --name '{stem}-blur{ext}'
  convcli filter img.npy -k '1 0 -1; 2 0 -2; 1 0 -1' --correlate --stride 2 -o out.npy
  convcli filter img.png -k mean2 -k edge2 --mode valid -o bank.npy      (one channel per kernel)
"""


@click.command("filter", epilog=EPILOG)
@inputs_argument
@kernel_dir_option
@kernel_option
@click.option("--normalize", is_flag=True, help="Divide each kernel by its sum first.")
@gray_option
@geometry_options
@output_options
def filter_command(inputs: tuple[str, ...], kernels: tuple[Any, ...], **params: Any) -> None:
    """Convolve INPUT images with KERNELs (true convolution unless --correlate).

    INPUT is an image file (PNG, JPEG, TIFF, BMP, GIF, WebP), a .npy array, '-' for standard input,
    or sample:NAME (astronaut, camera, coins, ... from scikit-image). With several kernels, each
    colour channel is filtered with each kernel: one file per kernel when the output name holds
    {kernel}, otherwise one .npy/.tif whose channel c·K + k is kernel k on channel c.
    """
    from ..ops.filter import bank_output_shape, filter_bank, gray_shape, to_gray
    from ..geometry import conv_geometry
    from ..report import filter_step, gray_step

    params.pop("kernel_dirs", None)
    normalize, gray = params.pop("normalize"), params.pop("gray")
    geometry = pop_geometry(params)
    options = OutputOptions.pop(params)
    kernels = list(kernels)
    if normalize:
        try:
            kernels = [k.normalized() for k in kernels]
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="'--normalize'") from None

    template = options.output or options.name_template or ""
    split = len(kernels) > 1 and "{kernel}" in template
    groups = [[k] for k in kernels] if split or len(kernels) == 1 else [kernels]
    products = ["+".join(k.slug() for k in group) for group in groups]

    def steps_for(in_shape: tuple[int, ...], has_alpha: bool) -> tuple[list[dict], tuple[int, ...]]:
        """The --gray step (when it changes anything) and the shape the kernels see."""
        shape = gray_shape(in_shape, has_alpha=has_alpha) if gray else None
        if shape is None:
            return [], tuple(in_shape)
        return [gray_step(in_shape=in_shape, out_shape=shape)], shape

    def step_of(group: list, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> dict:
        rows, cols = conv_geometry(in_shape, group[0].shape, **{
            k: geometry[k] for k in ("mode", "stride", "dilation", "padding", "correlate")})
        names: Any = group[0].name if len(group) == 1 else [k.name for k in group]
        return filter_step(kernel=names, kernel_shape=group[0].shape, rows=rows, cols=cols,
                           boundary=geometry["boundary"], correlate=geometry["correlate"],
                           in_shape=in_shape, out_shape=out_shape, cval=geometry["cval"])

    def compute(image: Any, info: Any) -> list[Product]:
        steps, _ = steps_for(image.shape, info.has_alpha)
        work = to_gray(image, has_alpha=info.has_alpha) if gray else image
        results = []
        for group in groups:
            out = filter_bank(work, group, has_alpha=info.has_alpha, **geometry)
            results.append(Product(out, steps + [step_of(group, work.shape, out.shape)], info.has_alpha))
        return results

    def describe(info: Any) -> list[Product]:
        steps, shape = steps_for(info.shape, info.has_alpha)
        described = []
        for group in groups:
            out_shape = bank_output_shape(shape, [k.shape for k in group], has_alpha=info.has_alpha, **geometry)
            described.append(Product(None, steps + [step_of(group, shape, out_shape)], info.has_alpha, shape=out_shape))
        return described

    run_batch(
        command="filter", sources=collect_sources(inputs), products=products, options=options,
        compute=compute, describe=describe, stackable=[len(g) > 1 for g in groups],
    )
