"""Reading images: sources, probing a header, and reading the first frame or page into an array.

Inputs are recognised by their magic bytes (never by their extension) and only formats on an
allow-list are read: PNG, JPEG, TIFF, BMP, GIF, WebP, NumPy ``.npy`` and Zarr folder stores (see
:mod:`convcli.images.formats`), and numbers as text (``.txt``, ``.csv``: ASCII text that starts
with a number, :mod:`convcli.images.textmatrix`). A source is a path, the string ``"sample:NAME"``
(an image that ships inside scikit-image), ``"shape:HxW[xC]"`` (a shape without pixels, for
``--dry-run``), ``"matrix:1 2 3; 4 5 6"`` (an inline matrix, read as float64) or ``bytes``
(standard input, read by the CLI).

Decoders used (all imported lazily, inside the functions that need them), one module each:

========  =====================================================================================
PNG       :mod:`~convcli.images.png_read`: OpenCV ``cv2.imdecode(..., IMREAD_UNCHANGED)``, BGR(A)
          turned into RGB(A) (Pillow cannot read 16-bit RGB); Pillow for a small PNG of a kind it
          decodes to the same array (``png_decoder``). Header read by convcli itself.
JPEG      :mod:`~convcli.images.pillow`: Pillow
BMP       Pillow
GIF       Pillow, first frame only (a note says how many frames there were)
WebP      Pillow, first frame only
TIFF      :mod:`~convcli.images.tiff`: tifffile, first page only (a stack of channels, one
          per page, as convcli writes more than 4 channels, whole); Pillow for the compressions
          tifffile cannot decode without the optional ``imagecodecs`` package (LZW, JPEG, CCITT),
          and for CMYK and YCbCr pages
.npy      :mod:`~convcli.images.npy`: NumPy, ``allow_pickle=False``
Zarr      :mod:`~convcli.images.zarr_io`: a folder store (v2 or v3), its metadata checked by
          convcli, its chunks read by the ``zarr`` package
.txt/.csv :mod:`~convcli.images.textmatrix`: convcli, float64, one row per line
========  =====================================================================================

Pixel values are kept as stored: uint8 stays 0..255, uint16 stays 0..65535. The read rules,
the same for every format:

- palette images become RGB, or RGBA when the palette has transparency; a palette whose colours
  are all grey becomes grey (H, W), or grey+alpha (H, W, 2);
- a grey or RGB image with a transparent colour key (PNG ``tRNS``, GIF) gets an alpha channel
  that is 0 where the key matches and the maximum elsewhere;
- 1-bit images become uint8 0 and 255; CMYK and YCbCr become RGB; 16-bit grey is uint16;
  Pillow's 32-bit integer mode "I" is int32 and its float mode "F" is float32;
- 2- and 4-channel image files are grey+alpha and RGBA (``ImageInfo.has_alpha``); an ``.npy``
  array never has alpha, whatever its channel count;
- EXIF orientation is **not** applied: pixels come out as stored (a note says so when a JPEG or
  WebP file carries a rotating orientation tag);
- floating-point data (``.npy``, float TIFF) holding NaN or inf is refused, unless
  ``Limits(allow_nonfinite=True)`` (``--allow-nonfinite``) lets it through as it is.

Limits (:class:`~convcli.images.limits.Limits`, each a command-line option) are checked before
anything is decoded (GIF, TIFF and WebP frames are counted by walking their block, IFD and chunk
structure, and the count stops as soon as it passes the limit).

Each decoder module has ``read(fh, fmt, label, limits, decode)``, which returns the array (None
when ``decode`` is False) and the :class:`~convcli.images.info.ImageInfo`, and ends with
:func:`~convcli.images.limits._check_limits` before decoding and
:func:`~convcli.images.limits._finish` after.
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np

from convcli._libraries import _c_stderr_silenced
from convcli.errors import ConvcliError, ImageReadError, did_you_mean
from convcli.images.formats import FORMAT_TABLE, MATRIX_PREFIX, NOT_SUPPORTED, SNIFF_BYTES, sniff_folder, sniff_format
from convcli.images.info import ImageInfo, _is_bytes, _reason
from convcli.images.limits import Limits, _check_limits, _file_size_limit, _finish, _resolve_limits


#: The name used in messages for ``bytes`` sources (standard input).
STDIN_LABEL = "<stdin>"

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]

# scikit-image sample images whose files ship inside its wheel (verified to load with no
# network and no pooch), with the format of the bundled file.
_SAMPLES = {
    "astronaut": "png",
    "brick": "png",
    "camera": "png",
    "cat": "png",
    "cell": "png",
    "checkerboard": "png",
    "chelsea": "png",
    "clock": "png",
    "coffee": "png",
    "coins": "png",
    "colorwheel": "png",
    "grass": "png",
    "gravel": "png",
    "horse": "png",
    "hubble_deep_field": "jpeg",
    "immunohistochemistry": "png",
    "logo": "png",
    "microaneurysms": "png",
    "moon": "png",
    "page": "png",
    "retina": "jpeg",
    "rocket": "jpeg",
    "text": "png",
}


def _sample_name(source: object) -> str | None:
    if isinstance(source, str) and source.startswith("sample:"):
        return source[len("sample:") :]
    return None


@contextmanager
def _opened(source: Source, limits: Limits) -> Iterator[tuple[BinaryIO, str]]:
    """Open a bytes source or a regular file for binary reading; refuse folders, FIFOs, devices
    and files over the size limit (from ``fstat``, before anything is read)."""
    if _is_bytes(source):
        _file_size_limit(len(source), limits, STDIN_LABEL, known=False)
        with io.BytesIO(bytes(source)) as fh:
            yield fh, STDIN_LABEL
        return
    path = os.fspath(source)  # type: ignore[arg-type]
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    # O_NONBLOCK: opening a FIFO must not hang; fstat below refuses it.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    flags |= getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ImageReadError("no such file", path=path) from None
    except IsADirectoryError:
        raise ImageReadError("is a folder, not an image file", path=path) from None
    except OSError as exc:
        raise ImageReadError(f"cannot open: {_reason(exc)}", path=path) from None
    try:
        status = os.fstat(fd)
        mode = status.st_mode
        if stat.S_ISDIR(mode):
            raise ImageReadError("is a folder, not an image file", path=path)
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
            raise ImageReadError(f"is {kind}, not a regular file; convcli reads only regular files", path=path)
        _file_size_limit(status.st_size, limits, path)
        # A file object named by the path (tifffile and Pillow look at .name), on the checked fd.
        fh = open(path, "rb", opener=lambda _path, _flags: fd)  # noqa: SIM115
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh, path


def sample_names() -> list[str]:
    """Names usable as ``sample:NAME``: scikit-image images that ship inside its wheel.

    They load with no network access.

    Returns
    -------
    list of str
        Sorted names.

    Examples
    --------
    >>> "astronaut" in sample_names() and "camera" in sample_names()
    True
    """
    return sorted(_SAMPLES)


def source_stem(source: Source) -> str:
    """The name an output derived from ``source`` is based on (the ``{stem}`` field).

    Parameters
    ----------
    source : str, os.PathLike or bytes
        A path, ``"sample:NAME"``, ``"matrix:..."`` or bytes (standard input).

    Returns
    -------
    str
        The file name without its extension, the sample's NAME, ``"matrix"`` or ``"stdin"``.

    Examples
    --------
    >>> source_stem("photos/cat.jpeg"), source_stem("sample:coins"), source_stem(b"...")
    ('cat', 'coins', 'stdin')
    >>> source_stem("matrix:1 2 3")
    'matrix'
    """
    if _is_bytes(source):
        return "stdin"
    if isinstance(source, str) and source.startswith(MATRIX_PREFIX):
        return "matrix"
    name = _sample_name(source)
    if name is not None:
        return name
    try:
        return Path(os.fsdecode(os.fspath(source))).stem  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"source must be a path, 'sample:NAME', 'matrix:...' or bytes; got {type(source).__name__}") from None


def probe(source: Source, *, limits: Limits | None = None) -> ImageInfo:
    """Describe an image from its header, without decoding its pixels.

    PNG headers are parsed by convcli; JPEG, BMP, GIF and WebP are opened lazily with Pillow
    (which reads only the header); TIFF with ``tifffile.TiffFile`` (page tags only); ``.npy``
    with the ``numpy.lib.format`` header. A ``sample:NAME`` source is loaded (it is small).

    Parameters
    ----------
    source : str, os.PathLike or bytes
        A path, ``"sample:NAME"`` or the bytes of a file (standard input).
    limits : Limits, optional
        What to refuse, as :func:`read_image` would (default ``Limits()``). The file size,
        side, pixel, memory and frame limits are all checked here; ``allow_nonfinite`` only
        matters when decoding.

    Returns
    -------
    ImageInfo
        Shape and dtype exactly as :func:`read_image` returns them.

    Raises
    ------
    ImageReadError
        Missing file, not a regular file, not an allowed format, damaged header, over a limit.

    Examples
    --------
    >>> probe("sample:astronaut").shape
    (512, 512, 3)
    >>> import io as _io, numpy as np
    >>> buf = _io.BytesIO(); np.save(buf, np.zeros((3, 4), np.float32))
    >>> probe(buf.getvalue())
    ImageInfo(shape=(3, 4), dtype='float32', format='npy', has_alpha=False, frames=1, notes=())
    """
    return _read(source, _resolve_limits(limits), decode=False)[1]


def read_image(
    source: Source, *, limits: Limits | None = None
) -> tuple[np.ndarray, ImageInfo]:
    """Read an image (first frame/page, or a TIFF's stack of channels) into an array, refusing
    anything unsafe or damaged.

    The format is recognised from the magic bytes, never from the extension. The limits
    (:class:`Limits`) are checked before anything is decoded: the file size from ``fstat``, the
    rest from the header. EXIF orientation is not applied: pixels come out as stored. Integer
    pixels keep their values (uint8 stays 0..255). See the module documentation for how
    palettes, transparency keys, 1-bit, CMYK and ``.npy`` arrays are read. A ``.npy`` must be
    2-D or 3-D (H, W, C) of real numbers; bool becomes uint8 0 and 1, float16 becomes float32;
    NaN or inf is refused unless ``limits.allow_nonfinite``.

    Parameters
    ----------
    source : str, os.PathLike or bytes
        A path, ``"sample:NAME"`` (see :func:`sample_names`) or the bytes of a file.
    limits : Limits, optional
        What to refuse (default ``Limits()``: the defaults of the command-line options).

    Returns
    -------
    array : numpy.ndarray
        (H, W) or (H, W, C), a new writable C-ordered array.
    info : ImageInfo
        What was read (``info.shape == array.shape``).

    Raises
    ------
    ImageReadError
        With one line saying why: missing, not a regular file, not an allowed format, corrupt
        or truncated (the decoder's reason), over a limit (naming its option), unusable ``.npy``,
        NaN or inf without ``allow_nonfinite``.

    Examples
    --------
    >>> image, info = read_image("sample:camera")
    >>> image.shape, image.dtype.name, info.format
    ((512, 512), 'uint8', 'png')
    """
    arr, info = _read(source, _resolve_limits(limits), decode=True)
    assert arr is not None
    return arr, info


def _shape_source(text: str) -> ImageInfo:
    """``shape:HxW[xC]``: an input that has a shape and no pixels, for ``--dry-run`` planning."""
    spec = text[len("shape:") :]
    try:
        shape = tuple(int(part) for part in spec.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) not in (2, 3) or min(shape, default=0) < 1:
        raise ImageReadError(f"{spec!r} is not a shape like 224x224 or 224x224x3", path=text)
    return ImageInfo(shape=shape, dtype="float32", format="npy", has_alpha=False, notes=("shape only: no pixels",))


def _read(source: Source, limits: Limits, *, decode: bool) -> tuple[np.ndarray | None, ImageInfo]:
    if isinstance(source, str) and source.startswith("shape:"):
        info = _shape_source(source)
        if decode:
            raise ImageReadError("has a shape but no pixels; use it with `dry_run`", path=source)
        return None, info
    name = _sample_name(source)
    if name is not None:
        return _read_sample(name, limits)
    if isinstance(source, str) and source.startswith(MATRIX_PREFIX):
        from convcli.images.textmatrix import read_inline  # lazy: only matrix: sources need it

        arr, info = read_inline(source, limits=limits)
        return (arr if decode else None), info
    if not (_is_bytes(source) or isinstance(source, (str, os.PathLike))):
        raise ValueError(f"source must be a path, 'sample:NAME', 'matrix:...' or bytes; got {type(source).__name__}")
    folder = _folder_store(source)
    if folder is not None:
        return _read_folder(folder, limits, decode)
    with _opened(source, limits) as (fh, label):
        try:
            head = fh.read(SNIFF_BYTES)
        except OSError as exc:
            raise ImageReadError(f"cannot read: {_reason(exc)}", path=label) from None
        if not head:
            raise ImageReadError("is empty (0 bytes), not an image", path=label)
        fmt = sniff_format(head)
        if fmt is None:
            raise ImageReadError(NOT_SUPPORTED, path=label)
        fh.seek(0)
        spec = FORMAT_TABLE[fmt]
        reader = import_module(f"{__package__}.{spec.decoder}").read
        with _decoding(spec.label, label):
            return reader(fh, fmt, label, limits, decode)


def _folder_store(source: Source) -> str | None:
    """The path of ``source`` when it is a folder store (Zarr) recognised by its files; else None."""
    if _is_bytes(source):
        return None
    path = os.fspath(source)  # type: ignore[arg-type]
    path = os.fsdecode(path) if isinstance(path, bytes) else path
    return path if os.path.isdir(path) and sniff_folder(path) is not None else None


def _read_folder(path: str, limits: Limits, decode: bool) -> tuple[np.ndarray | None, ImageInfo]:
    spec = FORMAT_TABLE[sniff_folder(path) or ""]
    with _decoding(spec.label, path):
        return import_module(f"{__package__}.{spec.decoder}").read_folder(path, path, limits, decode)


@contextmanager
def _decoding(format_label: str, label: str) -> Iterator[None]:
    """The boundary around a decoder: its warnings dropped, what C libraries print on file
    descriptor 2 silenced, and any failure of its own turned into one line naming the input."""
    try:
        # Decoders speak only through convcli: their warnings (Pillow's "Corrupt EXIF data") are
        # dropped, and what libpng/libtiff print on file descriptor 2 goes nowhere.
        with warnings.catch_warnings(), _c_stderr_silenced():
            warnings.simplefilter("ignore")
            yield
    except ConvcliError:
        raise
    except MemoryError:
        raise ImageReadError(f"not enough memory to decode this {format_label}", path=label) from None
    except Exception as exc:  # the boundary: any decoder failure becomes one line
        why = _reason(exc)
        if type(exc).__name__ == "UnidentifiedImageError":  # Pillow: "cannot identify image file <...>"
            why = "the header is damaged or truncated"
        raise ImageReadError(f"cannot read {format_label}: {why}", path=label) from exc


def _read_sample(name: str, limits: Limits) -> tuple[np.ndarray, ImageInfo]:
    label = f"sample:{name}"
    if name not in _SAMPLES:
        hint = did_you_mean(name, _SAMPLES)
        hint = f"{hint} " if hint else ""
        raise ImageReadError(
            f"unknown sample {name!r}; {hint}samples include astronaut, camera, coins, chelsea, "
            f"coffee, moon, page, text (all: {', '.join(sample_names())})",
            path=label,
        )
    import skimage.data

    try:
        arr = np.asarray(getattr(skimage.data, name)())
    except Exception as exc:  # pragma: no cover - the bundled files are verified by the tests
        raise ImageReadError(f"cannot load the sample: {_reason(exc)}", path=label) from exc
    notes: tuple[str, ...] = ()
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * np.uint8(255)
        notes = ("black-and-white sample read as 0 and 255",)
    info = ImageInfo(
        shape=tuple(int(n) for n in arr.shape),
        dtype=arr.dtype.name,
        format=_SAMPLES[name],
        has_alpha=arr.ndim == 3 and arr.shape[2] in (2, 4),
        notes=notes,
    )
    _check_limits(info, limits, label)
    return _finish(arr, info, label, limits), info

