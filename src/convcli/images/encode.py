"""Encoding an array (already in its output dtype) as the bytes of an image file."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from convcli._libraries import _pil, _tifffile
from convcli.errors import ConvcliError, ImageWriteError
from convcli.images.atomic import FolderData
from convcli.images.formats import FOLDER_FORMATS, FORMAT_TABLE, TEXT_FORMATS, _check_format, check_writable
from convcli.images.info import _reason
from convcli.images.png import _png_encode


#: zlib level of PNG outputs unless asked: level 1, with zlib's run-length strategy, was the
#: fastest and, on filtered images, the smallest (README, "Speed", has the measurements by level).
DEFAULT_PNG_COMPRESSION = 1


def encode_image(
    array: np.ndarray, *, format: str, has_alpha: bool | None = None, png_compression: int = DEFAULT_PNG_COMPRESSION
) -> bytes | FolderData:
    """Encode an array (already in its output dtype) as the bytes of a file.

    PNG: convcli's own writer, for grey, grey+alpha, RGB and RGBA of 8 or 16 bits: one row filter
    for the whole image, chosen by libpng's heuristic on up to 64 evenly spaced rows (None at
    level 0), then zlib level ``png_compression`` (0..9; default 1, chosen for speed), with the
    run-length strategy at level 1 (as OpenCV does by default), stored blocks at 0 and the default
    strategy at 2..9. The filtered rows are deflated in bands of 1 MiB by one thread per CPU core;
    the bands are fixed, so the bytes do not depend on the machine or on ``--jobs``. JPEG: Pillow,
    quality 95, no chroma subsampling (4:4:4). BMP: Pillow. GIF: Pillow; RGB is reduced to a
    256-colour adaptive palette, so it is lossy (grey is exact). WebP: Pillow, lossless (exact
    RGB, also under transparent pixels); grey is stored as RGB and grey+alpha as RGBA. TIFF:
    tifffile, deflate-compressed, no date or description tags; a 2- or 4-channel array is tagged
    as ending in alpha unless ``has_alpha`` is False; more than 4 channels are written as a stack
    of grey pages, one per channel, with an ImageJ hyperstack description (tifffile's shaped
    description for float64, which ImageJ cannot hold), read back whole by
    :func:`~convcli.images.read_image`. ``.npy``: ``numpy.save``. Zarr: a
    :class:`~convcli.images.atomic.FolderData` that :func:`~convcli.images.write_atomic` writes as a
    Zarr v3 folder store (chunks of 256 × 256 pixels, every channel; zarr's default compressor). ``.txt`` and ``.csv``: one row
    per line, values separated by a space or a comma, each the shortest text that reads back as the
    same value (:func:`~convcli.images.textmatrix.format_matrix`).
    The same array always gives the same bytes (with the same zlib and encoders). A (H, W, 1)
    array is written as grey.

    Parameters
    ----------
    array : numpy.ndarray
        (H, W) or (H, W, C) of uint8, uint16, float32 or float64 (see :func:`map_values`).
    format : str
        One of :data:`FORMATS`.
    has_alpha : bool, optional
        Whether a 2- or 4-channel array ends in alpha (TIFF tags it so); None: it does.
    png_compression : int, optional
        zlib level for PNG: 0 (stored, unfiltered, fastest) to 9 (smallest, slowest);
        default :data:`DEFAULT_PNG_COMPRESSION`.

    Returns
    -------
    bytes or FolderData
        The file's contents (a folder store's: a FolderData).

    Raises
    ------
    ValueError
        ``array`` is not an array of one of the four dtypes, or ``format`` is unknown.
    ImageWriteError
        The format cannot hold the array (see :func:`check_writable`) or the encoder failed.

    Examples
    --------
    >>> import numpy as np
    >>> from convcli.images import read_image, sniff_format
    >>> data = encode_image(np.zeros((2, 3), np.uint8), format="png")
    >>> sniff_format(data), read_image(data)[0].shape
    ('png', (2, 3))
    """
    if not isinstance(array, np.ndarray):
        raise ValueError(f"array must be a numpy array; got {type(array).__name__}")
    _check_format(format)
    if isinstance(png_compression, bool) or png_compression not in range(10):
        raise ValueError(f"png_compression must be a zlib level 0..9; got {png_compression!r}")
    check_writable(format, array.shape, array.dtype.name)
    try:
        return _encode(np.ascontiguousarray(array), format, has_alpha, png_compression)
    except (ConvcliError, MemoryError):
        raise
    except Exception as exc:  # the boundary: any encoder failure becomes one line
        raise ImageWriteError(f"cannot encode {FORMAT_TABLE[format].label}: {_reason(exc)}") from exc


def _encode(
    arr: np.ndarray, format: str, has_alpha: bool | None = None, png_compression: int = DEFAULT_PNG_COMPRESSION
) -> bytes | FolderData:
    if format in TEXT_FORMATS:
        from convcli.images.textmatrix import format_matrix  # lazy: only text outputs need it

        return format_matrix(arr, format=format)
    if format in FOLDER_FORMATS:
        from convcli.images.zarr_io import write_whole

        return FolderData(fill=lambda folder: write_whole(folder, arr), label=FORMAT_TABLE[format].label)
    if format == "npy":
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        return buf.getvalue()
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    channels = arr.shape[2] if arr.ndim == 3 else 1
    if format == "png":
        return _png_encode(arr, png_compression)
    if format == "tiff":
        tifffile = _tifffile()
        buf = io.BytesIO()
        if channels > 4:
            _tiff_stack(tifffile, buf, arr)
            return buf.getvalue()
        from convcli._system import usable_cpus

        # Strips deflated on a thread per core (tifffile's default is half the cores); one by one,
        # so the bytes do not depend on it.
        kwargs: dict[str, Any] = {"metadata": None, "compression": "zlib", "maxworkers": usable_cpus()}
        if channels == 1:
            kwargs["photometric"] = "minisblack"
        elif channels in (3, 4):
            kwargs.update(photometric="rgb", planarconfig="contig")
        else:
            kwargs.update(photometric="minisblack", planarconfig="contig")  # 2 channels
        if channels in (2, 4) and has_alpha is False:
            # Data channels, not colour + alpha: tagged so, and read back without alpha.
            kwargs.update(photometric="minisblack", planarconfig="contig")
        elif channels in (2, 4):
            kwargs["extrasamples"] = ["unassalpha"]
        tifffile.imwrite(buf, arr, **kwargs)
        return buf.getvalue()
    Image, _ = _pil()
    buf = io.BytesIO()
    if format == "webp" and channels in (1, 2):
        grey = arr if channels == 1 else arr[..., 0]
        planes = [grey, grey, grey] + ([arr[..., 1]] if channels == 2 else [])
        arr = np.stack(planes, axis=-1)
    im = Image.fromarray(arr)
    if format == "jpeg":
        im.save(buf, format="JPEG", quality=95, subsampling=0)
    elif format == "webp":
        im.save(buf, format="WEBP", lossless=True, exact=True)
    elif format == "gif":
        im.save(buf, format="GIF")
    else:
        im.save(buf, format="BMP")
    return buf.getvalue()



def _tiff_stack(tifffile: Any, buf: io.BytesIO, arr: np.ndarray) -> None:
    """Write (H, W, C) as C grey pages, one per channel, that viewers page through: an ImageJ
    hyperstack of C channels (uint8, uint16, float32), or, for the float64 ImageJ cannot hold,
    tifffile's shaped description; both read back as a series of axes :data:`TIFF_STACK_AXES`."""
    from convcli.images.tiff import TIFF_STACK_AXES  # lazy: only TIFF outputs need the TIFF reader's module

    planes = np.ascontiguousarray(np.moveaxis(arr, -1, 0))
    imagej = arr.dtype != np.float64
    tifffile.imwrite(buf, planes, imagej=imagej, metadata={"axes": TIFF_STACK_AXES}, compression="zlib",
                     photometric="minisblack")
