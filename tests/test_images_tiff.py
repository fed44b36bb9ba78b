"""convcli.images.tiff: reading TIFF (pages, planar layouts, LZW without imagecodecs, palettes, MinIsWhite)."""

from __future__ import annotations

import io

import numpy as np
import tifffile
from PIL import Image

from convcli import images
from helpers import COLOURS, EXPECTED_RGB, INDICES, palette_image, pil_bytes, rand, read_error


# ----------------------------------------------------------------------------------------------
# Reading rules: palettes, alpha, bit depths, frames, conversions
# ----------------------------------------------------------------------------------------------


def test_multipage_tiff_first_page(tmp_path):
    pages = rand((3, 4, 5))
    path = str(tmp_path / "stack.tif")
    with tifffile.TiffWriter(path) as tw:
        for page in pages:
            tw.write(page, photometric="minisblack")
    arr, info = images.read_image(path)
    assert info.frames == 3 and info.shape == (4, 5)
    assert "TIFF has 3 pages; the first was used" in info.notes
    np.testing.assert_array_equal(arr, pages[0])


def test_tiff_planar_separate_becomes_channels_last():
    rgb = rand((4, 5, 3))
    buf = io.BytesIO()
    tifffile.imwrite(buf, np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate")
    arr, info = images.read_image(buf.getvalue())
    assert info.shape == (4, 5, 3)
    np.testing.assert_array_equal(arr, rgb)


def test_tiff_lzw_without_imagecodecs_is_read_with_pillow():
    rgb = rand((4, 5, 3))
    arr, info = images.read_image(pil_bytes(Image.fromarray(rgb), "TIFF", compression="tiff_lzw"))
    assert info.shape == (4, 5, 3)
    np.testing.assert_array_equal(arr, rgb)


def test_tiff_palette_and_miniswhite():
    arr, info = images.read_image(pil_bytes(palette_image(COLOURS, INDICES, (3, 2)), "TIFF"))
    np.testing.assert_array_equal(arr, EXPECTED_RGB)
    grey = rand((3, 4))
    buf = io.BytesIO()
    tifffile.imwrite(buf, 255 - grey, photometric="miniswhite")
    arr, info = images.read_image(buf.getvalue())
    np.testing.assert_array_equal(arr, grey)


def test_tiff_float_nan_refused():
    buf = io.BytesIO()
    tifffile.imwrite(buf, np.array([[1.0, np.nan]], np.float32))
    assert "NaN or inf" in read_error(buf.getvalue())
