"""The conv2d_transpose step: Keras ``Conv2DTranspose`` / ``torch.nn.functional.conv_transpose2d``
(README, CNN layers): every input pixel stamps its kernels, scaled by its value, at stride s; then the
bias and an activation."""

from __future__ import annotations

from typing import Any

from ..vocabulary import TRANSPOSE_LAYOUTS
from .base import LayerPadding, Option, Pair, Planning, Running, StepKind, Whole, Wording, field_so_far
from .layer import (ACTIVATION_OPTIONS, activate, bias_of, check_against, in_channels, layer_details, layer_fields,
                    layer_rules, made_weights, transpose_memory, weight_options)

OPTIONS = (
    *weight_options("(kh, kw, C_out/groups, C_in) in layout hwoi (Keras), (C_in, C_out/groups, kh, kw) in iohw "
                    "(PyTorch)", TRANSPOSE_LAYOUTS),
    Option("stride", Pair(), (1, 1), help="Step between stamped input pixels (Keras: strides).", aliases=("strides",)),
    Option("padding", LayerPadding(), "valid",
           help="valid or same (Keras's rules: n·s + max(k − s, 0) and n·s outputs), or amounts cropped (PyTorch)."),
    Option("output_padding", Pair(minimum=0), help="Rows/cols added at the end (below the stride, as the frameworks say)."),
    Option("dilation", Pair(), (1, 1), help="Step between kernel taps (Keras: dilation_rate).",
           aliases=("dilation_rate",)),
    Option("groups", Whole(), 1, help="Split the channels into groups (PyTorch's rule)."),
    *ACTIVATION_OPTIONS,
)
#: Where (kh, kw), C_out/groups and C_in sit in each layout.
AXES = {"hwoi": ((0, 1), 2, 3), "iohw": ((2, 3), 1, 0)}


def rules(options: dict[str, Any], say: Wording) -> None:
    layer_rules(options, say, sizes=("filters", "kernel_size"))


def complete(options: dict[str, Any]) -> dict[str, Any]:
    """glorot_uniform (Keras's default) when no weights are given; given weights checked against
    ``filters`` and ``kernel_size``."""
    weights = options.setdefault("weights", "glorot_uniform")
    if not isinstance(weights, str):
        if weights.ndim != 4:
            raise ValueError(f"`weights` must have 4 axes, (kh, kw, C_out/groups, C_in) in layout hwoi or "
                             f"(C_in, C_out/groups, kh, kw) in iohw; got shape {tuple(weights.shape)}")
        kernel_axes, out_axis, _ = AXES[options["layout"]]
        if "filters" in options:  # C_out is C_out/groups times groups
            options = dict(options, filters=options["filters"] // options["groups"])
            check_against(weights, options, out_axis=out_axis, kernel_axes=kernel_axes)
            options["filters"] *= options["groups"]
        else:
            check_against(weights, options, out_axis=out_axis, kernel_axes=kernel_axes)
    return options


def weights_shape(options: dict[str, Any], channels: int) -> tuple[int, int, int, int]:
    """The weights' shape in their layout, given or to be made (an initialiser makes hwoi)."""
    if isinstance(options["weights"], str):
        rows, cols = options["kernel_size"]
        return rows, cols, options["filters"] // options["groups"], channels
    return tuple(int(n) for n in options["weights"].shape)  # type: ignore[return-value]


def _geometry(options: dict[str, Any]) -> dict[str, Any]:
    layout = "hwoi" if isinstance(options["weights"], str) else options["layout"]
    return {"layout": layout, "strides": options["stride"], "padding": options["padding"],
            "output_padding": options.get("output_padding"), "dilation": options["dilation"],
            "groups": options["groups"]}


def plan(step: Any, state: Any, planning: Planning) -> tuple[tuple[int, ...], dict]:
    from ..geometry import transposed_window
    from ..ops.conv2d_transpose import conv2d_transpose_shape
    from ..ops.layer_counts import layer_counts
    from ..report import carry_field

    options, before = step.options, state.shape
    shape = weights_shape(options, in_channels(before, state.has_alpha, "conv2d_transpose"))
    geometry = _geometry(options)
    after, (rows, cols) = conv2d_transpose_shape(before, shape, **geometry)
    bias = bias_of(options, after[2])
    counts = layer_counts("conv2d_transpose", before, shape, use_bias=bias is not None, **geometry)
    record: dict[str, Any] = {"op": "conv2d_transpose",
                              **layer_fields(dict(options, layout=geometry["layout"]), weights_shape=shape,
                                             out_channels=after[2], params=counts.params,
                                             macs=counts.multiply_adds),
                              "groups": options["groups"], "padding_rule": options["padding"]
                              if isinstance(options["padding"], str) else "explicit",
                              "stride": [rows.stride, cols.stride], "dilation": [rows.dilation, cols.dilation],
                              "padding": [[rows.before, rows.after], [cols.before, cols.after]],
                              "output_padding": [rows.output_padding, cols.output_padding],
                              "in_shape": list(before), "out_shape": list(after)}
    # An output pixel gathers ⌈e/s⌉ input pixels at most, output 0 from ⌈(before − e + 1)/s⌉ on.
    (taps_r, first_r), (taps_c, first_c) = (transposed_window(axis.extent, axis.stride, axis.before)
                                            for axis in (rows, cols))
    record.update(carry_field(field_so_far(state), taps=(taps_r, taps_c), first=(first_r, first_c),
                              factor=(rows.stride, cols.stride)),
                  arithmetic={"rows": rows.formula(), "cols": cols.formula()})
    state.kind, state.scale = "values", "clip"
    return tuple(after), record


def run(step: Any, array: Any, running: Running) -> Any:
    from ..ops.conv2d_transpose import conv2d_transpose

    options = step.options
    shape = weights_shape(options, in_channels(array.shape, False, "conv2d_transpose"))
    geometry = _geometry(options)
    # Keras's fans of a (kh, kw, C_out, C_in) kernel: C_out·kh·kw in, C_in·kh·kw out.
    weights = made_weights(options, shape, fans=(shape[0] * shape[1] * shape[2], shape[0] * shape[1] * shape[3]))
    out_channels = (shape[2] if geometry["layout"] == "hwoi" else shape[1]) * options["groups"]
    result = conv2d_transpose(array, weights, bias=bias_of(options, out_channels), **geometry)
    return activate(result, options)


def headline(record: dict) -> str:
    from ..report import shape_text

    (rows, cols), _, _ = AXES[record["layout"]]
    kernel = (record["weights_shape"][rows], record["weights_shape"][cols])
    text = f"conv2d_transpose {record['filters']} filters {shape_text(kernel)}, {record['padding_rule']}"
    if record["stride"] != [1, 1]:
        text += f", stride {shape_text(record['stride'])}"
    if record["dilation"] != [1, 1]:
        text += f", dilation {shape_text(record['dilation'])}"
    if record["groups"] != 1:
        text += f", groups {record['groups']}"
    return text + layer_details(record)


KIND = StepKind(name="conv2d_transpose", summary="A transposed CNN layer (Keras Conv2DTranspose, torch "
                "conv_transpose2d): every pixel stamps its kernels at the stride; bias and activation.",
                options=OPTIONS, plan=plan, run=run, memory=transpose_memory, rules=rules, complete=complete,
                headline=headline)
