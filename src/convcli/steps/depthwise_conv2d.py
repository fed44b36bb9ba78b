"""The depthwise_conv2d step: Keras ``DepthwiseConv2D`` (README, CNN layers).

Each input channel c filtered by its own ``depth_multiplier`` kernels; output channel c·M + m, the
order of convcli's kernel banks and of conv2d with ``groups`` = C_in.
"""

from __future__ import annotations

from typing import Any

from .base import LayerPadding, Option, Pair, Planning, Running, StepKind, Whole, Wording
from .layer import (ACTIVATION_OPTIONS, BOUNDARY_OPTIONS, activate, bias_of, check_against, in_channels, layer_details,
                    layer_rules, made_weights, memory, plan_layer, weight_options)

OPTIONS = (
    *weight_options("(kh, kw, C_in, M), Keras's depthwise_kernel",
                    out=Option("depth_multiplier", Whole(), help="M, the kernels per input channel (default 1).")),
    Option("stride", Pair(), (1, 1), help="Step between outputs (Keras: strides).", aliases=("strides",)),
    Option("dilation", Pair(), (1, 1), help="Step between kernel taps (Keras: dilation_rate).",
           aliases=("dilation_rate",)),
    Option("padding", LayerPadding(), "valid", help="valid, same (Keras's rule) or amounts P, PH,PW or T,B,L,R."),
    *BOUNDARY_OPTIONS,
    *ACTIVATION_OPTIONS,
)


def rules(options: dict[str, Any], say: Wording) -> None:
    layer_rules(options, say, sizes=("kernel_size",))


def complete(options: dict[str, Any]) -> dict[str, Any]:
    weights = options.setdefault("weights", "glorot_uniform")
    if not isinstance(weights, str):
        if weights.ndim != 4:
            raise ValueError(f"`weights` must have 4 axes, (kh, kw, C_in, M); got shape {tuple(weights.shape)}")
        check_against(weights, options, out_axis=3, kernel_axes=(0, 1), out_name="depth_multiplier")
    return options


def weights_shape(options: dict[str, Any], channels: int) -> tuple[int, int, int, int]:
    if isinstance(options["weights"], str):
        rows, cols = options["kernel_size"]
        return rows, cols, channels, options.get("depth_multiplier") or 1
    shape = tuple(int(n) for n in options["weights"].shape)
    if shape[2] != channels:
        raise ValueError(f"the weights are for {shape[2]} input channels; the input has {channels}")
    return shape  # type: ignore[return-value]


def plan(step: Any, state: Any, planning: Planning) -> tuple[tuple[int, ...], dict]:
    from ..ops.conv2d import depthwise_conv2d_shape

    shape = weights_shape(step.options, in_channels(state.shape, state.has_alpha, "depthwise_conv2d"))
    return plan_layer(step, state, shape, depthwise_conv2d_shape, depth_multiplier=shape[3])


def run(step: Any, array: Any, running: Running) -> Any:
    from ..ops.conv2d import depthwise_conv2d

    options = step.options
    shape = weights_shape(options, in_channels(array.shape, False, "depthwise_conv2d"))
    weights = made_weights(options, shape, fans=(shape[0] * shape[1] * shape[2], shape[0] * shape[1] * shape[3]))
    result = depthwise_conv2d(array, weights, bias=bias_of(options, shape[2] * shape[3]), strides=options["stride"],
                              dilation=options["dilation"], padding=options["padding"], boundary=options["boundary"],
                              cval=options["cval"])
    return activate(result, options)


# No `rows`: the layer runs whole in a banded chain (its sums' last bits depend on how many pixels
# one call holds, as conv2d's GEMM).

def headline(record: dict) -> str:
    from ..report import shape_text, window_details

    rows, cols, _, multiplier = record["weights_shape"]
    return (f"depthwise_conv2d {shape_text((rows, cols))} × {multiplier} per channel" + window_details(record)
            + layer_details(record))


KIND = StepKind(name="depthwise_conv2d", summary="A depthwise CNN layer (Keras DepthwiseConv2D): each channel its "
                "own kernels, bias and activation.", options=OPTIONS, plan=plan, run=run, memory=memory, rules=rules,
                complete=complete, headline=headline)
