"""Reading JPEG, BMP, GIF and WebP with Pillow (and the PNG and TIFF pages tifffile and OpenCV leave to it).

Frames (GIF, WebP) and a WebP's canvas size are read from the file's own structure before Pillow
opens it, so that limits are checked before Pillow allocates anything.
"""

from __future__ import annotations

import io
import struct
from typing import Any, BinaryIO

import numpy as np

from convcli._libraries import _pil
from convcli.images.formats import FORMAT_TABLE
from convcli.images.info import ImageInfo
from convcli.images.limits import Limits, _check_limits, _finish, _frame_limit, _size_limits


def _pillow_plan(im: Any) -> tuple[tuple[int, ...], str, list[str], str]:
    """From an opened (not decoded) Pillow image: shape, dtype, notes and how to convert it."""
    mode = im.mode
    h, w = im.height, im.width
    notes: list[str] = []
    keyed = "transparency" in im.info
    if mode == "1":
        how, c, dt = "1", 1, "uint8"
        notes.append("1-bit image read as 0 and 255")
    elif mode == "L":
        if keyed and isinstance(im.info["transparency"], int):
            how, c = "L_key", 2
            notes.append("transparent colour key turned into an alpha channel")
        else:
            how, c = "asis", 1
        dt = "uint8"
    elif mode in ("LA", "La"):
        how, c, dt = "LA", 2, "uint8"
    elif mode in ("P", "PA"):
        pal = _pillow_palette(im)
        grey = bool(pal) and all(pal[i] == pal[i + 1] == pal[i + 2] for i in range(0, len(pal) - 2, 3))
        alpha = keyed or mode == "PA"
        how = ("P_grey" if grey else "P_rgb") + ("a" if alpha else "")
        c = (1 if grey else 3) + (1 if alpha else 0)
        dt = "uint8"
        notes.append(f"palette image read as {'grey' if grey else 'RGB'}")
    elif mode == "RGB":
        if keyed:
            how, c = "RGBA", 4
            notes.append("transparent colour key turned into an alpha channel")
        else:
            how, c = "asis", 3
        dt = "uint8"
    elif mode == "RGBA":
        how, c, dt = "asis", 4, "uint8"
    elif mode in ("RGBa", "RGBX"):
        how, c, dt = ("RGBA", 4, "uint8") if mode == "RGBa" else ("RGB", 3, "uint8")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        how, c, dt = "RGB", 3, "uint8"
        notes.append(f"{mode} converted to RGB")
    elif mode.startswith("I;16"):
        how, c, dt = "asis", 1, "uint16"
    elif mode == "I":
        how, c, dt = "asis", 1, "int32"
    elif mode == "F":
        how, c, dt = "asis", 1, "float32"
    else:
        raise ValueError(f"unsupported pixel mode {mode}")
    shape = (h, w) + ((c,) if c > 1 else ())
    return shape, dt, notes, how


def _pillow_palette(im: Any) -> list[int]:
    """The palette as [r, g, b, r, g, b, ...], from the header (``getpalette`` would decode the image)."""
    pal = getattr(im, "palette", None)
    if pal is None:
        return []
    Image, _ = _pil()
    scratch = Image.new("P", (1, 1))
    scratch.putpalette(bytes(pal.palette), pal.rawmode or pal.mode)
    return scratch.getpalette("RGB") or []


def _pillow_array(im: Any, how: str) -> np.ndarray:
    if how == "asis":
        arr = np.array(im)
        if arr.dtype.kind in "uif" and not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        return arr
    if how == "1":
        return np.array(im.convert("L"))
    if how == "L_key":
        arr = np.array(im)
        alpha = np.where(arr == im.info["transparency"], 0, 255).astype(np.uint8)
        return np.stack([arr, alpha], axis=-1)
    if how == "LA":
        return np.array(im if im.mode == "LA" else im.convert("LA"))
    if how in ("RGB", "P_rgb"):
        return np.array(im.convert("RGB"))
    if how in ("RGBA", "P_rgba"):
        return np.array(im.convert("RGBA"))
    if how == "P_grey":
        return np.array(im.convert("RGB"))[..., 0]
    if how == "P_greya":
        return np.array(im.convert("RGBA"))[..., [0, 3]]
    raise AssertionError(how)  # pragma: no cover


def _exif_note(im: Any) -> list[str]:
    try:
        orientation = im.getexif().get(0x0112)
    except Exception:
        return []
    if orientation in (None, 1):
        return []
    return [f"EXIF orientation {orientation} was not applied (pixels as stored)"]


def _gif_frames(data: bytes, stop: int) -> int:
    """Image descriptors in a GIF, counted by walking its blocks (nothing is decoded); the count
    stops at ``stop``, and at the first damaged block."""
    if len(data) < 13:
        return 1
    flags, pos, size, count = data[10], 13, len(data), 0
    if flags & 0x80:
        pos += 3 << ((flags & 7) + 1)  # global colour table
    while pos < size and count < stop:
        block = data[pos]
        if block == 0x21:  # extension: label, then data sub-blocks
            pos += 2
        elif block == 0x2C:  # image descriptor, local colour table, LZW code size, data sub-blocks
            if pos + 10 > size:
                break
            count += 1
            local = data[pos + 9]
            pos += 10 + ((3 << ((local & 7) + 1)) if local & 0x80 else 0) + 1
        else:  # 0x3B, the trailer, or damage
            break
        while pos < size:  # sub-blocks, up to the zero-length terminator
            length = data[pos]
            pos += 1 + length
            if length == 0:
                break
    return max(count, 1)


def _webp_header(data: bytes, stop: int) -> tuple[int | None, int | None, int]:
    """Canvas width and height, and ANMF frames (counted up to ``stop``), from a WebP's RIFF chunks.

    Read before Pillow opens the file: for an animation, libwebp's decoder allocates the whole
    canvas when it is created.
    """
    width = height = None
    frames, pos, size = 0, 12, len(data)
    while pos + 8 <= size and frames < stop:
        kind = data[pos : pos + 4]
        length = struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8 : pos + 8 + min(length, 10)]
        if kind == b"VP8X" and len(body) >= 10:
            width = 1 + int.from_bytes(body[4:7], "little")
            height = 1 + int.from_bytes(body[7:10], "little")
        elif kind == b"VP8 " and width is None and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
            width = struct.unpack_from("<H", body, 6)[0] & 0x3FFF
            height = struct.unpack_from("<H", body, 8)[0] & 0x3FFF
        elif kind == b"VP8L" and width is None and len(body) >= 5 and body[0] == 0x2F:
            bits = struct.unpack_from("<I", body, 1)[0]
            width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        elif kind == b"ANMF":
            frames += 1
        pos += 8 + length + (length & 1)
    return width, height, max(frames, 1)


def read(
    fh: BinaryIO, fmt: str, label: str, limits: Limits, decode: bool
) -> tuple[np.ndarray | None, ImageInfo]:
    Image, unlimited = _pil()
    # Pillow reads from a copy: closing an image closes its file, and the first-frame fallback
    # below must be able to open the data a second time.
    data = fh.read()
    # Frames are counted here, stopping just past the limit, so that a file with a million
    # frames is refused without Pillow walking them all.
    stop = limits.max_frames + 1 if limits.max_frames is not None else 2**62
    if fmt == "gif":
        _frame_limit(_gif_frames(data, stop), limits, label, exact=False)
    elif fmt == "webp":
        width, height, frames = _webp_header(data, stop)
        if width is not None and height is not None:
            _size_limits(width, height, limits, label)
        _frame_limit(frames, limits, label, exact=False)
    with unlimited:
        im = Image.open(io.BytesIO(data), formats=[FORMAT_TABLE[fmt].pillow])
        try:  # GIF counts by walking the frame headers; a damaged later frame stops the count
            frames = int(getattr(im, "n_frames", 1) or 1)
        except Exception:
            frames = 1
            im.close()
            im = Image.open(io.BytesIO(data), formats=[FORMAT_TABLE[fmt].pillow])  # fresh, at the first frame
    with unlimited, im:
        shape, dtype, notes, how = _pillow_plan(im)
        if frames > 1:
            notes.append(f"{FORMAT_TABLE[fmt].label} has {frames} frames; the first was used")
        if fmt in ("jpeg", "webp"):
            notes += _exif_note(im)
        info = ImageInfo(
            shape=shape,
            dtype=dtype,
            format=fmt,
            has_alpha=len(shape) == 3 and shape[2] in (2, 4),
            frames=frames,
            notes=tuple(notes),
        )
        _check_limits(info, limits, label)
        if not decode:
            return None, info
        arr = _pillow_array(im, how)
    return _finish(arr, info, label, limits), info

