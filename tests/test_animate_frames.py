"""convcli.animate.frames, checked on decoded GIF frames: frame k outlines window k (from the test's
own arithmetic), padding has the padding fill, output cells 0..k hold the op's values (by colour,
computed here with SciPy and NumPy) and cell k is outlined."""

import io

import numpy as np
import pytest
from PIL import Image, ImageSequence
from scipy import signal

from convcli.animate import (
    CURRENT_OUTLINE,
    EMPTY_FILL,
    INPUT_FILL,
    OUTPUT_FILL,
    PADDING_FILL,
    WINDOW_OUTLINE,
    WINNER_OUTLINE,
    animation,
    animation_frames,
    gif_bytes,
)
from convcli.drawing import OUTLINE, value_colours


def decoded(frames):
    gif = Image.open(io.BytesIO(gif_bytes(frames.pixels, duration=100)))
    return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(gif)]


def outline(picture, box):
    top, left, _, _ = box
    return tuple(int(v) for v in picture[top + 1, left + 1])


def fill(picture, box):
    top, left, _, _ = box
    return tuple(int(v) for v in picture[top + OUTLINE + 1, left + OUTLINE + 1])  # inside the outline, before any text


def rgb(colour):
    return tuple(int(v) for v in np.clip(np.rint(colour), 0, 255))


def test_conv_frames_on_the_decoded_gif():
    n, k, s, p = 5, 3, 2, 1
    image = np.arange(1.0, 26.0).reshape(n, n) % 7
    kernel = np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]])
    frames = animation_frames(animation("conv", image, kernel=kernel, padding=p, stride=s), cell=16)
    pictures = decoded(frames)
    out = (n + 2 * p - k) // s + 1
    assert len(pictures) == out * out
    expected = signal.convolve2d(np.pad(image, p), kernel, mode="valid")[::s, ::s]
    colours = value_colours(expected)
    for index, picture in enumerate(pictures):
        r, c = divmod(index, out)
        window = {(r * s + i, c * s + j) for i in range(k) for j in range(k)}
        for i in range(n + 2 * p):
            for j in range(n + 2 * p):
                box = frames.input_box(i, j)
                assert (outline(picture, box) == WINDOW_OUTLINE) == ((i, j) in window), (index, i, j)
                if not (p <= i < n + p and p <= j < n + p):
                    assert fill(picture, box) == PADDING_FILL
        for i in range(out):
            for j in range(out):
                box = frames.output_box(i, j)
                assert (outline(picture, box) == CURRENT_OUTLINE) == ((i, j) == (r, c))
                written = i * out + j <= index
                assert fill(picture, box) == (rgb(colours[i, j]) if written else EMPTY_FILL), (index, i, j)


def test_dilated_window_leaves_the_gaps_unmarked():
    frames = animation_frames(animation("conv", (7, 7), kernel_size=2, dilation=3, mode="valid"), cell=12)
    pictures = decoded(frames)
    assert len(pictures) == ((7 - 3 * (2 - 1) - 1) + 1) ** 2  # e = 4: 4×4 outputs
    marked = {(i, j) for i in range(7) for j in range(7) if outline(pictures[5], frames.input_box(i, j)) == WINDOW_OUTLINE}
    assert marked == {(1, 1), (1, 4), (4, 1), (4, 4)}  # frame 5 = output (1, 1): taps 1 and 1 + 3


def test_shape_only_frames_fill_input_and_output_cells():
    frames = animation_frames(animation("transpose", (2, 2), kernel_size=3, factor=2), cell=12)
    pictures = decoded(frames)
    assert len(pictures) == 25
    last = pictures[-1]
    for i in range(7):
        for j in range(7):
            inside = i in (2, 4) and j in (2, 4)  # inputs with one zero between them, k − 1 − p = 2 around
            colour = fill(last, frames.input_box(i, j))
            assert colour == (INPUT_FILL if inside else PADDING_FILL)
    assert fill(last, frames.output_box(4, 4)) == OUTPUT_FILL and fill(pictures[0], frames.output_box(0, 1)) == EMPTY_FILL


def test_pool_frames_mark_the_winner():
    image = np.array([[1.0, 5, 2, 0], [4, 3, 9, 1], [7, 8, 2, 2], [0, 1, 3, 6]])
    frames = animation_frames(animation("pool", image, op="max", size=2), cell=16)
    pictures = decoded(frames)
    winners = [(0, 1), (1, 2), (2, 1), (3, 3)]  # np.argmax of each 2×2 block, by hand
    for picture, winner in zip(pictures, winners, strict=True):
        assert outline(picture, frames.input_box(*winner)) == WINNER_OUTLINE


def test_frames_share_one_layout():
    frames = animation_frames(animation("conv", np.array([[1.0, 200.5], [3.0, 4.0]]), kernel="1 1; 1 1"), cell=16)
    assert len({picture.shape for picture in frames.pixels}) == 1


@pytest.mark.parametrize("cell", [4, True, 10.5])
def test_bad_cell_is_refused(cell):
    with pytest.raises(ValueError, match="`cell` must be"):
        animation_frames(animation("pool", (2, 2), size=2), cell=cell)
