"""Tests of convcli.images: reading, probing, value mapping and atomic writing of images.

Pixel values written by convcli are checked with independent readers (OpenCV, Pillow, tifffile,
NumPy), not only with convcli's own read_image.
"""

from __future__ import annotations

import io
import os
import socket
import stat
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from convcli import images as cio
from convcli.errors import ImageReadError, ImageWriteError
from helpers import opencv_decode

RNG = np.random.default_rng(12345)


def rand(shape, dtype="uint8"):
    info = np.iinfo(dtype)
    return RNG.integers(0, int(info.max) + 1, size=shape, dtype=dtype)


def pil_bytes(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def cv2_read(path: str) -> np.ndarray:
    """Independent PNG reader: OpenCV, BGR(A) turned into RGB(A)."""
    return opencv_decode(Path(path).read_bytes())


def read_error(source, **kwargs) -> str:
    with pytest.raises(ImageReadError) as caught:
        cio.read_image(source, **kwargs)
    text = str(caught.value)
    assert "\n" not in text
    assert "Traceback" not in text
    return text


def palette_image(colours, indices, size) -> Image.Image:
    im = Image.new("P", size)
    im.putpalette([v for rgb in colours for v in rgb])
    im.putdata(indices)
    return im


# ----------------------------------------------------------------------------------------------
# Module rules
# ----------------------------------------------------------------------------------------------


def test_import_is_light_and_core_only():
    src = str(Path(cio.__file__).resolve().parents[1])
    code = (
        "import sys, convcli; before = set(sys.modules); import convcli.images; "
        "new = set(sys.modules) - before; "
        "print(','.join(m for m in ('cv2','PIL','tifffile','skimage','scipy','imageio','click','rich') "
        "if m in new))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = src
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == ""


def test_public_names():
    assert cio.FORMATS == ("png", "jpeg", "tiff", "bmp", "gif", "webp", "npy")
    assert cio.SCALES == ("clip", "abs", "normalize", "offset")
    assert cio.DEFAULT_MAX_PIXELS == 178_956_970
    for name in cio.__all__:
        assert getattr(cio, name).__doc__ or name.isupper()


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
    assert cio.sniff_format(head) == expected


def test_sniff_format_of_real_files():
    arr = rand((4, 5, 3))
    for fmt in cio.FORMATS:
        data = cio.encode_image(arr if fmt != "npy" else arr.astype(np.float32), format=fmt)
        assert cio.sniff_format(data[:32]) == fmt
        assert cio.sniff_format(data[:16]) == fmt
        assert cio.sniff_format(data) == fmt
        assert cio.sniff_format(bytearray(data[:32])) == fmt


def test_sniff_format_refuses_non_bytes():
    with pytest.raises(ValueError, match="head"):
        cio.sniff_format("\x89PNG")  # type: ignore[arg-type]


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
    assert cio.format_from_path(path) == fmt


def test_format_from_path_unknown_extension():
    with pytest.raises(ValueError) as caught:
        cio.format_from_path("out.jp2")
    text = str(caught.value)
    assert "'.jp2'" in text
    for ext in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".npy"):
        assert ext in text


def test_format_from_path_no_extension():
    with pytest.raises(ValueError, match="no extension"):
        cio.format_from_path("out/result")


# ----------------------------------------------------------------------------------------------
# Samples
# ----------------------------------------------------------------------------------------------


def test_sample_names_lists_the_usual_ones():
    names = cio.sample_names()
    assert names == sorted(names)
    usual = ("astronaut", "camera", "coins", "chelsea", "coffee", "moon", "page", "text", "logo", "horse", "rocket")
    for name in usual:
        assert name in names


def test_every_sample_loads_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a sample tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    for name in cio.sample_names():
        arr, info = cio.read_image(f"sample:{name}")
        assert arr.dtype == np.uint8, name
        assert arr.shape == info.shape
        assert arr.ndim in (2, 3)
        assert info.format in ("png", "jpeg")
        assert cio.probe(f"sample:{name}") == info
        assert cio.source_stem(f"sample:{name}") == name


def test_sample_astronaut_and_camera():
    arr, info = cio.read_image("sample:astronaut")
    assert arr.shape == (512, 512, 3) and arr.dtype == np.uint8
    assert info == cio.ImageInfo(shape=(512, 512, 3), dtype="uint8", format="png", has_alpha=False)
    arr, info = cio.read_image("sample:camera")
    assert arr.shape == (512, 512) and arr.dtype == np.uint8
    assert arr.max() > 200  # values kept in 0..255, not rescaled to 0..1
    assert cio.probe("sample:rocket").format == "jpeg"


def test_sample_logo_has_alpha_and_horse_is_0_255():
    assert cio.probe("sample:logo").has_alpha
    arr, info = cio.read_image("sample:horse")
    assert set(np.unique(arr).tolist()) == {0, 255}
    assert info.notes


def test_unknown_sample():
    text = read_error("sample:astronot")
    assert "sample:astronot" in text
    assert "did you mean 'astronaut'?" in text and "camera" in text
    assert "did you mean" not in read_error("sample:zzzzzz")
    with pytest.raises(ImageReadError, match="unknown sample"):
        cio.probe("sample:")


def test_sample_respects_pixel_limit():
    with pytest.raises(ImageReadError, match="over the limit of 10"):
        cio.read_image("sample:camera", max_pixels=10)


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
    if fmt == "tiff":
        return tifffile.imread(path)
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
    cio.check_writable(fmt, arr.shape, dtype)
    path = str(tmp_path / f"out.{'tif' if fmt == 'tiff' else fmt}")
    cio.write_atomic(path, cio.encode_image(arr, format=fmt))
    assert cio.format_from_path(path) == fmt
    other = independent_read(path, fmt)
    assert other.dtype == arr.dtype
    np.testing.assert_array_equal(other, arr)
    back, info = cio.read_image(path)
    assert info.format == fmt
    assert info.shape == arr.shape and info.dtype == dtype
    assert back.dtype == arr.dtype
    np.testing.assert_array_equal(back, arr)
    assert info.has_alpha == (fmt != "npy" and len(shape) == 3 and shape[2] in (2, 4))
    assert cio.probe(path) == info


def test_png_16_bit_rgb_is_kept_16_bit(tmp_path):
    arr = np.array([[[0, 1, 65535], [256, 257, 40000]]], np.uint16)
    path = write(tmp_path, "a.png", cio.encode_image(arr, format="png"))
    raw = Path(path).read_bytes()
    assert raw[24] == 16 and raw[25] == 2  # IHDR: bit depth 16, colour type RGB
    np.testing.assert_array_equal(cv2_read(path), arr)
    np.testing.assert_array_equal(cio.read_image(path)[0], arr)


def test_png_grey_alpha_is_colour_type_4(tmp_path):
    arr = np.array([[[10, 0], [20, 128], [30, 255]]], np.uint8)
    path = write(tmp_path, "a.png", cio.encode_image(arr, format="png"))
    with Image.open(path) as im:
        assert im.mode == "LA"
        np.testing.assert_array_equal(np.asarray(im), arr)


def test_gif_rgb_is_palette_reduced(tmp_path):
    colours = rand((8, 3))
    arr = colours[RNG.integers(0, 8, (6, 7))]
    data = cio.encode_image(arr, format="gif")
    back, info = cio.read_image(data)
    assert back.shape == arr.shape and not info.has_alpha
    np.testing.assert_array_equal(back, arr)  # at most 256 colours: exact
    many = rand((32, 32, 3))
    back, _ = cio.read_image(cio.encode_image(many, format="gif"))
    assert back.shape == many.shape  # more colours than a palette holds: close, not exact


@pytest.mark.parametrize("shape", [(6, 7), (6, 7, 3)])
def test_jpeg_round_trip_is_close(tmp_path, shape):
    y, x = np.mgrid[0:16, 0:16]
    base = (y * 8 + x * 4).astype(np.uint8)
    arr = base if len(shape) == 2 else np.dstack([base, base[::-1], base.T])
    data = cio.encode_image(arr, format="jpeg")
    path = write(tmp_path, "a.jpg", data)
    with Image.open(path) as im:
        other = np.asarray(im)
    assert other.shape == arr.shape
    assert np.abs(other.astype(int) - arr).mean() < 2
    back, info = cio.read_image(path)
    assert info.format == "jpeg" and back.shape == arr.shape
    np.testing.assert_array_equal(back, other)


def test_webp_grey_is_stored_as_rgb():
    arr = rand((5, 6))
    back, info = cio.read_image(cio.encode_image(arr, format="webp"))
    assert info.shape == (5, 6, 3)
    for c in range(3):
        np.testing.assert_array_equal(back[..., c], arr)
    la = np.dstack([arr, rand((5, 6))])
    back, info = cio.read_image(cio.encode_image(la, format="webp"))
    assert info.shape == (5, 6, 4) and info.has_alpha
    np.testing.assert_array_equal(back[..., 3], la[..., 1])


def test_webp_keeps_colour_under_transparent_pixels():
    arr = rand((5, 6, 4))
    arr[..., 3] = 0
    with Image.open(io.BytesIO(cio.encode_image(arr, format="webp"))) as im:
        np.testing.assert_array_equal(np.asarray(im), arr)


def test_single_channel_3d_is_written_as_grey():
    arr = rand((4, 5, 1))
    for fmt in ("png", "tiff", "bmp", "jpeg"):
        back, info = cio.read_image(cio.encode_image(arr, format=fmt))
        assert info.shape == (4, 5), fmt
    back, _ = cio.read_image(cio.encode_image(arr, format="png"))
    np.testing.assert_array_equal(back, arr[..., 0])


@pytest.mark.parametrize("fmt", cio.FORMATS)
def test_encode_is_deterministic(fmt):
    arr = rand((9, 11, 3))
    if fmt == "npy":
        arr = arr.astype(np.float32)
    assert cio.encode_image(arr, format=fmt) == cio.encode_image(arr.copy(), format=fmt)


def test_tiff_has_no_date_or_description():
    data = cio.encode_image(rand((4, 5)), format="tiff")
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        names = {tag.name for tag in tif.pages[0].tags}
    assert "DateTime" not in names and "ImageDescription" not in names


def test_encode_checks_first():
    with pytest.raises(ImageWriteError, match="16-bit"):
        cio.encode_image(np.zeros((2, 2), np.uint16), format="jpeg")
    with pytest.raises(ValueError, match="array"):
        cio.encode_image([[1, 2]], format="png")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="format"):
        cio.encode_image(np.zeros((2, 2), np.uint8), format="jpg")


# ----------------------------------------------------------------------------------------------
# Reading rules: palettes, alpha, bit depths, frames, conversions
# ----------------------------------------------------------------------------------------------

COLOURS = [(10, 20, 30), (40, 50, 60), (70, 80, 90)]
INDICES = [0, 1, 2, 2, 1, 0]
EXPECTED_RGB = np.array([[COLOURS[i] for i in INDICES[:3]], [COLOURS[i] for i in INDICES[3:]]], np.uint8)


def test_palette_png_is_rgb(tmp_path):
    path = write(tmp_path, "p.png", pil_bytes(palette_image(COLOURS, INDICES, (3, 2)), "PNG"))
    with Image.open(path) as im:
        assert im.mode == "P"
    arr, info = cio.read_image(path)
    assert info.shape == (2, 3, 3) and not info.has_alpha
    np.testing.assert_array_equal(arr, EXPECTED_RGB)
    assert any("palette" in note for note in info.notes)


def test_palette_png_with_transparency_is_rgba(tmp_path):
    data = pil_bytes(palette_image(COLOURS, INDICES, (3, 2)), "PNG", transparency=1)
    arr, info = cio.read_image(data)
    assert info.shape == (2, 3, 4) and info.has_alpha
    np.testing.assert_array_equal(arr[..., :3], EXPECTED_RGB)
    np.testing.assert_array_equal(arr[..., 3], [[255, 0, 255], [255, 0, 255]])


def test_grey_palette_is_grey():
    greys = [(0, 0, 0), (100, 100, 100), (255, 255, 255)]
    for fmt in ("PNG", "GIF", "BMP"):
        data = pil_bytes(palette_image(greys, INDICES, (3, 2)), fmt)
        arr, info = cio.read_image(data)
        assert info.shape == (2, 3), fmt
        np.testing.assert_array_equal(arr, [[0, 100, 255], [255, 100, 0]])


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
    arr, info = cio.read_image(data)
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
    arr, info = cio.read_image(pil_bytes(Image.fromarray(grey), "PNG", transparency=100))
    assert info.shape == (2, 3, 2) and info.has_alpha
    np.testing.assert_array_equal(arr[..., 0], grey)
    np.testing.assert_array_equal(arr[..., 1], [[255, 0, 255], [0, 255, 255]])


def test_rgb_png_with_transparent_key_gets_alpha():
    rgb = np.array([[[0, 0, 255], [1, 2, 3]]], np.uint8)
    arr, info = cio.read_image(pil_bytes(Image.fromarray(rgb), "PNG", transparency=(0, 0, 255)))
    assert info.shape == (1, 2, 4)
    np.testing.assert_array_equal(arr[..., :3], rgb)
    np.testing.assert_array_equal(arr[..., 3], [[0, 255]])


def test_one_bit_images_are_0_and_255():
    bits = np.array([[True, False, True], [False, False, True]])
    for fmt in ("PNG", "BMP", "TIFF"):
        arr, info = cio.read_image(pil_bytes(Image.fromarray(bits), fmt))
        assert info.dtype == "uint8" and info.shape == (2, 3), fmt
        np.testing.assert_array_equal(arr, bits * 255)


def test_16_bit_grey_png_from_pillow():
    arr16 = np.array([[0, 1000, 65535]], np.uint16)
    arr, info = cio.read_image(pil_bytes(Image.fromarray(arr16), "PNG"))
    assert info.dtype == "uint16"
    np.testing.assert_array_equal(arr, arr16)


def test_gif_first_frame_and_note(tmp_path):
    frames = [rand((5, 6, 3)) for _ in range(3)]
    frames = [f // 64 * 64 for f in frames]  # few colours: the palette is exact
    ims = [Image.fromarray(f) for f in frames]
    path = write(tmp_path, "anim.gif", pil_bytes(ims[0], "GIF", save_all=True, append_images=ims[1:]))
    arr, info = cio.read_image(path)
    assert info.frames == 3
    assert "GIF has 3 frames; the first was used" in info.notes
    with Image.open(path) as im:
        np.testing.assert_array_equal(arr, np.asarray(im.convert("RGB")))
    np.testing.assert_array_equal(arr, frames[0])
    assert cio.probe(path) == info


def test_gif_with_transparency_is_rgba():
    arr, info = cio.read_image(pil_bytes(palette_image(COLOURS, INDICES, (3, 2)), "GIF", transparency=1))
    assert info.shape == (2, 3, 4) and info.has_alpha
    np.testing.assert_array_equal(arr[..., :3], EXPECTED_RGB)
    np.testing.assert_array_equal(arr[..., 3], [[255, 0, 255], [255, 0, 255]])


def test_animated_png_first_frame():
    ims = [Image.fromarray(rand((4, 5, 3))) for _ in range(2)]
    arr, info = cio.read_image(pil_bytes(ims[0], "PNG", save_all=True, append_images=ims[1:]))
    assert info.frames == 2 and any("2 frames" in note for note in info.notes)
    np.testing.assert_array_equal(arr, np.asarray(ims[0]))


def test_multipage_tiff_first_page(tmp_path):
    pages = rand((3, 4, 5))
    path = str(tmp_path / "stack.tif")
    with tifffile.TiffWriter(path) as tw:
        for page in pages:
            tw.write(page, photometric="minisblack")
    arr, info = cio.read_image(path)
    assert info.frames == 3 and info.shape == (4, 5)
    assert "TIFF has 3 pages; the first was used" in info.notes
    np.testing.assert_array_equal(arr, pages[0])


def test_tiff_planar_separate_becomes_channels_last():
    rgb = rand((4, 5, 3))
    buf = io.BytesIO()
    tifffile.imwrite(buf, np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate")
    arr, info = cio.read_image(buf.getvalue())
    assert info.shape == (4, 5, 3)
    np.testing.assert_array_equal(arr, rgb)


def test_tiff_lzw_without_imagecodecs_is_read_with_pillow():
    rgb = rand((4, 5, 3))
    arr, info = cio.read_image(pil_bytes(Image.fromarray(rgb), "TIFF", compression="tiff_lzw"))
    assert info.shape == (4, 5, 3)
    np.testing.assert_array_equal(arr, rgb)


def test_tiff_palette_and_miniswhite():
    arr, info = cio.read_image(pil_bytes(palette_image(COLOURS, INDICES, (3, 2)), "TIFF"))
    np.testing.assert_array_equal(arr, EXPECTED_RGB)
    grey = rand((3, 4))
    buf = io.BytesIO()
    tifffile.imwrite(buf, 255 - grey, photometric="miniswhite")
    arr, info = cio.read_image(buf.getvalue())
    np.testing.assert_array_equal(arr, grey)


def test_tiff_float_nan_refused():
    buf = io.BytesIO()
    tifffile.imwrite(buf, np.array([[1.0, np.nan]], np.float32))
    assert "NaN or inf" in read_error(buf.getvalue())


def test_cmyk_jpeg_becomes_rgb():
    rgb = np.full((8, 8, 3), (200, 100, 50), np.uint8)
    arr, info = cio.read_image(pil_bytes(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95))
    assert info.shape == (8, 8, 3) and any("CMYK" in note for note in info.notes)
    with Image.open(io.BytesIO(pil_bytes(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95))) as im:
        np.testing.assert_array_equal(arr, np.asarray(im.convert("RGB")))


def test_exif_orientation_is_not_applied():
    arr = rand((4, 6, 3))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    back, info = cio.read_image(pil_bytes(Image.fromarray(arr), "JPEG", exif=exif, quality=95))
    assert back.shape == (4, 6, 3)  # pixels as stored, not rotated
    assert any("orientation 6" in note for note in info.notes)


def test_pillow_bomb_limit_is_replaced_by_max_pixels(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4)  # 30 pixels would be a "bomb" to Pillow
    data = cio.encode_image(rand((5, 6, 3)), format="bmp")
    arr, info = cio.read_image(data)  # warnings are errors: no DecompressionBombWarning either
    assert arr.shape == (5, 6, 3)
    assert Image.MAX_IMAGE_PIXELS == 4  # restored


def test_read_image_returns_writable_c_arrays():
    for fmt in ("png", "jpeg", "gif", "tiff", "npy"):
        arr = rand((4, 5, 3))
        back, _ = cio.read_image(cio.encode_image(arr if fmt != "npy" else arr.astype(np.float64), format=fmt))
        assert back.flags.writeable and back.flags.c_contiguous, fmt
        back[0, 0] = 1


# ----------------------------------------------------------------------------------------------
# .npy inputs
# ----------------------------------------------------------------------------------------------


def npy_bytes(arr, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def test_npy_from_bytes_source():
    arr = RNG.standard_normal((3, 4, 2)).astype(np.float32)
    back, info = cio.read_image(npy_bytes(arr))
    assert info == cio.ImageInfo(shape=(3, 4, 2), dtype="float32", format="npy", has_alpha=False)
    np.testing.assert_array_equal(back, arr)


def test_npy_four_channels_never_alpha():
    assert not cio.probe(npy_bytes(np.zeros((2, 2, 4), np.float32))).has_alpha


def test_npy_bool_becomes_uint8_0_1():
    arr, info = cio.read_image(npy_bytes(np.array([[True, False]])))
    assert info.dtype == "uint8"
    assert arr.tolist() == [[1, 0]]


def test_npy_float16_and_big_endian():
    arr, info = cio.read_image(npy_bytes(np.array([[1.5, 2.0]], np.float16)))
    assert info.dtype == "float32" and arr.dtype == np.float32
    arr, info = cio.read_image(npy_bytes(np.array([[1.5, 2.0]], ">f8")))
    assert info.dtype == "float64" and arr.dtype.isnative and arr.tolist() == [[1.5, 2.0]]


def test_npy_fortran_order():
    arr = np.asfortranarray(RNG.standard_normal((3, 5)))
    back, _ = cio.read_image(npy_bytes(arr))
    np.testing.assert_array_equal(back, arr)


def test_npy_object_dtype_refused():
    data = npy_bytes(np.array([[1, "a"]], dtype=object), allow_pickle=True)
    text = read_error(data)
    assert "pickle" in text
    with pytest.raises(ImageReadError, match="pickle"):
        cio.probe(data)


def test_npy_four_d_refused():
    assert "(H, W) or (H, W, C)" in read_error(npy_bytes(np.zeros((1, 2, 3, 4), np.float32)))
    assert "(H, W) or (H, W, C)" in read_error(npy_bytes(np.zeros(5, np.float32)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_npy_non_finite_refused(bad):
    assert "holds NaN or inf" in read_error(npy_bytes(np.array([[0.0, bad]])))


def test_npy_complex_structured_empty_refused():
    assert "complex" in read_error(npy_bytes(np.zeros((2, 2), np.complex64)))
    assert "structured" in read_error(npy_bytes(np.zeros((2, 2), [("a", "f4"), ("b", "i4")])))
    assert "empty" in read_error(npy_bytes(np.zeros((0, 3), np.float32)))
    assert "numeric" in read_error(npy_bytes(np.array([["a", "b"]])))


def test_npy_truncated_refused():
    data = npy_bytes(np.zeros((20, 20), np.float64))
    assert "cannot read .npy" in read_error(data[: len(data) // 2])


# ----------------------------------------------------------------------------------------------
# Refusals
# ----------------------------------------------------------------------------------------------


def test_unknown_format_by_magic(tmp_path):
    path = write(tmp_path, "fake.png", b"this is just text, named .png\n")
    assert read_error(path) == f"{path}: not a supported image (PNG, JPEG, TIFF, BMP, GIF, WebP or .npy)"
    with pytest.raises(ImageReadError, match="not a supported image"):
        cio.probe(path)


def test_format_is_from_magic_not_extension(tmp_path):
    arr = rand((3, 4))
    path = write(tmp_path, "really_a_png.jpg", cio.encode_image(arr, format="png"))
    back, info = cio.read_image(path)
    assert info.format == "png"
    np.testing.assert_array_equal(back, arr)


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.png")
    assert read_error(path) == f"{path}: no such file"
    with pytest.raises(ImageReadError, match="no such file"):
        cio.probe(path)


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
    data = cio.encode_image(rand((40, 50, 3)), format=fmt)
    path = write(tmp_path, f"cut.{fmt}", data[: len(data) // 2])
    text = read_error(path)
    assert text.startswith(f"{path}: cannot read ")
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # decoders print nothing


def test_truncated_png_message(tmp_path):
    data = cio.encode_image(rand((40, 50, 3)), format="png")
    assert "truncated" in read_error(write(tmp_path, "cut.png", data[:-30]))
    assert "truncated" in read_error(data[:20])


def test_probe_reads_only_the_header(tmp_path, capfd):
    arr = rand((40, 50, 3))
    data = bytearray(cio.encode_image(arr, format="png"))
    idat = data.index(b"IDAT")
    data[idat + 20 : idat + 60] = bytes(40)  # damage the pixel data only
    path = write(tmp_path, "damaged.png", bytes(data))
    info = cio.probe(path)
    assert info.shape == (40, 50, 3) and info.dtype == "uint8"
    assert "damaged" in read_error(path)
    assert capfd.readouterr() == ("", "")


def test_probe_never_decodes_pixels(monkeypatch):
    from PIL import ImageFile

    sources = {fmt: cio.encode_image(rand((6, 7, 3)), format=fmt) for fmt in cio.FORMATS if fmt != "npy"}
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
        info = cio.probe(data)
        assert info.shape[:2] in ((6, 7), (2, 3)), name


def test_probe_of_truncated_files_still_gives_the_shape():
    arr = rand((40, 50, 3))
    for fmt in ("jpeg", "tiff", "gif", "bmp"):
        data = cio.encode_image(arr, format=fmt)
        assert cio.probe(data[: len(data) * 3 // 4]).shape == (40, 50, 3), fmt
    data = npy_bytes(arr.astype(np.float32))
    assert cio.probe(data[:200]).shape == (40, 50, 3)


def test_over_the_pixel_limit(tmp_path):
    path = write(tmp_path, "a.png", cio.encode_image(rand((4, 5)), format="png"))
    text = read_error(path, max_pixels=10)
    assert text == f"{path}: 5×4 = 20 pixels is over the limit of 10; raise it with --max-pixels"
    with pytest.raises(ImageReadError, match="over the limit"):
        cio.probe(path, max_pixels=10)
    assert cio.read_image(path, max_pixels=20)[0].shape == (4, 5)
    assert cio.read_image(path, max_pixels=None)[0].shape == (4, 5)


@pytest.mark.parametrize("fmt", ["jpeg", "tiff", "gif", "bmp", "webp", "npy"])
def test_pixel_limit_every_format(fmt):
    arr = rand((4, 5, 3))
    data = cio.encode_image(arr if fmt != "npy" else arr.astype(np.float32), format=fmt)
    assert "over the limit of 19" in read_error(data, max_pixels=19)


def test_pixel_limit_is_checked_before_decoding(monkeypatch):
    data = cio.encode_image(rand((4, 5)), format="png")

    def boom(*args, **kwargs):
        raise AssertionError("decoded")

    monkeypatch.setattr(cv2, "imdecode", boom)
    with pytest.raises(ImageReadError, match="over the limit"):
        cio.read_image(data, max_pixels=10)


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_pixels"):
        cio.read_image("sample:camera", max_pixels=0)
    with pytest.raises(ValueError, match="max_pixels"):
        cio.probe("sample:camera", max_pixels=True)
    with pytest.raises(ValueError, match="source"):
        cio.read_image(42)  # type: ignore[arg-type]


def test_bytes_source_png_label():
    arr = rand((3, 4, 4))
    back, info = cio.read_image(cio.encode_image(arr, format="png"))
    np.testing.assert_array_equal(back, arr)
    assert info.has_alpha
    assert read_error(b"GIF89a garbage").startswith("<stdin>: cannot read GIF")


def test_source_stem():
    assert cio.source_stem("a/b/photo.final.png") == "photo.final"
    assert cio.source_stem(Path("x.tif")) == "x"
    assert cio.source_stem("sample:astronaut") == "astronaut"
    assert cio.source_stem(b"\x89PNG") == "stdin"


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
    assert cio.default_dtype(fmt, dtype_in) == expected


def test_default_dtype_bad_arguments():
    with pytest.raises(ValueError, match="format"):
        cio.default_dtype("jpg", "uint8")
    with pytest.raises(ValueError, match="input_dtype"):
        cio.default_dtype("png", "pixels")


def mv(values, **kwargs):
    out, info = cio.map_values(np.array(values, dtype=np.float64), **kwargs)
    return out.tolist(), info


def test_map_clip_rounds_half_to_even():
    out, info = mv([[0.5, 1.5, 2.5, 3.5, -0.5, 254.5, 255.5]], dtype="uint8")
    assert out == [[0, 2, 2, 4, 0, 254, 255]]
    assert info == {"scale": "clip", "dtype": "uint8", "clipped": 1, "clipped_below": 0, "clipped_above": 1}


def test_map_clip_negative_and_large():
    out, info = mv([[-3.0, -0.6, 100.4, 300.0]], dtype="uint8", scale="clip")
    assert out == [[0, 0, 100, 255]]
    assert (info["clipped"], info["clipped_below"], info["clipped_above"]) == (3, 2, 1)


def test_map_abs():
    out, info = mv([[-3.0, -0.5, 2.5, -300.0]], dtype="uint8", scale="abs")
    assert out == [[3, 0, 2, 255]]
    assert info == {"scale": "abs", "dtype": "uint8", "clipped": 1, "clipped_below": 0, "clipped_above": 1}


def test_map_normalize():
    out, info = mv([[-1.0, 0.0, 3.0]], dtype="uint8", scale="normalize")
    assert out == [[0, 64, 255]]  # (v + 1) / 4 * 255 = 0, 63.75, 255
    assert info == {"scale": "normalize", "dtype": "uint8", "clipped": 0, "clipped_below": 0, "clipped_above": 0}
    out, _ = mv([[5.0, 5.0]], dtype="uint8", scale="normalize")
    assert out == [[0, 0]]
    out, _ = mv([[0.0, 1.0, 2.0]], dtype="uint16", scale="normalize")
    assert out == [[0, 32768, 65535]]  # 32767.5 rounds to even


def test_map_normalize_over_all_channels_together():
    out, _ = mv([[[0.0, 10.0], [5.0, 20.0]]], dtype="uint8", scale="normalize")
    assert out == [[[0, 128], [64, 255]]]  # 127.5 → 128, 63.75 → 64


def test_map_offset():
    out, info = mv([[-128.5, -1.0, 0.0, 127.0, 200.0, -300.0]], dtype="uint8", scale="offset")
    assert out == [[0, 127, 128, 255, 255, 0]]  # -0.5 rounds to -0 (not clipped)
    assert (info["clipped"], info["clipped_below"], info["clipped_above"]) == (2, 1, 1)
    out, _ = mv([[-1.0, 0.0, 1.0]], dtype="uint16", scale="offset")
    assert out == [[32767, 32768, 32769]]


def test_map_uint16_clip():
    out, info = mv([[-1.0, 65535.4, 65536.0, 1000.5]], dtype="uint16")
    assert out == [[0, 65535, 65535, 1000]]
    assert info["clipped"] == 2


def test_map_alpha_is_only_rounded_and_clipped():
    values = np.array([[[-10.0, 100.4], [30.0, 300.0], [10.0, -5.0]]])  # (1, 3, 2): grey + alpha
    for scale, grey in [
        ("clip", [0, 30, 10]),
        ("abs", [10, 30, 10]),
        ("normalize", [0, 255, 128]),  # (v + 10) / 40 * 255: 0, 255, 127.5 → 128
        ("offset", [118, 158, 138]),
    ]:
        out, info = cio.map_values(values, dtype="uint8", scale=scale, alpha=True)
        assert out[..., 0].tolist() == [grey], scale
        assert out[..., 1].tolist() == [[100, 255, 0]], scale


def test_map_float_is_raw():
    values = np.array([[-3.25, 1e6, 0.5]])
    for dtype in ("float32", "float64"):
        for scale in cio.SCALES:
            out, info = cio.map_values(values, dtype=dtype, scale=scale)
            assert out.dtype == dtype
            np.testing.assert_array_equal(out, values.astype(dtype))
            assert info == {"scale": "raw", "dtype": dtype, "clipped": 0, "clipped_below": 0, "clipped_above": 0}
    out, _ = cio.map_values(np.array([[np.nan]]), dtype="float32")
    assert np.isnan(out[0, 0])


def test_map_values_bad_arguments():
    good = np.zeros((2, 2))
    with pytest.raises(ValueError, match="dtype"):
        cio.map_values(good, dtype="int8")
    with pytest.raises(ValueError, match="scale"):
        cio.map_values(good, dtype="uint8", scale="stretch")
    with pytest.raises(ValueError, match="alpha"):
        cio.map_values(good, dtype="uint8", alpha=True)
    with pytest.raises(ValueError, match="values"):
        cio.map_values([[1.0]], dtype="uint8")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NaN or inf"):
        cio.map_values(np.array([[np.nan]]), dtype="uint8")


def slow_map(values, dtype, scale):
    """map_values as first written: everything in float64, then numpy.rint, count, clip."""
    v = values.astype(np.float64)
    top = float(np.iinfo(dtype).max)
    if scale == "abs":
        v = np.abs(v)
    elif scale == "offset":
        v = v + (top + 1) / 2
    elif scale == "normalize":
        lo, hi = float(v.min()), float(v.max())
        v = (v - lo) * (top / (hi - lo)) if hi > lo else np.zeros_like(v)
    r = np.rint(v)
    return np.clip(r, 0, top).astype(dtype), (int(np.count_nonzero(r < 0)), int(np.count_nonzero(r > top)))


def assert_maps_as_slow(values, dtypes=("uint8", "uint16"), scales=cio.SCALES):
    for dtype in dtypes:
        for scale in scales:
            out, info = cio.map_values(values, dtype=dtype, scale=scale)
            expected, (below, above) = slow_map(values, dtype, scale)
            assert out.dtype == dtype and out.shape == values.shape, (dtype, scale)
            np.testing.assert_array_equal(out, expected, err_msg=f"{values.dtype} {dtype} {scale}")
            assert info == {"scale": scale, "dtype": dtype, "clipped": below + above, "clipped_below": below,
                            "clipped_above": above}, (values.dtype, dtype, scale)


def near(points, dtype, steps=3):
    """Each point and its neighbours up to ``steps`` floats away in ``dtype``."""
    points = np.asarray(points, dtype)
    out = [points]
    for direction in (np.inf, -np.inf):
        x = points
        for _ in range(steps):
            x = np.nextafter(x, np.asarray(direction, dtype))
            out.append(x)
    return np.concatenate(out)


@pytest.mark.parametrize("float_dtype", [np.float32, np.float64])
def test_map_fast_path_equals_float64_arithmetic_at_halves_and_limits(float_dtype):
    halves = [k + 0.5 for k in range(-3, 3)] + [254.5, 255.5, 256.5, 65534.5, 65535.5, 65536.5]
    halves += [-128.5, -127.5, 127.5, 128.5, -32768.5, -32767.5, 32767.5, 32768.5]
    points = near(halves + [0.0, -0.0, -0.6, 1.4999999, 1e-30, -1e-30, 2.0**-21, 255.0, 65535.0], float_dtype)
    assert_maps_as_slow(points.reshape(1, -1))


@pytest.mark.parametrize("float_dtype", [np.float32, np.float64])
def test_map_fast_path_with_huge_values(float_dtype):
    # OpenCV rounds through int32: values beyond it must still clip to the right end
    big = [1e10, -1e10, 3e9, -3e9, 2.0**31, -(2.0**31), 2.0**30, 2147483520.0, 1e30, -1e30]
    big.append(float(np.finfo(float_dtype).max))
    values = np.array([big + [0.0, 100.0, 300.0, -5.0]], float_dtype)
    assert_maps_as_slow(values)
    out, info = cio.map_values(values, dtype="uint8")
    assert out[0, :4].tolist() == [255, 0, 255, 0] and info["clipped"] == len(big) + 2


@pytest.mark.parametrize("float_dtype", [np.float32, np.float64])
def test_map_fast_path_on_random_results(float_dtype):
    rng = np.random.default_rng(7)
    for spread in (0.7, 40.0, 300.0, 40000.0, 1e12):
        values = (rng.standard_normal((23, 17, 3)) * spread).astype(float_dtype)
        values.reshape(-1)[::5] = np.round(values.reshape(-1)[::5]) + 0.5  # many exact halves
        assert_maps_as_slow(values)
        assert_maps_as_slow(values[:, ::2, 1])  # not contiguous
        assert_maps_as_slow(values[..., :1])  # (H, W, 1)
        assert_maps_as_slow(values.transpose(1, 0, 2))  # Fortran-like strides
    assert_maps_as_slow(rng.normal(100, 80, (9, 8, 6)).astype(float_dtype))  # more channels than OpenCV's 4
    assert_maps_as_slow(np.array([[1e300, -1e300, 0.5]], float_dtype) if float_dtype == np.float64 else
                        np.array([[3e38, -3e38, 0.5]], float_dtype))  # normalize over a huge range


def test_map_offset_rounds_the_float64_sum_for_both_float_types():
    # 1.4999999 (float32) + 128 is 129.4999999 in float64 (→ 129) but 129.5 in float32 (→ 130)
    x32 = np.array([[1.4999999, -1.4999999, 0.49999997, 2.4999998]], np.float32)
    for reps in (1, 40):  # NumPy does small arrays, OpenCV larger ones
        out, _ = cio.map_values(np.tile(x32, (1, reps)), dtype="uint8", scale="offset")
        assert out.tolist() == [[129, 127, 128, 130] * reps]
        out, _ = cio.map_values(np.tile(x32, (1, reps)), dtype="uint16", scale="offset")
        assert out.tolist() == [[32769, 32767, 32768, 32770] * reps]
        # a float64 just below 1.5, plus 128, rounds to 129.5 in float64 and so to 130: kept as it was
        x64 = np.full((1, reps * 4), np.nextafter(1.5, 0.0))
        assert cio.map_values(x64, dtype="uint8", scale="offset")[0].tolist() == [[130] * reps * 4]
        assert cio.map_values(x64, dtype="uint8", scale="clip")[0].tolist() == [[1] * reps * 4]


def test_map_offset_of_float32_around_every_half_integer():
    # rint(v + h) == rint(v) + h for float32 v: checked near every tie that decides a uint8 or uint16 result
    for top in (255, 65535):
        half = (top + 1) // 2
        ties = np.arange(-half - 2, top - half + 2, dtype=np.float64) + 0.5
        values = near(ties, np.float32, steps=4).reshape(1, -1)
        dtype = "uint8" if top == 255 else "uint16"
        assert_maps_as_slow(values, dtypes=(dtype,), scales=("offset",))


def test_map_clipped_count_needs_only_comparisons():
    # rint(v) < 0 ⇔ v < -0.5 and rint(v) > top ⇔ v >= top + 0.5 (top + 1 is even)
    for dtype in (np.float32, np.float64):
        for top in (255, 65535):
            v = near([-0.5, -1.5, top + 0.5, top - 0.5, top + 1.5], dtype, steps=5)
            r = np.rint(v.astype(np.float64))
            np.testing.assert_array_equal((r < 0) | (r > top), (v < -0.5) | (v >= top + 0.5))


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_opencv_rounding_equals_numpy_rint_and_clip(dtype):
    top = int(np.iinfo(dtype).max)
    points = [0.5, 1.5, 2.5, 254.5, 255.5, 256.5, -0.5, -0.6, -1.5, 65534.5, 65535.5, 65536.5, 1e9, -1e9]
    for float_dtype in (np.float32, np.float64):
        values = near(points, float_dtype).reshape(2, -1)
        out = cio._round_saturate(values, dtype)
        np.testing.assert_array_equal(out, np.clip(np.rint(values), 0, top).astype(dtype))


class _RoundsHalfUp:
    """An OpenCV stand-in whose ``add`` rounds halves up (as a future version might)."""

    CV_8U, CV_16U = 0, 2

    @staticmethod
    def add(values, scalar, dtype):
        kind = "uint8" if dtype == 0 else "uint16"
        return np.clip(np.floor(values.astype(np.float32) + np.float32(scalar) + 0.5), 0, np.iinfo(kind).max).astype(kind)


def test_map_values_keep_numpys_rule_when_opencv_rounds_otherwise(monkeypatch):
    # The documented rule (numpy.rint of the float64 value, clipped) holds whatever OpenCV does:
    # an OpenCV that rounds differently is noticed by the probe and not used.
    monkeypatch.setattr(cio, "_cv2", lambda: (_RoundsHalfUp, None))
    cio._opencv_rounds_like_numpy.cache_clear()
    try:
        assert cio._opencv_rounds_like_numpy() is False
        values = np.concatenate([near(np.arange(-130, 130) + 0.5, np.float32), near([254.5, 255.5], np.float32)])
        values = values.reshape(1, -1)
        for scale in ("clip", "abs", "offset", "normalize"):
            out, _ = cio.map_values(values, dtype="uint8", scale=scale)
            expected, _ = slow_map(values, "uint8", scale)
            np.testing.assert_array_equal(out, expected, err_msg=scale)
    finally:
        cio._opencv_rounds_like_numpy.cache_clear()


def test_installed_opencv_rounds_like_numpy():
    # Not a requirement (the probe above keeps the rule either way) but drift made visible: if a new
    # OpenCV stops rounding half to even, this names it instead of writing slower by surprise.
    import cv2

    assert cio._opencv_rounds_like_numpy(), f"OpenCV {cv2.__version__} rounds unlike numpy.rint"


def test_map_integer_bool_and_float16_inputs():
    rng = np.random.default_rng(3)
    for dtype in ("uint8", "uint16", "int8", "int16", "int32", "int64", "uint32"):
        info = np.iinfo(dtype)
        values = rng.integers(max(info.min, -(2**40)), min(info.max, 2**40), size=(6, 7), dtype=dtype, endpoint=True)
        assert_maps_as_slow(values)
    assert_maps_as_slow(rng.random((5, 4)) < 0.5)
    assert_maps_as_slow((rng.standard_normal((5, 4, 3)) * 300).astype(np.float16))


def test_map_fast_path_nonfinite_and_empty():
    for dtype in (np.float32, np.float64):
        for bad in (np.nan, np.inf, -np.inf):
            values = np.zeros((3, 3), dtype)
            values[2, 1] = bad
            for scale in cio.SCALES:
                with pytest.raises(ValueError, match="NaN or inf, which uint8 cannot hold"):
                    cio.map_values(values, dtype="uint8", scale=scale)
    out, info = cio.map_values(np.zeros((0, 4), np.float32), dtype="uint8")
    assert out.shape == (0, 4) and info["clipped"] == 0


def test_map_returns_a_new_array():
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    for dtype in cio.OUTPUT_DTYPES:
        for scale in cio.SCALES:
            out, _ = cio.map_values(values, dtype=dtype, scale=scale)
            assert not np.shares_memory(out, values)


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
    cio.check_writable(fmt, shape, dtype)


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
        cio.check_writable(fmt, shape, dtype)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_check_writable_bad_arguments():
    with pytest.raises(ValueError, match="format"):
        cio.check_writable("tif", (2, 2), "uint8")
    with pytest.raises(ValueError, match="dtype"):
        cio.check_writable("png", (2, 2), "int16")
    with pytest.raises(ValueError, match="shape"):
        cio.check_writable("png", None, "uint8")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# write_atomic, same_file
# ----------------------------------------------------------------------------------------------


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_write_atomic_creates_and_replaces(tmp_path):
    target = tmp_path / "out.png"
    cio.write_atomic(str(target), b"first")
    assert target.read_bytes() == b"first"
    cio.write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert leftovers(tmp_path) == []


def test_write_atomic_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cio.write_atomic("here.bin", b"x")
    assert (tmp_path / "here.bin").read_bytes() == b"x"


def test_write_atomic_replace_failure_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(ImageWriteError) as caught:
        cio.write_atomic(str(target), b"new")
    assert str(caught.value) == f"{target}: cannot write: No space left on device"
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_write_atomic_interrupt_removes_temp(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        cio.write_atomic(str(target), b"new")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []
    assert cio.remove_temp_files() == 0


def test_remove_temp_files_for_a_signal_handler(tmp_path, monkeypatch):
    seen = []

    def handler_during_write(fd):
        seen.append(cio.remove_temp_files())

    monkeypatch.setattr(os, "fsync", handler_during_write)
    with pytest.raises(ImageWriteError):
        cio.write_atomic(str(tmp_path / "a.png"), b"data")  # the temp file vanished under it
    assert seen[0] == 1
    assert leftovers(tmp_path) == [] and not (tmp_path / "a.png").exists()


def test_write_atomic_temp_file_refused(tmp_path, monkeypatch):
    """As in a read-only folder (simulated, so that it also holds when the tests run as root)."""
    import tempfile

    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(ImageWriteError) as caught:
        cio.write_atomic(str(target), b"new")
    assert str(caught.value) == f"{target}: cannot write: Permission denied"
    assert target.read_bytes() == b"old"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions, not root")
def test_write_atomic_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "out.png").write_bytes(b"old")
    folder.chmod(0o555)
    try:
        with pytest.raises(ImageWriteError, match="Permission denied"):
            cio.write_atomic(str(folder / "out.png"), b"new")
        assert (folder / "out.png").read_bytes() == b"old"
        assert leftovers(folder) == []
    finally:
        folder.chmod(0o755)


def test_write_atomic_encode_failure_leaves_old_output(tmp_path):
    target = tmp_path / "out.jpg"
    target.write_bytes(b"old")
    with pytest.raises(ImageWriteError):
        cio.write_atomic(str(target), cio.encode_image(np.zeros((2, 2), np.uint16), format="jpeg"))
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_write_atomic_no_clobber(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with pytest.raises(ImageWriteError) as caught:
        cio.write_atomic(str(target), b"new", no_clobber=True)
    assert str(caught.value) == f"{target}: exists; --no-clobber refuses to replace it"
    assert target.read_bytes() == b"old"
    fresh = tmp_path / "fresh.png"
    cio.write_atomic(str(fresh), b"new", no_clobber=True)
    assert fresh.read_bytes() == b"new"
    assert leftovers(tmp_path) == []


def test_write_atomic_no_clobber_race(tmp_path, monkeypatch):
    """A file appearing between the check and the rename is still not replaced."""
    target = tmp_path / "out.png"
    real_fsync = os.fsync

    def appear(fd):
        real_fsync(fd)
        if not target.exists():
            target.write_bytes(b"someone else")

    monkeypatch.setattr(os, "fsync", appear)
    with pytest.raises(ImageWriteError, match="no-clobber"):
        cio.write_atomic(str(target), b"mine", no_clobber=True)
    assert target.read_bytes() == b"someone else"
    assert leftovers(tmp_path) == []


def test_write_atomic_missing_folder(tmp_path):
    target = tmp_path / "nope" / "out.png"
    with pytest.raises(ImageWriteError) as caught:
        cio.write_atomic(str(target), b"x")
    assert "folder" in str(caught.value) and "does not exist" in str(caught.value)


def test_write_atomic_onto_a_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    with pytest.raises(ImageWriteError, match="is a folder"):
        cio.write_atomic(str(tmp_path / "sub"), b"x")


def test_write_atomic_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="data"):
        cio.write_atomic(str(tmp_path / "a"), "text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="path"):
        cio.write_atomic(None, b"x")  # type: ignore[arg-type]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077, 0o002])
def test_write_atomic_permissions_follow_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        target = tmp_path / "out.png"
        cio.write_atomic(str(target), b"x")
        assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    finally:
        os.umask(old)


def test_same_file(tmp_path):
    a = tmp_path / "a.png"
    a.write_bytes(b"x")
    b = tmp_path / "b.png"
    b.write_bytes(b"x")
    assert cio.same_file(str(a), str(a))
    assert cio.same_file(str(a), str(tmp_path / "." / "a.png"))
    assert not cio.same_file(str(a), str(b))
    assert not cio.same_file(str(a), str(tmp_path / "missing.png"))
    assert not cio.same_file(str(tmp_path / "missing.png"), str(tmp_path / "missing.png"))
    assert not cio.same_file("-", str(a))
    assert not cio.same_file("sample:camera", "sample:camera")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_same_file_through_links(tmp_path):
    a = tmp_path / "a.png"
    a.write_bytes(b"x")
    sym = tmp_path / "sym.png"
    sym.symlink_to(a)
    hard = tmp_path / "hard.png"
    os.link(a, hard)
    sub = tmp_path / "sub"
    sub.mkdir()
    dirlink = tmp_path / "dirlink"
    dirlink.symlink_to(sub)
    (sub / "c.png").write_bytes(b"y")
    assert cio.same_file(str(a), str(sym))
    assert cio.same_file(str(hard), str(a))
    assert cio.same_file(str(sym), str(hard))
    assert cio.same_file(str(dirlink / "c.png"), str(sub / "c.png"))


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null here")
def test_write_atomic_writes_through_a_device_never_replacing_it():
    import stat

    cio.write_atomic("/dev/null", b"discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_write_atomic_writes_through_a_fifo(tmp_path):
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    cio.write_atomic(str(fifo), b"through")
    reader.join(10)
    assert received == [b"through"] and sorted(os.listdir(tmp_path)) == ["pipe"]


def test_gif_with_a_damaged_later_frame_gives_its_first_frame(tmp_path):
    from PIL import Image

    frames = [Image.fromarray(np.full((32, 32), 60 * k, np.uint8)) for k in range(3)]
    whole = tmp_path / "whole.gif"
    frames[0].save(whole, save_all=True, append_images=frames[1:])
    data = whole.read_bytes()
    cut = tmp_path / "cut.gif"
    cut.write_bytes(data[: len(data) - 40])  # the last frame is truncated
    image, info = cio.read_image(str(cut))
    assert image.shape == (32, 32) and int(image[0, 0]) == 0


def test_png_compression_levels_trade_size_for_speed_and_keep_pixels():
    image = np.tile(np.arange(256, dtype=np.uint8), (64, 1))
    sizes = {}
    for level in (0, 1, 9):
        data = cio.encode_image(image, format="png", png_compression=level)
        np.testing.assert_array_equal(cio.read_image(data)[0], image)
        sizes[level] = len(data)
    assert sizes[0] > sizes[1] >= sizes[9]
    grey_alpha = np.dstack([image, image])
    assert len(cio.encode_image(grey_alpha, format="png", png_compression=0)) > len(
        cio.encode_image(grey_alpha, format="png", png_compression=9))
    with pytest.raises(ValueError, match="png_compression"):
        cio.encode_image(image, format="png", png_compression=10)


def test_clipped_count_is_the_same_in_small_blocks(monkeypatch):
    """The clipped count is made block by block (small masks); block edges change nothing."""
    rng = np.random.default_rng(12)
    values = (rng.standard_normal((37, 29, 3)) * 200).astype(np.float32)
    want = {scale: cio.map_values(values, dtype="uint8", scale=scale)[1]["clipped"] for scale in ("clip", "abs", "offset")}
    monkeypatch.setattr(cio, "_COUNT_BLOCK", 7)
    for scale, count in want.items():
        assert cio.map_values(values, dtype="uint8", scale=scale)[1]["clipped"] == count
    r = np.rint(values.astype(np.float64))
    assert want["clip"] == int(np.count_nonzero((r < 0) | (r > 255)))
    assert want["offset"] == int(np.count_nonzero((r + 128 < 0) | (r + 128 > 255)))


def test_offset_of_the_issue_value_follows_the_rule():
    # −62.500004 in float32 is −62.50000381…; plus 128 in float64 is 65.49999619…, so rint gives 65
    # (OpenCV 5.1's float32 scalar addition made it 65.5 and then 66). 64 values take the OpenCV path.
    values = np.full((8, 8), -62.500004, np.float32)
    assert float(values[0, 0]) + 128 < 65.5
    out, info = cio.map_values(values, dtype="uint8", scale="offset")
    assert (out == 65).all() and info["clipped"] == 0


def test_normalize_a_span_beyond_float64():
    # -1e308..1e308: max - min overflows float64; the stretch must still map min → 0, max → top
    # and the middle to the middle, with no NaN and no warning (warnings are errors here).
    values = np.array([[-1e308, 0.0, 1e308, 5e307]])
    out, info = cio.map_values(values, dtype="uint8", scale="normalize")
    assert out.tolist() == [[0, 128, 255, 191]] and info["clipped"] == 0
