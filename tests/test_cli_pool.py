"""`convcli pool` through click's CliRunner: every option and error path, with exit codes.

Numbers are checked against independent references: a plain loop over windows that reads only the
real pixels (what torch's ``count_include_pad=False`` and Keras ``padding='same'`` mean), the torch
and Keras output-size formulas written out, and scikit-image's ``view_as_blocks`` /
``view_as_windows`` for the lecture examples. Images are read back with Pillow, not with convcli.
"""

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from helpers import png, read_png

RNG = np.random.default_rng(7)
REDUCE = {"max": np.max, "avg": np.mean, "min": np.min, "sum": np.sum, "median": np.median}


@pytest.fixture
def npy(tmp_path):
    array = RNG.normal(size=(7, 9))
    np.save(tmp_path / "in.npy", array)
    return array


def reference_pool(x, op, size, stride, before, out):
    """A loop over output pixels; each window keeps only the pixels inside the image."""
    (ky, kx), (sy, sx), (by, bx), (oy, ox) = size, stride, before, out
    result = np.empty((oy, ox) + x.shape[2:])
    for i in range(oy):
        r0 = i * sy - by
        for j in range(ox):
            c0 = j * sx - bx
            window = x[max(r0, 0) : min(r0 + ky, x.shape[0]), max(c0, 0) : min(c0 + kx, x.shape[1])]
            assert window.shape[0] and window.shape[1]
            result[i, j] = REDUCE[op](window.astype(float), axis=(0, 1))
    return result


def torch_out(n, k, s, before, after, ceil):
    """torch.nn.functional.max_pool2d's output size, ceil_mode rule included."""
    span = n + before + after - k
    if not ceil:
        return span // s + 1
    out = math.ceil(span / s) + 1
    if (out - 1) * s >= n + before:
        out -= 1
    return out


# --- numbers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["max", "avg", "min", "sum", "median"])
def test_ops_valid_match_loop_reference(run, npy, op):
    result = run("pool", "in.npy", "--op", op, "--size", "3", "--stride", "2", "-o", "out.npy")
    assert result.exit_code == 0, result.output
    out = np.load("out.npy")
    assert out.shape == (3, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out, reference_pool(npy, op, (3, 3), (2, 2), (0, 0), (3, 4)), rtol=1e-6, atol=1e-6)


def test_stride_defaults_to_window_and_pairs(run, npy):
    assert run("pool", "in.npy", "--op", "avg", "--size", "2,3", "-o", "out.npy").exit_code == 0
    out = np.load("out.npy")
    assert out.shape == (3, 3)  # ⌊(7 − 2)/2⌋ + 1, ⌊(9 − 3)/3⌋ + 1
    expected = npy[:6, :9].reshape(3, 2, 3, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert run("pool", "in.npy", "--op", "max", "--size", "3,2", "--stride", "1,3", "-o", "o2.npy").exit_code == 0
    np.testing.assert_allclose(np.load("o2.npy"), reference_pool(npy, "max", (3, 2), (1, 3), (0, 0), (5, 3)), rtol=1e-6)


def test_max_of_uint8_png_stays_uint8_exactly(run):
    image = png("a.png", RNG.integers(0, 256, size=(9, 10), dtype=np.uint8))
    result = run("pool", "a.png", "--op", "max", "--size", "2", "-o", "out.png", "--report", "r.json")
    assert result.exit_code == 0, result.output
    got = read_png("out.png")
    assert got.dtype == np.uint8 and got.shape == (4, 5)
    np.testing.assert_array_equal(got, image[:8].reshape(4, 2, 5, 2).max(axis=(1, 3)))
    entry = json.loads(Path("r.json").read_text())["files"][0]
    assert entry["output_dtype"] == "uint8" and entry.get("clipped", 0) == 0
    assert run("pool", "a.png", "--op", "min", "--size", "2", "-o", "min.png").exit_code == 0
    np.testing.assert_array_equal(read_png("min.png"), image[:8].reshape(4, 2, 5, 2).min(axis=(1, 3)))


def test_avg_is_rounded_only_at_writing(run):
    # Each 2×2 block averages to a quarter value: .0, .25, .5, .75 and halves that rint sends to even.
    image = np.array([[0, 1, 1, 2, 3, 0], [0, 0, 0, 1, 2, 2], [5, 5, 9, 9, 0, 0], [5, 6, 9, 10, 1, 0]], np.uint8)
    png("a.png", image)
    assert run("pool", "a.png", "--op", "avg", "--size", "2", "-o", "out.npy").exit_code == 0
    assert run("pool", "a.png", "--op", "avg", "--size", "2", "-o", "out.png").exit_code == 0
    exact = np.array([[0.25, 1.0, 1.75], [5.25, 9.25, 0.25]])
    np.testing.assert_allclose(np.load("out.npy"), exact, rtol=1e-7)  # raw, never rounded
    got = read_png("out.png")
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, np.rint(exact))
    # halves: rint rounds to even, once, at writing
    png("h.png", np.array([[0, 1, 2, 3, 1, 2], [1, 0, 2, 3, 1, 2]], np.uint8))
    assert run("pool", "h.png", "--op", "avg", "--size", "2", "-o", "h.npy").exit_code == 0
    assert run("pool", "h.png", "--op", "avg", "--size", "2", "-o", "hout.png").exit_code == 0
    np.testing.assert_allclose(np.load("h.npy"), [[0.5, 2.5, 1.5]])
    np.testing.assert_array_equal(read_png("hout.png"), [[0, 2, 2]])


def test_sum_is_not_clipped_in_npy_but_clipped_in_png(run):
    png("a.png", np.full((4, 4), 200, np.uint8))
    assert run("pool", "a.png", "--op", "sum", "--size", "2", "-o", "s.npy").exit_code == 0
    np.testing.assert_array_equal(np.load("s.npy"), np.full((2, 2), 800.0))
    result = run("pool", "a.png", "--op", "sum", "--size", "2", "-o", "s.png", "--json")
    np.testing.assert_array_equal(read_png("s.png"), np.full((2, 2), 255))
    assert json.loads(result.stdout)["files"][0]["clipped"] == 4


@pytest.mark.parametrize("op", ["max", "avg", "sum", "median"])
def test_mode_same_is_keras_padding_never_counted(run, npy, op):
    # Keras: out = ⌈7/2⌉ = 4, P = (4 − 1)·2 + 3 − 7 = 2 → 1 before; ⌈9/2⌉ = 5, P = 4·2 + 3 − 9 = 2 → 1 before.
    assert run("pool", "in.npy", "--op", op, "--size", "3", "--stride", "2", "--mode", "same", "-o", "out.npy").exit_code == 0
    out = np.load("out.npy")
    assert out.shape == (4, 5)
    np.testing.assert_allclose(out, reference_pool(npy, op, (3, 3), (2, 2), (1, 1), (4, 5)), rtol=1e-6, atol=1e-6)


def test_mode_same_extra_pixel_goes_after(run):
    x = np.arange(1.0, 9.0).reshape(2, 4)
    np.save("x.npy", x)
    # size 2 stride 1: ⌈4/1⌉ = 4 outputs, P = 1, all of it after (Keras); the last window holds 1 column.
    assert run("pool", "x.npy", "--op", "avg", "--size", "1,2", "--stride", "1", "--mode", "same", "-o", "o.npy").exit_code == 0
    np.testing.assert_allclose(np.load("o.npy"), [[1.5, 2.5, 3.5, 4], [5.5, 6.5, 7.5, 8]])


def test_ceil_mode_torch_example(run):
    np.save("x.npy", np.arange(25.0).reshape(5, 5))
    result = run("pool", "x.npy", "--op", "max", "--size", "2", "--ceil", "-o", "o.npy", "--json")
    assert result.exit_code == 0
    np.testing.assert_array_equal(np.load("o.npy"), [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    step = json.loads(result.stdout)["files"][0]["steps"][0]
    assert step["ceil"] is True and step["arithmetic"]["rows"] == "5 → ⌈(5 − 2)/2⌉ + 1 = 3"
    assert run("pool", "x.npy", "--op", "avg", "--size", "2", "--ceil", "-o", "a.npy").exit_code == 0
    # the last row and column of windows hold the real pixels only: (20 + 21 + 0 + 0)/2, not /4
    np.testing.assert_allclose(np.load("a.npy"), [[3, 5, 6.5], [13, 15, 16.5], [20.5, 22.5, 24]])


def test_ceil_window_wider_than_the_input_follows_torch(run):
    """Issue 10: torch.max_pool2d(x, 4, ceil_mode=True) of a 9×1 input is 3×1 [[4], [8], [9]]
    (cols: ⌈(1 − 4)/4⌉ + 1 = 1, and that window starts inside the input); convcli refused it."""
    np.save("x.npy", np.arange(1.0, 10.0).reshape(9, 1))
    result = run("pool", "x.npy", "--op", "max", "--size", "4", "--ceil", "-o", "o.npy")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load("o.npy"), [[4], [8], [9]])
    # without --ceil torch refuses it too: ⌊(1 − 4)/4⌋ + 1 = 0
    refused = run("pool", "x.npy", "--op", "max", "--size", "4", "-o", "o.npy")
    assert refused.exit_code == 1 and "larger than the 1 cols" in refused.output
    # 1×1, size 4, stride 3, padding (2, 1): rows ⌈(1 + 4 − 4)/3⌉ + 1 = 2, but window 2 starts at
    # 3 − 2 = 1, past the input: dropped → 1; cols ⌈(1 + 2 − 4)/3⌉ + 1 = 1.
    np.save("one.npy", np.array([[7.0]]))
    result = run("pool", "one.npy", "--op", "avg", "--size", "4", "--stride", "3", "--padding", "2,1", "--ceil",
                 "-o", "o.npy")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load("o.npy"), [[7.0]])


def test_count_include_pad_flag_is_torch_default_divisor(run):
    """Issue 10: avg_pool2d's default count_include_pad=True, on request; the default stays False."""
    np.save("x.npy", np.arange(1.0, 10.0).reshape(3, 3))
    args = ["pool", "x.npy", "--op", "avg", "--size", "3", "--stride", "1", "--padding", "1"]
    result = run(*args, "--count-include-pad", "-o", "c.npy", "--json")
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load("c.npy")[0], [12 / 9, 21 / 9, 16 / 9], rtol=1e-6)
    assert json.loads(result.stdout)["files"][0]["steps"][0]["count_include_pad"] is True
    assert run(*args, "-o", "d.npy").exit_code == 0
    np.testing.assert_allclose(np.load("d.npy")[0], [3, 3.5, 4], rtol=1e-6)
    summary = run(*args, "--count-include-pad", "-o", "c.npy", "--dry-run")
    assert "padding counted" in summary.output
    refused = run("pool", "x.npy", "--op", "max", "--size", "2", "--count-include-pad", "-o", "m.npy")
    assert refused.exit_code == 2 and "--count-include-pad sets the divisor of --op avg" in refused.output


@pytest.mark.parametrize("n,k,s,p", [(5, 2, 2, 1), (6, 3, 2, 1), (7, 3, 2, 0), (8, 3, 3, 1), (9, 4, 3, 2)])
def test_ceil_with_padding_follows_torch_rule(run, n, k, s, p):
    x = RNG.normal(size=(n, n + 1))
    np.save("x.npy", x)
    args = ["--size", k, "--stride", s, "--ceil", "-o", "o.npy", "--json"]
    if p:
        args += ["--padding", p]
    result = run("pool", "x.npy", "--op", "avg", *args)
    assert result.exit_code == 0, result.output
    oy, ox = torch_out(n, k, s, p, p, True), torch_out(n + 1, k, s, p, p, True)
    out = np.load("o.npy")
    assert out.shape == (oy, ox)
    np.testing.assert_allclose(out, reference_pool(x, "avg", (k, k), (s, s), (p, p), (oy, ox)), rtol=1e-6, atol=1e-6)
    if (n, k, s, p) == (5, 2, 2, 1):  # ⌈(5 + 1 + 1 − 2)/2⌉ + 1 = 4, but the 4th window starts in the padding
        rows = json.loads(result.stdout)["files"][0]["steps"][0]["arithmetic"]["rows"]
        assert rows.endswith("= 3") and "dropped" in rows


@pytest.mark.parametrize("padding,pads", [
    ("1", ((1, 1), (1, 1))),
    ("1,2", ((1, 1), (2, 2))),
    ("0,1,2,1", ((0, 1), (2, 1))),
])
@pytest.mark.parametrize("op", ["max", "avg", "min", "sum", "median"])
def test_explicit_padding_real_pixels_only(run, npy, padding, pads, op):
    (top, bottom), (left, right) = pads
    result = run("pool", "in.npy", "--op", op, "--size", "3,4", "--stride", "2,3", "--padding", padding, "-o", "o.npy")
    assert result.exit_code == 0, result.output
    oy, ox = torch_out(7, 3, 2, top, bottom, False), torch_out(9, 4, 3, left, right, False)
    out = np.load("o.npy")
    assert out.shape == (oy, ox)
    np.testing.assert_allclose(out, reference_pool(npy, op, (3, 4), (2, 3), (top, left), (oy, ox)), rtol=1e-6, atol=1e-6)


def test_padded_max_ignores_padding_even_for_negative_images(run):
    x = -np.arange(1.0, 10.0).reshape(3, 3)
    np.save("x.npy", x)
    assert run("pool", "x.npy", "--op", "max", "--size", "2", "--stride", "1", "--padding", "1", "-o", "o.npy").exit_code == 0
    out = np.load("o.npy")
    assert out.shape == (4, 4) and out.max() < 0  # never a padded 0
    assert out[0, 0] == -1 and out[3, 3] == -9


def test_padding_with_mode_valid_is_allowed(run, npy):
    assert run("pool", "in.npy", "--size", "2", "--padding", "1", "--mode", "valid", "-o", "o.npy").exit_code == 0
    assert np.load("o.npy").shape == (4, 5)


# --- colour, alpha, gray ---------------------------------------------------------------------------


def test_rgb_channel_by_channel(run):
    rgb = png("rgb.png", RNG.integers(0, 256, size=(6, 8, 3), dtype=np.uint8))
    assert run("pool", "rgb.png", "--op", "max", "--size", "2", "-o", "out.png").exit_code == 0
    got = read_png("out.png")
    assert got.shape == (3, 4, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, rgb.reshape(3, 2, 4, 2, 3).max(axis=(1, 3)))
    assert run("pool", "rgb.png", "--op", "median", "--size", "3", "--stride", "1", "-o", "med.npy").exit_code == 0
    np.testing.assert_allclose(np.load("med.npy"), reference_pool(rgb, "median", (3, 3), (1, 1), (0, 0), (4, 6)))


def test_rgba_alpha_is_averaged_over_each_window(run):
    rgba = RNG.integers(0, 256, size=(6, 8, 4), dtype=np.uint8)
    rgba[:2, :2, 3] = [[0, 255], [255, 255]]  # a window with coverage 191.25
    png("rgba.png", rgba)
    assert run("pool", "rgba.png", "--op", "max", "--size", "2", "-o", "out.png").exit_code == 0
    assert run("pool", "rgba.png", "--op", "max", "--size", "2", "-o", "out.npy").exit_code == 0
    got = read_png("out.png")
    assert got.shape == (3, 4, 4)
    blocks = rgba.astype(float).reshape(3, 2, 4, 2, 4)
    np.testing.assert_array_equal(got[..., :3], blocks[..., :3].max(axis=(1, 3)))
    np.testing.assert_array_equal(got[..., 3], np.rint(blocks[..., 3].mean(axis=(1, 3))))
    raw = np.load("out.npy")
    assert raw[0, 0, 3] == pytest.approx(191.25)
    np.testing.assert_allclose(raw[..., 3], blocks[..., 3].mean(axis=(1, 3)), rtol=1e-6)


def test_gray_uses_rgb2gray_weights_in_input_units(run):
    from skimage.color import rgb2gray

    rgb = png("rgb.png", RNG.integers(0, 256, size=(8, 8, 3), dtype=np.uint8))
    result = run("pool", "rgb.png", "--gray", "--op", "avg", "--size", "4", "-o", "out.npy", "--json")
    assert result.exit_code == 0
    gray = rgb2gray(rgb) * 255
    np.testing.assert_allclose(np.load("out.npy"), gray.reshape(2, 4, 2, 4).mean(axis=(1, 3)), rtol=1e-5)
    steps = json.loads(result.stdout)["files"][0]["steps"]
    assert [s["op"] for s in steps] == ["gray", "pool"]
    assert steps[0]["out_shape"] == [8, 8] and steps[1]["out_shape"] == [2, 2]


def test_gray_keeps_alpha(run):
    rgba = png("rgba.png", RNG.integers(0, 256, size=(4, 4, 4), dtype=np.uint8))
    assert run("pool", "rgba.png", "--gray", "--op", "min", "--size", "2", "-o", "out.npy").exit_code == 0
    out = np.load("out.npy")
    assert out.shape == (2, 2, 2)
    gray = rgba[..., :3].astype(float) @ [0.2125, 0.7154, 0.0721]
    np.testing.assert_allclose(out[..., 0], gray.reshape(2, 2, 2, 2).min(axis=(1, 3)), rtol=1e-5)
    np.testing.assert_allclose(out[..., 1], rgba[..., 3].reshape(2, 2, 2, 2).mean(axis=(1, 3)), rtol=1e-6)


# --- global pooling --------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["max", "avg", "min", "sum", "median"])
def test_global_table_on_stdout(run, op):
    rgb = RNG.normal(size=(6, 7, 3)) * 50
    np.save("rgb.npy", rgb)
    result = run("pool", "rgb.npy", "--op", op, "--global")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"input\tchannel\t{op}"
    assert len(lines) == 4
    expected = REDUCE[op](rgb, axis=(0, 1))
    for channel, line in enumerate(lines[1:]):
        label, number, value = line.split("\t")
        assert (label, number) == ("rgb.npy", str(channel))
        assert float(value) == pytest.approx(expected[channel], rel=1e-9)
    assert "global" in result.stderr  # the human summary goes to standard error


def test_global_with_output_writes_1x1xC(run):
    rgb = png("rgb.png", RNG.integers(0, 256, size=(6, 7, 3), dtype=np.uint8))
    result = run("pool", "rgb.png", "--op", "max", "--global", "-o", "g.png")
    assert result.exit_code == 0
    got = read_png("g.png")
    assert got.shape == (1, 1, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got[0, 0], rgb.max(axis=(0, 1)))
    assert result.stdout.splitlines()[0] == "input\tchannel\tmax"  # still shown
    assert run("pool", "rgb.png", "--op", "avg", "--global", "-o", "g.npy").exit_code == 0
    out = np.load("g.npy")
    assert out.shape == (1, 1, 3)
    np.testing.assert_allclose(out[0, 0], rgb.mean(axis=(0, 1)), rtol=1e-6)
    np.save("grey.npy", rgb[..., 0].astype(float))
    assert run("pool", "grey.npy", "--op", "sum", "--global", "-o", "s.npy").exit_code == 0
    out = np.load("s.npy")
    assert out.shape == (1, 1)
    assert out[0, 0] == pytest.approx(rgb[..., 0].sum(), rel=1e-6)


def test_global_several_inputs_one_header(run):
    np.save("a.npy", np.arange(6.0).reshape(2, 3))
    np.save("b.npy", np.full((2, 2, 2), 4.0))
    result = run("pool", "a.npy", "b.npy", "--op", "avg", "--global")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["input\tchannel\tavg", "a.npy\t0\t2.5", "b.npy\t0\t4", "b.npy\t1\t4"]


def test_global_report_has_values_and_json_stays_parseable(run):
    np.save("a.npy", np.arange(12.0).reshape(2, 2, 3))
    result = run("pool", "a.npy", "--op", "avg", "--global", "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)  # only the report on standard output, no table mixed in
    entry = report["files"][0]
    assert entry["values"] == [4.5, 5.5, 6.5]
    assert entry["output_shape"] == [1, 1, 3] and entry["steps"][0]["op"] == "global_pool"
    result = run("pool", "a.npy", "--op", "max", "--global", "--report", "r.json")
    assert result.stdout.splitlines()[0] == "input\tchannel\tmax"
    assert json.loads(Path("r.json").read_text())["files"][0]["values"] == [9, 10, 11]


def test_global_image_on_stdout_has_no_table(run):
    import io as stdio

    np.save("a.npy", np.arange(12.0).reshape(2, 2, 3))
    result = run("pool", "a.npy", "--op", "avg", "--global", "-o", "-", "--format", "npy")
    assert result.exit_code == 0
    np.testing.assert_allclose(np.load(stdio.BytesIO(result.stdout_bytes)), [[[4.5, 5.5, 6.5]]])


def test_global_rgba_alpha_averaged(run):
    rgba = RNG.integers(0, 256, size=(5, 6, 4), dtype=np.uint8)
    png("rgba.png", rgba)
    result = run("pool", "rgba.png", "--op", "sum", "--global", "-o", "g.npy")
    assert result.exit_code == 0
    out = np.load("g.npy")
    np.testing.assert_allclose(out[0, 0, :3], rgba[..., :3].astype(float).sum(axis=(0, 1)), rtol=1e-6)
    assert out[0, 0, 3] == pytest.approx(rgba[..., 3].mean(), rel=1e-6)


def test_global_dry_run(run):
    png("rgb.png", np.zeros((20, 30, 3), np.uint8))
    result = run("pool", "rgb.png", "--global", "--dry-run", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["files"][0]["output_shape"] == [1, 1, 3]


# --- the lecture examples (scikit-image's astronaut, made grey) ------------------------------------


@pytest.fixture(scope="module")
def astronaut_gray():
    from skimage import color, data

    return color.rgb2gray(data.astronaut()) * 255


def test_lecture_4x4_max_pooling(run, astronaut_gray):
    from skimage.util import view_as_blocks

    result = run("pool", "sample:astronaut", "--gray", "--op", "max", "--size", "4", "-o", "max.npy")
    assert result.exit_code == 0, result.output
    assert "512 → ⌊(512 − 4)/4⌋ + 1 = 128" in result.stderr
    out = np.load("max.npy")
    assert out.shape == (128, 128)
    np.testing.assert_allclose(out, view_as_blocks(astronaut_gray, (4, 4)).max(axis=(2, 3)), rtol=1e-6)


def test_lecture_4x4_min_pooling_stride_2(run, astronaut_gray):
    from skimage.util import view_as_windows

    result = run("pool", "sample:astronaut", "--gray", "--op", "min", "--size", "4", "--stride", "2", "-o", "min.npy")
    assert result.exit_code == 0
    assert "512 → ⌊(512 − 4)/2⌋ + 1 = 255" in result.stderr
    out = np.load("min.npy")
    assert out.shape == (255, 255)
    np.testing.assert_allclose(out, view_as_windows(astronaut_gray, (4, 4), 2).min(axis=(2, 3)), rtol=1e-6)


def test_lecture_global_average_pooling(run, astronaut_gray):
    result = run("pool", "sample:astronaut", "--gray", "--op", "avg", "--global", "-o", "gap.npy")
    assert result.exit_code == 0
    out = np.load("gap.npy")
    assert out.shape == (1, 1)
    assert out[0, 0] == pytest.approx(astronaut_gray.mean(), rel=1e-6)
    label, channel, value = result.stdout.splitlines()[1].split("\t")
    assert (label, channel) == ("sample:astronaut", "0")
    assert float(value) == pytest.approx(astronaut_gray.mean(), rel=1e-6)


# --- reports, dry run, batches ---------------------------------------------------------------------


def test_report_fields(run):
    png("a.png", np.zeros((64, 48, 3), np.uint8))
    result = run("pool", "a.png", "--op", "avg", "--size", "3", "--stride", "2", "--padding", "1", "-o", "o.png", "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["command"] == "pool" and (report["ok"], report["failed"]) == (1, 0)
    entry = report["files"][0]
    assert entry["input_shape"] == [64, 48, 3] and entry["output_shape"] == [32, 24, 3]
    step = entry["steps"][0]
    assert step["op"] == "pool" and step["pool"] == "avg" and step["size"] == [3, 3]
    assert step["stride"] == [2, 2] and step["padding"] == [[1, 1], [1, 1]]
    assert step["receptive_field"] == [3, 3] and step["jump"] == [2, 2]
    assert step["arithmetic"]["rows"] == "64 → ⌊(64 + 1 + 1 − 3)/2⌋ + 1 = 32"


def test_dry_run_shapes_nothing_written(run):
    png("a.png", np.zeros((40, 30, 3), np.uint8))
    result = run("pool", "a.png", "--size", "4", "--stride", "2", "--dry-run", "-o", "o.png", "--report", "r.json")
    assert result.exit_code == 0 and not os.path.exists("o.png")
    assert json.loads(Path("r.json").read_text())["files"][0]["output_shape"] == [19, 14, 3]
    result = run("pool", "a.png", "--size", "4", "--mode", "same", "--dry-run")
    assert result.exit_code == 0 and "10×8×3" in result.stderr


def test_several_inputs_one_failing(run):
    png("a.png", np.zeros((8, 8), np.uint8))
    png("small.png", np.zeros((2, 2), np.uint8))
    Path("broken.png").write_bytes(b"not an image")
    result = run("pool", "a.png", "small.png", "broken.png", "--size", "4", "-O", "out", "--report", "r.json")
    assert result.exit_code == 1
    assert os.listdir("out") == ["a.png"]
    report = json.loads(Path("r.json").read_text())
    assert (report["ok"], report["failed"]) == (1, 2)
    assert "small.png" in result.stderr and "larger than" in result.stderr
    assert "broken.png" in result.stderr and "Traceback" not in result.stderr
    assert read_png("out/a.png").shape == (2, 2)


def test_fail_fast_and_no_clobber(run):
    Path("broken.png").write_bytes(b"nope")
    png("b.png", np.zeros((4, 4), np.uint8))
    assert run("pool", "broken.png", "b.png", "--size", "2", "-O", "out", "--fail-fast").exit_code == 1
    assert not os.path.exists("out/b.png")
    Path("o.png").write_bytes(b"keep")
    result = run("pool", "b.png", "--size", "2", "-o", "o.png", "--no-clobber")
    assert result.exit_code == 1 and Path("o.png").read_bytes() == b"keep"


def test_output_is_input_refused(run, npy):
    before = Path("in.npy").read_bytes()
    assert run("pool", "in.npy", "--size", "2", "-o", "in.npy").exit_code == 2
    assert Path("in.npy").read_bytes() == before


@pytest.mark.parametrize("args,message", [
    (["--global", "--size", "2"], "drop --size"),
    (["--global", "--stride", "2"], "drop --stride"),
    (["--global", "--mode", "same"], "drop --mode"),
    (["--global", "--ceil"], "drop --ceil"),
    (["--global", "--padding", "1"], "drop --padding"),
    (["-o", "o.npy"], "--size"),
    (["--stride", "2", "-o", "o.npy"], "--size"),
    (["--size", "3", "--mode", "same", "--padding", "1", "-o", "o.npy"], "--padding replaces --mode"),
    (["--size", "3", "--mode", "same", "--ceil", "-o", "o.npy"], "--ceil"),
    (["--size", "2", "--padding", "2", "-o", "o.npy"], "more than half the window"),
    (["--size", "4,2", "--padding", "2,0,0,2", "-o", "o.npy"], "more than half the window 2 along the cols"),
    (["--size", "0", "-o", "o.npy"], ">= 1"),
    (["--size", "2", "--stride", "0", "-o", "o.npy"], ">= 1"),
    (["--size", "2", "--padding", "1,2,3", "-o", "o.npy"], "top,bottom,left,right"),
    (["--size", "2", "--padding", "-1", "-o", "o.npy"], "negative"),
    (["--size", "2", "--op", "mean", "-o", "o.npy"], "mean"),
    (["--size", "2", "--mode", "full", "-o", "o.npy"], "full"),
    (["--size", "2"], "no output"),
    (["--size", "2", "-o", "o.npy", "--json", "--report", "r.json"], "--json is --report -"),
    (["--size", "2", "-o", "-", "--json"], "--report PATH"),
])
def test_usage_errors_exit_2(run, npy, args, message):
    result = run("pool", "in.npy", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not os.path.exists("o.npy")


def test_help_lists_options(run):
    result = run("pool", "--help")
    assert result.exit_code == 0
    for option in ("--op", "--size", "--stride", "--mode", "--ceil", "--padding", "--global", "--gray"):
        assert option in result.stdout


def test_global_quiet_keeps_the_table_and_several_outputs(run):
    np.save("a.npy", np.arange(6.0).reshape(2, 3))
    np.save("b.npy", np.ones((3, 3, 2)))
    result = run("-q", "pool", "a.npy", "b.npy", "--op", "max", "--global", "-O", "out")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.splitlines() == ["input\tchannel\tmax", "a.npy\t0\t5", "b.npy\t0\t1", "b.npy\t1\t1"]
    assert np.load("out/a.npy").shape == (1, 1) and np.load("out/b.npy").shape == (1, 1, 2)


def test_global_average_is_reported_in_its_own_precision(run):
    """A float32 mean is reported by its shortest float32 repr, with no float64 noise digits."""
    png("third.png", np.array([[1, 0, 0]], dtype=np.uint8))
    result = run("pool", "third.png", "--op", "avg", "--global", "--report", "r.json")
    assert result.exit_code == 0, result.output
    value = json.loads(Path("r.json").read_text())["files"][0]["values"][0]
    assert value == 0.33333334 == float(str(np.float32(1 / 3)))
    assert "0.33333334" in result.output


# --- .npy keeps the values max/min pooling kept (issue 11) -----------------------------------------


@pytest.mark.parametrize(("op", "dtype"), [("max", np.uint8), ("min", np.uint16), ("avg", None), ("sum", None)])
def test_npy_output_keeps_the_dtype_of_value_keeping_pools(run, op, dtype):
    image = RNG.integers(0, 250, size=(6, 8)).astype(dtype or np.uint8)
    np.save("in.npy", image)
    result = run("pool", "in.npy", "--op", op, "--size", "2", "-o", "out.npy", "--json")
    assert result.exit_code == 0, result.output
    out = np.load("out.npy")
    blocks = image.reshape(3, 2, 4, 2).astype(float)
    reference = {"max": blocks.max(axis=(1, 3)), "min": blocks.min(axis=(1, 3)),
                 "avg": blocks.mean(axis=(1, 3)), "sum": blocks.sum(axis=(1, 3))}[op]
    expected_dtype = np.dtype(dtype) if dtype is not None else np.dtype(np.float32)
    assert out.dtype == expected_dtype
    assert json.loads(result.stdout)["files"][0]["output_dtype"] == expected_dtype.name
    np.testing.assert_allclose(out.astype(float), reference, rtol=1e-6)


def test_max_pool_npy_holds_the_png_bytes(run):
    image = RNG.integers(0, 256, size=(8, 8), dtype=np.uint8)
    png("a.png", image)
    assert run("pool", "a.png", "--op", "max", "--size", "2", "-o", "out.npy").exit_code == 0
    assert run("pool", "a.png", "--op", "max", "--size", "2", "-o", "out.png").exit_code == 0
    np.testing.assert_array_equal(np.load("out.npy"), read_png("out.png"))
    assert np.load("out.npy").dtype == np.uint8


def test_dtype_float32_still_asks_for_float(run):
    np.save("in.npy", np.arange(16, dtype=np.uint8).reshape(4, 4))
    assert run("pool", "in.npy", "--op", "max", "--size", "2", "-o", "out.npy", "--dtype", "float32").exit_code == 0
    out = np.load("out.npy")
    assert out.dtype == np.float32 and out.tolist() == [[5, 7], [13, 15]]
