"""convcli.images.png_read: reading PNG (palettes, alpha, transparent keys, 16 bits, APNG, chunk bounds)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convcli import images
from convcli.images import png_read
from helpers import COLOURS, EXPECTED_RGB, INDICES, palette_image, pil_bytes, rand, write


# ----------------------------------------------------------------------------------------------
# Reading rules: palettes, alpha, bit depths, frames, conversions
# ----------------------------------------------------------------------------------------------


def test_palette_png_is_rgb(tmp_path):
    path = write(tmp_path, "p.png", pil_bytes(palette_image(COLOURS, INDICES, (3, 2)), "PNG"))
    with Image.open(path) as im:
        assert im.mode == "P"
    arr, info = images.read_image(path)
    assert info.shape == (2, 3, 3) and not info.has_alpha
    np.testing.assert_array_equal(arr, EXPECTED_RGB)
    assert any("palette" in note for note in info.notes)


def test_palette_png_with_transparency_is_rgba(tmp_path):
    data = pil_bytes(palette_image(COLOURS, INDICES, (3, 2)), "PNG", transparency=1)
    arr, info = images.read_image(data)
    assert info.shape == (2, 3, 4) and info.has_alpha
    np.testing.assert_array_equal(arr[..., :3], EXPECTED_RGB)
    np.testing.assert_array_equal(arr[..., 3], [[255, 0, 255], [255, 0, 255]])


@pytest.mark.parametrize("depth", [8, 16])
def test_grey_alpha_png_keeps_alpha(tmp_path, depth):
    grey = np.array([[0, 50, 100], [150, 200, 250]], np.uint16 if depth == 16 else np.uint8)
    alpha = np.array([[255, 0, 128], [1, 2, 3]], grey.dtype)
    if depth == 16:
        grey, alpha = grey * 257, alpha * 257
        data = _png_raw(grey, alpha)
    else:
        data = pil_bytes(Image.fromarray(np.dstack([grey, alpha]), "LA"), "PNG")
    assert data[25] == 4  # colour type 4: grey+alpha
    arr, info = images.read_image(data)
    assert info.shape == (2, 3, 2) and info.has_alpha and info.dtype == grey.dtype.name
    np.testing.assert_array_equal(arr[..., 0], grey)
    np.testing.assert_array_equal(arr[..., 1], alpha)


def _png_raw(grey: np.ndarray, alpha: np.ndarray) -> bytes:
    """A 16-bit grey+alpha PNG built by hand (independent of convcli's writer)."""
    h, w = grey.shape
    pix = np.dstack([grey, alpha]).astype(">u2").view(np.uint8).reshape(h, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in pix)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 4, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_grey_png_with_transparent_key_gets_alpha():
    grey = np.array([[0, 100, 200], [100, 7, 9]], np.uint8)
    arr, info = images.read_image(pil_bytes(Image.fromarray(grey), "PNG", transparency=100))
    assert info.shape == (2, 3, 2) and info.has_alpha
    np.testing.assert_array_equal(arr[..., 0], grey)
    np.testing.assert_array_equal(arr[..., 1], [[255, 0, 255], [0, 255, 255]])


def test_rgb_png_with_transparent_key_gets_alpha():
    rgb = np.array([[[0, 0, 255], [1, 2, 3]]], np.uint8)
    arr, info = images.read_image(pil_bytes(Image.fromarray(rgb), "PNG", transparency=(0, 0, 255)))
    assert info.shape == (1, 2, 4)
    np.testing.assert_array_equal(arr[..., :3], rgb)
    np.testing.assert_array_equal(arr[..., 3], [[0, 255]])


def test_16_bit_grey_png_from_pillow():
    arr16 = np.array([[0, 1000, 65535]], np.uint16)
    arr, info = images.read_image(pil_bytes(Image.fromarray(arr16), "PNG"))
    assert info.dtype == "uint16"
    np.testing.assert_array_equal(arr, arr16)


def test_animated_png_first_frame():
    ims = [Image.fromarray(rand((4, 5, 3))) for _ in range(2)]
    arr, info = images.read_image(pil_bytes(ims[0], "PNG", save_all=True, append_images=ims[1:]))
    assert info.frames == 2 and any("2 frames" in note for note in info.notes)
    np.testing.assert_array_equal(arr, np.asarray(ims[0]))
GRAY = np.arange(5 * 6, dtype=np.uint8).reshape(5, 6)


# --- 9. a PNG with very many text chunks -------------------------------------------------------------


def png_with_text_chunks(count, *, before_image=True):
    """GRAY as an 8-bit grey PNG built by hand (zlib, no filter), with ``count`` tEXt chunks."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + row.tobytes() for row in GRAY)
    texts = [chunk(b"tEXt", b"k\0v")] * count
    image = [chunk(b"IDAT", zlib.compress(raw))]
    body = texts + image if before_image else image + texts
    return b"".join([b"\x89PNG\r\n\x1a\n", chunk(b"IHDR", struct.pack(">IIBBBBB", 6, 5, 8, 0, 0, 0, 0)),
                     *body, chunk(b"IEND", b"")])


@pytest.mark.parametrize("before_image", [True, False])
def test_png_with_100000_text_chunks_is_read(run, before_image):
    Path("t.png").write_bytes(png_with_text_chunks(100_000, before_image=before_image))
    result = run("filter", "t.png", "-k", "1", "-o", "out.npy")
    assert result.exit_code == 0, result.stderr
    assert np.array_equal(np.load("out.npy"), GRAY)


@pytest.mark.parametrize("before_image", [True, False])
def test_png_with_more_chunks_than_the_bound_says_why_it_is_refused(run, monkeypatch, before_image):

    monkeypatch.setattr(png_read, "PNG_MAX_CHUNKS", 1_000)
    Path("t.png").write_bytes(png_with_text_chunks(1_000, before_image=before_image))
    result = run("filter", "t.png", "-k", "1", "-o", "out.npy")
    assert result.exit_code == 1
    assert "t.png: cannot read PNG: more than 1,000 chunks (text or other metadata)" in result.stderr
    assert not Path("out.npy").exists()
