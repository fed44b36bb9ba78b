"""convcli.images.png_read: reading PNG (palettes, alpha, transparent keys, 16 bits, APNG, chunk bounds)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convcli import images
from convcli.errors import ImageReadError
from convcli.images import png_read
from convcli.images.info import ImageInfo
from helpers import COLOURS, EXPECTED_RGB, INDICES, opencv_decode, palette_image, pil_bytes, rand, write


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


# --- 10. Pillow or OpenCV: the same array for every kind Pillow decodes ---------------------------------

#: Adam7's passes: first row, first column, row step, column step (PNG specification, 8.2).
ADAM7 = ((0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1))
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _filtered(samples: np.ndarray, depth: int, channels: int, filter_type: int) -> bytes:
    """Scanlines of (rows, samples) packed at ``depth`` bits, each filtered with ``filter_type``."""
    if depth == 16:
        rows = samples.astype(">u2").view(np.uint8).reshape(samples.shape[0], -1).astype(np.int64)
    elif depth == 8:
        rows = samples.astype(np.int64)
    else:  # sub-byte: the leftmost sample in the high bits
        per = 8 // depth
        padded = np.pad(samples, ((0, 0), (0, -samples.shape[1] % per))).reshape(samples.shape[0], -1, per)
        rows = (padded << (8 - depth * (np.arange(per) + 1))).sum(axis=2)
    bpp = max(1, depth * channels // 8)
    out, above = b"", np.zeros(rows.shape[1], np.int64)
    for row in rows:
        left = np.concatenate([np.zeros(bpp, np.int64), row[:-bpp]])
        upper_left = np.concatenate([np.zeros(bpp, np.int64), above[:-bpp]])
        guess = left + above - upper_left
        paeth = np.where((abs(guess - left) <= abs(guess - above)) & (abs(guess - left) <= abs(guess - upper_left)),
                         left, np.where(abs(guess - above) <= abs(guess - upper_left), above, upper_left))
        predictor = [0, left, above, (left + above) // 2, paeth][filter_type]
        out += bytes([filter_type]) + ((row - predictor) % 256).astype(np.uint8).tobytes()
        above = row
    return out


def hand_png(samples, *, color, depth, interlace=False, filter_type=0, palette=None, trns=None, extra=(),
             critical=()):
    """A PNG built by hand from stored sample values (palette indices for colour type 3), any kind."""
    samples = np.asarray(samples)
    height, width = samples.shape[:2]
    channels = CHANNELS[color]
    passes = ADAM7 if interlace else ((0, 0, 1, 1),)
    raw = b""
    for row0, col0, row_step, col_step in passes:
        part = samples[row0::row_step, col0::col_step]
        if part.size:
            raw += _filtered(part.reshape(part.shape[0], -1), depth, channels, filter_type)
    data = zlib.compress(raw)
    body = [png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, int(interlace)))]
    body += [png_chunk(kind, value) for kind, value in extra]
    if palette is not None:
        body.append(png_chunk(b"PLTE", np.asarray(palette, np.uint8).tobytes()))
    if trns is not None:
        body.append(png_chunk(b"tRNS", trns))
    body += [png_chunk(kind, value) for kind, value in critical]
    body += [png_chunk(b"IDAT", data[: len(data) // 2]), png_chunk(b"IDAT", data[len(data) // 2 :])]
    return b"\x89PNG\r\n\x1a\n" + b"".join(body) + png_chunk(b"IEND", b"")


def png_case(color, depth, *, keyed, interlace, filter_type, grey_palette=False, seed=0):
    """(PNG bytes, the array convcli's read rules make of it, computed here from the samples)."""
    rng = np.random.default_rng(seed)
    height, width = (int(n) for n in rng.integers(1, 19, 2))
    top = (1 << depth) - 1
    scale = 255 // top if depth < 8 else 1  # sub-byte greys are stretched to 0..255
    palette = trns = None
    if color == 3:
        count = int(rng.integers(1, top + 2))
        palette = rng.integers(0, 256, (count, 3))
        if grey_palette:
            palette[:, 1:] = palette[:, :1]
        samples = rng.integers(0, count, (height, width))
        colours = palette[:, :1] if grey_palette else palette
        if keyed:
            alphas = rng.integers(0, 256, int(rng.integers(1, count + 1)))
            trns = bytes(alphas.astype(np.uint8))
            colours = np.concatenate([colours, np.pad(alphas, (0, count - len(alphas)), constant_values=255)[:, None]], 1)
        expected = colours[samples].astype(np.uint8)
        if expected.shape[-1] == 1:
            expected = expected[..., 0]
    else:
        channels = CHANNELS[color]
        samples = rng.integers(0, top + 1, (height, width, channels))
        dtype = np.uint16 if depth == 16 else np.uint8
        expected = (samples * scale).astype(dtype)
        if keyed:
            key = samples[int(rng.integers(0, height)), int(rng.integers(0, width))]
            samples[rng.random((height, width)) < 0.3] = key
            expected = (samples * scale).astype(dtype)
            trns = struct.pack(f">{channels}H", *(int(k) for k in key))
            alpha = np.where((samples == key).all(axis=-1), 0, np.iinfo(dtype).max).astype(dtype)
            expected = np.concatenate([expected, alpha[..., None]], axis=-1)
        if expected.shape[-1] == 1:
            expected = expected[..., 0]
        if channels == 1:
            samples = samples[..., 0]
    extra = [(b"gAMA", struct.pack(">I", 45455)), (b"tEXt", b"k\0v"), (b"pHYs", struct.pack(">IIB", 2835, 2835, 1))]
    data = hand_png(samples, color=color, depth=depth, interlace=interlace, filter_type=filter_type,
                    palette=palette, trns=trns, extra=extra)
    return data, expected


#: Every colour type and bit depth PNG allows, and whether Pillow decodes it (it reduces 16-bit
#: colour and grey+alpha to 8 bits, so those stay with OpenCV).
PNG_KINDS = [(0, 1, True), (0, 2, True), (0, 4, True), (0, 8, True), (0, 16, True), (2, 8, True), (2, 16, False),
             (3, 1, True), (3, 2, True), (3, 4, True), (3, 8, True), (4, 8, True), (4, 16, False), (6, 8, True),
             (6, 16, False)]


def decoded_by(data: bytes, monkeypatch, *, opencv_imported: bool) -> tuple[np.ndarray, str]:
    """read_image's array, and which library decoded it, with OpenCV imported already or not."""
    used = []
    monkeypatch.setattr(png_read, "opencv_imported", lambda: opencv_imported)
    for name in ("_png_decode_pillow", "_png_decode_cv2"):
        original = getattr(png_read, name)

        def spy(*args, original=original, name=name):
            result = original(*args)
            if result is not None:
                used.append(name)
            return result

        monkeypatch.setattr(png_read, name, spy)
    arr, _ = images.read_image(data)
    monkeypatch.undo()
    return arr, {"_png_decode_pillow": "pillow", "_png_decode_cv2": "opencv"}[used[-1]]


@pytest.mark.parametrize("color, depth, pillow, keyed", [
    (*kind, keyed) for kind in PNG_KINDS for keyed in (False, True) if not (keyed and kind[0] in (4, 6))  # alpha: no tRNS
])
@pytest.mark.parametrize("interlace", [False, True])
def test_pillow_and_opencv_decode_every_png_kind_alike(monkeypatch, color, depth, pillow, keyed, interlace):
    for filter_type in range(5):
        for grey_palette in (False, True) if color == 3 else (False,):
            data, expected = png_case(color, depth, keyed=keyed, interlace=interlace, filter_type=filter_type,
                                      grey_palette=grey_palette, seed=filter_type)
            fresh, decoder = decoded_by(data, monkeypatch, opencv_imported=False)
            assert decoder == ("pillow" if pillow else "opencv")
            by_opencv, decoder = decoded_by(data, monkeypatch, opencv_imported=True)
            assert decoder == "opencv"
            reference = opencv_decode(data)  # OpenCV itself (BGR(A) → RGB(A)), beside the hand-made expectation
            if expected.ndim == 2 and reference.ndim == 3:  # a grey palette is read as grey
                reference = reference[..., 0]
            elif expected.ndim == reference.ndim == 3 and expected.shape[2] == 2 and reference.shape[2] == 4:  # grey, alpha
                reference = reference[..., [0, 3]]
            if not (color == 0 and keyed):  # OpenCV drops a grey image's key; convcli rebuilds the alpha
                np.testing.assert_array_equal(by_opencv, reference)
            assert fresh.dtype == by_opencv.dtype == expected.dtype
            np.testing.assert_array_equal(fresh, by_opencv)
            np.testing.assert_array_equal(fresh, expected)


def test_png_decoder_by_kind_size_and_opencv(monkeypatch):
    header = {"color": 2, "depth": 8, "width": 256, "height": 256, "frames": 1, "actl": False}
    monkeypatch.setattr(png_read, "opencv_imported", lambda: False)
    assert png_read.png_decoder(header) == "pillow"
    assert png_read.png_decoder(dict(header, depth=16)) == "opencv"
    assert png_read.png_decoder(dict(header, color=0, depth=16)) == "pillow"
    assert png_read.png_decoder(dict(header, actl=True)) == "opencv"  # APNG: OpenCV picks the frame
    side = int(png_read.PILLOW_PNG_MAX_PIXELS**0.5)
    assert png_read.png_decoder(dict(header, width=side, height=side)) == "pillow"
    assert png_read.png_decoder(dict(header, width=side + 1, height=side)) == "opencv"
    monkeypatch.setattr(png_read, "opencv_imported", lambda: True)
    assert png_read.png_decoder(header) == "opencv"


def _unusual_pngs():
    """PNGs Pillow could read differently from libpng, or not at all: OpenCV decides them."""
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    plain = hand_png(grey, color=0, depth=8)
    idat_at = plain.index(b"IDAT") - 4
    compressed = zlib.compress(b"".join(b"\0" + row.tobytes() for row in grey))

    def with_idat(payload: bytes) -> bytes:
        return plain[:idat_at] + png_chunk(b"IDAT", payload) + png_chunk(b"IEND", b"")

    rows = b"".join(b"\0" + row.tobytes() for row in grey)
    yield "palette index past the palette", hand_png([[0, 1, 2]], color=3, depth=8, palette=[[1, 2, 3], [4, 5, 6]])
    yield "unknown critical chunk", hand_png(grey, color=0, depth=8, critical=[(b"QUUX", b"")])
    yield "data after the zlib stream", with_idat(compressed + b"\0\0")
    yield "too little image data", with_idat(zlib.compress(rows[:-1]))
    yield "too much image data", with_idat(zlib.compress(rows + b"\0"))
    yield "filter type 5", with_idat(zlib.compress(b"\5" + rows[1:]))
    yield "bad zlib checksum", with_idat(compressed[:-1] + bytes([compressed[-1] ^ 1]))
    yield "IDATs apart", (plain[:idat_at] + png_chunk(b"IDAT", compressed[:5]) + png_chunk(b"tEXt", b"k\0v")
                          + png_chunk(b"IDAT", compressed[5:]) + png_chunk(b"IEND", b""))
    yield "8-bit key past 255", hand_png(np.zeros((2, 2, 3), np.uint8), color=2, depth=8, trns=struct.pack(">3H", 256, 0, 0))
    yield "tRNS longer than the palette", hand_png([[0, 1]], color=3, depth=8, palette=[[1, 2, 3], [4, 5, 6]],
                                                    trns=b"\1\2\3")
    yield "PLTE in a grey image", hand_png(grey, color=0, depth=8, palette=[[1, 2, 3]])


@pytest.mark.parametrize("why, data", list(_unusual_pngs()), ids=[why for why, _ in _unusual_pngs()])
def test_unusual_png_is_decoded_by_opencv_as_before(monkeypatch, why, data):
    header = png_read._png_header(io.BytesIO(data), "x.png")
    info = ImageInfo(shape=(1, 1), dtype="uint8", format="png", has_alpha=False)
    assert png_read._png_decode_pillow(data, info, header) is None
    outcomes = []
    for imported in (False, True):
        monkeypatch.setattr(png_read, "opencv_imported", lambda imported=imported: imported)
        try:
            outcomes.append(images.read_image(data)[0])
        except ImageReadError as error:
            outcomes.append(str(error))
    if isinstance(outcomes[0], str):
        assert outcomes[0] == outcomes[1]
    else:
        np.testing.assert_array_equal(outcomes[0], outcomes[1])
