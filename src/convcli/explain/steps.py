"""One step of a chain explained from its input: the step's options turned into the keywords of
the explain function of its kind (the same keywords its ``run`` gives the ops)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .base import Explanation, check_position


def _colour(array: np.ndarray, has_alpha: bool, channel: int) -> np.ndarray:
    """The colour channels (alpha is carried, not computed: not explained)."""
    colour = array[..., :-1] if has_alpha else array
    channels = colour.shape[2] if colour.ndim == 3 else 1
    if not 0 <= channel < channels:
        raise ValueError(f"`channel` must be 0..{channels - 1} (the colour channels; alpha is carried, not "
                         f"computed), got {channel}")
    return colour


def _filter(step: Any, array: np.ndarray, position: Sequence[int], channel: int, has_alpha: bool) -> Explanation:
    from ..steps.conv import geometry
    from .windows import explain_filter

    kernels = step.options["kernels"]
    colour = _colour(array, has_alpha, channel // len(kernels))
    # A bank: output channel c·K + k is kernel k on channel c (ops.filter.filter_bank).
    source, k = divmod(channel, len(kernels))
    return explain_filter(colour, kernels[k], position=position, channel=source, boundary=step.options["boundary"],
                          cval=step.options["cval"], **geometry(step.options))


def _sobel(step: Any, array: np.ndarray, position: Sequence[int], channel: int, has_alpha: bool) -> Explanation:
    from ..steps.conv import geometry
    from .windows import explain_gradient

    options = step.options
    return explain_gradient(_colour(array, has_alpha, channel), position=position, channel=channel,
                            operator=options["operator"], component=options["component"], blur=options["blur"],
                            threshold=options["threshold"], boundary=options["boundary"], cval=options["cval"],
                            **geometry(options))


def _pool(step: Any, array: np.ndarray, position: Sequence[int], channel: int, has_alpha: bool) -> Explanation:
    from .windows import explain_pool

    options = step.options
    window = {name: options.get(name) for name in ("size", "stride", "mode", "ceil", "padding")}
    return explain_pool(_colour(array, has_alpha, channel), position=position, channel=channel, op=options["op"],
                        count_include_pad=options["count_include_pad"], **window)


def _upsample(step: Any, array: np.ndarray, position: Sequence[int], channel: int, has_alpha: bool) -> Explanation:
    from .upsample import explain_transpose, explain_upsample

    options = step.options
    method = options["method"]
    if method == "transpose":
        return explain_transpose(array, position=position, channel=channel, factor=options["factor"],
                                 kernel=options["kernel"], padding=options.get("padding") or 0,
                                 output_padding=options.get("output_padding") or 0)
    return explain_upsample(array, position=position, channel=channel, factor=options["factor"], method=method)


def _layer(step: Any, array: np.ndarray, position: Sequence[int], channel: int, has_alpha: bool) -> Explanation:
    """conv2d, depthwise_conv2d, conv2d_transpose: the weights as the kind's ``run`` makes them."""
    import importlib

    from ..steps.layer import bias_of, in_channels, made_weights
    from .layers import explain_conv2d, explain_conv2d_transpose, explain_depthwise

    options = step.options
    kind = importlib.import_module(f"convcli.steps.{step.op}")
    shape = kind.weights_shape(options, in_channels(array.shape, has_alpha, step.op))
    weights = made_weights(options, shape, fans=(shape[0] * shape[1] * shape[2], shape[0] * shape[1] * shape[3]))
    layer = {"activation": options["activation"], "alpha": options.get("alpha")}
    window = {"strides": options["stride"], "dilation": options["dilation"], "padding": options["padding"]}
    if step.op == "conv2d_transpose":
        geometry = kind._geometry(options)
        outs = (shape[2] if geometry["layout"] == "hwoi" else shape[1]) * options["groups"]
        return explain_conv2d_transpose(array, weights, position=position, out_channel=channel,
                                        bias=bias_of(options, outs), **layer, **geometry)
    edge = {"boundary": options["boundary"], "cval": options["cval"]}
    if step.op == "depthwise_conv2d":
        return explain_depthwise(array, weights, position=position, out_channel=channel,
                                 bias=bias_of(options, shape[2] * shape[3]), **layer, **window, **edge)
    return explain_conv2d(array, weights, position=position, out_channel=channel, bias=bias_of(options, shape[3]),
                          layout="hwio", groups=options["groups"], **layer, **window, **edge)


def _point(step: Any, array: np.ndarray, position: Sequence[int], channel: int, has_alpha: bool) -> Explanation:
    """A step that works pixel by pixel: run it on the one pixel (its own ``run``, the same numbers)."""
    from ..steps import KINDS
    from ..steps.base import Running
    from ..vocabulary import GRAY_WEIGHTS
    from .base import plain
    from .layers import PointExplanation

    row, col = check_position(position, array.shape[:2])
    pixel = array[row : row + 1, col : col + 1]
    out = np.asarray(KINDS[step.op].run(step, pixel, Running(steps=[step], position=0, plan=None, engine="auto",
                                                              has_alpha=has_alpha, image=pixel)))
    out_channels = out.shape[2] if out.ndim == 3 else 1
    if not 0 <= channel < out_channels:
        raise ValueError(f"`channel` must be 0..{out_channels - 1}, got {channel}")
    inputs = tuple(float(v) for v in np.asarray(pixel, dtype=np.float64).reshape(-1))
    gray = step.op == "gray" and len(inputs) - has_alpha >= 3 and not (has_alpha and channel == out_channels - 1)
    options = plain(dict(step.options))
    value = float(out.reshape(-1)[channel])
    return PointExplanation(step.op, (row, col), channel, inputs, GRAY_WEIGHTS if gray else None, options, value)


#: How each step kind is explained; the kinds not here (zero_pad, crop: values moved, not computed)
#: are refused with this list.
EXPLAINERS: dict[str, Callable[..., Explanation]] = {
    "filter": _filter, "sobel": _sobel, "pool": _pool, "upsample": _upsample, "conv2d": _layer,
    "depthwise_conv2d": _layer, "conv2d_transpose": _layer, "activation": _point, "rescale": _point,
    "batch_norm": _point, "gray": _point,
}


def unexplained(step: Any) -> str | None:
    """Why ``step`` has no explanation (a sentence), or None when it has one: a kind that moves values,
    a global pool, a max-unpool. Front ends check it before any work.

    Examples
    --------
    >>> from convcli.pipeline import parse_step
    >>> unexplained(parse_step("pool", {"size": 2})) is None
    True
    >>> unexplained(parse_step("pool", {"global": True, "op": "max"}))
    'a global pool has one value per channel: its report gives them all'
    """
    from ..vocabulary import MAX_UNPOOL

    if step.op not in EXPLAINERS:
        return f"a {step.op} step moves values without computing them: explain one of {', '.join(EXPLAINERS)}"
    if step.op == "pool" and step.options.get("global"):
        return "a global pool has one value per channel: its report gives them all"
    if step.op == "upsample" and step.options.get("method") == MAX_UNPOOL:
        return "a max-unpool puts each pooled value back where its max pool took it: explain that pool"
    return None


def explain_step(step: Any, array: Any, *, position: Sequence[int], channel: int = 0, has_alpha: bool = False
                 ) -> Explanation:
    """Write out output ``position`` (channel ``channel``) of pipeline step ``step`` run on
    ``array``, the step's input (``has_alpha``: its last channel is alpha).

    Examples
    --------
    >>> from convcli.pipeline import parse_step
    >>> step = parse_step("filter", {"kernel": "1 1", "mode": "valid"})
    >>> explain_step(step, np.array([[1.0, 2.0, 4.0]]), position=(0, 1)).value
    6.0
    """
    reason = unexplained(step)
    if reason is not None:
        raise ValueError(reason)
    return EXPLAINERS[step.op](step, np.asarray(array), position, int(channel), has_alpha)
