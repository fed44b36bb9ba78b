"""The depthwise_conv2d step: Keras ``DepthwiseConv2D`` (README, CNN layers).

Each input channel c filtered by its own ``depth_multiplier`` kernels; output channel c·M + m, the
order of convcli's kernel banks and of conv2d with ``groups`` = C_in.
"""

from __future__ import annotations

from typing import Any

from .base import LayerPadding, Option, Pair, Planning, Running, StepKind, Whole, Wording
from .conv2d import geometry_of
from .layer import (ACTIVATION_OPTIONS, BOUNDARY_OPTIONS, activate, bias_of, check_against, in_channels, layer_details,
                    layer_fields, layer_rules, made_weights, memory, weight_options)

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
    from ..geometry import conv_geometry
    from ..report import window_step

    options, before = step.options, state.shape
    channels = in_channels(before, state.has_alpha, "depthwise_conv2d")
    rows_k, cols_k, _, multiplier = weights_shape(options, channels)
    out_channels = channels * multiplier
    bias = bias_of(options, out_channels)
    rows, cols = conv_geometry(before, (rows_k, cols_k), stride=options["stride"], dilation=options["dilation"],
                               correlate=True, **geometry_of(options["padding"]))
    after = (rows.out, cols.out, out_channels)
    params = rows_k * cols_k * out_channels + (out_channels if bias is not None else 0)
    previous = {"receptive_field": list(state.receptive_field), "jump": list(state.jump)}
    fields = layer_fields(options, weights_shape=(rows_k, cols_k, channels, multiplier), out_channels=out_channels,
                          params=params, macs=rows.out * cols.out * out_channels * rows_k * cols_k)
    record = window_step(op="depthwise_conv2d", rows=rows, cols=cols, in_shape=before, out_shape=after,
                         previous=previous, **fields, depth_multiplier=multiplier, boundary=options["boundary"])
    state.kind, state.scale = "values", "clip"
    return after, record


def run(step: Any, array: Any, running: Running) -> Any:
    from ..ops.layers import depthwise_conv2d

    options = step.options
    shape = weights_shape(options, in_channels(array.shape, False, "depthwise_conv2d"))
    weights = made_weights(options, shape, fans=(shape[0] * shape[1] * shape[2], shape[0] * shape[1] * shape[3]))
    result = depthwise_conv2d(array, weights, bias=bias_of(options, shape[2] * shape[3]), strides=options["stride"],
                              dilation=options["dilation"], padding=options["padding"], boundary=options["boundary"],
                              cval=options["cval"])
    return activate(result, options)


def headline(record: dict) -> str:
    from ..report import shape_text, window_details

    rows, cols, _, multiplier = record["weights_shape"]
    return (f"depthwise_conv2d {shape_text((rows, cols))} × {multiplier} per channel" + window_details(record)
            + layer_details(record))


KIND = StepKind(name="depthwise_conv2d", summary="A depthwise CNN layer (Keras DepthwiseConv2D): each channel its "
                "own kernels, bias and activation.", options=OPTIONS, plan=plan, run=run, memory=memory, rules=rules,
                complete=complete, headline=headline)
