"""``convcli upsample``: nearest, bed-of-nails, bilinear and transposed-convolution upsampling."""

from __future__ import annotations

from typing import Any

import click

from ..vocabulary import UPSAMPLE_METHODS
from .options import (
    OutputOptions,
    explain_options,
    gray_option,
    inputs_argument,
    kernel_dir_option,
    output_options,
    pop_explain,
    pop_step_options,
    step_option,
)
from .chain import make_step, run_chains

EPILOG = """\b
Examples:
  convcli upsample sample:camera --factor 2 --method nearest -o cam2.png     (Keras UpSampling2D)
  convcli upsample img.npy --factor 2,3 --method bilinear -o up.npy          (torch, align_corners=False)
  convcli upsample img.npy --method transpose -k '1 1; 1 1' --factor 2 --padding 1 --output-padding 1 -o t.npy
"""


@click.command("upsample", epilog=EPILOG)
@inputs_argument
@step_option("upsample", "factor", required=True)
@step_option("upsample", "method", choices=UPSAMPLE_METHODS)  # max-unpool needs a pool before it: pipelines only
@kernel_dir_option
@step_option("upsample", "kernel", "-k")
@step_option("upsample", "padding")
@step_option("upsample", "output_padding", metavar="Q[,Q]")
@gray_option
@explain_options()
@output_options
def upsample_command(inputs: tuple[str, ...], **params: Any) -> None:
    """Upsample INPUT images by --factor.

    transpose is a transposed convolution: each input pixel stamps value·kernel at stride F, then
    --padding is cropped from the output (torch.nn.functional.conv_transpose2d):
    out = (H − 1)·F − before − after + kh + output_padding. Colour channel by channel; alpha is
    upsampled like the colours (refused for transpose, where a stamped alpha means nothing).
    """
    params.pop("kernel_dirs", None)
    gray = params.pop("gray")
    # Which options go together is checked by the step itself (make_step), worded for these flags.
    step = make_step("upsample", pop_step_options(params, "upsample"))
    method = step.options["method"]
    explain = pop_explain(params)
    options = OutputOptions.pop(params, output_required=explain is None)
    run_chains(command="upsample", inputs=inputs, options=options, chains=[[step]], names=[method], gray=gray,
               explain=explain)
