"""Parameters and multiply-adds of the convolution layers, as Keras's ``model.summary()`` counts
parameters (weights + bias)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..vocabulary import CONV_LAYERS
from .conv2d import _as_hwio, _channels, _choice, conv2d_shape, depthwise_conv2d_shape
from .conv2d_transpose import conv2d_transpose_shape

__all__ = ["LayerCounts", "layer_counts"]


@dataclass(frozen=True)
class LayerCounts:
    """Parameters and arithmetic of one layer.

    Attributes
    ----------
    weights, biases : int
        Numbers of weights and of bias values; ``params`` is their sum (Keras's ``Param #``).
    multiply_adds : int
        Multiply-adds of one image: ``H'·W'·C_out·kh·kw·C_in/groups`` for a convolution,
        ``H·W·C_in·kh·kw·C_out/groups`` for a transposed one (every input pixel stamps every tap).
    output_shape : (int, int, int)
    """

    weights: int
    biases: int
    multiply_adds: int
    output_shape: tuple[int, int, int]

    @property
    def params(self) -> int:
        return self.weights + self.biases


def layer_counts(
    layer: str,
    shape: Sequence[int],
    weights_shape: Sequence[int],
    *,
    use_bias: bool = True,
    **options: Any,
) -> LayerCounts:
    """Parameter count and multiply-adds of a ``conv2d``, ``depthwise_conv2d`` or ``conv2d_transpose``.

    Parameters
    ----------
    layer : {'conv2d', 'depthwise_conv2d', 'conv2d_transpose'}
    shape : sequence of int
        The input's (H, W) or (H, W, C).
    weights_shape : sequence of int
        As the layer's function takes the weights (in its ``layout``).
    use_bias : bool
        A bias of one value per output channel counts as parameters.
    **options
        The layer's shape options (``layout``, ``strides``, ``dilation``, ``padding``, ``groups``,
        ``output_padding``), as its shape function takes them.

    Examples
    --------
    Keras ``Conv2D(16, (5, 5), strides=5, use_bias=False)`` on a 1920×1080 RGB image:

    >>> counts = layer_counts("conv2d", (1080, 1920, 3), (5, 5, 3, 16), strides=5, use_bias=False)
    >>> counts.params, counts.output_shape, counts.multiply_adds
    (1200, (216, 384, 16), 99532800)
    >>> layer_counts("depthwise_conv2d", (28, 28, 8), (3, 3, 8, 2)).params
    160
    >>> layer_counts("conv2d_transpose", (7, 7, 8), (3, 3, 16, 8), strides=2, padding="same").params
    1168
    """
    layer = _choice(layer, CONV_LAYERS, name="layer")
    if len(weights_shape) != 4:
        raise ValueError(f"`weights` must be a 4-D array with every side >= 1, got shape {tuple(weights_shape)}")
    weights = int(np.prod(weights_shape))
    c_in = _channels(shape)
    if layer == "conv2d":
        out_shape, _ = conv2d_shape(shape, weights_shape, **options)
        kh, kw, group_in, _ = _as_hwio(weights_shape, str(options.get("layout", "hwio")).lower())
        macs = out_shape[0] * out_shape[1] * out_shape[2] * kh * kw * group_in
    elif layer == "depthwise_conv2d":
        out_shape, _ = depthwise_conv2d_shape(shape, weights_shape, **options)
        macs = out_shape[0] * out_shape[1] * out_shape[2] * weights_shape[0] * weights_shape[1]
    else:
        out_shape, _ = conv2d_transpose_shape(shape, weights_shape, **options)
        taps = weights_shape[0] * weights_shape[1] if str(options.get("layout", "hwoi")).lower() == "hwoi" else weights_shape[2] * weights_shape[3]
        groups = int(options.get("groups", 1))
        macs = shape[0] * shape[1] * c_in * taps * (out_shape[2] // groups)
    return LayerCounts(weights, out_shape[2] if use_bias else 0, int(macs), out_shape)
