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


def _stack_bytes(planes, **kwargs):
    buf = io.BytesIO()
    tifffile.imwrite(buf, planes, photometric="minisblack", **kwargs)
    return buf.getvalue()


def test_a_stack_of_channels_is_read_whole():
    planes = rand((6, 4, 5))  # C, H, W
    for kwargs in ({"imagej": True, "metadata": {"axes": "CYX"}}, {"metadata": {"axes": "CYX"}}):
        arr, info = images.read_image(_stack_bytes(planes, **kwargs))
        assert info.shape == (4, 5, 6) and info.frames == 6 and info.notes == () and not info.has_alpha
        np.testing.assert_array_equal(arr, np.moveaxis(planes, 0, -1))
    info = images.probe(_stack_bytes(planes, imagej=True, metadata={"axes": "CYX"}))  # the header alone
    assert info.shape == (4, 5, 6)


def test_other_multipage_tiffs_give_their_first_page():
    planes = rand((6, 4, 5))
    cases = {
        "slices, not channels": _stack_bytes(planes, imagej=True, metadata={"axes": "ZYX"}),
        "no description": _stack_bytes(planes, metadata=None),
    }
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tw:  # pages of different shapes
        tw.write(planes[0], photometric="minisblack", metadata={"axes": "YX"})
        tw.write(planes[:, :2, :2], photometric="minisblack", metadata={"axes": "CYX"})
    cases["different shapes"] = buf.getvalue()
    for what, data in cases.items():
        arr, info = images.read_image(data)
        assert info.shape == (4, 5) and any("first was used" in note for note in info.notes), what
        np.testing.assert_array_equal(arr, planes[0])
