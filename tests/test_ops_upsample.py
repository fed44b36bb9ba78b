"""upsample and transpose_output_shape against hand derivations, slow loops of the PyTorch formulas,
the adjoint of filter2d, scikit-image's resize, and the conformance kit's PyTorch reference data."""

import itertools

import numpy as np
import pytest

from convcli.errors import GeometryError
from convcli.kernels import load_kernel
from convcli.ops.filter import filter2d
from convcli.ops.upsample import UPSAMPLE_METHODS, transpose_output_shape, upsample
from helpers import case_options, kit_cases, kit_file

RNG = np.random.default_rng(11)


# --------------------------------------------------------------------------------------------------
# Slow references, one output pixel at a time


def slow_bilinear(x, fy, fx):
    """torch.nn.functional.interpolate(mode='bilinear', align_corners=False), pixel by pixel."""
    h, w = x.shape[:2]
    out = np.zeros((h * fy, w * fx) + x.shape[2:])

    def source(dst, f, n):
        src = max((dst + 0.5) / f - 0.5, 0.0)
        i0 = int(np.floor(src))
        i1 = i0 + 1 if i0 < n - 1 else i0
        lam = src - i0
        return i0, i1, 1.0 - lam, lam

    for i, j in itertools.product(range(h * fy), range(w * fx)):
        r0, r1, wr0, wr1 = source(i, fy, h)
        c0, c1, wc0, wc1 = source(j, fx, w)
        out[i, j] = wr0 * (wc0 * x[r0, c0] + wc1 * x[r0, c1]) + wr1 * (wc0 * x[r1, c0] + wc1 * x[r1, c1])
    return out


def slow_transpose(x, k, factor, pads, output_padding):
    """out[i·s + a − before] += x[i]·k[a] per axis (torch conv_transpose2d), input pixel by kernel tap."""
    (fy, fx), ((top, bottom), (left, right)), (opy, opx) = factor, pads, output_padding
    h, w = x.shape[:2]
    kh, kw = k.shape
    out_h = (h - 1) * fy - top - bottom + kh + opy
    out_w = (w - 1) * fx - left - right + kw + opx
    out = np.zeros((out_h, out_w) + x.shape[2:])
    for i, j, a, b in itertools.product(range(h), range(w), range(kh), range(kw)):
        r, c = i * fy + a - top, j * fx + b - left
        if 0 <= r < out_h and 0 <= c < out_w:
            out[r, c] += x[i, j] * k[a, b]
    return out


# --------------------------------------------------------------------------------------------------
# nearest and zeros


def test_nearest_repeats_blocks_and_keeps_uint8():
    img = np.array([[1, 2, 3], [4, 5, 255]], dtype=np.uint8)
    out = upsample(img, factor=(2, 3))
    assert out.dtype == np.uint8
    assert out.shape == (4, 9)
    np.testing.assert_array_equal(out, np.kron(img, np.ones((2, 3), dtype=np.uint8)))
    assert out[3, 8] == 255  # nothing rescaled or wrapped


def test_nearest_colour_channels_the_same_way():
    img = RNG.integers(0, 65535, size=(3, 4, 3), dtype=np.uint16)
    out = upsample(img, factor=2, method="nearest")
    assert out.shape == (6, 8, 3) and out.dtype == np.uint16
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], upsample(img[..., c], factor=2))


def test_zeros_bed_of_nails_by_hand():
    img = np.array([[1, 2], [3, 4]], dtype=np.uint8)
    expected = np.array(
        [[1, 0, 0, 2, 0, 0],
         [0, 0, 0, 0, 0, 0],
         [3, 0, 0, 4, 0, 0],
         [0, 0, 0, 0, 0, 0]],
        dtype=np.uint8,
    )
    out = upsample(img, factor=(2, 3), method="zeros")
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)


def test_zeros_colour_and_float():
    img = RNG.normal(size=(3, 2, 4))
    out = upsample(img, factor=(3, 2), method="zeros")
    assert out.shape == (9, 4, 4) and out.dtype == np.float64
    np.testing.assert_array_equal(out[::3, ::2], img)
    mask = np.ones(out.shape[:2], dtype=bool)
    mask[::3, ::2] = False
    assert not out[mask].any()


@pytest.mark.parametrize("method", ["nearest", "zeros", "bilinear"])
def test_factor_one_is_identity_and_a_new_array(method):
    img = RNG.normal(size=(4, 5))
    out = upsample(img, factor=1, method=method)
    np.testing.assert_array_equal(out, img)
    assert not np.shares_memory(out, img) and out.flags.writeable


# --------------------------------------------------------------------------------------------------
# bilinear


def test_bilinear_1d_by_hand():
    # factor 2: src = (dst + 0.5)/2 − 0.5 = −0.25 (clamped to 0), 0.25, 0.75, 1.25, 1.75, 2.25 (next clamped)
    out = upsample(np.array([[0.0, 4.0, 8.0]]), factor=(1, 2), method="bilinear")
    np.testing.assert_allclose(out, [[0.0, 1.0, 3.0, 5.0, 7.0, 8.0]])
    # factor 3: src = −1/3 → 0, 0, 1/3, 2/3, 1, 4/3 → clamped at the last pixel
    out = upsample(np.array([[0.0], [3.0]]), factor=(3, 1), method="bilinear")
    np.testing.assert_allclose(out[:, 0], [0.0, 0.0, 1.0, 2.0, 3.0, 3.0])


def test_bilinear_2d_by_hand():
    img = np.array([[0.0, 4.0], [8.0, 12.0]])
    # rows and columns each go 0, 0.25, 0.75, 1 in source coordinates
    expected = np.array(
        [[0.0, 1.0, 3.0, 4.0],
         [2.0, 3.0, 5.0, 6.0],
         [6.0, 7.0, 9.0, 10.0],
         [8.0, 9.0, 11.0, 12.0]]
    )
    np.testing.assert_allclose(upsample(img, factor=2, method="bilinear"), expected)


@pytest.mark.parametrize("factor", [(2, 2), (2, 3), (3, 1), (4, 5)])
@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (5, 3), (4, 6, 3)])
def test_bilinear_matches_slow_torch_formula(factor, shape):
    img = RNG.normal(size=shape)
    out = upsample(img, factor=factor, method="bilinear")
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, slow_bilinear(img, *factor), rtol=1e-12, atol=1e-12)


def test_bilinear_matches_skimage_resize_edge():
    # An independent implementation of the same half-pixel-centre rule: skimage.transform.resize.
    from skimage.transform import resize

    img = RNG.normal(size=(6, 5))
    expected = resize(img, (12, 15), order=1, mode="edge", anti_aliasing=False, preserve_range=True)
    np.testing.assert_allclose(upsample(img, factor=(2, 3), method="bilinear"), expected, atol=1e-12)


def test_bilinear_uint8_gives_float_in_the_same_units():
    img = np.array([[0, 255]], dtype=np.uint8)
    out = upsample(img, factor=(1, 2), method="bilinear")
    assert out.dtype == np.float32  # NumPy promotion of uint8 with float32, as torch
    np.testing.assert_allclose(out, [[0.0, 63.75, 191.25, 255.0]])


def test_bilinear_constant_stays_constant():
    np.testing.assert_allclose(upsample(np.full((3, 4), 7.0), factor=(3, 2), method="bilinear"), 7.0)


# --------------------------------------------------------------------------------------------------
# transpose


def test_transpose_1d_by_hand():
    # x = [1, 10], k = [1, 2, 3], stride 2: [1 2 3] at 0, [10 20 30] at 2 → full buffer [1 2 13 20 30].
    x = np.array([[1.0, 10.0]])
    out = upsample(x, factor=(1, 2), method="transpose", kernel="1 2 3")
    np.testing.assert_array_equal(out, [[1.0, 2.0, 13.0, 20.0, 30.0]])
    # padding 1 crops one at each end: (2 − 1)·2 − 1 − 1 + 3 = 3
    out = upsample(x, factor=(1, 2), method="transpose", kernel="1 2 3", padding=(0, 1))
    np.testing.assert_array_equal(out, [[2.0, 13.0, 20.0]])
    # output_padding 1 adds one at the end, still inside the buffer: the 30 comes back
    out = upsample(x, factor=(1, 2), method="transpose", kernel="1 2 3", padding=(0, 1), output_padding=(0, 1))
    np.testing.assert_array_equal(out, [[2.0, 13.0, 20.0, 30.0]])
    # with no padding, output_padding reaches past the buffer: a zero
    out = upsample(x, factor=(1, 2), method="transpose", kernel="1 2 3", output_padding=(0, 1))
    np.testing.assert_array_equal(out, [[1.0, 2.0, 13.0, 20.0, 30.0, 0.0]])


def test_transpose_stride_larger_than_kernel_leaves_gaps():
    out = upsample(np.array([[1.0, 2.0]]), factor=(1, 3), method="transpose", kernel="5 7")
    np.testing.assert_array_equal(out, [[5.0, 7.0, 0.0, 10.0, 14.0]])


def test_transpose_2d_by_hand_kernel_not_flipped():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    k = np.array([[1.0, 10.0], [100.0, 1000.0]])
    # stride 2 with a 2×2 kernel: each pixel stamps its own 2×2 block, k as given (no 180° rotation)
    expected = np.block([[1 * k, 2 * k], [3 * k, 4 * k]])
    np.testing.assert_array_equal(upsample(x, factor=2, method="transpose", kernel=k), expected)
    # stride 1: blocks overlap; out[r, c] = Σ x[i, j]·k[r − i, c − j]
    expected = np.array(
        [[1.0, 12.0, 20.0],
         [103.0, 1234.0, 2040.0],
         [300.0, 3400.0, 4000.0]]
    )
    np.testing.assert_array_equal(upsample(x, factor=1, method="transpose", kernel=k), expected)


CASES = [
    # shape, kernel shape, factor, padding, output_padding
    ((3, 4), (3, 3), (2, 2), 0, 0),
    ((3, 4), (3, 3), (2, 2), 1, 1),
    ((4, 3), (2, 3), (2, 3), (1, 0), (0, 2)),
    ((5, 5), (4, 4), (3, 2), (0, 2, 1, 3), (2, 1)),
    ((2, 6), (1, 5), (1, 4), (0, 0, 2, 2), (0, 3)),
    ((3, 3, 2), (3, 2), (2, 2), (2, 1), (1, 0)),
    ((1, 1), (3, 3), (2, 2), 1, 1),
]


@pytest.mark.parametrize(("shape", "kshape", "factor", "padding", "output_padding"), CASES)
def test_transpose_matches_slow_formula(shape, kshape, factor, padding, output_padding):
    from convcli.geometry import as_padding, as_pair

    x = RNG.normal(size=shape)
    k = RNG.normal(size=kshape)
    got = upsample(x, factor=factor, method="transpose", kernel=k, padding=padding, output_padding=output_padding)
    expected = slow_transpose(x, k, factor, as_padding(padding), as_pair(output_padding, name="op", minimum=0))
    assert got.shape == expected.shape
    assert got.shape == transpose_output_shape(shape, kshape, factor=factor, padding=padding,
                                               output_padding=output_padding)[0]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("shape", "kshape", "factor", "padding", "output_padding"),
                         [c for c in CASES if len(c[0]) == 2])
def test_transpose_is_the_adjoint_of_strided_correlation(shape, kshape, factor, padding, output_padding):
    # conv_transpose2d is the adjoint of conv2d (correlation) with the same stride and padding:
    # <T x, y> = <x, C y> for every x, y. C is filter2d, an independent implementation.
    x = RNG.normal(size=shape)
    k = RNG.normal(size=kshape)
    tx = upsample(x, factor=factor, method="transpose", kernel=k, padding=padding, output_padding=output_padding)
    y = RNG.normal(size=tx.shape)
    cy = filter2d(y, k, correlate=True, stride=factor, padding=padding, boundary="zero")
    assert cy.shape == x.shape
    np.testing.assert_allclose(np.vdot(tx, y), np.vdot(x, cy), rtol=1e-10)


def test_transpose_colour_channel_by_channel_and_uint8():
    img = RNG.integers(0, 256, size=(3, 4, 3), dtype=np.uint8)
    out = upsample(img, factor=2, method="transpose", kernel="box3", padding=1, output_padding=1)
    assert out.dtype == np.float32 and out.shape == (6, 8, 3)
    for c in range(3):
        np.testing.assert_allclose(
            out[..., c],
            upsample(img[..., c], factor=2, method="transpose", kernel="box3", padding=1, output_padding=1),
        )


def test_transpose_accepts_kernel_objects_and_names():
    x = RNG.normal(size=(3, 3))
    by_name = upsample(x, factor=2, method="transpose", kernel="sobel-x")
    by_object = upsample(x, factor=2, method="transpose", kernel=load_kernel("sobel-x"))
    by_array = upsample(x, factor=2, method="transpose", kernel=[[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    np.testing.assert_array_equal(by_name, by_object)
    np.testing.assert_array_equal(by_name, by_array)


def test_transpose_padding_beyond_the_buffer_gives_zeros():
    # buffer of 3 cols, all 3 cropped at the start, 1 added at the end by output_padding: one zero col.
    out = upsample(np.ones((1, 2)), factor=(1, 2), method="transpose", kernel="1", padding=(0, 0, 3, 0),
                   output_padding=(0, 1))
    np.testing.assert_array_equal(out, [[0.0]])


# --------------------------------------------------------------------------------------------------
# transpose_output_shape


def test_transpose_output_shape_arithmetic_and_formula():
    shape, (rows, cols) = transpose_output_shape((4, 5, 3), (3, 2), factor=(2, 3), padding=(1, 1, 0, 2),
                                                 output_padding=(1, 2))
    assert shape == (8, 14, 3)
    assert (rows.before, rows.after, rows.output_padding, rows.out) == (1, 1, 1, 8)
    assert (cols.before, cols.after, cols.output_padding, cols.out) == (0, 2, 2, 14)
    assert rows.formula() == "4 → (4 − 1)·2 − 1 − 1 + 3 + 1 = 8"
    assert cols.formula() == "5 → (5 − 1)·3 − 0 − 2 + 2 + 2 = 14"


def test_transpose_output_shape_defaults():
    assert transpose_output_shape((3, 3), (2, 2), factor=2)[0] == (6, 6)


def test_transpose_output_shape_refuses_output_padding_not_below_factor():
    with pytest.raises(ValueError, match="output_padding"):
        transpose_output_shape((3, 3), (3, 3), factor=2, output_padding=2)


def test_transpose_output_shape_refuses_bad_kernel_and_image_shapes():
    with pytest.raises(ValueError, match="kernel_shape"):
        transpose_output_shape((3, 3), (0, 3), factor=2)
    with pytest.raises(ValueError, match="kernel_shape"):
        transpose_output_shape((3, 3), (3,), factor=2)
    with pytest.raises(ValueError, match="shape"):
        transpose_output_shape((3,), (3, 3), factor=2)
    with pytest.raises(ValueError, match="shape"):
        transpose_output_shape((0, 3), (3, 3), factor=2)


def test_transpose_too_much_padding_is_a_geometry_error():
    with pytest.raises(GeometryError, match="padding"):
        upsample(np.ones((2, 2)), factor=1, method="transpose", kernel="1", padding=1)


# --------------------------------------------------------------------------------------------------
# Validation: one test per branch


def test_methods_listed():
    assert UPSAMPLE_METHODS == ("nearest", "zeros", "bilinear", "transpose")


def test_unknown_method():
    with pytest.raises(ValueError, match="`method`"):
        upsample(np.ones((2, 2)), factor=2, method="bicubic")


@pytest.mark.parametrize("factor", [0, -1, 1.5, (2, 0), (1, 2, 3)])
def test_bad_factor(factor):
    with pytest.raises(ValueError, match="`factor`"):
        upsample(np.ones((2, 2)), factor=factor)


@pytest.mark.parametrize("image", [np.ones(3), np.ones((2, 2, 2, 2)), np.ones((0, 3)), np.ones((3, 0, 1))])
def test_bad_image_shape(image):
    with pytest.raises(ValueError, match="`image`"):
        upsample(image, factor=2)


@pytest.mark.parametrize("image", [np.array([["a", "b"]]), np.ones((2, 2), dtype=complex)])
def test_bad_image_values(image):
    with pytest.raises(ValueError, match="`image` must hold real numbers"):
        upsample(image, factor=2)


def test_transpose_needs_a_kernel():
    with pytest.raises(ValueError, match=r"`kernel` is needed for method='transpose'"):
        upsample(np.ones((2, 2)), factor=2, method="transpose")


@pytest.mark.parametrize("method", ["nearest", "zeros", "bilinear"])
def test_kernel_refused_for_other_methods(method):
    with pytest.raises(ValueError, match="`kernel` only applies"):
        upsample(np.ones((2, 2)), factor=2, method=method, kernel="box3")


@pytest.mark.parametrize("name", ["padding", "output_padding"])
def test_padding_refused_for_other_methods(name):
    with pytest.raises(ValueError, match=f"`{name}` only applies"):
        upsample(np.ones((2, 2)), factor=2, method="nearest", **{name: 1})
    # zeros are what "not given" looks like, and are accepted
    upsample(np.ones((2, 2)), factor=2, method="nearest", **{name: (0, 0)})


def test_bad_padding_values():
    with pytest.raises(ValueError, match="`padding`"):
        upsample(np.ones((2, 2)), factor=2, method="transpose", kernel="1", padding=-1)
    with pytest.raises(ValueError, match="`padding`"):
        upsample(np.ones((2, 2)), factor=2, method="transpose", kernel="1", padding=(1, 1, 1))
    with pytest.raises(ValueError, match="`output_padding`"):
        upsample(np.ones((2, 2)), factor=2, method="transpose", kernel="1", output_padding=-1)


def test_bad_kernel_is_a_kernel_error():
    with pytest.raises(ValueError, match="kernel"):
        upsample(np.ones((2, 2)), factor=2, method="transpose", kernel="no-such-kernel")


# --------------------------------------------------------------------------------------------------
# The conformance kit's PyTorch reference data


def _ints(text):
    return tuple(int(v) for v in text.split(","))


@pytest.mark.parametrize("case", kit_cases("upsample-"))
def test_conformance_upsample(case):
    options = case_options(case["args"])
    image = np.load(kit_file(case, "in"))
    expected = np.load(kit_file(case, "expect_npy"))
    kwargs = {"factor": _ints(options["--factor"]), "method": options["--method"]}
    if "-k" in options:
        kwargs["kernel"] = options["-k"]
    if "--padding" in options:
        kwargs["padding"] = _ints(options["--padding"])
    if "--output-padding" in options:
        kwargs["output_padding"] = _ints(options["--output-padding"])
    got = upsample(image, **kwargs)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("method", ["bilinear", "transpose"])
def test_float_methods_follow_the_float32_promotion(method):
    kernel = "box3" if method == "transpose" else None
    for dtype, want in ((np.uint8, np.float32), (np.uint16, np.float32), (np.float32, np.float32),
                        (np.float64, np.float64), (np.int64, np.float64)):
        img = np.arange(6).reshape(2, 3).astype(dtype)
        out = upsample(img, factor=2, method=method, kernel=kernel)
        assert out.dtype == want
        exact = upsample(img.astype(np.float64), factor=2, method=method, kernel=kernel)
        np.testing.assert_allclose(out, exact, rtol=1e-6)
