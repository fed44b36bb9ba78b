"""`convcli sobel` through click's CliRunner: every option and error path, with exit codes.

Numbers are checked against scipy.ndimage (``sobel``, ``prewitt``, ``correlate``,
``gaussian_filter``). Boundaries as the README's Boundaries table maps them: convcli ``zero`` = ndimage ``constant``,
``symmetric`` = ndimage ``reflect``, ``reflect`` = ndimage ``mirror``, ``edge`` = ``nearest``.
sobel-x under true convolution is correlation with [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], which is
``ndimage.sobel(axis=1)``. Images are read back with Pillow, not with convcli.
"""

import io as stdio
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage, signal

from helpers import png, read_png

RNG = np.random.default_rng(5)
# Correlation kernels (ndimage convention) of OPERATOR-x under convcli's default true convolution.
CORR_X = {
    "sobel": np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "scharr": np.array([[-3.0, 0, 3], [-10, 0, 10], [-3, 0, 3]]),
    "prewitt": np.array([[-1.0, 0, 1], [-1, 0, 1], [-1, 0, 1]]),
}
NDIMAGE_MODE = {"zero": "constant", "symmetric": "reflect", "reflect": "mirror", "edge": "nearest",
                "wrap": "wrap", "replicate": "nearest", "circular": "wrap"}


@pytest.fixture
def npy(tmp_path):
    array = RNG.normal(size=(9, 11)) * 20
    np.save(tmp_path / "in.npy", array)
    return array


def grads(image, operator="sobel", mode="constant"):
    """(gx, gy) by scipy.ndimage, `same` size (padding with zeros for mode='constant')."""
    image = np.asarray(image, dtype=float)
    if operator == "sobel":
        return ndimage.sobel(image, axis=1, mode=mode), ndimage.sobel(image, axis=0, mode=mode)
    if operator == "prewitt":
        return ndimage.prewitt(image, axis=1, mode=mode), ndimage.prewitt(image, axis=0, mode=mode)
    k = CORR_X[operator]
    return ndimage.correlate(image, k, mode=mode), ndimage.correlate(image, k.T, mode=mode)


def direction(gx, gy):
    # + 0.0: a zero gy with a negative gx is π, never −π (docs/semantics.md §1: atan2(gy, gx) in (−π, π]).
    return np.arctan2(gy + 0.0, gx + 0.0)


def to8(values):
    return np.clip(np.rint(values), 0, 255)


# --- numbers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("operator", ["sobel", "scharr", "prewitt"])
@pytest.mark.parametrize("component", ["magnitude", "x", "y", "direction"])
def test_operators_and_components_equal_ndimage(run, npy, operator, component):
    result = run("sobel", "in.npy", "--operator", operator, "--component", component, "-o", "out.npy")
    assert result.exit_code == 0, result.output
    gx, gy = grads(npy, operator)
    expected = {"magnitude": np.hypot(gx, gy), "x": gx, "y": gy, "direction": direction(gx, gy)}[component]
    out = np.load("out.npy")
    assert out.dtype == np.float32 and out.shape == npy.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("dtype,value", [(np.float64, 82.591), (np.float32, 1.7)])
def test_direction_of_a_flat_float_image_is_zero(run, dtype, value):
    """Issue 10: π/2 (float64) and −π/2 (float32) came from rounding residues; ndimage.sobel gives 0."""
    image = np.full((5, 6), value, dtype=dtype)
    np.save("flat.npy", image)
    result = run("sobel", "flat.npy", "--component", "direction", "--boundary", "edge", "-o", "out.npy")
    assert result.exit_code == 0, result.output
    gx, gy = grads(image, mode="nearest")
    np.testing.assert_array_equal(np.load("out.npy"), direction(gx, gy))


def test_default_is_sobel_magnitude_and_rise_is_positive(run):
    ramp = np.tile(np.arange(6.0), (5, 1))  # rises left to right by 1 per pixel
    np.save("ramp.npy", ramp)
    assert run("sobel", "ramp.npy", "--component", "x", "--mode", "valid", "-o", "gx.npy").exit_code == 0
    np.testing.assert_array_equal(np.load("gx.npy"), np.full((3, 4), 8.0))
    assert run("sobel", "ramp.npy", "--component", "direction", "--mode", "valid", "-o", "d.npy").exit_code == 0
    np.testing.assert_array_equal(np.load("d.npy"), np.zeros((3, 4)))
    assert run("sobel", "ramp.npy", "--mode", "valid", "-o", "m.npy").exit_code == 0
    np.testing.assert_array_equal(np.load("m.npy"), np.full((3, 4), 8.0))


@pytest.mark.parametrize("boundary", ["zero", "symmetric", "reflect", "edge", "wrap", "replicate", "circular"])
def test_boundaries_equal_ndimage_modes(run, npy, boundary):
    assert run("sobel", "in.npy", "--boundary", boundary, "-o", "out.npy").exit_code == 0
    gx, gy = grads(npy, mode=NDIMAGE_MODE[boundary])
    np.testing.assert_allclose(np.load("out.npy"), np.hypot(gx, gy), rtol=1e-5, atol=1e-4)


def test_constant_boundary_with_cval(run, npy):
    assert run("sobel", "in.npy", "--component", "y", "--boundary", "constant", "--cval", "30", "-o", "out.npy").exit_code == 0
    # (not ndimage.sobel: its two separable passes would each pad with cval)
    expected = signal.correlate2d(np.pad(npy, 1, constant_values=30.0), CORR_X["sobel"].T, mode="valid")
    np.testing.assert_allclose(np.load("out.npy"), expected, rtol=1e-5, atol=1e-4)


def test_mode_valid_stride_2(run, npy):
    result = run("sobel", "in.npy", "--component", "x", "--mode", "valid", "--stride", "2", "-o", "out.npy")
    assert result.exit_code == 0
    out = np.load("out.npy")
    assert out.shape == (4, 5)  # ⌊(9 − 3)/2⌋ + 1, ⌊(11 − 3)/2⌋ + 1
    np.testing.assert_allclose(out, grads(npy)[0][1:-1:2, 1:-1:2], rtol=1e-5, atol=1e-4)


def test_mode_full(run, npy):
    assert run("sobel", "in.npy", "--component", "y", "--mode", "full", "-o", "out.npy").exit_code == 0
    out = np.load("out.npy")
    assert out.shape == (11, 13)
    np.testing.assert_allclose(out, signal.correlate2d(npy, CORR_X["sobel"].T, mode="full"), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("padding,pads", [("2", ((2, 2), (2, 2))), ("2,0", ((2, 2), (0, 0))), ("0,1,2,1", ((0, 1), (2, 1)))])
def test_explicit_padding(run, npy, padding, pads):
    assert run("sobel", "in.npy", "--component", "x", "--padding", padding, "-o", "out.npy").exit_code == 0
    expected = signal.correlate2d(np.pad(npy, pads), CORR_X["sobel"], mode="valid")
    out = np.load("out.npy")
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)


def test_dilation(run, npy):
    assert run("sobel", "in.npy", "--component", "x", "--mode", "valid", "--dilation", "2", "-o", "out.npy").exit_code == 0
    dilated = np.zeros((5, 5))
    dilated[::2, ::2] = CORR_X["sobel"]
    out = np.load("out.npy")
    assert out.shape == (5, 7)
    np.testing.assert_allclose(out, signal.correlate2d(npy, dilated, mode="valid"), rtol=1e-5, atol=1e-4)


def test_correlate_flips_the_sign_of_gradients(run, npy):
    assert run("sobel", "in.npy", "--component", "x", "--correlate", "-o", "gx.npy").exit_code == 0
    assert run("sobel", "in.npy", "--component", "y", "--correlate", "-o", "gy.npy").exit_code == 0
    gx, gy = grads(npy)
    np.testing.assert_allclose(np.load("gx.npy"), -gx, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(np.load("gy.npy"), -gy, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("sigma,boundary", [(1.0, "zero"), (1.5, "symmetric")])
def test_blur_is_gaussian_prefilter(run, npy, sigma, boundary):
    result = run("sobel", "in.npy", "--blur", sigma, "--boundary", boundary, "-o", "out.npy", "--json")
    assert result.exit_code == 0
    mode = NDIMAGE_MODE[boundary]
    blurred = ndimage.gaussian_filter(npy, sigma, mode=mode, radius=math.ceil(3 * sigma))
    np.testing.assert_allclose(np.load("out.npy"), np.hypot(*grads(blurred, mode=mode)), rtol=1e-5, atol=1e-4)
    assert json.loads(result.stdout)["files"][0]["steps"][0]["blur"] == sigma


@pytest.mark.parametrize("component,value", [("magnitude", lambda gx, gy: np.hypot(gx, gy)),
                                             ("x", lambda gx, gy: np.abs(gx)), ("y", lambda gx, gy: np.abs(gy))])
def test_threshold_map_png_0_255_and_npy_0_1(run, component, value):
    image = png("a.png", RNG.integers(0, 256, size=(10, 12), dtype=np.uint8))
    args = ["sobel", "a.png", "--component", component, "--threshold", "300"]
    assert run(*args, "-o", "edges.png").exit_code == 0
    assert run(*args, "-o", "edges.npy").exit_code == 0
    edges = value(*grads(image)) > 300
    assert 0 < edges.sum() < edges.size
    got = read_png("edges.png")
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, np.where(edges, 255, 0))
    raw = np.load("edges.npy")
    assert raw.dtype == np.float32 and set(np.unique(raw)) == {0.0, 1.0}
    np.testing.assert_array_equal(raw, edges.astype(np.float32))


# --- default 8-bit mappings ------------------------------------------------------------------------


def test_magnitude_8bit_default_is_clip_not_per_image_normalize(run):
    image = png("a.png", RNG.integers(0, 256, size=(8, 9), dtype=np.uint8))
    result = run("sobel", "a.png", "-o", "out.png", "--json")
    assert result.exit_code == 0
    np.testing.assert_array_equal(read_png("out.png"), to8(np.hypot(*grads(image))))
    assert json.loads(result.stdout)["files"][0]["scale"] == "clip"
    # a faint image keeps faint edges: no stretching to 0..255
    faint = png("faint.png", (image // 64).astype(np.uint8))
    assert run("sobel", "faint.png", "-o", "faint-out.png").exit_code == 0
    got = read_png("faint-out.png")
    np.testing.assert_array_equal(got, to8(np.hypot(*grads(faint))))
    assert got.max() < 255


@pytest.mark.parametrize("component", ["x", "y"])
def test_x_y_8bit_default_is_offset_128(run, component):
    image = png("a.png", RNG.integers(0, 256, size=(8, 9), dtype=np.uint8))
    result = run("sobel", "a.png", "--component", component, "-o", "out.png", "--json")
    assert result.exit_code == 0
    gx, gy = grads(image)
    np.testing.assert_array_equal(read_png("out.png"), to8((gx if component == "x" else gy) + 128))
    assert json.loads(result.stdout)["files"][0]["scale"] == "offset"
    png("flat.png", np.full((6, 7), 90, np.uint8))
    assert run("sobel", "flat.png", "--component", component, "--boundary", "edge", "-o", "flat-out.png").exit_code == 0
    np.testing.assert_array_equal(read_png("flat-out.png"), np.full((6, 7), 128))


def test_x_16bit_offset_is_32768(run):
    Image.fromarray(np.full((5, 6), 1000, np.uint16)).save("flat16.png")
    assert run("sobel", "flat16.png", "--component", "x", "--boundary", "edge", "-o", "out.png").exit_code == 0
    got = read_png("out.png").astype(np.int64)
    np.testing.assert_array_equal(got, np.full((5, 6), 32768))


def test_direction_8bit_mapping(run, npy):
    assert run("sobel", "in.npy", "--component", "direction", "-o", "d.png", "--json").exit_code == 0
    theta = direction(*grads(npy))
    got = read_png("d.png")
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, to8((theta + np.pi) / (2 * np.pi) * 255))


def test_direction_8bit_hand_values(run):
    # bright on the left: gx < 0, gy = 0 → θ = π → 255; bright at the bottom: θ = π/2 → 191.25 → 191
    left = np.zeros((5, 6), np.uint8)
    left[:, :3] = 100
    png("left.png", left)
    png("bottom.png", np.ascontiguousarray(left.T[::-1]))
    assert run("sobel", "left.png", "--component", "direction", "--mode", "valid", "-o", "l.png").exit_code == 0
    l_out = read_png("l.png")
    assert l_out.shape == (3, 4) and set(l_out[:, 1:3].ravel()) == {255}
    assert run("sobel", "bottom.png", "--component", "direction", "--mode", "valid", "-o", "b.png").exit_code == 0
    b_out = read_png("b.png")
    assert set(b_out[1:3, :].ravel()) == {191}


def test_scale_normalize_is_per_image_only_when_asked(run):
    image = png("a.png", RNG.integers(0, 256, size=(8, 9), dtype=np.uint8))
    assert run("sobel", "a.png", "--component", "x", "--scale", "normalize", "-o", "n.png").exit_code == 0
    gx = grads(image)[0]
    np.testing.assert_array_equal(read_png("n.png"), np.rint((gx - gx.min()) / (gx.max() - gx.min()) * 255))
    assert run("sobel", "a.png", "--component", "x", "--scale", "abs", "-o", "a2.png").exit_code == 0
    np.testing.assert_array_equal(read_png("a2.png"), to8(np.abs(gx)))


# --- colour, alpha, gray ---------------------------------------------------------------------------


def test_rgb_channel_by_channel(run):
    rgb = png("rgb.png", RNG.integers(0, 256, size=(6, 8, 3), dtype=np.uint8))
    assert run("sobel", "rgb.png", "-o", "out.npy").exit_code == 0
    out = np.load("out.npy")
    assert out.shape == (6, 8, 3)
    for c in range(3):
        np.testing.assert_allclose(out[..., c], np.hypot(*grads(rgb[..., c])), rtol=1e-5, atol=1e-3)


def test_gray(run):
    from skimage.color import rgb2gray

    rgb = png("rgb.png", RNG.integers(0, 256, size=(6, 8, 3), dtype=np.uint8))
    result = run("sobel", "rgb.png", "--gray", "-o", "out.npy", "--json")
    assert result.exit_code == 0
    out = np.load("out.npy")
    assert out.shape == (6, 8)
    np.testing.assert_allclose(out, np.hypot(*grads(rgb2gray(rgb) * 255)), rtol=1e-5, atol=1e-3)
    assert [s["op"] for s in json.loads(result.stdout)["files"][0]["steps"]] == ["gray", "sobel"]


def test_rgba_alpha_carried_not_differentiated(run):
    rgba = png("rgba.png", RNG.integers(0, 256, size=(7, 9, 4), dtype=np.uint8))
    assert run("sobel", "rgba.png", "-o", "out.png").exit_code == 0
    out = read_png("out.png")
    assert out.shape == (7, 9, 4)
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    np.testing.assert_array_equal(out[..., 1], to8(np.hypot(*grads(rgba[..., 1]))))
    # valid, stride 2: each output keeps the alpha of the pixel its window is centred on
    assert run("sobel", "rgba.png", "--mode", "valid", "--stride", "2", "--threshold", "200", "-o", "v.png").exit_code == 0
    out = read_png("v.png")
    assert out.shape == (3, 4, 4)
    np.testing.assert_array_equal(out[..., 3], rgba[1:-1:2, 1:-1:2, 3])
    assert set(np.unique(out[..., :3])) <= {0, 255}


def test_gray_rgba_keeps_alpha(run):
    rgba = png("rgba.png", RNG.integers(0, 256, size=(5, 6, 4), dtype=np.uint8))
    assert run("sobel", "rgba.png", "--gray", "--component", "y", "-o", "out.npy").exit_code == 0
    out = np.load("out.npy")
    assert out.shape == (5, 6, 2)
    gray = rgba[..., :3].astype(float) @ [0.2125, 0.7154, 0.0721]
    np.testing.assert_allclose(out[..., 0], grads(gray)[1], rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(out[..., 1], rgba[..., 3])


def test_sample_input(run):
    from skimage import data

    assert run("sobel", "sample:camera", "--component", "x", "-o", "cam.npy").exit_code == 0
    np.testing.assert_allclose(np.load("cam.npy"), grads(data.camera())[0], rtol=1e-5, atol=1e-3)


def test_stdin_and_stdout(run):
    image = RNG.integers(0, 256, size=(5, 6), dtype=np.uint8)
    buffer = stdio.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    result = run("sobel", "-", "--component", "x", "-o", "-", "--format", "npy", input=buffer.getvalue())
    assert result.exit_code == 0
    np.testing.assert_allclose(np.load(stdio.BytesIO(result.stdout_bytes)), grads(image)[0], atol=1e-3)


# --- reports, dry run, batches ---------------------------------------------------------------------


def test_report_fields(run):
    png("a.png", np.zeros((20, 16), np.uint8))
    result = run("sobel", "a.png", "--operator", "scharr", "--component", "x", "--threshold", "10", "--mode", "valid",
                 "--stride", "2", "--boundary", "edge", "-o", "o.png", "--json")
    assert result.exit_code == 0
    entry = json.loads(result.stdout)["files"][0]
    assert entry["output_shape"] == [9, 7] and entry["scale"] == "mask"
    step = entry["steps"][0]
    assert step["op"] == "sobel" and step["operator"] == "scharr" and step["component"] == "x"
    assert step["kernel_shape"] == [3, 3] and step["boundary"] == "edge" and step["convolution"] == "convolve"
    assert step["threshold"] == 10 and step["stride"] == [2, 2] and step["jump"] == [2, 2]
    assert step["arithmetic"]["rows"] == "20 → ⌊(20 − 3)/2⌋ + 1 = 9"
    result = run("sobel", "a.png", "--component", "direction", "-o", "d.png", "--json")
    assert json.loads(result.stdout)["files"][0]["scale"] == "angle (θ + π)/2π"
    result = run("sobel", "a.png", "-o", "d.npy", "--json")
    assert json.loads(result.stdout)["files"][0]["scale"] == "raw"


@pytest.mark.parametrize("args,shape", [
    (["--mode", "valid", "--stride", "2"], [19, 14, 3]),
    (["--mode", "full"], [42, 32, 3]),
    (["--padding", "3"], [44, 34, 3]),
    (["--mode", "valid", "--dilation", "2,3"], [36, 24, 3]),
    (["--gray"], [40, 30]),
])
def test_dry_run_shapes(run, args, shape):
    png("a.png", np.zeros((40, 30, 3), np.uint8))
    result = run("sobel", "a.png", *args, "--dry-run", "-o", "o.png", "--report", "r.json")
    assert result.exit_code == 0 and not os.path.exists("o.png")
    assert json.loads(Path("r.json").read_text())["files"][0]["output_shape"] == shape


def test_summary_arithmetic_on_stderr(run):
    png("a.png", np.zeros((512, 512), np.uint8))
    result = run("sobel", "a.png", "--mode", "valid", "--stride", "2", "-o", "o.png")
    assert result.exit_code == 0 and result.stdout == ""
    assert "512 → ⌊(512 − 3)/2⌋ + 1 = 255" in result.stderr
    assert run("-q", "sobel", "a.png", "-o", "o.png").stderr == ""


def test_several_inputs_one_failing(run):
    png("a.png", np.zeros((8, 8), np.uint8))
    png("tiny.png", np.zeros((2, 2), np.uint8))
    Path("broken.png").write_bytes(b"not an image")
    result = run("sobel", "a.png", "tiny.png", "broken.png", "b.png", "--mode", "valid", "-O", "out",
                 "--name", "{stem}-{op}{ext}", "--report", "r.json")
    assert result.exit_code == 1
    assert os.listdir("out") == ["a-sobel.png"]
    report = json.loads(Path("r.json").read_text())
    assert (report["ok"], report["failed"]) == (1, 3)
    assert "tiny.png" in result.stderr and "broken.png" in result.stderr and "b.png" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_clobber_and_output_is_input(run, npy):
    Path("o.npy").write_bytes(b"keep")
    result = run("sobel", "in.npy", "-o", "o.npy", "--no-clobber")
    assert result.exit_code == 1 and Path("o.npy").read_bytes() == b"keep"
    before = Path("in.npy").read_bytes()
    assert run("sobel", "in.npy", "-o", "in.npy").exit_code == 2
    assert Path("in.npy").read_bytes() == before


@pytest.mark.parametrize("args,message", [
    (["--component", "direction", "--threshold", "5", "-o", "o.npy"], "not from direction"),
    (["--mode", "same", "--padding", "1", "-o", "o.npy"], "--padding replaces --mode"),
    (["--mode", "full", "--padding", "1", "-o", "o.npy"], "--padding replaces --mode"),
    (["--boundary", "mirror", "-o", "o.npy"], "ambiguous"),
    (["--cval", "3", "-o", "o.npy"], "--cval needs --boundary constant"),
    (["--operator", "roberts", "-o", "o.npy"], "roberts"),
    (["--component", "z", "-o", "o.npy"], "'z'"),
    (["--blur", "0", "-o", "o.npy"], "--blur"),
    (["--blur", "-1", "-o", "o.npy"], "--blur"),
    (["--threshold", "high", "-o", "o.npy"], "--threshold"),
    (["--stride", "0", "-o", "o.npy"], ">= 1"),
    (["--dilation", "0", "-o", "o.npy"], ">= 1"),
    (["--padding", "1,2,3", "-o", "o.npy"], "top,bottom,left,right"),
    (["--mode", "bogus", "-o", "o.npy"], "bogus"),
    ([], "no output"),
    (["-o", "o.npy", "-O", "d"], "not both"),
    (["-o", "-", "--json"], "--report PATH"),
    (["-o", "o.npy", "-k", "sobel-x"], "-k"),
])
def test_usage_errors_exit_2(run, npy, args, message):
    result = run("sobel", "in.npy", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not os.path.exists("o.npy")


def test_help_lists_options(run):
    result = run("sobel", "--help")
    assert result.exit_code == 0
    for option in ("--operator", "--component", "--blur", "--threshold", "--gray", "--mode", "--boundary",
                   "--stride", "--padding", "--dilation", "--correlate"):
        assert option in result.stdout
