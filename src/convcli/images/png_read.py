"""Reading PNG: convcli parses the header and checks every chunk itself; OpenCV decodes the pixels.

OpenCV (``cv2.imdecode(..., IMREAD_UNCHANGED)``) reads 16-bit RGB, which Pillow cannot; its BGR(A)
is turned into RGB(A), and what it drops (a grey image's transparent colour key) is rebuilt here.
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import Any, BinaryIO

import numpy as np

from convcli._libraries import _cv2
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
    width, height, depth, color, _comp, _filt, _interlace = struct.unpack(">IIBBBBB", raw[8:21])
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
        key = struct.unpack(">H", hdr["trns"][:2])[0]
        depth = hdr["depth"]
        if depth < 8:
            key = (key & ((1 << depth) - 1)) * 255 // ((1 << depth) - 1)
        top = np.iinfo(arr.dtype).max
        alpha = np.where(arr == key, 0, top).astype(arr.dtype)
        arr = np.stack([arr, alpha], axis=-1)
    else:
        return None
    return arr

