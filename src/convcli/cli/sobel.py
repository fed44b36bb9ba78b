"""``convcli sobel``: gradient magnitude, components or direction (Sobel, Scharr, Prewitt)."""

from __future__ import annotations

from typing import Any

import click

from .options import OutputOptions, geometry_options, gray_option, inputs_argument, output_options, pop_geometry
from .chain import make_step, run_chains
from .types import ChoiceType

EPILOG = """\b
Examples:
  convcli sobel sample:coins -o coins-edges.png                    (magnitude, clipped)
  convcli sobel sample:coins --component x -o coins-gx.png         (signed: 128 = no gradient)
  convcli sobel sample:astronaut --gray --blur 1.5 --threshold 60 -o edges.png
  convcli sobel img.npy --operator scharr --component direction -o theta.npy   (radians)
"""


@click.command("sobel", epilog=EPILOG)
@inputs_argument
@click.option("--operator", type=ChoiceType(("sobel", "scharr", "prewitt")), default="sobel", show_default=True,
              help="Gradient kernels: [1,2,1], [3,10,3] or [1,1,1] smoothing.")
@click.option("--component", type=ChoiceType(("magnitude", "x", "y", "direction")), default="magnitude",
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
    operator, component = params.pop("operator"), params.pop("component")
    blur, threshold, gray = params.pop("blur"), params.pop("threshold"), params.pop("gray")
    geometry = pop_geometry(params)
    options = OutputOptions.pop(params)
    step = make_step("sobel", dict(geometry, operator=operator, component=component,
                                   blur=blur, threshold=threshold))
    run_chains(command="sobel", inputs=inputs, options=options, chains=[[step]], names=[component], gray=gray)
