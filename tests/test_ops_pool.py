"""pool2d, global_pool and max_unpool against a slow loop of the torch/Keras formulas, scikit-image
(block_reduce, view_as_blocks, view_as_windows) and hand-computed examples.

Dtype rule: max and min of integers (and bool) keep the input dtype; every other result has dtype
``np.result_type(input, np.float32)`` (float32 for 8- and 16-bit input) and, for integer input, is the
exact value rounded once: ``np.float32(exact_mean)``."""

import itertools
import math
import statistics

import numpy as np
import pytest
from skimage.color import rgb2gray
from skimage.data import astronaut
from skimage.measure import block_reduce
from skimage.util import view_as_blocks, view_as_windows

from convcli.errors import GeometryError
from convcli.ops.pool import POOL_OPS, global_pool, max_unpool, pool2d

RNG = np.random.default_rng(11)


# --------------------------------------------------------------------------------------------------
# The slow reference: one output pixel at a time, the formulas written out as torch and Keras give them.


def ref_axis(n, k, s, mode, ceil, pad):
    """(out, before) along one axis.

    torch (max_pool2d / avg_pool2d, padding p on both sides; here before/after):
        out = ⌊(n + pb + pa − k)/s⌋ + 1, or ⌈…⌉ + 1 with ceil_mode, and then
        "the last pooling starts inside the image": if (out − 1)·s >= n + pb: out −= 1.
    Keras padding='same': out = ⌈n/s⌉, P = max((out − 1)·s + k − n, 0), before = ⌊P/2⌋.
    """
    if pad is None and mode == "same":
        out = math.ceil(n / s)
        total = max((out - 1) * s + k - n, 0)
        return out, total // 2
    before, after = pad if pad is not None else (0, 0)
    if ceil:
        out = math.ceil((n + before + after - k) / s) + 1
        if (out - 1) * s >= n + before:
            out -= 1
    else:
        out = (n + before + after - k) // s + 1
    return out, before


def as_pads(padding):
    if padding is None:
        return None, None
    if isinstance(padding, int):
        return (padding, padding), (padding, padding)
    if len(padding) == 2:
        return (padding[0], padding[0]), (padding[1], padding[1])
    return (padding[0], padding[1]), (padding[2], padding[3])


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def slow_pool(x, op, size, stride=None, mode="valid", ceil=False, padding=None, indices=False):
    """Collect the real pixels of every window (row-major) and reduce them in plain Python."""
    ky, kx = pair(size)
    sy, sx = pair(stride) if stride is not None else (ky, kx)
    prow, pcol = as_pads(padding)
    x3 = x if x.ndim == 3 else x[:, :, None]
    h, w, c = x3.shape
    oh, top = ref_axis(h, ky, sy, mode, ceil, prow)
    ow, left = ref_axis(w, kx, sx, mode, ceil, pcol)
    keep = op in ("max", "min") and x.dtype.kind in "uib"
    # Computed in Python floats (float64, fsum: exact sums), then rounded once to the result dtype.
    out = np.zeros((oh, ow, c), dtype=x.dtype if keep else np.result_type(x.dtype, np.float32))
    where = np.zeros((oh, ow, c), dtype=np.int64)
    for i, j, ch in itertools.product(range(oh), range(ow), range(c)):
        cells = [
            (r, q)
            for r in range(i * sy - top, i * sy - top + ky)
            for q in range(j * sx - left, j * sx - left + kx)
            if 0 <= r < h and 0 <= q < w
        ]
        assert cells, "every window holds a real pixel"
        vals = [x3[r, q, ch] for r, q in cells]
        if op == "max":
            best = max(vals)
            out[i, j, ch] = best
            where[i, j, ch] = next(r * w + q for (r, q), v in zip(cells, vals) if v == best)
        elif op == "min":
            out[i, j, ch] = min(vals)
        elif op == "sum":
            out[i, j, ch] = math.fsum(float(v) for v in vals)
        elif op == "avg":
            out[i, j, ch] = math.fsum(float(v) for v in vals) / len(vals)
        else:
            out[i, j, ch] = statistics.median(float(v) for v in vals)
    if x.ndim == 2:
        out, where = out[:, :, 0], where[:, :, 0]
    return (out, where) if indices else out


def check_equal(got, expected, op):
    """max/min exactly; float32 results (integer input here) exactly too: the exact value rounded once."""
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype
    if op in ("max", "min") or got.dtype == np.float32:
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


GEOMETRIES = {
    "valid-2": dict(size=2),
    "valid-3-s2": dict(size=3, stride=2),
    "valid-3-s1": dict(size=3, stride=1),
    "valid-2x3-s1x2": dict(size=(2, 3), stride=(1, 2)),
    "valid-2-s3-gaps": dict(size=2, stride=3),
    "valid-1": dict(size=1),
    "ceil-2": dict(size=2, ceil=True),
    "ceil-3-s2": dict(size=3, stride=2, ceil=True),
    "ceil-4x2-s3x4": dict(size=(4, 2), stride=(3, 4), ceil=True),
    "same-2": dict(size=2, mode="same"),
    "same-3-s2": dict(size=3, stride=2, mode="same"),
    "same-4-s1": dict(size=4, stride=1, mode="same"),
    "same-5x2-s3x1": dict(size=(5, 2), stride=(3, 1), mode="same"),
    "pad-1-3-s1": dict(size=3, stride=1, padding=1),
    "pad-rc-2-s2": dict(size=2, stride=2, padding=(1, 0)),
    "pad-4-asym": dict(size=(3, 4), stride=(2, 3), padding=(0, 1, 2, 1)),
    "pad-4-ceil": dict(size=3, stride=2, padding=(1, 0, 0, 1), ceil=True),
    "pad-ceil-last-window-rule": dict(size=2, padding=1, ceil=True),  # torch drops a window here
}

DTYPES = {
    "uint8": lambda shape: RNG.integers(0, 256, shape).astype(np.uint8),
    "uint8-ties": lambda shape: RNG.integers(0, 3, shape).astype(np.uint8),
    "int16": lambda shape: RNG.integers(-300, 300, shape).astype(np.int16),
    "float64": lambda shape: RNG.normal(size=shape),
}


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("op", POOL_OPS)
def test_every_op_mode_and_dtype_equals_the_slow_loop(op, dtype, geometry):
    image = DTYPES[dtype]((7, 9))
    kwargs = GEOMETRIES[geometry]
    check_equal(pool2d(image, op=op, **kwargs), slow_pool(image, op, **kwargs), op)


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
@pytest.mark.parametrize("op", POOL_OPS)
def test_colour_is_pooled_channel_by_channel(op, geometry):
    image = RNG.integers(0, 256, (8, 7, 3)).astype(np.uint8)
    kwargs = GEOMETRIES[geometry]
    got = pool2d(image, op=op, **kwargs)
    check_equal(got, slow_pool(image, op, **kwargs), op)
    for ch in range(3):
        check_equal(got[..., ch], pool2d(image[..., ch], op=op, **kwargs), op)


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_return_indices_equal_the_slow_loop(dtype, geometry):
    image = DTYPES[dtype]((7, 9, 2))
    kwargs = GEOMETRIES[geometry]
    values, indices = pool2d(image, op="max", return_indices=True, **kwargs)
    expected_values, expected_indices = slow_pool(image, "max", indices=True, **kwargs)
    check_equal(values, expected_values, "max")
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_array_equal(values, pool2d(image, op="max", **kwargs))


# --------------------------------------------------------------------------------------------------
# scikit-image references


@pytest.mark.parametrize(
    "op,func",
    [("max", np.max), ("min", np.min), ("avg", np.mean), ("sum", np.sum), ("median", np.median)],
)
@pytest.mark.parametrize("block", [(2, 2), (3, 5), (4, 3), (1, 6)])
def test_non_overlapping_equals_block_reduce(op, func, block):
    image = RNG.integers(0, 256, (12, 15)).astype(np.uint8)
    # block_reduce pads a partial block at the end; valid pooling drops it: compare the full blocks.
    oh, ow = 12 // block[0], 15 // block[1]
    expected = block_reduce(image, block, func=func)[:oh, :ow]
    got = pool2d(image, op=op, size=block)
    if op in ("max", "min"):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, expected)
    else:  # block_reduce works in float64 (sums in uint64): rounded once to float32, exactly
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected.astype(np.float32))


def test_colour_astronaut_equals_block_reduce_per_channel():
    rgb = astronaut()
    got = pool2d(rgb, op="avg", size=(4, 8))
    assert got.shape == (128, 64, 3)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, block_reduce(rgb, (4, 8, 1), func=np.mean).astype(np.float32))
    np.testing.assert_array_equal(pool2d(rgb, op="max", size=4), block_reduce(rgb, (4, 4, 1), func=np.max))


def test_grey_astronaut_overlapping_min_equals_view_as_windows():
    gray = rgb2gray(astronaut())
    got = pool2d(gray, op="min", size=4, stride=2)
    assert got.shape == (255, 255) and got.dtype == np.float64
    np.testing.assert_array_equal(got, view_as_windows(gray, (4, 4), 2).min(axis=(2, 3)))


def test_grey_astronaut_block_max_equals_view_as_blocks():
    gray = rgb2gray(astronaut())
    got = pool2d(gray, op="max", size=4)
    assert got.shape == (128, 128)
    np.testing.assert_array_equal(got, view_as_blocks(gray, (4, 4)).max(axis=(2, 3)))


@pytest.mark.parametrize("op,func", [("avg", np.mean), ("median", np.median), ("sum", np.sum), ("max", np.max)])
def test_grey_astronaut_overlapping_windows(op, func):
    gray = rgb2gray(astronaut())[:100, :90]
    expected = func(view_as_windows(gray, (5, 3), (3, 2)), axis=(2, 3))
    np.testing.assert_allclose(pool2d(gray, op=op, size=(5, 3), stride=(3, 2)), expected, rtol=1e-12)


# --------------------------------------------------------------------------------------------------
# Hand-computed examples (PyTorch and Keras documentation style)


def test_torch_ceil_mode_5x5_k2_s2():
    x = np.arange(25).reshape(5, 5)
    # floor: 2×2; ceil: 3×3, the last row/column of windows holds one input row/column.
    np.testing.assert_array_equal(pool2d(x, size=2), [[6, 8], [16, 18]])
    np.testing.assert_array_equal(pool2d(x, size=2, ceil=True), [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    np.testing.assert_array_equal(
        pool2d(x, op="avg", size=2, ceil=True), [[3, 5, 6.5], [13, 15, 16.5], [20.5, 22.5, 24]]
    )
    np.testing.assert_array_equal(pool2d(x, op="sum", size=2, ceil=True), [[12, 20, 13], [52, 60, 33], [41, 45, 24]])
    np.testing.assert_array_equal(pool2d(x, op="min", size=2, ceil=True), [[0, 2, 4], [10, 12, 14], [20, 22, 24]])


def test_torch_ceil_rule_last_window_must_start_inside():
    # 4 wide, k=2, s=2, padding 1: ⌈(4 + 2 − 2)/2⌉ + 1 = 3, and window 2 starts at 2·2 − 1 = 3:
    # inside, kept. 5 wide: ⌈(5 + 2 − 2)/2⌉ + 1 = 4, but window 3 would start at 3·2 − 1 = 5 = the
    # trailing padding: dropped, 3 outputs (torch gives 3 too).
    assert pool2d(np.ones((4, 4)), size=2, padding=1, ceil=True).shape == (3, 3)
    assert pool2d(np.ones((5, 5)), size=2, padding=1, ceil=True).shape == (3, 3)
    x = np.arange(1.0, 6.0)[None, :].repeat(2, axis=0)  # 2×5, rows equal
    np.testing.assert_array_equal(pool2d(x, op="avg", size=(1, 2), padding=(0, 1), ceil=True), [[1, 2.5, 4.5]] * 2)


def test_torch_ceil_mode_window_wider_than_the_input():
    # Issue 10, by hand from torch's formula: 9×1, k=4, ceil: rows ⌈5/4⌉ + 1 = 3, cols ⌈−3/4⌉ + 1 = 1;
    # every window starts inside the input; only its in-input cells take part.
    x = np.arange(1.0, 10.0).reshape(9, 1)
    np.testing.assert_array_equal(pool2d(x, size=4, ceil=True), [[4], [8], [9]])
    np.testing.assert_array_equal(pool2d(x, op="avg", size=4, ceil=True), [[2.5], [6.5], [9]])
    np.testing.assert_array_equal(pool2d(x, op="median", size=4, ceil=True), [[2.5], [6.5], [9]])
    values, indices = pool2d(x, size=4, ceil=True, return_indices=True)
    np.testing.assert_array_equal(indices, [[3], [7], [8]])
    np.testing.assert_array_equal(max_unpool(values, indices, output_shape=x.shape).ravel(),
                                  [0, 0, 0, 4, 0, 0, 0, 8, 9])
    # 1×1, k=4, s=3, padding (2, 1): rows ⌈1/3⌉ + 1 = 2, but window 2 starts at 3 − 2 = 1, past the input → 1.
    np.testing.assert_array_equal(pool2d(np.array([[5.0]]), size=4, stride=3, padding=(2, 1), ceil=True), [[5.0]])
    with pytest.raises(GeometryError):  # ⌊−3/4⌋ + 1 = 0 without ceil, as torch
        pool2d(x, size=4)
    with pytest.raises(GeometryError):  # ⌈−5/4⌉ + 1 = 0 even with ceil, as torch
        pool2d(np.ones((1, 1)), size=6, stride=4, ceil=True)


def test_count_include_pad_divides_as_torch():
    # torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=True): the corner is (1 + 2 + 4 + 5)/9
    x = np.arange(1.0, 10.0).reshape(3, 3)
    np.testing.assert_allclose(pool2d(x, op="avg", size=3, stride=1, padding=1, count_include_pad=True),
                               [[12 / 9, 21 / 9, 16 / 9], [27 / 9, 5, 33 / 9], [24 / 9, 39 / 9, 28 / 9]])
    # ceil: 1×6 row, window (1, 3), stride (1, 2), padding (0, 1): windows start −1, 1, 3, 5; the
    # last ends at min(5 + 3, 6 + 1) = 7 (torch's hend = min(hstart + k, W + pad)), so its divisor
    # is 2 (the pixel 6 and one padded cell), not 3 and not 1.
    row = np.arange(1.0, 7.0)[None, :]
    np.testing.assert_array_equal(pool2d(row, op="avg", size=(1, 3), stride=(1, 2), padding=(0, 1), ceil=True,
                                         count_include_pad=True), [[1, 3, 5, 3]])
    np.testing.assert_array_equal(pool2d(row, op="avg", size=(1, 3), stride=(1, 2), padding=(0, 1), ceil=True),
                                  [[1.5, 3, 5, 6]])
    # without padding it changes nothing, even for ceil windows running past the input
    np.testing.assert_array_equal(pool2d(row, op="avg", size=(1, 4), ceil=True, count_include_pad=True),
                                  [[2.5, 5.5]])
    with pytest.raises(ValueError, match="`count_include_pad` needs op='avg'"):
        pool2d(x, op="max", size=2, count_include_pad=True)


def test_padding_count_include_pad_false():
    x = np.arange(1.0, 10.0).reshape(3, 3)
    expected_avg = [[3, 3.5, 4], [4.5, 5, 5.5], [6, 6.5, 7]]  # corner = (1 + 2 + 4 + 5)/4
    np.testing.assert_array_equal(pool2d(x, op="avg", size=3, stride=1, padding=1), expected_avg)
    counts = [[4, 6, 4], [6, 9, 6], [4, 6, 4]]
    np.testing.assert_array_equal(pool2d(np.ones((3, 3)), op="sum", size=3, stride=1, padding=1), counts)


def test_padding_never_wins_max_min_or_median():
    neg = np.full((3, 3), -5, dtype=np.int8)
    np.testing.assert_array_equal(pool2d(neg, size=3, stride=1, padding=1), np.full((3, 3), -5))
    assert pool2d(neg, size=3, stride=1, padding=1).dtype == np.int8
    high = np.full((3, 3), 200, dtype=np.uint8)
    np.testing.assert_array_equal(pool2d(high, op="min", size=2, stride=1, mode="same"), np.full((3, 3), 200))
    x = np.array([[10, 10, 0], [10, 10, 0], [0, 0, 0]], dtype=np.uint8)
    # corner window: 4 real pixels, all 10 (with zero padding counted it would be 0)
    np.testing.assert_array_equal(
        pool2d(x, op="median", size=3, stride=1, padding=1), [[10, 10, 5], [10, 0, 0], [5, 0, 0]]
    )


def test_keras_same_and_valid_examples():
    # keras.layers.MaxPooling2D documentation: pool 2×2, strides 1.
    x = np.array([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]])
    np.testing.assert_array_equal(pool2d(x, size=2, stride=1), [[5, 6], [8, 9]])
    np.testing.assert_array_equal(pool2d(x, size=2, stride=1, mode="same"), [[5, 6, 6], [8, 9, 9], [8, 9, 9]])
    # 3×4, pool 2×2, strides 2, valid → 1×2
    y = np.arange(1.0, 13.0).reshape(3, 4)
    np.testing.assert_array_equal(pool2d(y, size=2), [[6, 8]])
    # Keras AveragePooling2D 'same' averages the real pixels only (TensorFlow's avg_pool).
    np.testing.assert_array_equal(pool2d(y, op="avg", size=2, mode="same"), [[3.5, 5.5], [9.5, 11.5]])


def test_same_padding_split_floor_before():
    # 6 wide, k=4, s=1: P = 3, 1 before, 2 after: out[0] sees x[0:3], out[5] sees x[4:6].
    x = np.array([[1.0, 2, 3, 4, 5, 6]])
    np.testing.assert_array_equal(pool2d(x, op="sum", size=(1, 4), stride=1, mode="same"), [[6, 10, 14, 18, 15, 11]])


# --------------------------------------------------------------------------------------------------
# Dtypes


def test_max_min_of_integers_are_exact_in_the_input_dtype():
    big = np.array([[2**62 + 1, 2**62 + 3], [2**62 + 2, -(2**62) - 1]], dtype=np.int64)
    assert float(2**62 + 1) == float(2**62 + 3)  # a float round trip would lose these
    got_max = pool2d(big, size=2, padding=1, stride=1)
    assert got_max.dtype == np.int64
    assert got_max[1, 1] == 2**62 + 3 and got_max[0, 0] == 2**62 + 1
    assert pool2d(big, op="min", size=2)[0, 0] == -(2**62) - 1
    u16 = np.array([[65535, 65534], [1, 0]], dtype=np.uint16)
    assert pool2d(u16, size=2, padding=1, stride=1).dtype == np.uint16
    np.testing.assert_array_equal(pool2d(u16, op="min", size=(1, 2), stride=1, mode="same"), [[65534, 65534], [0, 0]])


@pytest.mark.parametrize(
    "dtype",
    [bool, np.uint8, np.int8, np.uint16, np.int16, np.int32, np.uint32, np.int64, np.uint64,
     np.float16, np.float32, np.float64],
)
@pytest.mark.parametrize("op", POOL_OPS)
def test_result_dtypes(op, dtype):
    image = (np.arange(16).reshape(4, 4) % (2 if dtype is bool else 16)).astype(dtype)
    keep = op in ("max", "min") and (np.issubdtype(dtype, np.integer) or dtype is bool)
    expected = np.dtype(dtype) if keep else np.result_type(dtype, np.float32)
    assert pool2d(image, op=op, size=2).dtype == expected
    assert pool2d(image, op=op, size=3, stride=1, mode="same").dtype == expected
    assert global_pool(image, op=op).dtype == expected


def test_dtype_rule_hand_examples():
    u8 = np.array([[1, 2], [3, 5]], dtype=np.uint8)
    avg = pool2d(u8, op="avg", size=2)
    assert avg.dtype == np.float32 and avg.tolist() == [[2.75]]
    assert pool2d(u8, op="sum", size=2).dtype == np.float32
    assert pool2d(u8, op="median", size=2).dtype == np.float32
    top = pool2d(u8, op="max", size=2)
    assert top.dtype == np.uint8 and top.tolist() == [[5]]
    for wide in (np.float64, np.int64, np.int32, np.uint32):
        got = pool2d(u8.astype(wide), op="avg", size=2)
        assert got.dtype == np.float64 and got.tolist() == [[2.75]], wide
    assert pool2d(u8.astype(np.int64), op="max", size=2).dtype == np.int64
    assert pool2d(u8.astype(np.float32), op="max", size=2).dtype == np.float32
    assert pool2d(u8.astype(np.float16), op="min", size=2).dtype == np.float32
    i8 = -u8.astype(np.int8)
    assert pool2d(i8, op="avg", size=2).tolist() == [[-2.75]] and pool2d(i8, op="min", size=2).dtype == np.int8
    third = pool2d(np.array([[1, 0, 0]], dtype=np.uint8), op="avg", size=(1, 3))
    assert third.dtype == np.float32 and third[0, 0] == np.float32(1 / 3)
    assert global_pool(u8).dtype == np.float32 and global_pool(u8).tolist() == [[2.75]]
    assert global_pool(u8, op="max").dtype == np.uint8
    assert global_pool(u8.astype(np.int64)).dtype == np.float64
    assert global_pool(u8.astype(np.float64), op="sum").dtype == np.float64


def exact_reference(x, op, size, stride=None, ceil=False, padding=None):
    """sum / avg of integer images, written independently: each window's real pixels summed in int64
    (exact), one float64 division by their number, then one rounding to the result dtype."""
    ky, kx = pair(size)
    sy, sx = pair(stride) if stride is not None else (ky, kx)
    prow, pcol = as_pads(padding)
    h, w = x.shape[:2]
    oh, top = ref_axis(h, ky, sy, "valid", ceil, prow)
    ow, left = ref_axis(w, kx, sx, "valid", ceil, pcol)
    out = np.zeros((oh, ow) + x.shape[2:], dtype=np.float64)
    for i in range(oh):
        r0, r1 = max(i * sy - top, 0), min(i * sy - top + ky, h)
        for j in range(ow):
            c0, c1 = max(j * sx - left, 0), min(j * sx - left + kx, w)
            total = x[r0:r1, c0:c1].sum(axis=(0, 1), dtype=np.int64)
            out[i, j] = total / ((r1 - r0) * (c1 - c0)) if op == "avg" else total
    return out.astype(np.result_type(x.dtype, np.float32))


EXACT_DTYPES = {"uint8": np.uint8, "uint16": np.uint16, "int16": np.int16}
EXACT_GEOMETRIES = {
    "2": dict(size=2),
    "3": dict(size=3),
    "3-s2": dict(size=3, stride=2),
    "2-s1": dict(size=2, stride=1),
    "2-ceil": dict(size=2, ceil=True),
    "3-s2-ceil": dict(size=3, stride=2, ceil=True),
    "3-s2-pad1-ceil": dict(size=3, stride=2, padding=1, ceil=True),
    "4x3-s3x2-pad": dict(size=(4, 3), stride=(3, 2), padding=(2, 1)),
    "2-same": dict(size=2, mode="same"),
}


@pytest.mark.parametrize("shape", [(64, 64), (33, 31), (7, 9), (9, 8, 3)], ids=str)
@pytest.mark.parametrize("geometry", EXACT_GEOMETRIES, ids=str)
@pytest.mark.parametrize("dtype", EXACT_DTYPES, ids=str)
@pytest.mark.parametrize("op", ["avg", "sum"])
def test_sums_and_means_of_integers_are_exact_then_rounded_once(op, dtype, geometry, shape):
    info = np.iinfo(EXACT_DTYPES[dtype])
    image = RNG.integers(int(info.min), int(info.max) + 1, shape).astype(EXACT_DTYPES[dtype])
    kwargs = dict(EXACT_GEOMETRIES[geometry])
    if kwargs.pop("mode", None) == "same":  # Keras same, written as the explicit padding it makes here
        kwargs["padding"] = (0, shape[0] % 2, 0, shape[1] % 2)
        got = pool2d(image, op=op, mode="same", size=kwargs["size"])
    else:
        got = pool2d(image, op=op, **kwargs)
    expected = exact_reference(image, op, **kwargs)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("shape", [(2048, 1030), (1101, 999), (600, 500, 3)], ids=str)
def test_2x2_uint8_avg_of_large_images_over_many_bands(shape):
    image = RNG.integers(0, 256, shape).astype(np.uint8)
    h, w = shape[0] // 2 * 2, shape[1] // 2 * 2
    blocks = image[:h, :w].reshape((h // 2, 2, w // 2, 2) + shape[2:])
    sums = blocks.sum(axis=(1, 3), dtype=np.int64)
    avg = pool2d(image, op="avg", size=2)
    assert avg.dtype == np.float32
    np.testing.assert_array_equal(avg, (sums / 4).astype(np.float32))
    np.testing.assert_array_equal(pool2d(image, op="sum", size=2), sums.astype(np.float32))
    np.testing.assert_array_equal(pool2d(image, op="max", size=2), blocks.max(axis=(1, 3)))
    ceil = pool2d(image, op="avg", size=2, ceil=True)
    np.testing.assert_array_equal(ceil[: h // 2, : w // 2], avg)
    if shape[1] % 2:  # the last column of windows holds one image column
        last = image[:h, -1].reshape((h // 2, 2) + shape[2:]).sum(axis=1, dtype=np.int64)
        np.testing.assert_array_equal(ceil[: h // 2, -1], (last / 2).astype(np.float32))


def test_large_windows_add_exactly_where_float32_would_not():
    rng = np.random.default_rng(2024)
    image = rng.integers(0, 65536, (128, 128)).astype(np.uint16)
    exact = image.reshape(2, 64, 2, 64).sum(axis=(1, 3), dtype=np.int64)
    assert exact.min() > 2**24  # beyond float32's exact integers
    # What adding in float32, tap by tap (rows, then columns), would give: wrong here.
    rows = np.zeros((2, 128), dtype=np.float32)
    for a in range(64):
        rows += image[a::64]
    naive = np.zeros((2, 2), dtype=np.float32)
    for b in range(64):
        naive += rows[:, b::64]
    expected_avg = (exact / 4096).astype(np.float32)
    assert not np.array_equal(naive / np.float32(4096), expected_avg)
    assert not np.array_equal(naive, exact.astype(np.float32))
    avg = pool2d(image, op="avg", size=64)
    assert avg.dtype == np.float32
    np.testing.assert_array_equal(avg, expected_avg)
    np.testing.assert_array_equal(pool2d(image, op="sum", size=64), exact.astype(np.float32))
    np.testing.assert_array_equal(global_pool(image[:64, :64]), expected_avg[:1, :1])
    np.testing.assert_array_equal(global_pool(image[:64, :64], op="sum"), exact[:1, :1].astype(np.float32))
    # Windows of uint16 65535: the mean is 65535 exactly, the sum 65535·4096.
    full = np.full((64, 64), 65535, dtype=np.uint16)
    assert pool2d(full, op="avg", size=64).item() == 65535.0
    assert pool2d(full, op="sum", size=64).item() == 65535 * 4096
    assert global_pool(full).item() == 65535.0
    # int16 extremes: window sums far beyond int16 (int32 here), means exact.
    signed = np.full((64, 64), -32768, dtype=np.int16)
    signed[0, 0] = 32767
    mean = (-32768 * 4095 + 32767) / 4096
    assert pool2d(signed, op="avg", size=64).item() == np.float32(mean)
    assert pool2d(signed, op="avg", size=64, stride=1, padding=32).dtype == np.float32


def test_int64_sums_beyond_int64_fall_back_to_float64():
    big = np.full((4, 4), 2**62, dtype=np.int64)
    assert pool2d(big, op="avg", size=4).item() == 2.0**62
    assert pool2d(big, op="sum", size=4).item() == 2.0**66
    assert global_pool(big, op="sum").item() == 2.0**66
    huge = np.full((3, 3), 2**64 - 1, dtype=np.uint64)
    assert pool2d(huge, op="avg", size=3).item() == 2.0**64


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
@pytest.mark.parametrize("op", POOL_OPS)
def test_one_output_row_per_band_gives_the_same_results(monkeypatch, op, geometry):
    import convcli.ops.pool as pool

    kwargs = GEOMETRIES[geometry]
    images = [DTYPES["uint8"]((7, 9)), DTYPES["int16"]((8, 7, 3)), DTYPES["float64"]((9, 8))]
    before = [pool2d(image, op=op, **kwargs) for image in images]
    monkeypatch.setattr(pool, "_BAND_BYTES", 1)
    for image, whole in zip(images, before):
        banded = pool2d(image, op=op, **kwargs)
        assert banded.dtype == whole.dtype
        np.testing.assert_array_equal(banded, whole)
        check_equal(banded, slow_pool(image, op, **kwargs), op)


def test_avg_of_uint8_does_not_overflow_or_round():
    x = np.full((4, 4), 255, dtype=np.uint8)
    x[0, 0] = 254
    np.testing.assert_array_equal(pool2d(x, op="sum", size=4), [[4079.0]])
    np.testing.assert_array_equal(pool2d(x, op="avg", size=4), [[4079 / 16]])


def test_bool_images_keep_bool_for_max_and_min():
    mask = np.array([[True, False], [False, False]])
    assert pool2d(mask, size=2).tolist() == [[True]]
    assert pool2d(mask, op="min", size=2, padding=1, stride=1).tolist() == [[True, False, False]] + [[False] * 3] * 2
    np.testing.assert_array_equal(pool2d(mask, op="avg", size=2), [[0.25]])


def test_nan_propagates_and_raises_no_warning():
    x = np.arange(16.0).reshape(4, 4)
    x[0, 0] = np.nan
    for op in ("max", "min", "avg", "sum", "median"):
        got = pool2d(x, op=op, size=3, stride=1, padding=1)
        assert np.isnan(got[:2, :2]).all(), op
        assert not np.isnan(got[2:, :]).any() and not np.isnan(got[:, 2:]).any(), op
    values, indices = pool2d(x, size=2, return_indices=True)
    assert np.isnan(values[0, 0]) and indices[0, 0] == 0
    # a border window whose only real pixel is NaN (numpy.nanmedian would warn "All-NaN slice")
    corner = pool2d(x, op="median", size=2, padding=1)
    assert np.isnan(corner[0, 0]) and not np.isnan(corner[1:, 1:]).any()


def test_input_is_not_modified():
    x = np.arange(16.0).reshape(4, 4)
    x[1, 1] = np.nan
    before = x.copy()
    for op in POOL_OPS:
        pool2d(x, op=op, size=2, stride=1, mode="same")
    np.testing.assert_array_equal(x, before)


# --------------------------------------------------------------------------------------------------
# Global pooling


def test_global_pool_shapes_and_values():
    rgb = astronaut()
    avg = global_pool(rgb)
    assert avg.shape == (1, 1, 3) and avg.dtype == np.float32
    exact = rgb.reshape(-1, 3).sum(axis=0, dtype=np.int64) / (rgb.shape[0] * rgb.shape[1])
    np.testing.assert_array_equal(avg[0, 0], exact.astype(np.float32))
    top = global_pool(rgb, op="max")
    assert top.shape == (1, 1, 3) and top.dtype == np.uint8
    np.testing.assert_array_equal(top[0, 0], [rgb[..., c].max() for c in range(3)])
    gray = rgb2gray(rgb)
    assert global_pool(gray).shape == (1, 1)
    np.testing.assert_allclose(global_pool(gray)[0, 0], gray.mean(), rtol=1e-12)


@pytest.mark.parametrize("op", POOL_OPS)
def test_global_pool_equals_a_window_the_size_of_the_image(op):
    image = RNG.integers(0, 256, (5, 7, 2)).astype(np.uint8)
    expected = slow_pool(image, op, size=(5, 7))
    got = global_pool(image, op=op)
    assert got.shape == (1, 1, 2)
    check_equal(got, expected, op)
    check_equal(got, pool2d(image, op=op, size=(5, 7)), op)


def test_global_pool_hand_example():
    x = np.array([[1, 2, 9], [4, 5, 3]], dtype=np.uint8)
    assert global_pool(x, op="max").tolist() == [[9]]
    assert global_pool(x, op="min").tolist() == [[1]]
    assert global_pool(x, op="sum").tolist() == [[24.0]]
    assert global_pool(x, op="avg").tolist() == [[4.0]]
    assert global_pool(x, op="median").tolist() == [[3.5]]


# --------------------------------------------------------------------------------------------------
# return_indices and max_unpool


def test_torch_max_unpool_documentation_example():
    x = np.arange(1.0, 17.0).reshape(4, 4)
    values, indices = pool2d(x, size=2, return_indices=True)
    np.testing.assert_array_equal(values, [[6, 8], [14, 16]])
    np.testing.assert_array_equal(indices, [[5, 7], [13, 15]])
    expected = [[0, 0, 0, 0], [0, 6, 0, 8], [0, 0, 0, 0], [0, 14, 0, 16]]
    np.testing.assert_array_equal(max_unpool(values, indices, output_shape=(4, 4)), expected)
    # torch's MaxUnpool2d example with output_size 5×5: the same values, in a 5-wide plane.
    y = np.arange(1.0, 26.0).reshape(5, 5)
    values, indices = pool2d(y, size=2, return_indices=True)
    np.testing.assert_array_equal(indices, [[6, 8], [16, 18]])
    unpooled = max_unpool(values, indices, output_shape=(5, 5))
    assert unpooled.sum() == 7 + 9 + 17 + 19 and unpooled[1, 1] == 7 and unpooled[3, 3] == 19


def test_indices_point_at_real_pixels_and_ties_take_the_first():
    zeros = np.zeros((3, 3), dtype=np.uint8)
    # every window is a tie; padding comes first in the corner windows but never wins
    _, idx = pool2d(zeros, size=2, padding=1, return_indices=True)
    np.testing.assert_array_equal(idx, [[0, 1], [3, 4]])
    _, idx = pool2d(zeros, size=2, stride=1, return_indices=True)
    np.testing.assert_array_equal(idx, [[0, 1], [3, 4]])
    floats = np.full((2, 2), -np.inf)
    values, idx = pool2d(floats, size=3, stride=1, padding=1, return_indices=True)
    assert (values == -np.inf).all()
    np.testing.assert_array_equal(idx, [[0, 0], [0, 0]])


def test_indices_are_per_channel():
    image = np.zeros((2, 2, 2), dtype=np.uint8)
    image[0, 1, 0] = 5  # channel 0: max at (0, 1)
    image[1, 0, 1] = 7  # channel 1: max at (1, 0)
    values, idx = pool2d(image, size=2, return_indices=True)
    assert values.tolist() == [[[5, 7]]] and idx.tolist() == [[[1, 2]]]
    np.testing.assert_array_equal(max_unpool(values, idx, output_shape=(2, 2, 2)), image)


@pytest.mark.parametrize("geometry", ["valid-2", "valid-3-s1", "same-3-s2", "pad-4-asym", "ceil-3-s2"])
def test_unpool_round_trip(geometry):
    kwargs = GEOMETRIES[geometry]
    image = RNG.integers(0, 256, (9, 8, 3)).astype(np.uint8)
    values, idx = pool2d(image, return_indices=True, **kwargs)
    unpooled = max_unpool(values, idx, output_shape=image.shape)
    assert unpooled.dtype == np.uint8 and unpooled.shape == image.shape
    # every kept pixel is the input's pixel there, the rest are zero, and pooling again gives the values
    kept = unpooled != 0
    np.testing.assert_array_equal(unpooled[kept], image[kept])
    np.testing.assert_array_equal(pool2d(unpooled, **kwargs), values)
    # brute-force scatter as the reference
    expected = np.zeros_like(image)
    for i, j, c in itertools.product(*map(range, values.shape)):
        r, q = divmod(int(idx[i, j, c]), image.shape[1])
        expected[r, q, c] = values[i, j, c]
    np.testing.assert_array_equal(unpooled, expected)


# --------------------------------------------------------------------------------------------------
# Validation: one test per branch


def test_unknown_op():
    with pytest.raises(ValueError, match=r"`op` must be one of max, avg, min, sum, median, got 'mean'"):
        pool2d(np.ones((4, 4)), op="mean", size=2)


@pytest.mark.parametrize("shape", [(4,), (2, 2, 2, 2), (0, 4), (4, 4, 0)])
def test_image_must_be_2d_or_3d_and_non_empty(shape):
    with pytest.raises(ValueError, match=r"`image` must have shape \(H, W\) or \(H, W, C\)"):
        pool2d(np.ones(shape), size=1)


@pytest.mark.parametrize("image", [np.ones((2, 2), dtype=complex), np.array([["a", "b"], ["c", "d"]])])
def test_image_must_hold_real_numbers(image):
    with pytest.raises(ValueError, match=r"`image` must hold real numbers"):
        pool2d(image, size=1)


def test_return_indices_needs_max():
    with pytest.raises(ValueError, match=r"`return_indices` needs op='max'"):
        pool2d(np.ones((4, 4)), op="avg", size=2, return_indices=True)


def test_window_larger_than_image_is_a_geometry_error():
    with pytest.raises(GeometryError, match=r"pooling window 5 is larger than the 4 rows"):
        pool2d(np.ones((4, 9)), size=5)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(size=0), r"`size` must be >= 1"),
        (dict(size=2, stride=0), r"`stride` must be >= 1"),
        (dict(size=(1, 2, 3)), r"`size` takes one value or two"),
        (dict(size=3, padding=2), r"`padding` 2 is more than half the window 3"),
        (dict(size=3, padding=(1, 1, 1)), r"`padding` takes 1 value"),
        (dict(size=3, padding=-1), r"`padding` must be whole numbers >= 0"),
        (dict(size=2, mode="full"), r"`mode` must be valid or same"),
        (dict(size=2, mode="same", ceil=True), r"`ceil` applies to valid or explicit padding"),
    ],
)
def test_bad_geometry_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pool2d(np.ones((6, 6)), **kwargs)


def test_global_pool_checks_op_and_image():
    with pytest.raises(ValueError, match=r"`op` must be one of"):
        global_pool(np.ones((2, 2)), op="mean")
    with pytest.raises(ValueError, match=r"`image` must have shape"):
        global_pool(np.ones(3))
    with pytest.raises(ValueError, match=r"`image` must hold real numbers"):
        global_pool(np.ones((2, 2), dtype=complex))


def test_max_unpool_checks():
    values = np.ones((2, 2))
    idx = np.array([[0, 2], [8, 10]])
    with pytest.raises(ValueError, match=r"`indices` must have the shape of `values`"):
        max_unpool(values, idx[:1], output_shape=(4, 4))
    with pytest.raises(ValueError, match=r"`indices` must be integers"):
        max_unpool(values, idx.astype(float), output_shape=(4, 4))
    with pytest.raises(ValueError, match=r"`indices` must lie in 0\.\.15"):
        max_unpool(values, idx + 6, output_shape=(4, 4))
    with pytest.raises(ValueError, match=r"`indices` must lie in"):
        max_unpool(values, idx - 1, output_shape=(4, 4))
    with pytest.raises(ValueError, match=r"`output_shape` must be \(H, W\)"):
        max_unpool(values, idx, output_shape=(4, 4, 1))
    with pytest.raises(ValueError, match=r"`output_shape` must be \(H, W\)"):
        max_unpool(values[..., None].repeat(2, axis=2), idx[..., None].repeat(2, axis=2), output_shape=(4, 4, 3))
    with pytest.raises(ValueError, match=r"`output_shape` must be \(H, W\) or \(H, W, C\)"):
        max_unpool(values, idx, output_shape="big")
    with pytest.raises(ValueError, match=r"`values` must have shape"):
        max_unpool(np.ones(4), np.zeros(4, dtype=int), output_shape=(2, 2))
