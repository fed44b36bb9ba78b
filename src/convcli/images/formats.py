"""The image formats convcli reads and writes: one table, and everything derived from it.

Each format is one :class:`Format` row of :data:`FORMAT_TABLE`: how it is recognised (its magic
bytes, never its extension), its extensions (the first is the one outputs get; the others are
aliases), its name in messages and in Pillow, the module that decodes it, what it can hold when
written (dtypes, channel counts, largest side) and the output dtype used when none is asked for.
:data:`FORMATS`, :func:`sniff_format`, :func:`format_from_path`, :func:`default_dtype`,
:func:`check_writable`, :data:`EXTENSIONS`, :data:`FORMAT_ALIASES` and :data:`IMAGE_EXTENSIONS`
are read from it.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from convcli.errors import ImageWriteError
from convcli.vocabulary import OUTPUT_DTYPES


#: How many leading bytes :func:`sniff_format` looks at: enough to recognise every format, so that
#: a stream (standard input) that is no image is refused from its first bytes.
SNIFF_BYTES = 32

#: The inline matrix input, ``matrix:1 2 3; 4 5 6`` (read by :mod:`convcli.images.textmatrix`).
MATRIX_PREFIX = "matrix:"

#: Integer results written to ``.npy`` as they are (see :func:`default_dtype`).
KEPT_INTEGER_DTYPES = ("uint8", "uint16")


@dataclass(frozen=True)
class Format:
    """One image format: how it is recognised, named, decoded and written.

    Parameters
    ----------
    name : str
        As ``ImageInfo.format`` and :func:`format_from_path` give it.
    label : str
        Its name in messages (``"JPEG"``, ``".npy"``).
    extensions : tuple of str
        Lower-case extensions with the dot; the first is the one outputs get.
    magic : tuple of bytes
        The file starts with one of these.
    decoder : str
        The module of :mod:`convcli.images` that reads it.
    dtypes : tuple of str
        The output dtypes it can hold.
    default_dtype : str
        The output dtype when none is asked for (see :func:`default_dtype`).
    pillow : str, optional
        Pillow's name for it (None: Pillow does not read or write it here).
    channels : tuple of int, optional
        The channel counts it can hold; None: any.
    max_side : int, optional
        The largest width or height it (or its encoder) can store; None: no limit of its own.
    keeps_input : tuple of str
        Input dtypes kept as the output dtype.
    keeps_result : tuple of str
        Result dtypes (the steps' own) kept as the output dtype.
    sniff : callable, optional
        A further test of the first bytes, after ``magic`` matched.
    markers : tuple of str
        For a format stored as a folder (Zarr): the files, one of which the folder holds, that
        recognise it (no magic bytes, no ``sniff``).

    Examples
    --------
    >>> FORMAT_TABLE["jpeg"].extensions, FORMAT_TABLE["jpeg"].label
    (('.jpg', '.jpeg'), 'JPEG')
    """

    name: str
    label: str
    extensions: tuple[str, ...]
    magic: tuple[bytes, ...]
    decoder: str
    dtypes: tuple[str, ...]
    default_dtype: str
    pillow: str | None = None
    channels: tuple[int, ...] | None = None
    max_side: int | None = None
    keeps_input: tuple[str, ...] = ()
    keeps_result: tuple[str, ...] = ()
    sniff: Callable[[bytes], bool] | None = None
    markers: tuple[str, ...] = ()


def _is_webp(head: bytes) -> bool:
    return head[8:12] == b"WEBP"


def _is_text_matrix(head: bytes) -> bool:
    from convcli.images.textmatrix import is_text_matrix  # numbers as text: no magic bytes, a content test

    return is_text_matrix(head)


def _is_csv(head: bytes) -> bool:
    return b"," in head and _is_text_matrix(head)


def _is_bmp(head: bytes) -> bool:
    # "BM" alone is too weak: also require a known DIB header size (bytes 14-17, little-endian;
    # the low two bytes are enough, so 16 bytes of head recognise a BMP).
    if len(head) < 16 or struct.unpack("<H", head[14:16])[0] not in (12, 16, 40, 52, 56, 64, 108, 124):
        return False
    return len(head) < 18 or head[16:18] == b"\x00\x00"


_EIGHT_BIT = ("uint8",)

#: Every format convcli reads and writes, in the order messages list them.
FORMAT_TABLE: dict[str, Format] = {
    spec.name: spec
    for spec in (
        Format("png", "PNG", (".png",), (b"\x89PNG\r\n\x1a\n",), "png_read", ("uint8", "uint16"), "uint8",
               pillow="PNG", channels=(1, 2, 3, 4), max_side=2**31 - 1, keeps_input=("uint16",)),
        Format("jpeg", "JPEG", (".jpg", ".jpeg"), (b"\xff\xd8\xff",), "pillow", _EIGHT_BIT, "uint8",
               pillow="JPEG", channels=(1, 3), max_side=65_500),
        Format("tiff", "TIFF", (".tif", ".tiff"), (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"), "tiff",
               OUTPUT_DTYPES, "float32", pillow="TIFF", keeps_input=("uint8", "uint16")),
        Format("bmp", "BMP", (".bmp",), (b"BM",), "pillow", _EIGHT_BIT, "uint8",
               pillow="BMP", channels=(1, 3), max_side=2**31 - 1, sniff=_is_bmp),
        Format("gif", "GIF", (".gif",), (b"GIF87a", b"GIF89a"), "pillow", _EIGHT_BIT, "uint8",
               pillow="GIF", channels=(1, 3), max_side=65_535),
        Format("webp", "WebP", (".webp",), (b"RIFF",), "pillow", _EIGHT_BIT, "uint8",
               pillow="WEBP", channels=(1, 2, 3, 4), max_side=16_383, sniff=_is_webp),
        Format("npy", ".npy", (".npy",), (b"\x93NUMPY",), "npy", OUTPUT_DTYPES, "float32",
               keeps_result=KEPT_INTEGER_DTYPES),
        # Numbers as text (convcli.images.textmatrix): no magic bytes, recognised by their content
        # (ASCII text that starts with a number); read as float64, written as the result's own values.
        # A Zarr array (convcli.images.zarr_io): a folder store, recognised by its metadata file
        # (v2 ".zarray", v3 "zarr.json"), never by its name.
        Format("zarr", "Zarr", (".zarr",), (), "zarr_io", OUTPUT_DTYPES, "float32",
               keeps_result=KEPT_INTEGER_DTYPES, markers=(".zarray", "zarr.json")),
        Format("csv", ".csv", (".csv",), (), "textmatrix", OUTPUT_DTYPES, "float64", channels=(1,),
               keeps_result=OUTPUT_DTYPES, sniff=_is_csv),
        Format("txt", ".txt", (".txt",), (), "textmatrix", OUTPUT_DTYPES, "float64", channels=(1,),
               keeps_result=OUTPUT_DTYPES, sniff=_is_text_matrix),
    )
}

#: Formats convcli reads and writes, as ``ImageInfo.format`` and ``format_from_path`` name them.
FORMATS = tuple(FORMAT_TABLE)

#: The extension each format's outputs get: ``{"png": ".png", "jpeg": ".jpg", ...}``.
EXTENSIONS = {name: spec.extensions[0] for name, spec in FORMAT_TABLE.items()}

#: The format of each extension (lower case, with the dot): ``{".jpg": "jpeg", ".jpeg": "jpeg", ...}``.
EXTENSION_FORMATS = {ext: name for name, spec in FORMAT_TABLE.items() for ext in spec.extensions}

#: The formats stored as a folder, recognised by a file in it: ``("zarr",)``.
FOLDER_FORMATS = tuple(name for name, spec in FORMAT_TABLE.items() if spec.markers)

#: The formats of numbers written as text (no magic bytes): ``("csv", "txt")``.
TEXT_FORMATS = tuple(name for name, spec in FORMAT_TABLE.items() if not spec.magic and not spec.markers)

#: The formats that hold numbers, not pictures (text, .npy, folder stores): a drawing is never written there.
NUMBER_FORMATS = (*TEXT_FORMATS, "npy", *FOLDER_FORMATS)

#: Every image file extension convcli recognises, lower case, with the dot (a folder INPUT takes these;
#: text matrices and folder stores are named one by one).
IMAGE_EXTENSIONS = tuple(
    ext for ext, name in EXTENSION_FORMATS.items() if name not in TEXT_FORMATS and name not in FOLDER_FORMATS
)

#: Other names of formats, from their extensions: ``{"jpg": "jpeg", "tif": "tiff"}``.
FORMAT_ALIASES = {ext[1:]: name for ext, name in EXTENSION_FORMATS.items() if ext[1:] != name}

#: Formats read by parts (by segments, memory-mapped, by chunks) when the input is a file or folder
#: (:func:`convcli.images.band_read.open_band_reader`); here so that asking costs no import of it.
STREAMED_FORMATS = ("tiff", "npy", "zarr")

#: Formats a band writer writes (:func:`convcli.images.band_write.open_band_writer`).
BAND_FORMATS = ("npy", "png", "tiff", "zarr")

_LABELS = [spec.label for spec in FORMAT_TABLE.values() if spec.magic]

#: Why an input of none of the formats is refused.
NOT_SUPPORTED = f"not a supported image ({', '.join(_LABELS[:-1])} or {_LABELS[-1]})"


def _is_bytes(source: object) -> bool:
    return isinstance(source, (bytes, bytearray, memoryview))


def _check_format(format: str, name: str = "format") -> str:
    """``format``, if it is one of :data:`FORMATS`; else a ValueError naming ``name``."""
    if not isinstance(format, str) or format not in FORMAT_TABLE:
        raise ValueError(f"{name} must be one of {', '.join(FORMATS)}; got {format!r}")
    return format


def _dtype_name(value: Any, name: str) -> str:
    import numpy as np

    try:
        return np.dtype(value).name
    except TypeError:
        raise ValueError(f"{name} must be a NumPy dtype name such as 'uint8'; got {value!r}") from None


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
    >>> sniff_format(b"1 2 3\\n4 5 6\\n"), sniff_format(b"1,2,3\\n")
    ('txt', 'csv')
    """
    if not _is_bytes(head):
        raise ValueError(f"head must be bytes; got {type(head).__name__}")
    head = bytes(head[:SNIFF_BYTES])
    for spec in FORMAT_TABLE.values():
        if spec.markers or (spec.magic and not head.startswith(spec.magic)):
            continue
        if spec.sniff is None or spec.sniff(head):  # a format without magic bytes always has a sniff
            return spec.name
    return None


def sniff_folder(path: str) -> str | None:
    """Recognise a folder store (Zarr) by the metadata file in it.

    Parameters
    ----------
    path : str or os.PathLike
        A folder.

    Returns
    -------
    str or None
        One of :data:`FOLDER_FORMATS`, or None when the folder holds none of their markers
        (a regular file each; a link is not followed).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     before = sniff_folder(folder)
    ...     _ = pathlib.Path(folder, "zarr.json").write_text("{}")
    ...     before, sniff_folder(folder)
    (None, 'zarr')
    """
    import stat

    for spec in FORMAT_TABLE.values():
        for marker in spec.markers:
            try:
                mode = os.lstat(os.path.join(path, marker)).st_mode
            except (OSError, ValueError):
                continue
            if stat.S_ISREG(mode):
                return spec.name
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
    allowed = ", ".join(EXTENSION_FORMATS)
    if not ext:
        raise ValueError(f"path {text!r} has no extension; use one of {allowed}")
    try:
        return EXTENSION_FORMATS[ext.lower()]
    except KeyError:
        raise ValueError(f"path: unknown extension {ext!r}; use one of {allowed}") from None


def default_dtype(format: str, input_dtype: str, *, result_dtype: str | None = None) -> str:
    """The output dtype used when ``--dtype`` is not given.

    PNG: uint16 for a uint16 input, else uint8. TIFF: the input's dtype when it is uint8 or
    uint16, else float32 (the raw result). ``.npy``: the raw result, float32, except that a
    result that kept the image's 8- or 16-bit values (``result_dtype`` uint8 or uint16: max and
    min pooling, nearest and zeros upsampling) stays in that dtype. JPEG, BMP, GIF, WebP: uint8.
    ``.txt`` and ``.csv``: the result's own values, in the dtype it was computed in (float32 for
    8- and 16-bit images, float64 for a text or float64 input; see :mod:`convcli.dtypes`), float64
    when that is unknown: numbers are written, never mapped to 0..255.

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
    >>> default_dtype("txt", "uint8", result_dtype="float32"), default_dtype("csv", "float64")
    ('float32', 'float64')
    """
    spec = FORMAT_TABLE[_check_format(format)]
    name = _dtype_name(input_dtype, "input_dtype")
    if name in spec.keeps_input:
        return name
    if spec.keeps_result and result_dtype is not None:
        kept = _dtype_name(result_dtype, "result_dtype")
        if kept in spec.keeps_result:
            return kept
    return spec.default_dtype


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
    zarr          all four               any
    txt, csv      all four               1 (one 2-D matrix)
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
    spec = FORMAT_TABLE[_check_format(format)]
    if dtype not in OUTPUT_DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(OUTPUT_DTYPES)}; got {dtype!r}")
    try:
        shape = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape must be a tuple of ints; got {shape!r}") from None
    label = spec.label
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ImageWriteError(f"an image must be (H, W) or (H, W, C) with no empty side; got shape {shape}")
    channels = shape[2] if len(shape) == 3 else 1
    if dtype not in spec.dtypes:
        if dtype.startswith("float"):
            raise ImageWriteError(
                f"{label} cannot hold {dtype}; use .tif or .npy for floating-point output, or `dtype: uint8`"
            )
        raise ImageWriteError(f"{label} holds only 8-bit (uint8) values; use .png or .tif for 16-bit")
    side = spec.max_side
    if side is not None and max(shape[:2]) > side:
        raise ImageWriteError(
            f"{label} images are at most {side:,} pixels on a side; got {shape[1]}×{shape[0]}; use .png or .tif"
        )
    allowed = spec.channels
    if allowed is None:  # TIFF and .npy hold any channel count
        return
    if format in TEXT_FORMATS and channels not in allowed:
        raise ImageWriteError(
            f"{label} holds one 2-D matrix; this result has {channels} channels: write one file per channel "
            "(`split`) or use .npy"
        )
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
