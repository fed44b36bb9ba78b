"""``convcli pool``: max/avg/min/sum/median pooling, and global pooling."""

from __future__ import annotations

from typing import Any

import click

from ..errors import shown_path
from .chain import make_step, run_chains
from .faults import echo_data
from .inputs import InputFile
from .one_input import Product
from .options import OutputOptions, gray_option, inputs_argument, output_options, padding_option, stride_option
from .types import PAIR, ChoiceType

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
@click.option("--op", type=ChoiceType(POOL_OPS), default="max", show_default=True, help="What each window gives.")
@click.option("--size", type=PAIR, default=None, help="Window: K or KY,KX (required unless --global).")
@stride_option
@click.option("--mode", type=ChoiceType(("valid", "same")), default=None,
              help="valid (default: windows inside the input) or same (Keras: ⌈H/s⌉ outputs).")
@click.option("--ceil", is_flag=True, help="Round the output size up (PyTorch ceil_mode=True).")
@padding_option
@click.option("--count-include-pad", "count_include_pad", is_flag=True,
              help="avg: divide by the window's cells inside the padded input, padding included "
              "(PyTorch count_include_pad=True, its default); without it, by the real pixels only.")
@click.option("--global", "global_", is_flag=True,
              help="One value per channel over the whole image, printed as a table on standard output "
              "(only in the report when standard output carries --json or -o -).")
@gray_option
@output_options
def pool_command(inputs: tuple[str, ...], **params: Any) -> None:
    """Pool INPUT images: each window gives its max, avg, min, sum or median.

    Padded cells never take part: max and min ignore them, avg and median use only real pixels
    (PyTorch count_include_pad=False; --count-include-pad divides avg by the padded window, as
    PyTorch's default), sum adds only real pixels. The stride defaults to the window.
    Colour images are pooled channel by channel; an alpha channel is averaged over each window.
    """
    op, size, stride, mode = params.pop("op"), params.pop("size"), params.pop("stride"), params.pop("mode")
    ceil, padding, global_, gray = params.pop("ceil"), params.pop("padding"), params.pop("global_"), params.pop("gray")
    count_include_pad = params.pop("count_include_pad")
    # Which options go together is checked by the step itself (make_step), worded for these flags.
    step = make_step("pool", {"op": op, "size": size, "stride": stride, "mode": mode, "ceil": ceil or None,
                              "padding": padding, "count_include_pad": count_include_pad or None,
                              "global": global_ or None})
    if padding is not None and size is not None:
        # Checked before any input is read: it does not depend on the image.
        from ..geometry import AXIS_NAMES, as_padding, check_pool_padding

        for axis, pads, window_side in zip(AXIS_NAMES, as_padding(padding), size):
            try:
                check_pool_padding(window_side, pads, axis=axis)
            except ValueError as error:
                raise click.BadParameter(str(error), param_hint="'--padding'") from None
    options = OutputOptions.pop(params, output_required=not global_)
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
    )
