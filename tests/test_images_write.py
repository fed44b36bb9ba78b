"""convcli.images.write: write_image writes what the command line writes.

Files are read back with Pillow, OpenCV, tifffile and NumPy, and compared with values worked out by
hand from the documented rules (rounding half to even, clipping, the scales, alpha, angles, masks).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

import convcli
from convcli import images
from convcli.errors import ImageWriteError, NonFiniteError


def pillow_read(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def test_float_values_to_png_are_rounded_and_clipped_into_uint8(tmp_path):
    path = tmp_path / "out.png"
    report = images.write_image(path, np.array([[-3.0, 0.5, 1.5, 300.0]]))
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = pillow_read(path)
    assert out.dtype == np.uint8 and out.tolist() == [[0, 0, 2, 255]]  # 0.5 -> 0 and 1.5 -> 2: half to even
    assert report == {"scale": "clip", "dtype": "uint8", "clipped": 2, "clipped_below": 1, "clipped_above": 1}


def test_a_16_bit_input_gives_a_16_bit_png_and_tiff(tmp_path):
    values = np.array([[0.0, 1000.4, 65535.6, 70000.0]])
    images.write_image(tmp_path / "out.png", values, input_dtype="uint16")
    images.write_image(tmp_path / "out.tif", values, input_dtype="uint16")
    png = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png.tolist() == [[0, 1000, 65535, 65535]]
    tif = tifffile.imread(tmp_path / "out.tif")
    assert tif.dtype == np.uint16 and tif.tolist() == [[0, 1000, 65535, 65535]]


def test_default_dtypes_of_tiff_and_npy(tmp_path):
    values = np.array([[-1.25, 0.5], [2.0, 1e6]])
    images.write_image(tmp_path / "float.tif", values)  # a float result: TIFF keeps it raw, as float32
    tif = tifffile.imread(tmp_path / "float.tif")
    assert tif.dtype == np.float32 and tif.tolist() == [[-1.25, 0.5], [2.0, 1e6]]
    images.write_image(tmp_path / "float.npy", values)
    npy = np.load(tmp_path / "float.npy")
    assert npy.dtype == np.float32 and npy.tolist() == [[-1.25, 0.5], [2.0, 1e6]]
    kept = np.array([[0, 7], [200, 255]], np.uint8)  # a result that kept 8-bit values (max pooling)
    images.write_image(tmp_path / "kept.npy", kept)
    assert np.load(tmp_path / "kept.npy").dtype == np.uint8


def test_dtype_and_scales(tmp_path):
    images.write_image(tmp_path / "offset.png", np.array([[-1.0, 0.0, 1.0]]), scale="offset")
    assert pillow_read(tmp_path / "offset.png").tolist() == [[127, 128, 129]]  # + 128
    images.write_image(tmp_path / "normalize.png", np.array([[10.0, 15.0, 20.0]]), scale="normalize")
    assert pillow_read(tmp_path / "normalize.png").tolist() == [[0, 128, 255]]  # 127.5 -> 128
    images.write_image(tmp_path / "abs.png", np.array([[-7.0, 7.0]]), scale="abs")
    assert pillow_read(tmp_path / "abs.png").tolist() == [[7, 7]]
    images.write_image(tmp_path / "wide.tif", np.array([[-7.0, 0.25]]), dtype="float64")
    wide = tifffile.imread(tmp_path / "wide.tif")
    assert wide.dtype == np.float64 and wide.tolist() == [[-7.0, 0.25]]


def test_alpha_is_only_clipped_and_rescaled_to_the_output_range(tmp_path):
    values = np.zeros((1, 2, 4))
    values[0, 0] = [-5.0, 100.0, 300.0, 255.0]
    values[0, 1] = [1.0, 2.0, 3.0, 0.0]
    images.write_image(tmp_path / "rgba.png", values, has_alpha=True, scale="abs", input_dtype="uint8")
    out = pillow_read(tmp_path / "rgba.png")
    assert out.shape == (1, 2, 4) and out.tolist() == [[[5, 100, 255, 255], [1, 2, 3, 0]]]
    # 8-bit alpha written as 16-bit stays opaque: 255 -> 65535
    images.write_image(tmp_path / "rgba16.png", values, has_alpha=True, dtype="uint16", input_dtype="uint8")
    bgra = cv2.imread(str(tmp_path / "rgba16.png"), cv2.IMREAD_UNCHANGED)
    assert bgra.dtype == np.uint16 and bgra[0, 0].tolist() == [300, 100, 0, 65535]


def test_angles_and_masks(tmp_path):
    angles = np.array([[-math.pi, -math.pi / 2, math.pi / 2, math.pi]])
    images.write_image(tmp_path / "angle.png", angles, kind="angle")
    assert pillow_read(tmp_path / "angle.png").tolist() == [[0, 64, 191, 255]]  # (θ + π)/2π · 255: 63.75, 191.25
    images.write_image(tmp_path / "mask.png", np.array([[True, False]]), kind="mask")
    assert pillow_read(tmp_path / "mask.png").tolist() == [[255, 0]]


def test_format_option_wins_over_the_extension(tmp_path):
    images.write_image(tmp_path / "out.bin", np.array([[1.0, 2.0]]), format="npy")
    assert np.load(tmp_path / "out.bin").tolist() == [[1.0, 2.0]]
    with pytest.raises(ValueError, match="unknown extension '.bin'"):
        images.write_image(tmp_path / "other.bin", np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="format must be one of"):
        images.write_image(tmp_path / "out.png", np.array([[1.0]]), format="jpg")


def test_what_a_format_cannot_hold_is_refused_naming_the_output(tmp_path):
    path = tmp_path / "out.jpg"
    with pytest.raises(ImageWriteError, match="JPEG cannot hold float32") as caught:
        images.write_image(path, np.zeros((2, 2)), dtype="float32")
    assert caught.value.path == str(path)
    assert not path.exists()


def test_no_clobber_keeps_the_existing_file(tmp_path):
    path = tmp_path / "out.png"
    path.write_bytes(b"keep")
    with pytest.raises(ImageWriteError, match="--no-clobber refuses"):
        images.write_image(path, np.zeros((2, 2)), no_clobber=True)
    assert path.read_bytes() == b"keep"
    images.write_image(path, np.zeros((2, 2)))
    assert pillow_read(path).tolist() == [[0, 0], [0, 0]]
    assert sorted(os.listdir(tmp_path)) == ["out.png"]  # no temporary file left


def test_nan_and_overflow(tmp_path):
    with pytest.raises(ValueError, match="NaN or inf"):
        images.write_image(tmp_path / "nan.png", np.array([[np.nan, 1.0]]))
    with pytest.raises(NonFiniteError, match="does not fit float32"):
        images.write_image(tmp_path / "big.tif", np.array([[1e308, 1.0]]))
    assert not (tmp_path / "big.tif").exists()
    images.write_image(tmp_path / "big.tif", np.array([[1e308, 1.0]]), allow_nonfinite=True)
    assert tifffile.imread(tmp_path / "big.tif").tolist() == [[np.inf, 1.0]]


def test_bad_values():
    with pytest.raises(ValueError, match="values must be a numpy array"):
        images.write_image("out.png", [[1.0]])  # type: ignore[arg-type]


def test_the_same_bytes_as_the_command_line(run):
    assert run("filter", "sample:camera", "-k", "box3", "-o", "cli.png").exit_code == 0
    assert run("filter", "sample:astronaut", "-k", "sobel-x", "--scale", "abs", "-o", "cli.tif").exit_code == 0
    camera, info = convcli.read_image("sample:camera")
    convcli.write_image("api.png", convcli.filter2d(camera, "box3"), input_dtype=info.dtype)
    astronaut, info = convcli.read_image("sample:astronaut")
    convcli.write_image("api.tif", convcli.filter2d(astronaut, "sobel-x"), input_dtype=info.dtype, scale="abs")
    assert Path("api.png").read_bytes() == Path("cli.png").read_bytes()
    assert Path("api.tif").read_bytes() == Path("cli.tif").read_bytes()


def test_read_and_write_are_convclis_own_names():
    assert convcli.read_image is images.read_image and convcli.write_image is images.write_image
    assert {"read_image", "write_image"} <= set(convcli.__all__)
