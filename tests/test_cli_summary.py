"""The human summary and the report's counts, through the CLI: what it says when the default zero
boundary frames an image, what it suggests when values were clipped, and how it counts inputs,
extra files and the inputs --fail-fast never started."""

import json
import re

import numpy as np
import pytest

from helpers import png, read_png

# --- the default zero boundary frames photographs -------------------------------------------------


@pytest.fixture
def grey(tmp_path):
    """A flat mid-grey photograph stand-in, 40×50: every change at its border is the padding's."""
    return png(tmp_path / "grey.png", np.full((40, 50), 120, dtype=np.uint8))


@pytest.mark.parametrize("args", [("filter", "-k", "box5"), ("sobel",), ("filter", "-k", "gaussian:sigma=3")])
def test_a_default_zero_boundary_that_frames_an_image_is_said(run, grey, args):
    result = run(*args[:1], "grey.png", *args[1:], "-o", "out.png")
    assert result.exit_code == 0, result.output
    out = read_png("out.png").astype(float)
    assert out[0, 25] != 120 and out[20, 25] in (120, 0)  # the frame is real: interior flat
    lines = [line for line in result.stderr.splitlines() if "border:" in line]
    assert len(lines) == 1 and "zero padding (the default boundary)" in lines[0]
    assert "--boundary reflect" in lines[0]


def test_the_border_line_gives_the_frame_in_numbers(run, grey):
    result = run("filter", "grey.png", "-k", "box3", "-o", "out.png", "--json")
    step = json.loads(result.stdout)["files"][0]["steps"][0]
    # box3 on flat 120: edges 80 (moved 40), corners 120·4/9 (moved 66.67); 2·50 + 2·38 outputs
    assert step["zero_border"]["outputs"] == 176
    assert step["zero_border"]["max"] == pytest.approx(120 * 5 / 9, rel=1e-6)
    assert step["zero_border"]["mean"] == pytest.approx((172 * 40 + 4 * 120 * 5 / 9) / 176, rel=1e-6)
    result = run("filter", "grey.png", "-k", "box3", "-o", "out2.png")
    assert "moved the 176 border outputs by 40.6 on average (up to 66.7)" in result.stderr


@pytest.mark.parametrize("args", [
    ("--boundary", "zero"),          # asked for: no hint
    ("--boundary", "reflect"),
    ("--mode", "valid"),             # nothing padded
])
def test_no_border_line_when_zero_was_asked_for_or_nothing_is_padded(run, grey, args):
    result = run("filter", "grey.png", "-k", "box5", "-o", "out.png", *args)
    assert result.exit_code == 0 and "border:" not in result.stderr


def test_no_border_line_for_raw_outputs_or_untouched_borders(run, tmp_path, grey):
    assert "border:" not in run("filter", "grey.png", "-k", "box5", "-o", "out.npy").stderr  # raw values
    framed = np.zeros((40, 50), dtype=np.uint8)
    framed[5:-5, 5:-5] = 200  # a black edge: zero padding continues it
    png(tmp_path / "framed.png", framed)
    assert "border:" not in run("filter", "framed.png", "-k", "box5", "-o", "out.png").stderr
    identity = "0 0 0; 0 1 0; 0 0 0"  # its padded taps weigh nothing
    assert "border:" not in run("filter", "grey.png", "-k", identity, "-o", "out2.png").stderr


def test_pipeline_border_line_names_the_yaml_key(run, tmp_path, grey):
    (tmp_path / "blur.yaml").write_text("steps:\n  - filter: {kernel: box5}\n")
    result = run("pipeline", "blur.yaml", "grey.png", "-o", "out.png")
    assert "`boundary: reflect` (or edge) on this step" in result.stderr
    (tmp_path / "given.yaml").write_text("steps:\n  - filter: {kernel: box5, boundary: zero}\n")
    assert "border:" not in run("pipeline", "given.yaml", "grey.png", "-o", "out2.png").stderr


# --- the clipping line suggests what fits the values clipped --------------------------------------


def _clipping(stderr):
    lines = [line for line in stderr.splitlines() if "were clipped" in line]
    assert len(lines) == 1, stderr
    return lines[0]


def test_clipped_negatives_suggest_a_signed_scale(run, tmp_path):
    png(tmp_path / "step.png", np.tile(np.repeat(np.array([200, 10], dtype=np.uint8), 5), (6, 1)))
    line = _clipping(run("filter", "step.png", "-k", "1 0 -1", "--boundary", "edge", "-o", "out.png").stderr)
    # 1 0 -1 (convolution) on a fall 200 → 10: −190 at the two columns either side of it
    assert "12 values were outside the uint8 range 0..255 and were clipped (12 below 0)" in line
    assert "--scale abs" in line and "offset" in line and "normalize" not in line


def test_clipped_large_values_suggest_fitting_them_not_signs(run, tmp_path):
    png(tmp_path / "bright.png", np.full((8, 8), 200, dtype=np.uint8))
    line = _clipping(run("filter", "bright.png", "-k", "1 1; 1 1", "--boundary", "edge", "-o", "out.png").stderr)
    assert "(64 above 255)" in line and "signed" not in line and "--scale abs" not in line
    assert "--scale normalize" in line and "--normalize divides the kernel by its sum" in line
    assert "--dtype uint16" in line and ".npy" in line
    sobel = _clipping(run("sobel", "bright.png", "-o", "edges.png").stderr)  # magnitude: never negative
    assert "above 255" in sobel and "signed" not in sobel and "--normalize" not in sobel


def test_clipped_on_both_sides_suggests_the_whole_range(run, tmp_path):
    values = np.array([[0, 0, 255, 255, 0, 0]], dtype=np.uint8).repeat(4, axis=0)
    png(tmp_path / "bar.png", values)
    line = _clipping(run("filter", "bar.png", "-k", "-1 3 -1", "--boundary", "edge", "-o", "out.png").stderr)
    assert "below 0" in line and "above 255" in line
    assert "--scale normalize" in line and "--dtype uint16" not in line and "signed" not in line


# --- honest counts ------------------------------------------------------------------------------------


def test_one_input_with_two_files_is_one_done(run, tmp_path):
    png(tmp_path / "a.png", np.full((8, 8), 9, dtype=np.uint8))
    result = run("filter", "a.png", "-k", "box3", "-k", "sobel-x", "-o", "a-{kernel}.png", "--boundary", "edge")
    assert result.exit_code == 0
    assert re.fullmatch(r"1 done \(2 files written\), 0 failed in \d+\.\d\d s", result.stderr.splitlines()[-1])
    report = json.loads(run("filter", "a.png", "-k", "box3", "--split", "-o", "s.png", "--json").stdout)
    assert (report["ok"], report["failed"], report["skipped"], report["outputs"]) == (1, 0, 0, 1)


def test_fail_fast_says_how_many_inputs_it_never_started(run, tmp_path):
    for name in ("a", "c", "d"):
        png(tmp_path / f"{name}.png", np.full((8, 8), 9, dtype=np.uint8))
    (tmp_path / "b.png").write_bytes(b"not an image")
    result = run("filter", "a.png", "b.png", "c.png", "d.png", "-k", "box3", "-O", "out", "--fail-fast", "-j", "1")
    assert result.exit_code == 1
    assert re.fullmatch(r"1 done, 1 failed, 2 not started \(--fail-fast\) in \d+\.\d\d s",
                        result.stderr.splitlines()[-1])
    report = json.loads(run("filter", "a.png", "b.png", "c.png", "d.png", "-k", "box3", "-O", "out2",
                            "--fail-fast", "-j", "1", "--json").stdout)
    assert (report["ok"], report["failed"], report["skipped"]) == (1, 1, 2)
