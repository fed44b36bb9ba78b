"""Reading and writing images: the only module that talks to image decoders and encoders.

Inputs are recognised by their magic bytes (never by their extension) and only formats on an
allow-list are read: PNG, JPEG, TIFF, BMP, GIF, WebP and NumPy ``.npy``. A source is a path, the
string ``"sample:NAME"`` (an image that ships inside scikit-image) or ``bytes`` (standard input,
read by the CLI).

Decoders used (all imported lazily, inside the functions that need them):

========  =====================================================================================
PNG       OpenCV ``cv2.imdecode(..., IMREAD_UNCHANGED)``, BGR(A) turned into RGB(A) (Pillow
          cannot read 16-bit RGB); Pillow when OpenCV declines. Header read by convcli itself.
JPEG      Pillow
BMP       Pillow
GIF       Pillow, first frame only (a note says how many frames there were)
WebP      Pillow, first frame only
TIFF      tifffile, first page only; Pillow for the compressions tifffile cannot decode without
          the optional ``imagecodecs`` package (LZW, JPEG, CCITT), and for CMYK and YCbCr pages
.npy      NumPy, ``allow_pickle=False``
========  =====================================================================================

Encoders are listed in :func:`encode_image`; PNG files are written by convcli itself.

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

Limits (:class:`Limits`, each a command-line option) are checked before anything is decoded:
the file size from ``fstat`` before the first byte is read; the side length, the pixel count,
the estimated working memory (``Limits.memory``, the command line's estimate from the plan, or
:func:`working_memory`) and the frame count from the header
(GIF, TIFF and WebP frames are counted by walking their block, IFD and chunk structure, and
the count stops as soon as it passes the limit). Each refusal is an :class:`ImageReadError`
naming the limit and the option that raises it.
"""

from __future__ import annotations

import functools
import io
import math
import os
import stat
import struct
import tempfile
import threading
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, Union

import numpy as np

from convcli._system import usable_cpus
from convcli.errors import ConvcliError, ImageReadError, ImageWriteError, did_you_mean

__all__ = [
    "DEFAULT_MAX_FILE_SIZE",
    "DEFAULT_MAX_FRAMES",
    "DEFAULT_MAX_MEMORY",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_SIDE",
    "FORMATS",
    "MEMORY_FACTOR",
    "SCALES",
    "SNIFF_BYTES",
    "ImageInfo",
    "Limits",
    "check_writable",
    "default_dtype",
    "encode_image",
    "format_from_path",
    "map_values",
    "probe",
    "read_image",
    "remove_temp_files",
    "same_file",
    "sample_names",
    "sniff_format",
    "source_stem",
    "sweep_temp_files",
    "working_memory",
    "write_atomic",
    "written_through",
]

#: How many leading bytes :func:`sniff_format` looks at: enough to recognise every format, so that
#: a stream (standard input) that is no image is refused from its first bytes.
SNIFF_BYTES = 32

#: Formats convcli reads and writes, as ``ImageInfo.format`` and ``format_from_path`` name them.
FORMATS = ("png", "jpeg", "tiff", "bmp", "gif", "webp", "npy")

#: Output value mappings for integer outputs (see :func:`map_values`).
SCALES = ("clip", "abs", "normalize", "offset")

#: Pillow's hard limit (2 × ``PIL.Image.MAX_IMAGE_PIXELS``): larger images are refused from the header.
DEFAULT_MAX_PIXELS = 178_956_970

#: Largest width or height read by default: the most a 16-bit size field holds (GIF, JPEG), far
#: beyond any camera or scanner; wider strips within the pixel limit are refused (``--max-side``).
DEFAULT_MAX_SIDE = 65_535

#: Most frames (GIF, APNG, WebP) or pages (TIFF) a file may have; they are counted, never decoded.
DEFAULT_MAX_FRAMES = 1_000

#: Largest input file, in bytes (1 GiB), checked with ``fstat`` before anything is read.
DEFAULT_MAX_FILE_SIZE = 1 << 30

#: Largest estimated working memory of one input (16 GiB; see :func:`working_memory`): what an
#: RGBA image at the pixel limit needs, so by default only many-channel arrays are refused here.
DEFAULT_MAX_MEMORY = 16 << 30

#: The working-memory estimate is the float64 image (H × W × C × 8 bytes) times this: the image,
#: its padded copy and the result.
MEMORY_FACTOR = 3

#: Output dtypes convcli writes.
OUTPUT_DTYPES = ("uint8", "uint16", "float32", "float64")

#: The name used in messages for ``bytes`` sources (standard input).
STDIN_LABEL = "<stdin>"

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]

_NOT_SUPPORTED = "not a supported image (PNG, JPEG, TIFF, BMP, GIF, WebP or .npy)"

_EXTENSIONS = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".bmp": "bmp",
    ".gif": "gif",
    ".webp": "webp",
    ".npy": "npy",
}

_LABELS = {
    "png": "PNG",
    "jpeg": "JPEG",
    "tiff": "TIFF",
    "bmp": "BMP",
    "gif": "GIF",
    "webp": "WebP",
    "npy": ".npy",
}

_PIL_FORMATS = {"jpeg": "JPEG", "bmp": "BMP", "gif": "GIF", "webp": "WEBP", "png": "PNG", "tiff": "TIFF"}

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

# Largest width/height each format (or its encoder) can store.
_MAX_SIDE = {"png": 2**31 - 1, "jpeg": 65_500, "bmp": 2**31 - 1, "gif": 65_535, "webp": 16_383}


@dataclass(frozen=True)
class ImageInfo:
    """What a source holds, as :func:`read_image` will return it.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)`` or ``(H, W, C)``: the shape of the array :func:`read_image` returns.
    dtype : str
        NumPy dtype name of that array (``"uint8"``, ``"uint16"``, ``"float32"``, ...).
    format : str
        One of :data:`FORMATS`, found from the magic bytes.
    has_alpha : bool
        True for 2- and 4-channel image files (grey+alpha, RGBA); never for ``.npy``.
    frames : int
        Frames (GIF, WebP, APNG) or pages (TIFF) in the file; only the first is read.
    notes : tuple of str
        Things worth telling a user, e.g. ``"GIF has 12 frames; the first was used"``.

    Examples
    --------
    >>> info = ImageInfo(shape=(4, 5, 3), dtype="uint8", format="png", has_alpha=False)
    >>> info.frames, info.notes
    (1, ())
    """

    shape: tuple[int, ...]
    dtype: str
    format: str
    has_alpha: bool
    frames: int = 1
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Limits:
    """What convcli refuses to read, checked from the header before any pixel is decoded.

    Every number may be None: no limit. The command-line option of each is given in brackets.

    Parameters
    ----------
    max_pixels : int or None
        Most pixels (H × W) [``--max-pixels``]; default 178,956,970, Pillow's hard limit.
    max_side : int or None
        Most pixels on a side (H or W) [``--max-side``]; default 65,535.
    max_frames : int or None
        Most frames or pages in a GIF, APNG, WebP or TIFF [``--max-frames``]; default 1,000.
    max_file_size : int or None
        Largest input, in bytes [``--max-file-size``]; default 1 GiB.
    max_memory : int or None
        Largest working-memory estimate, in bytes [``--max-memory``]; default 16 GiB.
    memory : callable, optional
        ``memory(info)`` → ``(bytes, how)``: the working-memory estimate of an input from its
        header, and how it was made (for the message). The command line estimates the whole run
        from the plan of its steps (:func:`convcli.memory.estimate_memory`); without it, the
        estimate is :func:`working_memory`.
    allow_nonfinite : bool
        Let NaN and inf in floating-point inputs through [``--allow-nonfinite``]; default False.

    Examples
    --------
    >>> Limits().max_side, Limits(max_side=None).max_side
    (65535, None)
    >>> Limits(max_frames=0)
    Traceback (most recent call last):
    ...
    ValueError: max_frames must be a positive integer or None; got 0
    """

    max_pixels: int | None = DEFAULT_MAX_PIXELS
    max_side: int | None = DEFAULT_MAX_SIDE
    max_frames: int | None = DEFAULT_MAX_FRAMES
    max_file_size: int | None = DEFAULT_MAX_FILE_SIZE
    max_memory: int | None = DEFAULT_MAX_MEMORY
    allow_nonfinite: bool = False
    memory: Callable[[ImageInfo], tuple[int, str]] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("max_pixels", "max_side", "max_frames", "max_file_size", "max_memory"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer or None; got {value!r}")
            object.__setattr__(self, name, int(value))
        if not isinstance(self.allow_nonfinite, bool):
            raise ValueError(f"allow_nonfinite must be True or False; got {self.allow_nonfinite!r}")


def working_memory(shape: tuple[int, ...]) -> int:
    """The working memory, in bytes, that convcli budgets for one input of ``shape``.

    ``H × W × C × 8 × MEMORY_FACTOR``: the image as float64 (8 bytes a value), its padded copy
    and the float64 result (``MEMORY_FACTOR`` = 3). C is 1 for an (H, W) image.

    Examples
    --------
    >>> working_memory((1000, 1000, 3))
    72000000
    >>> working_memory((178_956_970, 1)) <= 4 * 2**30  # grey at Pillow's limit: 4 GiB
    True
    """
    count = 1
    for n in shape:
        count *= int(n)
    return count * 8 * MEMORY_FACTOR


def _size_text(size: int) -> str:
    """A byte count for messages: ``1 GiB``, ``1.5 GiB``, ``512 bytes``."""
    for unit, name in ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if size >= unit:
            value = f"{size / unit:.1f}".removesuffix(".0")
            return f"{value} {name}"
    return f"{size:,} bytes"


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _reason(exc: BaseException) -> str:
    """One line saying why a decoder or the OS failed."""
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(exc)
    text = " ".join(text.split()).rstrip(".")
    if not text:
        text = type(exc).__name__
    if len(text) > 200:
        text = text[:197] + "..."
    return text


def _check_format(format: str, name: str = "format") -> None:
    if not isinstance(format, str) or format not in FORMATS:
        raise ValueError(f"{name} must be one of {', '.join(FORMATS)}; got {format!r}")


_UNSET: Any = object()


def _resolve_limits(limits: Limits | None, max_pixels: Any) -> Limits:
    """``limits`` (default :class:`Limits`), with ``max_pixels`` replacing its pixel limit if given."""
    if limits is None:
        limits = Limits()
    elif not isinstance(limits, Limits):
        raise ValueError(f"limits must be a convcli.io.Limits; got {type(limits).__name__}")
    if max_pixels is not _UNSET:
        limits = replace(limits, max_pixels=max_pixels)
    return limits


def _dtype_name(value: Any, name: str) -> str:
    try:
        return np.dtype(value).name
    except TypeError:
        raise ValueError(f"{name} must be a NumPy dtype name such as 'uint8'; got {value!r}") from None


class _Scoped:
    """Hold a process-wide setting at ``value`` while any caller is inside; restore it after the last."""

    def __init__(self, get: Callable[[], Any], set_: Callable[[Any], Any], value: Any) -> None:
        self._get, self._set, self._value = get, set_, value
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: Any = None

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._saved = self._get()
                self._set(self._value)
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self._set(self._saved)


@functools.cache
def _pil() -> Any:
    """PIL.Image, plus a scope in which Pillow's own pixel limit is off (convcli applies its own)."""
    from PIL import Image

    def setter(value: Any) -> None:
        Image.MAX_IMAGE_PIXELS = value

    return Image, _Scoped(lambda: Image.MAX_IMAGE_PIXELS, setter, None)


@functools.cache
def _cv2() -> Any:
    """cv2, plus a scope in which OpenCV logs nothing to the terminal."""
    import cv2

    # OpenCV 4.x has the log level at the top (4.8: only there), 5.x only in cv2.utils.logging;
    # 0 is LOG_LEVEL_SILENT in both.
    logging = getattr(getattr(cv2, "utils", None), "logging", cv2)
    return cv2, _Scoped(logging.getLogLevel, logging.setLogLevel, 0)


@functools.cache
def _tifffile() -> Any:
    """tifffile, with a NullHandler so its warnings never reach the terminal unless logging is set up."""
    import logging

    import tifffile

    logger = logging.getLogger("tifffile")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    return tifffile


def _size_limits(width: int, height: int, limits: Limits, label: str) -> None:
    """The side and pixel limits, from the width and height a header gives."""
    side = limits.max_side
    if side is not None and max(width, height) > side:
        what, n = ("wide", width) if width >= height else ("high", height)
        raise ImageReadError(
            f"{n:,} pixels {what} is over the side limit of {side:,}; raise it with --max-side", path=label
        )
    most = limits.max_pixels
    if most is not None and width * height > most:
        raise ImageReadError(
            f"{width}×{height} = {width * height:,} pixels is over the limit of {most:,}; raise it with --max-pixels",
            path=label,
        )


def _frame_limit(frames: int, limits: Limits, label: str, *, exact: bool = True) -> None:
    """The frame limit; ``exact=False`` when counting stopped as soon as it passed the limit."""
    most = limits.max_frames
    if most is not None and frames > most:
        count = f"{frames:,} frames" if exact else f"more than {most:,} frames"
        raise ImageReadError(
            f"has {count}, over the frame limit of {most:,}; raise it with --max-frames", path=label
        )


def _check_limits(info: ImageInfo, limits: Limits, label: str) -> None:
    """Every limit a header can be held to: side, pixels, working memory, frames."""
    h, w = info.shape[0], info.shape[1]
    _size_limits(w, h, limits, label)
    if limits.max_memory is not None:
        c = info.shape[2] if len(info.shape) == 3 else 1
        if limits.memory is not None:
            need, how = limits.memory(info)
        else:
            need, how = working_memory(info.shape), f"{w}·{h}·{c} values × 8 bytes × {MEMORY_FACTOR}"
        if need > limits.max_memory:
            raise ImageReadError(
                f"{w}×{h}×{c} needs about {_size_text(need)} of working memory ({how}), "
                f"over the memory limit of {_size_text(limits.max_memory)}; raise it with --max-memory",
                path=label,
            )
    _frame_limit(info.frames, limits, label)


def _file_size_limit(size: int, limits: Limits, label: str, *, known: bool = True) -> None:
    """The file-size limit; ``known=False`` for standard input, which may have been cut at the limit."""
    most = limits.max_file_size
    if most is not None and size > most:
        shown = _size_text(size) + (f" ({size:,} bytes)" if size >= 1024 else "")
        what = f"is {shown}" if known else "is larger than"
        joint = ", over" if known else ""
        raise ImageReadError(
            f"{what}{joint} the file-size limit of {_size_text(most)}; raise it with --max-file-size", path=label
        )


def _finish(arr: np.ndarray, info: ImageInfo, label: str, limits: Limits) -> np.ndarray:
    """Check the decoded array against the header and make it a fresh, writable, C-ordered array."""
    if tuple(arr.shape) != info.shape or arr.dtype.name != info.dtype:
        raise ImageReadError(
            f"the decoder returned {arr.dtype.name} {tuple(arr.shape)} but the header says "
            f"{info.dtype} {info.shape}; the file may be damaged",
            path=label,
        )
    if arr.dtype.kind == "f" and not limits.allow_nonfinite and not np.isfinite(arr).all():
        raise ImageReadError(
            "holds NaN or inf; convcli needs finite values (--allow-nonfinite lets them through)", path=label
        )
    if not arr.flags.c_contiguous or not arr.flags.writeable or not arr.dtype.isnative:
        arr = np.array(arr, dtype=arr.dtype.newbyteorder("="), order="C")
    return arr


def _is_bytes(source: object) -> bool:
    return isinstance(source, (bytes, bytearray, memoryview))


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


# --------------------------------------------------------------------------------------------
# Format detection
# --------------------------------------------------------------------------------------------


def sniff_format(head: bytes) -> str | None:
    """Recognise an allowed format from the first bytes of a file.

    Parameters
    ----------
    head : bytes
        The start of the file: 16 bytes are enough for every format; past :data:`SNIFF_BYTES`
        they are ignored.

    Returns
    -------
    str or None
        One of :data:`FORMATS`, or None when the bytes are none of them.

    Examples
    --------
    >>> sniff_format(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(8))
    'png'
    >>> sniff_format(b"\\x93NUMPY\\x01\\x00")
    'npy'
    >>> sniff_format(b"%PDF-1.7") is None
    True
    """
    if not _is_bytes(head):
        raise ValueError(f"head must be bytes; got {type(head).__name__}")
    head = bytes(head[:SNIFF_BYTES])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    # "BM" alone is too weak: also require a known DIB header size (bytes 14-17, little-endian;
    # the low two bytes are enough, so 16 bytes of head recognise a BMP).
    if head[:2] == b"BM" and len(head) >= 16:
        if struct.unpack("<H", head[14:16])[0] in (12, 16, 40, 52, 56, 64, 108, 124):
            if len(head) < 18 or head[16:18] == b"\x00\x00":
                return "bmp"
    return None


def format_from_path(path: str) -> str:
    """The output format an output path asks for, by its extension (case-insensitive).

    Parameters
    ----------
    path : str or os.PathLike
        Output path.

    Returns
    -------
    str
        One of :data:`FORMATS`.

    Raises
    ------
    ValueError
        The extension is missing or not one convcli writes.

    Examples
    --------
    >>> format_from_path("out/edges.TIF")
    'tiff'
    >>> format_from_path("a.jpg")
    'jpeg'
    """
    try:
        text = os.fspath(path)
    except TypeError:
        raise ValueError(f"path must be a path; got {type(path).__name__}") from None
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    ext = os.path.splitext(text)[1]
    allowed = ", ".join(_EXTENSIONS)
    if not ext:
        raise ValueError(f"path {text!r} has no extension; use one of {allowed}")
    try:
        return _EXTENSIONS[ext.lower()]
    except KeyError:
        raise ValueError(f"path: unknown extension {ext!r}; use one of {allowed}") from None


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
        A path, ``"sample:NAME"`` or bytes (standard input).

    Returns
    -------
    str
        The file name without its extension, the sample's NAME, or ``"stdin"``.

    Examples
    --------
    >>> source_stem("photos/cat.jpeg"), source_stem("sample:coins"), source_stem(b"...")
    ('cat', 'coins', 'stdin')
    """
    if _is_bytes(source):
        return "stdin"
    name = _sample_name(source)
    if name is not None:
        return name
    try:
        return Path(os.fsdecode(os.fspath(source))).stem  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"source must be a path, 'sample:NAME' or bytes; got {type(source).__name__}") from None


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def probe(source: Source, *, limits: Limits | None = None, max_pixels: int | None = _UNSET) -> ImageInfo:
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
    max_pixels : int or None, optional
        Replaces ``limits.max_pixels`` (None: no pixel limit); kept for older callers.

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
    return _read(source, _resolve_limits(limits, max_pixels), decode=False)[1]


def read_image(
    source: Source, *, limits: Limits | None = None, max_pixels: int | None = _UNSET
) -> tuple[np.ndarray, ImageInfo]:
    """Read an image (first frame/page) into an array, refusing anything unsafe or damaged.

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
    max_pixels : int or None, optional
        Replaces ``limits.max_pixels`` (None: no pixel limit); kept for older callers.

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
    arr, info = _read(source, _resolve_limits(limits, max_pixels), decode=True)
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
            raise ImageReadError("has a shape but no pixels; use it with --dry-run", path=source)
        return None, info
    name = _sample_name(source)
    if name is not None:
        return _read_sample(name, limits)
    if not (_is_bytes(source) or isinstance(source, (str, os.PathLike))):
        raise ValueError(f"source must be a path, 'sample:NAME' or bytes; got {type(source).__name__}")
    with _opened(source, limits) as (fh, label):
        try:
            head = fh.read(32)
        except OSError as exc:
            raise ImageReadError(f"cannot read: {_reason(exc)}", path=label) from None
        if not head:
            raise ImageReadError("is empty (0 bytes), not an image", path=label)
        fmt = sniff_format(head)
        if fmt is None:
            raise ImageReadError(_NOT_SUPPORTED, path=label)
        fh.seek(0)
        reader = {"png": _read_png, "tiff": _read_tiff, "npy": _read_npy}.get(fmt, _read_pillow)
        try:
            # Decoders speak only through convcli: their warnings (Pillow's "Corrupt EXIF data") are
            # dropped, and what libpng/libtiff print on file descriptor 2 goes nowhere.
            with warnings.catch_warnings(), _c_stderr_silenced():
                warnings.simplefilter("ignore")
                return reader(fh, fmt, label, limits, decode)
        except ConvcliError:
            raise
        except MemoryError:
            raise ImageReadError(f"not enough memory to decode this {_LABELS[fmt]}", path=label) from None
        except Exception as exc:  # the boundary: any decoder failure becomes one line
            why = _reason(exc)
            if type(exc).__name__ == "UnidentifiedImageError":  # Pillow: "cannot identify image file <...>"
                why = "the header is damaged or truncated"
            raise ImageReadError(f"cannot read {_LABELS[fmt]}: {why}", path=label) from exc


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


# ---- PNG -----------------------------------------------------------------------------------

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


def _read_png(
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


@contextmanager
def _c_stderr_silenced() -> Iterator[None]:
    """libpng and libtiff report damage with lines of their own on file descriptor 2; convcli says
    it in one line of its own, so that descriptor points at /dev/null while a file is decoded."""
    try:
        saved = os.dup(2)
    except OSError:  # no standard error at all: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


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


# ---- Pillow formats (JPEG, BMP, GIF, WebP; PNG and TIFF fall-backs) -------------------------


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


def _read_pillow(
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
        im = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[fmt]])
        try:  # GIF counts by walking the frame headers; a damaged later frame stops the count
            frames = int(getattr(im, "n_frames", 1) or 1)
        except Exception:
            frames = 1
            im.close()
            im = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[fmt]])  # fresh, at the first frame
    with unlimited, im:
        shape, dtype, notes, how = _pillow_plan(im)
        if frames > 1:
            notes.append(f"{_LABELS[fmt]} has {frames} frames; the first was used")
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


# ---- TIFF ----------------------------------------------------------------------------------


def _read_tiff(
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
        if frames > 1:
            notes.append(f"TIFF has {frames} pages; the first was used")
        if axes == "YX":
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


# ---- .npy ----------------------------------------------------------------------------------


def _read_npy(
    fh: BinaryIO, fmt: str, label: str, limits: Limits, decode: bool
) -> tuple[np.ndarray | None, ImageInfo]:
    fmtlib = np.lib.format
    version = fmtlib.read_magic(fh)
    if version == (1, 0):
        shape, _fortran, dtype = fmtlib.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _fortran, dtype = fmtlib.read_array_header_2_0(fh)
    else:
        raise ImageReadError(f".npy format version {version[0]}.{version[1]} is not supported", path=label)
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise ImageReadError(
            "holds Python objects (would need pickle, which convcli never loads); save a numeric array", path=label
        )
    if dtype.names is not None or dtype.subdtype is not None:
        raise ImageReadError("is a structured array; convcli reads plain numeric arrays", path=label)
    if dtype.kind == "c":
        raise ImageReadError("holds complex numbers; convcli reads real numbers", path=label)
    if dtype.kind not in "biuf":
        raise ImageReadError(f"has dtype {dtype}; convcli reads numeric arrays", path=label)
    shape = tuple(int(n) for n in shape)
    if len(shape) not in (2, 3):
        raise ImageReadError(f"has shape {shape}; an image array must be (H, W) or (H, W, C)", path=label)
    if 0 in shape:
        raise ImageReadError(f"is empty (shape {shape})", path=label)
    notes: list[str] = []
    if dtype.kind == "b":
        out_dtype = "uint8"
        notes.append("bool array read as 0 and 1")
    elif dtype.kind == "f" and dtype.itemsize < 4:
        out_dtype = "float32"
        notes.append(f"{dtype.name} widened to float32")
    elif dtype.kind == "f" and dtype.itemsize > 8:
        out_dtype = "float64"
        notes.append(f"{dtype.name} narrowed to float64")
    else:
        out_dtype = dtype.name
    info = ImageInfo(shape=shape, dtype=out_dtype, format="npy", has_alpha=False, notes=tuple(notes))
    _check_limits(info, limits, label)
    if not decode:
        return None, info
    fh.seek(0)
    arr = fmtlib.read_array(fh, allow_pickle=False)
    if arr.dtype.name != out_dtype or not arr.dtype.isnative:
        arr = arr.astype(out_dtype)
    return _finish(arr, info, label, limits), info


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def default_dtype(format: str, input_dtype: str, *, result_dtype: str | None = None) -> str:
    """The output dtype used when ``--dtype`` is not given.

    PNG: uint16 for a uint16 input, else uint8. TIFF: the input's dtype when it is uint8 or
    uint16, else float32 (the raw result). ``.npy``: the raw result, float32, except that a
    result that kept the image's 8- or 16-bit values (``result_dtype`` uint8 or uint16: max and
    min pooling, nearest and zeros upsampling) stays in that dtype. JPEG, BMP, GIF, WebP: uint8.

    Parameters
    ----------
    format : str
        Output format, one of :data:`FORMATS`.
    input_dtype : str
        The input image's dtype name (``ImageInfo.dtype``).
    result_dtype : str, optional
        The dtype the steps computed (``convcli.pipeline.result_dtype``); None when unknown.

    Returns
    -------
    str
        One of ``"uint8"``, ``"uint16"``, ``"float32"``.

    Examples
    --------
    >>> default_dtype("png", "uint16"), default_dtype("tiff", "float64"), default_dtype("npy", "uint8")
    ('uint16', 'float32', 'float32')
    >>> default_dtype("npy", "uint8", result_dtype="uint8")  # max pooling kept the values
    'uint8'
    """
    _check_format(format)
    name = _dtype_name(input_dtype, "input_dtype")
    if format == "png":
        return "uint16" if name == "uint16" else "uint8"
    if format == "tiff":
        return name if name in ("uint8", "uint16") else "float32"
    if format == "npy":
        kept = _dtype_name(result_dtype, "result_dtype") if result_dtype is not None else None
        return kept if kept in KEPT_INTEGER_DTYPES else "float32"
    return "uint8"


#: Integer results written to ``.npy`` as they are (see :func:`default_dtype`).
KEPT_INTEGER_DTYPES = ("uint8", "uint16")


#: What a result's values are, for :func:`map_values`: plain values, angles in radians, or a mask.
KINDS = ("values", "angle", "mask")


def map_values(
    values: np.ndarray,
    *,
    dtype: str,
    scale: str = "clip",
    alpha: bool = False,
    kind: str = "values",
    alpha_max: float | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Turn a floating-point result into the output dtype.

    Float dtypes (``"float32"``, ``"float64"``) get the raw values, never clipped or rounded
    (``scale`` is ignored and reported as ``"raw"``). For ``"uint8"`` and ``"uint16"``
    (``top`` = 255 or 65535):

    - ``clip``: round, then clip into 0..top;
    - ``abs``: absolute value, then round and clip;
    - ``normalize``: stretch min..max (over all colour channels together) to 0..top; a
      constant image becomes all 0;
    - ``offset``: add half the range ((top + 1) / 2: 128 or 32768), then round and clip, so
      signed responses sit around mid-grey.

    Rounding is ``numpy.rint``: halves go to the even neighbour (0.5 → 0, 1.5 → 2, 2.5 → 2).
    Results are those of float64 arithmetic (the input converted to float64, then scaled,
    rounded and clipped). Float32 input is not converted, as float32 gives the same results
    (OpenCV rounds and clips in one pass, where the installed version is checked to round as
    ``numpy.rint`` does); ``offset`` and ``normalize`` compute in float64, in blocks.
    With ``alpha=True`` the last channel is alpha: it is only rounded and clipped, whatever
    ``scale`` says, and it takes no part in ``normalize``'s min..max.

    ``alpha_max`` is the full-opacity value of the input's alpha (255 for uint8, 65535 for
    uint16): alpha is rescaled to the output's range, so 8-bit alpha written as 16-bit stays opaque.

    ``kind="angle"`` (radians, e.g. a gradient direction) maps −π..π linearly onto 0..top for
    integer dtypes, ``(θ + π)/(2π)·top``, whatever ``scale`` says; ``kind="mask"`` (booleans) gives
    0 and top. Float dtypes keep radians, and 0.0/1.0 for masks.

    Parameters
    ----------
    values : numpy.ndarray
        The result, (H, W) or (H, W, C), real numbers.
    dtype : str
        ``"uint8"``, ``"uint16"``, ``"float32"`` or ``"float64"``.
    scale : str, optional
        One of :data:`SCALES`; default ``"clip"``.
    alpha : bool, optional
        The last channel is alpha (needs 2 or more channels).

    Returns
    -------
    array : numpy.ndarray
        A new array of ``dtype``.
    info : dict
        ``{"scale": scale or "raw", "dtype": dtype, "clipped": n, "clipped_below": b,
        "clipped_above": a}``: n = b + a values were outside 0..top after rounding and so were
        clipped, b of them below 0 and a above top.

    Raises
    ------
    ValueError
        Bad argument, or NaN/inf values for an integer dtype.

    Examples
    --------
    >>> import numpy as np
    >>> out, info = map_values(np.array([[-3.0, 0.5, 1.5, 300.0]]), dtype="uint8")
    >>> out.tolist(), info["clipped"], info["clipped_below"], info["clipped_above"]
    ([[0, 0, 2, 255]], 2, 1, 1)
    >>> map_values(np.array([[-1.0, 0.0, 1.0]]), dtype="uint8", scale="offset")[0].tolist()
    [[127, 128, 129]]
    """
    if not isinstance(values, np.ndarray):
        raise ValueError(f"values must be a numpy array; got {type(values).__name__}")
    if values.dtype.kind not in "biuf":
        raise ValueError(f"values must hold real numbers; got dtype {values.dtype}")
    if dtype not in OUTPUT_DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(OUTPUT_DTYPES)}; got {dtype!r}")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
    if alpha and (values.ndim != 3 or values.shape[2] < 2):
        raise ValueError(f"alpha=True needs values of shape (H, W, C) with C >= 2; got shape {values.shape}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if dtype.startswith("float"):
        return values.astype(dtype), _clipped({"scale": "raw", "dtype": dtype}, (0, 0))
    if kind == "values" and not alpha and values.size:
        fast = _map_fast(values, dtype, scale)
        if fast is not None:
            return fast
    v = values.astype(np.float64)
    if alpha and alpha_max:
        v[..., -1] *= float(np.iinfo(dtype).max) / float(alpha_max)
    if kind != "values":
        top = float(np.iinfo(dtype).max)
        colour = v[..., :-1] if alpha else v  # alpha is already in the output's units
        colour[...] = (colour + np.pi) * (top / (2 * np.pi)) if kind == "angle" else colour * top
        mapped, info = map_values(v, dtype=dtype, scale="clip", alpha=alpha)
        return mapped, dict(info, scale="angle (θ + π)/2π" if kind == "angle" else "mask")
    if not np.isfinite(v).all():
        raise ValueError(_NONFINITE.format(dtype))
    top = float(np.iinfo(dtype).max)
    colour, alpha_ch = (v[..., :-1], v[..., -1:]) if alpha else (v, None)
    if scale == "abs":
        colour = np.abs(colour)
    elif scale == "offset":
        colour = colour + (top + 1) / 2
    elif scale == "normalize":
        lo = float(colour.min()) if colour.size else 0.0
        hi = float(colour.max()) if colour.size else 0.0
        if not hi > lo:
            colour = np.zeros_like(colour)
        elif math.isfinite(hi - lo):
            colour = (colour - lo) * (top / (hi - lo))
        else:  # a span beyond float64 (e.g. -1e308..1e308): the same stretch on halved values
            colour = (colour * 0.5 - lo * 0.5) * (top / (hi * 0.5 - lo * 0.5))
    parts = [colour] if alpha_ch is None else [colour, alpha_ch]
    out_parts = []
    under = over = 0
    for part in parts:
        r = np.rint(part)
        under += int(np.count_nonzero(r < 0))
        over += int(np.count_nonzero(r > top))
        out_parts.append(np.clip(r, 0, top))
    out = out_parts[0] if alpha_ch is None else np.concatenate(out_parts, axis=-1)
    return out.astype(dtype), _clipped({"scale": scale, "dtype": dtype}, (under, over))


_NONFINITE = "values hold NaN or inf, which {} cannot hold; write .npy or .tif for raw floats"

#: OpenCV rounds floats to integers through int32, so larger magnitudes would wrap round: values
#: beyond ±2**30 (far outside 0..65535 either way) are clipped to it first, which changes no result.
_ROUND_SAFE = float(2**30)

#: Elements per block where ``normalize`` computes in float64 (512 KiB of float64: stays in cache).
_MAP_BLOCK = 1 << 16


def _round_saturate(s: np.ndarray, dtype: str) -> np.ndarray:
    """``clip(rint(s), 0, top)`` as ``dtype`` (uint8 or uint16), in one OpenCV pass where OpenCV
    is known to round as ``numpy.rint`` does.

    OpenCV's float-to-integer conversion is documented to round half to even and saturate, but
    the value rule of :func:`map_values` is NumPy's, not a library version's: OpenCV is used only
    after :func:`_opencv_rounds_like_numpy` has checked, once per process, that the installed
    version gives ``numpy.rint``'s answer on ties and their float neighbours. Otherwise NumPy
    does it, in cache-sized blocks. ``|s|`` must stay below :data:`_ROUND_SAFE`. A 2-D view is
    passed so that OpenCV sees one channel whatever the channel count. OpenCV takes an array of
    a few elements for a scalar (``add(1×1 array, scalar)`` gives 4 values), so small arrays are
    done by NumPy.
    """
    if s.size < 64 or not _opencv_rounds_like_numpy():
        return _round_saturate_numpy(s, dtype)
    cv2, _ = _cv2()
    flat = s.reshape(s.shape[0], -1) if s.ndim >= 2 else s.reshape(1, -1)
    out = cv2.add(flat, 0.0, dtype=cv2.CV_8U if dtype == "uint8" else cv2.CV_16U)
    return out.reshape(s.shape)


def _round_saturate_numpy(s: np.ndarray, dtype: str) -> np.ndarray:
    """:func:`_round_saturate` by NumPy alone, in blocks of :data:`_MAP_BLOCK` elements."""
    top = np.iinfo(dtype).max
    flat = s.reshape(-1)
    out = np.empty(flat.shape, dtype)
    for start in range(0, flat.size, _MAP_BLOCK):
        block = np.rint(flat[start : start + _MAP_BLOCK])
        np.clip(block, 0, top, out=block)
        out[start : start + _MAP_BLOCK] = block
    return out.reshape(s.shape)


@functools.cache
def _opencv_rounds_like_numpy() -> bool:
    """Whether the installed OpenCV rounds and saturates float32 and float64 values to uint8 and
    uint16 exactly as ``clip(numpy.rint(x), 0, top)`` does: every tie from −2.5 to top + 1.5 and
    the float neighbours on each side of it. Checked once per process (a few thousand values)."""
    cv2, _ = _cv2()
    for dtype, code in (("uint8", cv2.CV_8U), ("uint16", cv2.CV_16U)):
        top = int(np.iinfo(dtype).max)
        ties = np.arange(-3, min(top, 1024) + 2) + 0.5
        if top > 1024:
            ties = np.concatenate([ties, np.arange(top - 1024, top + 2) + 0.5])
        for float_type in (np.float32, np.float64):
            t = ties.astype(float_type)
            probe = np.concatenate([t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf)]).reshape(1, -1)
            expected = np.clip(np.rint(probe), 0, top).astype(dtype)
            if not np.array_equal(cv2.add(probe, 0.0, dtype=code), expected):
                return False
    return True


def _count_outside(s: np.ndarray, lo: float, hi: float, below: float, at_or_above: float) -> tuple[int, int]:
    """How many of ``s`` are < ``below``, and how many >= ``at_or_above``; ``lo``/``hi`` (the min
    and max of ``s``) say when no value can be, so that no pass over ``s`` is made for nothing.
    Counted in blocks, so the comparisons' masks stay small: a fresh mask the size of the image
    costs page faults (or, where the kernel compacts memory for huge pages, stalls) worth more
    than the count."""
    if lo >= below and hi < at_or_above:
        return 0, 0
    flat = s.reshape(-1)
    under = over = 0
    for start in range(0, flat.size, _COUNT_BLOCK):
        block = flat[start : start + _COUNT_BLOCK]
        if lo < below:
            under += int(np.count_nonzero(block < below))
        if hi >= at_or_above:
            over += int(np.count_nonzero(block >= at_or_above))
    return under, over


def _clipped(info: dict[str, Any], counts: tuple[int, int]) -> dict[str, Any]:
    """``info`` with the clipped counts: in all, below 0 and above the top."""
    return dict(info, clipped=counts[0] + counts[1], clipped_below=counts[0], clipped_above=counts[1])


#: Elements per block of :func:`_count_outside` (a 256 KiB mask).
_COUNT_BLOCK = 1 << 18


def _map_fast(values: np.ndarray, dtype: str, scale: str) -> tuple[np.ndarray, dict[str, Any]] | None:
    """:func:`map_values` for plain values without alpha, in few passes; None: use the general path.

    Gives exactly what the general path gives (float64 arithmetic, ``numpy.rint``, clip):

    - ``min``/``max`` propagate NaN, so both finite ⇔ every value is finite;
    - ``rint(x) < 0`` ⇔ ``x < -0.5`` and ``rint(x) > top`` ⇔ ``x >= top + 0.5`` (``top + 1`` is
      even, so ``top + 0.5`` rounds up), so the clipped count needs one comparison per side, and
      only on a side the min or max reaches;
    - float32 input stays float32: ``clip`` and ``abs`` are exact in any float type; for
      ``offset``, the float64 sum ``v + h`` (h = 128 or 32768) of a float32 ``v`` is exact when
      ``|v| >= 2**-21`` (24 significant bits plus h fit in 53) and otherwise lies within ``2**-21``
      of ``h``, far from a tie; so float32 input is shifted in float64 in cache-sized blocks and
      rounded once, with the general path's result (never by a library's own scalar addition,
      whose precision differs between OpenCV versions). float64 input adds in float64 with NumPy
      first, as the general path does;
    - integers of up to 16 bits and float16 are exact in float32; wider ones go through float64.
    """
    if values.dtype in (np.float32, np.float64):
        v = values
    elif (values.dtype.kind in "biu" and values.dtype.itemsize <= 2) or values.dtype == np.float16:
        v = values.astype(np.float32)
    else:
        v = values.astype(np.float64)
    lo, hi = float(v.min()), float(v.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(_NONFINITE.format(dtype))
    top = int(np.iinfo(dtype).max)
    info: dict[str, Any] = _clipped({"scale": scale, "dtype": dtype}, (0, 0))
    if scale == "normalize":
        if not hi > lo:
            return np.zeros(v.shape, dtype), info
        span = hi - lo
        factor = top / span
        if not (math.isfinite(span) and math.isfinite(factor)):
            return None  # a range too wide or too narrow for float64: the general path's arithmetic
        out = np.empty(v.shape, dtype)
        flat, flat_out = v.reshape(-1), out.reshape(-1)
        for start in range(0, flat.size, _MAP_BLOCK):
            t = flat[start : start + _MAP_BLOCK].astype(np.float64)
            t -= lo
            t *= factor
            flat_out[start : start + _MAP_BLOCK] = _round_saturate(t, dtype)
        # Nothing is clipped: v >= lo gives t >= 0, and t <= fl(fl(hi - lo) * factor), which is
        # within two roundings of top, far below top + 0.5.
        return out, info
    if lo < -_ROUND_SAFE or hi > _ROUND_SAFE:
        v = np.clip(v, -_ROUND_SAFE, _ROUND_SAFE)
        lo, hi = max(lo, -_ROUND_SAFE), min(hi, _ROUND_SAFE)
    half = (top + 1) // 2
    if scale == "clip":
        info = _clipped(info, _count_outside(v, lo, hi, -0.5, top + 0.5))
        return _round_saturate(v, dtype), info
    if scale == "abs":
        s = np.abs(v)
        info = _clipped(info, _count_outside(s, 0.0, max(-lo, hi), -0.5, top + 0.5))
        return _round_saturate(s, dtype), info
    if v.dtype == np.float32:
        # offset: the float64 sum v + half is exact for float32 v (24 significant bits and the shift
        # fit in 53) and is rounded once; a float32 sum would round near ties first. Made in blocks.
        info = _clipped(info, _count_outside(v, lo, hi, -half - 0.5, top - half + 0.5))
        out = np.empty(v.shape, dtype)
        flat, flat_out = v.reshape(-1), out.reshape(-1)
        for start in range(0, flat.size, _MAP_BLOCK):
            t = flat[start : start + _MAP_BLOCK].astype(np.float64)
            t += half
            flat_out[start : start + _MAP_BLOCK] = _round_saturate(t, dtype)
        return out, info
    s = v + float(half)
    info = _clipped(info, _count_outside(s, lo + half, hi + half, -0.5, top + 0.5))
    return _round_saturate(s, dtype), info


def check_writable(format: str, shape: tuple[int, ...], dtype: str, *, has_alpha: bool | None = None) -> None:
    """Refuse, before any work, an output the format cannot hold; the message says what to use.

    ============  =====================  ============================================
    format        dtypes                 channels
    ============  =====================  ============================================
    png           uint8, uint16          1, 2 (grey+alpha), 3, 4
    jpeg          uint8                  1, 3
    bmp           uint8                  1, 3 (Pillow's 32-bit BMP loses alpha)
    gif           uint8                  1, 3 (RGB is reduced to a 256-colour palette)
    webp          uint8                  1-4 (stored as RGB/RGBA: grey reads back as RGB)
    tiff          all four               any
    npy           all four               any
    ============  =====================  ============================================

    The shape must be (H, W) or (H, W, C) with no zero side; JPEG sides are at most 65,500,
    WebP at most 16,383, GIF at most 65,535. A (H, W, 1) array is written as grey.

    Parameters
    ----------
    format : str
        One of :data:`FORMATS`.
    shape : tuple of int
        The array to write.
    dtype : str
        ``"uint8"``, ``"uint16"``, ``"float32"`` or ``"float64"``.

    Raises
    ------
    ValueError
        A malformed argument (unknown format or dtype name, shape not a tuple of ints).
    ImageWriteError
        The format cannot hold this array.

    Examples
    --------
    >>> check_writable("png", (4, 4, 3), "uint16")
    >>> check_writable("jpeg", (4, 4), "uint16")
    Traceback (most recent call last):
    ...
    convcli.errors.ImageWriteError: JPEG holds only 8-bit (uint8) values; use .png or .tif for 16-bit
    """
    _check_format(format)
    if dtype not in OUTPUT_DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(OUTPUT_DTYPES)}; got {dtype!r}")
    try:
        shape = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape must be a tuple of ints; got {shape!r}") from None
    label = _LABELS[format]
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ImageWriteError(f"an image must be (H, W) or (H, W, C) with no empty side; got shape {shape}")
    channels = shape[2] if len(shape) == 3 else 1
    if format in ("tiff", "npy"):
        return
    if dtype.startswith("float"):
        raise ImageWriteError(
            f"{label} cannot hold {dtype}; use .tif or .npy for floating-point output, or --dtype uint8"
        )
    if dtype == "uint16" and format != "png":
        raise ImageWriteError(f"{label} holds only 8-bit (uint8) values; use .png or .tif for 16-bit")
    side = _MAX_SIDE[format]
    if max(shape[:2]) > side:
        raise ImageWriteError(
            f"{label} images are at most {side:,} pixels on a side; got {shape[1]}×{shape[0]}; use .png or .tif"
        )
    allowed = {"png": (1, 2, 3, 4), "jpeg": (1, 3), "bmp": (1, 3), "gif": (1, 3), "webp": (1, 2, 3, 4)}[format]
    if channels in (2, 4) and has_alpha is False:
        # An image file would read the last of these channels back as transparency.
        raise ImageWriteError(
            f"this result has {channels} data channels and no alpha; {label} would store the last one as "
            "transparency: use .tif or .npy"
        )
    if channels in allowed:
        return
    if channels in (2, 4):
        raise ImageWriteError(f"{label} cannot hold an alpha channel; use .png, .webp or .tif")
    raise ImageWriteError(
        f"{label} holds {' or '.join(map(str, allowed))} channels; this result has {channels}; use .tif or .npy"
    )


# ---- PNG writer ----------------------------------------------------------------------------

#: Filtered bytes per band: each band is deflated on its own, by a thread of its own. Fixed, never
#: derived from the machine (its CPU count), so that an array gives the same bytes everywhere.
_PNG_BAND_BYTES = 1 << 20

#: Rows (evenly spaced) on which the filter heuristic is evaluated.
_PNG_SAMPLE_ROWS = 64

#: Elements per block in which rows are filtered: Paeth's temporaries then stay in the CPU cache.
_PNG_FILTER_BLOCK = 1 << 15

#: Largest chunk payload PNG allows.
_PNG_MAX_CHUNK = 2**31 - 1

#: The five PNG filter types, by their number; on a tie the heuristic takes the first.
_PNG_FILTERS = ("none", "sub", "up", "average", "paeth")

#: PNG colour type by channel count: grey, grey+alpha, RGB, RGBA.
_PNG_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}


def _png_filter(raw: np.ndarray, up: np.ndarray, kind: int, bpp: int, out: np.ndarray) -> None:
    """Apply PNG filter ``kind`` (0..4) to rows of bytes, block by block.

    Parameters
    ----------
    raw : numpy.ndarray
        (n, stride) uint8: the rows, as stored in the file (16-bit samples big-endian).
    up : numpy.ndarray
        (n, stride) uint8: the row above each (zeros above the first row of the image).
    kind : int
        0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth.
    bpp : int
        Bytes per complete pixel: the distance to the "left" byte.
    out : numpy.ndarray
        (n, stride) uint8, written: the filtered bytes (without the filter-type byte).
    """
    n, stride = raw.shape
    step = max(1, _PNG_FILTER_BLOCK // max(stride, 1))
    for r in range(0, n, step):
        _png_filter_block(raw[r : r + step], up[r : r + step], kind, bpp, out[r : r + step])


def _png_filter_block(raw: np.ndarray, up: np.ndarray, kind: int, bpp: int, out: np.ndarray) -> None:
    """:func:`_png_filter` on one block. Arithmetic is on uint8, so modulo 256 as PNG defines it;
    every predictor reads unfiltered bytes only (left, above, above-left), so whole blocks are
    filtered at once."""
    if kind == 0:
        out[...] = raw
    elif kind == 1:  # Sub: raw(x) - raw(x - bpp)
        out[:, :bpp] = raw[:, :bpp]
        np.subtract(raw[:, bpp:], raw[:, :-bpp], out=out[:, bpp:])
    elif kind == 2:  # Up: raw(x) - prior(x)
        np.subtract(raw, up, out=out)
    elif kind == 3:  # Average: raw(x) - floor((raw(x - bpp) + prior(x)) / 2)
        a, b = raw[:, :-bpp], up[:, bpp:]
        mean = a >> 1
        mean += b >> 1
        mean += a & b & 1  # the halves' lost bits: no 9-bit sum needed
        np.subtract(raw[:, bpp:], mean, out=out[:, bpp:])
        np.subtract(raw[:, :bpp], up[:, :bpp] >> 1, out=out[:, :bpp])
    else:  # Paeth: the one of left a, above b, above-left c nearest to a + b - c (a, b, c on a tie)
        a, b, c = raw[:, :-bpp], up[:, bpp:], up[:, :-bpp]
        c16 = c.astype(np.int16)
        pa = b.astype(np.int16)
        pa -= c16  # p - a = b - c
        pb = a.astype(np.int16)
        pb -= c16  # p - b = a - c
        pc = pa + pb  # p - c
        np.abs(pa, out=pa)
        np.abs(pb, out=pb)
        np.abs(pc, out=pc)
        take_a = pa <= pb
        take_a &= pa <= pc
        take_b = pb <= pc
        take_b &= ~take_a
        # prediction = c + (a - c)·take_a + (b - c)·take_b, modulo 256 (no slow numpy.where)
        pred = a - c
        pred *= take_a
        other = b - c
        other *= take_b
        pred += other
        pred += c
        np.subtract(raw[:, bpp:], pred, out=out[:, bpp:])
        np.subtract(raw[:, :bpp], up[:, :bpp], out=out[:, :bpp])  # no left pixel: Paeth is Up


def _png_rows(block: np.ndarray, stride: int) -> np.ndarray:
    """Pixel rows as the (n, stride) bytes PNG stores: 16-bit samples big-endian."""
    if block.dtype.itemsize == 2:
        block = block.astype(">u2", copy=False)
    return block.view(np.uint8).reshape(block.shape[0], stride)


def _png_choose_filter(arr: np.ndarray, stride: int, bpp: int) -> int:
    """libpng's heuristic, once per image: the filter whose output, as signed bytes, has the
    smallest sum of absolute values over up to :data:`_PNG_SAMPLE_ROWS` evenly spaced rows."""
    h = arr.shape[0]
    n = min(h, _PNG_SAMPLE_ROWS)
    idx = np.arange(n) * (h - 1) // max(n - 1, 1)
    raw = _png_rows(arr[idx], stride)
    up = _png_rows(arr[np.maximum(idx - 1, 0)], stride).copy()
    up[idx == 0] = 0
    out = np.empty_like(raw)
    best, best_sum = 0, -1
    for kind in range(len(_PNG_FILTERS)):
        _png_filter(raw, up, kind, bpp, out)
        total = int(np.abs(out.view(np.int8), dtype=np.int16).sum(dtype=np.int64))
        if best_sum < 0 or total < best_sum:
            best, best_sum = kind, total
    return best


def _adler32_combine(adler1: int, adler2: int, len2: int) -> int:
    """Adler-32 of A + B from those of A and of B (``len2`` bytes), as zlib's ``adler32_combine``.

    Adler-32 is (b << 16) | a with a = 1 + Σ bytes and b = Σ of the running a, modulo 65521: B's
    bytes add to A's a, and each of B's ``len2`` running values grows by A's a - 1.
    """
    base = 65521
    a1, b1 = adler1 & 0xFFFF, adler1 >> 16
    a2, b2 = adler2 & 0xFFFF, adler2 >> 16
    a = (a1 + a2 - 1) % base
    b = (b1 + b2 + len2 * (a1 - 1)) % base
    return (b << 16) | a


def _zlib_header(level: int, strategy: int) -> bytes:
    """The two bytes zlib's ``deflate`` writes first: 32 KiB window, its level flag, check bits."""
    if strategy in (zlib.Z_HUFFMAN_ONLY, zlib.Z_RLE) or level < 2:
        flag = 0
    else:
        flag = 1 if level < 6 else 2 if level == 6 else 3
    header = (0x78 << 8) | (flag << 6)
    header += 31 - header % 31
    return struct.pack(">H", header)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _png_encode(
    arr: np.ndarray,
    level: int = 6,
    *,
    filter_type: int | None = None,
    workers: int | None = None,
    band_bytes: int = _PNG_BAND_BYTES,
) -> bytes:
    """A PNG of grey, grey+alpha, RGB or RGBA, 8 or 16 bits, deflated by several threads.

    One filter type for all rows, chosen by :func:`_png_choose_filter` (None at ``level`` 0).
    The rows are cut into bands of about ``band_bytes`` filtered bytes (whole rows). This thread
    filters band after band (NumPy calls on cache-sized blocks, which would only contend for the
    GIL if threads shared them) while a thread pool raw-deflates the bands already filtered (zlib
    releases the GIL) and takes their Adler-32 and CRC-32. Each band but the last ends with a
    sync flush (byte-aligned, not final), so the bands concatenate into one deflate stream; it
    gets the zlib header and the Adler-32 of all filtered bytes (combined from the bands'), and
    each band goes into an IDAT chunk of its own. zlib strategy: run-length (``Z_RLE``, what
    OpenCV uses by default: fast, and on filtered images smaller than the default strategy at
    level 1) at level 1; the default strategy at levels 2..9; stored blocks at level 0. The bands
    do not depend on ``workers``, so neither do the bytes.

    Parameters
    ----------
    arr : numpy.ndarray
        (H, W) or (H, W, C), C in 1..4, of uint8 or uint16.
    level : int, optional
        zlib level 0..9.
    filter_type : int, optional
        Force a filter type (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth); None: the heuristic's.
    workers : int, optional
        Threads; None: one per CPU core this process may use (never more than the bands).
    band_bytes : int, optional
        Filtered bytes per band (at least one row).

    Returns
    -------
    bytes
        The PNG file.
    """
    arr = np.ascontiguousarray(arr)
    h, w = arr.shape[:2]
    channels = arr.shape[2] if arr.ndim == 3 else 1
    depth = 16 if arr.dtype.itemsize == 2 else 8
    bpp = channels * depth // 8
    stride = w * bpp
    if filter_type is None:
        filter_type = 0 if level == 0 else _png_choose_filter(arr, stride, bpp)
    strategy = zlib.Z_RLE if level == 1 else zlib.Z_DEFAULT_STRATEGY
    per_band = max(1, band_bytes // (stride + 1))
    bounds = [(r, min(r + per_band, h)) for r in range(0, h, per_band)]
    last = len(bounds) - 1
    header = _zlib_header(level, strategy)

    def filtered(i: int) -> np.ndarray:
        r0, r1 = bounds[i]
        if r0:
            rows = _png_rows(arr[r0 - 1 : r1], stride)
            raw, up = rows[1:], rows[:-1]
        else:
            raw = _png_rows(arr[:r1], stride)
            up = np.zeros_like(raw)
            up[1:] = raw[:-1]
        buf = np.empty((r1 - r0, stride + 1), np.uint8)
        buf[:, 0] = filter_type
        _png_filter(raw, up, filter_type, bpp, buf[:, 1:])
        return buf

    def deflated(i: int, buf: np.ndarray) -> tuple[bytes, int, int]:
        deflate = zlib.compressobj(level, zlib.DEFLATED, -15, 9, strategy)
        data = deflate.compress(buf) + deflate.flush(zlib.Z_FINISH if i == last else zlib.Z_SYNC_FLUSH)
        crc = zlib.crc32(data, zlib.crc32(b"IDAT" + (header if i == 0 else b"")))
        return data, crc, zlib.adler32(buf)

    threads = max(1, min(usable_cpus() if workers is None else workers, len(bounds)))
    if threads == 1:
        results = [deflated(i, filtered(i)) for i in range(len(bounds))]
    else:
        from concurrent.futures import ThreadPoolExecutor

        # This thread filters (many short NumPy calls, which contend for the GIL when threads
        # share them) while the pool deflates (zlib releases the GIL); at most 2 bands per thread wait.
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = []
            for i in range(len(bounds)):
                if i >= 2 * threads:
                    futures[i - 2 * threads].result()
                futures.append(pool.submit(deflated, i, filtered(i)))
            results = [future.result() for future in futures]
    adler = 1
    for (r0, r1), (_, _, band_adler) in zip(bounds, results):
        adler = _adler32_combine(adler, band_adler, (r1 - r0) * (stride + 1))
    trailer = struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, _PNG_COLOUR_TYPES[channels], 0, 0, 0)
    parts = [b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", ihdr)]
    for i, (data, crc, _) in enumerate(results):
        head = header if i == 0 else b""
        tail = trailer if i == last else b""
        size = len(head) + len(data) + len(tail)
        if size <= _PNG_MAX_CHUNK:
            parts += [struct.pack(">I", size), b"IDAT", head, data, tail, struct.pack(">I", zlib.crc32(tail, crc))]
        else:  # only a band of one enormous row gets here
            payload = head + data + tail
            parts += [_png_chunk(b"IDAT", payload[k : k + _PNG_MAX_CHUNK]) for k in range(0, size, _PNG_MAX_CHUNK)]
    parts.append(_png_chunk(b"IEND", b""))
    return b"".join(parts)


#: zlib level of PNG outputs unless asked: level 1, with zlib's run-length strategy, was the
#: fastest and, on filtered images, the smallest (README, "Speed", has the measurements by level).
DEFAULT_PNG_COMPRESSION = 1


def encode_image(
    array: np.ndarray, *, format: str, has_alpha: bool | None = None, png_compression: int = DEFAULT_PNG_COMPRESSION
) -> bytes:
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
    as ending in alpha unless ``has_alpha`` is False. ``.npy``: ``numpy.save``.
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
    bytes
        The file's contents.

    Raises
    ------
    ValueError
        ``array`` is not an array of one of the four dtypes, or ``format`` is unknown.
    ImageWriteError
        The format cannot hold the array (see :func:`check_writable`) or the encoder failed.

    Examples
    --------
    >>> import numpy as np
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
        raise ImageWriteError(f"cannot encode {_LABELS[format]}: {_reason(exc)}") from exc


def _encode(
    arr: np.ndarray, format: str, has_alpha: bool | None = None, png_compression: int = DEFAULT_PNG_COMPRESSION
) -> bytes:
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
        kwargs: dict[str, Any] = {"metadata": None, "compression": "zlib"}
        if channels == 1:
            kwargs["photometric"] = "minisblack"
        elif channels in (3, 4):
            kwargs.update(photometric="rgb", planarconfig="contig")
        else:
            kwargs.update(photometric="minisblack", planarconfig="contig")
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


# Temporary files being written now, so a signal handler can remove them (remove_temp_files).
_LIVE_TEMPS: set[str] = set()
_LIVE_LOCK = threading.RLock()  # re-entrant: a signal handler may clean up mid-write

# Whose temporary files these are: the process that loaded this module (its pid, and random bytes
# for processes of other PID namespaces sharing a folder, as containers do), in their names. Worker
# processes forked from it inherit the same owner, so that the parent can sweep what a killed
# worker left (sweep_temp_files) and nothing another convcli run is writing.
_OWNER = f"{os.getpid()}-{os.urandom(4).hex()}"
_OWNER_MARK = f".{_OWNER}."  # between the output's name and the random part, in every temporary name
_RANDOM_LENGTH = 8          # what tempfile.mkstemp puts between prefix and suffix
_TEMP_SUFFIX = ".tmp"
_TEMP_RANDOM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _name_max(folder: str) -> int:
    """The longest file name (in bytes) the file system of ``folder`` takes; 255 if it does not say."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (AttributeError, OSError, ValueError):
        return 255


def _temp_prefix(name: str, name_max: int) -> str:
    """``.NAME.OWNER.``: what the temporary file of output ``name`` starts with (a random part and
    ``.tmp`` follow). A long name is cut and given a hash of the whole, so that the temporary
    name fits ``name_max`` bytes whenever ``name`` does and still tells outputs apart."""
    tail = _OWNER_MARK
    room = name_max - 1 - len(tail) - _RANDOM_LENGTH - len(_TEMP_SUFFIX)
    if len(os.fsencode(name)) <= room:
        return f".{name}{tail}"
    import hashlib

    digest = "~" + hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
    kept = name
    while kept and len(os.fsencode(kept)) > room - len(digest):  # whole characters only
        kept = kept[:-1]
    return f".{kept}{digest}{tail}"


def sweep_temp_files(folders: Iterable[str]) -> int:
    """Remove, from ``folders``, the temporary files of :func:`write_atomic` that this process or a
    worker process forked from it left (a worker killed mid-write). Their names carry this
    process's own mark (pid and random bytes), so another process's temporary files, being written
    now, are left alone.

    Parameters
    ----------
    folders : iterable of str
        The folders of the outputs.

    Returns
    -------
    int
        How many files were removed.

    Examples
    --------
    >>> sweep_temp_files(["no-such-folder"])
    0
    """
    tail = len(_TEMP_SUFFIX) + _RANDOM_LENGTH
    owner = _OWNER_MARK
    mine = []
    for folder in dict.fromkeys(folders):
        try:
            listed = os.listdir(folder or ".")
        except OSError:
            continue
        mine += [os.path.join(folder or ".", entry) for entry in listed
                 if entry.startswith(".") and entry.endswith(_TEMP_SUFFIX) and entry[:-tail].endswith(owner)
                 and set(entry[-tail:-len(_TEMP_SUFFIX)]) <= _TEMP_RANDOM and len(entry) > tail + len(owner)]
    return _unlink_all(mine)


def remove_temp_files() -> int:
    """Remove the temporary files of writes still in progress (for a SIGTERM/SIGINT handler).

    Returns
    -------
    int
        How many files were removed.

    Examples
    --------
    >>> remove_temp_files()
    0
    """
    with _LIVE_LOCK:
        paths = list(_LIVE_TEMPS)
        _LIVE_TEMPS.clear()
    return _unlink_all(paths)


def _unlink_all(paths: Iterable[str]) -> int:
    """Remove each of ``paths`` that can be removed (best effort); how many were."""
    removed = 0
    for path in paths:
        try:
            os.unlink(path)
            removed += 1
        except OSError:
            pass
    return removed


def _kept_mode(path: str) -> int:
    """The permission bits the written file gets: those of the regular file it replaces (its
    set-user/group-ID bits dropped), else those of a new file (0o666 minus the umask)."""
    try:
        status = os.lstat(path)
    except (OSError, ValueError):
        status = None
    if status is not None and stat.S_ISREG(status.st_mode):
        return stat.S_IMODE(status.st_mode) & ~(stat.S_ISUID | stat.S_ISGID)
    return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def written_through(path: str) -> bool:
    """True when ``path`` is a character device or a FIFO (``/dev/null``, ``/dev/stdout``, a named
    pipe), also through a link: :func:`write_atomic` writes straight to it, since it cannot be
    replaced atomically (nor should it be replaced by a regular file).

    Examples
    --------
    >>> written_through("/dev/null"), written_through("out.png")
    (True, False)
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def write_atomic(path: str, data: bytes, *, no_clobber: bool = False) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either untouched or complete.

    The bytes go to a temporary file in the target folder (``.NAME.OWNER.XXXXXXXX.tmp``, OWNER the
    pid of the process that loaded this module and random bytes, so that :func:`sweep_temp_files`
    knows its own; a name too
    long for that is cut and hashed, so any name the file system takes can be written), are flushed and
    ``fsync``-ed, given the permission bits of the file it replaces (or those a new file gets:
    0o666 minus the umask), then renamed
    onto ``path`` (``os.replace``; a symbolic link at ``path`` is replaced, not followed). On
    any failure, or Ctrl-C, the temporary file is removed and an existing ``path`` is left as
    it was. With ``no_clobber`` an existing ``path`` is refused (atomically, with a hard link,
    where the file system allows).

    Parameters
    ----------
    path : str or os.PathLike
        The output file.
    data : bytes
        Its full contents.
    no_clobber : bool, optional
        Refuse to replace an existing file.

    Raises
    ------
    ImageWriteError
        With the path and the OS's reason (folder missing, permission denied, disk full, ...).

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     target = pathlib.Path(folder, "a.bin")
    ...     write_atomic(target, b"one")
    ...     write_atomic(target, b"two")
    ...     target.read_bytes(), os.listdir(folder)
    (b'two', ['a.bin'])
    """
    try:
        path = os.fsdecode(os.fspath(path))
    except TypeError:
        raise ValueError(f"path must be a path; got {type(path).__name__}") from None
    if not _is_bytes(data):
        raise ValueError(f"data must be bytes; got {type(data).__name__}")
    folder, name = os.path.split(path)
    if not name:
        raise ImageWriteError("names a folder, not a file", path=path)
    folder_shown = folder or "."
    if not os.path.isdir(folder_shown):
        raise ImageWriteError(f"folder {folder_shown!r} does not exist", path=path)
    if os.path.isdir(path):
        raise ImageWriteError("is a folder; give a file name", path=path)
    if no_clobber and os.path.lexists(path):
        raise ImageWriteError("exists; --no-clobber refuses to replace it", path=path)
    if written_through(path):
        # /dev/null, /dev/stdout, a named pipe: written through, never replaced by a regular file.
        try:
            with open(path, "wb") as stream:
                stream.write(data)
        except OSError as exc:
            raise ImageWriteError(f"cannot write: {_reason(exc)}", path=path) from None
        return
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder_shown, prefix=_temp_prefix(name, _name_max(folder_shown)),
                                   suffix=_TEMP_SUFFIX)
        with _LIVE_LOCK:
            _LIVE_TEMPS.add(tmp)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            mode = _kept_mode(path)
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), mode)
            else:  # pragma: no cover - Windows
                os.chmod(tmp, mode)
        if no_clobber:
            _link_no_clobber(tmp, path)
        else:
            os.replace(tmp, path)
        with _LIVE_LOCK:
            _LIVE_TEMPS.discard(tmp)
        tmp = None
        _fsync_folder(folder_shown)
    except ImageWriteError:
        raise
    except OSError as exc:
        raise ImageWriteError(f"cannot write: {_reason(exc)}", path=path) from None
    finally:
        if tmp is not None:
            with _LIVE_LOCK:
                _LIVE_TEMPS.discard(tmp)
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _link_no_clobber(tmp: str, path: str) -> None:
    """Put ``tmp`` at ``path`` only if nothing is there, without a check-then-rename race."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise ImageWriteError("exists; --no-clobber refuses to replace it", path=path) from None
    except OSError:  # no hard links on this file system: check, then rename
        if os.path.lexists(path):
            raise ImageWriteError("exists; --no-clobber refuses to replace it", path=path) from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def _fsync_folder(folder: str) -> None:
    """Make the rename durable (POSIX); harmless to skip where folders cannot be opened."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(folder, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def same_file(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` name the same existing file, also through symbolic or hard links.

    Parameters
    ----------
    a, b : str or os.PathLike
        Paths. Anything that is not an existing file (``"-"``, ``"sample:NAME"``) gives False.

    Returns
    -------
    bool

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     p = pathlib.Path(folder, "x.png"); _ = p.write_bytes(b"x")
    ...     same_file(p, pathlib.Path(folder, ".", "x.png")), same_file(p, pathlib.Path(folder, "y.png"))
    (True, False)
    """
    try:
        return os.path.samefile(a, b)
    except (OSError, TypeError, ValueError):
        return False
