"""``convcli pool``: max/avg/min/sum/median pooling, and global pooling."""

from __future__ import annotations

from typing import Any

import click

from ..errors import shown_path
from .chain import make_step, run_chains
from .faults import echo_data
from .inputs import InputFile
from .one_input import Product
from .options import (OutputOptions, explain_options, gray_option, inputs_argument, output_options, pop_explain,
                      pop_step_options, step_option)

EPILOG = """\b
Examples:
  convcli pool sample:camera --op max --size 4 -o cam-max.png           (4×4 blocks: 512 → 128)
  convcli pool sample:camera --op min --size 4 --stride 2 -o cam-min.npy (overlapping: 512 → 255)
  convcli pool img.npy --op avg --size 3 --stride 2 --padding 1 --ceil -o out.npy
  convcli pool sample:astronaut --op avg --global                        (one value per channel)
"""


@click.command("pool", epilog=EPILOG)
@inputs_argument
@step_option("pool", "op")
@step_option("pool", "size")
@step_option("pool", "stride")
@step_option("pool", "mode")
@step_option("pool", "ceil")
@step_option("pool", "padding")
@step_option("pool", "count_include_pad")
@step_option("pool", "global")
@gray_option
@explain_options()
@output_options
def pool_command(inputs: tuple[str, ...], **params: Any) -> None:
    """Pool INPUT images: each window gives its max, avg, min, sum or median.

    Padded cells never take part: max and min ignore them, avg and median use only real pixels
    (PyTorch count_include_pad=False; --count-include-pad divides avg by the padded window, as
    PyTorch's default), sum adds only real pixels. The stride defaults to the window.
    Colour images are pooled channel by channel; an alpha channel is averaged over each window.
    """
    gray = params.pop("gray")
    given = pop_step_options(params, "pool")
    # Which options go together is checked by the step itself (make_step), worded for these flags.
    step = make_step("pool", given)
    op, global_ = step.options.get("op"), step.options.get("global")
    explain = pop_explain(params)
    if explain is not None and global_:  # before the output checks, which --global changes
        from ..explain.steps import unexplained

        raise click.UsageError(f"--explain: {unexplained(step)}")
    options = OutputOptions.pop(params, output_required=not global_ and explain is None)
    header = [f"input\tchannel\t{op}"]  # printed once, before the first row

    def show(input_file: InputFile, results: list[Product]) -> None:
        values = results[0].extra.get("values")
        if values is None:
            return
        while header:
            echo_data(header.pop())
        last = len(values) - 1
        for channel, value in enumerate(values):
            name = "alpha" if results[0].has_alpha and channel == last else str(channel)  # alpha: its mean
            echo_data(f"{shown_path(input_file.label)}\t{name}\t{value:.10g}")  # one row, whatever the name

    run_chains(
        command="pool", inputs=inputs, options=options, chains=[[step]], names=[op], gray=gray,
        # str() of a NumPy scalar is its shortest repr in its own type: a float32 mean is reported as
        # 131.60417, not as the float64 131.6041717529297 its bits also spell.
        extra=(lambda result: {"values": [float(str(v)) for v in result.reshape(-1)]}) if global_ else None,
        # Standard output may already carry the JSON report or the image: then the values are in
        # the report (and the image) only, never mixed into that stream.
        show=show if global_ and "-" not in (options.output, options.report_path) else None,
        explain=explain,
    )
