"""filter2d and filter_bank against scipy.signal, numpy.pad and a slow loop of the PyTorch formula."""

import itertools

import numpy as np
import pytest
from scipy import signal

from convcli.errors import GeometryError
from convcli.ops.filter import (
    bank_output_shape,
    filter2d,
    filter_bank,
    gray_shape,
    pad_image,
    resolve_boundary,
    to_gray,
)

RNG = np.random.default_rng(7)


def slow_correlate(xp, kernel, stride, dilation, out_shape):
    """out[i, j] = Σ k[a, b] · xp[i·sy + a·dy, j·sx + b·dx], one pixel at a time (README, Convolution or correlation)."""
    out = np.zeros(out_shape)
    for i, j in itertools.product(range(out_shape[0]), range(out_shape[1])):
        for a, b in itertools.product(range(kernel.shape[0]), range(kernel.shape[1])):
            out[i, j] += kernel[a, b] * xp[i * stride[0] + a * dilation[0], j * stride[1] + b * dilation[1]]
    return out


KERNEL_SHAPES = [(1, 1), (2, 2), (3, 3), (2, 3), (4, 3), (5, 5)]


@pytest.mark.parametrize("kshape", KERNEL_SHAPES)
@pytest.mark.parametrize("mode", ["same", "valid", "full"])
@pytest.mark.parametrize("boundary", ["zero", "wrap", "symmetric"])
def test_stride1_equals_scipy_signal_convolve2d(kshape, mode, boundary):
    image = RNG.normal(size=(7, 9))
    kernel = RNG.normal(size=kshape)
    scipy_boundary = {"zero": "fill", "wrap": "wrap", "symmetric": "symm"}[boundary]
    expected = signal.convolve2d(image, kernel, mode=mode, boundary=scipy_boundary)
    got = filter2d(image, kernel, mode=mode, boundary=boundary)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kshape", KERNEL_SHAPES)
@pytest.mark.parametrize("mode", ["same", "valid", "full"])
def test_correlate_stride1_equals_scipy_signal_correlate2d(kshape, mode):
    image = RNG.normal(size=(8, 6))
    kernel = RNG.normal(size=kshape)
    expected = signal.correlate2d(image, kernel, mode=mode)
    if mode == "same":
        # scipy's correlate2d 'same' is centred as convolve2d is; the CNN rule (TensorFlow, torch
        # padding='same') puts the extra pixel of an even kernel after: pad ⌊P/2⌋ before.
        pr, pc = kshape[0] - 1, kshape[1] - 1
        xp = np.pad(image, ((pr // 2, pr - pr // 2), (pc // 2, pc - pc // 2)))
        expected = slow_correlate(xp, kernel, (1, 1), (1, 1), image.shape)
    np.testing.assert_allclose(filter2d(image, kernel, mode=mode, correlate=True), expected, atol=1e-12)


@pytest.mark.parametrize("boundary,numpy_mode", [("reflect", "reflect"), ("edge", "edge"), ("symmetric", "symmetric"), ("wrap", "wrap")])
def test_boundaries_equal_numpy_pad_then_valid(boundary, numpy_mode):
    image = RNG.normal(size=(6, 5))
    kernel = RNG.normal(size=(3, 3))
    expected = signal.convolve2d(np.pad(image, 1, mode=numpy_mode), kernel, mode="valid")
    np.testing.assert_allclose(filter2d(image, kernel, boundary=boundary), expected, atol=1e-12)


def test_constant_boundary_uses_cval():
    image = np.zeros((3, 3))
    got = filter2d(image, np.ones((3, 3)), boundary="constant", cval=2.0)
    # corners see 5 padded cells, edges 3, the centre none
    np.testing.assert_array_equal(got, [[10, 6, 10], [6, 0, 6], [10, 6, 10]])


def test_pad_image_matches_the_design_table():
    row = np.array([[1, 2, 3, 4]])
    pads = ((0, 0), (2, 2))
    assert pad_image(row, pads, boundary="zero").tolist() == [[0, 0, 1, 2, 3, 4, 0, 0]]
    assert pad_image(row, pads, boundary="constant", cval=9).tolist() == [[9, 9, 1, 2, 3, 4, 9, 9]]
    assert pad_image(row, pads, boundary="reflect").tolist() == [[3, 2, 1, 2, 3, 4, 3, 2]]
    assert pad_image(row, pads, boundary="symmetric").tolist() == [[2, 1, 1, 2, 3, 4, 4, 3]]
    assert pad_image(row, pads, boundary="edge").tolist() == [[1, 1, 1, 2, 3, 4, 4, 4]]
    assert pad_image(row, pads, boundary="wrap").tolist() == [[3, 4, 1, 2, 3, 4, 1, 2]]


def test_boundary_aliases_and_mirror_refused():
    assert resolve_boundary("replicate") == "edge"
    assert resolve_boundary("circular") == "wrap"
    assert resolve_boundary("symm") == "symmetric"
    with pytest.raises(ValueError, match="ambiguous"):
        resolve_boundary("mirror")
    with pytest.raises(ValueError, match="`boundary` must be one of"):
        resolve_boundary("bogus")


@pytest.mark.parametrize("stride", [(1, 1), (2, 2), (2, 3), (3, 1)])
@pytest.mark.parametrize("dilation", [(1, 1), (2, 2), (1, 3)])
@pytest.mark.parametrize("padding", [0, (1, 2), (0, 1, 2, 0)])
@pytest.mark.parametrize("kshape", [(2, 2), (3, 3), (3, 2)])
def test_explicit_padding_strided_dilated_equals_torch_formula(stride, dilation, padding, kshape):
    image = RNG.normal(size=(11, 10))
    kernel = RNG.normal(size=kshape)
    pads = {0: ((0, 0), (0, 0)), (1, 2): ((1, 1), (2, 2)), (0, 1, 2, 0): ((0, 1), (2, 0))}[padding]
    xp = np.pad(image, pads)
    eh = dilation[0] * (kshape[0] - 1) + 1
    ew = dilation[1] * (kshape[1] - 1) + 1
    out_shape = ((xp.shape[0] - eh) // stride[0] + 1, (xp.shape[1] - ew) // stride[1] + 1)
    expected = slow_correlate(xp, kernel, stride, dilation, out_shape)
    got = filter2d(image, kernel, correlate=True, stride=stride, dilation=dilation, padding=padding)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    # true convolution is correlation with the kernel rotated 180°
    got_conv = filter2d(image, kernel[::-1, ::-1], stride=stride, dilation=dilation, padding=padding)
    np.testing.assert_allclose(got_conv, expected, atol=1e-12)


@pytest.mark.parametrize("stride", [2, 3])
@pytest.mark.parametrize("boundary", ["zero", "reflect", "edge"])
def test_same_with_stride_uses_tensorflow_padding(stride, boundary):
    image = RNG.normal(size=(9, 8))
    kernel = RNG.normal(size=(4, 3))
    out = (-(-9 // stride), -(-8 // stride))
    pr = max((out[0] - 1) * stride + 4 - 9, 0)
    pc = max((out[1] - 1) * stride + 3 - 8, 0)
    numpy_mode = {"zero": "constant", "reflect": "reflect", "edge": "edge"}[boundary]
    xp = np.pad(image, ((pr // 2, pr - pr // 2), (pc // 2, pc - pc // 2)), mode=numpy_mode)
    expected = slow_correlate(xp, kernel, (stride, stride), (1, 1), out)
    got = filter2d(image, kernel, correlate=True, stride=stride, boundary=boundary)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    # convolution mirrors the split: extra pixel before
    xp = np.pad(image, ((pr - pr // 2, pr // 2), (pc - pc // 2, pc // 2)), mode=numpy_mode)
    expected = slow_correlate(xp, kernel[::-1, ::-1], (stride, stride), (1, 1), out)
    np.testing.assert_allclose(filter2d(image, kernel, stride=stride, boundary=boundary), expected, atol=1e-12)


def test_hand_computed_sobel_on_a_ramp():
    ramp = np.tile(np.arange(5.0), (4, 1))  # rises left to right by 1
    got = filter2d(ramp, [[1, 0, -1], [2, 0, -2], [1, 0, -1]], mode="valid")
    np.testing.assert_array_equal(got, np.full((2, 3), 8.0))


def test_channels_filtered_independently_with_the_same_kernel():
    image = RNG.normal(size=(6, 7, 3))
    kernel = RNG.normal(size=(3, 3))
    got = filter2d(image, kernel, mode="valid", stride=2)
    for c in range(3):
        np.testing.assert_allclose(got[..., c], filter2d(image[..., c], kernel, mode="valid", stride=2))
        np.testing.assert_allclose(
            got[..., c], signal.convolve2d(image[..., c], kernel, mode="valid")[::2, ::2], atol=1e-12
        )


def test_uint8_is_computed_in_floating_point_without_wraparound():
    image = np.full((3, 3), 200, dtype=np.uint8)
    got = filter2d(image, np.ones((1, 2)), mode="valid")
    np.testing.assert_array_equal(got, np.full((3, 2), 400.0))


def test_normalize_divides_by_sum():
    image = np.full((3, 3), 2.0)
    np.testing.assert_allclose(filter2d(image, np.full((3, 3), 2.0), mode="valid", normalize=True), [[2.0]], rtol=1e-12)


def test_valid_kernel_larger_than_image_is_an_error():
    with pytest.raises(GeometryError, match="larger than"):
        filter2d(np.ones((3, 3)), np.ones((5, 5)), mode="valid")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"mode": "half"}, "`mode`"),
        ({"boundary": "bogus"}, "`boundary`"),
        ({"cval": float("nan")}, "`cval`"),
        ({"stride": 0}, "`stride`"),
        ({"dilation": (1, 0)}, "`dilation`"),
        ({"padding": (1, 2, 3)}, "`padding`"),
    ],
)
def test_parameter_errors_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        filter2d(np.ones((4, 4)), np.ones((3, 3)), **kwargs)


def test_image_shape_and_dtype_checks():
    with pytest.raises(ValueError, match="`image` must have shape"):
        filter2d(np.ones(4), np.ones((3, 3)))
    with pytest.raises(ValueError, match="`image` must hold real numbers"):
        filter2d(np.ones((4, 4), dtype=complex), np.ones((3, 3)))


def test_bank_is_input_channel_major():
    image = RNG.normal(size=(5, 5, 2))
    k1, k2 = RNG.normal(size=(2, 2)), RNG.normal(size=(2, 2))
    got = filter_bank(image, [k1, k2], mode="valid", correlate=True)
    assert got.shape == (4, 4, 4)
    for c, (k_index, k) in itertools.product(range(2), enumerate([k1, k2])):
        expected = signal.correlate2d(image[..., c], k, mode="valid")
        np.testing.assert_allclose(got[..., c * 2 + k_index], expected, atol=1e-12)


def test_keras_lecture_shapes():
    image = RNG.normal(size=(50, 50))
    bank = ["mean2", "edge2"]
    once = filter_bank(image, bank, mode="valid", correlate=True)
    twice = filter_bank(once, bank, mode="valid", correlate=True)
    assert once.shape == (49, 49, 2) and twice.shape == (48, 48, 4)
    edge = np.array([[-1.0, 1.0], [-1.0, 1.0]])
    # channel 3 = edge2 on channel 1 (edge2 of the image)
    np.testing.assert_allclose(twice[..., 3], signal.correlate2d(once[..., 1], edge, mode="valid"), atol=1e-12)
    assert bank_output_shape((50, 50), [(2, 2), (2, 2)], mode="valid", correlate=True) == (49, 49, 2)
    assert bank_output_shape((49, 49, 2), [(2, 2), (2, 2)], mode="valid", correlate=True) == (48, 48, 4)


def test_bank_refuses_kernels_of_different_output_sizes():
    with pytest.raises(ValueError, match="different output sizes"):
        filter_bank(np.ones((6, 6)), [np.ones((3, 3)), np.ones((5, 5))], mode="valid")
    with pytest.raises(ValueError, match="different output sizes"):
        bank_output_shape((6, 6), [(3, 3), (5, 5)], mode="valid")
    with pytest.raises(ValueError, match="at least one"):
        filter_bank(np.ones((6, 6)), [])


def test_alpha_rule_same_stride1_keeps_alpha_exactly():
    rgb = RNG.uniform(0, 255, size=(6, 7, 3))
    alpha = RNG.uniform(0, 255, size=(6, 7))
    for kernel in (np.ones((3, 3)), np.ones((2, 2)), np.ones((4, 3))):
        for correlate in (False, True):
            out = filter_bank(np.dstack([rgb, alpha]), [kernel], has_alpha=True, correlate=correlate)
            np.testing.assert_array_equal(out[..., 3], alpha)
            np.testing.assert_allclose(out[..., :3], filter2d(rgb, kernel, correlate=correlate))


def test_alpha_rule_valid_stride_takes_the_alpha_under_the_centre():
    alpha = np.arange(36.0).reshape(6, 6)
    image = np.dstack([np.zeros((6, 6)), alpha])  # grey + alpha
    out = filter_bank(image, [np.ones((3, 3))], has_alpha=True, mode="valid", stride=2)
    assert out.shape == (2, 2, 2)
    np.testing.assert_array_equal(out[..., 1], alpha[1:5:2, 1:5:2])


def test_alpha_needs_channels_besides_alpha():
    with pytest.raises(ValueError, match="`has_alpha`"):
        filter_bank(np.ones((4, 4)), [np.ones((3, 3))], has_alpha=True)
    with pytest.raises(ValueError, match="`has_alpha`"):
        filter_bank(np.ones((4, 4, 1)), [np.ones((3, 3))], has_alpha=True)


def test_alpha_stays_last_through_two_banks():
    image = np.dstack([RNG.normal(size=(6, 6)), np.full((6, 6), 9.0)])  # grey + alpha
    once = filter_bank(image, ["mean2", "edge2"], has_alpha=True, mode="valid", correlate=True)
    twice = filter_bank(once, ["mean2", "edge2"], has_alpha=True, mode="valid", correlate=True)
    assert once.shape == (5, 5, 3) and twice.shape == (4, 4, 5)
    np.testing.assert_array_equal(twice[..., -1], 9.0)
    np.testing.assert_allclose(twice[..., 3], signal.correlate2d(once[..., 1], [[-1, 1], [-1, 1]], mode="valid"))


def test_gray_uses_rgb2gray_weights_in_input_units():
    from skimage.color import rgb2gray

    rgb = RNG.uniform(0, 1, size=(4, 5, 3))
    np.testing.assert_allclose(to_gray(rgb), rgb2gray(rgb), atol=1e-12)
    rgba = np.dstack([rgb * 255, np.full((4, 5), 7.0)])
    got = to_gray(rgba, has_alpha=True)
    assert got.shape == (4, 5, 2)
    np.testing.assert_allclose(got[..., 0], rgb2gray(rgb) * 255, atol=1e-9)
    np.testing.assert_array_equal(got[..., 1], 7.0)
    grey = np.ones((3, 3))
    assert to_gray(grey) is grey
    assert gray_shape((3, 3, 3)) == (3, 3)
    with pytest.raises(ValueError, match="RGB or RGBA"):
        to_gray(np.ones((3, 3, 4)))


@pytest.mark.parametrize("channels", [None, 1, 3, 6])
@pytest.mark.parametrize("kshape", [(1, 1), (2, 2), (3, 3), (4, 3), (5, 5), (13, 13)])
def test_engines_agree(channels, kshape):
    shape = (17, 15) if channels is None else (17, 15, channels)
    image = RNG.normal(size=shape)
    kernel = RNG.normal(size=kshape)
    for mode in ("same", "valid", "full"):
        reference = filter2d(image, kernel, mode=mode, boundary="reflect", engine="scipy")
        fast = filter2d(image, kernel, mode=mode, boundary="reflect", engine="opencv")
        assert fast.shape == reference.shape
        np.testing.assert_allclose(fast, reference, rtol=1e-9, atol=1e-9)


def test_unknown_engine_names_the_parameter():
    with pytest.raises(ValueError, match="`engine` must be one of auto, opencv, scipy"):
        filter2d(np.ones((3, 3)), np.ones((3, 3)), engine="gpu")


def test_each_engine_does_the_work(monkeypatch):
    import cv2
    from scipy import ndimage

    calls = []
    real_cv2, real_ndimage = cv2.filter2D, ndimage.correlate
    monkeypatch.setattr(cv2, "filter2D", lambda *a, **k: calls.append("opencv") or real_cv2(*a, **k))
    monkeypatch.setattr(ndimage, "correlate", lambda *a, **k: calls.append("scipy") or real_ndimage(*a, **k))
    for engine in ("opencv", "scipy", "auto"):
        filter2d(np.ones((5, 5)), np.ones((3, 3)), engine=engine)
    # strided small kernel on OpenCV: one stride-1 pass, then every other output
    filter2d(np.ones((5, 5)), np.ones((3, 3)), stride=2, engine="opencv")
    # strided large kernel (10×10 taps or more): one small correlation per phase (2 × 2 at stride 2)
    filter2d(np.ones((25, 25)), np.eye(11), stride=2, engine="opencv")  # not rank 1: filter2D
    # strided on SciPy: phases whatever the size
    filter2d(np.ones((5, 5)), np.ones((3, 3)), stride=2, engine="scipy")
    # dilated: one correlation per interleaved share of the output (2 × 2 at dilation 2)
    filter2d(np.ones((9, 9)), np.ones((3, 3)), dilation=2, engine="scipy")
    # both at once: NumPy taps only
    filter2d(np.ones((9, 9)), np.ones((3, 3)), dilation=2, stride=2, engine="opencv")
    assert calls == ["opencv", "scipy", "opencv"] + ["opencv"] * 5 + ["scipy"] * 8


@pytest.mark.parametrize("kernel", ["gaussian5", "gaussian:sigma=2", "box:7", "box:5x9", "log:sigma=1"])
def test_separable_kernels_take_two_passes_and_agree_with_the_reference(kernel, monkeypatch):
    import cv2

    passes = []
    real = cv2.sepFilter2D
    monkeypatch.setattr(cv2, "sepFilter2D", lambda *a, **k: passes.append(1) or real(*a, **k))
    image = RNG.normal(size=(40, 37, 3))
    fast = filter2d(image, kernel, boundary="symmetric", engine="opencv")
    reference = filter2d(image, kernel, boundary="symmetric", engine="scipy")
    assert passes == ([] if kernel.startswith("log") else [1])  # a Laplacian of Gaussian is not rank 1
    np.testing.assert_allclose(fast, reference, rtol=1e-9, atol=1e-9)


# --- the OpenCV direct path (no padded copy) and the SciPy bands ----------------------------------


def _padded_reference(image, kernel, *, mode, boundary, cval=0.0, correlate=False, pads=None):
    """numpy.pad the image by the README's amounts (Output sizes) at stride 1 (or by ``pads``), then a slow loop:
    independent of both engines."""
    k = np.asarray(kernel, dtype=np.float64)
    if not correlate:
        k = k[::-1, ::-1]
    explicit, pads = pads, []
    for size, taps in zip(image.shape[:2], k.shape):
        total = {"same": taps - 1, "valid": 0, "full": 2 * (taps - 1)}[mode]
        before = total // 2 if correlate or mode != "same" else total - total // 2
        if mode == "full":
            before = taps - 1
        pads.append((before, total - before))
    pads = list(explicit) if explicit is not None else pads
    np_mode = {"zero": "constant", "constant": "constant"}.get(boundary, boundary)
    widths = pads + [(0, 0)] * (image.ndim - 2)
    extra = {"constant_values": cval} if np_mode == "constant" else {}
    xp = np.pad(image.astype(np.float64), widths, mode=np_mode, **extra)
    rows, cols = xp.shape[0] - k.shape[0] + 1, xp.shape[1] - k.shape[1] + 1
    out = np.zeros((rows, cols) + image.shape[2:])
    for a in range(k.shape[0]):
        for b in range(k.shape[1]):
            out += k[a, b] * xp[a : a + rows, b : b + cols]
    return out


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32, np.float64, bool])
@pytest.mark.parametrize("boundary", ["zero", "reflect", "symmetric", "edge", "wrap"])
@pytest.mark.parametrize("kshape", [(3, 3), (2, 4), (5, 5)])
def test_opencv_reads_the_unpadded_image_and_matches_numpy_pad(dtype, boundary, kshape):
    """OpenCV fills reflect/symmetric/edge/zero borders itself, anchored at the padding's start;
    every mode, both conventions and every input dtype give numpy.pad's numbers in work_dtype."""
    rng = np.random.default_rng(11)
    image = (rng.random((9, 8, 3)) * 200).astype(dtype)
    kernel = rng.integers(-3, 4, size=kshape).astype(np.float64)
    for mode in ("same", "valid", "full"):
        for correlate in (False, True):
            got = filter2d(image, kernel, mode=mode, boundary=boundary, correlate=correlate, engine="opencv")
            want = _padded_reference(image, kernel, mode=mode, boundary=boundary, correlate=correlate)
            assert got.dtype == np.result_type(np.dtype(dtype), np.float32)
            # float32 rounding: about 1e-7 of the largest sum of |weight · pixel| a window can make
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * np.abs(kernel).sum() * 200)


def test_opencv_direct_path_makes_no_padded_copy(monkeypatch):
    """`same` with a border OpenCV fills: numpy.pad is never called; `full`, `wrap`, a non-zero
    constant and a border wider than the image all pad first, and all still give numpy.pad's answer."""
    calls = []
    real_pad = np.pad
    monkeypatch.setattr(np, "pad", lambda *a, **k: calls.append(k.get("mode")) or real_pad(*a, **k))
    image = np.arange(30.0).reshape(5, 6)
    for boundary in ("zero", "reflect", "symmetric", "edge"):
        filter2d(image, np.ones((3, 3)), boundary=boundary, engine="opencv")
        filter2d(np.ones((30, 30)), np.eye(11), boundary=boundary, engine="opencv")  # 121 taps, stride 1
    assert calls == []
    filter2d(image, np.ones((3, 3)), mode="full", engine="opencv")
    filter2d(image, np.ones((3, 3)), boundary="wrap", engine="opencv")
    filter2d(image, np.ones((3, 3)), boundary="constant", cval=2.0, engine="opencv")
    assert calls == ["constant", "wrap", "constant"]
    monkeypatch.setattr(np, "pad", real_pad)
    tall_kernel = np.arange(11.0)[:, np.newaxis] * np.ones((1, 3))   # a border of 5 rows on a 5-row image
    for boundary in ("reflect", "symmetric", "edge"):
        got = filter2d(image, tall_kernel, boundary=boundary, correlate=True, engine="opencv")
        want = _padded_reference(image, tall_kernel, mode="same", boundary=boundary, correlate=True)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_constant_boundary_with_a_value_matches_numpy_pad():
    image = np.arange(20, dtype=np.uint8).reshape(4, 5)
    got = filter2d(image, np.ones((3, 3)), boundary="constant", cval=7.0, engine="opencv")
    want = _padded_reference(image, np.ones((3, 3)), mode="same", boundary="constant", cval=7.0)
    np.testing.assert_array_equal(got, want)


def test_scipy_bands_give_the_numbers_of_one_call(monkeypatch):
    """The SciPy engine filters bands of rows on a thread per core; the seams are invisible."""
    from convcli.ops import engines as filter_module  # the SciPy bands live with the engines

    monkeypatch.setattr(filter_module, "_BAND_ROWS", 7)
    monkeypatch.setattr(filter_module, "usable_cpus", lambda: 3)
    rng = np.random.default_rng(5)
    image = rng.normal(size=(50, 23, 2))
    kernel = rng.normal(size=(5, 4))
    for mode in ("same", "valid", "full"):
        got = filter2d(image, kernel, mode=mode, boundary="symmetric", engine="scipy")
        want = _padded_reference(image, kernel, mode=mode, boundary="symmetric")
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-10)
    monkeypatch.setattr(filter_module, "usable_cpus", lambda: 1)  # one core: no threads
    np.testing.assert_allclose(filter2d(image, kernel, engine="scipy"),
                               _padded_reference(image, kernel, mode="same", boundary="zero"), atol=1e-10)


@pytest.mark.parametrize("kshape", [(3, 3), (4, 5), (11, 11)])
@pytest.mark.parametrize("boundary", ["zero", "reflect", "wrap"])
def test_strided_filters_agree_across_strategies(kshape, boundary):
    """Stride 2 or 3 by a stride-1 pass and a pick (small kernels), by phase images (11×11), and on
    SciPy, all equal the strided taps of the padded image."""
    rng = np.random.default_rng(8)
    image = rng.normal(size=(31, 26, 2))
    kernel = rng.normal(size=kshape)
    pads = ((kshape[0] // 2, (kshape[0] - 1) // 2), (1, kshape[1] - 2))
    for stride in (2, 3, (2, 3)):
        want = _padded_reference(image, kernel, mode="same", boundary=boundary, correlate=True, pads=pads)
        step = (stride, stride) if isinstance(stride, int) else stride
        want = want[:: step[0], :: step[1]]
        for engine in ("opencv", "scipy"):
            got = filter2d(image, kernel, boundary=boundary, correlate=True, stride=stride, engine=engine,
                           padding=(pads[0][0], pads[0][1], pads[1][0], pads[1][1]))
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("channels", [None, 1, 3, 9])
@pytest.mark.parametrize("dilation", [2, 3, (2, 3), (1, 2), (3, 1)])
def test_dilated_filters_agree_across_engines(channels, dilation):
    """OpenCV takes column phases as channels (9 channels × 2 phases is past the 16-channel cap, so
    that case goes through phase images); SciPy through phase images: both equal the dilated taps."""
    rng = np.random.default_rng(9)
    shape = (23, 19) if channels is None else (23, 19, channels)
    image = rng.normal(size=shape).astype(np.float32)
    kernel = rng.normal(size=(3, 4))
    dy, dx = (dilation, dilation) if isinstance(dilation, int) else dilation
    inflated = np.zeros(((3 - 1) * dy + 1, (4 - 1) * dx + 1))
    inflated[::dy, ::dx] = kernel
    for boundary in ("zero", "symmetric"):
        want = _padded_reference(image, inflated, mode="same", boundary=boundary, correlate=True)
        for engine in ("opencv", "scipy"):
            got = filter2d(image, kernel, boundary=boundary, correlate=True, dilation=dilation, engine=engine)
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("layout", ["channel slice", "fortran", "transposed", "negative strides", "column slice"])
def test_dilated_opencv_reads_any_memory_layout(layout):
    """Views, Fortran order and negative strides (an RGBA image's colour channels, a flipped array)
    give the dilated taps on OpenCV as on SciPy."""
    rng = np.random.default_rng(13)
    base = rng.normal(size=(21, 18, 4)).astype(np.float32)
    image = {"channel slice": base[..., :3], "fortran": np.asfortranarray(base[..., 0]),
             "transposed": base[..., 0].T, "negative strides": base[::-1, ::-1, :2],
             "column slice": base[:, ::2, 1]}[layout]
    kernel = rng.normal(size=(3, 3))
    inflated = np.zeros((5, 5))
    inflated[::2, ::2] = kernel
    for mode in ("valid", "same"):
        want = _padded_reference(image, inflated, mode=mode, boundary="zero", correlate=True)
        got = filter2d(image, kernel, mode=mode, correlate=True, dilation=2, engine="opencv")
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_rank1_integer_kernels_stay_exact_on_opencv():
    """Binomial and integer rank-1 kernels are split into exact factors: float32 sums of uint8
    pixels equal the float64 reference bit for bit."""
    rng = np.random.default_rng(14)
    image = rng.integers(0, 256, size=(64, 70)).astype(np.uint8)
    for kernel in (np.outer([1, 4, 6, 4, 1], [1, 2, 0, -2, -1]), np.ones((7, 9)), np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256):
        got = filter2d(image, kernel, correlate=True, engine="opencv")
        want = _padded_reference(image, kernel, mode="same", boundary="zero", correlate=True)
        np.testing.assert_array_equal(got, want.astype(np.float32))


def test_non_finite_images_take_the_scipy_engine():
    """NaN reaches only the outputs whose nonzero taps cover it, on any engine and kernel size (SciPy
    takes the image where OpenCV would spread it by FFT or through a zero in two 1-D passes)."""
    image = np.ones((40, 40), np.float32)
    image[20, 20] = np.nan
    image[5, 30] = np.inf
    for kernel in (np.eye(15), np.outer([1.0, 2, 0, 2, 1], [1.0, 1, 1, 1, 1]), np.ones((3, 3)),
                   np.ones((5, 5)), np.array([[1.0, 0, 1], [0, 1, 0], [1, 0, 1]])):
        footprint = (kernel != 0).astype(np.float64)
        want = _padded_reference((~np.isfinite(image)).astype(np.float64), footprint, mode="same",
                                 boundary="zero", correlate=True) > 0
        for engine in ("opencv", "scipy"):
            got = filter2d(image, kernel, correlate=True, engine=engine)
            np.testing.assert_array_equal(~np.isfinite(got), want)
    half = np.ones((8, 8), np.float16)
    half[3, 3] = np.nan
    assert np.isnan(filter2d(half, np.eye(9), correlate=True)).sum() == 8  # the diagonal through it, in 8×8


def test_a_rank1_kernel_with_a_subnormal_weight_is_filtered_without_warnings():
    """Found by the property test: dividing by a subnormal pivot overflowed; such factors are not
    exact, so the SVD's are used, and nothing warns."""
    kernel = np.zeros((5, 5))
    kernel[4, 3:] = [2.0, 1.11253693e-308]
    image = np.arange(55, dtype=np.uint8).reshape(5, 11)
    got = filter2d(image, kernel, mode="valid")
    want = _padded_reference(image, kernel, mode="valid", boundary="zero")
    np.testing.assert_allclose(got, want, rtol=1e-6)
