"""convcli.explain: an output value written out equals the value the ops computed (random geometries,
random positions), and small cases worked by hand."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convcli.errors import GeometryError
from convcli.explain import explain_filter, explain_pool
from convcli.ops.filter import filter2d
from convcli.ops.pool import pool2d

BOUNDARY_NAMES = ("zero", "constant", "reflect", "symmetric", "edge", "wrap")


@st.composite
def filter_cases(draw):
    rows, cols = draw(st.integers(3, 9)), draw(st.integers(3, 9))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    image = draw(st.lists(st.integers(-9, 9), min_size=rows * cols, max_size=rows * cols))
    kernel = draw(st.lists(st.integers(-3, 3), min_size=kh * kw, max_size=kh * kw))
    options = {
        "stride": (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        "dilation": (draw(st.integers(1, 2)), draw(st.integers(1, 2))),
        "correlate": draw(st.booleans()),
        "boundary": draw(st.sampled_from(BOUNDARY_NAMES)),
    }
    if options["boundary"] == "constant":
        options["cval"] = draw(st.integers(-5, 5))
    if draw(st.booleans()):
        options["padding"] = tuple(draw(st.integers(0, 2)) for _ in range(4))
    else:
        options["mode"] = draw(st.sampled_from(["same", "valid", "full"]))
    return (np.array(image, float).reshape(rows, cols), np.array(kernel, float).reshape(kh, kw), options,
            draw(st.integers(0, 10 ** 6)))


@given(filter_cases())
def test_a_filter_explanation_sums_to_the_computed_output(case):
    image, kernel, options, pick = case
    try:
        out = filter2d(image, kernel, **options)
    except (GeometryError, ValueError):  # no output (valid on a small image) or a boundary that cannot pad
        return
    position = divmod(pick % out.size, out.shape[1])
    explained = explain_filter(image, kernel, position=position, **options)
    assert explained.value == pytest.approx(float(out[position]), abs=1e-9)
    assert (explained.products == explained.window * explained.weights).all()


@st.composite
def pool_cases(draw):
    rows, cols = draw(st.integers(2, 9)), draw(st.integers(2, 9))
    image = draw(st.lists(st.integers(-9, 9), min_size=rows * cols, max_size=rows * cols))
    ky, kx = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    options = {"op": draw(st.sampled_from(["max", "avg", "min", "sum", "median"])), "size": (ky, kx),
               "stride": (draw(st.integers(1, 3)), draw(st.integers(1, 3)))}
    if draw(st.booleans()):
        options["padding"] = (draw(st.integers(0, ky // 2)), draw(st.integers(0, kx // 2)))
        options["ceil"] = draw(st.booleans())
        options["count_include_pad"] = options["op"] == "avg" and draw(st.booleans())
    else:
        options["mode"] = draw(st.sampled_from(["valid", "same"]))
    return np.array(image, float).reshape(rows, cols), options, draw(st.integers(0, 10 ** 6))


@given(pool_cases())
def test_a_pool_explanation_is_the_computed_output(case):
    image, options, pick = case
    try:
        out = pool2d(image, **options)
    except (GeometryError, ValueError):
        return
    position = divmod(pick % out.size, out.shape[1])
    explained = explain_pool(image, position=position, **options)
    assert explained.value == pytest.approx(float(out[position]), abs=1e-9)
    if explained.winner is not None:
        assert image[explained.winner] == explained.value


def test_convolution_reads_the_window_with_the_kernel_rotated():
    image = np.arange(16.0).reshape(4, 4)
    kernel = np.array([[1.0, 2.0], [3.0, 4.0]])
    explained = explain_filter(image, kernel, position=(1, 2), mode="valid", stride=1)
    assert explained.rows == (1, 2) and explained.cols == (2, 3)
    np.testing.assert_array_equal(explained.weights, [[4.0, 3.0], [2.0, 1.0]])
    # 6·4 + 7·3 + 10·2 + 11·1 = 76
    assert explained.value == 76.0 == float(filter2d(image, kernel, mode="valid")[1, 2])


def test_dilation_spreads_the_taps_and_padding_is_marked():
    explained = explain_filter(np.ones((5, 5)), np.ones((3, 3)), position=(0, 0), mode="same", dilation=2,
                               correlate=True)
    assert explained.rows == (-2, 0, 2) and explained.cols == (-2, 0, 2)
    assert explained.padded.sum() == 5 and explained.value == 4.0


def test_avg_pool_with_the_padded_window_counted():
    image = np.full((2, 2), 8.0)
    explained = explain_pool(image, position=(0, 0), op="avg", size=2, padding=1, count_include_pad=True)
    assert explained.count == 4 and explained.value == 2.0  # one real 8 over the 2×2 window


@pytest.mark.parametrize("call,message", [
    (lambda: explain_filter(np.ones((3, 3)), np.ones((2, 2)), position=(3, 0)), "outside the output"),
    (lambda: explain_filter(np.ones((3, 3, 2)), np.ones((2, 2)), position=(0, 0), channel=2), "`channel` must be 0..1"),
    (lambda: explain_filter(np.ones((3, 3)), np.ones((2, 2)), position=(0, 0), channel=1), "`channel` must be 0"),
    (lambda: explain_pool(np.ones((3, 3)), position=(0, 0), op="mean", size=2), "`op` must be one of"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_options_are_the_ops_keywords():
    with pytest.raises(TypeError, match="explain_filter\\(\\) got an unexpected keyword argument 'strides'"):
        explain_filter(np.ones((3, 3)), np.ones((2, 2)), position=(0, 0), strides=2)
    with pytest.raises(TypeError, match="needs `size`"):
        explain_pool(np.ones((3, 3)), position=(0, 0), op="max")
