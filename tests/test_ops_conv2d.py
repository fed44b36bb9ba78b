"""conv2d and depthwise_conv2d against naive loops of the definition (tests/layer_helpers.py),
SciPy's correlate2d per channel pair, hand-computed arrays and numpy.pad's boundaries."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import correlate2d

from convcli.errors import GeometryError
from convcli.ops.conv2d import conv2d, conv2d_shape, depthwise_conv2d, depthwise_conv2d_shape
from convcli.ops.filter import filter_bank
from helpers import budget
from layer_helpers import keras_same, naive_conv2d

RNG = np.random.default_rng(13)


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
    import sys

    # the module, not the function convcli.ops exports under the same name
    monkeypatch.setattr(sys.modules["convcli.ops.conv2d"], "BAND_BYTES", 4096)  # many bands of a few rows, the last one short
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
