"""`convcli upsample` through click's CliRunner: every method, option and error path, with exit codes.

References: ``numpy.repeat`` / ``numpy.kron`` (nearest), slicing (zeros), the torch
``align_corners=False`` source-coordinate formula written out and scikit-image's
``resize(order=1, mode='edge', anti_aliasing=False)`` (bilinear; they agree for integer factors),
hand-computed arrays and a plain stamping loop (transpose, ``conv_transpose2d``). Images are read back
with Pillow, not with convcli.
"""

import io as stdio
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import png, read_png

RNG = np.random.default_rng(3)


@pytest.fixture
def npy(tmp_path):
    array = RNG.normal(size=(4, 5))
    np.save(tmp_path / "in.npy", array)
    return array


def torch_bilinear_axis(a, f, axis):
    """torch interpolate(mode='bilinear', align_corners=False) along one axis, integer factor."""
    n = a.shape[axis]
    src = np.maximum((np.arange(n * f) + 0.5) / f - 0.5, 0.0)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    w = (src - i0).reshape([-1 if d == axis else 1 for d in range(a.ndim)])
    return np.take(a, i0, axis=axis) * (1 - w) + np.take(a, i1, axis=axis) * w


def stamp(x, k, f, pads=((0, 0), (0, 0)), extra=(0, 0)):
    """conv_transpose2d by a loop: each pixel adds value·k at stride f, then crop and extend."""
    (fy, fx), (kh, kw) = f, k.shape
    full = np.zeros(((x.shape[0] - 1) * fy + kh + extra[0], (x.shape[1] - 1) * fx + kw + extra[1]))
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            full[i * fy : i * fy + kh, j * fx : j * fx + kw] += x[i, j] * k
    (top, bottom), (left, right) = pads
    return full[top : full.shape[0] - bottom, left : full.shape[1] - right]


# --- nearest, zeros, bilinear ----------------------------------------------------------------------


def test_nearest_uint8_png_stays_uint8_exactly(run):
    image = png("a.png", RNG.integers(0, 256, size=(5, 6), dtype=np.uint8))
    result = run("upsample", "a.png", "--factor", "2,3", "-o", "out.png", "--json")
    assert result.exit_code == 0
    got = read_png("out.png")
    assert got.dtype == np.uint8 and got.shape == (10, 18)
    np.testing.assert_array_equal(got, np.repeat(np.repeat(image, 2, axis=0), 3, axis=1))
    entry = json.loads(result.stdout)["files"][0]
    assert entry["output_dtype"] == "uint8" and entry.get("clipped", 0) == 0


def test_nearest_is_the_default_and_one_factor_means_both_axes(run, npy):
    assert run("upsample", "in.npy", "--factor", "2", "-o", "out.npy").exit_code == 0
    np.testing.assert_allclose(np.load("out.npy"), np.kron(npy, np.ones((2, 2))), rtol=1e-6)


def test_zeros_bed_of_nails(run):
    image = png("a.png", RNG.integers(1, 256, size=(3, 4, 3), dtype=np.uint8))
    assert run("upsample", "a.png", "--method", "zeros", "--factor", "3,2", "-o", "out.png").exit_code == 0
    got = read_png("out.png")
    expected = np.zeros((9, 8, 3), np.uint8)
    expected[::3, ::2] = image
    np.testing.assert_array_equal(got, expected)
    np.save("x.npy", np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert run("upsample", "x.npy", "--method", "zeros", "--factor", "2", "-o", "z.npy").exit_code == 0
    np.testing.assert_array_equal(np.load("z.npy"), [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("factor,fy,fx", [("2", 2, 2), ("3,2", 3, 2), ("1,4", 1, 4)])
def test_bilinear_equals_torch_formula_and_skimage_resize(run, npy, factor, fy, fx):
    from skimage.transform import resize

    assert run("upsample", "in.npy", "--method", "bilinear", "--factor", factor, "-o", "out.npy").exit_code == 0
    out = np.load("out.npy")
    assert out.shape == (4 * fy, 5 * fx) and out.dtype == np.float32
    np.testing.assert_allclose(out, torch_bilinear_axis(torch_bilinear_axis(npy, fy, 0), fx, 1), rtol=1e-6, atol=1e-6)
    skimage_ref = resize(npy, out.shape, order=1, mode="edge", anti_aliasing=False, preserve_range=True)
    np.testing.assert_allclose(out, skimage_ref, rtol=1e-6, atol=1e-6)


def test_bilinear_hand_values_and_rounding_at_writing(run):
    # torch: [0, 4] ×2 → source 0, 0.25, 1.25, 1 (clamped) → 0, 1, 3, 4; [0, 2] → 0, 0.5, 1.5, 2
    png("a.png", np.array([[0, 4], [0, 2]], np.uint8))
    assert run("upsample", "a.png", "--method", "bilinear", "--factor", "1,2", "-o", "out.npy").exit_code == 0
    np.testing.assert_allclose(np.load("out.npy"), [[0, 1, 3, 4], [0, 0.5, 1.5, 2]])
    assert run("upsample", "a.png", "--method", "bilinear", "--factor", "1,2", "-o", "out.png").exit_code == 0
    got = read_png("out.png")
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, [[0, 1, 3, 4], [0, 0, 2, 2]])  # numpy.rint: halves to even


def test_rgb_channel_by_channel_and_gray(run):
    from skimage.color import rgb2gray

    rgb = png("rgb.png", RNG.integers(0, 256, size=(4, 5, 3), dtype=np.uint8))
    assert run("upsample", "rgb.png", "--method", "bilinear", "--factor", "2", "-o", "out.npy").exit_code == 0
    out = np.load("out.npy")
    assert out.shape == (8, 10, 3)
    for c in range(3):
        expected = torch_bilinear_axis(torch_bilinear_axis(rgb[..., c].astype(float), 2, 0), 2, 1)
        np.testing.assert_allclose(out[..., c], expected, rtol=1e-6, atol=1e-4)
    assert run("upsample", "rgb.png", "--gray", "--factor", "2", "-o", "g.npy").exit_code == 0
    np.testing.assert_allclose(np.load("g.npy"), np.kron(rgb2gray(rgb) * 255, np.ones((2, 2))), rtol=1e-5)


@pytest.mark.parametrize("method", ["nearest", "zeros", "bilinear"])
def test_rgba_alpha_upsampled_like_colours(run, method):
    rgba = png("rgba.png", RNG.integers(0, 256, size=(3, 4, 4), dtype=np.uint8))
    assert run("upsample", "rgba.png", "--method", method, "--factor", "2", "-o", "out.png").exit_code == 0
    assert run("upsample", "rgba.png", "--method", method, "--factor", "2", "-o", "out.npy").exit_code == 0
    raw = np.load("out.npy")
    assert raw.shape == (6, 8, 4)
    np.testing.assert_array_equal(read_png("out.png"), np.clip(np.rint(raw), 0, 255))
    if method == "nearest":
        np.testing.assert_array_equal(raw[..., 3], np.kron(rgba[..., 3], np.ones((2, 2))))


# --- transpose -------------------------------------------------------------------------------------


def test_transpose_kernel_is_stamped_not_flipped(run):
    np.save("x.npy", np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert run("upsample", "x.npy", "--method", "transpose", "-k", "1 2; 3 4", "--factor", "2", "-o", "o.npy").exit_code == 0
    np.testing.assert_array_equal(np.load("o.npy"), [
        [1, 2, 2, 4],
        [3, 4, 6, 8],
        [3, 6, 4, 8],
        [9, 12, 12, 16],
    ])


def test_transpose_overlapping_stamps_padding_and_output_padding(run):
    # ones(3×3) at stride 2: the stamps overlap on the middle row and column
    np.save("x.npy", np.array([[1.0, 2.0], [3.0, 4.0]]))
    base = ["upsample", "x.npy", "--method", "transpose", "-k", "box:3", "--factor", "2"]
    assert run(*base, "-o", "full.npy").exit_code == 0
    full = np.array([
        [1, 1, 3, 2, 2],
        [1, 1, 3, 2, 2],
        [4, 4, 10, 6, 6],
        [3, 3, 7, 4, 4],
        [3, 3, 7, 4, 4],
    ]) / 9
    np.testing.assert_allclose(np.load("full.npy"), full, rtol=1e-6)
    # padding 1 crops a row/column at each end; output padding 1 gives one back at the end (from the buffer)
    assert run(*base, "--padding", "1", "--output-padding", "1", "-o", "p.npy").exit_code == 0
    np.testing.assert_allclose(np.load("p.npy"), full[1:, 1:], rtol=1e-6)
    # without padding, output padding adds rows/cols past the buffer: zeros
    assert run(*base, "--output-padding", "1", "-o", "q.npy").exit_code == 0
    expected = np.zeros((6, 6))
    expected[:5, :5] = full
    np.testing.assert_allclose(np.load("q.npy"), expected, rtol=1e-6)


def test_transpose_one_row_doctest_example(run):
    np.save("x.npy", np.array([[1.0, 10.0]]))
    base = ["upsample", "x.npy", "--method", "transpose", "-k", "1 2 3", "--factor", "1,2"]
    assert run(*base, "-o", "a.npy").exit_code == 0
    np.testing.assert_array_equal(np.load("a.npy"), [[1, 2, 13, 20, 30]])
    assert run(*base, "--padding", "0,1", "--output-padding", "0,1", "-o", "b.npy").exit_code == 0
    np.testing.assert_array_equal(np.load("b.npy"), [[2, 13, 20, 30]])


@pytest.mark.parametrize("padding,pads", [
    ("1", ((1, 1), (1, 1))),
    ("2,1", ((2, 2), (1, 1))),
    ("0,1,2,0", ((0, 1), (2, 0))),
])
@pytest.mark.parametrize("output_padding,extra", [(None, (0, 0)), ("1", (1, 1)), ("2,0", (2, 0))])
def test_transpose_against_stamping_loop(run, npy, padding, pads, output_padding, extra):
    k = RNG.normal(size=(4, 3))
    np.save("k.npy", k)
    args = ["upsample", "in.npy", "--method", "transpose", "-k", "k.npy", "--factor", "3,2", "--padding", padding, "-o", "o.npy"]
    if output_padding:
        args += ["--output-padding", output_padding]
    result = run(*args)
    assert result.exit_code == 0, result.output
    expected = stamp(npy, k, (3, 2), pads, extra)
    out = np.load("o.npy")
    assert out.shape == ((4 - 1) * 3 - sum(pads[0]) + 4 + extra[0], (5 - 1) * 2 - sum(pads[1]) + 3 + extra[1])
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_transpose_rgb_channel_by_channel(run):
    rgb = png("rgb.png", RNG.integers(0, 256, size=(3, 4, 3), dtype=np.uint8))
    assert run("upsample", "rgb.png", "--method", "transpose", "-k", "box:2", "--factor", "2", "-o", "o.png").exit_code == 0
    # box:2 at stride 2: each pixel becomes a 2×2 block of value/4, rounded once at writing
    np.testing.assert_array_equal(read_png("o.png"), np.rint(np.kron(rgb, np.full((2, 2, 1), 0.25))))


def test_transpose_with_kernel_dir(run, npy):
    os.mkdir("mine")
    Path("mine/two.yaml").write_text("name: two\ndescription: times two\nmatrix:\n  - [2]\n")
    result = run("upsample", "in.npy", "--kernel-dir", "mine", "--method", "transpose", "-k", "two", "--factor", "2", "-o", "o.npy")
    assert result.exit_code == 0
    expected = np.zeros((7, 9))
    expected[::2, ::2] = 2 * npy
    np.testing.assert_allclose(np.load("o.npy"), expected, rtol=1e-6)


# --- reports and arithmetic ------------------------------------------------------------------------


def test_transpose_report_arithmetic(run):
    np.save("x.npy", np.zeros((4, 5, 3)))
    result = run("upsample", "x.npy", "--method", "transpose", "-k", "box3", "--factor", "2", "--padding", "1",
                 "--output-padding", "1", "-o", "o.npy", "--json")
    assert result.exit_code == 0
    entry = json.loads(result.stdout)["files"][0]
    assert entry["output_shape"] == [8, 10, 3]
    step = entry["steps"][0]
    assert step["op"] == "upsample" and step["method"] == "transpose" and step["factor"] == [2, 2]
    assert step["kernel"] == "box3" and step["kernel_shape"] == [3, 3]
    assert step["padding"] == [[1, 1], [1, 1]] and step["output_padding"] == [1, 1]
    assert step["arithmetic"] == {"rows": "4 → (4 − 1)·2 − 1 − 1 + 3 + 1 = 8", "cols": "5 → (5 − 1)·2 − 1 − 1 + 3 + 1 = 10"}
    result = run("upsample", "x.npy", "--method", "transpose", "-k", "box3", "--factor", "2", "--padding", "1",
                 "--output-padding", "1", "-o", "o.npy")
    assert "4 → (4 − 1)·2 − 1 − 1 + 3 + 1 = 8" in result.stderr and result.stdout == ""


def test_nearest_report_arithmetic(run):
    png("a.png", np.zeros((5, 6), np.uint8))
    result = run("upsample", "a.png", "--factor", "2,3", "-o", "o.png", "--json")
    step = json.loads(result.stdout)["files"][0]["steps"][0]
    assert step["method"] == "nearest" and step["factor"] == [2, 3] and step["out_shape"] == [10, 18]
    assert step["arithmetic"] == {"rows": "5 → 5·2 = 10", "cols": "6 → 6·3 = 18"}
    result = run("upsample", "a.png", "--method", "bilinear", "--factor", "2", "-o", "o.png")
    assert "5 → 5·2 = 10" in result.stderr and "6 → 6·2 = 12" in result.stderr


@pytest.mark.parametrize("args,shape", [
    (["--factor", "2"], [80, 60, 3]),
    (["--method", "bilinear", "--factor", "1,3"], [40, 90, 3]),
    (["--method", "transpose", "-k", "box3", "--factor", "2", "--padding", "1", "--output-padding", "1"], [80, 60, 3]),
    (["--method", "transpose", "-k", "box:4", "--factor", "2", "--padding", "1"], [80, 60, 3]),
    (["--gray", "--factor", "2"], [80, 60]),
])
def test_dry_run_shapes(run, args, shape):
    png("a.png", np.zeros((40, 30, 3), np.uint8))
    result = run("upsample", "a.png", *args, "--dry-run", "-o", "o.png", "--report", "r.json")
    assert result.exit_code == 0 and not os.path.exists("o.png")
    assert json.loads(Path("r.json").read_text())["files"][0]["output_shape"] == shape


# --- batches, alpha refusal, errors ----------------------------------------------------------------


def test_rgba_transpose_fails_that_file_with_a_clear_message(run):
    png("rgba.png", RNG.integers(0, 256, size=(3, 4, 4), dtype=np.uint8))
    png("rgb.png", RNG.integers(0, 256, size=(3, 4, 3), dtype=np.uint8))
    result = run("upsample", "rgba.png", "rgb.png", "--method", "transpose", "-k", "box:2", "--factor", "2",
                 "-O", "out", "--report", "r.json")
    assert result.exit_code == 1
    assert "rgba.png" in result.stderr and "alpha" in result.stderr and "Traceback" not in result.stderr
    assert "--gray" not in result.stderr  # --gray keeps alpha: it would not help
    assert os.listdir("out") == ["rgb.png"]
    report = json.loads(Path("r.json").read_text())
    assert (report["ok"], report["failed"]) == (1, 1)
    failed = report["files"][0]
    assert failed["status"] == "error" and "alpha" in failed["error"]
    # the dry run says so too, from the header alone
    result = run("upsample", "rgba.png", "--method", "transpose", "-k", "box:2", "--factor", "2", "--dry-run")
    assert result.exit_code == 1 and "alpha" in result.stderr


def test_padding_that_crops_everything_fails_that_file(run):
    np.save("x.npy", np.ones((1, 1)))
    result = run("upsample", "x.npy", "--method", "transpose", "-k", "1", "--factor", "2", "--padding", "1", "-o", "o.npy")
    assert result.exit_code == 1 and "x.npy" in result.stderr and "padding" in result.stderr
    assert not os.path.exists("o.npy")


def test_several_inputs_one_failing(run):
    png("a.png", np.zeros((3, 3), np.uint8))
    Path("broken.png").write_bytes(b"not an image")
    png("b.png", np.full((2, 2), 7, np.uint8))
    result = run("upsample", "a.png", "broken.png", "b.png", "--factor", "2", "-O", "out", "--name", "{index}-{stem}-{op}{ext}")
    assert result.exit_code == 1
    assert sorted(os.listdir("out")) == ["1-a-upsample.png", "3-b-upsample.png"]
    np.testing.assert_array_equal(read_png("out/3-b-upsample.png"), np.full((4, 4), 7))
    assert "broken.png" in result.stderr


def test_stdin_and_stdout(run):
    image = RNG.integers(0, 256, size=(3, 4), dtype=np.uint8)
    buffer = stdio.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    result = run("upsample", "-", "--factor", "2", "-o", "-", input=buffer.getvalue())
    assert result.exit_code == 0
    with Image.open(stdio.BytesIO(result.stdout_bytes)) as im:
        np.testing.assert_array_equal(np.asarray(im), np.kron(image, np.ones((2, 2), np.uint8)))


def test_no_clobber_and_output_is_input(run, npy):
    Path("o.npy").write_bytes(b"keep")
    assert run("upsample", "in.npy", "--factor", "2", "-o", "o.npy", "--no-clobber").exit_code == 1
    assert Path("o.npy").read_bytes() == b"keep"
    before = Path("in.npy").read_bytes()
    assert run("upsample", "in.npy", "--factor", "2", "-o", "in.npy").exit_code == 2
    assert Path("in.npy").read_bytes() == before


@pytest.mark.parametrize("args,message", [
    (["--method", "transpose", "--factor", "2", "-o", "o.npy"], "-k"),
    (["-k", "box3", "--factor", "2", "-o", "o.npy"], "only apply to --method transpose"),
    (["--method", "bilinear", "--padding", "1", "--factor", "2", "-o", "o.npy"], "--padding"),
    (["--method", "zeros", "--output-padding", "1", "--factor", "2", "-o", "o.npy"], "--output-padding"),
    (["--method", "transpose", "-k", "box3", "--factor", "2", "--output-padding", "2", "-o", "o.npy"],
     "smaller than the factor 2"),
    (["--method", "transpose", "-k", "box3", "--factor", "3,2", "--output-padding", "1,2", "-o", "o.npy"],
     "along the cols"),
    (["--method", "transpose", "-k", "box3", "--factor", "2", "--output-padding", "-1", "-o", "o.npy"], ">= 0"),
    (["--method", "transpose", "-k", "no-such-kernel-xyz", "--factor", "2", "-o", "o.npy"], "unknown kernel"),
    (["--method", "transpose", "-k", "1 2; 3", "--factor", "2", "-o", "o.npy"], "row"),
    (["--method", "transpose", "-k", "box3", "--factor", "2", "--padding", "1,2,3", "-o", "o.npy"], "top,bottom,left,right"),
    (["--factor", "0", "-o", "o.npy"], ">= 1"),
    (["--factor", "1,2,3", "-o", "o.npy"], "one value or two"),
    (["--factor", "1.5", "-o", "o.npy"], "whole number"),
    (["-o", "o.npy"], "--factor"),
    (["--method", "bicubic", "--factor", "2", "-o", "o.npy"], "bicubic"),
    (["--factor", "2"], "no output"),
    (["--factor", "2", "-o", "-", "--json"], "--report PATH"),
    (["--factor", "2", "-o", "o.npy", "-O", "d"], "not both"),
])
def test_usage_errors_exit_2(run, npy, args, message):
    result = run("upsample", "in.npy", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not os.path.exists("o.npy")


def test_help_lists_options(run):
    result = run("upsample", "--help")
    assert result.exit_code == 0
    for option in ("--factor", "--method", "--kernel", "--padding", "--output-padding", "--gray", "transpose"):
        assert option in result.stdout


def test_16bit_png_stays_16bit(run):
    image = RNG.integers(0, 65536, size=(3, 4), dtype=np.uint16)
    Image.fromarray(image).save("a16.png")
    assert run("upsample", "a16.png", "--factor", "2", "-o", "out.png").exit_code == 0
    got = read_png("out.png").astype(np.int64)
    np.testing.assert_array_equal(got, np.kron(image.astype(np.int64), np.ones((2, 2), np.int64)))


@pytest.mark.parametrize(("method", "dtype", "kept"), [("nearest", np.uint16, True), ("zeros", np.uint8, True),
                                                        ("bilinear", np.uint8, False)])
def test_npy_output_keeps_the_dtype_of_nearest_and_zeros(run, method, dtype, kept):
    image = np.array([[1, 2], [300 % 256, 4]], dtype=dtype)
    np.save("in.npy", image)
    result = run("upsample", "in.npy", "--factor", "2", "--method", method, "-o", "out.npy")
    assert result.exit_code == 0, result.output
    out = np.load("out.npy")
    assert out.dtype == (np.dtype(dtype) if kept else np.float32)
    if method == "nearest":
        np.testing.assert_array_equal(out, np.kron(image, np.ones((2, 2), dtype=dtype)))
    if method == "zeros":
        expected = np.zeros((4, 4), dtype=dtype)
        expected[::2, ::2] = image
        np.testing.assert_array_equal(out, expected)
