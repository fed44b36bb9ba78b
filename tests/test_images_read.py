"""convcli.images.read: sources (paths, samples, bytes), probe and read_image, and the refusals every format shares.

Pixel values are checked with independent readers (OpenCV, Pillow, tifffile, NumPy).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from convcli import images
from convcli.errors import ImageReadError
from helpers import COLOURS, INDICES, npy_bytes, palette_image, pil_bytes, rand, read_error, write


# ----------------------------------------------------------------------------------------------
# Samples
# ----------------------------------------------------------------------------------------------


def test_sample_names_lists_the_usual_ones():
    names = images.sample_names()
    assert names == sorted(names)
    usual = ("astronaut", "camera", "coins", "chelsea", "coffee", "moon", "page", "text", "logo", "horse", "rocket")
    for name in usual:
        assert name in names


def test_every_sample_loads_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a sample tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    for name in images.sample_names():
        arr, info = images.read_image(f"sample:{name}")
        assert arr.dtype == np.uint8, name
        assert arr.shape == info.shape
        assert arr.ndim in (2, 3)
        assert info.format in ("png", "jpeg")
        assert images.probe(f"sample:{name}") == info
        assert images.source_stem(f"sample:{name}") == name


def test_sample_astronaut_and_camera():
    arr, info = images.read_image("sample:astronaut")
    assert arr.shape == (512, 512, 3) and arr.dtype == np.uint8
    assert info == images.ImageInfo(shape=(512, 512, 3), dtype="uint8", format="png", has_alpha=False)
    arr, info = images.read_image("sample:camera")
    assert arr.shape == (512, 512) and arr.dtype == np.uint8
    assert arr.max() > 200  # values kept in 0..255, not rescaled to 0..1
    assert images.probe("sample:rocket").format == "jpeg"


def test_sample_logo_has_alpha_and_horse_is_0_255():
    assert images.probe("sample:logo").has_alpha
    arr, info = images.read_image("sample:horse")
    assert set(np.unique(arr).tolist()) == {0, 255}
    assert info.notes


def test_unknown_sample():
    text = read_error("sample:astronot")
    assert "sample:astronot" in text
    assert "did you mean 'astronaut'?" in text and "camera" in text
    assert "did you mean" not in read_error("sample:zzzzzz")
    with pytest.raises(ImageReadError, match="unknown sample"):
        images.probe("sample:")


def test_sample_respects_pixel_limit():
    with pytest.raises(ImageReadError, match="over the limit of 10"):
        images.read_image("sample:camera", limits=images.Limits(max_pixels=10))


# ----------------------------------------------------------------------------------------------
# Reading rules: palettes, alpha, bit depths, frames, conversions
# ----------------------------------------------------------------------------------------------


def test_grey_palette_is_grey():
    greys = [(0, 0, 0), (100, 100, 100), (255, 255, 255)]
    for fmt in ("PNG", "GIF", "BMP"):
        data = pil_bytes(palette_image(greys, INDICES, (3, 2)), fmt)
        arr, info = images.read_image(data)
        assert info.shape == (2, 3), fmt
        np.testing.assert_array_equal(arr, [[0, 100, 255], [255, 100, 0]])


def test_one_bit_images_are_0_and_255():
    bits = np.array([[True, False, True], [False, False, True]])
    for fmt in ("PNG", "BMP", "TIFF"):
        arr, info = images.read_image(pil_bytes(Image.fromarray(bits), fmt))
        assert info.dtype == "uint8" and info.shape == (2, 3), fmt
        np.testing.assert_array_equal(arr, bits * 255)


def test_read_image_returns_writable_c_arrays():
    for fmt in ("png", "jpeg", "gif", "tiff", "npy"):
        arr = rand((4, 5, 3))
        back, _ = images.read_image(images.encode_image(arr if fmt != "npy" else arr.astype(np.float64), format=fmt))
        assert back.flags.writeable and back.flags.c_contiguous, fmt
        back[0, 0] = 1


# ----------------------------------------------------------------------------------------------
# .npy inputs
# ----------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# Refusals
# ----------------------------------------------------------------------------------------------


def test_unknown_format_by_magic(tmp_path):
    path = write(tmp_path, "fake.png", b"this is just text, named .png\n")
    assert read_error(path) == f"{path}: not a supported image (PNG, JPEG, TIFF, BMP, GIF, WebP or .npy)"
    with pytest.raises(ImageReadError, match="not a supported image"):
        images.probe(path)


def test_format_is_from_magic_not_extension(tmp_path):
    arr = rand((3, 4))
    path = write(tmp_path, "really_a_png.jpg", images.encode_image(arr, format="png"))
    back, info = images.read_image(path)
    assert info.format == "png"
    np.testing.assert_array_equal(back, arr)


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.png")
    assert read_error(path) == f"{path}: no such file"
    with pytest.raises(ImageReadError, match="no such file"):
        images.probe(path)


def test_directory(tmp_path):
    assert "is a folder" in read_error(str(tmp_path))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_refused_without_hanging(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert "FIFO" in read_error(str(fifo))


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null here")
def test_device_refused():
    assert "device" in read_error("/dev/null")


def test_zero_byte_file(tmp_path):
    path = write(tmp_path, "empty.png", b"")
    assert "empty" in read_error(path)
    assert "empty" in read_error(b"")


@pytest.mark.parametrize("fmt", ["png", "jpeg", "gif", "bmp", "webp", "tiff"])
def test_truncated_image(tmp_path, fmt, capfd):
    data = images.encode_image(rand((40, 50, 3)), format=fmt)
    path = write(tmp_path, f"cut.{fmt}", data[: len(data) // 2])
    text = read_error(path)
    assert text.startswith(f"{path}: cannot read ")
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # decoders print nothing


def test_truncated_png_message(tmp_path):
    data = images.encode_image(rand((40, 50, 3)), format="png")
    assert "truncated" in read_error(write(tmp_path, "cut.png", data[:-30]))
    assert "truncated" in read_error(data[:20])


def test_probe_reads_only_the_header(tmp_path, capfd):
    arr = rand((40, 50, 3))
    data = bytearray(images.encode_image(arr, format="png"))
    idat = data.index(b"IDAT")
    data[idat + 20 : idat + 60] = bytes(40)  # damage the pixel data only
    path = write(tmp_path, "damaged.png", bytes(data))
    info = images.probe(path)
    assert info.shape == (40, 50, 3) and info.dtype == "uint8"
    assert "damaged" in read_error(path)
    assert capfd.readouterr() == ("", "")


def test_probe_never_decodes_pixels(monkeypatch):
    from PIL import ImageFile

    # (A text matrix is parsed to find its shape: not a header format.)
    sources = {fmt: images.encode_image(rand((6, 7, 3)), format=fmt)
               for fmt in images.FORMATS if fmt not in ("npy", "txt", "csv", "zarr")}  # zarr: a folder
    sources["npy"] = npy_bytes(np.zeros((6, 7, 3), np.float32))
    sources["palette gif"] = pil_bytes(palette_image(COLOURS, INDICES, (3, 2)), "GIF", transparency=1)
    sources["palette bmp"] = pil_bytes(palette_image(COLOURS, INDICES, (3, 2)), "BMP")
    sources["palette tiff"] = pil_bytes(palette_image(COLOURS, INDICES, (3, 2)), "TIFF")

    def boom(*args, **kwargs):
        raise AssertionError("probe decoded pixels")

    monkeypatch.setattr(ImageFile.ImageFile, "load", boom)
    monkeypatch.setattr(cv2, "imdecode", boom)
    monkeypatch.setattr(tifffile.TiffPage, "asarray", boom)
    monkeypatch.setattr(np.lib.format, "read_array", boom)
    for name, data in sources.items():
        info = images.probe(data)
        assert info.shape[:2] in ((6, 7), (2, 3)), name


def test_probe_of_truncated_files_still_gives_the_shape():
    arr = rand((40, 50, 3))
    for fmt in ("jpeg", "tiff", "gif", "bmp"):
        data = images.encode_image(arr, format=fmt)
        assert images.probe(data[: len(data) * 3 // 4]).shape == (40, 50, 3), fmt
    data = npy_bytes(arr.astype(np.float32))
    assert images.probe(data[:200]).shape == (40, 50, 3)


def test_over_the_pixel_limit(tmp_path):
    path = write(tmp_path, "a.png", images.encode_image(rand((4, 5)), format="png"))
    text = read_error(path, limits=images.Limits(max_pixels=10))
    assert text == f"{path}: 5×4 = 20 pixels is over the limit of 10; raise it with `max_pixels`"
    with pytest.raises(ImageReadError, match="over the limit"):
        images.probe(path, limits=images.Limits(max_pixels=10))
    assert images.read_image(path, limits=images.Limits(max_pixels=20))[0].shape == (4, 5)
    assert images.read_image(path, limits=images.Limits(max_pixels=None))[0].shape == (4, 5)


@pytest.mark.parametrize("fmt", ["jpeg", "tiff", "gif", "bmp", "webp", "npy"])
def test_pixel_limit_every_format(fmt):
    arr = rand((4, 5, 3))
    data = images.encode_image(arr if fmt != "npy" else arr.astype(np.float32), format=fmt)
    assert "over the limit of 19" in read_error(data, limits=images.Limits(max_pixels=19))


def test_pixel_limit_is_checked_before_decoding(monkeypatch):
    data = images.encode_image(rand((4, 5)), format="png")

    def boom(*args, **kwargs):
        raise AssertionError("decoded")

    monkeypatch.setattr(cv2, "imdecode", boom)
    with pytest.raises(ImageReadError, match="over the limit"):
        images.read_image(data, limits=images.Limits(max_pixels=10))


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_pixels"):
        images.read_image("sample:camera", limits=images.Limits(max_pixels=0))
    with pytest.raises(ValueError, match="max_pixels"):
        images.probe("sample:camera", limits=images.Limits(max_pixels=True))
    with pytest.raises(ValueError, match="source"):
        images.read_image(42)  # type: ignore[arg-type]


def test_bytes_source_png_label():
    arr = rand((3, 4, 4))
    back, info = images.read_image(images.encode_image(arr, format="png"))
    np.testing.assert_array_equal(back, arr)
    assert info.has_alpha
    assert read_error(b"GIF89a garbage").startswith("<stdin>: cannot read GIF")


def test_source_stem():
    assert images.source_stem("a/b/photo.final.png") == "photo.final"
    assert images.source_stem(Path("x.tif")) == "x"
    assert images.source_stem("sample:astronaut") == "astronaut"
    assert images.source_stem(b"\x89PNG") == "stdin"
