"""``convcli filter``: convolve or correlate images with one or more kernels."""

from __future__ import annotations

from typing import Any

import click

from .options import (
    OutputOptions,
    conv_options,
    explain_options,
    gray_option,
    inputs_argument,
    kernel_dir_option,
    kernel_option,
    output_options,
    pop_explain,
    pop_step_options,
    step_option,
)
from .chain import make_step, run_chains

EPILOG = """\b
Examples:
  convcli filter sample:astronaut -k sobel-x -o astronaut-sobel-x.png
  convcli filter a.png b.png -k gaussian:sigma=2 -O out/ --name '{stem}-blur{ext}'
  convcli filter img.npy -k '1 0 -1; 2 0 -2; 1 0 -1' --correlate --stride 2 -o out.npy
  convcli filter img.png -k mean2 -k edge2 --mode valid -o bank.npy      (one channel per kernel)
  convcli filter sample:camera -k sobel-x -k sobel-y -O out/ --sheet '{stem}-sheet.png'
"""


@click.command("filter", epilog=EPILOG)
@inputs_argument
@kernel_dir_option
@kernel_option
@step_option("filter", "normalize")
@gray_option
@conv_options("filter")
@explain_options()
@output_options
def filter_command(inputs: tuple[str, ...], kernels: tuple[Any, ...], **params: Any) -> None:
    """Convolve INPUT images with KERNELs (true convolution unless --correlate).

    INPUT is an image file (PNG, JPEG, TIFF, BMP, GIF, WebP), a .npy array, a .txt/.csv matrix of
    numbers, 'matrix:1 2; 3 4' (numbers inline, rows split by ';'), '-' for standard input, or
    sample:NAME (astronaut, camera, coins, ... from scikit-image). With several kernels, each
    colour channel is filtered with each kernel: one file per kernel when the output name holds
    {kernel}, otherwise one .npy/.tif whose channel c·K + k is kernel k on channel c.
    """
    params.pop("kernel_dirs", None)
    gray = params.pop("gray")
    step_options = pop_step_options(params, "filter")
    explain = pop_explain(params)
    options = OutputOptions.pop(params, output_required=explain is None)
    kernels = list(kernels)
    # Several kernels give one file each when the name has {kernel} (-O's default name has it).
    template = options.output if options.output is not None else (options.name_template or "{kernel}")
    split = len(kernels) > 1 and options.output != "-" and "{kernel}" in template
    groups = [[k] for k in kernels] if split or len(kernels) == 1 else [kernels]
    def bank(group: list[Any]) -> Any:
        return make_step("filter", dict(step_options, kernels=group))

    chains = [[bank(group)] for group in groups]
    run_chains(
        command="filter", inputs=inputs, options=options, chains=chains, gray=gray,
        sheet_chain=[bank(kernels)] if len(groups) > 1 else None,  # one sheet of every kernel's channels
        names=_distinct(["+".join(k.slug() for k in group) for group in groups]),
        stackable=[len(group) > 1 for group in groups],
        explain=explain, explained=bank(kernels),  # a bank's channel c·K + k: kernel k on channel c
    )


def _distinct(names: list[str]) -> list[str]:
    """Number names that repeat (two inline kernels), so their files cannot collide.

    Examples
    --------
    >>> _distinct(["inline", "sobel-x", "inline"])
    ['inline1', 'sobel-x', 'inline2']
    """
    counts = {name: names.count(name) for name in names}
    seen: dict[str, int] = {}
    numbered = []
    for name in names:
        if counts[name] > 1:
            seen[name] = seen.get(name, 0) + 1
            name = f"{name}{seen[name]}"
        numbered.append(name)
    return numbered
