"""TIFF by strips or tiles: the rows of a page from only the segments they touch.

The segments of a page are its strips (``rowsperstrip`` rows each) or tiles, plane after plane
for separate planes; segment ``(plane, y, x)`` is number ``(plane × rows + y) × columns + x``
of the page's offsets. Each is read (``seek``, ``read``) and decoded by tifffile's
``TiffPage.decode``; uncompressed strips of whole bytes are read row by row. The rows are then
laid out as :mod:`convcli.images.tiff` lays out a whole page (palette, MinIsWhite, 1-bit,
half floats).
"""

from __future__ import annotations

from typing import Any, BinaryIO

import numpy as np

from convcli._libraries import _tifffile
from convcli.images.info import ImageInfo
from convcli.images.limits import Limits
from convcli.images.tiff import _is_channel_stack, _tiff_layout
from convcli.images.tiff import read as read_tiff


def open_tiff(fh: BinaryIO, label: str, limits: Limits) -> tuple[Any, list[Any], ImageInfo] | None:
    """The open TiffFile, the pages band reads take rows from (one, or each channel of a stack) and
    the info read_image gives; None when the pages cannot be read by segments (CMYK, YCbCr,
    volumes, a compression tifffile cannot decode alone): they are decoded whole."""
    tifffile = _tifffile()
    PHOTO = tifffile.PHOTOMETRIC
    info = read_tiff(fh, "tiff", label, limits, False)[1]  # every check read_image makes
    fh.seek(0)
    tif = tifffile.TiffFile(fh)
    try:
        frames = len(tif.pages)
        pages = list(tif.pages[:frames]) if _is_channel_stack(tif, frames, PHOTO) else [tif.pages[0]]
        if all(_streamable(tif, page, PHOTO) for page in pages):
            _check_segments(fh, pages)
            return tif, pages, info
    except BaseException:
        tif.close()
        raise
    tif.close()
    return None


def _check_segments(fh: BinaryIO, pages: list[Any]) -> None:
    """Refuse, before any band is read, pages whose segments lie past the end of the file (a
    truncated file, or a header promising more than there is)."""
    size = fh.seek(0, 2)
    for page in pages:
        end = max((int(offset) + int(count) for offset, count in zip(page.dataoffsets, page.databytecounts)
                   if int(count)), default=0)
        if end > size:
            raise ValueError(f"its pixel data ends at byte {end:,} but the file has {size:,} bytes (truncated?)")


def _geometry(page: Any) -> tuple[int, int, int, int, int, int]:
    """Rows and columns of a page's segments: segment height and width, how many down and across,
    planes, samples per segment."""
    height, width = int(page.imagelength), int(page.imagewidth)
    if page.is_tiled:
        seg_h, seg_w = int(page.tilelength), int(page.tilewidth)
    else:
        seg_h, seg_w = min(int(page.rowsperstrip or height), height), width
    samples = int(page.samplesperpixel)
    planes = samples if int(page.planarconfig) == 2 else 1
    return seg_h, seg_w, -(-height // seg_h), -(-width // seg_w), planes, samples // planes


def _streamable(tif: Any, page: Any, PHOTO: Any) -> bool:
    """Whether rows of ``page`` can be decoded from its segments by tifffile alone."""
    if page.photometric not in (PHOTO.MINISBLACK, PHOTO.MINISWHITE, PHOTO.RGB, PHOTO.PALETTE):
        return False
    if int(getattr(page, "imagedepth", 1) or 1) != 1 or page.is_tiled and int(getattr(page, "tiledepth", 1) or 1) != 1:
        return False
    _, _, down, across, planes, _ = _geometry(page)
    if len(page.dataoffsets) != down * across * planes or len(page.databytecounts) != len(page.dataoffsets):
        return False
    # Without a decoder of its own for the compression (LZW, JPEG, zstd without imagecodecs), or for
    # the samples, tifffile's decode is a function that only raises.
    return not getattr(page.decode, "__name__", "").startswith("decode_raise")


def _segment(tif: Any, page: Any, index: int) -> tuple[np.ndarray | None, tuple[int, ...]]:
    """Segment ``index`` decoded, (length, width, samples), and tifffile's indices of it; None for an
    empty segment (a sparse file: zeros)."""
    offset, count = int(page.dataoffsets[index]), int(page.databytecounts[index])
    if count == 0:
        return None, ()
    fh = tif.filehandle
    fh.seek(offset)
    data = fh.read(count)
    segment, indices, _shape = page.decode(data, index, jpegtables=getattr(page, "jpegtables", None))
    if segment is None:
        return None, ()
    return segment.reshape(segment.shape[-3:]), tuple(indices)


def _raw_rows(tif: Any, page: Any, r0: int, r1: int, cache: dict[int, np.ndarray | None]) -> np.ndarray:
    """Rows ``r0:r1`` of a page as stored, (rows, width, samples), in the page's dtype. ``cache``
    keeps the segments of the last two segment rows decoded, for the next bands (a strip of many
    rows, a row of tiles, is decoded once, not once per band, also when a band's halo reaches back
    into the row above)."""
    seg_h, seg_w, down, across, planes, per_plane = _geometry(page)
    width = int(page.imagewidth)
    out = np.zeros((r1 - r0, width, planes * per_plane), np.dtype(page.dtype))
    if r0 == r1:
        return out
    direct = (int(page.compression) == 1 and not page.is_tiled and int(page.bitspersample) % 8 == 0
              and int(getattr(page, "fillorder", 1)) == 1 and np.dtype(page.dtype).kind in "uif")
    for plane in range(planes):
        for y in range(r0 // seg_h, (r1 - 1) // seg_h + 1):
            top = y * seg_h
            lo, hi = max(r0, top), min(r1, top + seg_h)
            channel = slice(plane * per_plane, (plane + 1) * per_plane)
            for x in range(across):
                index = (plane * down + y) * across + x
                if direct:  # uncompressed strip: only the rows asked for
                    out[lo - r0 : hi - r0, :, channel] = _direct_rows(tif, page, index, lo - top, hi - top, per_plane)
                    continue
                if index not in cache:
                    # Keep this row of segments and the one above (a band's halo reaches back
                    # across the boundary); forget older rows.
                    for stale in [i for i in cache if (i // across) % down not in (y, y - 1)]:
                        del cache[stale]
                    cache[index] = _segment(tif, page, index)[0]
                segment = cache[index]
                if segment is None:
                    continue
                left = x * seg_w
                right = min(width, left + seg_w)
                out[lo - r0 : hi - r0, left:right, channel] = segment[lo - top : hi - top, : right - left]
    return out


def _direct_rows(tif: Any, page: Any, index: int, a: int, b: int, samples: int) -> np.ndarray:
    """Rows ``a:b`` of uncompressed strip ``index``, read alone."""
    width = int(page.imagewidth)
    stored = np.dtype(page.dtype).newbyteorder(tif.byteorder)
    row_bytes = width * samples * stored.itemsize
    offset, count = int(page.dataoffsets[index]), int(page.databytecounts[index])
    if count < b * row_bytes:
        raise ValueError(f"strip {index} is {count} bytes, too short for {b} rows of {row_bytes}")
    fh = tif.filehandle
    fh.seek(offset + a * row_bytes)
    data = fh.read((b - a) * row_bytes)
    if len(data) != (b - a) * row_bytes:
        raise ValueError(f"strip {index} is cut short (truncated file)")
    return np.frombuffer(data, stored).reshape(b - a, width, samples).astype(page.dtype)


def page_rows(tif: Any, page: Any, r0: int, r1: int, cache: dict[int, np.ndarray | None]) -> np.ndarray:
    """Rows ``r0:r1`` of a page as :func:`~convcli.images.read_image` gives them (``cache``: the
    page's last decoded segments, kept between calls)."""
    PHOTO = _tifffile().PHOTOMETRIC
    raw = _raw_rows(tif, page, r0, r1, cache)
    if raw.shape[2] == 1:
        raw = raw[..., 0]
    return _tiff_layout(raw, "YX" if raw.ndim == 2 else "YXS", page.photometric, page, PHOTO)
