"""Fuzzing (Hypothesis-driven): only convcli's own errors may come out (issue 5, point 6).

Three harnesses, each calling a public entry point on hostile input and allowing exactly two outcomes:
a result of the documented type, or a :class:`convcli.errors.ConvcliError`. Any other exception
(``ValueError``, ``TypeError``, ``OSError``, ``OverflowError``, ``RecursionError``, ...) is a bug, and so
is a call that does not return within ``CALL_LIMIT`` seconds.

(a) the image reader: :func:`convcli.images.read_image` and :func:`convcli.images.probe` on the bytes of small
    valid PNG, JPEG, GIF, TIFF, BMP, WebP and ``.npy`` files (made here with Pillow, tifffile and
    NumPy) after bit flips, byte changes, truncations, insertions, deletions and changes to header
    fields (sizes, chunk/segment lengths, TIFF tags, the ``.npy`` header), with PNG CRCs optionally
    recomputed so that the damage reaches the decoders;
(b) kernels: :func:`convcli.kernels.load_kernel` on arbitrary specs and
    :func:`convcli.kernels.parse_kernel_yaml` on arbitrary, generated and mutated YAML;
(c) pipelines: :func:`convcli.pipeline.parse_pipeline` (and :func:`~convcli.pipeline.plan`) on arbitrary,
    generated and mutated YAML.

A crash found here becomes a plain regression test at the end of this file.

How long: ``CONVCLI_HYPOTHESIS_PROFILE=ci`` (the default: derandomized, about 20 s on 2 cores) or ``long``
(100 times as many examples, random each run); ``CONVCLI_FUZZ_CALL_LIMIT`` (seconds, default 5) is how long
one call may take before it counts as a hang::

    CONVCLI_HYPOTHESIS_PROFILE=long python -m pytest -p no:cacheprovider tests/test_fuzz.py
"""

from __future__ import annotations

import io
import math
import os
import re
import signal
import struct
import time
import warnings
import zlib
from contextlib import contextmanager

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcli.errors import ConvcliError
from convcli.images import ImageInfo, Limits, probe, read_image
from convcli.kernels import Kernel, load_kernel, parse_kernel_yaml
from convcli.pipeline import Step, parse_pipeline, plan
from helpers import budget


SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]

#: Seconds one call may take before it counts as a hang.
CALL_LIMIT = float(os.environ.get("CONVCLI_FUZZ_CALL_LIMIT", "5"))
#: Pixel limit for decoding fuzzed images (a mutated header may claim millions of pixels).
FUZZ_MAX_PIXELS = 1 << 20


# --- the harness ------------------------------------------------------------------------------------


class _CallTimedOut(BaseException):
    """Raised by the alarm; a BaseException so that no ``except Exception`` inside convcli swallows it."""


@contextmanager
def _time_limit(seconds: float):
    if not hasattr(signal, "setitimer"):  # pragma: no cover - Windows: check the elapsed time only
        yield
        return

    def alarm(signum, frame):
        raise _CallTimedOut()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def call(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, or None when it raised a ConvcliError.

    Any other exception propagates (Hypothesis shrinks and reports it); a call that runs longer than
    CALL_LIMIT seconds fails the test as a hang.
    """
    start = time.monotonic()
    try:
        with _time_limit(CALL_LIMIT), warnings.catch_warnings():
            # As in production: a library warning is not an exception (pytest's filterwarnings=error
            # would turn it into one, which convcli's boundary would then mask as ImageReadError).
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    except _CallTimedOut:
        raise AssertionError(f"{fn.__name__} did not return within {CALL_LIMIT} s (a hang)") from None
    except ConvcliError as error:
        assert str(error) and not re.search(r"[\r\n]", str(error)), f"a ConvcliError must be one line: {error!r}"
        return None
    finally:
        elapsed = time.monotonic() - start
        assert elapsed < CALL_LIMIT + 1, f"{fn.__name__} took {elapsed:.1f} s (a hang)"


@pytest.fixture(scope="module", autouse=True)
def _empty_cwd(tmp_path_factory):
    """Run in an empty folder: fuzzed kernel specs and pipelines name files relative to it."""
    folder = tmp_path_factory.mktemp("fuzz-cwd")
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(before)


# --- (a) seed images and their header fields ------------------------------------------------------------


def _pattern(shape, dtype=np.uint8):
    values = np.arange(math.prod(shape)) * 37 % 251
    return values.reshape(shape).astype(dtype)


def _pil_bytes(image, fmt, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _tiff_bytes(array, **kwargs) -> bytes:
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, array, **kwargs)
    return buf.getvalue()


def _npy_bytes(array, version=None) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, version=version, allow_pickle=False)
    return buf.getvalue()


def _make_seeds() -> dict[str, bytes]:
    from PIL import Image

    rgb = Image.fromarray(_pattern((5, 7, 3)))
    grey = Image.fromarray(_pattern((5, 7)))
    rgba = Image.fromarray(_pattern((5, 7, 4)))
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    keyed = palette.copy()
    keyed.info["transparency"] = 0
    exif = Image.Exif()
    exif[0x0112] = 6
    frames = [palette, palette.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    seeds = {
        "png-grey": _pil_bytes(grey, "PNG"),
        "png-rgb": _pil_bytes(rgb, "PNG"),
        "png-rgba": _pil_bytes(rgba, "PNG"),
        "png-la": _pil_bytes(grey.convert("LA"), "PNG"),
        "png-palette-key": _pil_bytes(keyed, "PNG", transparency=0),
        "png-16": _pil_bytes(Image.fromarray(_pattern((5, 7), np.uint16) * 200), "PNG"),
        "png-1bit": _pil_bytes(grey.convert("1"), "PNG"),
        "png-grey-key": _pil_bytes(grey, "PNG", transparency=37),
        "png-optimized": _pil_bytes(rgb, "PNG", optimize=True),
        "apng": _pil_bytes(rgb, "PNG", save_all=True, append_images=[rgb.rotate(180)]),
        "jpeg-rgb": _pil_bytes(rgb, "JPEG", quality=90),
        "jpeg-grey": _pil_bytes(grey, "JPEG"),
        "jpeg-progressive": _pil_bytes(rgb, "JPEG", progressive=True),
        "jpeg-cmyk": _pil_bytes(rgb.convert("CMYK"), "JPEG"),
        "jpeg-exif": _pil_bytes(rgb, "JPEG", exif=exif.tobytes()),
        "gif": _pil_bytes(palette, "GIF"),
        "gif-key": _pil_bytes(keyed, "GIF", transparency=0),
        "gif-frames": _pil_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        "bmp-rgb": _pil_bytes(rgb, "BMP"),
        "bmp-grey": _pil_bytes(grey, "BMP"),
        "bmp-1bit": _pil_bytes(grey.convert("1"), "BMP"),
        "webp-lossless": _pil_bytes(rgb, "WEBP", lossless=True),
        "webp-rgba": _pil_bytes(rgba, "WEBP", lossless=True),
        "webp-lossy": _pil_bytes(rgb, "WEBP", quality=80),
        "tiff-grey": _tiff_bytes(_pattern((5, 7))),
        "tiff-rgb-zlib": _tiff_bytes(_pattern((5, 7, 3)), photometric="rgb", compression="zlib"),
        "tiff-rgba": _tiff_bytes(_pattern((5, 7, 4)), photometric="rgb", extrasamples=["unassalpha"]),
        "tiff-u16": _tiff_bytes(_pattern((5, 7), np.uint16)),
        "tiff-f32": _tiff_bytes(_pattern((5, 7), np.float32)),
        "tiff-planar": _tiff_bytes(_pattern((3, 5, 7)), photometric="rgb", planarconfig="separate"),
        "tiff-pages": _tiff_bytes(_pattern((2, 5, 7)), photometric="minisblack"),
        "tiff-bool": _tiff_bytes(_pattern((5, 7)) > 100),
        "tiff-bigendian": _tiff_bytes(_pattern((5, 7), np.uint16), byteorder=">"),
        "tiff-pil-lzw": _pil_bytes(rgb, "TIFF", compression="tiff_lzw"),
        "tiff-pil-palette": _pil_bytes(palette, "TIFF"),
        "tiff-pil-cmyk": _pil_bytes(rgb.convert("CMYK"), "TIFF"),
        "npy-f32": _npy_bytes(_pattern((5, 7), np.float32)),
        "npy-u8-rgb": _npy_bytes(_pattern((5, 7, 3))),
        "npy-bool": _npy_bytes(_pattern((5, 7)) > 100),
        "npy-f16-fortran": _npy_bytes(np.asfortranarray(_pattern((5, 7), np.float16))),
        "npy-v2": _npy_bytes(_pattern((5, 7), np.int16), version=(2, 0)),
        "npy-bigendian": _npy_bytes(_pattern((5, 7), np.dtype(">f8"))),
    }
    return seeds


# A header field: (offset, size in bytes, byte order "<" or ">").
Field = tuple[int, int, str]


def _png_fields(data: bytes) -> list[Field]:
    fields: list[Field] = []
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        fields.append((pos, 4, ">"))
        if kind == b"IHDR":
            fields += [(pos + 8, 4, ">"), (pos + 12, 4, ">")] + [(pos + 16 + i, 1, ">") for i in range(5)]
        if kind == b"acTL":
            fields += [(pos + 8, 4, ">"), (pos + 12, 4, ">")]
        if kind == b"fcTL":
            fields += [(pos + 12, 4, ">"), (pos + 16, 4, ">"), (pos + 20, 4, ">"), (pos + 24, 4, ">")]
        if kind in (b"PLTE", b"tRNS"):
            fields.append((pos + 8, 2, ">"))
        pos += 12 + length
    return fields


def _jpeg_fields(data: bytes) -> list[Field]:
    fields: list[Field] = []
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            fields.append((pos + 2, 2, ">"))
            fields += [(pos + 4 + i, 1, ">") for i in range(6)]
            break
        length = struct.unpack_from(">H", data, pos + 2)[0]
        fields.append((pos + 2, 2, ">"))
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # SOFn
            fields += [(pos + 4, 1, ">"), (pos + 5, 2, ">"), (pos + 7, 2, ">"), (pos + 9, 1, ">")]
            fields += [(pos + 10 + i, 1, ">") for i in range(3 * data[pos + 9]) if pos + 10 + i < len(data)]
        if marker in (0xC4, 0xDB):  # DHT, DQT: table class/id bytes
            fields.append((pos + 4, 1, ">"))
        pos += 2 + length
    return fields


def _gif_fields(data: bytes) -> list[Field]:
    fields: list[Field] = [(6, 2, "<"), (8, 2, "<"), (10, 1, "<"), (11, 1, "<")]
    pos = 13
    if data[10] & 0x80:
        pos += 3 * (2 ** ((data[10] & 7) + 1))
    while pos < len(data):
        if data[pos] == 0x21 and pos + 2 < len(data):  # extension: label, then sub-blocks
            fields += [(pos + 1, 1, "<"), (pos + 2, 1, "<")]
            pos += 2
            while pos < len(data) and data[pos]:
                pos += data[pos] + 1
            pos += 1
        elif data[pos] == 0x2C:  # image descriptor, then the LZW minimum code size
            fields += [(pos + 1 + 2 * i, 2, "<") for i in range(4)] + [(pos + 9, 1, "<"), (pos + 10, 1, "<")]
            pos += 10
            if data[pos - 1] & 0x80:
                pos += 3 * (2 ** ((data[pos - 1] & 7) + 1))
            fields.append((pos, 1, "<"))
            pos += 1
            while pos < len(data) and data[pos]:
                fields.append((pos, 1, "<"))  # sub-block lengths
                pos += data[pos] + 1
            pos += 1
        else:
            break
    return [f for f in fields if f[0] + f[1] <= len(data)]


def _tiff_fields(data: bytes) -> list[Field]:
    order = "<" if data[:2] == b"II" else ">"
    fields: list[Field] = [(2, 2, order), (4, 4, order)]
    ifd = struct.unpack_from(order + "I", data, 4)[0]
    seen = set()
    while 0 < ifd < len(data) - 2 and ifd not in seen:
        seen.add(ifd)
        count = struct.unpack_from(order + "H", data, ifd)[0]
        fields.append((ifd, 2, order))
        for i in range(count):
            entry = ifd + 2 + 12 * i
            if entry + 12 > len(data):
                break
            # tag, type, count, value/offset (also its low half: SHORT values sit there)
            fields += [(entry, 2, order), (entry + 2, 2, order), (entry + 4, 4, order), (entry + 8, 4, order),
                       (entry + 8, 2, order)]
        nxt = ifd + 2 + 12 * count
        if nxt + 4 > len(data):
            break
        fields.append((nxt, 4, order))
        ifd = struct.unpack_from(order + "I", data, nxt)[0]
    return fields


def _bmp_fields(data: bytes) -> list[Field]:
    layout = [(2, 4), (10, 4), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2), (30, 4), (34, 4), (46, 4), (50, 4)]
    return [(o, n, "<") for o, n in layout if o + n <= len(data)]


def _webp_fields(data: bytes) -> list[Field]:
    fields: list[Field] = [(4, 4, "<")]
    pos = 12
    while pos + 8 <= len(data):
        size = struct.unpack_from("<I", data, pos + 4)[0]
        fields.append((pos + 4, 4, "<"))
        fields += [(pos + 8 + i, 1, "<") for i in range(10) if pos + 8 + i < len(data)]  # VP8/VP8L/VP8X headers
        fields += [(pos + 14, 2, "<"), (pos + 16, 2, "<")] if pos + 18 <= len(data) else []
        pos += 8 + size + (size & 1)
    return fields


def _npy_fields(data: bytes) -> list[Field]:
    major = data[6]
    return [(6, 1, "<"), (7, 1, "<"), (8, 2 if major == 1 else 4, "<")]


def _fields(name: str, data: bytes) -> list[Field]:
    kind = name.split("-")[0]
    finder = {"png": _png_fields, "apng": _png_fields, "jpeg": _jpeg_fields, "gif": _gif_fields,
              "tiff": _tiff_fields, "bmp": _bmp_fields, "webp": _webp_fields, "npy": _npy_fields}[kind]
    return finder(data) or [(0, 1, "<")]


SEEDS = _make_seeds()
SEED_NAMES = sorted(SEEDS)
FIELDS = {name: _fields(name, data) for name, data in SEEDS.items()}


# --- (a) mutations ------------------------------------------------------------------------------------

INTERESTING = [0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 1023, 1024, 4095, 65535,
               65536, 2**24, 2**31 - 1, 2**31, 2**32 - 1]


def _position(data: bytes, raw: int, header: bool) -> int:
    """A position anywhere, or (``header``) in bytes 8..63, past every format's magic."""
    n = max(len(data), 1)
    if header and n > 9:
        return 8 + raw % (min(n, 64) - 8)
    return raw % n


def _fix_png_crcs(data: bytes) -> bytes:
    """Recompute the CRC of every whole chunk, so that damage inside a chunk reaches the decoder."""
    out = bytearray(data)
    pos = 8
    while pos + 12 <= len(out):
        length = struct.unpack_from(">I", out, pos)[0]
        end = pos + 12 + length
        if end > len(out):
            break
        struct.pack_into(">I", out, end - 4, zlib.crc32(out[pos + 4 : end - 4]))
        pos = end
    return bytes(out)


def _npy_rewrite(data: bytes, shape, descr, fortran) -> bytes:
    """Replace the .npy header (keeping the data) with another shape, dtype or order."""
    v2 = data[6] >= 2
    try:
        header_end = 12 + struct.unpack_from("<I", data, 8)[0] if v2 else 10 + struct.unpack_from("<H", data, 8)[0]
    except struct.error:
        return data
    text = repr({"descr": descr, "fortran_order": fortran, "shape": tuple(shape)}).encode("latin1")
    start = 12 if v2 else 10
    pad = (-(start + len(text) + 1)) % 64
    body = text + b" " * pad + b"\n"
    size = struct.pack("<I", len(body)) if v2 else struct.pack("<H", len(body))
    return data[:8] + size + body + data[header_end:]


_DESCRS = ["|u1", "<u2", ">u2", "<i4", "<f4", ">f8", "<f2", "|b1", "<c8", "|O", "<U3", "|S4", "<M8[s]",
           "<m8[s]", "|V4", "<f16", "<i8", "<u8", "?", "f4"]

mutation = st.one_of(
    st.tuples(st.just("flip"), st.booleans(), st.integers(0, 1 << 20), st.integers(0, 7)),
    st.tuples(st.just("set"), st.booleans(), st.integers(0, 1 << 20), st.integers(0, 255)),
    st.tuples(st.just("truncate"), st.booleans(), st.integers(0, 1 << 20)),
    st.tuples(st.just("insert"), st.booleans(), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), st.booleans(), st.integers(0, 1 << 20), st.integers(1, 16)),
    st.tuples(st.just("repeat"), st.booleans(), st.integers(0, 1 << 20), st.integers(1, 64), st.integers(1, 4)),
    st.tuples(st.just("field"), st.integers(0, 1 << 10),
              st.one_of(st.sampled_from(INTERESTING), st.integers(0, 2**32 - 1)), st.integers(-2, 2)),
    st.tuples(st.just("field"), st.integers(0, 1 << 10), st.sampled_from(INTERESTING), st.just(0)),
    st.tuples(st.just("npy"), st.lists(st.integers(0, 70_000), max_size=4), st.sampled_from(_DESCRS), st.booleans()),
)


def _apply(name: str, data: bytes, op: tuple) -> bytes:
    kind = op[0]
    if kind == "field":
        _, index, value, delta = op
        offset, size, order = FIELDS[name][index % len(FIELDS[name])]
        if offset + size > len(data):
            return data
        if delta:
            current = int.from_bytes(data[offset : offset + size], "little" if order == "<" else "big")
            value = current + delta
        value %= 1 << (8 * size)
        packed = value.to_bytes(size, "little" if order == "<" else "big")
        return data[:offset] + packed + data[offset + size :]
    if kind == "npy":
        return _npy_rewrite(data, *op[1:]) if name.startswith("npy") and len(data) > 10 else data
    header, raw = op[1], op[2]
    pos = _position(data, raw, header)
    if kind == "flip":
        if not data:
            return data
        return data[:pos] + bytes([data[pos] ^ (1 << op[3])]) + data[pos + 1 :]
    if kind == "set":
        if not data:
            return data
        return data[:pos] + bytes([op[3]]) + data[pos + 1 :]
    if kind == "truncate":
        return data[:pos]
    if kind == "insert":
        return data[:pos] + op[3] + data[pos:]
    if kind == "delete":
        return data[:pos] + data[pos + op[3] :]
    if kind == "repeat":
        chunk = data[pos : pos + op[3]]
        return data[:pos] + chunk * (op[4] + 1) + data[pos + len(chunk) :]
    raise AssertionError(kind)


@st.composite
def mutated_images(draw):
    name = draw(st.sampled_from(SEED_NAMES))
    data = SEEDS[name]
    for op in draw(st.lists(mutation, min_size=1, max_size=4)):
        data = _apply(name, data, op)
    if name.split("-")[0] in ("png", "apng") and draw(st.booleans()):
        data = _fix_png_crcs(data)
    return name, data


def _check_image_result(result, probed):
    if result is not None:
        array, info = result
        assert isinstance(array, np.ndarray) and array.ndim in (2, 3), f"read_image returned {type(array)}"
        assert isinstance(info, ImageInfo) and tuple(array.shape) == info.shape and array.dtype.name == info.dtype
        assert 0 not in array.shape
        # probe reads the same header: whatever read_image returns, probe must describe exactly.
        assert probed is not None, f"read_image read {info} but probe refused the same bytes"
        assert probed == info, f"probe said {probed}, read_image returned {info}"
    if probed is not None:
        assert isinstance(probed, ImageInfo)


@settings(max_examples=budget(2500), suppress_health_check=SLOW_OK)
@given(mutated_images())
def test_fuzz_read_image_on_mutated_files(case):
    _name, data = case
    probed = call(probe, data)
    result = call(read_image, data, limits=Limits(max_pixels=FUZZ_MAX_PIXELS))
    _check_image_result(result, probed)


@settings(max_examples=budget(400), suppress_health_check=SLOW_OK)
@given(st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"II+\x00", b"GIF89a",
                        b"GIF87a", b"RIFF\x10\x00\x00\x00WEBP", b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00",
                        b"BM" + bytes(12) + b"\x28\x00\x00\x00", b""]),
       st.binary(max_size=512))
def test_fuzz_read_image_on_magic_then_noise(magic, tail):
    data = magic + tail
    probed = call(probe, data)
    result = call(read_image, data, limits=Limits(max_pixels=FUZZ_MAX_PIXELS))
    _check_image_result(result, probed)


@pytest.mark.parametrize("name", SEED_NAMES)
def test_seed_images_are_read(name):
    """The fuzzer starts from files convcli reads (else it would only be fuzzing the error paths)."""
    array, info = read_image(SEEDS[name])
    assert probe(SEEDS[name]) == info
    assert array.shape[:2] == (5, 7)


# --- (b) kernels ----------------------------------------------------------------------------------------

_NUMBERS = ["0", "1", "-1", "2", "+3", ".5", "-0.25", "1e-3", "1E3", "1e999", "-1e999", "nan", "inf", "-inf",
            ".inf", "1.", "00", "0x10", "1_000", "9" * 30, "1e308", "4.9e-324", "१", "1e-320", "-0", "3", "7",
            "1025", "1026", "1000", "0.0001", "170", "1e2"]
_SPEC_TOKENS = _NUMBERS + [" ", "  ", ";", ",", ", ", "\n", "\t", "[", "]", "[[", "]]", ":", "=", "x", "X",
                           "gaussian", "box", "log", "dog", "disk", "sigma", "sigma1", "sigma2", "size", "radius",
                           "sobel-x", "box3", "identity", "mean2", ".yaml", ".npy", ".txt", ".csv", ".yml", "/",
                           "\\", "..", "-", "_", "a", "Z", "é", "\x00", "#", "'", '"']
_number_tokens = st.one_of(st.sampled_from(_NUMBERS), st.integers(-9, 9).map(str),
                           st.floats(allow_nan=True, allow_infinity=True).map(repr))
_separators = st.sampled_from([" ", ",", ", ", "  ", "\t", " ,"])


@st.composite
def _inline_specs(draw):
    rows = draw(st.lists(st.lists(_number_tokens, min_size=0, max_size=4), min_size=1, max_size=4))
    if draw(st.booleans()):
        sep = draw(_separators)
        return draw(st.sampled_from([";", "; ", "\n", ";;"])).join(sep.join(row) for row in rows)
    inner = ", ".join("[" + ", ".join(row) + "]" for row in rows)
    return draw(st.sampled_from(["[{}]", "{}", "[[{}]]", "[{}", "{}]"])).format(inner)


@st.composite
def _parametric_specs(draw):
    kind = draw(st.sampled_from(["gaussian", "box", "log", "dog", "disk", "blur"]))
    if kind == "box" and draw(st.booleans()):
        return f"box:{draw(_number_tokens)}" + (f"x{draw(_number_tokens)}" if draw(st.booleans()) else "")
    keys = st.sampled_from(["sigma", "sigma1", "sigma2", "size", "radius", "bogus", " sigma", "size "])
    params = draw(st.lists(st.tuples(keys, st.sampled_from(["=", "", "=="]), _number_tokens), max_size=4))
    return f"{kind}:" + ",".join(f"{k}{eq}{v}" for k, eq, v in params)


kernel_specs = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(_SPEC_TOKENS), max_size=16).map("".join),
    _inline_specs(),
    _parametric_specs(),
    st.sampled_from(["sobel-x", "box3", "gaussian5", "identity", "mean2", "laplacian8", "Sobel-X", "sobel_x",
                     "3tap", "emboss.yaml", "k.npy", "k.csv"]),
    st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True),
)


def _check_kernel(kernel):
    if kernel is None:
        return
    assert isinstance(kernel, Kernel)
    assert kernel.matrix.ndim == 2 and kernel.matrix.size >= 1 and kernel.matrix.dtype == np.float64
    assert np.isfinite(kernel.matrix).all()
    assert max(kernel.shape) <= 1025 and kernel.matrix.size <= 1_000_000


@settings(max_examples=budget(1500), suppress_health_check=SLOW_OK)
@given(kernel_specs)
def test_fuzz_load_kernel_spec(spec):
    _check_kernel(call(load_kernel, spec))


# YAML: generated documents, and mutations of valid kernel and pipeline files.

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["1e999", ".inf", ".nan", "yes", "0x10", "~", "&a", "*a", "!!str",
                                           "sobel-x", "box:3", "gaussian:sigma=1", "1 0 -1", "[[1, 2]]"]),
)
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=25)
_weights = st.one_of(st.integers(-5, 5), st.floats(-1e3, 1e3), st.floats(), st.integers(), _scalars)
_matrices = st.one_of(
    st.integers(1, 4).flatmap(lambda n: st.lists(st.lists(_weights, min_size=n, max_size=n), min_size=1, max_size=4)),
    st.lists(st.lists(_weights, max_size=4), max_size=4),
    _values,
)
def _dump(document) -> str:
    try:
        return yaml.safe_dump(document, default_flow_style=None, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, ValueError, TypeError):
        return ""


kernel_documents = st.fixed_dictionaries(
    {"matrix": _matrices},
    optional={
        "name": st.one_of(st.just("k"), _scalars),
        "description": st.one_of(st.text(max_size=30), _scalars),
        "scale": st.one_of(st.floats(), st.integers(-(10**400), 10**400), _scalars),
        "normalize": st.one_of(st.booleans(), _scalars),
        "tags": st.one_of(st.lists(st.text(max_size=8), max_size=3), _values),
    },
).map(_dump)

KERNEL_YAML_SEEDS = [
    (
        "name: k\ndescription: Sobel x\nmatrix:\n  - [ 1,  0, -1]\n  - [ 2,  0, -2]\n  - [ 1,  0, -1]\n"
        "tags: [edge, gradient]\n"
    ),
    "matrix: [[1, 2, 1], [2, 4, 2], [1, 2, 1]]\nnormalize: true\nscale: 0.5\n",
    "# a comment\nmatrix:\n- - 1\n  - 1\n- - 1\n  - 1\ndescription: >\n  folded\n  text\n",
    "{matrix: [[1e-3, -.5, +2]], name: k, tags: []}\n",
]

PIPELINE_YAML_SEEDS = [
    (
        "name: p\ndescription: d\nsteps:\n  - gray\n  - filter: {kernels: [sobel-x, sobel-y], mode: same, "
        "boundary: reflect, correlate: true}\n  - pool: {op: max, size: 2, save: 'x.npy'}\n"
        "  - upsample: {method: max-unpool}\n"
    ),
    "steps:\n  - gray\n  - sobel: {component: magnitude, blur: 1.0, boundary: reflect, threshold: 10}\n",
    (
        "steps:\n  - filter: {kernel: '1 0 -1; 2 0 -2', stride: 2, padding: 1, dilation: [1, 2]}\n"
        "  - upsample: {method: transpose, factor: 2, kernel: [[1, 1], [1, 1]], padding: 0, output_padding: 1}\n"
    ),
    (
        "steps:\n- pool:\n    op: avg\n    size: [2, 3]\n    stride: '1,2'\n    ceil: true\n"
        "    padding: [1, 1, 0, 1]\n- pool: {global: true, op: median}\n- filter: {kernel: gaussian:sigma=1, "
        "mode: full, boundary: constant, cval: 3.5, normalize: true}\n- upsample: {method: bilinear, factor: 3}\n"
    ),
]

@pytest.mark.parametrize("kind", ["kernel", "pipeline"])
def test_yaml_seeds_are_valid(kind):
    """The YAML mutators start from files convcli accepts."""
    for text in KERNEL_YAML_SEEDS if kind == "kernel" else PIPELINE_YAML_SEEDS:
        if kind == "kernel":
            parse_kernel_yaml(text, path="k.yaml")
        else:
            parse_pipeline(text, path="p.yaml")


_YAML_BITS = [":", ": ", "-", "- ", "[", "]", "{", "}", ",", "\n", "  ", "    ", "#", "'", '"', "&a ", "*a", "!!",
              "? ", "|", ">", "%YAML 1.2\n", "---\n", "...\n", "\t", "\\", "\x00", "\ufeff", "1e999", ".inf",
              "9" * 40, "null", "true", "~", "steps", "matrix", "kernel", "size", "stride", "padding", "[[1]]",
              "[.inf, 1]", "[1e300, 1]", "-1", "0", "x"]


_YAML_SCALAR = re.compile(r"(?<![\w.+-])(?:[A-Za-z_][\w.-]*|[-+]?[0-9.][\w.+-]*|'[^']*')")


@st.composite
def mutated_text(draw, seeds):
    """A valid file with a few edits: a scalar swapped for another, or YAML-significant text inserted,
    deleted, replaced, lines duplicated or moved."""
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["scalar", "scalar", "scalar", "insert", "delete", "replace", "duplicate-line",
                                    "swap"]))
        bit = draw(st.one_of(st.sampled_from(_YAML_BITS), st.text(min_size=1, max_size=3)))
        if how == "scalar":
            spans = [m.span() for m in _YAML_SCALAR.finditer(text)]
            if spans:
                a, b = spans[draw(st.integers(0, len(spans) - 1))]
                new = draw(st.one_of(st.sampled_from(_NUMBERS + _YAML_BITS), _number_tokens, _scalars.map(_flow)))
                text = text[:a] + new + text[b:]
        elif how == "insert":
            text = text[:pos] + bit + text[pos:]
        elif how == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 8)) :]
        elif how == "replace":
            text = text[:pos] + bit + text[pos + len(bit) :]
        elif how == "duplicate-line":
            lines = text.splitlines(keepends=True) or [""]
            i = pos % len(lines)
            text = "".join(lines[: i + 1] + lines[i:])
        else:
            other = draw(st.integers(0, len(text)))
            a, b = sorted((pos, other))
            text = text[:a] + text[b:] + text[a:b]
    return text


def _flow(value) -> str:
    """A value as one line of flow-style YAML."""
    try:
        return yaml.safe_dump(value, default_flow_style=True, width=1 << 30).strip().removesuffix("...").strip()
    except (yaml.YAMLError, ValueError, TypeError):
        return "x"


kernel_yaml = st.one_of(st.text(max_size=200), kernel_documents, mutated_text(KERNEL_YAML_SEEDS))


@settings(max_examples=budget(1500), suppress_health_check=SLOW_OK)
@given(kernel_yaml, st.sampled_from(["k.yaml", "dir/k.yml", "k.txt", "k", "K.YAML"]))
def test_fuzz_parse_kernel_yaml(text, path):
    _check_kernel(call(parse_kernel_yaml, text, path=path))


# --- (c) pipelines ------------------------------------------------------------------------------------------

def _sometimes_junk(plausible):
    return st.one_of(plausible, plausible, plausible, _values)


_pairs = _sometimes_junk(st.one_of(
    st.integers(-2, 5), st.floats(), st.sampled_from(["2,1", "1x2", "2", "0,1", "a,b", "", "3,3,3"]),
    st.lists(st.one_of(st.integers(-2, 5), st.floats(), st.integers()), max_size=3),
))
_paddings = _sometimes_junk(st.one_of(
    st.integers(-1, 4), st.sampled_from(["1", "1,2", "0,1,1,0", "1,2,3", "-1"]),
    st.lists(st.one_of(st.integers(-1, 4), st.floats()), max_size=5),
))
_numbers = _sometimes_junk(st.one_of(st.floats(), st.integers(-(10**30), 10**30)))
_flags = _sometimes_junk(st.booleans())
_kernel_values = _sometimes_junk(st.one_of(
    st.sampled_from(["sobel-x", "box3", "mean2", "gaussian:sigma=1", "1 0 -1", "nope", "k.yaml", "sub/k.txt",
                     "../k.yaml", "/etc/passwd.txt"]),
    kernel_specs, st.lists(st.lists(_weights, min_size=1, max_size=3), min_size=1, max_size=3),
))
_OPTION_VALUES = {
    "kernel": _kernel_values,
    "kernels": _sometimes_junk(st.lists(_kernel_values, max_size=3)),
    "normalize": _flags, "correlate": _flags, "ceil": _flags, "global": _flags,
    "mode": _sometimes_junk(st.sampled_from(["same", "valid", "full", "SAME", "ceil"])),
    "boundary": _sometimes_junk(st.sampled_from(["zero", "constant", "reflect", "symmetric", "edge", "wrap", "mirror",
                                                 "replicate", "circular", "symm", "fill", "nearest"])),
    "cval": _numbers, "threshold": _numbers, "blur": _numbers,
    "stride": _pairs, "dilation": _pairs, "size": _pairs, "factor": _pairs, "output_padding": _pairs,
    "output-padding": _pairs, "padding": _paddings,
    "operator": _sometimes_junk(st.sampled_from(["sobel", "scharr", "prewitt", "roberts"])),
    "component": _sometimes_junk(st.sampled_from(["magnitude", "x", "y", "direction", "z"])),
    "op": _sometimes_junk(st.sampled_from(["max", "avg", "min", "sum", "median", "mean"])),
    "method": _sometimes_junk(st.sampled_from(["nearest", "zeros", "bilinear", "transpose", "max-unpool", "cubic"])),
    "save": _sometimes_junk(st.sampled_from(["x.npy", "{stem}-a.png", "", " "])),
    "bogus": _values,
}
_OPS = ["gray", "filter", "sobel", "pool", "upsample"]
#: The options each step takes (as the README's Pipelines section lists them), plus `save`; a stray one now and then.
_STEP_KEYS = {
    "gray": ["save"],
    "filter": ["kernel", "kernel", "kernels", "normalize", "mode", "boundary", "cval", "stride", "padding",
               "dilation", "correlate", "save"],
    "sobel": ["operator", "component", "blur", "threshold", "mode", "boundary", "cval", "stride", "padding",
              "dilation", "correlate", "save"],
    "pool": ["op", "size", "size", "stride", "mode", "ceil", "padding", "global", "save"],
    "upsample": ["method", "factor", "factor", "kernel", "padding", "output_padding", "output-padding", "save"],
}


_REQUIRED = {"filter": ["kernel"], "pool": ["size"], "upsample": ["factor"]}


def _options_for(op):
    extra = st.lists(st.one_of(st.sampled_from(_STEP_KEYS[op]), st.sampled_from(_STEP_KEYS[op]),
                               st.sampled_from(sorted(_OPTION_VALUES))), max_size=4)
    keys = st.tuples(st.integers(1, 6), extra).map(
        lambda t: list(dict.fromkeys((_REQUIRED.get(op, []) if t[0] < 6 else []) + t[1])))
    return keys.flatmap(lambda names: st.fixed_dictionaries({k: _OPTION_VALUES[k] for k in names}))


_good_steps = st.one_of(
    st.sampled_from(_OPS),
    st.sampled_from(_OPS).flatmap(lambda op: _options_for(op).map(lambda options: {op: options})),
)
_bad_steps = st.one_of(
    st.sampled_from(["blur", "Gray"]),
    st.builds(lambda op, options: {op: options}, st.sampled_from(_OPS + ["conv"]),
              st.one_of(st.none(), _scalars, _values)),
    _values,
)


def _mostly(good, bad, *, one_in: int = 8):
    """``good``, or ``bad`` about once in ``one_in`` draws."""
    return st.integers(1, one_in).flatmap(lambda n: bad if n == one_in else good)


_step_lists = st.lists(_mostly(_good_steps, _bad_steps), min_size=1, max_size=5)
pipeline_documents = _mostly(
    st.fixed_dictionaries({"steps": _step_lists},
                          optional={"name": st.text(max_size=8), "description": st.text(max_size=20)}),
    st.one_of(
        st.fixed_dictionaries({"steps": st.one_of(_step_lists, _values)},
                              optional={"name": _scalars, "description": _scalars, "extra": _values}),
        _values,
    ),
    one_in=6,
).map(_dump)
pipeline_yaml = st.one_of(st.text(max_size=200), pipeline_documents, mutated_text(PIPELINE_YAML_SEEDS))


@settings(max_examples=budget(1200), suppress_health_check=SLOW_OK)
@given(pipeline_yaml)
def test_fuzz_parse_pipeline(text):
    steps = call(parse_pipeline, text, path="fuzz.yaml")
    if steps is None:
        return
    assert isinstance(steps, list) and steps and all(isinstance(s, Step) for s in steps)
    # A checked pipeline plans (shapes only) or says why not, in convcli's own words.
    for shape in ((8, 8), (9, 7, 3)):
        planned = call(plan, steps, shape, max_pixels=1 << 20)
        if planned is not None:
            assert all(n >= 1 for n in planned.shape)


# --- regression tests: crashes the harnesses found ---------------------------------------------------------


def _raises_convcli_error(fn, *args, **kwargs):
    with pytest.raises(ConvcliError):
        fn(*args, **kwargs)


@pytest.mark.parametrize("text", [
    "steps:\n  - pool: {size: [.inf, 1]}\n",
    "steps:\n  - filter: {kernel: box3, stride: [.inf, 1]}\n",
    "steps:\n  - pool: {size: 2, padding: [.inf]}\n",
    "steps:\n  - upsample: {factor: [-.inf]}\n",
])
def test_regression_pipeline_infinite_pair_values(text):
    _raises_convcli_error(parse_pipeline, text, path="p.yaml")


@pytest.mark.parametrize("which", ["kernel", "pipeline"])
def test_regression_yaml_integer_with_too_many_digits(which):
    digits = "1" * 4301
    if which == "kernel":
        _raises_convcli_error(parse_kernel_yaml, f"matrix: [[{digits}]]\n", path="k.yaml")
    else:
        _raises_convcli_error(parse_pipeline, f"steps:\n  - pool: {{size: {digits}}}\n", path="p.yaml")


@pytest.mark.parametrize("spec", ["a" * 300 + ".txt", "a" * 300])
def test_regression_load_kernel_overlong_name(spec):
    _raises_convcli_error(load_kernel, spec)


def test_regression_kernel_yaml_huge_integer_scale():
    _raises_convcli_error(parse_kernel_yaml, "matrix: [[1]]\nscale: 1" + "0" * 309 + "\n", path="k.yaml")


def test_regression_error_message_is_one_line_whatever_the_path():
    """Found by the fuzzer (fixed in 756a394): a path holding a line break gave a two-line error."""
    with pytest.raises(ConvcliError) as caught:
        load_kernel("\n.yml")
    assert "\n" not in str(caught.value)


def _png(ihdr: bytes, idat: bytes) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_regression_damaged_png_prints_nothing_on_stderr(capfd):
    """Found by the fuzzer (fixed in 756a394): good chunk CRCs around an IDAT that is not zlib data made
    libpng (inside OpenCV) print 'libpng error: IDAT: invalid block type' on standard error."""
    data = _png(struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0), b"\x78\x9c" + b"\xff" * 8)
    with pytest.raises(ConvcliError):
        read_image(data)
    assert capfd.readouterr().err == ""


def _tiff_tag_value(data: bytes, tag: int) -> int:
    ifd = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack_from("<H", data, entry)[0] == tag:
            return struct.unpack_from("<I", data, entry + 8)[0]
    raise LookupError(tag)


def test_regression_damaged_lzw_tiff_prints_nothing_on_stderr(capfd):
    from PIL import Image

    data = bytearray(_pil_bytes(Image.fromarray(_pattern((5, 7, 3))), "TIFF", compression="tiff_lzw"))
    strip = _tiff_tag_value(data, 273)  # StripOffsets: the LZW data starts with the clear code
    data[strip] ^= 1
    with pytest.raises(ConvcliError):
        read_image(bytes(data))
    assert capfd.readouterr().err == ""


def test_regression_tiff_unknown_photometric_is_named():
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, np.zeros((2, 3), np.uint8))
    data = bytearray(buf.getvalue())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack_from("<H", data, entry)[0] == 262:  # PhotometricInterpretation
            struct.pack_into("<H", data, entry + 8, 99)
    with pytest.raises(ConvcliError) as caught:
        read_image(bytes(data))
    assert "photometric" in str(caught.value).lower() and "attribute" not in str(caught.value)


def test_regression_jpeg_with_truncated_exif_reads_without_warnings():
    from PIL import Image

    # An EXIF block that says it holds 2 entries and holds 1 (orientation 6).
    exif = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x02" + b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00"
    data = _pil_bytes(Image.fromarray(np.zeros((4, 5, 3), np.uint8)), "JPEG", exif=exif)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        array, _info = read_image(data)
    assert array.shape == (4, 5, 3)
    assert [str(w.message) for w in caught] == []
