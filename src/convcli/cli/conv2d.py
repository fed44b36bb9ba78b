"""``convcli conv2d``: one CNN layer (Keras Conv2D, torch conv2d) on images, from the declaration of
the conv2d step kind."""

from __future__ import annotations

from typing import Any

import click

from .chain import make_step, run_chains
from .options import (explain_options, gray_option, inputs_argument, output_options, pop_explain, pop_step_options,
                      pop_summary_options, step_option, summary_option)

EPILOG = """\b
Examples:
  convcli conv2d sample:astronaut --filters 16 --kernel-size 5 --strides 5 -o maps.npy
  convcli conv2d img.png --weights model.npz:conv1/kernel --bias model.npz:conv1/bias --padding same --activation relu -o maps.npy
  convcli conv2d img.png --weights conv.safetensors:features.0.weight --layout oihw --padding 1 -o maps.tif
  convcli conv2d sample:camera --filters 8 --kernel-size 3 --seed 1 --sheet maps.png -o maps.npy
"""


@click.command("conv2d", epilog=EPILOG)
@inputs_argument
@step_option("conv2d", "weights", metavar="SPEC")
@step_option("conv2d", "layout")
@step_option("conv2d", "bias", metavar="SPEC")
@step_option("conv2d", "use_bias")
@step_option("conv2d", "filters", metavar="N")
@step_option("conv2d", "kernel_size", metavar="KH[,KW]")
@step_option("conv2d", "seed", metavar="N")
@step_option("conv2d", "stride", metavar="S[,S]")
@step_option("conv2d", "dilation", metavar="D[,D]")
@step_option("conv2d", "padding", metavar="valid|same|P[,P[,P,P]]")
@step_option("conv2d", "groups", metavar="N")
@step_option("conv2d", "boundary")
@step_option("conv2d", "cval", metavar="V")
@step_option("conv2d", "activation")
@step_option("conv2d", "alpha", metavar="A")
@gray_option
@summary_option
@explain_options()
@output_options
def conv2d_command(inputs: tuple[str, ...], **params: Any) -> None:
    """A CNN layer on INPUT images: every output channel sums the cross-correlations of its group's
    input channels with its kernels, adds its bias, then applies --activation (Keras Conv2D,
    torch.nn.functional.conv2d, same numbers).

    Weights are (kh, kw, C_in/groups, C_out) in Keras's order (--layout hwio) or (C_out, C_in/groups,
    kh, kw) in PyTorch's (--layout oihw), from .npy, .npz:KEY or .safetensors:KEY; without them
    an initialiser (glorot_uniform, Keras's default; he_normal; zeros) makes --filters kernels of
    --kernel-size from --seed. The result has C_out channels: write .npy or .tif, or look at
    them with --sheet.
    """
    params.pop("kernel_dirs", None)
    gray = params.pop("gray")
    given = pop_step_options(params, "conv2d")
    step = make_step("conv2d", given)
    explain = pop_explain(params)
    options, show = pop_summary_options(params, computed=explain is not None)
    run_chains(command="conv2d", inputs=inputs, options=options, chains=[[step]], names=["conv2d"], gray=gray,
               show=show, explain=explain)  # the weight files it reads are the step's (Step.files)
