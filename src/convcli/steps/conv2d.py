"""The conv2d step: a CNN layer, Keras ``Conv2D`` / ``torch.nn.functional.conv2d`` (README, CNN layers).

Cross-correlation summed over the input channels of each group, plus a bias, then an activation.
"""

from __future__ import annotations

from typing import Any

from ..vocabulary import CONV_LAYOUTS
from .base import LayerPadding, Option, Pair, Planning, Running, StepKind, Whole, Wording
from .layer import (ACTIVATION_OPTIONS, BOUNDARY_OPTIONS, activate, bias_of, check_against, in_channels, layer_details,
                    layer_rules, made_weights, memory, plan_layer, weight_options)

OPTIONS = (
    *weight_options("(kh, kw, C_in/groups, C_out) in layout hwio, (C_out, C_in/groups, kh, kw) in oihw", CONV_LAYOUTS),
    Option("stride", Pair(), (1, 1), help="Step between outputs (Keras: strides).", aliases=("strides",)),
    Option("dilation", Pair(), (1, 1), help="Step between kernel taps (Keras: dilation_rate).",
           aliases=("dilation_rate",)),
    Option("padding", LayerPadding(), "valid",
           help="valid, same (Keras's rule: ⌈n/stride⌉ outputs, the odd pixel after) or amounts P, PH,PW or T,B,L,R."),
    Option("groups", Whole(), 1, help="Split the channels into groups (PyTorch's rule; groups = C_in is depthwise)."),
    *BOUNDARY_OPTIONS,
    *ACTIVATION_OPTIONS,
)


def rules(options: dict[str, Any], say: Wording) -> None:
    layer_rules(options, say, sizes=("filters", "kernel_size"))


def complete(options: dict[str, Any]) -> dict[str, Any]:
    """Weights in Keras's order (kh, kw, C_in/groups, C_out) whatever the layout; glorot_uniform
    (Keras's default) when no weights are given."""
    weights = options.setdefault("weights", "glorot_uniform")
    if not isinstance(weights, str):
        if weights.ndim != 4:
            raise ValueError(f"`weights` must have 4 axes, {layout_text(options['layout'])}; got shape {tuple(weights.shape)}")
        if options["layout"] == "oihw":
            weights = options["weights"] = weights.transpose(2, 3, 1, 0)
        check_against(weights, options, out_axis=3, kernel_axes=(0, 1))
    return options


def layout_text(layout: str) -> str:
    return "(kh, kw, C_in/groups, C_out)" if layout == "hwio" else "(C_out, C_in/groups, kh, kw)"


def weights_shape(options: dict[str, Any], channels: int) -> tuple[int, int, int, int]:
    """(kh, kw, C_in/groups, C_out) of the weights, given or to be made."""
    if isinstance(options["weights"], str):
        rows, cols = options["kernel_size"]
        return rows, cols, channels // options["groups"], options["filters"]
    return tuple(int(n) for n in options["weights"].shape)  # type: ignore[return-value]


def plan(step: Any, state: Any, planning: Planning) -> tuple[tuple[int, ...], dict]:
    from ..ops.conv2d import conv2d_shape

    channels = in_channels(state.shape, state.has_alpha, "conv2d")
    shape = weights_shape(step.options, channels)
    return plan_layer(step, state, shape, conv2d_shape, groups=step.options["groups"])


def run(step: Any, array: Any, running: Running) -> Any:
    from ..ops.conv2d import conv2d

    options = step.options
    shape = weights_shape(options, in_channels(array.shape, False, "conv2d"))
    weights = made_weights(options, shape, fans=(shape[0] * shape[1] * shape[2], shape[0] * shape[1] * shape[3]))
    result = conv2d(array, weights, bias=bias_of(options, shape[3]), layout="hwio", strides=options["stride"],
                    dilation=options["dilation"], padding=options["padding"], groups=options["groups"],
                    boundary=options["boundary"], cval=options["cval"])
    return activate(result, options)


# No `rows`: the layer runs whole in a banded chain. Its GEMM (BLAS) sums a pixel's products in an
# order that depends on how many pixels one call holds, so a band's last bits would differ.


def headline(record: dict) -> str:
    from ..report import shape_text, window_details

    rows, cols, _, out_channels = record["weights_shape"]
    groups = f", groups {record['groups']}" if record["groups"] != 1 else ""
    return (f"conv2d {out_channels} filters {shape_text((rows, cols))}{groups}" + window_details(record)
            + layer_details(record))


KIND = StepKind(name="conv2d", summary="A CNN layer: convolution across channels (Keras Conv2D, torch conv2d), "
                "bias and activation.", options=OPTIONS, plan=plan, run=run, memory=memory, rules=rules,
                complete=complete, headline=headline)
