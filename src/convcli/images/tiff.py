"""Reading TIFF: tifffile, first page only (but a stack of channels, one per page, whole); Pillow
for what tifffile cannot decode alone.

A stack of channels is what convcli writes for more than 4 channels
(:func:`convcli.images.encode_image`): grey pages of one shape and dtype that tifffile reads as one
series of axes :data:`TIFF_STACK_AXES` (from an ImageJ hyperstack's or tifffile's own description).
It is read as (H, W, C); any other multi-page TIFF gives its first page, with a note.

Pillow reads the compressions tifffile needs the optional ``imagecodecs`` package for (LZW, JPEG,
CCITT), and CMYK and YCbCr pages. Pages are counted by following the IFD chain, before tifffile
opens the file.
"""

from __future__ import annotations

import struct
from typing import Any, BinaryIO

import numpy as np

from convcli._libraries import _pil, _tifffile
from convcli.errors import ImageReadError
from convcli.images.info import ImageInfo, _reason
from convcli.images.limits import Limits, _check_limits, _finish, _frame_limit
from convcli.images.pillow import _pillow_array, _pillow_plan

#: The axes of a TIFF stack that holds one channel per page, as tifffile's series names them.
TIFF_STACK_AXES = "CYX"


def read(
    fh: BinaryIO, fmt: str, label: str, limits: Limits, decode: bool
) -> tuple[np.ndarray | None, ImageInfo]:
    tifffile = _tifffile()
    PHOTO = tifffile.PHOTOMETRIC
    if limits.max_frames is not None:
        _frame_limit(_tiff_pages(fh, limits.max_frames + 1), limits, label, exact=False)
        fh.seek(0)
    with tifffile.TiffFile(fh) as tif:
        page = tif.pages[0]
        frames = len(tif.pages)
        axes, shape, dtype = page.axes, tuple(int(n) for n in page.shape), np.dtype(page.dtype)
        photometric = page.photometric
        notes: list[str] = []
        stack = _is_channel_stack(tif, frames, PHOTO)
        if frames > 1 and not stack:
            notes.append(f"TIFF has {frames} pages; the first was used")
        if stack:
            h, w, c = shape[0], shape[1], frames
        elif axes == "YX":
            h, w, c = shape[0], shape[1], 1
        elif axes == "YXS":
            h, w, c = shape
        elif axes == "SYX":
            c, h, w = shape
        else:
            raise ImageReadError(
                f"TIFF page has axes {axes} (shape {shape}); convcli reads 2-D images (Y, X, samples)", path=label
            )
        via_pillow = photometric in (PHOTO.SEPARATED, PHOTO.YCBCR)
        if via_pillow:
            if dtype != np.uint8:
                raise ImageReadError(
                    f"{getattr(photometric, 'name', photometric)} TIFF with {dtype.name} samples is not supported",
                    path=label
                )
            c, out_dtype = 3, "uint8"
            notes.append(f"{'CMYK' if photometric == PHOTO.SEPARATED else 'YCbCr'} converted to RGB")
        elif photometric == PHOTO.PALETTE:
            if page.colormap is None or c != 1:
                raise ImageReadError("palette TIFF without a usable colour map", path=label)
            grey = bool((_tiff_cmap(page) == _tiff_cmap(page)[:1]).all())
            c, out_dtype = (1 if grey else 3), "uint8"
            notes.append(f"palette image read as {'grey' if grey else 'RGB'}")
        elif photometric in (PHOTO.MINISBLACK, PHOTO.MINISWHITE, PHOTO.RGB):
            if dtype.kind == "c" or dtype.kind not in "biuf":
                raise ImageReadError(f"TIFF samples of type {dtype.name} are not supported", path=label)
            if dtype == bool:
                out_dtype = "uint8"
                notes.append("1-bit image read as 0 and 255")
            elif dtype.kind == "f" and dtype.itemsize < 4:
                out_dtype = "float32"
            else:
                out_dtype = dtype.name
            if photometric == PHOTO.MINISWHITE and dtype.kind == "f":
                raise ImageReadError("floating-point MinIsWhite TIFF is not supported", path=label)
        else:
            name = getattr(photometric, "name", photometric)  # tifffile gives a bare int for unknown values
            raise ImageReadError(f"TIFF photometric {name} is not supported", path=label)
        extra = tuple(getattr(page, "extrasamples", ()) or ())
        tagged_alpha = bool(extra) and int(extra[-1]) in (1, 2)  # associated or unassociated alpha
        info = ImageInfo(
            shape=(h, w) + ((c,) if c > 1 else ()),
            dtype=out_dtype,
            format="tiff",
            has_alpha=c in (2, 4) and tagged_alpha,
            frames=frames,
            notes=tuple(notes),
        )
        _check_limits(info, limits, label)
        if not decode:
            return None, info
        if via_pillow:
            arr = _tiff_pillow(fh, info, label, None)
        elif stack:
            arr = np.moveaxis(tif.series[0].asarray(), 0, -1)
        else:
            try:
                raw = page.asarray()
            except ValueError as exc:
                if "imagecodecs" not in str(exc):
                    raise
                arr = _tiff_pillow(fh, info, label, exc)
            else:
                arr = _tiff_layout(raw, axes, photometric, page, PHOTO)
    return _finish(arr, info, label, limits), info


def _is_channel_stack(tif: Any, frames: int, PHOTO: Any) -> bool:
    """Whether a TIFF's pages are one image's channels: a series of axes :data:`TIFF_STACK_AXES`
    covering every page, its pages grey (MinIsBlack) planes of real numbers of one shape."""
    if frames < 2 or not tif.series:
        return False
    series, first = tif.series[0], tif.pages[0]
    return (series.axes == TIFF_STACK_AXES and tuple(series.shape) == (frames, *first.shape)
            and first.axes == "YX" and first.photometric == PHOTO.MINISBLACK and np.dtype(first.dtype).kind in "uif"
            and all(page.shape == first.shape and page.dtype == first.dtype for page in tif.pages))


def _tiff_pages(fh: BinaryIO, stop: int) -> int:
    """Pages (IFDs) in a TIFF, counted by following the chain of IFD offsets (nothing else is
    read); the count stops at ``stop``, at a loop, and at the first offset past the end."""
    fh.seek(0)
    head = fh.read(16)
    order = "<" if head[:2] == b"II" else ">"
    if len(head) < 8:
        return 1
    if struct.unpack(order + "H", head[2:4])[0] == 43:  # BigTIFF: 8-byte offsets and counts
        if len(head) < 16:
            return 1
        offset = struct.unpack(order + "Q", head[8:16])[0]
        count_fmt, entry, offset_fmt = "Q", 20, "Q"
    else:
        offset = struct.unpack(order + "I", head[4:8])[0]
        count_fmt, entry, offset_fmt = "H", 12, "I"
    count_size, offset_size = struct.calcsize(count_fmt), struct.calcsize(offset_fmt)
    seen: set[int] = set()
    pages = 0
    while offset and offset not in seen and pages < stop:
        seen.add(offset)
        fh.seek(offset)
        raw = fh.read(count_size)
        if len(raw) < count_size:
            break
        pages += 1
        entries = struct.unpack(order + count_fmt, raw)[0]
        fh.seek(offset + count_size + entries * entry)
        raw = fh.read(offset_size)
        if len(raw) < offset_size:
            break
        offset = struct.unpack(order + offset_fmt, raw)[0]
    return max(pages, 1)


def _tiff_cmap(page: Any) -> np.ndarray:
    """The page's colour map as uint8, shape (3, N) (16-bit maps shifted down, as Pillow does)."""
    cmap = np.asarray(page.colormap).astype(np.uint32)
    if cmap.max() > 255:
        cmap = cmap >> 8
    return cmap.astype(np.uint8)


def _tiff_layout(raw: np.ndarray, axes: str, photometric: Any, page: Any, PHOTO: Any) -> np.ndarray:
    arr = np.moveaxis(raw, 0, -1) if axes == "SYX" else raw
    if photometric == PHOTO.PALETTE:
        cmap = _tiff_cmap(page)
        rgb = np.moveaxis(cmap[:, arr], 0, -1)
        return rgb[..., 0] if bool((cmap == cmap[:1]).all()) else rgb
    if photometric == PHOTO.MINISWHITE:
        if arr.dtype == bool:
            arr = ~arr
        else:
            top = (1 << int(page.bitspersample)) - 1 if arr.dtype.kind == "u" else np.iinfo(arr.dtype).max
            arr = (top - arr).astype(arr.dtype)
    if arr.dtype == bool:
        return arr.astype(np.uint8) * np.uint8(255)
    if arr.dtype.kind == "f" and arr.dtype.itemsize < 4:
        return arr.astype(np.float32)
    return arr


def _tiff_pillow(fh: BinaryIO, info: ImageInfo, label: str, why: Exception | None) -> np.ndarray:
    """Decode a TIFF page with Pillow (compressions tifffile needs imagecodecs for; CMYK, YCbCr)."""
    Image, unlimited = _pil()
    fh.seek(0)
    with unlimited, Image.open(fh, formats=["TIFF"]) as im:
        arr = _pillow_array(im, _pillow_plan(im)[3])
    if tuple(arr.shape) != info.shape or arr.dtype.name != info.dtype:
        what = why if why is not None else "Pillow read it differently"
        raise ImageReadError(
            f"cannot read TIFF: {_reason(what) if isinstance(what, Exception) else what} "
            "(install imagecodecs, or save the TIFF uncompressed or with deflate)",
            path=label,
        )
    return arr

