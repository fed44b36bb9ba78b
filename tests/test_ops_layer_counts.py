"""layer_counts against the parameter counts and shapes Keras 3's model.summary() prints, and the
multiply-adds written out."""

import pytest

from convcli.ops.layer_counts import layer_counts


def test_counts_equal_keras_model_summary():
    # Conv2D(16, (5, 5), strides=5, use_bias=False) on 1920×1080×3: 1,200 params, 216×384×16
    counts = layer_counts("conv2d", (1080, 1920, 3), (5, 5, 3, 16), strides=5, use_bias=False)
    assert (counts.params, counts.output_shape) == (1200, (216, 384, 16))
    assert counts.multiply_adds == 216 * 384 * 16 * 5 * 5 * 3
    # Conv2D(16, (3, 3), padding='same') on 28×28×1: 3·3·1·16 + 16 = 160
    assert layer_counts("conv2d", (28, 28), (3, 3, 1, 16), padding="same").params == 160
    # PyTorch order and groups: Conv2d(4, 6, 3, groups=2) has 6·2·3·3 + 6 = 114
    grouped = layer_counts("conv2d", (8, 8, 4), (6, 2, 3, 3), layout="oihw", groups=2)
    assert (grouped.params, grouped.multiply_adds) == (114, 6 * 6 * 6 * 3 * 3 * 2)
    # DepthwiseConv2D(3, depth_multiplier=2) on 8 channels: 3·3·8·2 + 16 = 160
    depthwise = layer_counts("depthwise_conv2d", (432, 768, 8), (3, 3, 8, 2))
    assert (depthwise.params, depthwise.output_shape) == (160, (430, 766, 16))
    # Conv2DTranspose(8, 3, strides=2, padding='same') on 216×384×16: 3·3·8·16 + 8 = 1,160
    transposed = layer_counts("conv2d_transpose", (216, 384, 16), (3, 3, 8, 16), strides=2, padding="same")
    assert (transposed.params, transposed.output_shape) == (1160, (432, 768, 8))
    assert transposed.multiply_adds == 216 * 384 * 16 * 3 * 3 * 8


def test_counts_refuse_an_unknown_layer():
    with pytest.raises(ValueError, match="`layer` must be one of conv2d, depthwise_conv2d, conv2d_transpose"):
        layer_counts("dense", (4, 4), (1, 1, 1, 1))
