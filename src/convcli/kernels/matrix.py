"""Numbers and matrices: the one number grammar, the checks every kernel matrix passes, inline matrices.

Whatever its form (an array, nested lists, the rows of a YAML, text or inline matrix), a matrix is
checked here the same way: 2-D, non-empty, rectangular, real numbers (booleans are not numbers),
finite, at most :data:`~convcli.kernels.spec.MAX_SIDE` per side and
:data:`~convcli.kernels.spec.MAX_ELEMENTS` values. A weight written as text is a number when it
matches :data:`NUMBER_RE`; ``nan``, ``inf``, ``-inf``, ``.inf`` or ``infinity`` (any case, as an
inline or text matrix or unquoted in YAML) is a number that is not finite, and is refused as such.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from ..errors import KernelError
from .spec import MAX_ELEMENTS, MAX_SIDE

__all__ = [
    "NUMBER_RE",
    "array_to_matrix",
    "check_size",
    "finite_number",
    "is_number",
    "parse_inline",
    "rows_to_matrix",
    "show",
    "split_values",
    "to_matrix",
]

#: A finite number written as text: ``1``, ``-0.5``, ``.5``, ``1e-3``.
NUMBER_RE = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
#: A number that is not finite written as text (YAML's ``.inf`` too); refused as "not finite".
_NONFINITE_RE = re.compile(r"[-+]?\.?(?:nan|inf|infinity)\Z", re.IGNORECASE)



def finite_number(value: Any) -> bool:
    """A number a float can hold (a 400-digit integer cannot)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def is_number(value: Any) -> bool:
    """A real number (booleans are not numbers)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def check_size(rows: int, cols: int, *, prefix: str = "", path: str | None = None, line: int | None = None,
                hint: str = "") -> None:
    """Refuse a ``rows`` x ``cols`` kernel larger than the limits (:data:`~convcli.kernels.spec.MAX_SIDE`)."""
    if rows > MAX_SIDE or cols > MAX_SIDE or rows * cols > MAX_ELEMENTS:
        raise KernelError(
            f"{prefix}kernel would be {rows}x{cols} ({rows * cols} values); the limit is {MAX_SIDE} per side "
            f"and {MAX_ELEMENTS} values{hint}",
            path=path,
            line=line,
        )


def _check_finite(matrix: np.ndarray, *, prefix: str, path: str | None) -> None:
    bad = ~np.isfinite(matrix)
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise KernelError(
            f"{prefix}value {matrix[r, c]} in row {r + 1}, column {c + 1} is not finite; "
            "kernel weights must be finite numbers",
            path=path,
        )


def to_matrix(value: Any, *, prefix: str = "", path: str | None = None, line: int | None = None,
               single_row: bool = False) -> np.ndarray:
    """Turn an array or nested rows into a checked float64 matrix (a fresh, writable copy)."""
    if isinstance(value, np.ndarray):
        return array_to_matrix(value, prefix=prefix, path=path)
    return rows_to_matrix(value, prefix=prefix, path=path, line=line, single_row=single_row)


def array_to_matrix(array: np.ndarray, *, prefix: str, path: str | None) -> np.ndarray:
    if array.ndim != 2:
        raise KernelError(
            f"{prefix}kernel array has {array.ndim} dimension(s) (shape {array.shape}); "
            "a kernel is a 2-D matrix of shape (rows, cols)",
            path=path,
        )
    if array.dtype.kind not in "iuf":
        raise KernelError(
            f"{prefix}kernel array has dtype {array.dtype}; kernel weights must be real numbers "
            "(integer or float)",
            path=path,
        )
    if array.size == 0:
        raise KernelError(
            f"{prefix}kernel is zero-sized (shape {array.shape[0]}x{array.shape[1]}); "
            "it needs at least one row and one column",
            path=path,
        )
    check_size(*array.shape, prefix=prefix, path=path)
    matrix = np.array(array, dtype=np.float64, copy=True)
    _check_finite(matrix, prefix=prefix, path=path)
    return matrix


def rows_to_matrix(rows: Any, *, prefix: str, path: str | None, line: int | None,
                    single_row: bool) -> np.ndarray:
    """Check nested rows (lists, or yamlfile.LineList with line numbers) and build the matrix."""
    example = "e.g. [[1, 0, -1], [2, 0, -2], [1, 0, -1]]"
    if not isinstance(rows, (list, tuple)):
        raise KernelError(f"{prefix}the matrix must be a list of rows, {example}", path=path, line=line)
    line = getattr(rows, "line", None) or line
    if len(rows) == 0:
        raise KernelError(
            f"{prefix}the matrix is empty; it needs at least one row with at least one value, {example}",
            path=path,
            line=line,
        )
    row_lines = list(getattr(rows, "item_lines", None) or [line] * len(rows))
    # Rows given as 1-D arrays (a list of np.array rows) are rows like any other.
    rows = [r.tolist() if isinstance(r, np.ndarray) else r for r in rows]
    if all(not isinstance(r, (list, tuple)) for r in rows):
        if not single_row:
            raise KernelError(
                f"{prefix}the matrix must be a list of rows; write a single row as [[a, b, c]], {example}",
                path=path,
                line=line,
            )
        rows, row_lines = [rows], [line]
    if len(rows) > MAX_SIDE:
        first = rows[0]
        check_size(len(rows), len(first) if isinstance(first, (list, tuple)) else 1,
                    prefix=prefix, path=path, line=line)
    width = None
    values: list[list[float]] = []
    for r, row in enumerate(rows):
        row_line = row_lines[r]
        if not isinstance(row, (list, tuple)):
            raise KernelError(
                f"{prefix}row {r + 1} is {show(row)}, not a list of values; every row must be a list "
                f"like [1, 0, -1]",
                path=path,
                line=row_line,
            )
        if len(row) == 0:
            raise KernelError(
                f"{prefix}row {r + 1} is empty; every row needs at least one value",
                path=path,
                line=row_line,
            )
        if width is None:
            width = len(row)
            check_size(len(rows), width, prefix=prefix, path=path, line=line)
        elif len(row) != width:
            raise KernelError(
                f"{prefix}row {r + 1} has {len(row)} values, row 1 has {width}; "
                "every row needs the same number of values",
                path=path,
                line=row_line,
            )
        item_lines = getattr(row, "item_lines", None) or [row_line] * len(row)
        out_row = []
        for c, value in enumerate(row):
            where = f"row {r + 1}, column {c + 1}"
            if isinstance(value, (list, tuple)):
                raise KernelError(
                    f"{prefix}{where} is a list: the matrix has more than 2 dimensions; "
                    "a kernel is a list of rows of numbers",
                    path=path,
                    line=item_lines[c],
                )
            if isinstance(value, str) and _NONFINITE_RE.match(value):
                # inf/nan in an inline or text matrix, or unquoted in YAML: "not finite", below
                value = float(value.replace(".", ""))
            if not is_number(value):
                raise KernelError(
                    f"{prefix}value {show(value)} in {where} is not a number; kernel weights must be "
                    "numbers like 1, -0.5 or 1e-3 (no quotes, no true/false)",
                    path=path,
                    line=item_lines[c],
                )
            try:
                number = float(value)
            except OverflowError:  # an int too large for a float
                number = math.inf
            if not math.isfinite(number):
                raise KernelError(
                    f"{prefix}value {show(value)} in {where} is not finite; kernel weights must be "
                    "finite numbers",
                    path=path,
                    line=item_lines[c],
                )
            out_row.append(number)
        values.append(out_row)
    return np.array(values, dtype=np.float64)


def show(value: Any) -> str:
    """A value as an error message quotes it: text quoted, numbers bare, ``true``/``false`` as in YAML."""
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if is_number(value):
        try:
            return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)
        except OverflowError:  # pragma: no cover
            return str(value)
    return repr(value)


# --------------------------------------------------------------------------------------------------
# Numbers written as text


def _parse_token(token: str) -> float | str:
    """A number, or the token itself when it is not one (the matrix check then names it, and reads
    ``inf``/``nan`` as numbers that are not finite)."""
    return float(token) if NUMBER_RE.match(token) else token


def split_values(text: str, *, path: str | None, line: int | None, row: int) -> list[float | str]:
    """The values of one row of a text or inline matrix, split by whitespace or single commas."""
    tokens = re.split(r"\s*,\s*|\s+", text.strip())
    if "" in tokens:
        raise KernelError(
            f"row {row} has an empty value (two commas in a row, or a comma at the start or end); "
            "separate values by whitespace or single commas",
            path=path,
            line=line,
        )
    return [_parse_token(token) for token in tokens]


# --------------------------------------------------------------------------------------------------
# Inline matrices


def parse_inline(text: str) -> np.ndarray:
    """The matrix of an inline spec: ``"1 0 -1; 2 0 -2"`` (rows by ``;`` or newlines) or ``"[[1, 0], [0, 1]]"``."""
    prefix = "inline kernel: "
    if text.startswith("["):
        nested = _parse_brackets(text, prefix=prefix)
        return rows_to_matrix(nested, prefix=prefix, path=None, line=None, single_row=True)
    rows = []
    for part in re.split(r"[;\n]", text):
        if part.strip():
            rows.append(_split_values_inline(part, row=len(rows) + 1))
    if not rows:
        raise KernelError(f"{prefix}the matrix is empty; write rows like '1 0 -1; 2 0 -2; 1 0 -1'")
    return rows_to_matrix(rows, prefix=prefix, path=None, line=None, single_row=False)


def _split_values_inline(part: str, *, row: int) -> list[float | str]:
    # "1 0 -1, 2 0 -2": commas between groups of several values are rows meant with ';' — one row
    # of six values would be a different kernel, silently (README, "Kernels").
    groups = [group.split() for group in part.split(",")]
    if len(groups) > 1 and all(groups) and any(len(group) > 1 for group in groups):  # empty: said below
        meant = "; ".join(" ".join(group) for group in groups)
        raise KernelError(
            f"inline kernel: {part.strip()!r} mixes spaces and commas; rows are separated by ';' "
            f"(did you mean '{meant}'?), values in a row by spaces or by commas"
        )
    try:
        return split_values(part, path=None, line=None, row=row)
    except KernelError as error:
        raise KernelError(f"inline kernel: {error.message}") from None


_BRACKET_TOKEN = re.compile(r"\s*(?:([\[\],])|([^\s\[\],]+))")


def _parse_brackets(text: str, *, prefix: str) -> list:
    """Parse ``[[1, 2], [3, 4]]`` or ``[1, 2]`` into nested lists (numbers as float, others as str)."""
    tokens = []
    position = 0
    stripped = text.rstrip()
    while position < len(stripped):
        match = _BRACKET_TOKEN.match(stripped, position)
        if match is None:  # pragma: no cover - the pattern matches any non-blank text
            break
        tokens.append(match.group(1) or match.group(2))
        position = match.end()
    bad = f"{prefix}cannot read {text.strip()!r}; write it as [[1, 0, -1], [2, 0, -2], [1, 0, -1]] or [1, 2, 3]"
    index = 0

    def parse(depth: int) -> Any:
        nonlocal index
        if index >= len(tokens):
            raise KernelError(bad)
        token = tokens[index]
        index += 1
        if token == "[":
            if depth >= 2:
                raise KernelError(
                    f"{prefix}the matrix has more than 2 dimensions; a kernel is a list of rows of numbers"
                )
            items: list = []
            if index < len(tokens) and tokens[index] == "]":
                index += 1
                return items
            while True:
                items.append(parse(depth + 1))
                if index >= len(tokens):
                    raise KernelError(bad)
                token = tokens[index]
                index += 1
                if token == "]":
                    return items
                if token != ",":
                    raise KernelError(bad)
        if token in ("]", ","):
            raise KernelError(bad)
        return _parse_token(token)

    nested = parse(0)
    if index != len(tokens):
        raise KernelError(bad)
    return nested


