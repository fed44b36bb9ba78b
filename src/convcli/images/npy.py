"""Reading NumPy ``.npy`` arrays: the header by ``numpy.lib.format``, never with pickle."""

from __future__ import annotations

from typing import BinaryIO

import numpy as np

from convcli.errors import ImageReadError
from convcli.images.info import ImageInfo
from convcli.images.limits import Limits, _check_limits, _finish


class UnsupportedVersion(ValueError):
    """A ``.npy`` file of a format version other than 1.0 and 2.0."""


def read_header(fh: BinaryIO) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype a ``.npy`` file's header gives (``fh`` at the file's start, left at the
    data), read by ``numpy.lib.format``: no data is read and nothing is unpickled. Images and
    kernel files both read their headers here.

    Raises
    ------
    UnsupportedVersion
        For format versions other than 1.0 and 2.0.
    ValueError
        For a malformed header (NumPy's message).

    Examples
    --------
    >>> import io
    >>> buffer = io.BytesIO()
    >>> np.save(buffer, np.zeros((2, 3), np.uint8))
    >>> _ = buffer.seek(0)
    >>> read_header(buffer)
    ((2, 3), dtype('uint8'))
    """
    fmtlib = np.lib.format
    version = fmtlib.read_magic(fh)
    if version == (1, 0):
        shape, _fortran, dtype = fmtlib.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _fortran, dtype = fmtlib.read_array_header_2_0(fh)
    else:
        raise UnsupportedVersion(f".npy format version {version[0]}.{version[1]} is not supported")
    return tuple(int(n) for n in shape), np.dtype(dtype)


def array_dtype(dtype: np.dtype, label: str) -> tuple[str, tuple[str, ...]]:
    """The dtype an array file (``.npy``, Zarr) of ``dtype`` is read as, and the notes saying so:
    bool becomes uint8 0 and 1, float16 float32, wider floats float64; objects (pickle),
    structured, complex and other non-numeric dtypes are refused.

    Examples
    --------
    >>> array_dtype(np.dtype("bool"), "a.npy")
    ('uint8', ('bool array read as 0 and 1',))
    >>> array_dtype(np.dtype(">u2"), "a.npy")
    ('uint16', ())
    """
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
    if dtype.kind == "b":
        return "uint8", ("bool array read as 0 and 1",)
    if dtype.kind == "f" and dtype.itemsize < 4:
        return "float32", (f"{dtype.name} widened to float32",)
    if dtype.kind == "f" and dtype.itemsize > 8:
        return "float64", (f"{dtype.name} narrowed to float64",)
    return dtype.name, ()


def read(
    fh: BinaryIO, fmt: str, label: str, limits: Limits, decode: bool
) -> tuple[np.ndarray | None, ImageInfo]:
    fmtlib = np.lib.format
    try:
        shape, dtype = read_header(fh)
    except UnsupportedVersion as error:
        raise ImageReadError(str(error), path=label) from None
    out_dtype, notes = array_dtype(dtype, label)
    if len(shape) not in (2, 3):
        raise ImageReadError(f"has shape {shape}; an image array must be (H, W) or (H, W, C)", path=label)
    if 0 in shape:
        raise ImageReadError(f"is empty (shape {shape})", path=label)
    info = ImageInfo(shape=shape, dtype=out_dtype, format="npy", has_alpha=False, notes=notes)
    _check_limits(info, limits, label)
    if not decode:
        return None, info
    fh.seek(0)
    arr = fmtlib.read_array(fh, allow_pickle=False)
    if arr.dtype.name != out_dtype or not arr.dtype.isnative:
        arr = arr.astype(out_dtype)
    return _finish(arr, info, label, limits), info

