"""``convcli pipeline``: run a YAML chain of steps over images, or plan it from a shape alone."""

from __future__ import annotations

from typing import Any

import click

from .options import (explain_options, inputs_argument, kernel_dir_option, output_options, pop_explain,
                      pop_summary_options, summary_option)
from .chain import run_chains
from .types import search_path
from .wording import command_flags, error_text

EPILOG = """\b
Examples:
  convcli pipeline net.yaml shape:224x224x3 --dry-run          (shapes and receptive fields only)
  convcli pipeline edges.yaml sample:camera -o camera-edges.png
  convcli pipeline edges.yaml photos/*.png -O out/ --report report.json
  convcli pipeline autoencoder.keras digit.png --until encode_pool --summary
  convcli pipeline autoencoder.keras digit.png --until encode_pool -o maps.npy --sheet maps.png

\b
A pipeline file:
  steps:
    - gray
    - filter: {kernels: [mean2, edge2], mode: valid, correlate: true}
    - pool: {op: max, size: 2, save: '{stem}-pooled.npy'}
    - upsample: {method: max-unpool}
"""


@click.command("pipeline", epilog=EPILOG)
@click.argument("pipeline_file", metavar="PIPELINE", type=click.Path(dir_okay=False))
@inputs_argument
@click.option("--until", metavar="LAYER", help="With a Keras model: stop after this layer (the encoder of an autoencoder).")
@kernel_dir_option
@summary_option
@explain_options(steps=True)
@output_options
def pipeline_command(pipeline_file: str, inputs: tuple[str, ...], until: str | None, kernel_dirs: tuple[str, ...],
                     **params: Any) -> None:
    """Run the steps of PIPELINE (a YAML file, or a Keras 3 .keras model) over INPUT images.

    A YAML pipeline lists steps (gray, filter, sobel, pool, upsample, conv2d, depthwise_conv2d,
    conv2d_transpose, activation, rescale, zero_pad, crop, batch_norm). A .keras model's layers run
    as those steps, with Keras's numbers; a layer convcli cannot run is refused before any pixel,
    unless --until stops before it.

    The whole file is checked before any pixel is read (exit 2 with the file, line and fix). Options
    are those of the commands. `save: NAME` on a step writes its intermediate result (fields as in
    --name; inside -O DIR when given). Kernel files named in the pipeline are found beside it.
    `shape:HxW[xC]` as INPUT, with --dry-run, reports every step's shapes, padding, receptive field
    and jump without any image.
    """
    from ..errors import ConvcliError
    from ..pipeline import load_pipeline

    try:
        steps = load_pipeline(pipeline_file, search_path=search_path(click.get_current_context(), kernel_dirs),
                              until=until)
    except ConvcliError as error:  # a model file's message names `until`: --until here
        raise click.UsageError(error_text(error, command_flags())) from None
    explain = pop_explain(params)
    options, show = pop_summary_options(params, computed=explain is not None)
    run_chains(command="pipeline", inputs=inputs, options=options, chains=[steps], names=["result"],
               reads=[("pipeline file", pipeline_file)], show=show,
               explain=explain)
