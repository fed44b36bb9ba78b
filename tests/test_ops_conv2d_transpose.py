"""conv2d_transpose against the naive stamping loop (tests/layer_helpers.py), hand-computed arrays,
and, for Keras's named paddings, the adjoint of the Keras convolution it transposes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcli.errors import GeometryError
from convcli.ops.conv2d_transpose import conv2d_transpose, conv2d_transpose_shape
from helpers import budget
from layer_helpers import keras_same, naive_conv2d, naive_transpose

RNG = np.random.default_rng(17)


TRANSPOSE_CASES = [
    # strides, dilation, padding (torch amounts), output_padding, groups
    ((1, 1), (1, 1), 0, 0, 1),
    ((2, 2), (1, 1), 0, 0, 1),
    ((2, 3), (1, 1), (1, 0), (1, 2), 1),
    ((2, 2), (2, 1), 1, (1, 0), 2),
    ((3, 1), (1, 2), (0, 1, 2, 0), (2, 1), 1),
    ((1, 2), (1, 1), 2, 0, 2),
]


@pytest.mark.parametrize("strides, dilation, padding, output_padding, groups", TRANSPOSE_CASES)
def test_transpose_with_pytorch_amounts_against_the_naive_stamping(strides, dilation, padding, output_padding, groups):
    x = RNG.normal(size=(4, 5, 2 * groups))
    w = RNG.normal(size=(3, 2, 2, 2 * groups))  # (kh, kw, C_out/groups, C_in)
    bias = RNG.normal(size=2 * groups)
    pads = {0: ((0, 0), (0, 0)), 1: ((1, 1), (1, 1)), 2: ((2, 2), (2, 2)), (1, 0): ((1, 1), (0, 0)),
            (0, 1, 2, 0): ((0, 1), (2, 0))}[padding]
    extra = output_padding if isinstance(output_padding, tuple) else (output_padding, output_padding)
    out_size = tuple((n - 1) * s - p[0] - p[1] + d * (k - 1) + 1 + e
                     for n, s, p, d, k, e in zip((4, 5), strides, pads, dilation, (3, 2), extra))
    expected = naive_transpose(x, w, bias=bias, strides=strides, dilation=dilation, before=(pads[0][0], pads[1][0]),
                               out_size=out_size, groups=groups)
    out = conv2d_transpose(x, w, bias=bias, strides=strides, dilation=dilation, padding=padding,
                           output_padding=output_padding, groups=groups)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    # PyTorch's weight order (C_in, C_out/groups, kh, kw) gives the same layer
    torch_order = conv2d_transpose(x, w.transpose(3, 2, 0, 1), layout="iohw", bias=bias, strides=strides,
                                   dilation=dilation, padding=padding, output_padding=output_padding, groups=groups)
    np.testing.assert_allclose(torch_order, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n, k, s, d", [(5, 3, 2, 1), (4, 2, 2, 1), (4, 4, 2, 1), (3, 1, 3, 1), (4, 5, 1, 1),
                                        (6, 3, 1, 2), (3, 2, 3, 1), (5, 4, 3, 1)])
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_keras_padding_is_the_adjoint_of_the_keras_convolution(n, k, s, d, padding):
    # Keras's Conv2DTranspose is the transpose of Conv2D with the same options on an input of the
    # transposed layer's output size: <conv(y), x> = <y, transpose(x)> for every x and y.
    out_size = n * s if padding == "same" else n * s + max(d * (k - 1) + 1 - s, 0)
    shape, _ = conv2d_transpose_shape((n, n + 1, 2), (k, k, 3, 2), strides=s, dilation=d, padding=padding)
    assert shape == (out_size, (n + 1) * s + (0 if padding == "same" else max(d * (k - 1) + 1 - s, 0)), 3)
    x = RNG.normal(size=(n, n + 1, 2))
    y = RNG.normal(size=shape)
    w_conv = RNG.normal(size=(k, k, 3, 2))  # Conv2D from 3 channels to 2
    pads = (keras_same(shape[0], k, s, d), keras_same(shape[1], k, s, d)) if padding == "same" else ((0, 0), (0, 0))
    forward = naive_conv2d(y, w_conv, strides=(s, s), dilation=(d, d), pads=pads)
    assert forward.shape == x.shape
    # Conv2DTranspose's kernel (kh, kw, C_out, C_in) is the Conv2D kernel (kh, kw, C_in, C_out) read back.
    backward = conv2d_transpose(x, w_conv, strides=s, dilation=d, padding=padding)
    assert np.isclose(np.sum(forward * x), np.sum(y * backward), rtol=1e-10)


def test_keras_output_padding_sizes():
    # valid: (n − 1)·s + e + output_padding; same: (n − 1)·s + e mod 2 + output_padding
    assert conv2d_transpose_shape((5, 5, 1), (3, 3, 1, 1), strides=3, output_padding=2)[0] == (17, 17, 1)
    assert conv2d_transpose_shape((5, 5, 1), (3, 3, 1, 1), strides=3, padding="same", output_padding=(0, 2))[0] == (13, 15, 1)
    assert conv2d_transpose_shape((5, 5, 1), (4, 4, 1, 1), strides=3, padding="same", output_padding=1)[0] == (13, 13, 1)


def test_transpose_same_hand_computed():
    # [1 10], 1×3 kernel [1 2 3], stride 2: stamped 1 2 (3+10) 20 30; Keras `same` keeps 2·2 = 4,
    # cropping ⌊(3 − 2)/2⌋ = 0 before.
    x = np.array([[1.0, 10.0]])
    w = np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1)
    np.testing.assert_array_equal(conv2d_transpose(x, w, strides=(1, 2), padding="same")[..., 0], [[1, 2, 13, 20]])
    np.testing.assert_array_equal(conv2d_transpose(x, w, strides=(1, 4))[..., 0], [[1, 2, 3, 0, 10, 20, 30, 0]])


BAD_TRANSPOSE = [
    ({"layout": "hwio"}, "`layout` must be one of hwoi, iohw"),
    ({"weights": np.ones((3, 3, 2, 3))}, "`weights` are for 3 input channels"),
    ({"output_padding": 2, "strides": 2}, "`output_padding` 2 must be smaller than the stride 2"),
    ({"output_padding": 2, "strides": 2, "padding": 0}, "`output_padding` 2 must be smaller than the factor 2"),
    ({"output_padding": -1, "strides": 2}, "`output_padding` must be >= 0"),
    ({"groups": 3}, "`groups` 3 must divide"),
    ({"bias": [1.0]}, "`bias` must hold one value per output channel"),
    ({"padding": "full"}, "`padding` must be one of valid, same"),
    ({"weights": np.ones((3, 3, 2))}, "`weights` must be a 4-D"),
]


@pytest.mark.parametrize("change, message", BAD_TRANSPOSE)
def test_each_bad_transpose_argument_is_named(change, message):
    arguments = {"image": np.ones((4, 4, 2)), "weights": np.ones((3, 3, 2, 2))} | change
    image, weights = arguments.pop("image"), arguments.pop("weights")
    with pytest.raises(ValueError, match=message):
        conv2d_transpose(image, weights, **arguments)


def test_transpose_padding_that_crops_everything_is_a_geometry_error():
    with pytest.raises(GeometryError, match="removes every output"):
        conv2d_transpose(np.ones((1, 1)), np.ones((2, 2, 1, 1)), padding=1)


@given(
    size=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    strides=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    pads=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
    groups=st.sampled_from([1, 2]),
    data=st.data(),
)
@settings(max_examples=budget(40))
def test_property_transpose_with_amounts_is_the_stamping(size, kernel, strides, dilation, pads, groups, data):
    extra = tuple(data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(strides, dilation))
    rng = np.random.default_rng([*size, *kernel, *strides, *pads, groups])
    x = rng.normal(size=size + (groups,))
    w = rng.normal(size=kernel + (2, groups))
    out_size = tuple((n - 1) * s - before - after + d * (k - 1) + 1 + e for n, s, (before, after), d, k, e in
                     zip(size, strides, (pads[:2], pads[2:]), dilation, kernel, extra))
    if min(out_size) < 1:
        with pytest.raises(GeometryError):
            conv2d_transpose(x, w, strides=strides, dilation=dilation, padding=pads, output_padding=extra, groups=groups)
        return
    expected = naive_transpose(x, w, strides=strides, dilation=dilation, before=(pads[0], pads[2]), out_size=out_size,
                               groups=groups)
    out = conv2d_transpose(x, w, strides=strides, dilation=dilation, padding=pads, output_padding=extra, groups=groups)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
