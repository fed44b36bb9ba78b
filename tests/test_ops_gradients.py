"""gradients/sobel against scipy.ndimage (sobel, prewitt, correlate, with explicit Gaussian and Scharr
kernels), scikit-image's Scharr filters, hand derivations, and the conformance kit's reference data."""

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import ndimage

from convcli.ops.filter import filter2d
from convcli.ops.gradients import (
    COMPONENTS,
    OPERATORS,
    PREWITT_X,
    PREWITT_Y,
    SCHARR_X,
    SCHARR_Y,
    SOBEL_X,
    SOBEL_Y,
    WEIGHTS,
    gradients,
    sobel,
)
from helpers import case_options, kit_cases, kit_file

RNG = np.random.default_rng(5)

# convcli boundary → scipy.ndimage mode (README, Boundaries)
NDIMAGE_MODE = {"zero": "constant", "symmetric": "reflect", "edge": "nearest", "reflect": "mirror", "wrap": "wrap"}


def ramp_x(shape=(6, 7), slope=1.0):
    return np.tile(np.arange(shape[1], dtype=np.float64) * slope, (shape[0], 1))


# --------------------------------------------------------------------------------------------------
# Against scipy.ndimage and scikit-image


@pytest.mark.parametrize("boundary", list(NDIMAGE_MODE))
def test_sobel_matches_ndimage_sobel(boundary):
    image = RNG.normal(size=(9, 11)) * 50
    gx, gy = gradients(image, boundary=boundary)
    mode = NDIMAGE_MODE[boundary]
    np.testing.assert_allclose(gx, ndimage.sobel(image, axis=1, mode=mode), atol=1e-10)
    np.testing.assert_allclose(gy, ndimage.sobel(image, axis=0, mode=mode), atol=1e-10)


@pytest.mark.parametrize("boundary", ["zero", "symmetric", "edge"])
def test_prewitt_matches_ndimage_prewitt(boundary):
    image = RNG.normal(size=(8, 10))
    gx, gy = gradients(image, operator="prewitt", boundary=boundary)
    mode = NDIMAGE_MODE[boundary]
    np.testing.assert_allclose(gx, ndimage.prewitt(image, axis=1, mode=mode), atol=1e-10)
    np.testing.assert_allclose(gy, ndimage.prewitt(image, axis=0, mode=mode), atol=1e-10)


def test_scharr_matches_ndimage_correlate_with_3_10_3():
    image = RNG.normal(size=(9, 8))
    # correlation weights that give a positive response to a left-to-right rise
    kx = np.array([[-3.0, 0.0, 3.0], [-10.0, 0.0, 10.0], [-3.0, 0.0, 3.0]])
    gx, gy = gradients(image, operator="scharr", boundary="edge")
    np.testing.assert_allclose(gx, ndimage.correlate(image, kx, mode="nearest"), atol=1e-10)
    np.testing.assert_allclose(gy, ndimage.correlate(image, kx.T, mode="nearest"), atol=1e-10)


def test_scharr_is_16_times_skimage_scharr():
    # skimage's scharr_v/scharr_h use the same 3, 10, 3 kernels divided by 16 (symmetric boundary).
    from skimage import filters

    image = RNG.normal(size=(10, 12))
    gx, gy = gradients(image, operator="scharr", boundary="symmetric")
    inner = (slice(1, -1), slice(1, -1))
    np.testing.assert_allclose(gx[inner], 16 * filters.scharr_v(image)[inner], atol=1e-10)
    np.testing.assert_allclose(gy[inner], 16 * filters.scharr_h(image)[inner], atol=1e-10)


def test_magnitude_is_hypot_and_direction_is_atan2():
    image = RNG.normal(size=(7, 7))
    gx, gy = gradients(image, boundary="symmetric")
    np.testing.assert_allclose(sobel(image, boundary="symmetric"), np.sqrt(gx**2 + gy**2), atol=1e-12)
    np.testing.assert_array_equal(sobel(image, component="x", boundary="symmetric"), gx)
    np.testing.assert_array_equal(sobel(image, component="y", boundary="symmetric"), gy)
    np.testing.assert_allclose(sobel(image, component="direction", boundary="symmetric"), np.arctan2(gy, gx))


# --------------------------------------------------------------------------------------------------
# Signs and directions derived by hand


@pytest.mark.parametrize("operator", OPERATORS)
def test_left_to_right_ramp_gives_positive_gx_and_zero_gy(operator):
    # valid mode: every window sees the ramp. gx = (1 + s + 1)·2·slope with s = 2, 10, 1 the centre weight
    centre = {"sobel": 2, "scharr": 10, "prewitt": 1}[operator]
    weight = {"sobel": 1, "scharr": 3, "prewitt": 1}[operator]
    gx, gy = gradients(ramp_x(slope=3.0), operator=operator, mode="valid")
    np.testing.assert_allclose(gx, (2 * weight + centre) * 2 * 3.0)
    np.testing.assert_array_equal(gy, 0.0)


def test_top_to_bottom_ramp_gives_positive_gy():
    gx, gy = gradients(ramp_x().T, mode="valid")
    np.testing.assert_allclose(gy, 8.0)
    np.testing.assert_array_equal(gx, 0.0)


def test_correlate_flips_the_sign():
    gx, _ = gradients(ramp_x(), mode="valid", correlate=True)
    np.testing.assert_allclose(gx, -8.0)


def test_direction_of_pure_ramps():
    np.testing.assert_allclose(sobel(ramp_x(), component="direction", mode="valid"), 0.0)
    np.testing.assert_allclose(sobel(ramp_x().T, component="direction", mode="valid"), math.pi / 2)
    np.testing.assert_allclose(sobel(-ramp_x().T, component="direction", mode="valid"), -math.pi / 2)


def test_direction_of_a_falling_x_ramp_is_plus_pi():
    # gy is an exact zero: the angle is π (not −π, whatever the sign of that zero)
    angle = sobel(-ramp_x(), component="direction", mode="valid")
    np.testing.assert_array_equal(angle, math.pi)
    angle = sobel(ramp_x(), component="direction", mode="valid", correlate=True)
    np.testing.assert_array_equal(angle, math.pi)


def test_direction_is_zero_without_gradient():
    np.testing.assert_array_equal(sobel(np.full((4, 4), 9.0), component="direction", mode="valid"), 0.0)


@pytest.mark.parametrize("dtype,value", [(np.float64, 82.591), (np.float32, 1.7), (np.float32, 1e30)])
@pytest.mark.parametrize("engine", ["auto", "scipy", "opencv"])
@pytest.mark.parametrize("boundary", ["edge", "zero"])
def test_direction_ignores_rounding_residues_as_ndimage_sobel(dtype, value, engine, boundary):
    """Issue 10: a flat float image gave ±π/2 (a 1e-14 residue in gy). scipy.ndimage.sobel's exact
    zeros are the reference: where it gives gx = gy = 0 the direction is 0, and with the zero
    boundary the real edges of the flat plateau keep ndimage's angles."""
    image = np.full((6, 7), value, dtype=dtype)
    got = sobel(image, component="direction", boundary=boundary, engine=engine)
    mode = NDIMAGE_MODE[boundary]
    wide = image.astype(np.float64)
    gx, gy = ndimage.sobel(wide, axis=1, mode=mode), ndimage.sobel(wide, axis=0, mode=mode)
    expected = np.arctan2(gy + 0.0, gx + 0.0)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=0)
    if boundary == "edge":
        assert not got.any()


def test_direction_keeps_gradients_the_sums_resolve():
    # A rise of 1e-9 per row on values near 1 (float64): gy = 8e-9, far above the rounding bound
    # 9·ε·Σ|w·x| ≈ 9 · 2.2e-16 · 8 ≈ 1.6e-14, so its angle stays π/2 (and −π/2 for a fall).
    rows = 1.0 + 1e-9 * np.arange(6.0)[:, None] * np.ones((6, 7))
    np.testing.assert_allclose(sobel(rows, component="direction", mode="valid"), math.pi / 2)
    np.testing.assert_allclose(sobel(rows[::-1], component="direction", mode="valid"), -math.pi / 2)
    # float32: a step of 1 on 1000 (a relative 1e-3) keeps its direction on every engine
    step = np.full((6, 7), 1000.0, np.float32)
    step[:, 4:] += 1
    for engine in ("scipy", "opencv"):
        angle = sobel(step, component="direction", mode="valid", engine=engine)
        np.testing.assert_array_equal(angle, 0.0)
        assert sobel(step.T, component="direction", mode="valid", engine=engine)[2:4].min() == np.float32(math.pi / 2)


def test_direction_with_blur_and_constant_boundary_on_a_flat_image():
    image = np.full((9, 9), 82.591)
    assert not sobel(image, component="direction", boundary="edge", blur=1.5).any()
    assert not sobel(image, component="direction", boundary="constant", cval=82.591, stride=2, dilation=2).any()
    assert np.isnan(sobel(np.where(np.eye(5) > 0, np.nan, 1.0), component="direction", mode="valid")).any()


def test_magnitude_of_a_diagonal_ramp():
    y, x = np.mgrid[0:6, 0:6].astype(float)
    image = 3 * x + 4 * y
    np.testing.assert_allclose(sobel(image, mode="valid"), 8 * 5.0)
    np.testing.assert_allclose(sobel(image, component="direction", mode="valid"), math.atan2(4, 3))


def test_uint8_is_computed_in_float_without_wrapping():
    image = np.zeros((3, 5), dtype=np.uint8)
    image[:, 3:] = 255
    gx = sobel(image, component="x", mode="valid")
    assert gx.dtype == np.float32  # NumPy's promotion of uint8 with float32, as PyTorch computes
    np.testing.assert_array_equal(gx, [[0.0, 4 * 255.0, 4 * 255.0]])
    assert sobel(image.astype(np.int64), component="x", mode="valid").dtype == np.float64


def test_magnitude_matches_hypot_and_never_overflows():
    """OpenCV's magnitude gives √(gx² + gy²) as numpy.hypot does; where a float32 square would
    overflow (|g| ≥ 1.8e19) or a value is NaN, numpy.hypot is used and nothing becomes inf."""
    rng = np.random.default_rng(3)
    image = rng.random((300, 260, 2), dtype=np.float32) * 255
    gx, gy = gradients(image.astype(np.float64))
    want = np.sqrt(gx**2 + gy**2)
    got = sobel(image)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-3)
    huge = np.zeros((4, 5), np.float32)
    huge[:, 3:] = 3e19
    got = sobel(huge, mode="valid")
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, np.hypot(*gradients(huge.astype(np.float64), mode="valid")), rtol=1e-6)
    with_nan = np.ones((5, 5), np.float32)
    with_nan[2, 2] = np.nan
    # NaN reaches the outputs whose nonzero taps cover it: all but the centre (both kernels are 0 there)
    assert np.isnan(sobel(with_nan, mode="valid")).sum() == 8


def test_colour_channel_by_channel():
    image = RNG.normal(size=(6, 7, 3))
    out = sobel(image, operator="scharr", boundary="wrap")
    assert out.shape == (6, 7, 3)
    for c in range(3):
        np.testing.assert_allclose(out[..., c], sobel(image[..., c], operator="scharr", boundary="wrap"))


# --------------------------------------------------------------------------------------------------
# Threshold


def test_threshold_magnitude():
    image = RNG.normal(size=(8, 8)) * 10
    edges = sobel(image, threshold=20.0)
    assert edges.dtype == bool
    np.testing.assert_array_equal(edges, sobel(image) > 20.0)


@pytest.mark.parametrize("component", ["x", "y"])
def test_threshold_components_use_the_absolute_value(component):
    image = RNG.normal(size=(8, 8)) * 10
    value = sobel(image, component=component)
    edges = sobel(image, component=component, threshold=15)
    np.testing.assert_array_equal(edges, np.abs(value) > 15)
    assert (edges & (value < 0)).any()  # falling edges count too


def test_threshold_on_an_edge():
    image = np.zeros((3, 6))
    image[:, 3:] = 10.0
    np.testing.assert_array_equal(sobel(image, threshold=35, mode="valid"), [[False, True, True, False]])


# --------------------------------------------------------------------------------------------------
# Blur


def gaussian_weights(sigma):
    half = math.ceil(3 * sigma)
    g = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    k = np.outer(g, g)
    return k / k.sum()


@pytest.mark.parametrize("boundary", ["zero", "symmetric", "edge"])
@pytest.mark.parametrize("sigma", [0.7, 1.5])
def test_blur_is_an_explicit_gaussian_then_sobel(boundary, sigma):
    image = RNG.normal(size=(12, 15)) * 20
    mode = NDIMAGE_MODE[boundary]
    blurred = ndimage.correlate(image, gaussian_weights(sigma), mode=mode)
    gx, gy = gradients(image, blur=sigma, boundary=boundary)
    np.testing.assert_allclose(gx, ndimage.sobel(blurred, axis=1, mode=mode), atol=1e-9)
    np.testing.assert_allclose(gy, ndimage.sobel(blurred, axis=0, mode=mode), atol=1e-9)


def test_blur_with_constant_boundary_uses_cval_for_both_steps():
    image = RNG.normal(size=(9, 9))
    # ndimage.sobel is separable and would pad its intermediate result with cval too: use the 2-D
    # correlation with the full 3×3 kernel, whose padding holds cval as the blurred image's does.
    blurred = ndimage.correlate(image, gaussian_weights(1.0), mode="constant", cval=5.0)
    kx = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    expected = ndimage.correlate(blurred, kx, mode="constant", cval=5.0)
    gx = sobel(image, component="x", blur=1.0, boundary="constant", cval=5.0)
    np.testing.assert_allclose(gx, expected, atol=1e-10)


def test_blur_is_filter2d_composition_and_keeps_the_geometry_shape():
    image = RNG.normal(size=(11, 13))
    blurred = filter2d(image, "gaussian:sigma=2", boundary="edge")
    expected = filter2d(blurred, "sobel-y", mode="valid", stride=2, boundary="edge")
    got = sobel(image, component="y", blur=2, mode="valid", stride=2, boundary="edge")
    assert got.shape == ((11 - 3) // 2 + 1, (13 - 3) // 2 + 1)
    np.testing.assert_allclose(got, expected)


# --------------------------------------------------------------------------------------------------
# Geometry


@pytest.mark.parametrize(
    ("geometry", "shape"),
    [
        ({}, (9, 8)),
        ({"mode": "valid"}, (7, 6)),
        ({"mode": "full"}, (11, 10)),
        ({"stride": 2}, (5, 4)),
        ({"stride": (1, 3)}, (9, 3)),
        ({"mode": "valid", "dilation": 2}, (5, 4)),
        ({"padding": (0, 1), "mode": "valid"}, (7, 8)),
        ({"padding": (2, 0, 0, 0)}, (9, 6)),
    ],
)
def test_geometry_shapes(geometry, shape):
    image = RNG.normal(size=(9, 8))
    for component in COMPONENTS:
        assert sobel(image, component=component, **geometry).shape == shape
    gx, gy = gradients(image, **geometry)
    assert gx.shape == gy.shape == shape


def test_stride_2_same_is_the_stride_1_result_subsampled():
    image = RNG.normal(size=(9, 8))
    full = sobel(image, boundary="symmetric")
    np.testing.assert_allclose(sobel(image, boundary="symmetric", stride=2), full[::2, ::2])


def test_dilation_matches_ndimage_with_a_dilated_kernel():
    image = RNG.normal(size=(10, 10))
    kx = np.zeros((5, 5))
    kx[::2, ::2] = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]  # correlation weights: a rise is positive
    expected = ndimage.correlate(image, kx, mode="constant")[2:-2, 2:-2]
    np.testing.assert_allclose(sobel(image, component="x", mode="valid", dilation=2), expected, atol=1e-10)


def test_too_small_for_valid_is_a_geometry_error():
    from convcli.errors import GeometryError

    with pytest.raises(GeometryError):
        sobel(np.ones((2, 5)), mode="valid")


# --------------------------------------------------------------------------------------------------
# The direction's range


def test_direction_is_radians_within_pi():
    angle = sobel(RNG.normal(size=(6, 6)), component="direction")
    assert angle.dtype == np.float64 and angle.shape == (6, 6)
    assert angle.min() >= -math.pi and angle.max() <= math.pi


# --------------------------------------------------------------------------------------------------
# Validation: one test per branch


def test_names():
    assert OPERATORS == ("sobel", "scharr", "prewitt")
    assert COMPONENTS == ("magnitude", "x", "y", "direction")


# The weights as the textbooks write them (scipy.ndimage.sobel/prewitt correlate with the flipped x row).
TEXTBOOK = {
    "sobel": [[1, 0, -1], [2, 0, -2], [1, 0, -1]],
    "scharr": [[3, 0, -3], [10, 0, -10], [3, 0, -3]],
    "prewitt": [[1, 0, -1], [1, 0, -1], [1, 0, -1]],
}
LIBRARY = Path(__file__).resolve().parents[1] / "kernels"


@pytest.mark.parametrize("operator", OPERATORS)
def test_weights_are_the_textbook_kernels_and_read_only(operator):
    x_weights, y_weights = WEIGHTS[operator]
    assert x_weights.dtype == y_weights.dtype == np.float64
    np.testing.assert_array_equal(x_weights, np.array(TEXTBOOK[operator]))
    np.testing.assert_array_equal(y_weights, np.array(TEXTBOOK[operator]).T)
    assert not x_weights.flags.writeable and not y_weights.flags.writeable
    assert WEIGHTS == {"sobel": (SOBEL_X, SOBEL_Y), "scharr": (SCHARR_X, SCHARR_Y), "prewitt": (PREWITT_X, PREWITT_Y)}


@pytest.mark.parametrize("operator", OPERATORS)
@pytest.mark.parametrize("axis", ["x", "y"])
def test_library_files_hold_the_same_weights(operator, axis):
    """kernels/sobel-x.yaml and the others (what -k sobel-x gives) cannot drift from the constants."""
    data = yaml.safe_load((LIBRARY / f"{operator}-{axis}.yaml").read_text(encoding="utf-8"))
    assert set(data) <= {"name", "description", "matrix", "tags"}  # no scale or normalize changes them
    weights = WEIGHTS[operator][("x", "y").index(axis)]
    assert data["matrix"] == weights.tolist()


@pytest.mark.parametrize("function", [sobel, gradients])
def test_unknown_operator(function):
    with pytest.raises(ValueError, match="`operator`"):
        function(np.ones((4, 4)), operator="canny")


def test_unknown_component():
    with pytest.raises(ValueError, match="`component`"):
        sobel(np.ones((4, 4)), component="angle")


@pytest.mark.parametrize("function", [sobel, gradients])
@pytest.mark.parametrize("blur", [0, -1.0, float("nan"), float("inf"), True, "1"])
def test_bad_blur(function, blur):
    with pytest.raises(ValueError, match="`blur`"):
        function(np.ones((4, 4)), blur=blur)


def test_threshold_with_direction_is_refused():
    with pytest.raises(ValueError, match="`threshold`.*direction"):
        sobel(np.ones((4, 4)), component="direction", threshold=1.0)


@pytest.mark.parametrize("threshold", [float("nan"), float("inf"), "10", False])
def test_bad_threshold(threshold):
    with pytest.raises(ValueError, match="`threshold`"):
        sobel(np.ones((4, 4)), threshold=threshold)


def test_unknown_geometry_keyword():
    with pytest.raises(TypeError, match="normalize"):
        sobel(np.ones((4, 4)), normalize=True)


def test_bad_geometry_values_come_from_filter2d():
    with pytest.raises(ValueError, match="`boundary`"):
        sobel(np.ones((4, 4)), boundary="clamp")
    with pytest.raises(ValueError, match="`mirror` is ambiguous"):
        sobel(np.ones((4, 4)), boundary="mirror")
    with pytest.raises(ValueError, match="`cval`"):
        sobel(np.ones((4, 4)), boundary="constant", cval=float("nan"))
    with pytest.raises(ValueError, match="`mode`"):
        sobel(np.ones((4, 4)), mode="half")
    with pytest.raises(ValueError, match="`stride`"):
        sobel(np.ones((4, 4)), stride=0)


@pytest.mark.parametrize("image", [np.ones(4), np.ones((0, 4)), np.array([["a"]])])
def test_bad_image(image):
    with pytest.raises(ValueError, match="`image`"):
        sobel(image)


# --------------------------------------------------------------------------------------------------
# The conformance kit's reference data (scipy.ndimage)


@pytest.mark.parametrize("case", kit_cases("sobel-"))
def test_conformance_sobel(case):
    options = case_options(case["args"])
    image = np.load(kit_file(case, "in"))
    expected = np.load(kit_file(case, "expect_npy"))
    got = sobel(
        image,
        operator=options.get("--operator", "sobel"),
        component=options.get("--component", "magnitude"),
        boundary=options.get("--boundary", "zero"),
    )
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
