"""What the CNN layer kinds share (conv2d, depthwise_conv2d, conv2d_transpose; README, CNN layers):
the options of weights, bias and activation, the weights an initialiser makes, and the report
fields of a layer (its parameters and multiply-adds).

A layer takes every channel of its input as an input channel, as Keras and PyTorch do; an image
read with an alpha channel is refused (alpha is not a feature map).
"""

from __future__ import annotations

from typing import Any

from ..vocabulary import ACTIVATIONS, INITIALIZERS
from .base import Boundary, Choice, Flag, Number, Option, Pair, RuleError, Whole, Weights, Wording, field_so_far

#: The activation a layer applies to its result, and its slope (leaky_relu) or scale (elu).
ACTIVATION_OPTIONS = (
    Option("activation", Choice(ACTIVATIONS), "linear",
           help="Applied to the result, with Keras's definitions (linear: none)."),
    Option("alpha", Number(), help="leaky_relu's slope below 0 (default 0.2) or elu's scale (default 1)."),
)
#: Functions that take ``alpha``.
TAKES_ALPHA = ("leaky_relu", "elu")


def weight_options(shape: str, layouts: tuple[str, ...] = (), *, out: Option | None = None) -> tuple[Option, ...]:
    """``weights``, ``layout`` (when there are ``layouts``), ``bias``, ``use_bias``, the initialiser's
    sizes (``out``: the output channels' option, ``filters`` by default; ``kernel_size``) and ``seed``."""
    out = out or Option("filters", Whole(), help="Output channels, for an initialiser (checked against weights).")
    layout = (Option("layout", Choice(layouts), layouts[0],
                     help="The weights' axis order: Keras's (the default) or PyTorch's."),) if layouts else ()
    return (
        Option("weights", Weights(initializers=True),
               help=f"{shape}: numbers, w.npy, model.npz:KEY, model.safetensors:KEY, or an initialiser "
                    f"({', '.join(INITIALIZERS)}) with the sizes below."),
        *layout,
        Option("bias", Weights(), help="One number per output channel: numbers or a file (none by default)."),
        Option("use_bias", Flag(), False, help="With an initialiser: add a zero bias, as Keras's use_bias (counted in params)."),
        out,
        Option("kernel_size", Pair(), help="(kh, kw) for an initialiser (checked against weights)."),
        Option("seed", Whole(minimum=0), 0, help="The initialiser's seed: the same seed gives the same weights."),
    )


#: The boundary of a layer's padding (zero, as Keras and PyTorch pad) and its constant.
BOUNDARY_OPTIONS = (
    Option("boundary", Boundary(), "zero", help="What the padding holds (zero: the frameworks')."),
    Option("cval", Number(), 0.0, help="The value of boundary constant."),
)


def layer_rules(options: dict[str, Any], say: Wording, *, sizes: tuple[str, ...]) -> None:
    """Rules every layer kind has: weights or the sizes an initialiser needs; alpha and cval only
    where they mean something."""
    weights = options.get("weights")
    if weights is None or isinstance(weights, str):
        missing = [name for name in sizes if name not in options]
        if missing:
            how = f"{say('weights', weights)} makes weights" if weights else f"without {say('weights')}, an initialiser makes weights"
            raise RuleError(f"{how}: give {' and '.join(say(name, 'N') for name in missing)} "
                            f"(or {say('weights', 'FILE')})", option="weights" if weights else None)
    if "alpha" in options and options.get("activation", "linear") not in TAKES_ALPHA:
        raise RuleError(f"{say('alpha')} is the slope of {say('activation', 'leaky_relu')} or the scale of "
                        f"{say('activation', 'elu')}; drop it", option="alpha")
    if "cval" in options and options.get("boundary") != "constant":
        raise RuleError(f"{say('cval')} needs {say('boundary', 'constant')}", option="cval")
    bias = options.get("bias")
    if bias is not None and getattr(bias, "ndim", 1) != 1:
        raise RuleError(f"{say('bias')} must be one number per output channel, got shape {tuple(bias.shape)}",
                        option="bias")


def check_against(weights: Any, options: dict[str, Any], *, out_axis: int, kernel_axes: tuple[int, int],
                  out_name: str = "filters") -> None:
    """Given weights must agree with ``filters`` and ``kernel_size`` when those are given too."""
    if out_name in options and int(weights.shape[out_axis]) != options[out_name]:
        raise ValueError(f"`{out_name}` is {options[out_name]} but the weights hold {weights.shape[out_axis]} "
                         f"(shape {tuple(weights.shape)})")
    kernel = tuple(int(weights.shape[axis]) for axis in kernel_axes)
    if "kernel_size" in options and kernel != tuple(options["kernel_size"]):
        raise ValueError(f"`kernel_size` is {tuple(options['kernel_size'])} but the weights are {kernel}")


def in_channels(shape: tuple[int, ...], has_alpha: bool, op: str) -> int:
    """The input's channels (a 2-D image has one); refuses an image with alpha."""
    if has_alpha:
        raise ValueError(f"{op} takes every channel as a feature map, and alpha is not one: drop the alpha "
                         "channel first (a PNG without alpha, or an .npy array)")
    return int(shape[2]) if len(shape) > 2 else 1


def made_weights(options: dict[str, Any], shape: tuple[int, ...], *, fans: tuple[int, int]) -> Any:
    """The layer's weights: the given array, or what its initialiser makes for ``shape`` (the same
    for the same seed, so planning and running agree)."""
    weights = options["weights"]
    if not isinstance(weights, str):
        return weights
    from ..models.weights import initial_weights

    return initial_weights(weights, shape, seed=options["seed"], fan_in=fans[0], fan_out=fans[1])


def bias_of(options: dict[str, Any], out_channels: int) -> Any:
    """The bias array, zeros for ``use_bias`` without one, or None; checked against the channels."""
    import numpy as np

    bias = options.get("bias")
    if bias is None and options.get("use_bias"):
        return np.zeros(out_channels, np.float32)
    if bias is not None and bias.shape[0] != out_channels:
        raise ValueError(f"`bias` holds {bias.shape[0]} numbers for {out_channels} output channels")
    return bias


def activate(array: Any, options: dict[str, Any]) -> Any:
    """The layer's activation applied to its result."""
    if options["activation"] == "linear":
        return array
    from ..ops.activations import activation

    return activation(array, function=options["activation"], alpha=options.get("alpha"))


def plan_layer(step: Any, state: Any, weights_shape: tuple[int, ...], shape_of: Any, **fields: Any
               ) -> tuple[tuple[int, ...], dict]:
    """The result's shape and the report record of a conv2d or depthwise_conv2d step: its geometry
    from the op's shape function (``shape_of``), its parameters and multiply-adds as Keras counts
    them (:func:`convcli.ops.layer_counts.layer_counts`), and ``fields`` after its own."""
    from ..errors import GeometryError
    from ..ops.layer_counts import layer_counts
    from ..report import window_step

    options, before = step.options, state.shape
    geometry = {"strides": options["stride"], "dilation": options["dilation"], "padding": options["padding"]}
    if "groups" in fields:
        geometry["groups"] = fields["groups"]
    try:
        after, (rows, cols) = shape_of(before, weights_shape, **geometry)
    except GeometryError as error:  # geometry speaks of filter's `mode: same`; a layer says `padding: same`
        raise GeometryError(str(error).replace("`mode: same`", "`padding: same`")) from None
    bias = bias_of(options, after[2])
    counts = layer_counts(step.op, before, weights_shape, use_bias=bias is not None, **geometry)
    previous = field_so_far(state)
    record = window_step(op=step.op, rows=rows, cols=cols, in_shape=before, out_shape=after, previous=previous,
                         **layer_fields(options, weights_shape=weights_shape, out_channels=after[2],
                                        params=counts.params, macs=counts.multiply_adds),
                         **fields, boundary=options["boundary"])
    state.kind, state.scale = "values", "clip"
    return tuple(after), record


def layer_fields(options: dict[str, Any], *, weights_shape: tuple[int, ...], out_channels: int, params: int,
                 macs: int) -> dict[str, Any]:
    """The report fields of a layer besides its geometry."""
    fields: dict[str, Any] = {"weights_shape": [int(n) for n in weights_shape], "layout": options.get("layout"),
                              "filters": out_channels, "bias": options.get("bias") is not None or options["use_bias"],
                              "activation": options["activation"], "params": int(params), "macs": int(macs)}
    if fields["layout"] is None:  # one order only (depthwise_conv2d)
        del fields["layout"]
    if isinstance(options["weights"], str):
        fields["initializer"] = options["weights"]
        fields["seed"] = options["seed"]
    if options.get("alpha") is not None:
        fields["alpha"] = options["alpha"]
    return fields


def layer_details(record: dict) -> str:
    """What a layer's summary line says after its shape: bias, activation, parameters."""
    text = ", bias" if record.get("bias") else ""
    if record.get("activation", "linear") != "linear":
        text += f", {record['activation']}"
    if "initializer" in record:
        text += f", {record['initializer']} seed {record['seed']}"
    return text + f"; {record['params']:,} params, {record['macs']:,} multiply-adds"


def memory(step: Any, record: dict, sizes: Any) -> int:
    """conv2d and depthwise_conv2d (convcli.ops.conv2d): the input converted, its padded channel
    planes, the result, one band's patch matrix (at most ``BAND_BYTES``), and what the activation
    holds."""
    from ..ops.conv2d import BAND_BYTES

    (top, bottom), (left, right) = record["padding"]
    rows, cols = record["in_shape"][:2]
    padded = (rows + top + bottom) * (cols + left + right) * sizes.in_channels * sizes.real
    kh, kw, per_group = record["weights_shape"][:3]
    taps = kh * kw * (per_group if step.op == "conv2d" else 1)
    band = min(BAND_BYTES, taps * sizes.result // max(1, record["weights_shape"][3]))
    return sizes.n_in * sizes.real + padded + sizes.result + band + activation_memory(record, sizes)


def transpose_memory(step: Any, record: dict, sizes: Any) -> int:
    """conv2d_transpose (convcli.ops.conv2d_transpose): the input converted (twice with groups), the
    stamped buffer before its crop, the result, and what the activation holds."""
    (top, bottom), (left, right) = record["padding"]
    rows, cols, channels = record["out_shape"]
    stamped = (rows + top + bottom) * (cols + left + right) * channels * sizes.real
    inputs = (2 if record["groups"] > 1 else 1) * sizes.n_in * sizes.real
    return inputs + stamped + sizes.result + activation_memory(record, sizes)


def activation_memory(record: dict, sizes: Any) -> int:
    """What a step's activation holds at its busiest, from the result's size."""
    from ..ops.activations import WORKING_ARRAYS

    return int(WORKING_ARRAYS[record.get("activation", record.get("function", "linear"))] * sizes.result)
