"""convcli.explain for upsampling, gradients, CNN layers and pipeline steps: the value written out
equals the op's output at random positions and geometries; small cases worked by hand."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcli.errors import GeometryError
from convcli.explain import (
    explain_conv2d,
    explain_conv2d_transpose,
    explain_depthwise,
    explain_gradient,
    explain_step,
    explain_transpose,
    explain_upsample,
)
from convcli.ops.conv2d import conv2d, depthwise_conv2d
from convcli.ops.conv2d_transpose import conv2d_transpose
from convcli.ops.gradients import sobel
from convcli.ops.upsample import upsample
from convcli.pipeline import parse_step, run

BOUNDARY_NAMES = ("zero", "constant", "reflect", "symmetric", "edge", "wrap")
small = st.integers(-9, 9)


def arrays(draw, shape, elements=small):
    size = int(np.prod(shape))
    return np.array(draw(st.lists(elements, min_size=size, max_size=size)), float).reshape(shape)


def pick_position(out, pick):
    return divmod(pick % (out.shape[0] * out.shape[1]), out.shape[1])


@st.composite
def upsample_cases(draw):
    image = arrays(draw, (draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 3))))
    factor = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return image, factor, draw(st.sampled_from(["nearest", "zeros", "bilinear"])), draw(st.integers(0, 10 ** 6))


@given(upsample_cases())
def test_an_upsample_explanation_is_the_computed_output(case):
    image, factor, method, pick = case
    out = upsample(image, factor=factor, method=method)
    position = pick_position(out, pick)
    channel = pick % image.shape[2]
    explained = explain_upsample(image, position=position, factor=factor, method=method, channel=channel)
    assert explained.value == pytest.approx(float(out[position][channel]), abs=1e-9)
    assert math.isclose(sum(explained.weights), 1.0) or (method == "zeros" and not explained.sources)


@st.composite
def transpose_cases(draw):
    image = arrays(draw, (draw(st.integers(1, 5)), draw(st.integers(1, 5))))
    kernel = arrays(draw, (draw(st.integers(1, 4)), draw(st.integers(1, 4))), st.integers(-3, 3))
    factor = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(4))
    output_padding = (draw(st.integers(0, factor[0] - 1)), draw(st.integers(0, factor[1] - 1)))
    return image, kernel, factor, padding, output_padding, draw(st.integers(0, 10 ** 6))


@given(transpose_cases())
def test_a_transpose_explanation_sums_the_stamps_of_the_computed_output(case):
    image, kernel, factor, padding, output_padding, pick = case
    options = {"factor": factor, "kernel": ";".join(" ".join(str(int(v)) for v in r) for r in kernel),
               "padding": padding, "output_padding": output_padding}
    try:
        out = upsample(image, method="transpose", **options)
    except (GeometryError, ValueError):  # padding that crops everything
        return
    position = pick_position(out, pick)
    explained = explain_transpose(image, position=position, **options)
    assert explained.value == pytest.approx(float(out[position]), abs=1e-9)
    for c in explained.contributions:  # each stamp: input pixel i lands at i·F + a − before
        assert c.pixel == image[c.row, c.col] and c.weight == kernel[c.tap_row, c.tap_col]
        assert c.row * factor[0] + c.tap_row - padding[0] == position[0]
        assert c.col * factor[1] + c.tap_col - padding[2] == position[1]


@st.composite
def gradient_cases(draw):
    image = arrays(draw, (draw(st.integers(3, 8)), draw(st.integers(3, 8))))
    options = {"operator": draw(st.sampled_from(["sobel", "scharr", "prewitt"])),
               "component": draw(st.sampled_from(["magnitude", "x", "y", "direction"])),
               "boundary": draw(st.sampled_from(BOUNDARY_NAMES)), "correlate": draw(st.booleans()),
               "stride": (draw(st.integers(1, 2)), draw(st.integers(1, 2))),
               "dilation": (draw(st.integers(1, 2)), draw(st.integers(1, 2))),
               "mode": draw(st.sampled_from(["same", "valid", "full"]))}
    if options["component"] != "direction" and draw(st.booleans()):
        options["threshold"] = draw(st.integers(0, 40))
    return image, options, draw(st.integers(0, 10 ** 6))


@given(gradient_cases())
def test_a_gradient_explanation_combines_its_filters_as_the_op(case):
    image, options, pick = case
    try:
        out = sobel(image, **options)
    except (GeometryError, ValueError):
        return
    position = pick_position(out, pick)
    explained = explain_gradient(image, position=position, **options)
    assert explained.value == pytest.approx(float(out[position]), abs=1e-9)
    if options["component"] == "magnitude":
        assert explained.combined == pytest.approx(math.sqrt(explained.x.value ** 2 + explained.y.value ** 2))


def test_a_blurred_gradient_reads_the_blurred_image():
    image = np.zeros((7, 7)); image[:, 4:] = 10.0
    explained = explain_gradient(image, position=(3, 3), blur=1.0, component="x", boundary="edge")
    assert explained.blur == 1.0 and explained.y is None
    assert explained.value == pytest.approx(float(sobel(image, blur=1.0, component="x", boundary="edge")[3, 3]))


@st.composite
def layer_cases(draw):
    groups = draw(st.integers(1, 2))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    image = arrays(draw, (draw(st.integers(3, 7)), draw(st.integers(3, 7)), c_in))
    weights = arrays(draw, (kh, kw, c_in // groups, c_out), st.integers(-3, 3))
    padding = draw(st.one_of(st.sampled_from(["valid", "same"]), st.tuples(*[st.integers(0, 2)] * 4)))
    options = {"strides": (draw(st.integers(1, 2)), draw(st.integers(1, 2))),
               "dilation": (draw(st.integers(1, 2)), draw(st.integers(1, 2))), "padding": padding, "groups": groups,
               "boundary": draw(st.sampled_from(BOUNDARY_NAMES)), "cval": draw(st.integers(-3, 3))}
    bias = arrays(draw, (c_out,), st.integers(-5, 5)) if draw(st.booleans()) else None
    return image, weights, bias, options, draw(st.integers(0, 10 ** 6))


def explain_layer_at_random(op, explain, case):
    """The layer's output and its explanation at the case's random position and channel (None: no
    output for this geometry)."""
    image, weights, bias, options, pick = case
    try:
        out = op(image, weights, bias=bias, **options)
    except (GeometryError, ValueError):
        return None
    position, channel = pick_position(out, pick), pick % out.shape[2]
    explained = explain(image, weights, position=position, out_channel=channel, bias=bias, **options)
    assert explained.value == pytest.approx(float(out[position][channel]), abs=1e-6)
    return explained, channel


@settings(deadline=None)
@given(layer_cases())
def test_a_conv2d_explanation_is_the_layers_output(case):
    found = explain_layer_at_random(conv2d, explain_conv2d, case)
    if found is None:
        return
    explained, channel = found
    weights = case[1]
    # Per channel: the window against the weights as stored (cross-correlation), independently.
    for c, part in zip(explained.in_channels, explained.channels):
        assert part.value == pytest.approx(float((part.window * weights[:, :, c % weights.shape[2], channel]).sum()))


@settings(deadline=None)
@given(layer_cases(), st.sampled_from(["relu", "sigmoid", "leaky_relu"]))
def test_a_depthwise_explanation_is_the_layers_output(case, activation):
    image, weights, _, options, pick = case
    options = {name: value for name, value in options.items() if name != "groups"}
    kernel = np.repeat(weights[:, :, :1, :1], image.shape[2], axis=2)  # (kh, kw, C_in, 1)
    try:
        out = depthwise_conv2d(image, kernel, **options)
    except (GeometryError, ValueError):
        return
    position, channel = pick_position(out, pick), pick % out.shape[2]
    explained = explain_depthwise(image, kernel, position=position, out_channel=channel, activation=activation,
                                  **options)
    expected = {"relu": max(out[position][channel], 0), "sigmoid": 1 / (1 + math.exp(-out[position][channel])),
                "leaky_relu": out[position][channel] * (1 if out[position][channel] >= 0 else 0.2)}[activation]
    assert explained.in_channels == (channel,)
    assert explained.value == pytest.approx(float(expected), abs=1e-6)


@st.composite
def transpose_layer_cases(draw):
    groups = draw(st.integers(1, 2))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    image = arrays(draw, (draw(st.integers(1, 4)), draw(st.integers(1, 4)), c_in))
    weights = arrays(draw, (draw(st.integers(1, 3)), draw(st.integers(1, 3)), c_out // groups, c_in), st.integers(-3, 3))
    options = {"strides": (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
               "dilation": (draw(st.integers(1, 2)), draw(st.integers(1, 2))),
               "padding": draw(st.one_of(st.sampled_from(["valid", "same"]), st.tuples(*[st.integers(0, 1)] * 4))),
               "groups": groups}
    bias = arrays(draw, (c_out,), st.integers(-5, 5)) if draw(st.booleans()) else None
    return image, weights, bias, options, draw(st.integers(0, 10 ** 6))


@settings(deadline=None)
@given(transpose_layer_cases())
def test_a_conv2d_transpose_explanation_is_the_layers_output(case):
    found = explain_layer_at_random(conv2d_transpose, explain_conv2d_transpose, case)
    if found is not None:  # each stamp: input pixel (i, j) through tap (a, b) lands at i·s + a·d − before
        image, weights = case[0], case[1]
        for c in found[0].contributions:
            assert c.pixel == image[c.row, c.col, c.channel] and c.weight == weights[c.tap_row, c.tap_col, found[1] % weights.shape[2], c.channel]


def test_a_pytorch_layout_is_read_as_its_axes_say():
    image = np.arange(18.0).reshape(3, 3, 2)
    hwio = np.arange(16.0).reshape(2, 2, 2, 2)
    oihw = hwio.transpose(3, 2, 0, 1)
    explained = explain_conv2d(image, oihw, position=(1, 1), out_channel=1, layout="oihw")
    # window rows 1..2, cols 1..2, both channels, against hwio[..., 1], by hand in a loop
    expected = sum(image[1 + a, 1 + b, c] * hwio[a, b, c, 1] for a in range(2) for b in range(2) for c in range(2))
    assert explained.value == expected


@pytest.mark.parametrize("spec,options", [
    ("filter", {"kernels": ["sobel-x", "box3"], "mode": "valid", "stride": 2}),
    ("sobel", {"component": "magnitude", "boundary": "reflect"}),
    ("pool", {"op": "avg", "size": 3, "stride": 2, "padding": 1}),
    ("upsample", {"method": "bilinear", "factor": (2, 3)}),
    ("upsample", {"method": "transpose", "factor": 2, "kernel": "1 2; 3 4", "padding": 1}),
    ("conv2d", {"filters": 4, "kernel_size": (3, 3), "padding": "same", "activation": "relu", "use_bias": True}),
    ("depthwise_conv2d", {"kernel_size": (2, 2), "depth_multiplier": 2, "activation": "tanh"}),
    ("conv2d_transpose", {"filters": 2, "kernel_size": (3, 3), "stride": 2, "padding": "same"}),
    ("activation", {"function": "elu", "alpha": 0.5}),
    ("rescale", {"scale": 0.5, "offset": -1.0}),
    ("batch_norm", {"moving_mean": [1.0, 2.0, 3.0], "moving_variance": [4.0, 1.0, 0.25]}),
    ("gray", {}),
])
def test_every_explained_step_gives_the_value_it_computes(spec, options):
    rng = np.random.default_rng(7)
    image = rng.integers(0, 255, (9, 8, 3)).astype(np.float64)
    step = parse_step(spec, options)
    out, _, _ = run([step], image)
    out = out if out.ndim == 3 else out[..., None]
    for position in [(0, 0), (out.shape[0] - 1, out.shape[1] - 1), (out.shape[0] // 2, 1)]:
        channel = (position[0] + position[1]) % out.shape[2]
        explained = explain_step(step, image, position=position, channel=channel)
        assert explained.value == pytest.approx(float(out[position][channel]), rel=1e-5, abs=1e-4)
        json.dumps(explained.to_dict(), allow_nan=False)  # plain data


def test_a_bank_explains_channel_c_times_k_plus_k():
    image = np.dstack([np.arange(16.0).reshape(4, 4), np.zeros((4, 4))])
    step = parse_step("filter", {"kernels": ["1 1", "1 -1"], "mode": "valid"})
    explained = explain_step(step, image, position=(0, 0), channel=1)  # colour 0, kernel 1: 0·(−1)+1·1 under flip
    assert explained.window.tolist() == [[0.0, 1.0]] and explained.weights.tolist() == [[-1.0, 1.0]]
    assert explained.value == 1.0


def test_nan_is_none_in_the_plain_data():
    step = parse_step("pool", {"op": "max", "size": 2, "padding": 1})
    data = explain_step(step, np.ones((3, 3)), position=(0, 0)).to_dict()
    assert data["kind"] == "pool" and data["window"][0] == [None, None] and data["value"] == 1.0


@pytest.mark.parametrize("call,message", [
    (lambda: explain_step(parse_step("crop", {"cropping": 1}), np.ones((4, 4)), position=(0, 0)),
     "moves values without computing them"),
    (lambda: explain_step(parse_step("pool", {"op": "max", "global": True}), np.ones((4, 4)), position=(0, 0)),
     "global pool"),
    (lambda: explain_step(parse_step("filter", {"kernel": "1 1"}), np.ones((4, 4, 2)), position=(0, 0), channel=2),
     "`channel` must be 0..1"),
    (lambda: explain_step(parse_step("rescale", {"scale": 2.0}), np.ones((4, 4)), position=(4, 0)),
     "outside the output, which is 4×4"),
    (lambda: explain_upsample(np.ones((2, 2)), position=(0, 0), factor=2, method="transpose"), "`method` must be"),
    (lambda: explain_conv2d(np.ones((3, 3)), np.ones((2, 2, 1, 2)), position=(0, 0), out_channel=2),
     "`out_channel` must be 0..1"),
    (lambda: explain_depthwise(np.ones((3, 3)), np.ones((2, 2)), position=(0, 0)), "`weights` must be a 4-D"),
    (lambda: explain_gradient(np.ones((3, 3)), position=(0, 0), component="angle"), "`component` must be one of"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
