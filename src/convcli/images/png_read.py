"""Reading PNG: convcli parses the header and checks every chunk itself; Pillow or OpenCV decodes the pixels.

OpenCV (``cv2.imdecode(..., IMREAD_UNCHANGED)``) reads every kind, 16-bit RGB(A) and grey+alpha
among them, which Pillow reduces to 8 bits; its BGR(A) is turned into RGB(A), and what it drops (a
grey image's transparent colour key) is rebuilt here. Pillow, a quicker import than OpenCV, decodes
a small PNG of the kinds it gives the very same array for (:func:`png_decoder` says which), from a
file whose chunks and compressed data convcli has found sound, so that both decoders would accept
it; its palette and colour key are applied here as libpng applies them inside OpenCV.
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import Any, BinaryIO

import numpy as np

from convcli._libraries import _cv2, opencv_imported
from convcli.errors import ImageReadError
from convcli.images.info import ImageInfo
from convcli.images.limits import Limits, _check_limits, _finish


#: At most this many chunks are walked in a PNG (text and other metadata chunks included): a file
#: with more is refused, saying so, so that reading any PNG is bounded work (about a second).
PNG_MAX_CHUNKS = 1_000_000


def _too_many_chunks() -> str:
    return f"more than {PNG_MAX_CHUNKS:,} chunks (text or other metadata); refused, so that reading stays bounded work"


_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


def _png_header(fh: BinaryIO, label: str) -> dict[str, Any]:
    """Parse IHDR and the chunks before the first IDAT (PLTE, tRNS, acTL); stop at the pixels."""

    def bad(why: str) -> ImageReadError:
        return ImageReadError(f"cannot read PNG: {why}", path=label)

    fh.seek(8)
    raw = fh.read(8 + 13 + 4)
    if len(raw) < 25:
        raise bad("truncated header")
    length, ctype = struct.unpack(">I4s", raw[:8])
    if ctype != b"IHDR" or length != 13:
        raise bad("the IHDR chunk is missing")
    if zlib.crc32(raw[4:21]) != struct.unpack(">I", raw[21:25])[0]:
        raise bad("the IHDR chunk is damaged (bad CRC)")
    width, height, depth, color, compression, filtering, interlace = struct.unpack(">IIBBBBB", raw[8:21])
    if width < 1 or height < 1 or width > 2**31 - 1 or height > 2**31 - 1:
        raise bad(f"invalid size {width}×{height}")
    if depth not in _PNG_DEPTHS.get(color, ()):
        raise bad(f"invalid colour type {color} with bit depth {depth}")
    found: dict[bytes, bytes] = {}
    ctype = b""
    for _ in range(PNG_MAX_CHUNKS):
        raw = fh.read(8)
        if len(raw) < 8:
            raise bad("truncated before the image data")
        length, ctype = struct.unpack(">I4s", raw)
        if length > 2**31 - 1:
            raise bad("invalid chunk length")
        if ctype in (b"IDAT", b"IEND"):
            break
        if ctype in (b"PLTE", b"tRNS", b"acTL") and length <= 1024:
            data = fh.read(length)
            if len(data) < length:
                raise bad("truncated before the image data")
            found[ctype] = data
            fh.seek(4, os.SEEK_CUR)
        else:
            fh.seek(length + 4, os.SEEK_CUR)
    else:
        raise bad(_too_many_chunks())
    if ctype != b"IDAT":
        raise bad("no image data")
    return {
        "width": width,
        "height": height,
        "depth": depth,
        "color": color,
        "plte": found.get(b"PLTE"),
        "trns": found.get(b"tRNS"),
        "frames": struct.unpack(">I", found[b"acTL"][:4])[0] if len(found.get(b"acTL", b"")) >= 4 else 1,
        "actl": b"acTL" in found,
        "interlace": interlace,
        "methods": (compression, filtering),
    }


def read(
    fh: BinaryIO, fmt: str, label: str, limits: Limits, decode: bool
) -> tuple[np.ndarray | None, ImageInfo]:
    hdr = _png_header(fh, label)
    color, depth, trns, plte = hdr["color"], hdr["depth"], hdr["trns"], hdr["plte"]
    notes: list[str] = []
    grey_palette = False
    if color == 3:
        if plte is None or len(plte) % 3 or not plte:
            raise ImageReadError("cannot read PNG: palette image without a valid palette", path=label)
        pal = np.frombuffer(plte, np.uint8).reshape(-1, 3)
        grey_palette = bool((pal == pal[:, :1]).all())
        channels = 1 if grey_palette else 3
        notes.append(f"palette image read as {'grey' if grey_palette else 'RGB'}")
    else:
        channels = {0: 1, 2: 3, 4: 2, 6: 4}[color]
    if trns is not None and color in (0, 2, 3):
        channels += 1
        if color != 3:
            notes.append("transparent colour key turned into an alpha channel")
    if depth == 1 and color == 0:
        notes.append("1-bit image read as 0 and 255")
    if hdr["frames"] > 1:
        notes.append(f"PNG has {hdr['frames']} frames (APNG); the first was used")
    shape = (hdr["height"], hdr["width"]) + ((channels,) if channels > 1 else ())
    info = ImageInfo(
        shape=shape,
        dtype="uint16" if depth == 16 else "uint8",
        format="png",
        has_alpha=channels in (2, 4),
        frames=max(1, hdr["frames"]),
        notes=tuple(notes),
    )
    _check_limits(info, limits, label)
    if not decode:
        return None, info
    fh.seek(0)
    data = fh.read()
    _png_check_chunks(data, label)
    arr = None
    if png_decoder(hdr) == "pillow":
        arr = _png_decode_pillow(data, info, hdr)  # None: OpenCV decides
    if arr is None:
        arr = _png_decode_cv2(data, info, hdr)
    if arr is None:  # chunks and CRCs were sound, so the compressed image data itself is bad
        raise ImageReadError("cannot read PNG: its image data is damaged or incomplete", path=label)
    return _finish(arr, info, label, limits), info


def _png_check_chunks(data: bytes, label: str) -> None:
    """Check the chunk structure and the CRC of every critical chunk before decoding.

    A damaged or truncated file is refused here with a clear reason, and libpng (inside OpenCV)
    never gets to print its own complaint on standard error.
    """
    view = memoryview(data)
    pos, size = 8, len(data)
    for _ in range(PNG_MAX_CHUNKS):
        if pos + 8 > size:
            break
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > size:
            raise ImageReadError("cannot read PNG: truncated (the file ends inside a chunk)", path=label)
        if kind[:1].isupper():  # critical chunk: IHDR, PLTE, IDAT, IEND
            if zlib.crc32(view[pos + 4 : pos + 8 + length]) != struct.unpack_from(">I", data, pos + 8 + length)[0]:
                name = kind.decode("ascii", "replace")
                raise ImageReadError(f"cannot read PNG: the {name} chunk is damaged (bad CRC)", path=label)
        if kind == b"IEND":
            return
        pos = end
    else:
        raise ImageReadError(f"cannot read PNG: {_too_many_chunks()}", path=label)
    raise ImageReadError("cannot read PNG: truncated (no IEND chunk)", path=label)


def _png_decode_cv2(data: bytes, info: ImageInfo, hdr: dict[str, Any]) -> np.ndarray | None:
    cv2, quiet = _cv2()
    with quiet:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        return None
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = arr[..., ::-1]
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., [2, 1, 0, 3]]
    want = info.shape[2] if len(info.shape) == 3 else 1
    have = arr.shape[2] if arr.ndim == 3 else 1
    if want == have:
        pass
    elif want == 1 and have in (3, 4):  # grey palette
        arr = arr[..., 0]
    elif want == 2 and have == 4:  # grey+alpha, grey palette with transparency
        arr = arr[..., [0, 3]]
    elif want == 2 and have == 1 and hdr["trns"] is not None and len(hdr["trns"]) >= 2:
        # grey with a transparent key: OpenCV drops the key, so build the alpha here
        arr = _grey_key_alpha(arr, hdr)
    else:
        return None
    return arr


def _grey_key_alpha(grey: np.ndarray, hdr: dict[str, Any]) -> np.ndarray:
    """Grey and an alpha that is 0 where the grey equals the tRNS key (scaled as the sub-byte
    greys are, to 0..255), the dtype's maximum elsewhere."""
    key = struct.unpack(">H", hdr["trns"][:2])[0]
    depth = hdr["depth"]
    if depth < 8:
        key = (key & ((1 << depth) - 1)) * 255 // ((1 << depth) - 1)
    top = np.iinfo(grey.dtype).max
    alpha = np.where(grey == key, 0, top).astype(grey.dtype)
    return np.stack([grey, alpha], axis=-1)


#: Pixels up to which a PNG goes to Pillow (when OpenCV is not imported yet). Measured on this
#: project's 2-core machine: importing Pillow's PNG plugin after NumPy and convcli takes about 18 ms,
#: OpenCV about 21 ms; Pillow's decoding, with convcli's check of the compressed data before it, is
#: slower than OpenCV's (RGB: 2.9 against 1.8 ms at 256², 15 against 14 ms at 512², 74 against
#: 50 ms at 1024²), so only images up to 256² gain.
PILLOW_PNG_MAX_PIXELS = 1 << 16


def png_decoder(hdr: dict[str, Any]) -> str:
    """Which library decodes the pixels of the PNG whose header :func:`_png_header` parsed:
    ``"pillow"`` or ``"opencv"``; both give the same array, so this is a speed choice alone.

    Pillow decodes, exactly as OpenCV does, grey of every depth (1, 2, 4, 8 and 16 bits, a colour
    key included), palettes of every depth (with or without tRNS), 8-bit grey+alpha, RGB (a colour
    key included) and RGBA; it reduces 16-bit grey+alpha, RGB and RGBA to 8 bits, so those stay
    with OpenCV, and so do animated PNGs (APNG: which frame comes first). Pillow takes an image of
    those kinds of at most :data:`PILLOW_PNG_MAX_PIXELS` pixels when OpenCV is not imported yet.

    Examples
    --------
    >>> small = {"color": 2, "depth": 8, "width": 64, "height": 64, "frames": 1, "actl": False}
    >>> png_decoder(small) if not opencv_imported() else "pillow"
    'pillow'
    >>> png_decoder(dict(small, depth=16)), png_decoder(dict(small, width=512, height=512))
    ('opencv', 'opencv')
    """
    small = hdr["width"] * hdr["height"] <= PILLOW_PNG_MAX_PIXELS
    if not _pillow_kind(hdr) or not small or opencv_imported():
        return "opencv"
    return "pillow"


def _pillow_kind(hdr: dict[str, Any]) -> bool:
    """Pillow gives OpenCV's array for this kind of PNG: not 16-bit colour or grey+alpha, no APNG."""
    return (hdr["depth"] <= 8 or hdr["color"] == 0) and not hdr["actl"]


#: Adam7's passes: first row, first column, row step, column step.
_ADAM7 = ((0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1))


def _scanlines(hdr: dict[str, Any], interlaced: bool) -> list[tuple[int, int]]:
    """(rows, bytes per row, the filter byte included) of each pass of the image data."""
    bits = hdr["depth"] * {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[hdr["color"]]
    passes = _ADAM7 if interlaced else ((0, 0, 1, 1),)
    layout = []
    for row0, col0, row_step, col_step in passes:
        rows = -(-(hdr["height"] - row0) // row_step)
        cols = -(-(hdr["width"] - col0) // col_step)
        if rows > 0 and cols > 0:
            layout.append((rows, 1 + (cols * bits + 7) // 8))
    return layout


def _sound_image_data(data: bytes, hdr: dict[str, Any]) -> bool:
    """The file holds only the critical chunks a PNG of its kind may hold (IHDR, one PLTE where
    allowed, one run of IDAT, IEND), a tRNS libpng reads as given, and image data that inflates
    to exactly the scanlines the header declares, each with a filter type of 0 … 4: what libpng
    (inside OpenCV) accepts without a complaint, and Pillow too. Anything else goes to OpenCV."""
    color, trns, plte = hdr["color"], hdr["trns"], hdr["plte"]
    pos, idat, runs, plte_count = 8, [], 0, 0
    previous = b""
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"IDAT":
            runs += previous != b"IDAT"
            idat.append(data[pos + 8 : pos + 8 + length])
        elif kind == b"PLTE":
            plte_count += 1
        elif kind[:1].isupper() and kind not in (b"IHDR", b"IEND"):
            return False  # a critical chunk libpng does not know
        if kind == b"IEND":
            break
        previous = kind
        pos += 12 + length
    if runs != 1 or plte_count > (1 if color in (2, 3, 6) else 0):
        return False
    if trns is not None:
        # as many alphas as palette entries at most; a key of the image's own depth (libpng keeps
        # only an 8-bit image's low byte of a wider key, Pillow the whole key)
        size_ok = {0: len(trns) == 2, 2: len(trns) == 6, 3: plte is not None and len(trns) <= len(plte) // 3}
        if not size_ok.get(color, False):
            return False
        if color in (0, 2) and max(struct.unpack(f">{len(trns) // 2}H", trns)) >> hdr["depth"]:
            return False
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(b"".join(idat))
    except zlib.error:
        return False
    if not inflater.eof or inflater.unused_data:
        return False
    layout = _scanlines(hdr, interlaced=bool(hdr["interlace"]))
    if len(raw) != sum(rows * size for rows, size in layout):
        return False
    start = 0
    for rows, size in layout:
        if max(raw[start : start + rows * size : size]) > 4:
            return False
        start += rows * size
    return True


def _png_decode_pillow(data: bytes, info: ImageInfo, hdr: dict[str, Any]) -> np.ndarray | None:
    """The pixels by Pillow, as :func:`_png_decode_cv2` gives them; None where OpenCV must decide
    (data convcli cannot vouch for, a palette index past the palette, or Pillow refusing)."""
    standard = hdr["methods"] == (0, 0) and hdr["interlace"] in (0, 1)  # else libpng refuses it
    if not _pillow_kind(hdr) or not standard or not _sound_image_data(data, hdr):
        return None
    import io

    # lazy: Pillow's PNG plugin alone (Image.open would import its JPEG, GIF, BMP and PPM plugins
    # too); its own pixel limit is Image.open's, and convcli's limits were checked already
    from PIL import PngImagePlugin

    try:
        with PngImagePlugin.PngImageFile(io.BytesIO(data)) as im:
            im.load()
            mode, arr = im.mode, np.asarray(im)
    except Exception:  # Pillow refuses what libpng might accept: OpenCV decides, as it did before
        return None
    color, depth, trns = hdr["color"], hdr["depth"], hdr["trns"]
    if mode == "1":  # 1-bit grey: 0 and 255, as libpng expands it
        arr = arr.astype(np.uint8) * np.uint8(255)
    elif mode == "I" and color == 0 and depth == 16:  # Pillow before 10.? gives 16-bit grey as int32
        arr = arr.astype(np.uint16)
    if color == 3:
        if mode != "P" or arr.size == 0:
            return None
        palette = np.frombuffer(hdr["plte"], np.uint8).reshape(-1, 3)
        if int(arr.max()) >= len(palette):
            return None  # libpng's handling of an index past the palette is its own
        table = palette if info.shape[-1] in (3, 4) and len(info.shape) == 3 else palette[:, :1]
        if trns is not None:
            alphas = np.full((len(palette), 1), 255, np.uint8)
            alphas[: len(trns), 0] = np.frombuffer(trns, np.uint8)
            table = np.concatenate([table, alphas], axis=1)
        arr = table[arr]
        if arr.shape[-1] == 1:
            arr = arr[..., 0]
    elif trns is not None and color == 0:
        arr = _grey_key_alpha(arr, hdr)
    elif trns is not None and color == 2:
        key = np.array(struct.unpack(">3H", trns), arr.dtype)
        alpha = np.where((arr == key).all(axis=-1), 0, np.iinfo(arr.dtype).max).astype(arr.dtype)
        arr = np.concatenate([arr, alpha[..., np.newaxis]], axis=-1)
    if arr.shape != info.shape or arr.dtype != np.dtype(info.dtype):
        return None  # a mode this version of Pillow gives differently: OpenCV's array is the rule
    return np.ascontiguousarray(arr)

