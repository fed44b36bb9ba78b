"""conv2d, depthwise_conv2d, conv2d_transpose and layer_counts against naive loops of the definitions
(written here), SciPy's correlate2d per channel pair, hand-computed arrays, the adjoint of the
convolution, and the parameter counts Keras's model.summary() prints."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import correlate2d

from convcli.errors import GeometryError
from convcli.ops.conv2d import (
    conv2d,
    conv2d_shape,
    conv2d_transpose,
    conv2d_transpose_shape,
    depthwise_conv2d,
    depthwise_conv2d_shape,
    layer_counts,
)
from convcli.ops.filter import filter_bank
from helpers import budget

RNG = np.random.default_rng(13)


# --------------------------------------------------------------------------------------------------
# Naive references, one output value at a time


def naive_conv2d(x, w, *, bias=None, strides=(1, 1), dilation=(1, 1), pads=((0, 0), (0, 0)), groups=1,
                 mode="constant", cval=0.0):
    """out[i, j, o] = Σ over the taps and the input channels of o's group of w[a, b, c, o]·xp[...]."""
    x = x if x.ndim == 3 else x[:, :, None]
    kwargs = {"constant_values": cval} if mode == "constant" else {}
    xp = np.pad(x.astype(np.float64), [pads[0], pads[1], (0, 0)], mode=mode, **kwargs)
    kh, kw, group_in, c_out = w.shape
    group_out = c_out // groups
    (sy, sx), (dy, dx) = strides, dilation
    out_h = (xp.shape[0] - dy * (kh - 1) - 1) // sy + 1
    out_w = (xp.shape[1] - dx * (kw - 1) - 1) // sx + 1
    out = np.zeros((out_h, out_w, c_out))
    for i, j, o in itertools.product(range(out_h), range(out_w), range(c_out)):
        g = o // group_out
        total = 0.0 if bias is None else bias[o]
        for a, b, c in itertools.product(range(kh), range(kw), range(group_in)):
            total += w[a, b, c, o] * xp[i * sy + a * dy, j * sx + b * dx, g * group_in + c]
        out[i, j, o] = total
    return out


def naive_transpose(x, w, *, bias=None, strides=(1, 1), dilation=(1, 1), before=(0, 0), out_size=None, groups=1):
    """Every input value stamps its kernel: out[i·s + a·d − before, …, g·Cog + o] += x[i, j, c]·w[a, b, o, c]."""
    x = x if x.ndim == 3 else x[:, :, None]
    kh, kw, group_out, c_in = w.shape
    group_in = c_in // groups
    out = np.zeros(out_size + (group_out * groups,))
    for i, j, c, a, b, o in itertools.product(range(x.shape[0]), range(x.shape[1]), range(c_in), range(kh),
                                              range(kw), range(group_out)):
        r = i * strides[0] + a * dilation[0] - before[0]
        q = j * strides[1] + b * dilation[1] - before[1]
        if 0 <= r < out_size[0] and 0 <= q < out_size[1]:
            out[r, q, (c // group_in) * group_out + o] += x[i, j, c] * w[a, b, o, c]
    return out if bias is None else out + bias


def keras_same(n, k, s, d=1):
    """(before, after) of Keras's `same`: out = ⌈n/s⌉, P = max((out − 1)·s + e − n, 0), ⌊P/2⌋ before."""
    e = d * (k - 1) + 1
    out = -(-n // s)
    total = max((out - 1) * s + e - n, 0)
    return total // 2, total - total // 2


# --------------------------------------------------------------------------------------------------
# conv2d


def test_hand_computed_two_filters_on_a_grey_step():
    img = np.array([[0, 0, 9], [0, 0, 9], [0, 0, 9]], dtype=np.uint8)
    w = np.zeros((2, 2, 1, 2))
    w[:, :, 0, 0] = 0.25
    w[:, :, 0, 1] = [[-1, 1], [-1, 1]]
    out = conv2d(img, w, bias=[1, 0])
    assert out.dtype == np.float32 and out.shape == (2, 2, 2)
    np.testing.assert_array_equal(out[..., 0], [[1, 5.5], [1, 5.5]])
    np.testing.assert_array_equal(out[..., 1], [[0, 18], [0, 18]])


def test_same_puts_the_extra_pixel_after_as_keras():
    # [1 2 3 4] with the 1×2 kernel [1 10], `same`: P = 1, none before, one zero after.
    out = conv2d(np.array([[1.0, 2, 3, 4]]), np.array([1.0, 10]).reshape(1, 2, 1, 1), padding="same")
    np.testing.assert_array_equal(out[..., 0], [[21, 32, 43, 4]])


def test_sums_over_input_channels_as_correlate2d_per_channel_pair():
    x = RNG.normal(size=(11, 9, 3))
    w = RNG.normal(size=(3, 4, 3, 5))
    expected = np.stack(
        [sum(correlate2d(x[..., c], w[:, :, c, o], mode="valid") for c in range(3)) for o in range(5)], axis=-1
    )
    np.testing.assert_allclose(conv2d(x, w), expected, rtol=1e-12, atol=1e-12)


CASES = [
    # strides, dilation, padding, groups, pads the reference takes (None: Keras same)
    ((1, 1), (1, 1), "valid", 1, ((0, 0), (0, 0))),
    ((2, 3), (1, 1), "valid", 1, ((0, 0), (0, 0))),
    ((1, 1), (2, 1), "valid", 2, ((0, 0), (0, 0))),
    ((2, 2), (2, 2), 1, 1, ((1, 1), (1, 1))),
    ((1, 2), (1, 1), (1, 2), 2, ((1, 1), (2, 2))),
    ((3, 1), (1, 2), (0, 2, 1, 0), 1, ((0, 2), (1, 0))),
    ((1, 1), (1, 1), "same", 1, None),
    ((2, 2), (1, 1), "same", 2, None),
    ((1, 1), (2, 3), "same", 1, None),
    ((3, 2), (1, 1), "same", 4, None),
]


@pytest.mark.parametrize("strides, dilation, padding, groups, pads", CASES)
def test_conv2d_against_the_naive_loop(strides, dilation, padding, groups, pads):
    x = RNG.normal(size=(10, 9, 4))
    w = RNG.normal(size=(3, 2, 4 // groups, 2 * groups))
    bias = RNG.normal(size=2 * groups)
    if pads is None:
        pads = (keras_same(10, 3, strides[0], dilation[0]), keras_same(9, 2, strides[1], dilation[1]))
    expected = naive_conv2d(x, w, bias=bias, strides=strides, dilation=dilation, pads=pads, groups=groups)
    out = conv2d(x, w, bias=bias, strides=strides, dilation=dilation, padding=padding, groups=groups)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    shape, _ = conv2d_shape(x.shape, w.shape, strides=strides, dilation=dilation, padding=padding, groups=groups)
    assert shape == expected.shape


def test_oihw_is_pytorchs_order_of_the_same_weights():
    x = RNG.normal(size=(7, 8, 4))
    w = RNG.normal(size=(3, 3, 2, 6))
    expected = naive_conv2d(x, w, groups=2, pads=((1, 1), (1, 1)))
    np.testing.assert_allclose(conv2d(x, w.transpose(3, 2, 0, 1), layout="oihw", groups=2, padding=1), expected,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("boundary, mode, cval", [("reflect", "reflect", 0.0), ("symmetric", "symmetric", 0.0),
                                                  ("edge", "edge", 0.0), ("wrap", "wrap", 0.0),
                                                  ("constant", "constant", 2.5), ("replicate", "edge", 0.0)])
def test_boundaries_fill_the_padding_as_numpy_pad(boundary, mode, cval):
    x = RNG.normal(size=(6, 7, 2))
    w = RNG.normal(size=(3, 3, 2, 3))
    expected = naive_conv2d(x, w, pads=((1, 1), (1, 1)), mode=mode, cval=cval)
    np.testing.assert_allclose(conv2d(x, w, padding="same", boundary=boundary, cval=cval), expected,
                               rtol=1e-12, atol=1e-12)


def test_depthwise_groups_order_channels_as_the_kernel_banks():
    # groups = C_in with M filters per channel: channel c·M + m is filter m on channel c.
    x = RNG.normal(size=(9, 8, 3))
    k0, k1 = RNG.normal(size=(2, 3, 3))
    w = np.zeros((3, 3, 1, 6))
    w[:, :, 0, 0::2] = k0[:, :, None]
    w[:, :, 0, 1::2] = k1[:, :, None]
    bank = filter_bank(x, [k0, k1], mode="valid", correlate=True)
    np.testing.assert_allclose(conv2d(x, w, groups=3), bank, rtol=1e-6, atol=1e-6)


def test_depthwise_conv2d_takes_keras_weights():
    x = RNG.normal(size=(8, 9, 3))
    w = RNG.normal(size=(3, 2, 3, 2))  # (kh, kw, C_in, depth_multiplier)
    bias = RNG.normal(size=6)
    expected = np.zeros((6, 8, 6))
    for c, m in itertools.product(range(3), range(2)):
        expected[..., c * 2 + m] = correlate2d(x[..., c], w[:, :, c, m], mode="valid") + bias[c * 2 + m]
    np.testing.assert_allclose(depthwise_conv2d(x, w, bias=bias), expected, rtol=1e-12, atol=1e-12)
    assert depthwise_conv2d_shape(x.shape, w.shape, padding="same", strides=2)[0] == (4, 5, 6)


def test_dtypes_and_a_grey_image_gives_one_channel_axis():
    w = np.ones((2, 2, 1, 1))
    assert conv2d(np.ones((3, 3), dtype=np.uint16), w).dtype == np.float32
    assert conv2d(np.ones((3, 3), dtype=np.float32), w).shape == (2, 2, 1)
    assert conv2d(np.ones((3, 3)), w).dtype == np.float64
    np.testing.assert_array_equal(conv2d(np.ones((3, 3), dtype=bool), w)[..., 0], np.full((2, 2), 4))


def test_large_image_in_several_bands_matches_scipy(monkeypatch):
    import convcli.ops.conv2d as module

    monkeypatch.setattr(module, "BAND_BYTES", 4096)  # many bands of a few rows, the last one short
    x = RNG.normal(size=(37, 23, 2)).astype(np.float32)
    w = RNG.normal(size=(3, 3, 2, 4)).astype(np.float32)
    expected = np.stack(
        [sum(correlate2d(x[..., c].astype(np.float64), w[:, :, c, o], mode="valid") for c in range(2)) for o in range(4)],
        axis=-1,
    )
    np.testing.assert_allclose(conv2d(x, w), expected, rtol=1e-4, atol=1e-4)


@given(
    size=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    strides=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    groups=st.sampled_from([1, 2]),
    padding=st.sampled_from(["valid", "same", 0, 1, (1, 0, 0, 2)]),
)
@settings(max_examples=budget(40))
def test_property_conv2d_is_the_definition(size, kernel, strides, dilation, groups, padding):
    rng = np.random.default_rng([*size, *kernel, *strides, *dilation, groups])  # the same numbers for the same example
    x = rng.normal(size=size + (2 * groups,))
    w = rng.normal(size=kernel + (2, groups))
    try:
        shape, (rows, cols) = conv2d_shape(x.shape, w.shape, strides=strides, dilation=dilation, padding=padding,
                                           groups=groups)
    except GeometryError:
        with pytest.raises(GeometryError):
            conv2d(x, w, strides=strides, dilation=dilation, padding=padding, groups=groups)
        return
    expected = naive_conv2d(x, w, strides=strides, dilation=dilation, groups=groups,
                            pads=((rows.before, rows.after), (cols.before, cols.after)))
    out = conv2d(x, w, strides=strides, dilation=dilation, padding=padding, groups=groups)
    assert out.shape == shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


BAD_CONV = [
    ({"image": np.zeros((2, 2, 2, 2))}, "`image`"),
    ({"image": np.array([["a"]])}, "`image`"),
    ({"weights": np.ones((3, 3, 1))}, "`weights` must be a 4-D"),
    ({"weights": np.full((1, 1, 1, 1), np.nan)}, "`weights` must be finite"),
    ({"weights": np.ones((1, 1, 1, 1), dtype=complex)}, "`weights` must hold real numbers"),
    ({"layout": "nchw"}, "`layout`"),
    ({"groups": 0}, "`groups` must be >= 1"),
    ({"groups": 1.5}, "`groups` must be a whole number"),
    ({"weights": np.ones((1, 1, 1, 3)), "groups": 2}, "`groups` 2 must divide"),
    ({"image": np.ones((4, 4, 3)), "groups": 2}, "`groups` 2 must divide"),
    ({"weights": np.ones((1, 1, 3, 2))}, "`weights` take 3 input channels per group"),
    ({"bias": [1.0, 2.0, 3.0]}, "`bias` must hold one value per output channel"),
    ({"bias": [np.inf, 0.0]}, "`bias` must hold finite"),
    ({"strides": 0}, "`strides` must be >= 1"),
    ({"dilation": (1, 2, 3)}, "`dilation` takes one value or two"),
    ({"padding": "full"}, "`padding` must be one of valid, same"),
    ({"padding": None}, "`padding` must be valid or same, or amounts"),
    ({"padding": -1}, "`padding` must be whole numbers >= 0"),
    ({"padding": (1, 2, 3)}, "`padding` takes 1 value"),
    ({"boundary": "mirror"}, "`mirror` is ambiguous"),
    ({"boundary": "nope"}, "`boundary` must be one of"),
    ({"cval": float("nan")}, "`cval` must be a finite number"),
]


@pytest.mark.parametrize("change, message", BAD_CONV)
def test_each_bad_argument_gets_a_one_line_error_naming_it(change, message):
    arguments = {"image": np.ones((5, 5, 2)), "weights": np.ones((3, 3, 2, 2))} | change
    image, weights = arguments.pop("image"), arguments.pop("weights")
    with pytest.raises(ValueError, match=message.replace("(", r"\(")) as error:
        conv2d(image, weights, **arguments)
    assert "\n" not in str(error.value)


def test_a_kernel_larger_than_the_image_is_a_geometry_error():
    with pytest.raises(GeometryError, match="larger than the 2 rows"):
        conv2d(np.ones((2, 5)), np.ones((3, 3, 1, 1)))


def test_depthwise_weights_for_other_channels_are_refused():
    with pytest.raises(ValueError, match="`weights` are for 2 input channels"):
        depthwise_conv2d(np.ones((4, 4, 3)), np.ones((2, 2, 2, 1)))
    with pytest.raises(ValueError, match="`weights` must be a 4-D array"):
        depthwise_conv2d(np.ones((4, 4, 3)), np.ones((2, 2, 3)))


# --------------------------------------------------------------------------------------------------
# conv2d_transpose


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


# --------------------------------------------------------------------------------------------------
# layer_counts


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
