"""activation, rescale, zero_pad, crop and batch_norm against the formulas written out here with
Python's math module (one value at a time), hand-computed arrays and numpy.pad."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcli.errors import GeometryError
from convcli.ops.activations import (
    activation,
    batch_norm,
    crop,
    crop_shape,
    keras_amounts,
    rescale,
    zero_pad,
    zero_pad_shape,
)
from convcli.vocabulary import ACTIVATIONS
from helpers import budget

VALUES = np.array([[-30.0, -2.5, -1.0, -1e-3], [0.0, 1e-3, 0.7, 40.0]])

REFERENCES = {
    "relu": lambda x: max(x, 0.0),
    "leaky_relu": lambda x: x if x >= 0 else 0.2 * x,
    "sigmoid": lambda x: 1 / (1 + math.exp(-x)),
    "tanh": math.tanh,
    "softplus": lambda x: math.log1p(math.exp(x)),
    "elu": lambda x: x if x > 0 else math.expm1(x),
    "gelu": lambda x: 0.5 * x * (1 + math.erf(x / math.sqrt(2))),
    "linear": lambda x: x,
}


@pytest.mark.parametrize("function", ACTIVATIONS)
def test_each_activation_is_its_keras_formula(function):
    expected = np.vectorize(REFERENCES[function])(VALUES)
    out = activation(VALUES, function=function)
    assert out.dtype == np.float64 and out.shape == VALUES.shape
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-15)


def test_alpha_and_the_gelu_approximation():
    x = np.array([[-2.0, 3.0]])
    np.testing.assert_array_equal(activation(x, function="leaky_relu", alpha=0.3), [[-0.6, 3.0]])
    np.testing.assert_allclose(activation(x, function="elu", alpha=2.0), [[2 * math.expm1(-2.0), 3.0]])
    approx = [0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3))) for v in (-2.0, 3.0)]
    np.testing.assert_allclose(activation(x, function="gelu", approximate=True), [approx], rtol=1e-13)


@pytest.mark.parametrize("function", ACTIVATIONS)
def test_extreme_values_give_no_warning_and_the_limits(function):
    # pytest turns warnings into errors: an overflow in exp would fail here.
    x = np.array([[-3e38, -1e4, 1e4, 3e38]], dtype=np.float32)
    out = activation(x, function=function)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    if function == "sigmoid":
        np.testing.assert_array_equal(out, [[0, 0, 1, 1]])
    if function == "softplus":
        np.testing.assert_array_equal(out, np.maximum(x, 0))
    approximate = activation(x, function="gelu", approximate=True)
    np.testing.assert_array_equal(approximate[0, 2:], x[0, 2:])


def test_integers_are_computed_in_float32_and_the_input_is_never_changed():
    x = np.array([[0, 200]], dtype=np.uint8)
    assert activation(x, function="linear").dtype == np.float32
    y = np.array([[-1.0, 2.0]])
    out = activation(y, function="relu")
    assert out is not y and y[0, 0] == -1.0


@given(st.lists(st.floats(-60, 60), min_size=1, max_size=12), st.sampled_from(["sigmoid", "softplus", "elu", "tanh"]))
@settings(max_examples=budget(60))
def test_property_activation_matches_math(values, function):
    x = np.array([values])
    expected = np.vectorize(REFERENCES[function])(x)
    np.testing.assert_allclose(activation(x, function=function), expected, rtol=1e-12, atol=1e-300)


BAD_ACTIVATION = [
    ({"function": "swish"}, "`function` must be one of relu, leaky_relu"),
    ({"function": 3}, "`function` must be one of"),
    ({"function": "relu", "alpha": 0.1}, "`alpha` applies to leaky_relu and elu, not to relu"),
    ({"function": "elu", "alpha": float("nan")}, "`alpha` must be a finite number"),
    ({"function": "elu", "alpha": True}, "`alpha` must be a finite number"),
    ({"function": "tanh", "approximate": True}, "`approximate` applies to gelu"),
]


@pytest.mark.parametrize("arguments, message", BAD_ACTIVATION)
def test_bad_activation_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        activation(np.ones((2, 2)), **arguments)


def test_an_activation_checks_its_array():
    with pytest.raises(ValueError, match="`x` must have shape"):
        activation(np.ones(3), function="relu")


# --------------------------------------------------------------------------------------------------
# rescale


def test_rescale_by_a_number_and_per_channel():
    np.testing.assert_allclose(rescale(np.array([[0, 51, 255]], dtype=np.uint8), scale=1 / 127.5, offset=-1),
                               [[-1.0, -0.6, 1.0]], rtol=1e-6)
    out = rescale(np.ones((2, 2, 3)), scale=[1, 2, 3], offset=[0, 0, 10])
    np.testing.assert_array_equal(out[0, 0], [1, 2, 13])
    assert rescale(np.ones((2, 2)), scale=[2]).tolist() == [[2.0, 2.0], [2.0, 2.0]]


@pytest.mark.parametrize("arguments, message", [
    ({"scale": [1, 2]}, "`scale` must be a number or hold one value per channel \\(3\\)"),
    ({"scale": "x"}, "`scale` must be a number"),
    ({"scale": 1, "offset": float("inf")}, "`offset` must be finite"),
    ({"scale": True}, "`scale` must be a number"),
])
def test_bad_rescale_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        rescale(np.ones((2, 2, 3)), **arguments)


# --------------------------------------------------------------------------------------------------
# zero_pad and crop


@pytest.mark.parametrize("value, expected", [
    (2, ((2, 2), (2, 2))),
    ((1, 3), ((1, 1), (3, 3))),
    (((0, 1), (2, 3)), ((0, 1), (2, 3))),
    ([1, (0, 2)], ((1, 1), (0, 2))),
])
def test_keras_amount_forms(value, expected):
    assert keras_amounts(value, name="padding") == expected


@pytest.mark.parametrize("value", [-1, 1.5, "2", (1, 2, 3), ((1, 2, 3), (0, 0)), None, True])
def test_bad_keras_amounts_are_named(value):
    with pytest.raises(ValueError, match="`cropping`"):
        keras_amounts(value, name="cropping")


def test_zero_pad_is_numpy_pad_with_zeros_and_keeps_the_dtype():
    x = np.arange(6, dtype=np.uint8).reshape(2, 3)
    out = zero_pad(x, padding=((1, 0), (0, 2)))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[0, 0, 0, 0, 0], [0, 1, 2, 0, 0], [3, 4, 5, 0, 0]])
    rgb = np.ones((2, 2, 3))
    assert zero_pad(rgb, padding=1).shape == zero_pad_shape(rgb.shape, padding=1) == (4, 4, 3)


def test_crop_removes_edges_and_refuses_to_remove_everything():
    x = np.arange(20).reshape(4, 5)
    np.testing.assert_array_equal(crop(x, cropping=(1, 2)), [[7], [12]])
    assert crop_shape((4, 5, 2), cropping=((0, 1), (1, 1))) == (3, 3, 2)
    with pytest.raises(GeometryError, match="`cropping` 2 \\+ 2 rows"):
        crop(x, cropping=(2, 0))


# --------------------------------------------------------------------------------------------------
# batch_norm


def test_batch_norm_is_the_per_channel_formula():
    x = np.random.default_rng(5).normal(size=(3, 4, 2))
    gamma, beta, mean, variance = [1.5, -0.5], [0.1, 2.0], [0.3, -1.0], [2.0, 0.25]
    expected = np.empty_like(x)
    for c in range(2):
        expected[..., c] = gamma[c] * (x[..., c] - mean[c]) / math.sqrt(variance[c] + 1e-3) + beta[c]
    out = batch_norm(x, gamma=gamma, beta=beta, moving_mean=mean, moving_variance=variance)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    plain = batch_norm(x.astype(np.float32), moving_mean=mean, moving_variance=variance, epsilon=1e-5)
    assert plain.dtype == np.float32
    np.testing.assert_allclose(plain[..., 1], (x[..., 1] + 1.0) / math.sqrt(0.25 + 1e-5), rtol=1e-5)


@pytest.mark.parametrize("arguments, message", [
    ({"moving_mean": [0.0]}, "`moving_mean` must hold one value per channel \\(2\\)"),
    ({"gamma": [1.0, np.nan]}, "`gamma` must be finite"),
    ({"moving_variance": [1.0, -1.0]}, "`moving_variance` must be >= 0"),
    ({"moving_variance": [0.0, 1.0], "epsilon": 0.0}, "`moving_variance` \\+ `epsilon` must be > 0"),
    ({"epsilon": -1e-3}, "`epsilon` must be >= 0"),
    ({"epsilon": float("nan")}, "`epsilon` must be a finite number"),
    ({"moving_mean": None}, "`moving_mean` and `moving_variance` are needed"),
])
def test_bad_batch_norm_arguments_are_named(arguments, message):
    given_ = {"moving_mean": [0.0, 0.0], "moving_variance": [1.0, 1.0]} | arguments
    with pytest.raises(ValueError, match=message):
        batch_norm(np.ones((2, 2, 2)), **given_)
