"""``convcli sobel``: gradient magnitude, components or direction (Sobel, Scharr, Prewitt)."""

from __future__ import annotations

from typing import Any

import click

from .options import OutputOptions, geometry_options, gray_option, inputs_argument, output_options, pop_geometry
from .runner import Product, collect_sources, run_batch

# Fixed default mappings into 8/16-bit outputs, so the same edge gives the same grey in every file
# of a batch (no per-image stretching unless --scale normalize is asked for).
DEFAULT_SCALE = {"magnitude": "clip", "x": "offset", "y": "offset", "direction": "clip"}

EPILOG = """\b
Examples:
  convcli sobel sample:coins -o coins-edges.png                    (magnitude, clipped)
  convcli sobel sample:coins --component x -o coins-gx.png         (signed: 128 = no gradient)
  convcli sobel sample:astronaut --gray --blur 1.5 --threshold 60 -o edges.png
  convcli sobel img.npy --operator scharr --component direction -o theta.npy   (radians)
"""


@click.command("sobel", epilog=EPILOG)
@inputs_argument
@click.option("--operator", type=click.Choice(("sobel", "scharr", "prewitt")), default="sobel", show_default=True,
              help="Gradient kernels: [1,2,1], [3,10,3] or [1,1,1] smoothing.")
@click.option("--component", type=click.Choice(("magnitude", "x", "y", "direction")), default="magnitude",
              show_default=True, help="√(gx² + gy²), gx, gy, or atan2(gy, gx) in radians.")
@click.option("--blur", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SIGMA",
              help="Gaussian pre-blur with this sigma (same size, same boundary).")
@click.option("--threshold", type=float, default=None, metavar="T",
              help="Binary edge map: 1 (white) where the component (|gx|, |gy| for x, y) exceeds T.")
@gray_option
@geometry_options
@output_options
def sobel_command(inputs: tuple[str, ...], **params: Any) -> None:
    """Gradients of INPUT images: gx = filter with OPERATOR-x, gy with OPERATOR-y, same geometry.

    A left-to-right rise in intensity gives a positive gx (true convolution). Default mappings into
    integer outputs are fixed for every file: magnitude is clipped; x and y are offset so that 128
    (32768 for 16-bit) means no gradient; direction maps −π..π onto 0..255; a threshold map is
    0/255. Float outputs (.npy, TIFF) hold the raw values, direction in radians.
    """
    from ..geometry import conv_geometry
    from ..ops.filter import attach_alpha, carry_alpha, gray_shape, to_gray
    from ..ops.gradients import sobel
    from ..report import gray_step, window_step

    operator, component = params.pop("operator"), params.pop("component")
    blur, threshold, gray = params.pop("blur"), params.pop("threshold"), params.pop("gray")
    if threshold is not None and component == "direction":
        raise click.UsageError("--threshold makes an edge map from magnitude, x or y, not from direction")
    geometry = pop_geometry(params)
    options = OutputOptions.pop(params)
    kind = "mask" if threshold is not None else "angle" if component == "direction" else "values"

    def prepare(shape: tuple[int, ...], has_alpha: bool) -> tuple[list[dict], tuple[int, ...]]:
        gray_to = gray_shape(shape, has_alpha=has_alpha) if gray else None
        if gray_to is None:
            return [], tuple(shape)
        return [gray_step(in_shape=shape, out_shape=gray_to)], gray_to

    def step_of(in_shape: tuple[int, ...], has_alpha: bool) -> tuple[tuple[int, ...], dict]:
        rows, cols = conv_geometry(in_shape, (3, 3), **{
            k: geometry[k] for k in ("mode", "stride", "dilation", "padding", "correlate")})
        out = (rows.out, cols.out) + tuple(in_shape[2:])
        fields: dict[str, Any] = {"operator": operator, "component": component, "kernel_shape": [3, 3],
                                  "boundary": geometry["boundary"],
                                  "convolution": "correlate" if geometry["correlate"] else "convolve"}
        if blur:
            fields["blur"] = blur
        if threshold is not None:
            fields["threshold"] = threshold
        return out, window_step(op="sobel", rows=rows, cols=cols, in_shape=in_shape, out_shape=out, **fields)

    def compute(image: Any, info: Any) -> list[Product]:
        steps, _ = prepare(image.shape, info.has_alpha)
        work = to_gray(image, has_alpha=info.has_alpha) if gray else image
        colour = work[..., :-1] if info.has_alpha else work
        result = sobel(colour, operator=operator, component=component, blur=blur, threshold=threshold, **geometry)
        if info.has_alpha:
            result = attach_alpha(result, carry_alpha(work[..., -1], kernel_shape=(3, 3), **geometry))
        _, step = step_of(work.shape, info.has_alpha)
        return [Product(result, steps + [step], info.has_alpha, kind=kind, scale=DEFAULT_SCALE[component])]

    def describe(info: Any) -> list[Product]:
        steps, shape = prepare(info.shape, info.has_alpha)
        out, step = step_of(shape, info.has_alpha)
        return [Product(None, steps + [step], info.has_alpha, shape=out, kind=kind, scale=DEFAULT_SCALE[component])]

    run_batch(command="sobel", sources=collect_sources(inputs), products=[component], options=options,
              compute=compute, describe=describe)
