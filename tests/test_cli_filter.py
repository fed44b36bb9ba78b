"""`convcli filter` through click's CliRunner: every option and every error path, with exit codes.

Numbers are checked against scipy.signal and numpy.pad; images are read back with Pillow, not with
convcli's own reader.
"""

import io as stdio
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import signal

from helpers import png, read_png

RNG = np.random.default_rng(11)
SOBEL_X = np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])


@pytest.fixture
def npy(tmp_path):
    array = RNG.normal(size=(9, 11))
    np.save(tmp_path / "in.npy", array)
    return array


# --- numbers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["same", "valid", "full"])
def test_modes_equal_scipy_convolve2d(run, npy, mode):
    result = run("filter", "in.npy", "-k", "sobel-x", "--mode", mode, "-o", "out.npy")
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load("out.npy"), signal.convolve2d(npy, SOBEL_X, mode=mode), rtol=1e-5, atol=1e-5)


def test_npy_output_is_raw_float32_never_clipped(run, npy):
    run("filter", "in.npy", "-k", "3", "-o", "out.npy")
    out = np.load("out.npy")
    assert out.dtype == np.float32 and out.min() < 0
    run("filter", "in.npy", "-k", "3", "--dtype", "float64", "-o", "out64.npy")
    assert np.load("out64.npy").dtype == np.float64
    np.testing.assert_allclose(np.load("out64.npy"), npy * 3, rtol=1e-12)


def test_correlate_equals_scipy_correlate2d(run, npy):
    assert run("filter", "in.npy", "-k", "sobel-x", "--correlate", "--mode", "valid", "-o", "out.npy").exit_code == 0
    np.testing.assert_allclose(np.load("out.npy"), signal.correlate2d(npy, SOBEL_X, mode="valid"), atol=1e-5)


@pytest.mark.parametrize("boundary,numpy_mode", [
    ("zero", "constant"), ("reflect", "reflect"), ("symmetric", "symmetric"), ("edge", "edge"),
    ("wrap", "wrap"), ("replicate", "edge"), ("circular", "wrap"),
])
def test_boundaries_equal_numpy_pad(run, npy, boundary, numpy_mode):
    assert run("filter", "in.npy", "-k", "sobel-x", "--boundary", boundary, "-o", "out.npy").exit_code == 0
    expected = signal.convolve2d(np.pad(npy, 1, mode=numpy_mode), SOBEL_X, mode="valid")
    np.testing.assert_allclose(np.load("out.npy"), expected, atol=1e-5)


def test_constant_boundary_with_cval(run, npy):
    assert run("filter", "in.npy", "-k", "box3", "--boundary", "constant", "--cval", "7.5", "-o", "out.npy").exit_code == 0
    expected = signal.convolve2d(np.pad(npy, 1, constant_values=7.5), np.ones((3, 3)) / 9, mode="valid")
    np.testing.assert_allclose(np.load("out.npy"), expected, atol=1e-5)


@pytest.mark.parametrize("padding,pads", [("1", ((1, 1), (1, 1))), ("2,1", ((2, 2), (1, 1))), ("0,1,2,0", ((0, 1), (2, 0)))])
def test_explicit_padding_stride_dilation(run, npy, padding, pads):
    args = ["--correlate", "--padding", padding, "--stride", "2,3", "--dilation", "2", "-o", "out.npy"]
    assert run("filter", "in.npy", "-k", "sobel-x", *args).exit_code == 0
    # dilation 2 = the kernel with zeros between taps; stride = every 2nd row, 3rd column
    dilated = np.zeros((5, 5))
    dilated[::2, ::2] = SOBEL_X
    expected = signal.correlate2d(np.pad(npy, pads), dilated, mode="valid")[::2, ::3]
    np.testing.assert_allclose(np.load("out.npy"), expected, atol=1e-5)


def test_normalize_flag(run, npy):
    assert run("filter", "in.npy", "-k", "1 1 1; 1 1 1; 1 1 1", "--normalize", "--mode", "valid", "-o", "out.npy").exit_code == 0
    np.testing.assert_allclose(np.load("out.npy"), signal.convolve2d(npy, np.ones((3, 3)) / 9, mode="valid"), atol=1e-6)


def test_normalize_refuses_zero_sum_kernel(run, npy):
    result = run("filter", "in.npy", "-k", "sobel-x", "--normalize", "-o", "out.npy")
    assert result.exit_code == 2 and "sum" in result.stderr
    assert not os.path.exists("out.npy")


# --- several kernels -------------------------------------------------------------------------------


def test_several_kernels_stack_input_channel_major(run, tmp_path):
    rgb = RNG.normal(size=(6, 7, 3))
    np.save("rgb.npy", rgb)
    assert run("filter", "rgb.npy", "-k", "mean2", "-k", "edge2", "--correlate", "--mode", "valid", "-o", "bank.npy").exit_code == 0
    out = np.load("bank.npy")
    assert out.shape == (5, 6, 6)
    edge2 = np.array([[-1.0, 1], [-1, 1]])
    np.testing.assert_allclose(out[..., 2 * 2 + 1], signal.correlate2d(rgb[..., 2], edge2, mode="valid"), atol=1e-5)
    np.testing.assert_allclose(out[..., 0], signal.correlate2d(rgb[..., 0], np.full((2, 2), 0.25), mode="valid"), atol=1e-5)


def test_several_kernels_one_file_each_with_kernel_field(run, npy):
    result = run("filter", "in.npy", "-k", "sobel-x", "-k", "sobel-y", "-O", "out", "--name", "{stem}-{kernel}.npy")
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load("out/in-sobel-x.npy"), signal.convolve2d(npy, SOBEL_X, mode="same"), atol=1e-5)
    np.testing.assert_allclose(np.load("out/in-sobel-y.npy"), signal.convolve2d(npy, SOBEL_X.T, mode="same"), atol=1e-5)


def test_several_kernels_into_png_is_a_usage_error(run, tmp_path):
    png("a.png", np.zeros((5, 5), np.uint8))
    result = run("filter", "a.png", "-k", "sobel-x", "-k", "sobel-y", "-o", "out.png")
    assert result.exit_code == 2 and ".npy" in result.stderr
    assert not os.path.exists("out.png")


# --- images, colour, alpha, values -----------------------------------------------------------------


def test_png_uint8_clip_round(run):
    image = png("a.png", RNG.integers(0, 256, size=(8, 9), dtype=np.uint8))
    assert run("filter", "a.png", "-k", "sharpen", "-o", "out.png").exit_code == 0
    expected = signal.convolve2d(image.astype(float), [[0, -1, 0], [-1, 5, -1], [0, -1, 0]], mode="same")
    got = np.asarray(Image.open("out.png"))
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, np.clip(np.rint(expected), 0, 255))


@pytest.mark.parametrize("scale", ["abs", "normalize", "offset"])
def test_scale_options(run, scale):
    image = png("a.png", RNG.integers(0, 256, size=(8, 9), dtype=np.uint8))
    assert run("filter", "a.png", "-k", "sobel-x", "--scale", scale, "-o", "out.png").exit_code == 0
    values = signal.convolve2d(image.astype(float), SOBEL_X, mode="same")
    expected = {
        "abs": np.clip(np.rint(np.abs(values)), 0, 255),
        "normalize": np.rint((values - values.min()) / (values.max() - values.min()) * 255),
        "offset": np.clip(np.rint(values + 128), 0, 255),
    }[scale]
    np.testing.assert_array_equal(np.asarray(Image.open("out.png")), expected)


def test_rgb_channel_by_channel_and_gray(run):
    rgb = png("rgb.png", RNG.integers(0, 256, size=(6, 8, 3), dtype=np.uint8))
    assert run("filter", "rgb.png", "-k", "box3", "-o", "out.npy").exit_code == 0
    out = np.load("out.npy")
    for c in range(3):
        np.testing.assert_allclose(out[..., c], signal.convolve2d(rgb[..., c].astype(float), np.ones((3, 3)) / 9, mode="same"), atol=1e-4)
    assert run("filter", "rgb.png", "--gray", "-k", "identity", "-o", "gray.npy").exit_code == 0
    from skimage.color import rgb2gray

    np.testing.assert_allclose(np.load("gray.npy"), rgb2gray(rgb) * 255, atol=1e-3)


def test_rgba_alpha_is_carried_not_filtered(run):
    rgba = RNG.integers(0, 256, size=(6, 8, 4), dtype=np.uint8)
    png("rgba.png", rgba)
    assert run("filter", "rgba.png", "-k", "sobel-x", "--scale", "abs", "-o", "out.png").exit_code == 0
    out = np.asarray(Image.open("out.png"))
    assert out.shape == (6, 8, 4)
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    expected = np.clip(np.rint(np.abs(signal.convolve2d(rgba[..., 1].astype(float), SOBEL_X, mode="same"))), 0, 255)
    np.testing.assert_array_equal(out[..., 1], expected)


@pytest.mark.parametrize("correlate", [False, True])
def test_rgba_alpha_under_dilation_with_an_even_kernel_is_centred(run, correlate):
    """Issue 10: `-k '1 1' --dilation 2`: output j's window covers j − 1 .. j + 1, so its alpha is
    alpha[j] (it was alpha[j + 1] for convolution and alpha[j − 1] for correlation)."""
    alpha = np.array([0, 40, 80, 120, 160, 200], np.uint8)
    rgba = np.dstack([np.full((4, 6, 3), 10, np.uint8), np.tile(alpha, (4, 1))])
    png("rgba.png", rgba)
    args = ["filter", "rgba.png", "-k", "1 1", "--dilation", "2", "-o", "out.png"]
    result = run(*args, *(["--correlate"] if correlate else []))
    assert result.exit_code == 0, result.output
    out = np.asarray(Image.open("out.png"))
    np.testing.assert_array_equal(out[..., 3], np.tile(alpha, (4, 1)))


def test_16bit_png_stays_16bit(run):
    image = RNG.integers(0, 65536, size=(6, 7), dtype=np.uint16)
    Image.fromarray(image).save("a16.png")
    assert run("filter", "a16.png", "-k", "identity", "-o", "out.png").exit_code == 0
    got = np.asarray(Image.open("out.png"))
    np.testing.assert_array_equal(got.astype(np.uint16), image)
    assert run("filter", "a16.png", "-k", "identity", "--dtype", "uint8", "-o", "out8.png").exit_code == 0
    assert np.asarray(Image.open("out8.png")).dtype == np.uint8


def test_float_tiff_output_is_raw(run, npy):
    import tifffile

    assert run("filter", "in.npy", "-k", "sobel-x", "-o", "out.tif").exit_code == 0
    got = tifffile.imread("out.tif")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, signal.convolve2d(npy, SOBEL_X, mode="same"), atol=1e-5)


def test_dtype_float_into_png_is_refused(run, npy):
    result = run("filter", "in.npy", "-k", "box3", "--dtype", "float32", "-o", "out.png")
    assert result.exit_code != 0 and "out.png" not in os.listdir(".")


def test_sample_input(run):
    from skimage import data

    result = run("filter", "sample:camera", "-k", "box3", "-o", "cam.npy")
    assert result.exit_code == 0, result.output
    expected = signal.convolve2d(data.camera().astype(float), np.ones((3, 3)) / 9, mode="same")
    np.testing.assert_allclose(np.load("cam.npy"), expected, atol=1e-3)


def test_stdin_and_stdout(run):
    image = RNG.integers(0, 256, size=(5, 6), dtype=np.uint8)
    buffer = stdio.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    result = run("filter", "-", "-k", "identity", "-o", "-", "--format", "npy", input=buffer.getvalue())
    assert result.exit_code == 0
    np.testing.assert_array_equal(np.load(stdio.BytesIO(result.stdout_bytes)), image)
    # without --format, standard output gets the input's format
    result = run("filter", "-", "-k", "identity", "-o", "-", input=buffer.getvalue())
    np.testing.assert_array_equal(np.asarray(Image.open(stdio.BytesIO(result.stdout_bytes))), image)


# --- many inputs, templates, reports ---------------------------------------------------------------


def test_many_inputs_one_failing(run):
    png("a.png", np.zeros((5, 5), np.uint8))
    png("b.png", np.full((5, 5), 9, np.uint8))
    Path("broken.png").write_bytes(b"not an image at all")
    result = run("filter", "a.png", "broken.png", "b.png", "-k", "box3", "-O", "out", "--name", "{index}-{stem}-{op}{ext}", "--report", "r.json")
    assert result.exit_code == 1
    assert sorted(os.listdir("out")) == ["1-a-filter.png", "3-b-filter.png"]
    report = json.loads(Path("r.json").read_text())
    assert (report["ok"], report["failed"]) == (2, 1)
    failed = [f for f in report["files"] if f["status"] == "error"]
    assert failed[0]["input"] == "broken.png" and "broken.png" in failed[0]["error"]
    assert "broken.png" in result.stderr and "Traceback" not in result.stderr


def test_fail_fast_stops_at_first_failure(run):
    Path("broken.png").write_bytes(b"nope")
    png("b.png", np.zeros((5, 5), np.uint8))
    result = run("filter", "broken.png", "b.png", "-k", "box3", "-O", "out", "--fail-fast")
    assert result.exit_code == 1 and not os.path.exists("out/b.png")


def test_report_fields_as_specified(run):
    png("a.png", np.zeros((64, 64, 3), np.uint8))
    result = run("filter", "a.png", "-k", "box:4", "--mode", "valid", "--stride", "2", "-o", "out.png", "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["command"] == "filter" and report["ok"] == 1 and report["failed"] == 0
    entry = report["files"][0]
    assert entry["input_shape"] == [64, 64, 3] and entry["output_shape"] == [31, 31, 3]
    assert entry["input_dtype"] == entry["output_dtype"] == "uint8"
    step = entry["steps"][0]
    assert step["kernel"] == "box:4" and step["kernel_shape"] == [4, 4]
    assert step["padding"] == [[0, 0], [0, 0]] and step["stride"] == [2, 2]
    assert step["receptive_field"] == [4, 4] and step["jump"] == [2, 2]
    assert step["arithmetic"]["rows"] == "64 → ⌊(64 − 4)/2⌋ + 1 = 31"
    assert entry["scale"] == "clip"


def test_human_summary_shows_arithmetic_and_quiet_hides_it(run):
    png("a.png", np.zeros((512, 512), np.uint8))
    result = run("filter", "a.png", "-k", "box:4", "--mode", "valid", "--stride", "2", "-o", "out.png")
    assert "512 → ⌊(512 − 4)/2⌋ + 1 = 255" in result.stderr and result.stdout == ""
    result = run("-q", "filter", "a.png", "-k", "box:4", "-o", "out.png")
    assert result.exit_code == 0 and result.stderr == ""


def test_dry_run_reads_header_writes_nothing(run):
    png("a.png", np.zeros((40, 30, 3), np.uint8))
    result = run("filter", "a.png", "-k", "box5", "--mode", "valid", "--dry-run", "-o", "out.png", "--report", "r.json")
    assert result.exit_code == 0 and not os.path.exists("out.png")
    assert json.loads(Path("r.json").read_text())["files"][0]["output_shape"] == [36, 26, 3]


def test_bank_of_different_sizes_reports_each_kernel(run):
    """Issue 10: `-k box3 -k gaussian:sigma=3` was reported as 3×3 with padding 1 + 1, though the
    Gaussian is 19×19 (2·⌈3σ⌉ + 1) and `same` pads it (19 − 1)/2 = 9 on each side."""
    image = RNG.normal(size=(12, 15))
    np.save("in.npy", image)
    args = ["filter", "in.npy", "-k", "box3", "-k", "gaussian:sigma=3", "-o", "bank.npy"]
    result = run(*args, "--report", "r.json")
    assert result.exit_code == 0, result.output
    step = json.loads(Path("r.json").read_text())["files"][0]["steps"][0]
    assert "kernel_shape" not in step and "padding" not in step
    assert [(k["kernel"], k["kernel_shape"], k["padding"]) for k in step["bank"]] == [
        ("box3", [3, 3], [[1, 1], [1, 1]]), ("gaussian:sigma=3", [19, 19], [[9, 9], [9, 9]])]
    assert [k["receptive_field"] for k in step["bank"]] == [[3, 3], [19, 19]]
    assert step["receptive_field"] == [19, 19]  # the largest field any channel of the bank sees
    assert "(padding 9 + 9: P = max((12 − 1)·1 + 19 − 12, 0) = 18)" in step["bank"][1]["arithmetic"]["rows"]
    # the pixels were right all along: the box channel is scipy's
    expected = signal.convolve2d(image, np.ones((3, 3)) / 9, mode="same")
    np.testing.assert_allclose(np.load("bank.npy")[..., 0], expected, rtol=1e-5, atol=1e-5)
    # the summary and the dry run say the same
    for extra in ([], ["--dry-run"]):
        lines = run(*args, *extra).stderr
        assert "filter box3, gaussian:sigma=3, convolve, same" in lines and "3×3," not in lines
        assert "  gaussian:sigma=3 19×19\n" in lines and "padding 9 + 9" in lines and "padding 1 + 1" in lines


def test_bank_whose_kernels_give_different_output_sizes_is_refused(run):
    np.save("in.npy", RNG.normal(size=(12, 15)))
    for extra in ([], ["--dry-run"]):
        result = run("filter", "in.npy", "-k", "box3", "-k", "box5", "--mode", "valid", "-o", "bank.npy", *extra)
        assert result.exit_code == 1 and not os.path.exists("bank.npy")
        # valid: 12 − 3 + 1 = 10 and 12 − 5 + 1 = 8 rows
        assert "different output sizes (box3 3×3 → 10×13, box5 5×5 → 8×11)" in result.stderr
    # one file per kernel ({kernel} in the name) is fine
    assert run("filter", "in.npy", "-k", "box3", "-k", "box5", "--mode", "valid", "-o", "{kernel}.npy").exit_code == 0
    assert np.load("box5.npy").shape == (8, 11)


def test_json_with_image_on_stdout_is_a_usage_error(run, npy):
    assert run("filter", "in.npy", "-k", "box3", "-o", "-", "--json").exit_code == 2


# --- refusals --------------------------------------------------------------------------------------


def test_output_is_input_refused(run, npy):
    before = Path("in.npy").read_bytes()
    result = run("filter", "in.npy", "-k", "box3", "-o", "./in.npy")
    assert result.exit_code == 2 and "input" in result.stderr
    assert Path("in.npy").read_bytes() == before


def test_output_is_input_through_symlink_refused(run, npy):
    os.symlink("in.npy", "link.npy")
    before = Path("in.npy").read_bytes()
    assert run("filter", "in.npy", "-k", "box3", "-o", "link.npy").exit_code == 2
    assert Path("in.npy").read_bytes() == before


def test_no_clobber(run, npy):
    Path("out.npy").write_bytes(b"keep")
    result = run("filter", "in.npy", "-k", "box3", "-o", "out.npy", "--no-clobber")
    assert result.exit_code == 1 and "no-clobber" in result.stderr
    assert Path("out.npy").read_bytes() == b"keep"
    assert run("filter", "in.npy", "-k", "box3", "-o", "out.npy").exit_code == 0  # replaced, as make expects
    assert np.load("out.npy").shape == npy.shape


def test_no_clobber_writes_through_devices_and_pipes(run, npy):
    """--no-clobber refuses to replace a file; /dev/null and a FIFO are written to, never replaced."""
    assert run("filter", "in.npy", "-k", "box3", "-o", "/dev/null", "--no-clobber").exit_code == 0
    os.mkfifo("pipe.npy")
    import threading

    received = []
    reader = threading.Thread(target=lambda: received.append(Path("pipe.npy").read_bytes()))
    reader.start()
    result = run("filter", "in.npy", "-k", "box3", "-o", "pipe.npy", "--no-clobber")
    reader.join(timeout=30)
    assert result.exit_code == 0, result.stderr
    assert received and received[0].startswith(b"\x93NUMPY")


def test_failed_write_keeps_existing_output(run, npy, monkeypatch):
    import convcli.images
    from convcli.errors import ImageWriteError

    Path("out.npy").write_bytes(b"keep")

    def broken_encode(*args, **kwargs):
        raise ImageWriteError("disk on fire", path="out.npy")

    monkeypatch.setattr(convcli.images, "encode_image", broken_encode)
    result = run("filter", "in.npy", "-k", "box3", "-o", "out.npy")
    assert result.exit_code == 1 and "disk on fire" in result.stderr
    assert Path("out.npy").read_bytes() == b"keep"
    assert sorted(os.listdir(".")) == ["in.npy", "out.npy"]


def test_internal_error_is_one_line_exit_1(run, npy, monkeypatch):
    import convcli.ops.filter

    def boom(*args, **kwargs):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(convcli.ops.filter, "filter_bank", boom)
    result = run("filter", "in.npy", "-k", "box3", "-o", "out.npy")
    assert result.exit_code == 1 and "internal error" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args,message", [
    (["-k", "no-such-kernel-xyz", "-o", "o.npy"], "unknown kernel"),
    (["-k", "1 2; 3", "-o", "o.npy"], "row"),
    (["-k", "box3", "--mode", "same", "--padding", "1", "-o", "o.npy"], "--padding replaces --mode"),
    (["-k", "box3", "--cval", "3", "-o", "o.npy"], "--cval needs --boundary constant"),
    (["-k", "box3", "--boundary", "mirror", "-o", "o.npy"], "ambiguous"),
    (["-k", "box3", "--stride", "0", "-o", "o.npy"], ">= 1"),
    (["-k", "box3", "--stride", "a", "-o", "o.npy"], "whole number"),
    (["-k", "box3", "--padding", "1,2,3", "-o", "o.npy"], "4 (top,bottom,left,right)"),
    (["-k", "box3", "--padding", "-1", "-o", "o.npy"], "negative"),
    (["-k", "box3"], "no output"),
    (["-k", "box3", "-o", "o.npy", "-O", "dir"], "not both"),
    (["-k", "box3", "--name", "{stem}.png"], "-O DIR"),
    (["-k", "box3", "-O", "d", "--name", "{bogus}.png"], "unknown field"),
    (["-k", "box3", "-o", "missing/o.npy"], "does not exist"),
    (["-k", "box3", "-o", "o.xyz"], "xyz"),
    (["-k", "box3", "-o", "o.npy", "--json", "--report", "r.json"], "--json is --report -"),
])
def test_usage_errors_exit_2(run, npy, args, message):
    result = run("filter", "in.npy", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not os.path.exists("o.npy")


def test_minus_o_with_two_inputs_is_a_usage_error(run, npy):
    np.save("b.npy", npy)
    result = run("filter", "in.npy", "b.npy", "-k", "box3", "-o", "o.npy")
    assert result.exit_code == 2 and "-O DIR" in result.stderr


def test_two_inputs_writing_one_output_refused(run, tmp_path, npy):
    os.mkdir("x")
    np.save("x/in.npy", npy)
    result = run("filter", "in.npy", "x/in.npy", "-k", "box3", "-O", "out")
    assert result.exit_code == 2 and "both write" in result.stderr


@pytest.mark.parametrize("content,message", [
    (b"", "in.png"),
    (b"\x89PNG\r\n\x1a\n truncated", "in.png"),
    (b"GIF89a nonsense", "in.png"),
])
def test_bad_image_files_exit_1_with_file_named(run, content, message):
    Path("in.png").write_bytes(content)
    result = run("filter", "in.png", "-k", "box3", "-o", "out.png")
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert not os.path.exists("out.png")


def test_missing_input(run):
    result = run("filter", "nope.png", "-k", "box3", "-o", "out.png")
    assert result.exit_code == 1 and "nope.png" in result.stderr


def test_valid_kernel_larger_than_image_fails_that_file(run):
    np.save("small.npy", np.ones((3, 3)))
    result = run("filter", "small.npy", "-k", "box5", "--mode", "valid", "-o", "out.npy")
    assert result.exit_code == 1 and "larger than" in result.stderr and "small.npy" in result.stderr


def test_max_pixels_refuses_large_image(run):
    png("a.png", np.zeros((20, 20), np.uint8))
    result = run("filter", "a.png", "-k", "box3", "--max-pixels", "100", "-o", "out.png")
    assert result.exit_code == 1 and "--max-pixels" in result.stderr


def test_kernel_dir_and_env_path(run, npy, tmp_path, monkeypatch):
    os.mkdir("mine")
    Path("mine/double.yaml").write_text("name: double\ndescription: times two\nmatrix:\n  - [2]\n")
    assert run("filter", "in.npy", "--kernel-dir", "mine", "-k", "double", "-o", "o.npy").exit_code == 0
    np.testing.assert_allclose(np.load("o.npy"), npy * 2, rtol=1e-6)
    monkeypatch.setenv("CONVCLI_KERNEL_PATH", str(tmp_path / "mine"))
    assert run("filter", "in.npy", "-k", "double", "-o", "o2.npy").exit_code == 0


def test_kernel_path_entries_that_are_no_folders_are_warned_once(run, npy, tmp_path, monkeypatch):
    os.mkdir("mine")
    Path("mine/double.yaml").write_text("matrix: [[2]]\n")
    Path("k.yaml").write_text("matrix: [[3]]\n")
    missing = str(tmp_path / "missing")
    # Empty entries (leading, doubled, trailing separators) are silent; the same bad entry twice is
    # one warning; -q hides the summary, not the warnings; the run goes on (exit 0).
    monkeypatch.setenv("CONVCLI_KERNEL_PATH", os.pathsep.join(["", missing, "mine", "", "k.yaml", missing, ""]))
    result = run("-q", "filter", "in.npy", "-k", "double", "-k", "box3", "-O", "out")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"convcli: warning: CONVCLI_KERNEL_PATH: {missing!r} does not exist; ignored",
        "convcli: warning: CONVCLI_KERNEL_PATH: 'k.yaml' is not a folder (a file); ignored",
    ]
    np.testing.assert_allclose(np.load("out/in-double.npy"), npy * 2, rtol=1e-6)
    # A name that is then not found is refused after the warning that explains why.
    monkeypatch.setenv("CONVCLI_KERNEL_PATH", "~/no-such-kernels")
    result = run("filter", "in.npy", "-k", "double", "-o", "o.npy")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "convcli: warning: CONVCLI_KERNEL_PATH: '~/no-such-kernels' does not exist (~ is not expanded here")
    assert "unknown kernel 'double'" in result.stderr
    monkeypatch.setenv("CONVCLI_KERNEL_PATH", os.pathsep + "mine" + os.pathsep)
    result = run("filter", "in.npy", "-k", "double", "-o", "o.npy")
    assert result.exit_code == 0 and "warning" not in result.stderr


def test_bad_kernel_file_names_file_and_line(run, npy):
    Path("ragged.yaml").write_text("name: ragged\nmatrix:\n  - [1, 2, 3]\n  - [4, 5]\n")
    result = run("filter", "in.npy", "-k", "ragged.yaml", "-o", "o.npy")
    assert result.exit_code == 2 and "ragged.yaml:4" in result.stderr


# --- the group -------------------------------------------------------------------------------------


def test_version_and_help(run):
    from convcli import __version__

    assert run("--version").stdout.strip() == f"convcli {__version__}"
    result = run("filter", "--help")
    assert result.exit_code == 0 and "--boundary" in result.stdout and "sobel-x" in result.stdout


def test_alpha_is_rescaled_when_the_bit_depth_changes(run):
    rgba = np.dstack([np.full((4, 4, 3), 100, np.uint8), np.array([[0, 51, 204, 255]] * 4, np.uint8)])
    png("rgba.png", rgba)
    assert run("filter", "rgba.png", "-k", "identity", "--dtype", "uint16", "-o", "up.png").exit_code == 0
    import cv2  # Pillow cannot read 16-bit RGBA

    out = cv2.imread("up.png", cv2.IMREAD_UNCHANGED)[..., [2, 1, 0, 3]]
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3].astype(np.uint16) * 257)  # 255 → 65535
    np.testing.assert_array_equal(out[..., 0], 100)  # colours keep their values, as the rules say


def test_bank_of_data_channels_never_becomes_alpha(run):
    import tifffile

    np.save("grey.npy", RNG.normal(size=(6, 6)))
    result = run("filter", "grey.npy", "-k", "mean2", "-k", "edge2", "--correlate", "-o", "bank.tif")
    assert result.exit_code == 0
    # read back by convcli: two data channels, both filtered again (no alpha carried through)
    assert run("filter", "bank.tif", "-k", "2", "-o", "again.npy").exit_code == 0
    np.testing.assert_allclose(np.load("again.npy"), tifffile.imread("bank.tif") * 2, rtol=1e-6)


def test_several_kernels_with_output_dir_default_to_one_file_each(run, npy):
    result = run("filter", "in.npy", "-k", "sobel-x", "-k", "sobel-y", "-O", "out")
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir("out")) == ["in-sobel-x.npy", "in-sobel-y.npy"]


def test_two_inline_kernels_get_numbered_names(run, npy):
    result = run("filter", "in.npy", "-k", "1 0", "-k", "0 1", "-O", "out", "--name", "{stem}-{kernel}{ext}")
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir("out")) == ["in-inline1.npy", "in-inline2.npy"]
    # same mode puts the extra pixel before under convolution: [1 0] flipped picks x[j] itself
    np.testing.assert_allclose(np.load("out/in-inline1.npy"), npy, atol=1e-6)


@pytest.mark.parametrize("args,message", [
    (["-o", "o.png", "--dtype", "float32"], "cannot hold float32"),
    (["-o", "o.bmp", "--dtype", "uint16"], "8-bit"),
    (["-o", "o.png", "--format", "npy"], "--format is for -o -"),
    (["-o", "o.npy", "--report", "missing/r.json"], "folder missing does not exist"),
])
def test_option_conflicts_are_found_before_any_work(run, npy, args, message):
    result = run("filter", "in.npy", "-k", "box3", *args)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert sorted(os.listdir(".")) == ["in.npy"]


def test_stdout_defaults_to_the_input_format(run, npy):
    result = run("filter", "in.npy", "-k", "identity", "-o", "-")
    assert result.exit_code == 0
    np.testing.assert_allclose(np.load(stdio.BytesIO(result.stdout_bytes)), npy, atol=1e-6)


def test_missing_folder_input_says_no_such_file(run):
    result = run("filter", "nodir/", "-k", "box3", "-O", "out")
    assert result.exit_code == 1 and "no such file" in result.stderr


@pytest.mark.parametrize("command", [
    ["filter", "in.npy", "-k", "box3", "--dilation", "100000"],
    ["upsample", "in.npy", "--factor", "100000"],
])
def test_absurd_sizes_are_refused_from_the_plan(run, npy, command):
    result = run(*command, "-o", "out.npy", "--max-pixels", "1000000")
    assert result.exit_code == 1 and "over the limit of 1,000,000" in result.stderr
    assert "internal error" not in result.stderr and not os.path.exists("out.npy")


@pytest.mark.parametrize("engine", ["opencv", "scipy"])
def test_engine_option_and_environment(run, npy, engine, monkeypatch):
    assert run("filter", "in.npy", "-k", "sobel-x", "--engine", engine, "-o", "a.npy").exit_code == 0
    np.testing.assert_allclose(np.load("a.npy"), signal.convolve2d(npy, SOBEL_X, mode="same"), atol=1e-5)
    monkeypatch.setenv("CONVCLI_ENGINE", engine)
    assert run("filter", "in.npy", "-k", "sobel-x", "-o", "b.npy").exit_code == 0
    assert run("filter", "in.npy", "-k", "box3", "--engine", "gpu", "-o", "c.npy").exit_code == 2


def test_png_compression_option(run):
    png("a.png", np.tile(np.arange(256, dtype=np.uint8), (64, 1)))
    assert run("filter", "a.png", "-k", "identity", "--png-compression", "0", "-o", "zero.png").exit_code == 0
    assert run("filter", "a.png", "-k", "identity", "--png-compression", "9", "-o", "nine.png").exit_code == 0
    assert os.path.getsize("zero.png") > os.path.getsize("nine.png")
    np.testing.assert_array_equal(read_png("zero.png"), read_png("nine.png"))
    assert run("filter", "a.png", "-k", "identity", "--png-compression", "10", "-o", "x.png").exit_code == 2


def test_dtype_float64_computes_in_float64(run):
    """uint8 in, .npy out: float32 computation by default; --dtype float64 computes in float64,
    so its numbers are SciPy's (float64) to the last bits, where float32 is off by ~1e-6."""
    image = np.random.default_rng(4).integers(0, 256, size=(20, 30)).astype(np.uint8)
    Image.fromarray(image).save("in8.png")
    kernel = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]])
    np.savetxt("k.txt", kernel)
    reference = signal.convolve2d(image.astype(np.float64), kernel, mode="same")
    assert run("filter", "in8.png", "-k", "k.txt", "-o", "f32.npy").exit_code == 0
    assert run("filter", "in8.png", "-k", "k.txt", "--dtype", "float64", "-o", "f64.npy").exit_code == 0
    f32, f64 = np.load("f32.npy"), np.load("f64.npy")
    assert f32.dtype == np.float32 and f64.dtype == np.float64
    np.testing.assert_allclose(f64, reference, rtol=1e-13, atol=1e-11)
    np.testing.assert_allclose(f32, reference, rtol=1e-6, atol=1e-3)
    assert np.abs(f64 - reference).max() < np.abs(f32.astype(np.float64) - reference).max()


def test_inline_kernel_with_a_comma_for_a_semicolon_is_a_usage_error(run):
    png("a.png", np.zeros((6, 6), np.uint8))
    result = run("filter", "a.png", "-k", "1 0 -1, 2 0 -2", "-o", "out.png")
    assert result.exit_code == 2
    assert "did you mean '1 0 -1; 2 0 -2'" in result.stderr
    assert not Path("out.png").exists()


def test_output_naming_a_folder_suggests_dash_capital_o(run):
    png("a.png", np.zeros((6, 6), np.uint8))
    Path("results").mkdir()
    result = run("filter", "a.png", "-k", "box3", "-o", "results")
    assert result.exit_code == 2
    assert "results is a folder; -o names one output file: give -O results" in result.stderr
    assert os.listdir("results") == []


# --- choices ---------------------------------------------------------------------------------------


def test_boundary_mirror_is_not_offered_but_explained(run, npy):
    from click.shell_completion import get_completion_class

    from convcli.cli import cli

    # --help lists the six names of the README's table and their five aliases, never `mirror`...
    usage = run("filter", "--help").stdout
    assert "--boundary [zero|constant|reflect|symmetric|edge|wrap|replicate|nearest|circular|symm|fill]" in usage
    # ...nor does completion offer it,
    comp = get_completion_class("bash")(cli, {}, "convcli", "_CONVCLI_COMPLETE")
    assert [item.value for item in comp.get_completions(["filter", "x.png", "--boundary"], "m")] == []
    # but giving it (in any case) still says which two boundaries it could mean, as a usage error.
    for given in ("mirror", "MIRROR"):
        result = run("filter", "in.npy", "-k", "box3", "--boundary", given, "-o", "o.npy")
        assert result.exit_code == 2
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("Error: Invalid value for '--boundary': `mirror` is ambiguous: use `reflect`")
        assert "or `symmetric` (b a [a b c d] d c" in last
    assert not os.path.exists("o.npy")


def test_boundary_aliases_still_run_and_cval_follows_the_alias(run, npy):
    assert run("filter", "in.npy", "-k", "box3", "--boundary", "FILL", "--cval", "2", "-o", "o.npy").exit_code == 0
    reference = signal.convolve2d(np.pad(npy, 1, constant_values=2), np.ones((3, 3)) / 9, mode="valid")
    np.testing.assert_allclose(np.load("o.npy"), reference, rtol=1e-5, atol=1e-6)
    result = run("filter", "in.npy", "-k", "box3", "--boundary", "replicate", "--cval", "2", "-o", "o.npy")
    assert result.exit_code == 2 and "--cval needs --boundary constant (the boundary is edge)" in result.stderr


# --- a dry run without -o says what the file would be (issue 11) -----------------------------------


def test_dry_run_without_output_describes_the_file_o_dir_would_write(run):
    png("a.png", np.zeros((10, 12), np.uint8))
    result = run("filter", "a.png", "-k", "box3", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)["files"][0]
    # what `-O DIR` writes for a.png: a.png, 8-bit (not the float32 the steps compute)
    assert entry["output_dtype"] == "uint8" and entry["output"] is None
    assert entry["notes"] == ["no -o or -O: the output is shown as -O DIR would write it (a.png); "
                              "a .npy file would hold float32"]
    run("filter", "a.png", "-k", "box3", "-O", "out")
    assert read_png("out/a.png").dtype == np.uint8
    human = run("filter", "a.png", "-k", "box3", "--dry-run")
    assert "a.png 10×12 uint8 → 10×12 uint8" in human.stderr and "would hold float32" in human.stderr


def test_dry_run_without_output_describes_every_file_o_dir_would_write(run):
    png("a.png", np.zeros((10, 12), np.uint8))
    result = run("filter", "a.png", "-k", "sobel-x", "-k", "sobel-y", "--dry-run", "--json")
    files = json.loads(result.stdout)["files"]
    assert result.exit_code == 0 and [f["output_dtype"] for f in files] == ["uint8", "uint8"]
    assert [f["notes"][0].split("(")[1].split(")")[0] for f in files] == ["a-sobel-x.png", "a-sobel-y.png"]
    assert run("filter", "a.png", "-k", "sobel-x", "-k", "sobel-y", "-O", "out").exit_code == 0
    assert sorted(os.listdir("out")) == ["a-sobel-x.png", "a-sobel-y.png"]


def test_dry_run_without_output_says_when_that_file_could_not_hold_the_result(run):
    png("a.png", np.zeros((10, 12), np.uint8))
    Path("bank.yaml").write_text("steps:\n  - filter: {kernels: [sobel-x, sobel-y]}\n")
    result = run("pipeline", "bank.yaml", "a.png", "--dry-run", "--json")
    entry = json.loads(result.stdout)["files"][0]
    assert result.exit_code == 0 and entry["output_dtype"] == "float32" and entry["output_shape"] == [10, 12, 2]
    assert entry["notes"][0].startswith("no -o or -O: -O DIR would fail (a.png: ")
    assert entry["notes"][0].endswith("; shown as a .npy file")
    failed = run("pipeline", "bank.yaml", "a.png", "-O", "out")
    assert failed.exit_code == 1 and not os.listdir("out")


@pytest.mark.parametrize(("flag", "value", "what", "meant"), [
    ("-O", "--dry-run", "a folder name", "./--dry-run"),
    ("-o", "--json", "a file name", "./--json.png"),
    ("--sheet", "-q", "a file name", "./-q.png"),
])
def test_an_option_taken_as_an_output_name_is_refused(run, flag, value, what, meant):
    png("a.png", np.zeros((10, 12), np.uint8))
    result = run("filter", "a.png", "-k", "box3", flag, value)
    assert result.exit_code == 2
    assert f"{flag} takes {what}, got '{value}', which looks like an option" in result.stderr
    assert f"(./{value} for a {what.split()[1]} of that name)" in result.stderr
    assert os.listdir(".") == ["a.png"]  # no folder named --dry-run, no file named --json
    # a name that only starts with a dash is taken when it is written as a path
    others = ["-o", "x.png"] if flag == "--sheet" else []
    assert run("filter", "a.png", "-k", "box3", flag, meant, *others).exit_code == 0
    assert os.path.exists(meant)


def test_several_kernel_names_in_one_k_are_pointed_to_one_k_each(run):
    png("a.png", np.zeros((10, 12), np.uint8))
    result = run("filter", "a.png", "-k", "box3,sobel-x", "-o", "out.png")
    assert result.exit_code == 2 and not os.path.exists("out.png")
    assert "'box3,sobel-x' names 2 kernels in one spec" in result.stderr
    assert "(-k box3 -k sobel-x)" in result.stderr
