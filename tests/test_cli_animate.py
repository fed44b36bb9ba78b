"""`convcli animate`: frame counts from the output-size formulas, decoded frames, --frames, and
bad input refused in one line with exit 2 and nothing written."""

import os

import numpy as np
import pytest
from PIL import Image, ImageSequence

from convcli.animate import CURRENT_OUTLINE, PADDING_FILL, WINDOW_OUTLINE, animation, animation_frames
from convcli.drawing import OUTLINE


def gif_frames(path):
    with Image.open(path) as gif:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(gif)]


@pytest.mark.parametrize("args,count", [
    (["conv", "shape:5x5", "--kernel-size", "3", "--padding", "1", "--stride", "2"], ((5 + 2 - 2 - 1) // 2 + 1) ** 2),
    (["conv", "shape:6x4", "--kernel-size", "2", "--correlate"], 6 * 4),                          # same: ⌈n/s⌉
    (["conv", "shape:7x7", "--kernel-size", "3", "--dilation", "2", "--mode", "valid"], (7 - 5 + 1) ** 2),
    (["pool", "shape:6x6", "--size", "3", "--stride", "2", "--ceil"], 3 * 3),                     # ⌈(6 − 3)/2⌉ + 1
    (["transpose", "shape:2x3", "--kernel-size", "3", "--factor", "2", "--padding", "1"], 3 * 5),  # (n − 1)·2 − 2 + 3
    (["unpool", "matrix:1 5 2 0; 4 3 9 1; 7 8 2 2; 0 1 3 6", "--size", "2"], 4),
])
def test_one_frame_per_output_cell(run, args, count):
    result = run("animate", *args, "-o", "a.gif", "--cell", "12")
    assert result.exit_code == 0, result.output
    assert len(gif_frames("a.gif")) == count
    assert f"{count} frames" in result.stderr


def test_decoded_frames_outline_window_k_and_output_k(run):
    result = run("animate", "conv", "matrix:1 2 3 4; 5 6 7 8; 9 10 11 12", "-k", "1 1; 1 1", "--correlate",
                 "--mode", "same", "-o", "a.gif", "--frames", "frames", "--cell", "16")
    assert result.exit_code == 0, result.output
    pictures = gif_frames("a.gif")
    # The layout of these frames (the same call in the core) says where each cell is.
    layout = animation_frames(animation("conv", np.arange(1.0, 13.0).reshape(3, 4), kernel="1 1; 1 1",
                                        correlate=True), cell=16)
    assert len(pictures) == 12 and sorted(os.listdir("frames")) == [f"frame_{k:03d}.png" for k in range(12)]
    for k, picture in enumerate(pictures):
        png = np.asarray(Image.open(f"frames/frame_{k:03d}.png").convert("RGB"))
        np.testing.assert_array_equal(png, layout.pixels[k])
        # The GIF's palette keeps the most frequent 256 colours: only a few text-edge pixels differ.
        assert (png != picture).any(axis=2).mean() < 0.01
        r, c = divmod(k, 4)
        # Correlation, even kernel, same: P = 1 along each axis, after the input (TF's split).
        for i in range(4):
            for j in range(5):
                top, left, _, _ = layout.input_box(i, j)
                assert (tuple(picture[top + 1, left + 1]) == WINDOW_OUTLINE) == (i in (r, r + 1) and j in (c, c + 1))
                if i == 3 or j == 4:
                    assert tuple(picture[top + OUTLINE + 1, left + OUTLINE + 1]) == PADDING_FILL
        top, left, _, _ = layout.output_box(r, c)
        assert tuple(picture[top + 1, left + 1]) == CURRENT_OUTLINE


@pytest.mark.parametrize("args,message", [
    (["conv", "sample:camera", "-k", "box3"], "at most 32×32"),
    (["conv", "shape:30x30", "--kernel-size", "3"], "more than 400"),
    (["warp", "shape:3x3"], "'warp' is not one of"),
    (["conv", "shape:3x3", "--kernel-size", "5", "--mode", "valid"], "leaves no output"),
    (["pool", "shape:4x4", "--size", "2", "--dilation", "2"], "--dilation does not apply to pool"),
    (["pool", "shape:4x4", "--size", "2", "--mode", "full"], "--mode must be valid or same"),
    (["pool", "shape:4x4"], "needs --size"),
    (["conv", "shape:4x4"], "needs -k KERNEL (values) or --kernel-size"),
    (["transpose", "shape:4x4", "--kernel-size", "2"], "needs --factor"),
    (["unpool", "shape:4x4", "--size", "2"], "needs values"),
    (["conv", "sample:astronaut", "-k", "box3"], "3 channels"),
    # The step kinds' rules: the same messages as filter's and pool's.
    (["conv", "shape:4x4", "--kernel-size", "3", "--cval", "2"], "--cval needs --boundary constant"),
    (["conv", "shape:4x4", "--kernel-size", "3", "--padding", "1", "--mode", "same"], "--padding replaces --mode"),
    (["pool", "shape:4x4", "--size", "2", "--count-include-pad"], "--count-include-pad sets the divisor of --op avg"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(run, args, message):
    result = run("animate", *args, "-o", "a.gif", "--frames", "frames")
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert os.listdir(".") == []


def test_output_must_be_a_gif_and_something_must_be_written(run):
    assert "end it in .gif" in run("animate", "pool", "shape:4x4", "--size", "2", "-o", "a.png").stderr
    assert "no output" in run("animate", "pool", "shape:4x4", "--size", "2").stderr
    assert os.listdir(".") == []


def test_frames_alone_and_quiet(run):
    result = run("animate", "-q", "pool", "matrix:1 2; 3 4", "--size", "2", "--op", "avg", "--frames", "f")
    assert result.exit_code == 0 and result.stderr == ""
    assert os.listdir("f") == ["frame_000.png"]
