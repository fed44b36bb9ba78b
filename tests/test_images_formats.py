"""convcli.images.formats: the format table, sniff_format, format_from_path, default_dtype, check_writable."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from convcli import images
from convcli.errors import ImageReadError, ImageWriteError
from convcli.images.formats import FOLDER_FORMATS
from helpers import rand


# ----------------------------------------------------------------------------------------------
# sniff_format, format_from_path
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        (b"\xff\xd8\xff\xe1", "jpeg"),
        (b"II*\x00\x08\x00\x00\x00", "tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "tiff"),
        (b"II+\x00\x08\x00\x00\x00", "tiff"),  # BigTIFF, little-endian
        (b"MM\x00+\x00\x08\x00\x00", "tiff"),  # BigTIFF, big-endian
        (b"BM" + bytes(12) + struct.pack("<I", 40), "bmp"),
        (b"BM" + bytes(12) + struct.pack("<I", 124), "bmp"),
        (b"GIF87a\x01\x00", "gif"),
        (b"GIF89a\x01\x00", "gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"),
        (b"\x93NUMPY\x01\x00v\x00", "npy"),
        (b"", None),
        (b"%PDF-1.7", None),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", None),
        (b"BM" + bytes(12) + struct.pack("<I", 99), None),  # "BM" with no real DIB header
        (b"BM" + bytes(12) + struct.pack("<I", 40 + 65536), None),
        (b"BM" + bytes(12) + b"\x28\x00", "bmp"),  # 16 bytes are enough
        (b"BM", None),
        (b"<svg xmlns=", None),
        (b"\x1f\x8b\x08", None),
    ],
)
def test_sniff_format(head, expected):
    assert images.sniff_format(head) == expected


def test_sniff_format_of_real_files():
    arr = rand((4, 5, 3))
    for fmt in images.FORMATS:
        if fmt in FOLDER_FORMATS:  # a folder, recognised by its files (tests/test_images_zarr.py)
            continue
        if fmt in ("txt", "csv"):  # one 2-D matrix; the sniff needs only its first number
            data = images.encode_image(arr[..., 0].astype(np.float32) + 0.5, format=fmt)
        else:
            data = images.encode_image(arr if fmt != "npy" else arr.astype(np.float32), format=fmt)
        assert images.sniff_format(data[:32]) == fmt
        assert images.sniff_format(data[:16]) == fmt
        assert images.sniff_format(data) == fmt
        assert images.sniff_format(bytearray(data[:32])) == fmt


def test_sniff_format_refuses_non_bytes():
    with pytest.raises(ValueError, match="head"):
        images.sniff_format("\x89PNG")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("a.png", "png"),
        ("a.PNG", "png"),
        ("x/y.jpg", "jpeg"),
        ("y.JPEG", "jpeg"),
        ("t.tif", "tiff"),
        ("t.Tiff", "tiff"),
        ("b.bmp", "bmp"),
        ("g.gif", "gif"),
        ("w.webp", "webp"),
        ("arr.npy", "npy"),
        (Path("dir.v2/out.png"), "png"),
    ],
)
def test_format_from_path(path, fmt):
    assert images.format_from_path(path) == fmt


def test_format_from_path_unknown_extension():
    with pytest.raises(ValueError) as caught:
        images.format_from_path("out.jp2")
    text = str(caught.value)
    assert "'.jp2'" in text
    for ext in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".npy"):
        assert ext in text


def test_format_from_path_no_extension():
    with pytest.raises(ValueError, match="no extension"):
        images.format_from_path("out/result")


# ----------------------------------------------------------------------------------------------
# default_dtype, map_values, check_writable
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "dtype_in", "expected"),
    [
        ("png", "uint8", "uint8"),
        ("png", "uint16", "uint16"),
        ("png", "float32", "uint8"),
        ("tiff", "uint8", "uint8"),
        ("tiff", "uint16", "uint16"),
        ("tiff", "float64", "float32"),
        ("tiff", "int32", "float32"),
        ("npy", "uint8", "float32"),
        ("npy", "float64", "float32"),
        ("jpeg", "uint16", "uint8"),
        ("bmp", "uint8", "uint8"),
        ("gif", "uint16", "uint8"),
        ("webp", "float32", "uint8"),
    ],
)
def test_default_dtype(fmt, dtype_in, expected):
    assert images.default_dtype(fmt, dtype_in) == expected


def test_default_dtype_bad_arguments():
    with pytest.raises(ValueError, match="format"):
        images.default_dtype("jpg", "uint8")
    with pytest.raises(ValueError, match="input_dtype"):
        images.default_dtype("png", "pixels")


@pytest.mark.parametrize(
    ("fmt", "shape", "dtype"),
    [
        ("png", (4, 4), "uint8"),
        ("png", (4, 4, 2), "uint16"),
        ("png", (4, 4, 4), "uint16"),
        ("jpeg", (4, 4, 3), "uint8"),
        ("jpeg", (4, 4, 1), "uint8"),
        ("bmp", (4, 4), "uint8"),
        ("gif", (4, 4, 3), "uint8"),
        ("webp", (4, 4), "uint8"),
        ("webp", (4, 4, 4), "uint8"),
        ("tiff", (4, 4, 7), "float64"),
        ("tiff", (4, 4, 2), "uint16"),
        ("npy", (1, 1, 9), "float32"),
        ("npy", (4, 4), "uint8"),
    ],
)
def test_check_writable_accepts(fmt, shape, dtype):
    images.check_writable(fmt, shape, dtype)


@pytest.mark.parametrize(
    ("fmt", "shape", "dtype", "words"),
    [
        ("jpeg", (4, 4), "uint16", "use .png or .tif for 16-bit"),
        ("bmp", (4, 4, 3), "uint16", "16-bit"),
        ("png", (4, 4), "float32", "use .tif or .npy"),
        ("jpeg", (4, 4), "float64", "use .tif or .npy"),
        ("jpeg", (4, 4, 4), "uint8", "alpha"),
        ("jpeg", (4, 4, 2), "uint8", "alpha"),
        ("gif", (4, 4, 4), "uint8", "alpha"),
        ("bmp", (4, 4, 4), "uint8", "alpha"),
        ("png", (4, 4, 5), "uint8", "this result has 5"),
        ("jpeg", (4, 4, 6), "uint8", "1 or 3 channels"),
        ("webp", (4, 4, 5), "uint8", "use .tif or .npy"),
        ("png", (2, 3, 4, 5), "uint8", "(H, W) or (H, W, C)"),
        ("tiff", (5,), "float32", "(H, W) or (H, W, C)"),
        ("npy", (0, 5), "float32", "no empty side"),
        ("webp", (20000, 10), "uint8", "16,383"),
        ("jpeg", (10, 70000), "uint8", "65,500"),
    ],
)
def test_check_writable_refuses(fmt, shape, dtype, words):
    with pytest.raises(ImageWriteError) as caught:
        images.check_writable(fmt, shape, dtype)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_check_writable_bad_arguments():
    with pytest.raises(ValueError, match="format"):
        images.check_writable("tif", (2, 2), "uint8")
    with pytest.raises(ValueError, match="dtype"):
        images.check_writable("png", (2, 2), "int16")
    with pytest.raises(ValueError, match="shape"):
        images.check_writable("png", None, "uint8")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# The format table and what is derived from it
# ----------------------------------------------------------------------------------------------


def test_extensions_and_aliases():
    assert images.EXTENSIONS == {"png": ".png", "jpeg": ".jpg", "tiff": ".tif", "bmp": ".bmp", "gif": ".gif",
                                 "webp": ".webp", "npy": ".npy", "zarr": ".zarr", "csv": ".csv", "txt": ".txt"}
    assert images.FORMAT_ALIASES == {"jpg": "jpeg", "tif": "tiff"}
    assert images.IMAGE_EXTENSIONS == (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".npy")
    for ext in (*images.IMAGE_EXTENSIONS, ".txt", ".csv"):  # each names its format; an output gets the first
        fmt = images.format_from_path("out" + ext.upper())
        assert images.format_from_path("out" + images.EXTENSIONS[fmt]) == fmt


def test_the_table_agrees_with_the_files_the_encoders_write():
    # Each row's magic bytes recognise what its encoder writes, and every row is one of FORMATS.
    from convcli.images.formats import FORMAT_TABLE

    assert tuple(FORMAT_TABLE) == images.FORMATS
    for fmt, spec in FORMAT_TABLE.items():
        if spec.markers:  # a folder (tests/test_images_zarr.py)
            continue
        data = images.encode_image(np.zeros((3, 4), np.uint8), format=fmt)
        assert any(data.startswith(magic) for magic in spec.magic) or (not spec.magic and spec.sniff), fmt
        assert images.sniff_format(data[: images.SNIFF_BYTES]) == fmt


def test_unsupported_input_message_lists_every_format(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"hello, world, this is text")
    with pytest.raises(ImageReadError, match=r"not a supported image \(PNG, JPEG, TIFF, BMP, GIF, WebP or \.npy\)"):
        images.read_image(path)
