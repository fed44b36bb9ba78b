"""``convcli upsample``: nearest, bed-of-nails, bilinear and transposed-convolution upsampling."""

from __future__ import annotations

from typing import Any

import click

from .options import OutputOptions, gray_option, inputs_argument, kernel_dir_option, output_options, padding_option
from .runner import Product, collect_sources, run_batch
from .types import KERNEL, PAIR, PAIR_NONNEG

EPILOG = """\b
Examples:
  convcli upsample sample:camera --factor 2 --method nearest -o cam2.png     (Keras UpSampling2D)
  convcli upsample img.npy --factor 2,3 --method bilinear -o up.npy          (torch, align_corners=False)
  convcli upsample img.npy --method transpose -k '1 1; 1 1' --factor 2 --padding 1 --output-padding 1 -o t.npy
"""


@click.command("upsample", epilog=EPILOG)
@inputs_argument
@click.option("--factor", type=PAIR, required=True, help="F or FY,FX: output pixels per input pixel.")
@click.option("--method", type=click.Choice(("nearest", "zeros", "bilinear", "transpose")), default="nearest",
              show_default=True, help="nearest (blocks), zeros (bed of nails), bilinear, transpose (stamp a kernel).")
@kernel_dir_option
@click.option("-k", "--kernel", type=KERNEL, default=None, help="The kernel each pixel stamps (--method transpose).")
@padding_option
@click.option("--output-padding", type=PAIR_NONNEG, default=None, metavar="Q[,Q]",
              help="Rows/cols added at the end (--method transpose; smaller than the factor).")
@gray_option
@output_options
def upsample_command(inputs: tuple[str, ...], **params: Any) -> None:
    """Upsample INPUT images by --factor.

    transpose is a transposed convolution: each input pixel stamps value·kernel at stride F, then
    --padding is cropped from the output (torch.nn.functional.conv_transpose2d):
    out = (H − 1)·F − before − after + kh + output_padding. Colour channel by channel; alpha is
    upsampled like the colours (refused for transpose, where a stamped alpha means nothing).
    """
    from ..geometry import as_pair
    from ..ops.filter import gray_shape, to_gray
    from ..ops.upsample import transpose_output_shape, upsample

    params.pop("kernel_dirs", None)
    factor, method, kernel = params.pop("factor"), params.pop("method"), params.pop("kernel")
    padding, output_padding, gray = params.pop("padding"), params.pop("output_padding"), params.pop("gray")
    if method == "transpose":
        if kernel is None:
            raise click.UsageError("--method transpose needs a kernel: -k KERNEL")
        if output_padding is not None:
            # PyTorch's rule, checked before any input is read: it does not depend on the image.
            for axis, extra, step in zip(("rows", "cols"), output_padding, factor):
                if extra >= step:
                    raise click.BadParameter(
                        f"{extra} must be smaller than the factor {step} along the {axis} (PyTorch's rule)",
                        param_hint="'--output-padding'",
                    )
    else:
        given = [name for name, value in (("-k", kernel), ("--padding", padding),
                                          ("--output-padding", output_padding)) if value is not None]
        if given:
            raise click.UsageError(f"{', '.join(given)} only apply to --method transpose")
    options = OutputOptions.pop(params)
    transpose = {"kernel": kernel, "padding": padding or 0, "output_padding": output_padding or 0}

    def prepare(shape: tuple[int, ...], has_alpha: bool) -> tuple[list[dict], tuple[int, ...]]:
        from ..report import gray_step

        if has_alpha and method == "transpose":
            raise ValueError(
                "--method transpose cannot carry an alpha channel (a stamped alpha means nothing); "
                "remove the alpha channel first, or use --method nearest, zeros or bilinear"
            )
        gray_to = gray_shape(shape, has_alpha=has_alpha) if gray else None
        if gray_to is None:
            return [], tuple(shape)
        return [gray_step(in_shape=shape, out_shape=gray_to)], gray_to

    def step_of(shape: tuple[int, ...]) -> tuple[tuple[int, ...], dict]:
        fy, fx = as_pair(factor, name="factor")
        step: dict[str, Any] = {"op": "upsample", "method": method, "factor": [fy, fx], "in_shape": list(shape)}
        if method == "transpose":
            out, (rows, cols) = transpose_output_shape(
                shape, kernel.shape, factor=factor, padding=transpose["padding"],
                output_padding=transpose["output_padding"])
            step.update(kernel=kernel.name, kernel_shape=list(kernel.shape),
                        padding=[[rows.before, rows.after], [cols.before, cols.after]],
                        output_padding=[rows.output_padding, cols.output_padding])
            arithmetic = {"rows": rows.formula(), "cols": cols.formula()}
        else:
            out = (shape[0] * fy, shape[1] * fx) + tuple(shape[2:])
            arithmetic = {"rows": f"{shape[0]} → {shape[0]}·{fy} = {out[0]}",
                          "cols": f"{shape[1]} → {shape[1]}·{fx} = {out[1]}"}
        step.update(out_shape=list(out), arithmetic=arithmetic)
        return tuple(out), step

    def compute(image: Any, info: Any) -> list[Product]:
        steps, _ = prepare(image.shape, info.has_alpha)
        work = to_gray(image, has_alpha=info.has_alpha) if gray else image
        if method == "transpose":
            result = upsample(work, factor=factor, method=method, **transpose)
        else:
            result = upsample(work, factor=factor, method=method)
        _, step = step_of(work.shape)
        return [Product(result, steps + [step], info.has_alpha)]

    def describe(info: Any) -> list[Product]:
        steps, shape = prepare(info.shape, info.has_alpha)
        out, step = step_of(shape)
        return [Product(None, steps + [step], info.has_alpha, shape=out)]

    run_batch(command="upsample", sources=collect_sources(inputs), products=[method], options=options,
              compute=compute, describe=describe)
