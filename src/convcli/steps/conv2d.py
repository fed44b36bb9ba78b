"""The conv2d step: a CNN layer, Keras ``Conv2D`` / ``torch.nn.functional.conv2d`` (README, CNN layers).

Cross-correlation summed over the input channels of each group, plus a bias, then an activation.
"""

from __future__ import annotations

from typing import Any

from ..vocabulary import CONV_LAYOUTS
from .base import LayerPadding, Option, Pair, Planning, Running, StepKind, Whole, Wording
from .layer import (ACTIVATION_OPTIONS, BOUNDARY_OPTIONS, activate, bias_of, check_against, in_channels, layer_details,
                    layer_fields, layer_rules, made_weights, memory, weight_options)

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


def geometry_of(padding: Any) -> dict[str, Any]:
    """conv_geometry's keywords for a layer's padding: a mode, or explicit amounts."""
    return {"mode": padding} if isinstance(padding, str) else {"padding": padding}


def check_groups(channels: int, out_channels: int, per_group: int, groups: int, *, what: str = "weights") -> None:
    if channels % groups:
        raise ValueError(f"`groups` {groups} must divide the input's {channels} channels")
    if per_group * groups != channels:
        raise ValueError(f"the {what} take {per_group} input channel{'s' * (per_group != 1)} per group "
                         f"({per_group * groups} in all with `groups` {groups}); the input has {channels}")
    if out_channels % groups:
        raise ValueError(f"`groups` {groups} must divide the {out_channels} output channels")


def plan(step: Any, state: Any, planning: Planning) -> tuple[tuple[int, ...], dict]:
    from ..geometry import conv_geometry
    from ..report import window_step

    options, before = step.options, state.shape
    channels = in_channels(before, state.has_alpha, "conv2d")
    rows_k, cols_k, per_group, out_channels = weights_shape(options, channels)
    check_groups(channels, out_channels, per_group, options["groups"])
    bias = bias_of(options, out_channels)
    rows, cols = conv_geometry(before, (rows_k, cols_k), stride=options["stride"], dilation=options["dilation"],
                               correlate=True, **geometry_of(options["padding"]))
    after = (rows.out, cols.out, out_channels)
    taps = rows_k * cols_k * per_group
    params = taps * out_channels + (out_channels if bias is not None else 0)
    previous = {"receptive_field": list(state.receptive_field), "jump": list(state.jump)}
    fields = layer_fields(options, weights_shape=(rows_k, cols_k, per_group, out_channels), out_channels=out_channels,
                          params=params, macs=rows.out * cols.out * out_channels * taps)
    record = window_step(op="conv2d", rows=rows, cols=cols, in_shape=before, out_shape=after, previous=previous,
                         **fields, groups=options["groups"], boundary=options["boundary"])
    state.kind, state.scale = "values", "clip"
    return after, record


def run(step: Any, array: Any, running: Running) -> Any:
    from ..ops.layers import conv2d

    options = step.options
    channels = in_channels(array.shape, False, "conv2d")
    shape = weights_shape(options, channels)
    weights = made_weights(options, shape, fans=(shape[0] * shape[1] * shape[2], shape[0] * shape[1] * shape[3]))
    result = conv2d(array, weights, bias=bias_of(options, shape[3]), layout="hwio", strides=options["stride"],
                    dilation=options["dilation"], padding=options["padding"], groups=options["groups"],
                    boundary=options["boundary"], cval=options["cval"])
    return activate(result, options)


def headline(record: dict) -> str:
    from ..report import shape_text, window_details

    rows, cols, _, out_channels = record["weights_shape"]
    groups = f", groups {record['groups']}" if record["groups"] != 1 else ""
    return (f"conv2d {out_channels} filters {shape_text((rows, cols))}{groups}" + window_details(record)
            + layer_details(record))


KIND = StepKind(name="conv2d", summary="A CNN layer: convolution across channels (Keras Conv2D, torch conv2d), "
                "bias and activation.", options=OPTIONS, plan=plan, run=run, memory=memory, rules=rules,
                complete=complete, headline=headline)
