"""convcli.images.encode: encode_image, checked by writing and reading back with independent readers
(OpenCV, Pillow, tifffile, NumPy), not only with convcli's own read_image.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from convcli import images
from convcli.errors import ImageWriteError
from convcli.images.formats import FOLDER_FORMATS
from helpers import RNG, cv2_read, rand, write


# ----------------------------------------------------------------------------------------------
# Round trips: write with convcli, read back with an independent reader and with read_image
# ----------------------------------------------------------------------------------------------

LOSSLESS_CASES = [
    ("png", (6, 7), "uint8"),
    ("png", (6, 7, 2), "uint8"),
    ("png", (6, 7, 3), "uint8"),
    ("png", (6, 7, 4), "uint8"),
    ("png", (6, 7), "uint16"),
    ("png", (6, 7, 2), "uint16"),
    ("png", (6, 7, 3), "uint16"),
    ("png", (6, 7, 4), "uint16"),
    ("tiff", (6, 7), "uint8"),
    ("tiff", (6, 7, 2), "uint8"),
    ("tiff", (6, 7, 3), "uint8"),
    ("tiff", (6, 7, 4), "uint8"),
    ("tiff", (6, 7), "uint16"),
    ("tiff", (6, 7, 3), "uint16"),
    ("tiff", (6, 7), "float32"),
    ("tiff", (6, 7, 3), "float32"),
    ("tiff", (6, 7, 5), "float32"),
    ("tiff", (6, 7), "float64"),
    ("bmp", (6, 7), "uint8"),
    ("bmp", (6, 7, 3), "uint8"),
    ("gif", (6, 7), "uint8"),
    ("webp", (6, 7, 3), "uint8"),
    ("webp", (6, 7, 4), "uint8"),
    ("npy", (6, 7), "float32"),
    ("npy", (6, 7, 3), "float32"),
    ("npy", (6, 7), "float64"),
    ("npy", (6, 7, 4), "float64"),
    ("npy", (6, 7, 3), "uint8"),
]


def make_array(shape, dtype):
    if dtype.startswith("float"):
        return (RNG.standard_normal(shape) * 1000).astype(dtype)
    arr = rand(shape, dtype)
    arr.flat[0] = 0
    arr.flat[-1] = np.iinfo(dtype).max
    return arr


def independent_read(path: str, fmt: str) -> np.ndarray:
    if fmt == "png":
        if _png_color(path) == 4:  # grey+alpha comes out of OpenCV as BGRA
            return cv2.imread(path, cv2.IMREAD_UNCHANGED)[..., [0, 3]]
        return cv2_read(path)
    if fmt == "tiff":  # more than 4 channels are a stack of pages, one per channel
        with tifffile.TiffFile(path) as tif:
            return np.stack([page.asarray() for page in tif.pages], axis=-1) if len(tif.pages) > 1 else tif.asarray()
    if fmt == "npy":
        return np.load(path, allow_pickle=False)
    with Image.open(path) as im:
        if im.mode == "P":
            im = im.convert("L")  # GIF grey: the palette is grey
        return np.asarray(im)


def _png_color(path: str) -> int:
    return Path(path).read_bytes()[25]


@pytest.mark.parametrize(("fmt", "shape", "dtype"), LOSSLESS_CASES)
def test_lossless_round_trip(tmp_path, fmt, shape, dtype):
    arr = make_array(shape, dtype)
    images.check_writable(fmt, arr.shape, dtype)
    path = str(tmp_path / f"out.{'tif' if fmt == 'tiff' else fmt}")
    images.write_atomic(path, images.encode_image(arr, format=fmt))
    assert images.format_from_path(path) == fmt
    other = independent_read(path, fmt)
    assert other.dtype == arr.dtype
    np.testing.assert_array_equal(other, arr)
    back, info = images.read_image(path)
    assert info.format == fmt
    assert info.shape == arr.shape and info.dtype == dtype
    assert back.dtype == arr.dtype
    np.testing.assert_array_equal(back, arr)
    assert info.has_alpha == (fmt != "npy" and len(shape) == 3 and shape[2] in (2, 4))
    assert images.probe(path) == info


def test_png_16_bit_rgb_is_kept_16_bit(tmp_path):
    arr = np.array([[[0, 1, 65535], [256, 257, 40000]]], np.uint16)
    path = write(tmp_path, "a.png", images.encode_image(arr, format="png"))
    raw = Path(path).read_bytes()
    assert raw[24] == 16 and raw[25] == 2  # IHDR: bit depth 16, colour type RGB
    np.testing.assert_array_equal(cv2_read(path), arr)
    np.testing.assert_array_equal(images.read_image(path)[0], arr)


def test_png_grey_alpha_is_colour_type_4(tmp_path):
    arr = np.array([[[10, 0], [20, 128], [30, 255]]], np.uint8)
    path = write(tmp_path, "a.png", images.encode_image(arr, format="png"))
    with Image.open(path) as im:
        assert im.mode == "LA"
        np.testing.assert_array_equal(np.asarray(im), arr)


def test_gif_rgb_is_palette_reduced(tmp_path):
    colours = rand((8, 3))
    arr = colours[RNG.integers(0, 8, (6, 7))]
    data = images.encode_image(arr, format="gif")
    back, info = images.read_image(data)
    assert back.shape == arr.shape and not info.has_alpha
    np.testing.assert_array_equal(back, arr)  # at most 256 colours: exact
    many = rand((32, 32, 3))
    back, _ = images.read_image(images.encode_image(many, format="gif"))
    assert back.shape == many.shape  # more colours than a palette holds: close, not exact


@pytest.mark.parametrize("shape", [(6, 7), (6, 7, 3)])
def test_jpeg_round_trip_is_close(tmp_path, shape):
    y, x = np.mgrid[0:16, 0:16]
    base = (y * 8 + x * 4).astype(np.uint8)
    arr = base if len(shape) == 2 else np.dstack([base, base[::-1], base.T])
    data = images.encode_image(arr, format="jpeg")
    path = write(tmp_path, "a.jpg", data)
    with Image.open(path) as im:
        other = np.asarray(im)
    assert other.shape == arr.shape
    assert np.abs(other.astype(int) - arr).mean() < 2
    back, info = images.read_image(path)
    assert info.format == "jpeg" and back.shape == arr.shape
    np.testing.assert_array_equal(back, other)


def test_webp_grey_is_stored_as_rgb():
    arr = rand((5, 6))
    back, info = images.read_image(images.encode_image(arr, format="webp"))
    assert info.shape == (5, 6, 3)
    for c in range(3):
        np.testing.assert_array_equal(back[..., c], arr)
    la = np.dstack([arr, rand((5, 6))])
    back, info = images.read_image(images.encode_image(la, format="webp"))
    assert info.shape == (5, 6, 4) and info.has_alpha
    np.testing.assert_array_equal(back[..., 3], la[..., 1])


def test_webp_keeps_colour_under_transparent_pixels():
    arr = rand((5, 6, 4))
    arr[..., 3] = 0
    with Image.open(io.BytesIO(images.encode_image(arr, format="webp"))) as im:
        np.testing.assert_array_equal(np.asarray(im), arr)


def test_single_channel_3d_is_written_as_grey():
    arr = rand((4, 5, 1))
    for fmt in ("png", "tiff", "bmp", "jpeg"):
        back, info = images.read_image(images.encode_image(arr, format=fmt))
        assert info.shape == (4, 5), fmt
    back, _ = images.read_image(images.encode_image(arr, format="png"))
    np.testing.assert_array_equal(back, arr[..., 0])


@pytest.mark.parametrize("fmt", [fmt for fmt in images.FORMATS if fmt not in FOLDER_FORMATS])  # files' bytes
def test_encode_is_deterministic(fmt):
    arr = rand((9, 11, 3))
    if fmt == "npy":
        arr = arr.astype(np.float32)
    if fmt in ("txt", "csv"):  # one 2-D matrix
        arr = arr[..., 0] / np.float32(7)
    assert images.encode_image(arr, format=fmt) == images.encode_image(arr.copy(), format=fmt)


def test_tiff_has_no_date_or_description():
    data = images.encode_image(rand((4, 5)), format="tiff")
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        names = {tag.name for tag in tif.pages[0].tags}
    assert "DateTime" not in names and "ImageDescription" not in names


def test_encode_checks_first():
    with pytest.raises(ImageWriteError, match="16-bit"):
        images.encode_image(np.zeros((2, 2), np.uint16), format="jpeg")
    with pytest.raises(ValueError, match="array"):
        images.encode_image([[1, 2]], format="png")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="format"):
        images.encode_image(np.zeros((2, 2), np.uint8), format="jpg")


def test_png_compression_levels_trade_size_for_speed_and_keep_pixels():
    image = np.tile(np.arange(256, dtype=np.uint8), (64, 1))
    sizes = {}
    for level in (0, 1, 9):
        data = images.encode_image(image, format="png", png_compression=level)
        np.testing.assert_array_equal(images.read_image(data)[0], image)
        sizes[level] = len(data)
    assert sizes[0] > sizes[1] >= sizes[9]
    grey_alpha = np.dstack([image, image])
    assert len(images.encode_image(grey_alpha, format="png", png_compression=0)) > len(
        images.encode_image(grey_alpha, format="png", png_compression=9))
    with pytest.raises(ValueError, match="png_compression"):
        images.encode_image(image, format="png", png_compression=10)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32", "float64"])
def test_more_than_four_channels_are_a_stack_of_pages(tmp_path, dtype):
    arr = make_array((6, 7, 16), dtype)
    path = str(tmp_path / "maps.tif")
    images.write_atomic(path, images.encode_image(arr, format="tiff"))
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == 16
        for channel, page in enumerate(tif.pages):
            assert page.shape == (6, 7) and page.photometric == tifffile.PHOTOMETRIC.MINISBLACK
            np.testing.assert_array_equal(page.asarray(), arr[..., channel])
        # ImageJ pages through the channels of a hyperstack; it cannot hold float64.
        assert tif.is_imagej == (dtype != "float64")
        if tif.is_imagej:
            assert tif.imagej_metadata["channels"] == 16
    back, info = images.read_image(path)
    assert back.dtype == arr.dtype and info.shape == (6, 7, 16) and info.notes == ()
    np.testing.assert_array_equal(back, arr)


def test_four_channels_or_fewer_stay_one_page():
    for channels in (2, 3, 4):
        data = images.encode_image(rand((4, 5, channels)), format="tiff")
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            assert len(tif.pages) == 1 and tif.pages[0].shape == (4, 5, channels)
