"""Tests of convcli's own PNG writer (convcli.images.png._png_encode, behind encode_image).

Every file is checked with independent readers: OpenCV (libpng), Pillow, and a reference decoder
written here from the PNG specification (chunk CRCs, zlib.decompress, which checks the Adler-32,
and a byte-by-byte unfilter).
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from convcli import images
from convcli.images import png as png_encoder
from helpers import opencv_decode


RNG = np.random.default_rng(20240611)
SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 4: 2, 2: 3, 6: 4}


def make(shape: tuple[int, ...], dtype: str, channels: int, smooth: bool = False) -> np.ndarray:
    full = shape + ((channels,) if channels > 1 else ())
    top = int(np.iinfo(dtype).max)
    if not smooth:
        return RNG.integers(0, top + 1, size=full, dtype=dtype)
    ramp = np.add.outer(np.arange(shape[0]), np.arange(shape[1])) * 3 % (top + 1)
    arr = np.broadcast_to(ramp.reshape(shape + (1,) * (len(full) - 2)), full)
    return (arr + RNG.integers(0, 3, size=full)).clip(0, top).astype(dtype)


# ---- a reference decoder ------------------------------------------------------------------


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == SIGNATURE
    found, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        body = data[pos + 8 : pos + 8 + length]
        assert len(body) == length
        (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
        assert crc == zlib.crc32(kind + body), kind
        found.append((kind, body))
        pos += 12 + length
    assert pos == len(data)
    return found


def idat_stream(data: bytes) -> bytes:
    return b"".join(body for kind, body in chunks(data) if kind == b"IDAT")


def unfilter(kind: int, line: list[int], prior: list[int], bpp: int) -> list[int]:
    """One row, as the PNG specification (section 9) defines the five filters."""
    out: list[int] = []
    for x, value in enumerate(line):
        a = out[x - bpp] if x >= bpp else 0
        b = prior[x]
        c = prior[x - bpp] if x >= bpp else 0
        if kind == 0:
            pred = 0
        elif kind == 1:
            pred = a
        elif kind == 2:
            pred = b
        elif kind == 3:
            pred = (a + b) // 2
        else:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
        out.append((value + pred) % 256)
    return out


def reference_decode(data: bytes) -> tuple[np.ndarray, list[int]]:
    """The image and the filter type of each row."""
    found = chunks(data)
    kinds = [kind for kind, _ in found]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    assert set(kinds[1:-1]) == {b"IDAT"}
    width, height, depth, colour, comp, filt, interlace = struct.unpack(">IIBBBBB", found[0][1])
    assert (comp, filt, interlace) == (0, 0, 0) and depth in (8, 16)
    channels = CHANNELS[colour]
    bpp = channels * depth // 8
    stride = width * bpp
    raw = zlib.decompress(idat_stream(data))  # checks the zlib header and the Adler-32
    assert len(raw) == height * (stride + 1)
    prior, rows, types = [0] * stride, [], []
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        types.append(line[0])
        prior = unfilter(line[0], list(line[1:]), prior, bpp)
        rows.append(prior)
    arr = np.array(rows, np.uint8).reshape(height, stride)
    if depth == 16:
        arr = arr.view(">u2").astype(np.uint16)
    arr = arr.reshape(height, width, channels)
    return (arr[..., 0] if channels == 1 else arr), types


def check_decodes(data: bytes, arr: np.ndarray, *, reference: bool = True) -> list[int]:
    """The file decodes to exactly ``arr`` with all three readers (the reference decoder, slow,
    only if asked; else only the chunks and the zlib stream are checked); returns the row filter
    types."""
    if reference:
        back, types = reference_decode(data)
        assert back.dtype == arr.dtype and back.shape == arr.shape
        np.testing.assert_array_equal(back, arr)
    else:
        stride = arr[0].nbytes
        raw = zlib.decompress(idat_stream(data))
        assert len(raw) == arr.shape[0] * (stride + 1)
        types = list(raw[:: stride + 1])
    cv = opencv_decode(data)
    if arr.ndim == 3 and arr.shape[2] == 2:  # OpenCV reads grey+alpha as BGRA
        cv = cv[..., [0, 3]]
    assert cv.dtype == arr.dtype
    np.testing.assert_array_equal(cv, arr)
    with Image.open(io.BytesIO(data)) as im:
        pil = np.asarray(im)
    if arr.dtype == np.uint16 and arr.ndim == 3:
        # Pillow has no 16-bit multi-channel modes: it keeps the high byte (and grey+alpha → RGBA)
        expected = arr >> 8
        if arr.shape[2] == 2:
            expected = expected[..., [0, 0, 0, 1]]
        assert pil.dtype == np.uint8
        np.testing.assert_array_equal(pil, expected)
    else:
        assert pil.dtype == arr.dtype
        np.testing.assert_array_equal(pil, arr)
    return types


# ---- round trips ----------------------------------------------------------------------------

SHAPES = [(1, 1), (1, 13), (11, 1), (3, 5), (37, 6)]


@pytest.mark.parametrize("level", range(10))
@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_round_trip_every_level_layout_and_size(level, dtype, channels):
    for shape in SHAPES:
        for smooth in (False, True):
            arr = make(shape, dtype, channels, smooth)
            data = images.encode_image(arr, format="png", png_compression=level)
            check_decodes(data, arr)
            # 64-byte bands: several bands (and IDAT chunks) even for these small images
            banded = png_encoder._png_encode(arr, level, band_bytes=64)
            check_decodes(banded, arr)
            bands = -(-shape[0] // max(1, 64 // (arr[0].nbytes + 1)))
            assert [kind for kind, _ in chunks(banded)].count(b"IDAT") == bands
            if shape[0] * (arr[0].nbytes + 1) <= 64:
                assert banded == data


@pytest.mark.parametrize(("dtype", "channels"), [("uint8", 1), ("uint16", 4), ("uint8", 3)])
def test_round_trip_of_an_image_of_several_default_bands(dtype, channels):
    width = 1001
    row = width * channels * np.dtype(dtype).itemsize + 1
    arr = make((png_encoder._PNG_BAND_BYTES // row * 2 + 17, width), dtype, channels, smooth=channels != 1)
    for level in (0, 1, 6):
        data = images.encode_image(arr, format="png", png_compression=level)
        check_decodes(data, arr, reference=False)
        idats = [kind for kind, _ in chunks(data)].count(b"IDAT")
        assert idats == -(-arr.shape[0] // (png_encoder._PNG_BAND_BYTES // row)) > 1


@pytest.mark.parametrize("filter_type", range(5))
@pytest.mark.parametrize(("dtype", "channels"), [(d, c) for d in ("uint8", "uint16") for c in (1, 2, 3, 4)])
def test_each_filter_round_trips(filter_type, dtype, channels):
    for shape in [(1, 1), (1, 9), (7, 1), (5, 8), (23, 17)]:
        for smooth in (False, True):
            arr = make(shape, dtype, channels, smooth)
            for level in (1, 6):
                data = png_encoder._png_encode(arr, level, filter_type=filter_type, band_bytes=100)
                assert check_decodes(data, arr) == [filter_type] * shape[0]


def test_paeth_predictor_for_every_byte_triple():
    # Rows of 2·k bytes with bpp = k: above [c…, b…], this row [a…, 0…]; each byte of the second
    # half has left a, above b, above-left c, and is filtered into -prediction (mod 256).
    a, b, c = (g.reshape(-1, 4096) for g in np.meshgrid(*[np.arange(256, dtype=np.uint8)] * 3, indexing="ij"))
    raw = np.concatenate([a, np.zeros_like(a)], axis=1)
    up = np.concatenate([c, b], axis=1)
    out = np.empty_like(raw)
    png_encoder._png_filter(raw, up, 4, 4096, out)
    a, b, c = (x.astype(np.int16) for x in (a, b, c))
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    expected = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    np.testing.assert_array_equal((0 - out[:, 4096:]).astype(np.int16), expected)
    np.testing.assert_array_equal(out[:, :4096], (a - c) % 256)  # first pixel: Up


def test_average_predictor_for_every_byte_pair():
    a, b = (g.ravel().astype(np.int32) for g in np.meshgrid(np.arange(256), np.arange(256), indexing="ij"))
    raw = np.stack([a, np.zeros_like(a)], axis=1).astype(np.uint8)
    up = np.stack([np.zeros_like(b), b], axis=1).astype(np.uint8)
    out = np.empty_like(raw)
    png_encoder._png_filter(raw, up, 3, 1, out)
    np.testing.assert_array_equal((-out[:, 1].astype(np.int32)) % 256, (a + b) // 2)
    np.testing.assert_array_equal(out[:, 0], a)  # first byte: raw - floor(0 / 2)


@pytest.mark.parametrize("bpp", [1, 2, 3, 4, 6, 8])
def test_filters_match_the_reference_with_blocks_of_any_size(bpp, monkeypatch):
    raw = RNG.integers(0, 256, size=(9, bpp * 7), dtype=np.uint8)
    up = RNG.integers(0, 256, size=raw.shape, dtype=np.uint8)
    for block in (1, raw.shape[1] * 2, 1 << 15):
        monkeypatch.setattr(png_encoder, "_PNG_FILTER_BLOCK", block)
        for kind in range(5):
            out = np.empty_like(raw)
            png_encoder._png_filter(raw, up, kind, bpp, out)
            for y in range(raw.shape[0]):  # undo with the reference: back to raw
                line = [int(v) for v in out[y]]
                assert unfilter(kind, line, [int(v) for v in up[y]], bpp) == raw[y].tolist(), (kind, y)


# ---- the stream: zlib header, bands, Adler-32, chunks ---------------------------------------


def test_adler32_combine_matches_zlib():
    data = RNG.integers(0, 256, size=300_000, dtype=np.uint8).tobytes()
    for cut in (0, 1, 2, 5551, 5552, 65521, 65522, 200_000, len(data)):
        first, second = data[:cut], data[cut:]
        combined = png_encoder._adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second))
        assert combined == zlib.adler32(data), cut
    ones = b"\xff" * 1_000_000  # sums that wrap round the modulus many times
    assert png_encoder._adler32_combine(zlib.adler32(ones), zlib.adler32(ones), len(ones)) == zlib.adler32(ones + ones)


@pytest.mark.parametrize("level", range(10))
def test_zlib_header_is_zlibs_own(level):
    for strategy in (zlib.Z_DEFAULT_STRATEGY, zlib.Z_RLE):
        expected = zlib.compressobj(level, zlib.DEFLATED, 15, 9, strategy).flush()[:2]
        assert png_encoder._zlib_header(level, strategy) == expected


@pytest.mark.parametrize("level", range(10))
def test_one_band_is_exactly_zlibs_stream(level):
    arr = make((20, 30), "uint8", 3, smooth=True)
    data = png_encoder._png_encode(arr, level)
    raw = zlib.decompress(idat_stream(data))
    strategy = zlib.Z_RLE if level == 1 else zlib.Z_DEFAULT_STRATEGY
    deflate = zlib.compressobj(level, zlib.DEFLATED, 15, 9, strategy)
    assert idat_stream(data) == deflate.compress(raw) + deflate.flush()


def test_many_bands_make_one_valid_stream():
    arr = make((200, 50), "uint16", 3, smooth=True)
    data = png_encoder._png_encode(arr, 6, band_bytes=1000)
    stream = idat_stream(data)
    raw = zlib.decompress(stream)  # raises on a bad header or Adler-32
    assert stream[-4:] == struct.pack(">I", zlib.adler32(raw))
    assert [kind for kind, _ in chunks(data)].count(b"IDAT") == -(-200 // (1000 // 301))
    check_decodes(data, arr)


def test_a_band_larger_than_a_chunk_is_split(monkeypatch):
    monkeypatch.setattr(png_encoder, "_PNG_MAX_CHUNK", 7)
    arr = make((6, 40), "uint8", 2)
    data = png_encoder._png_encode(arr, 0, band_bytes=200)
    assert all(len(body) <= 7 for kind, body in chunks(data) if kind == b"IDAT")
    check_decodes(data, arr)


def test_level_0_is_stored_without_filtering():
    arr = make((30, 20), "uint8", 3)
    data = images.encode_image(arr, format="png", png_compression=0)
    assert check_decodes(data, arr) == [0] * 30
    assert len(data) > arr.nbytes + 30


def test_output_is_deterministic_whatever_the_thread_count():
    arr = make((90, 41), "uint8", 4, smooth=True)
    for level in (0, 1, 5, 9):
        seen = {png_encoder._png_encode(arr, level, workers=n, band_bytes=300) for n in (1, 2, 3, 8, None)}
        seen.add(png_encoder._png_encode(arr.copy(), level, workers=2, band_bytes=300))
        assert len(seen) == 1, level
    big = make((2000, 1000), "uint8", 1, smooth=True)  # several default bands
    one = png_encoder._png_encode(big, 1, workers=1)
    assert [kind for kind, _ in chunks(one)].count(b"IDAT") > 1
    assert png_encoder._png_encode(big, 1, workers=2) == one == png_encoder._png_encode(big, 1, workers=5)
    assert images.encode_image(big, format="png") == one


def test_non_contiguous_and_big_endian_input():
    arr = make((12, 10), "uint16", 3)
    view = np.asfortranarray(arr)[::1, ::1]
    check_decodes(png_encoder._png_encode(view, 1), arr)
    check_decodes(png_encoder._png_encode(arr.astype(">u2"), 1), arr)
    check_decodes(images.encode_image(arr[:, ::2], format="png"), arr[:, ::2])


# ---- the filter heuristic ----------------------------------------------------------------


def chosen(arr: np.ndarray) -> str:
    bpp = (arr.shape[2] if arr.ndim == 3 else 1) * arr.dtype.itemsize
    return png_encoder._PNG_FILTERS[png_encoder._png_choose_filter(arr, arr.shape[1] * bpp, bpp)]


def test_heuristic_picks_none_for_scattered_0_and_255():
    dots = np.where(RNG.random((64, 256)) < 0.25, 255, 0).astype(np.uint8)
    assert chosen(dots) == "none"
    checker = (np.add.outer(np.arange(64), np.arange(256)) % 2 * 255).astype(np.uint8)
    assert chosen(checker) == "none"
    assert reference_decode(images.encode_image(dots, format="png"))[1] == [0] * 64


def test_heuristic_picks_sub_for_a_horizontal_ramp():
    ramp = np.arange(256, dtype=np.uint8)[None]
    assert chosen(ramp) == "sub"  # ties with Paeth (no row above): the first wins, as in libpng
    shifted = ((np.arange(256)[None] + RNG.integers(0, 256, size=(64, 1))) % 256).astype(np.uint8)
    assert chosen(shifted) == "sub"
    assert reference_decode(images.encode_image(shifted, format="png"))[1] == [1] * 64


def test_heuristic_picks_up_for_vertical_stripes():
    stripes = np.tile((np.arange(300) % 2 * 255).astype(np.uint8), (1000, 1))
    assert chosen(stripes) == "up"


def test_heuristic_looks_at_64_rows_spread_from_first_to_last(monkeypatch):
    numbered = np.repeat(np.arange(1000, dtype=np.uint16)[:, None], 3, axis=1)  # each row holds its index
    seen = []
    real = png_encoder._png_filter
    monkeypatch.setattr(png_encoder, "_png_filter", lambda raw, up, *rest: seen.append((raw.copy(), up.copy())) or real(raw, up, *rest))
    png_encoder._png_choose_filter(numbered, 6, 2)
    assert len(seen) == 5
    raw, up = seen[0]
    rows = raw.view(">u2")[:, 0].astype(int)
    assert rows.tolist() == [y * 999 // 63 for y in range(64)] and rows[0] == 0 and rows[-1] == 999
    assert (up.view(">u2")[1:, 0].astype(int) == rows[1:] - 1).all() and not up[0].any()
    seen.clear()
    png_encoder._png_choose_filter(numbered[:10], 6, 2)
    assert seen[0][0].view(">u2")[:, 0].tolist() == list(range(10))  # short images: every row


@pytest.mark.parametrize("workers", [1, 2, 5])
def test_row_encoder_bytes_do_not_depend_on_its_threads(workers):
    import threading

    from convcli.images.png import PngRowEncoder, _png_encode

    image = np.random.default_rng(7).integers(0, 256, (97, 31, 3), dtype=np.uint8)
    encoder = PngRowEncoder(image.shape, image.dtype, 1, filter_type=4, band_bytes=300, workers=workers)
    data = b"".join(encoder.feed(image[first:first + 10]) for first in range(0, 97, 10))
    assert data == _png_encode(image, 1, filter_type=4, band_bytes=300, workers=1)
    assert not [t for t in threading.enumerate() if t.name.startswith("convcli-png")]  # finished: stopped


def test_an_unfinished_row_encoder_is_closed():
    import threading

    from convcli.images.png import PngRowEncoder

    encoder = PngRowEncoder((50, 40), np.dtype(np.uint8), 6, band_bytes=100, workers=2)
    encoder.feed(np.zeros((30, 40), np.uint8))
    encoder.close()
    encoder.close()  # harmless twice
    assert not [t for t in threading.enumerate() if t.name.startswith("convcli-png")]
