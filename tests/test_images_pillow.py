"""convcli.images.pillow: reading JPEG, BMP, GIF and WebP with Pillow (frames, palettes, CMYK, EXIF)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from convcli import images
from helpers import COLOURS, EXPECTED_RGB, INDICES, palette_image, pil_bytes, rand, write


# ----------------------------------------------------------------------------------------------
# Reading rules: palettes, alpha, bit depths, frames, conversions
# ----------------------------------------------------------------------------------------------


def test_gif_first_frame_and_note(tmp_path):
    frames = [rand((5, 6, 3)) for _ in range(3)]
    frames = [f // 64 * 64 for f in frames]  # few colours: the palette is exact
    ims = [Image.fromarray(f) for f in frames]
    path = write(tmp_path, "anim.gif", pil_bytes(ims[0], "GIF", save_all=True, append_images=ims[1:]))
    arr, info = images.read_image(path)
    assert info.frames == 3
    assert "GIF has 3 frames; the first was used" in info.notes
    with Image.open(path) as im:
        np.testing.assert_array_equal(arr, np.asarray(im.convert("RGB")))
    np.testing.assert_array_equal(arr, frames[0])
    assert images.probe(path) == info


def test_gif_with_transparency_is_rgba():
    arr, info = images.read_image(pil_bytes(palette_image(COLOURS, INDICES, (3, 2)), "GIF", transparency=1))
    assert info.shape == (2, 3, 4) and info.has_alpha
    np.testing.assert_array_equal(arr[..., :3], EXPECTED_RGB)
    np.testing.assert_array_equal(arr[..., 3], [[255, 0, 255], [255, 0, 255]])


def test_cmyk_jpeg_becomes_rgb():
    rgb = np.full((8, 8, 3), (200, 100, 50), np.uint8)
    arr, info = images.read_image(pil_bytes(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95))
    assert info.shape == (8, 8, 3) and any("CMYK" in note for note in info.notes)
    with Image.open(io.BytesIO(pil_bytes(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95))) as im:
        np.testing.assert_array_equal(arr, np.asarray(im.convert("RGB")))


def test_exif_orientation_is_not_applied():
    arr = rand((4, 6, 3))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    back, info = images.read_image(pil_bytes(Image.fromarray(arr), "JPEG", exif=exif, quality=95))
    assert back.shape == (4, 6, 3)  # pixels as stored, not rotated
    assert any("orientation 6" in note for note in info.notes)


def test_pillow_bomb_limit_is_replaced_by_max_pixels(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4)  # 30 pixels would be a "bomb" to Pillow
    data = images.encode_image(rand((5, 6, 3)), format="bmp")
    arr, info = images.read_image(data)  # warnings are errors: no DecompressionBombWarning either
    assert arr.shape == (5, 6, 3)
    assert Image.MAX_IMAGE_PIXELS == 4  # restored


def test_gif_with_a_damaged_later_frame_gives_its_first_frame(tmp_path):
    from PIL import Image

    frames = [Image.fromarray(np.full((32, 32), 60 * k, np.uint8)) for k in range(3)]
    whole = tmp_path / "whole.gif"
    frames[0].save(whole, save_all=True, append_images=frames[1:])
    data = whole.read_bytes()
    cut = tmp_path / "cut.gif"
    cut.write_bytes(data[: len(data) - 40])  # the last frame is truncated
    image, info = images.read_image(str(cut))
    assert image.shape == (32, 32) and int(image[0, 0]) == 0
