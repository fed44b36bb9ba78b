"""convcli.animate.scenes: frame counts, windows, padding and values, each from the test's own
arithmetic (the output-size formulas, naive loops, SciPy)."""

import numpy as np
import pytest
from scipy import signal

from convcli.animate import (
    INPUT_FILL,
    MAX_FRAMES,
    PADDING_FILL,
    animation,
    conv_animation,
    pool_animation,
    transpose_animation,
    unpool_animation,
)
from convcli.drawing import value_colours, value_texts


def _out(n, k, s, p, d=1):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


@pytest.mark.parametrize("n,k,s,p,d", [(5, 3, 2, 1, 1), (5, 3, 1, 0, 1), (7, 3, 2, 2, 2), (6, 2, 3, 1, 1), (8, 4, 1, 0, 2)])
def test_conv_frames_are_the_output_cells_and_windows_follow_stride_and_dilation(n, k, s, p, d):
    a = conv_animation((n, n), kernel_size=k, stride=s, padding=p, dilation=d)
    out = _out(n, k, s, p, d)
    assert a.frame_count == out * out
    assert a.padding.shape == (n + 2 * p, n + 2 * p)
    for index, step in enumerate(a.steps):
        r, c = divmod(index, out)  # row-major
        assert step.output == (r, c)
        # The kernel's taps only: the dilation's gaps are not in the window.
        assert set(step.window) == {(r * s + i * d, c * s + j * d) for i in range(k) for j in range(k)}


def test_padding_cells_are_the_frame_around_the_input():
    a = conv_animation((3, 4), kernel_size=3, padding=(1, 2))
    expected = np.ones((5, 8), bool)
    expected[1:4, 2:6] = False
    np.testing.assert_array_equal(a.padding, expected)
    assert (a.input_fills[expected] == PADDING_FILL).all() and (a.input_fills[~expected] == INPUT_FILL).all()
    assert a.input_texts is None and a.output_texts is None  # a shape alone: no numbers


@pytest.mark.parametrize("correlate,before,after", [(True, 0, 1), (False, 1, 0)])
def test_even_kernel_same_split_shows_where_the_extra_padding_goes(correlate, before, after):
    # TF/Keras (correlation): P = 1 goes after; true convolution puts it before (scipy 'same').
    a = conv_animation((6, 6), kernel_size=2, mode="same", correlate=correlate)
    assert a.padding.shape == (7, 7) and a.frame_count == 36
    pad_rows = [i for i in range(7) if a.padding[i].all()]
    assert pad_rows == ([0] if before else [6])
    assert a.steps[0].window[0] == (0, 0)


def test_conv_values_are_the_filters_output_and_padding_shows_the_boundary():
    image = np.arange(20.0).reshape(4, 5)
    kernel = np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])
    a = conv_animation(image, kernel, boundary="reflect")
    padded = np.pad(image, 1, mode="reflect")
    assert a.input_texts == value_texts(padded)
    expected = signal.convolve2d(padded, kernel, mode="valid")
    assert a.output_texts == value_texts(expected)
    np.testing.assert_allclose(a.output_fills, value_colours(expected))
    assert a.steps[7].caption == f"output (1, 2) = sum(window * kernel rotated 180) = {value_texts(expected)[1][2]}"


def test_a_kernel_size_alone_numbers_the_input_but_not_the_output():
    a = conv_animation(np.array([[1.0, 2.0], [3.0, 4.0]]), kernel_size=2, mode="valid")
    assert a.input_texts == [["1", "2"], ["3", "4"]] and a.output_texts is None
    a = transpose_animation(np.array([[5.0]]), kernel_size=2, factor=2)
    assert a.input_texts == [["0", "0", "0"], ["0", "5", "0"], ["0", "0", "0"]] and a.output_texts is None


def test_pool_windows_winners_and_values_match_a_naive_loop():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 50, (5, 5)).astype(float)
    a = pool_animation(image, op="min", size=3, stride=2, padding=1)
    out = _out(5, 3, 2, 1)
    assert a.frame_count == out * out
    padded = np.full((7, 7), np.inf)
    padded[1:6, 1:6] = image
    expected = np.zeros((out, out))
    for index, step in enumerate(a.steps):
        r, c = divmod(index, out)
        cells = [(r * 2 + i, c * 2 + j) for i in range(3) for j in range(3)]
        assert list(step.window) == cells
        values = [padded[cell] for cell in cells]
        expected[r, c] = min(values)
        assert step.winner == cells[int(np.argmin(values))]  # the first of equal values, row-major
    assert a.output_texts == value_texts(expected)
    # Padding takes no part: no number in it.
    assert all(a.input_texts[i][j] == "" for i, j in zip(*np.nonzero(a.padding)))


def test_pool_ceil_draws_the_grown_padding():
    a = pool_animation((6, 6), size=3, stride=2, ceil=True)
    assert a.frame_count == 9 and a.padding.shape == (7, 7)  # ⌈(6 − 3)/2⌉ + 1 = 3, the last window 1 past


def test_transpose_inserts_zeros_between_inputs_then_pads_k_minus_1_minus_p():
    image = np.array([[1.0, 2.0], [3.0, 4.0]])
    kernel = np.arange(1.0, 10.0).reshape(3, 3)
    a = transpose_animation(image, kernel, factor=2)
    # out = (2 − 1)·2 + 3 = 5; the board is out + k − 1 = 7: 2 zeros, input, zero, input, 2 zeros.
    assert a.frame_count == 25 and a.padding.shape == (7, 7)
    real = {(2, 2), (2, 4), (4, 2), (4, 4)}
    assert {(int(i), int(j)) for i, j in zip(*np.nonzero(~a.padding))} == real
    assert all(a.input_texts[i][j] == "0" for i in range(7) for j in range(7) if (i, j) not in real)
    assert [a.input_texts[i][j] for i, j in sorted(real)] == ["1", "2", "3", "4"]
    # The scatter definition (torch conv_transpose2d), written as a loop.
    expected = np.zeros((5, 5))
    for i in range(2):
        for j in range(2):
            expected[i * 2:i * 2 + 3, j * 2:j * 2 + 3] += image[i, j] * kernel
    assert a.output_texts == value_texts(expected)
    assert a.steps[6].window == tuple((1 + i, 1 + j) for i in range(3) for j in range(3))


def test_transpose_padding_above_k_minus_1_crops_the_board():
    a = transpose_animation((3, 3), kernel_size=2, factor=2, padding=1)
    # out = 2·2 − 2 + 2 = 4; board 5; lead k − 1 − p = 0.
    assert a.frame_count == 16 and a.padding.shape == (5, 5)
    assert not a.padding[0, 0] and not a.padding[2, 2] and a.padding[1, 1]


def test_unpool_places_each_maximum_where_it_was():
    image = np.array([[1.0, 5, 2, 0], [4, 3, 9, 1], [7, 8, 2, 2], [0, 1, 3, 6]])
    a = unpool_animation(image, size=2)
    assert a.frame_count == 4
    assert [step.output for step in a.steps] == [(0, 1), (1, 2), (2, 1), (3, 3)]
    assert a.steps[1].source == ((0, 2), (0, 3), (1, 2), (1, 3))
    expected = np.zeros((4, 4))
    for r, c in [(0, 1), (1, 2), (2, 1), (3, 3)]:
        expected[r, c] = image[r, c]
    assert a.output_texts == value_texts(expected)


@pytest.mark.parametrize("call,message", [
    (lambda: conv_animation((40, 5), kernel_size=3), "at most 32×32"),
    (lambda: conv_animation((30, 30), kernel_size=3), f"more than {MAX_FRAMES}"),
    (lambda: conv_animation((5, 5)), "give `kernel` (its values) or `kernel_size`"),
    (lambda: conv_animation((3, 3), kernel_size=5, mode="valid"), "leaves no output"),
    (lambda: conv_animation(np.zeros((4, 4, 3)), "box3"), "one channel"),
    (lambda: pool_animation((4, 4)), "`size` is needed"),
    (lambda: pool_animation((4, 4), size=2, op="mode"), "`op` must be one of"),
    (lambda: unpool_animation((4, 4), size=2), "needs values"),
    (lambda: transpose_animation((2, 2), kernel_size=2, factor=2, padding=(0, 5, 0, 0)), "removes every output"),
    (lambda: animation("warp", (4, 4)), "`op` must be one of conv, pool, transpose, unpool"),
])
def test_bad_input_is_one_clear_value_error(call, message):
    with pytest.raises(ValueError, match=None) as error:
        call()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_an_unknown_keyword_is_refused():
    with pytest.raises(TypeError, match="unexpected keyword argument 'strides'"):
        conv_animation((4, 4), kernel_size=2, strides=2)
