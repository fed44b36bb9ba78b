"""``convcli sobel``: gradient magnitude, components or direction (Sobel, Scharr, Prewitt)."""

from __future__ import annotations

from typing import Any

import click

from .options import (OutputOptions, conv_options, explain_options, gray_option, inputs_argument, output_options,
                      pop_explain, pop_step_options, step_option)
from .chain import make_step, run_chains

EPILOG = """\b
Examples:
  convcli sobel sample:coins -o coins-edges.png                    (magnitude, clipped)
  convcli sobel sample:coins --component x -o coins-gx.png         (signed: 128 = no gradient)
  convcli sobel sample:astronaut --gray --blur 1.5 --threshold 60 -o edges.png
  convcli sobel img.npy --operator scharr --component direction -o theta.npy   (radians)
"""


@click.command("sobel", epilog=EPILOG)
@inputs_argument
@step_option("sobel", "operator")
@step_option("sobel", "component")
@step_option("sobel", "blur", metavar="SIGMA")
@step_option("sobel", "threshold", metavar="T")
@gray_option
@conv_options("sobel")
@explain_options()
@output_options
def sobel_command(inputs: tuple[str, ...], **params: Any) -> None:
    """Gradients of INPUT images: gx = filter with OPERATOR-x, gy with OPERATOR-y, same geometry.

    A left-to-right rise in intensity gives a positive gx (true convolution). Default mappings into
    integer outputs are fixed for every file: magnitude is clipped; x and y are offset so that 128
    (32768 for 16-bit) means no gradient; direction maps −π..π onto 0..255; a threshold map is
    0/255. Float outputs (.npy, TIFF) hold the raw values, direction in radians.
    """
    gray = params.pop("gray")
    step_options = pop_step_options(params, "sobel")
    explain = pop_explain(params)
    options = OutputOptions.pop(params, output_required=explain is None)
    step = make_step("sobel", step_options)
    run_chains(command="sobel", inputs=inputs, options=options, chains=[[step]], names=[step.options["component"]],
               gray=gray, explain=explain)
