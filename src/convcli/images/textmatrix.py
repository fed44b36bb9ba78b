"""Numbers as text: ``.txt`` and ``.csv`` matrices and the inline ``matrix:`` input, read and written.

A text matrix has one row per line and its values separated by whitespace or single commas (the
number grammar of kernel text files, :func:`convcli.kernels.matrix.split_values`: one grammar for
both); it starts with a number, then ``#`` starts a comment and blank lines are skipped.
``matrix:1 2 3; 4 5 6`` is the same with rows separated by ``;``. Either is read as a float64
(H, W) array: a one-row matrix is (1, W), a 1-D signal. Ragged rows, values that are not numbers,
an empty matrix, NaN or inf (unless ``Limits(allow_nonfinite=True)``) and sizes over the
:class:`~convcli.images.limits.Limits` are refused with one line naming the file (or the
``matrix:`` text) and the line.

Written, each value is the shortest text that reads back as the same value in its dtype (NumPy's
``str`` of a scalar, ``.0`` trimmed: ``2.5``, ``4``, ``0.1``, ``1e-07``), so a file compares exactly.
"""

from __future__ import annotations

import math
from typing import BinaryIO

import numpy as np

from convcli.errors import ImageReadError, KernelError
from convcli.images.formats import MATRIX_PREFIX
from convcli.images.info import ImageInfo
from convcli.images.limits import Limits, _check_limits, _finish, _size_limits
from convcli.kernels.matrix import _NONFINITE_RE, split_values

__all__ = ["format_matrix", "is_text_matrix", "read", "read_inline"]

#: The separator each text format writes between values.
_SEPARATORS = {"txt": " ", "csv": ","}

_TEXT_BYTES = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}


def is_text_matrix(head: bytes) -> bool:
    """Whether the first bytes of a file look like numbers as text: printable ASCII that starts
    (after blanks and an optional UTF-8 byte order mark) with a number, a sign or a dot. Not with
    ``#``: a YAML file or a script that starts with a comment is no matrix (comments may follow).

    Examples
    --------
    >>> is_text_matrix(b"1 2 3\\n"), is_text_matrix(b"-1,0  # signal"), is_text_matrix(b"# steps:")
    (True, True, False)
    """
    head = bytes(head).removeprefix(b"\xef\xbb\xbf")
    if not head or not set(head) <= _TEXT_BYTES:
        return False
    start = head.lstrip()
    if not start:
        return False
    if start[:1] in b"0123456789+-.":
        return True
    return bool(_NONFINITE_RE.match(start.split()[0].split(b",")[0].decode()))


def _value(token: float | str, *, where: str, label: str, line: int | None, limits: Limits) -> float:
    if isinstance(token, str) and _NONFINITE_RE.match(token):
        token = float(token.replace(".", ""))  # YAML's -.inf as inf
    if isinstance(token, str):
        raise ImageReadError(
            f"value {token!r} in {where} is not a number; write numbers like 1, -0.5 or 1e-3", path=label, line=line
        )
    if not math.isfinite(token) and not limits.allow_nonfinite:
        raise ImageReadError(
            f"value {token!r} in {where} is not finite; convcli needs finite values (`allow_nonfinite` lets "
            "them through)",
            path=label,
            line=line,
        )
    return token


def _parse(rows_text: list[tuple[int | None, str]], *, label: str, limits: Limits, fmt: str,
           empty: str) -> tuple[np.ndarray, ImageInfo]:
    """Rows of text (each with its line number, None for an inline matrix) to a checked float64 matrix."""
    rows: list[list[float]] = []
    for line, text in rows_text:
        number = len(rows) + 1
        try:
            tokens = split_values(text, path=label, line=line, row=number)
        except KernelError as error:  # the kernels' number grammar: its message, this input's place
            raise ImageReadError(error.message, path=label, line=line) from None
        if rows and len(tokens) != len(rows[0]):
            raise ImageReadError(
                f"row {number} has {len(tokens)} values, row 1 has {len(rows[0])}; every row needs the same "
                "number of values",
                path=label,
                line=line,
            )
        try:  # before the row is kept: a huge matrix stops at its first row over the limit
            _size_limits(len(tokens), number, limits, label)
        except ImageReadError as error:
            raise ImageReadError(error.message, path=label, line=line) from None
        rows.append([_value(token, where=f"row {number}, column {column}", label=label, line=line, limits=limits)
                     for column, token in enumerate(tokens, start=1)])
    if not rows:
        raise ImageReadError(empty, path=label)
    array = np.array(rows, dtype=np.float64)
    info = ImageInfo(shape=tuple(int(n) for n in array.shape), dtype="float64", format=fmt, has_alpha=False)
    _check_limits(info, limits, label)
    return _finish(array, info, label, limits), info


def read(fh: BinaryIO, fmt: str, label: str, limits: Limits, decode: bool) -> tuple[np.ndarray | None, ImageInfo]:
    """Read a ``.txt`` or ``.csv`` matrix (the decoder of :func:`convcli.images.read_image`).

    The whole text is parsed even when ``decode`` is False: its shape is in its rows.
    """
    try:
        text = fh.read().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImageReadError(f"is not UTF-8 text (byte {error.start + 1}); a text matrix holds numbers",
                             path=label) from None
    lines = [(number, raw.split("#", 1)[0]) for number, raw in enumerate(text.splitlines(), start=1)]
    array, info = _parse([(number, content) for number, content in lines if content.strip()], label=label,
                         limits=limits, fmt=fmt,
                         empty="holds no numbers; write one row of numbers per line, e.g. '1 2 3'")
    return (array if decode else None), info


def read_inline(source: str, *, limits: Limits) -> tuple[np.ndarray, ImageInfo]:
    """Read an inline matrix, ``"matrix:1 2 3; 4 5 6"`` (rows by ``;``, values by spaces or commas).

    Parameters
    ----------
    source : str
        The input as given, starting with :data:`MATRIX_PREFIX`.
    limits : Limits
        What to refuse.

    Returns
    -------
    array : numpy.ndarray
        float64 (H, W).
    info : ImageInfo
        Format ``"txt"``.

    Examples
    --------
    >>> from convcli.images.limits import Limits
    >>> array, info = read_inline("matrix:1 2 3; 4,5,6", limits=Limits())
    >>> array.tolist(), info.shape
    ([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], (2, 3))
    """
    body = source[len(MATRIX_PREFIX):]
    rows = [(None, part) for part in body.split(";") if part.strip()]
    return _parse(rows, label=source, limits=limits, fmt="txt",
                  empty="holds no numbers; write rows like 'matrix:1 2 3; 4 5 6'")


def _number_text(value: np.generic) -> str:
    text = str(value)  # NumPy's shortest round-trip text for the scalar's own dtype
    return text[:-2] if text.endswith(".0") else text


def format_matrix(array: np.ndarray, *, format: str = "txt") -> bytes:
    """The bytes of a text matrix: one row per line, values separated by a space (``txt``) or a
    comma (``csv``), each the shortest text that reads back as the same value in its dtype.

    Parameters
    ----------
    array : numpy.ndarray
        (H, W), or (H, W, 1), of real numbers.
    format : str, optional
        ``"txt"`` or ``"csv"``.

    Returns
    -------
    bytes
        ASCII text ending in a newline.

    Examples
    --------
    >>> format_matrix(np.array([[0.0, 1.0, 2.5], [4.0, -1.5, 0.1]]))
    b'0 1 2.5\\n4 -1.5 0.1\\n'
    >>> format_matrix(np.array([[1, 2]], np.uint8), format="csv")
    b'1,2\\n'
    """
    if format not in _SEPARATORS:
        raise ValueError(f"format must be one of {', '.join(_SEPARATORS)}; got {format!r}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim != 2:
        raise ValueError(f"array must be 2-D (H, W); got shape {array.shape}")
    separator = _SEPARATORS[format]
    lines = [separator.join(_number_text(value) for value in row) for row in array]
    return ("\n".join(lines) + "\n").encode("ascii")
