"""A corpus of bad (and awkward but valid) inputs for convcli, every file made here from code.

Nothing is downloaded and nothing binary is committed: each case is a function that writes its
files (damaged images, hostile YAML, links, FIFOs, ...) into a folder, plus the command line to
run there and what must happen (README, Reports and exit codes): the exit code (1: a file failed, 2: usage error, 0: a
valid file with a defined behaviour), a piece of the one-line error, and the file that line must
name. ``tests/test_corpus.py`` runs every case through the installed ``convcli``.

    python tests/corpus/make_corpus.py DIR            # every case's files in DIR/<case-id>/
    python tests/corpus/make_corpus.py DIR png-crc    # only the cases whose id contains "png-crc"
    python tests/corpus/make_corpus.py --list         # id, kind, exit code and command of each case

Each DIR/<case-id>/ also gets ``CASE.txt``: the command to run inside it and what to expect.
Needs NumPy and Pillow (convcli's own dependencies); never imports convcli.
"""

from __future__ import annotations

import io
import os
import shlex
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["CASES", "Case", "make"]

KINDS = ("image", "accepted", "kernel", "pipeline", "output")


@dataclass(frozen=True)
class Case:
    """One corpus case: its files, its command line and what convcli must do with it."""

    id: str
    kind: str                      # one of KINDS
    make: Callable[[Path], None]   # writes the case's files into a folder
    argv: tuple[str, ...]          # the command line after `convcli`
    exit: int                      # 0 (accepted), 1 (a file failed) or 2 (usage error)
    message: str | tuple = ""      # a piece of every error line (or of the i-th, given one per line)
    names: str | tuple = ""        # the file every error line (or the i-th) must name
    failing: int = 1               # error lines expected (one per failing file); 0 for exit 0
    new: tuple[str, ...] = ()      # paths (relative) the run may and must create; nothing else
    shape: tuple[int, ...] | None = None   # accepted: the output's shape (first of `new`)
    dtype: str | None = None       # accepted: the output's dtype
    stderr: str = ""               # accepted: a note standard error must carry
    check: Callable[[Path], None] | None = None   # accepted: a further check of the outputs
    skip_root: bool = False        # meaningless as root (permissions)
    needs: str = ""                # a path that must exist on this system (/dev/zero)
    max_seconds: float | None = None   # the run must be this quick (refused from the header)

    @property
    def command(self) -> str:
        return "convcli " + shlex.join(self.argv)


CASES: list[Case] = []


def case(id: str, kind: str, command: str, exit: int, message: str = "", **kw) -> Callable:
    """Register the decorated function as the maker of case ``id``; ``command`` is split like a shell."""
    assert kind in KINDS, kind
    argv = tuple(shlex.split(command))

    def register(maker: Callable[[Path], None]) -> Callable[[Path], None]:
        assert all(c.id != id for c in CASES), f"duplicate case id {id}"
        names = kw.pop("names", None)
        if names is None:
            names = "" if exit == 0 else argv[1]  # the first INPUT (or the pipeline file)
        failing = kw.pop("failing", 0 if exit == 0 else 1)
        CASES.append(Case(id, kind, maker, argv, exit, message, names, failing, **kw))
        return maker

    return register


def make(case: Case, folder: Path) -> Path:
    """Write ``case``'s files into ``folder`` (created) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    case.make(folder)
    return folder


# ------------------------------------------------------------------------------------------------
# Building blocks: pixels and file formats written byte by byte or with Pillow


def noise(h: int, w: int, c: int | None = None, *, seed: int = 0, dtype=np.uint8) -> np.ndarray:
    top = np.iinfo(dtype).max
    shape = (h, w) if c is None else (h, w, c)
    return np.random.default_rng(seed).integers(0, top, size=shape, endpoint=True, dtype=dtype)


def chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def ihdr(width: int, height: int, depth: int = 8, color: int = 0) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0))


def png_bytes(array: np.ndarray) -> bytes:
    """A PNG of an 8- or 16-bit grey (H, W) or RGB (H, W, 3) array, written by hand (filter 0)."""
    h, w = array.shape[:2]
    color = 0 if array.ndim == 2 else 2
    depth = 16 if array.dtype == np.uint16 else 8
    rows = np.ascontiguousarray(array, dtype=">u2" if depth == 16 else np.uint8).view(np.uint8).reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()
    return (PNG_SIGNATURE + ihdr(w, h, depth, color) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def pil_bytes(image: Image.Image, format: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=format, **options)
    return buf.getvalue()


def rgb(h: int = 24, w: int = 32, seed: int = 0) -> Image.Image:
    return Image.fromarray(noise(h, w, 3, seed=seed))


def pil_image(mode: str, array: np.ndarray) -> Image.Image:
    """A Pillow image of ``mode`` ("CMYK", "LA", ...) holding ``array`` (H, W, C) uint8."""
    return Image.frombytes(mode, (array.shape[1], array.shape[0]), np.ascontiguousarray(array).tobytes())


def npy_bytes(array: np.ndarray, *, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def good_png(folder: Path, name: str = "in.png", *, h: int = 12, w: int = 16, seed: int = 1) -> Path:
    return write(folder, name, png_bytes(noise(h, w, seed=seed)))


def kernel_yaml(folder: Path, name: str, text: str) -> Path:
    good_png(folder)
    return write(folder, name, text)


# ------------------------------------------------------------------------------------------------
# Images that must be refused: exit 1, one line naming the file, no output

F = "filter {} -k box3 -o out.png"


@case("img-zero-byte", "image", F.format("empty.png"), 1, "is empty (0 bytes)")
def _(d):
    write(d, "empty.png", b"")


@case("img-png-signature-only", "image", F.format("sig.png"), 1, "truncated header")
def _(d):
    write(d, "sig.png", PNG_SIGNATURE)


@case("img-png-header-only", "image", F.format("head.png"), 1, "truncated before the image data")
def _(d):
    write(d, "head.png", PNG_SIGNATURE + ihdr(16, 12))


@case("img-png-truncated", "image", F.format("cut.png"), 1, "truncated")
def _(d):
    data = png_bytes(noise(32, 32, 3, seed=2))
    write(d, "cut.png", data[: len(data) // 2])


@case("img-png-no-iend", "image", F.format("noend.png"), 1, "no IEND")
def _(d):
    data = png_bytes(noise(8, 8, seed=3))
    write(d, "noend.png", data[:-12])


@case("img-png-idat-crc", "image", F.format("crc.png"), 1, "bad CRC")
def _(d):
    raw = png_bytes(noise(16, 16, seed=4))
    data = bytearray(raw)
    data[-13] ^= 0xFF  # the last byte of the IDAT chunk's CRC (IEND is the last 12 bytes)
    write(d, "crc.png", bytes(data))


@case("img-png-ihdr-crc", "image", F.format("ihdrcrc.png"), 1, "bad CRC")
def _(d):
    data = bytearray(png_bytes(noise(16, 16, seed=5)))
    data[29] ^= 0xFF  # inside the IHDR chunk's CRC (bytes 29-32)
    write(d, "ihdrcrc.png", bytes(data))


@case("img-png-bad-zlib", "image", F.format("zlib.png"), 1, "cannot read PNG")
def _(d):
    garbage = bytes(np.random.default_rng(6).integers(0, 256, 200, dtype=np.uint8))
    write(d, "zlib.png", PNG_SIGNATURE + ihdr(16, 12) + chunk(b"IDAT", garbage) + chunk(b"IEND", b""))


@case("img-png-short-idat", "image", F.format("short.png"), 1, "cannot read PNG")
def _(d):
    # Valid zlib, valid CRCs, but only 3 of the 12 rows the header promises.
    raw = b"".join(b"\x00" + bytes(range(16)) for _ in range(3))
    write(d, "short.png", PNG_SIGNATURE + ihdr(16, 12) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@case("img-png-huge", "image", F.format("huge.png"), 1, "limit", max_seconds=10.0)
def _(d):
    # 100000×100000 declared, 60 bytes on disk: refused from the header, never allocated.
    tiny = zlib.compress(b"\x00" * 1000)
    write(d, "huge.png", PNG_SIGNATURE + ihdr(100_000, 100_000) + chunk(b"IDAT", tiny) + chunk(b"IEND", b""))


@case("img-png-huge-dry-run", "image", "filter huge.png -k box3 -o out.png --dry-run", 1, "limit", max_seconds=10.0)
def _(d):
    write(d, "huge.png", PNG_SIGNATURE + ihdr(100_000, 100_000) + chunk(b"IDAT", zlib.compress(b"\0"))
          + chunk(b"IEND", b""))


def _patched(data: bytes, offset_of: Callable[[bytes], int], fmt: str, *values: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset_of(data), *values)
    return bytes(out)


@case("img-jpeg-huge", "image", F.format("huge.jpg"), 1, "limit", max_seconds=10.0)
def _(d):
    # The SOF0 frame header says 65000×65000: refused from the header, never decoded.
    data = pil_bytes(rgb(16, 16, seed=50), "JPEG")
    write(d, "huge.jpg", _patched(data, lambda b: b.find(b"\xff\xc0") + 5, ">HH", 65_000, 65_000))


@case("img-gif-huge", "image", F.format("huge.gif"), 1, "limit", max_seconds=10.0)
def _(d):
    data = _patched(pil_bytes(rgb(16, 16, seed=51).quantize(8), "GIF"), lambda b: 6, "<HH", 65_535, 65_535)
    write(d, "huge.gif", _patched(data, lambda b: b.find(b"\x2c", 13) + 5, "<HH", 65_535, 65_535))


@case("img-bmp-huge", "image", F.format("huge.bmp"), 1, "limit", max_seconds=10.0)
def _(d):
    write(d, "huge.bmp", _patched(pil_bytes(rgb(16, 16, seed=52), "BMP"), lambda b: 18, "<ii", 100_000, 100_000))


def tiff_header_only(width: int, height: int) -> bytes:
    """A grey 8-bit TIFF whose one strip (declared width × height bytes) is not in the file."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8),
               (277, 3, 1), (278, 4, height), (279, 4, (width * height) & 0xFFFFFFFF)]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        ifd += struct.pack("<HHII", tag, kind, 1, value) if kind == 4 else struct.pack("<HHIHH", tag, kind, 1, value, 0)
    return b"II*\x00" + struct.pack("<I", 8 + 64) + bytes(64) + ifd + struct.pack("<I", 0)


# A TIFF or .npy is read by parts (streamed), so no pixel or side limit holds it: a huge header
# without its data is refused as truncated, before any band is read.
@case("img-tiff-huge", "image", F.format("huge.tif"), 1, "truncated", max_seconds=10.0)
def _(d):
    write(d, "huge.tif", tiff_header_only(100_000, 100_000))


@case("img-tiff-missing-strip", "image", F.format("short.tif"), 1, "cannot read TIFF", max_seconds=10.0)
def _(d):
    write(d, "short.tif", tiff_header_only(12_000, 12_000))  # 144 MB promised, 178 bytes on disk


@case("img-webp-huge", "image", F.format("huge.webp"), 1, "limit", max_seconds=10.0)
def _(d):
    side = 16_383  # the largest WebP: 268 million pixels, over the default limit
    vp8l = b"\x2f" + struct.pack("<I", (side - 1) | ((side - 1) << 14)) + bytes(20)
    body = b"WEBP" + b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l
    write(d, "huge.webp", b"RIFF" + struct.pack("<I", len(body)) + body)


def npy_header_only(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    header = header.ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin-1") + bytes(64)


@case("img-npy-huge", "image", "filter huge.npy -k box3 -o out.npy", 1, "header promises 80,000,000,000 bytes",
      max_seconds=10.0)
def _(d):
    write(d, "huge.npy", npy_header_only((100_000, 100_000)))


@case("img-npy-missing-data", "image", "filter short.npy -k box3 -o out.npy", 1, "cannot read .npy",
      max_seconds=10.0)
def _(d):
    write(d, "short.npy", npy_header_only((12_000, 12_000)))  # 1.15 GB promised, 64 bytes on disk


@case("img-max-pixels", "image", "filter in.png -k box3 -o out.png --max-pixels 100", 1, "limit", names="in.png")
def _(d):
    good_png(d)  # 16×12 = 192 pixels, over --max-pixels 100


@case("img-png-zero-width", "image", F.format("w0.png"), 1, "invalid size 0×12")
def _(d):
    write(d, "w0.png", PNG_SIGNATURE + ihdr(0, 12) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


@case("img-png-zero-height", "image", F.format("h0.png"), 1, "invalid size 16×0")
def _(d):
    write(d, "h0.png", PNG_SIGNATURE + ihdr(16, 0) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


@case("img-png-bad-depth", "image", F.format("depth.png"), 1, "invalid colour type 2 with bit depth 3")
def _(d):
    write(d, "depth.png", PNG_SIGNATURE + ihdr(4, 4, depth=3, color=2) + chunk(b"IDAT", zlib.compress(b"\0" * 20))
          + chunk(b"IEND", b""))


@case("img-png-palette-no-plte", "image", F.format("noplte.png"), 1, "without a valid palette")
def _(d):
    raw = b"".join(b"\x00" + bytes(4) for _ in range(4))
    write(d, "noplte.png", PNG_SIGNATURE + ihdr(4, 4, color=3) + chunk(b"IDAT", zlib.compress(raw))
          + chunk(b"IEND", b""))


@case("img-jpeg-header-only", "image", F.format("head.jpg"), 1, "cannot read JPEG")
def _(d):
    write(d, "head.jpg", pil_bytes(rgb(), "JPEG")[:20])  # SOI and the start of APP0


@case("img-jpeg-truncated", "image", F.format("cut.jpg"), 1, "cannot read JPEG")
def _(d):
    data = pil_bytes(rgb(64, 64, seed=7), "JPEG", quality=95)
    write(d, "cut.jpg", data[: len(data) // 2])


@case("img-gif-header-only", "image", F.format("head.gif"), 1, "cannot read GIF")
def _(d):
    write(d, "head.gif", b"GIF89a" + struct.pack("<HHBBB", 16, 12, 0, 0, 0))  # screen descriptor, no image


@case("img-gif-truncated", "image", F.format("cut.gif"), 1, "cannot read GIF")
def _(d):
    data = pil_bytes(rgb(64, 64, seed=8).convert("P"), "GIF")
    write(d, "cut.gif", data[: len(data) // 2])


@case("img-tiff-header-only", "image", F.format("head.tif"), 1, "cannot read TIFF")
def _(d):
    write(d, "head.tif", b"II*\x00" + struct.pack("<I", 4096))  # first IFD past the end of the file


@case("img-tiff-truncated", "image", F.format("cut.tif"), 1, "cannot read TIFF")
def _(d):
    data = pil_bytes(rgb(64, 64, seed=9), "TIFF")  # uncompressed: pixels first, IFD at the end
    write(d, "cut.tif", data[: len(data) // 2])


@case("img-tiff-strips-cut", "image", F.format("strips.tif"), 1, "cannot read TIFF")
def _(d):
    # A TIFF whose IFD (written first by tifffile) promises strips the file no longer holds.
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, noise(64, 64, seed=10), photometric="minisblack", metadata=None)
    data = buf.getvalue()
    write(d, "strips.tif", data[: len(data) - 2048])


@case("img-webp-header-only", "image", F.format("head.webp"), 1, "cannot read WebP")
def _(d):
    write(d, "head.webp", b"RIFF" + struct.pack("<I", 4) + b"WEBP")


@case("img-webp-truncated", "image", F.format("cut.webp"), 1, "cannot read WebP")
def _(d):
    data = pil_bytes(rgb(64, 64, seed=11), "WEBP", lossless=True)
    write(d, "cut.webp", data[: len(data) // 2])


@case("img-bmp-header-only", "image", F.format("head.bmp"), 1, "cannot read BMP")
def _(d):
    write(d, "head.bmp", pil_bytes(rgb(), "BMP")[:54])  # file and DIB headers, no pixels


@case("img-bmp-truncated", "image", F.format("cut.bmp"), 1, "cannot read BMP")
def _(d):
    data = pil_bytes(rgb(64, 64, seed=12), "BMP")
    write(d, "cut.bmp", data[: len(data) // 2])


@case("img-text-as-png", "image", F.format("text.png"), 1, "not a supported image")
def _(d):
    write(d, "text.png", "this is not an image\n")


@case("img-svg-as-png", "image", F.format("vector.png"), 1, "not a supported image")
def _(d):
    write(d, "vector.png", '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
          '<rect width="10" height="10"/></svg>\n')


@case("img-pdf-as-png", "image", F.format("doc.png"), 1, "not a supported image")
def _(d):
    write(d, "doc.png", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


@case("img-html-as-png", "image", F.format("page.png"), 1, "not a supported image")
def _(d):
    write(d, "page.png", "<!DOCTYPE html>\n<html><body><img src=x onerror=alert(1)></body></html>\n")


@case("img-zip-as-png", "image", F.format("archive.png"), 1, "not a supported image")
def _(d):
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("image.png", png_bytes(noise(4, 4)))
    write(d, "archive.png", buf.getvalue())


@case("img-postscript-as-png", "image", F.format("print.png"), 1, "not a supported image")
def _(d):
    write(d, "print.png", "%!PS-Adobe-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\nshowpage\n")


@case("img-npy-object-pickle", "image", "filter obj.npy -k box3 -o out.npy", 1, "pickle")
def _(d):
    array = np.empty((2, 2), dtype=object)
    array[...] = [[1, "os.system"], [None, 2.5]]
    write(d, "obj.npy", npy_bytes(array, allow_pickle=True))


@case("img-npy-4d", "image", "filter four.npy -k box3 -o out.npy", 1, "has shape (2, 3, 4, 5)")
def _(d):
    write(d, "four.npy", npy_bytes(np.zeros((2, 3, 4, 5), np.float32)))


@case("img-npy-0d", "image", "filter scalar.npy -k box3 -o out.npy", 1, "has shape ()")
def _(d):
    write(d, "scalar.npy", npy_bytes(np.float32(1.5)))


@case("img-npy-complex", "image", "filter complex.npy -k box3 -o out.npy", 1, "complex")
def _(d):
    write(d, "complex.npy", npy_bytes(np.ones((4, 4), np.complex64)))


@case("img-npy-nan", "image", "filter nan.npy -k box3 -o out.npy", 1, "NaN or inf")
def _(d):
    array = np.ones((4, 4), np.float32)
    array[1, 2] = np.nan
    write(d, "nan.npy", npy_bytes(array))


@case("img-npy-inf", "image", "filter inf.npy -k box3 -o out.npy", 1, "NaN or inf")
def _(d):
    array = np.ones((4, 4), np.float64)
    array[3, 0] = -np.inf
    write(d, "inf.npy", npy_bytes(array))


@case("img-npy-fake-header", "image", "filter fake.npy -k box3 -o out.npy", 1, "cannot read .npy")
def _(d):
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), } __import__('os') "
    write(d, "fake.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header)


@case("img-npy-truncated", "image", "filter cut.npy -k box3 -o out.npy", 1, "cannot read .npy")
def _(d):
    data = npy_bytes(np.ones((64, 64), np.float64))
    write(d, "cut.npy", data[: len(data) // 2])


@case("img-npy-structured", "image", "filter rec.npy -k box3 -o out.npy", 1, "structured array")
def _(d):
    write(d, "rec.npy", npy_bytes(np.zeros((4, 4), dtype=[("r", "u1"), ("g", "u1")])))


@case("img-npy-empty", "image", "filter empty.npy -k box3 -o out.npy", 1, "is empty (shape (0, 4))")
def _(d):
    write(d, "empty.npy", npy_bytes(np.zeros((0, 4), np.float32)))


@case("img-missing", "image", F.format("missing.png"), 1, "no such file")
def _(d):
    pass


@case("img-dangling-link", "image", F.format("dangling.png"), 1, "no such file")
def _(d):
    os.symlink("nowhere.png", d / "dangling.png")


@case("img-directory-named-png", "image", F.format("x.png"), 2, "no image files in this folder")
def _(d):
    # A folder INPUT stands for the images in it (README, Batch jobs): an empty one is a usage error.
    (d / "x.png").mkdir()


@case("img-fifo", "image", F.format("fifo.png"), 1, "is a FIFO", max_seconds=10.0)
def _(d):
    os.mkfifo(d / "fifo.png")  # nobody ever writes to it: reading it would hang


@case("img-link-dev-zero", "image", F.format("zero.png"), 1, "is a device", needs="/dev/zero", max_seconds=10.0)
def _(d):
    os.symlink("/dev/zero", d / "zero.png")  # endless zeros: reading it all would never end


@case("img-link-dev-null", "image", "filter null.npy -k box3 -o out.npy --dry-run", 1, "is a device",
      needs="/dev/null")
def _(d):
    os.symlink("/dev/null", d / "null.npy")


@case("img-stdin-empty", "image", "filter - -k box3 -o out.png", 1, "is empty (0 bytes)", names="<stdin>")
def _(d):
    pass  # the test runs every case with standard input at /dev/null


@case("img-batch-one-bad", "image",
      "filter a.png broken.png c.png -k box3 -O out --name '{index}-{stem}{ext}' -j 1", 1,
      "not a supported image", names="broken.png", new=("out", "out/1-a.png", "out/3-c.png"))
def _(d):
    good_png(d, "a.png", seed=13)
    write(d, "broken.png", "not an image")
    good_png(d, "c.png", seed=14)


@case("img-batch-three-bad", "image",
      "pool a.png empty.png fifo.png cut.jpg e.png --op max --size 2 -O out -j 1", 1,
      ("is empty (0 bytes)", "is a FIFO", "cannot read JPEG"), failing=3, names=("empty.png", "fifo.png", "cut.jpg"),
      new=("out", "out/a.png", "out/e.png"))
def _(d):
    # Three failing files, one line each; the two good ones are still done.
    good_png(d, "a.png", seed=15)
    write(d, "empty.png", b"")
    os.mkfifo(d / "fifo.png")
    data = pil_bytes(rgb(64, 64, seed=16), "JPEG")
    write(d, "cut.jpg", data[: len(data) // 2])
    good_png(d, "e.png", seed=17)


@case("img-batch-workers", "image", "filter a.png zero.png cut.png d.png -k box3 -O out -j 2", 1,
      ("is a device", "truncated"), failing=2, names=("zero.png", "cut.png"), new=("out", "out/a.png", "out/d.png"),
      needs="/dev/zero")
def _(d):
    # The same through two worker processes: still one line per failing file, no temporary file.
    good_png(d, "a.png", seed=18)
    os.symlink("/dev/zero", d / "zero.png")
    data = png_bytes(noise(32, 32, seed=19))
    write(d, "cut.png", data[: len(data) // 2])
    good_png(d, "d.png", seed=20)


# ------------------------------------------------------------------------------------------------
# Valid but awkward images: exit 0 and the shape the README documents

A = "filter {} -k identity -o {}"


def _pixels_equal_to(expected: Callable[[], np.ndarray], output: str = "out.npy") -> Callable[[Path], None]:
    def check(folder: Path) -> None:
        got = np.load(folder / output)
        want = expected()
        assert np.array_equal(got, want.astype(got.dtype)), "pixels differ from the stored ones"

    return check


@case("ok-jpeg-exif-rotated", "accepted", A.format("rotated.jpg", "out.npy"), 0, new=("out.npy",),
      shape=(20, 30, 3), dtype="float32", stderr="EXIF orientation 6 was not applied")
def _(d):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": not applied, pixels as stored
    write(d, "rotated.jpg", pil_bytes(rgb(20, 30, seed=21), "JPEG", exif=exif.tobytes()))


@case("ok-jpeg-cmyk", "accepted", A.format("cmyk.jpg", "out.npy"), 0, new=("out.npy",),
      shape=(20, 30, 3), dtype="float32", stderr="CMYK converted to RGB")
def _(d):
    write(d, "cmyk.jpg", pil_bytes(pil_image("CMYK", noise(20, 30, 4, seed=22)), "JPEG"))


@case("ok-png-palette-rgb", "accepted", A.format("pal.png", "out.npy"), 0, new=("out.npy",),
      shape=(10, 14, 3), dtype="float32", stderr="palette image read as RGB")
def _(d):
    write(d, "pal.png", pil_bytes(rgb(10, 14, seed=23).quantize(16), "PNG"))


@case("ok-png-palette-grey", "accepted", A.format("palgrey.png", "out.npy"), 0, new=("out.npy",),
      shape=(10, 14), dtype="float32", stderr="palette image read as grey")
def _(d):
    image = Image.fromarray(noise(10, 14, seed=24) // 16 * 16).convert("P")
    image.putpalette([v for i in range(256) for v in (i, i, i)])
    write(d, "palgrey.png", pil_bytes(image, "PNG"))


@case("ok-png-palette-transparent", "accepted", A.format("paltrns.png", "out.npy"), 0, new=("out.npy",),
      shape=(10, 14, 4), dtype="float32", stderr="palette image read as RGB")
def _(d):
    write(d, "paltrns.png", pil_bytes(rgb(10, 14, seed=25).quantize(8), "PNG", transparency=0))


@case("ok-png-mode-1", "accepted", A.format("bits.png", "out.png"), 0, new=("out.png",),
      shape=(9, 13), dtype="uint8", stderr="1-bit image read as 0 and 255")
def _(d):
    write(d, "bits.png", pil_bytes(Image.fromarray(noise(9, 13, seed=26) > 127).convert("1"), "PNG"))


@case("ok-png-16bit-grey", "accepted", A.format("deep.png", "out.png"), 0, new=("out.png",),
      shape=(9, 13), dtype="uint16")
def _(d):
    write(d, "deep.png", png_bytes(noise(9, 13, seed=27, dtype=np.uint16)))


@case("ok-png-16bit-rgb", "accepted", A.format("deeprgb.png", "out.npy"), 0, new=("out.npy",),
      shape=(9, 13, 3), dtype="float32",
      check=_pixels_equal_to(lambda: noise(9, 13, 3, seed=28, dtype=np.uint16)))
def _(d):
    write(d, "deeprgb.png", png_bytes(noise(9, 13, 3, seed=28, dtype=np.uint16)))


@case("ok-png-grey-alpha", "accepted", A.format("la.png", "out.png"), 0, new=("out.png",),
      shape=(9, 13, 2), dtype="uint8")
def _(d):
    write(d, "la.png", pil_bytes(pil_image("LA", noise(9, 13, 2, seed=29)), "PNG"))


def _gif_frames() -> list[Image.Image]:
    return [rgb(12, 16, seed=30 + i).quantize(32) for i in range(3)]


@case("ok-gif-animated", "accepted", A.format("anim.gif", "out.npy"), 0, new=("out.npy",),
      shape=(12, 16, 3), dtype="float32", stderr="GIF has 3 frames; the first was used",
      check=_pixels_equal_to(lambda: np.asarray(_gif_frames()[0].convert("RGB"))))
def _(d):
    frames = _gif_frames()
    write(d, "anim.gif", pil_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0))


@case("ok-png-apng", "accepted", A.format("anim.png", "out.npy"), 0, new=("out.npy",),
      shape=(12, 16, 3), dtype="float32", stderr="PNG has 2 frames (APNG); the first was used",
      check=_pixels_equal_to(lambda: noise(12, 16, 3, seed=33)))
def _(d):
    frames = [Image.fromarray(noise(12, 16, 3, seed=33 + i)) for i in range(2)]
    write(d, "anim.png", pil_bytes(frames[0], "PNG", save_all=True, append_images=frames[1:]))


@case("ok-tiff-multipage", "accepted", A.format("pages.tif", "out.npy"), 0, new=("out.npy",),
      shape=(12, 16), dtype="float32", stderr="TIFF has 2 pages; the first was used",
      check=_pixels_equal_to(lambda: noise(12, 16, seed=35)))
def _(d):
    import tifffile

    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        for seed in (35, 36):
            tif.write(noise(12, 16, seed=seed), photometric="minisblack", metadata=None)
    write(d, "pages.tif", buf.getvalue())


@case("ok-kernel-leading-zero", "accepted", "filter ones.npy -k k.yaml -o out.npy", 0, new=("out.npy",),
      shape=(2, 3), dtype="float32", check=_pixels_equal_to(lambda: np.full((2, 3), 10.0)))
def _(d):
    # YAML 1.2: 010 is ten, never octal eight.
    write(d, "ones.npy", npy_bytes(np.ones((2, 3), np.float32)))
    write(d, "k.yaml", "matrix: [[010]]\n")


# ------------------------------------------------------------------------------------------------
# Kernels: a usage error (exit 2) that names the kernel file (or spec), nothing read, nothing written

K = "filter in.png -k {} -o out.png"


@case("kern-ragged", "kernel", K.format("k.yaml"), 2, "row 2 has 2 values, row 1 has 3", names="k.yaml:3")
def _(d):
    kernel_yaml(d, "k.yaml", "matrix:\n  - [1, 2, 3]\n  - [4, 5]\n  - [6, 7, 8]\n")


@case("kern-empty-matrix", "kernel", K.format("k.yaml"), 2, "the matrix is empty", names="k.yaml")
def _(d):
    kernel_yaml(d, "k.yaml", "matrix: []\n")


@case("kern-empty-row", "kernel", K.format("k.yaml"), 2, "row 1 is empty", names="k.yaml")
def _(d):
    kernel_yaml(d, "k.yaml", "matrix: [[]]\n")


@case("kern-nan", "kernel", K.format("k.yaml"), 2, "not finite", names="k.yaml")
def _(d):
    kernel_yaml(d, "k.yaml", "matrix: [[1, .nan], [0, 1]]\n")


@case("kern-inf", "kernel", K.format("k.yaml"), 2, "not finite", names="k.yaml")
def _(d):
    kernel_yaml(d, "k.yaml", "matrix: [[1, -.inf], [0, 1]]\n")


@case("kern-overflow", "kernel", K.format("k.yaml"), 2, "not finite", names="k.yaml")
def _(d):
    kernel_yaml(d, "k.yaml", "matrix: [[1e999, 1]]\n")  # a float literal that overflows to inf


@case("kern-non-numeric", "kernel", K.format("k.yaml"), 2, "'a' in row 1, column 2 is not a number", names="k.yaml")
def _(d):
    kernel_yaml(d, "k.yaml", "matrix: [[1, a], [0, 1]]\n")


@case("kern-yes-no", "kernel", K.format("k.yaml"), 2, "'yes' in row 1, column 1 is not a number", names="k.yaml")
def _(d):
    kernel_yaml(d, "k.yaml", "matrix: [[yes, no]]\n")


@case("kern-true-false", "kernel", K.format("k.yaml"), 2, "true in row 1, column 1 is not a number", names="k.yaml")
def _(d):
    kernel_yaml(d, "k.yaml", "matrix: [[true, false]]\n")


@case("kern-hex", "kernel", K.format("k.yaml"), 2, "'0x10' in row 1, column 1 is not a number", names="k.yaml")
def _(d):
    kernel_yaml(d, "k.yaml", "matrix: [[0x10]]\n")


@case("kern-unknown-key", "kernel", K.format("k.yaml"), 2, "unknown key 'colour'", names="k.yaml:2")
def _(d):
    kernel_yaml(d, "k.yaml", "matrix: [[1]]\ncolour: red\n")


@case("kern-missing-matrix", "kernel", K.format("k.yaml"), 2, "missing key 'matrix'", names="k.yaml")
def _(d):
    kernel_yaml(d, "k.yaml", "description: no matrix here\n")


@case("kern-not-mapping", "kernel", K.format("k.yaml"), 2, "must be a YAML mapping", names="k.yaml")
def _(d):
    kernel_yaml(d, "k.yaml", "- [1, 0, -1]\n- [2, 0, -2]\n")


@case("kern-anchor-alias", "kernel", K.format("k.yaml"), 2, "anchor &row is not allowed", names="k.yaml:2")
def _(d):
    kernel_yaml(d, "k.yaml", "matrix:\n  - &row [1, 2, 1]\n  - *row\n")


@case("kern-billion-laughs", "kernel", K.format("k.yaml"), 2, "is not allowed", names="k.yaml")
def _(d):
    lines = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i, name in enumerate("bcdefgh"):
        prev = "abcdefgh"[i]
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    lines.append("matrix: *h")
    kernel_yaml(d, "k.yaml", "\n".join(lines) + "\n")


@case("kern-python-tag", "kernel", K.format("k.yaml"), 2, "tag !!python/object/apply:os.system is not allowed",
      names="k.yaml:1")
def _(d):
    kernel_yaml(d, "k.yaml", "matrix: !!python/object/apply:os.system ['touch pwned']\n")


@case("kern-duplicate-key", "kernel", K.format("k.yaml"), 2, "duplicate key 'matrix'", names="k.yaml:2")
def _(d):
    kernel_yaml(d, "k.yaml", "matrix: [[1]]\nmatrix: [[2]]\n")


@case("kern-100kib", "kernel", K.format("k.yaml"), 2, "larger than 64 KiB", names="k.yaml", max_seconds=10.0)
def _(d):
    row = "[" + ", ".join(["0"] * 50) + "]"
    text = "matrix:\n" + "".join(f"  - {row}\n" for _ in range(100 * 1024 // len(row) + 1))
    kernel_yaml(d, "k.yaml", text)


@case("kern-deep-nesting", "kernel", K.format("k.yaml"), 2, "nesting deeper than", names="k.yaml")
def _(d):
    kernel_yaml(d, "k.yaml", "matrix: " + "[" * 5000 + "]" * 5000 + "\n")


@case("kern-not-utf8", "kernel", K.format("k.yaml"), 2, "not UTF-8", names="k.yaml")
def _(d):
    good_png(d)
    write(d, "k.yaml", "description: caf\xe9\nmatrix: [[1]]\n".encode("latin-1"))


@case("kern-name-mismatch", "kernel", K.format("k.yaml"), 2, "does not match the file name", names="k.yaml:1")
def _(d):
    kernel_yaml(d, "k.yaml", "name: sobel-x\nmatrix: [[1]]\n")


@case("kern-dotdot-name", "kernel", "filter in.png -k ../x --kernel-dir kdir -o out.png", 2, "../x", names="../x")
def _(d):
    # kdir/../x.yaml exists, but a NAME never holds a path: nothing outside the kernel folders is looked up.
    good_png(d)
    (d / "kdir").mkdir()
    write(d, "x.yaml", "matrix: [[1]]\n")


@case("kern-etc-passwd", "kernel", K.format("/etc/passwd"), 2, "/etc/passwd", names="/etc/passwd")
def _(d):
    good_png(d)


@case("kern-link-leaves-folder", "kernel", "filter in.png -k evil --kernel-dir kdir -o out.png", 2,
      "outside its folder", names="evil.yaml")
def _(d):
    good_png(d)
    write(d, "elsewhere/evil.yaml", "matrix: [[1]]\n")
    (d / "kdir").mkdir()
    os.symlink("../elsewhere/evil.yaml", d / "kdir" / "evil.yaml")


@case("kern-box-too-large", "kernel", K.format("box:2000"), 2, "the limit is 1025 per side", names="box")
def _(d):
    good_png(d)


@case("kern-gaussian-nan", "kernel", K.format("gaussian:sigma=nan"), 2, "sigma", names="gaussian")
def _(d):
    good_png(d)


@case("kern-inline-ragged", "kernel", K.format("'1 2 3; 4 5'"), 2, "row 2 has 2 values", names="inline")
def _(d):
    good_png(d)


@case("kern-npy-pickle", "kernel", K.format("k.npy"), 2, "dtype object", names="k.npy")
def _(d):
    good_png(d)
    array = np.empty((1, 2), dtype=object)
    array[0, 0], array[0, 1] = 1, "os.system"
    write(d, "k.npy", npy_bytes(array, allow_pickle=True))


@case("kern-npy-3d", "kernel", K.format("k.npy"), 2, "3 dimension(s)", names="k.npy")
def _(d):
    good_png(d)
    write(d, "k.npy", npy_bytes(np.ones((3, 3, 3), np.float32)))


@case("kern-npy-nan", "kernel", K.format("k.npy"), 2, "not finite", names="k.npy")
def _(d):
    good_png(d)
    write(d, "k.npy", npy_bytes(np.array([[1.0, np.nan]])))


@case("kern-npy-fake", "kernel", K.format("k.npy"), 2, "not a valid .npy file", names="k.npy")
def _(d):
    good_png(d)
    write(d, "k.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': oops}\n")


@case("kern-txt-ragged", "kernel", K.format("k.txt"), 2, "row 2 has 1 values, row 1 has 2", names="k.txt:2")
def _(d):
    good_png(d)
    write(d, "k.txt", "1 2\n3\n")


@case("kern-csv-non-numeric", "kernel", K.format("k.csv"), 2, "not a number", names="k.csv:1")
def _(d):
    good_png(d)
    write(d, "k.csv", "1,=cmd|' /C calc'!A0\n")


@case("kern-wrong-extension", "kernel", K.format("k.json"), 2, "unknown kernel 'k.json'", names="k.json")
def _(d):
    good_png(d)
    write(d, "k.json", '{"matrix": [[1]]}')


@case("kern-folder-as-kernel", "kernel", K.format("k.yaml"), 2, "not a file", names="k.yaml")
def _(d):
    good_png(d)
    (d / "k.yaml").mkdir()


@case("kern-fifo", "kernel", K.format("k.yaml"), 2, "k.yaml", names="k.yaml", max_seconds=10.0)
def _(d):
    good_png(d)
    os.mkfifo(d / "k.yaml")  # nobody writes: opening it to read must not hang


@case("kern-link-dev-zero", "kernel", K.format("z.yaml"), 2, "not a file", names="z.yaml", needs="/dev/zero",
      max_seconds=10.0)
def _(d):
    good_png(d)
    os.symlink("/dev/zero", d / "z.yaml")


@case("kern-newline-in-name", "kernel", K.format("'bad\nname.yaml'"), 2, "not finite", names="name.yaml:1")
def _(d):
    kernel_yaml(d, "bad\nname.yaml", "matrix: [[.nan]]\n")


@case("kern-geometry-too-large", "kernel", "filter small.npy -k box:9 --mode valid -o out.npy", 1,
      "valid", names="small.npy")
def _(d):
    write(d, "small.npy", npy_bytes(np.ones((4, 4), np.float32)))  # a 9×9 valid window on 4×4: no output


# ------------------------------------------------------------------------------------------------
# Pipelines: the whole file is checked first (exit 2, file and line); geometry is per input (exit 1)

P = "pipeline p.yaml in.png -o out.png"


def pipeline(d: Path, text: str | bytes, name: str = "p.yaml") -> None:
    good_png(d)
    write(d, name, text)


@case("pipe-unknown-step", "pipeline", P, 2, "unknown step 'blur'", names="p.yaml:2")
def _(d):
    pipeline(d, "steps:\n  - blur: {sigma: 2}\n")


@case("pipe-unknown-option", "pipeline", P, 2, "unknown option 'sise' for pool; did you mean 'size'?",
      names="p.yaml:3")
def _(d):
    pipeline(d, "steps:\n  - pool:\n      sise: 2\n      op: max\n")


@case("pipe-wrong-type", "pipeline", P, 2, "`stride` must be", names="p.yaml:2")
def _(d):
    pipeline(d, "steps:\n  - filter: {kernel: box3, stride: fast}\n")


@case("pipe-wrong-bool", "pipeline", P, 2, "`correlate` must be true or false", names="p.yaml:2")
def _(d):
    pipeline(d, "steps:\n  - filter: {kernel: box3, correlate: yes}\n")


@case("pipe-bad-choice", "pipeline", P, 2, "`op` must be one of max, avg, min, sum, median", names="p.yaml:2")
def _(d):
    pipeline(d, "steps:\n  - pool: {op: mean, size: 2}\n")


@case("pipe-anchor", "pipeline", P, 2, "anchor &g is not allowed", names="p.yaml")
def _(d):
    pipeline(d, "steps:\n  - &g gray\n  - *g\n")


@case("pipe-python-tag", "pipeline", P, 2, "tag !!python/object/apply:os.system is not allowed", names="p.yaml")
def _(d):
    pipeline(d, "steps: !!python/object/apply:os.system ['touch pwned']\n")


@case("pipe-duplicate-key", "pipeline", P, 2, "duplicate key 'steps'", names="p.yaml:2")
def _(d):
    pipeline(d, "steps: [gray]\nsteps: [gray]\n")


@case("pipe-empty-file", "pipeline", P, 2, "holds `steps:`", names="p.yaml")
def _(d):
    pipeline(d, "")


@case("pipe-steps-not-list", "pipeline", P, 2, "`steps` must be a non-empty list", names="p.yaml:1")
def _(d):
    pipeline(d, "steps: gray\n")


@case("pipe-max-unpool-alone", "pipeline", P, 2, "max-unpool puts values back", names="p.yaml:3")
def _(d):
    pipeline(d, "steps:\n  - pool: {op: avg, size: 2}\n  - upsample: {method: max-unpool}\n")


@case("pipe-not-utf8", "pipeline", P, 2, "not UTF-8", names="p.yaml")
def _(d):
    pipeline(d, b"steps:\n  - gray # \xff\xfe\n")


@case("pipe-64kib", "pipeline", P, 2, "larger than 64 KiB", names="p.yaml", max_seconds=10.0)
def _(d):
    pipeline(d, "steps:\n" + "  - gray\n" * (64 * 1024 // 9 + 10))


@case("pipe-deep-nesting", "pipeline", P, 2, "nesting deeper than", names="p.yaml")
def _(d):
    pipeline(d, "steps: " + "[" * 2000 + "]" * 2000 + "\n")


@case("pipe-missing-kernel-file", "pipeline", P, 2, "no such kernel file", names="p.yaml:2")
def _(d):
    pipeline(d, "steps:\n  - filter: {kernel: nothere.yaml}\n")


@case("pipe-bad-kernel-file", "pipeline", P, 2, "not finite", names="k.yaml")
def _(d):
    pipeline(d, "steps:\n  - filter: {kernel: k.yaml}\n")
    write(d, "k.yaml", "matrix: [[.nan]]\n")


@case("pipe-unknown-kernel", "pipeline", P, 2, "nosuchkernel", names="p.yaml:2")
def _(d):
    pipeline(d, "steps:\n  - filter: {kernel: nosuchkernel}\n")


@case("pipe-folder", "pipeline", "pipeline pdir in.png -o out.png", 2, "pdir", names="pdir")
def _(d):
    good_png(d)
    (d / "pdir").mkdir()


@case("pipe-fifo", "pipeline", "pipeline p.yaml in.png -o out.png", 2, "", names="p.yaml", max_seconds=10.0)
def _(d):
    good_png(d)
    os.mkfifo(d / "p.yaml")  # nobody writes: reading the pipeline must not hang


@case("pipe-link-dev-zero", "pipeline", P, 2, "", names="p.yaml", needs="/dev/zero", max_seconds=10.0)
def _(d):
    # Refused (today as "larger than 64 KiB"), never read forever.
    good_png(d)
    os.symlink("/dev/zero", d / "p.yaml")


@case("pipe-save-is-input", "pipeline", P, 2, "is the input", names="in.png")
def _(d):
    pipeline(d, "steps:\n  - filter: {kernel: box3, save: in.png}\n  - gray\n")


@case("pipe-save-collides", "pipeline", P, 2, "would both be out.png", names="in.png")
def _(d):
    pipeline(d, "steps:\n  - filter: {kernel: box3, save: out.png}\n")


@case("pipe-geometry-impossible", "pipeline", "pipeline p.yaml small.npy -o out.npy", 1, "pool", names="small.npy")
def _(d):
    write(d, "p.yaml", "steps:\n  - pool: {op: max, size: 8}\n")
    write(d, "small.npy", npy_bytes(np.ones((4, 4), np.float32)))


@case("pipe-geometry-one-of-two", "pipeline", "pipeline p.yaml big.npy small.npy -O out -j 1", 1, "pool",
      names="small.npy", new=("out", "out/big.npy"))
def _(d):
    write(d, "p.yaml", "steps:\n  - filter: {kernel: box3}\n  - pool: {op: max, size: 8}\n")
    write(d, "big.npy", npy_bytes(np.ones((16, 16), np.float32)))
    write(d, "small.npy", npy_bytes(np.ones((4, 4), np.float32)))


# ------------------------------------------------------------------------------------------------
# Outputs: never an input, never a partial file, never an existing file it was told to keep


@case("out-equals-input", "output", "filter in.png -k box3 -o in.png", 2, "is the input", names="in.png")
def _(d):
    good_png(d)


@case("out-dot-slash-input", "output", "filter in.png -k box3 -o ./in.png", 2, "is the input", names="in.png")
def _(d):
    good_png(d)


@case("out-symlink-to-input", "output", "filter in.png -k box3 -o link.png", 2, "is the input", names="link.png")
def _(d):
    good_png(d)
    os.symlink("in.png", d / "link.png")


@case("out-hardlink-to-input", "output", "filter in.png -k box3 -o hard.png", 2, "is the input", names="hard.png")
def _(d):
    good_png(d)
    os.link(d / "in.png", d / "hard.png")


@case("out-folder-link-to-input", "output", "filter in.png -k box3 -o alias/in.png", 2, "is the input",
      names="in.png")
def _(d):
    good_png(d)
    os.symlink(".", d / "alias")


@case("out-dir-same-name", "output", "filter in.png -k box3 -O .", 2, "is the input", names="in.png")
def _(d):
    good_png(d)


@case("out-report-is-input", "output", "filter in.png -k box3 -o out.png --report in.png", 2, "is the input",
      names="in.png")
def _(d):
    good_png(d)


@case("out-folder-missing", "output", "filter in.png -k box3 -o nodir/out.png", 2, "nodir does not exist",
      names="nodir")
def _(d):
    good_png(d)


@case("out-unknown-extension", "output", "filter in.png -k box3 -o out.xyz", 2, "unknown extension '.xyz'",
      names="out.xyz")
def _(d):
    good_png(d)


@case("out-is-folder", "output", "filter in.png -k box3 -o taken.png", 2, "is a folder", names="taken.png")
def _(d):
    good_png(d)
    (d / "taken.png").mkdir()


@case("out-dir-is-file", "output", "filter in.png -k box3 -O notadir", 2, "notadir", names="notadir")
def _(d):
    good_png(d)
    write(d, "notadir", "a file, not a folder\n")


@case("out-read-only-folder", "output", "filter in.png -k box3 -o ro/out.png", 1, "cannot write",
      names="ro/out.png", skip_root=True)
def _(d):
    good_png(d)
    (d / "ro").mkdir()
    os.chmod(d / "ro", 0o555)


@case("out-no-clobber", "output", "filter in.png -k box3 -o out.png --no-clobber", 1,
      "exists; --no-clobber refuses to replace it", names="out.png")
def _(d):
    good_png(d)
    write(d, "out.png", "an existing output that must stay as it is\n")


@case("out-no-clobber-batch", "output", "filter a.png b.png -k box3 -O out --no-clobber -j 1", 1,
      "exists; --no-clobber refuses to replace it", names="out/a.png", new=("out/b.png",))
def _(d):
    good_png(d, "a.png", seed=40)
    good_png(d, "b.png", seed=41)
    write(d, "out/a.png", "an existing output that must stay as it is\n")


@case("out-jpeg-16bit", "output", "filter deep.png -k box3 -o out.jpg --dtype uint16", 2, "JPEG holds only 8-bit",
      names="out.jpg")
def _(d):
    write(d, "deep.png", png_bytes(noise(9, 13, seed=42, dtype=np.uint16)))


# ------------------------------------------------------------------------------------------------


def describe(case: Case) -> str:
    lines = [f"id: {case.id} ({case.kind})", f"run here: {case.command}", f"expected exit code: {case.exit}"]
    if case.exit:
        lines.append(f"expected: {case.failing} error line(s) containing {case.message!r}"
                     + (f" and naming {case.names!r}" if case.names else ""))
    if case.new:
        lines.append(f"creates: {', '.join(case.new)}")
    if case.shape is not None:
        lines.append(f"output shape {case.shape} {case.dtype or ''}".rstrip())
    if case.stderr:
        lines.append(f"standard error says: {case.stderr}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--list"]:
        for c in CASES:
            print(f"{c.id:28} {c.kind:9} exit {c.exit}  {c.command}".replace("\n", "\\n"))
        return 0
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: make_corpus.py DIR [ID-SUBSTRING...] | --list", file=sys.stderr)
        return 2
    root = Path(argv[0])
    wanted = argv[1:]
    chosen = [c for c in CASES if not wanted or any(w in c.id for w in wanted)]
    if not chosen:
        print(f"no case id contains {' or '.join(wanted)}", file=sys.stderr)
        return 2
    for c in chosen:
        folder = root / c.id
        if folder.exists() and any(folder.iterdir()):
            print(f"{folder}: exists and is not empty; give an empty or new DIR", file=sys.stderr)
            return 1
        if c.needs and not os.path.exists(c.needs):
            print(f"skipped {c.id}: needs {c.needs}", file=sys.stderr)
            continue
        make(c, folder)
        (folder / "CASE.txt").write_text(describe(c), encoding="utf-8")
    print(f"{len(chosen)} cases written under {root}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
