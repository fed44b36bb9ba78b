"""convcli.animate.files: the GIF keeps every frame and the fills' exact colours; a folder of frames
is written all or nothing."""

import io
import os

import numpy as np
import pytest
from PIL import Image, ImageSequence

from convcli.animate import FRAME_NAME, gif_bytes, write_frames, write_gif
from convcli.errors import ImageWriteError


def frames_of(count, colours=3):
    rng = np.random.default_rng(0)
    return [rng.integers(0, colours, (6, 8, 1)).repeat(3, axis=2).astype(np.uint8) * 100 for _ in range(count)]


def test_gif_holds_every_frame_exactly_with_its_duration():
    frames = frames_of(5)
    gif = Image.open(io.BytesIO(gif_bytes(frames, duration=250)))
    decoded = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(gif)]
    assert len(decoded) == 5 and gif.info["loop"] == 0 and gif.info["duration"] == 250
    for got, want in zip(decoded, frames, strict=True):
        np.testing.assert_array_equal(got, want)


def test_more_than_256_colours_keeps_the_most_frequent_exact():
    frame = np.zeros((40, 40, 3), np.uint8)
    frame[:20] = (10, 200, 30)                               # a large fill
    frame[20:] = (250, 250, 250)
    noise = np.arange(300 * 3).reshape(300, 3) % 256         # 300 one-pixel colours
    frame.reshape(-1, 3)[-300:] = noise
    gif = Image.open(io.BytesIO(gif_bytes([frame, frame[::-1].copy()])))
    decoded = np.asarray(gif.convert("RGB"))
    assert tuple(decoded[0, 0]) == (10, 200, 30) and tuple(decoded[21, 0]) == (250, 250, 250)


@pytest.mark.parametrize("frames,duration,message", [
    ([], 100, "`frames` is empty"),
    ([np.zeros((2, 2), np.uint8)], 100, "`frames` must be (H, W, 3) uint8"),
    ([np.zeros((2, 2, 3), np.uint8), np.zeros((3, 2, 3), np.uint8)], 100, "of one shape"),
    ([np.zeros((2, 2, 3), np.uint8)], 5, "`duration` must be"),
])
def test_bad_frames_are_refused(frames, duration, message):
    with pytest.raises(ValueError) as error:
        gif_bytes(frames, duration=duration)
    assert message in str(error.value)


def test_write_gif_leaves_only_the_gif(tmp_path):
    write_gif(frames_of(2), tmp_path / "a.gif")
    assert os.listdir(tmp_path) == ["a.gif"]


def test_frames_folder_is_written_replaced_or_refused_whole(tmp_path):
    folder = tmp_path / "frames"
    write_frames(frames_of(3), folder)
    assert sorted(os.listdir(folder)) == [FRAME_NAME.format(k) for k in range(3)]
    np.testing.assert_array_equal(np.asarray(Image.open(folder / "frame_001.png")), frames_of(3)[1])
    write_frames(frames_of(2), folder)  # an earlier animation's frames are replaced whole
    assert sorted(os.listdir(folder)) == ["frame_000.png", "frame_001.png"]
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ImageWriteError, match="holds other files"):
        write_frames(frames_of(4), folder)
    assert sorted(os.listdir(folder)) == ["frame_000.png", "frame_001.png", "notes.txt"]
    assert sorted(os.listdir(tmp_path)) == ["frames"]  # no staging folder left


def test_frames_need_an_existing_parent(tmp_path):
    with pytest.raises(ImageWriteError, match="does not exist"):
        write_frames(frames_of(1), tmp_path / "missing" / "frames")
