"""How ``convcli kernels show`` writes a kernel's numbers: exact fractions, sums that are zero up to
rounding, the kernel as applied, and a grid of cells laid out within a width (README, Kernels).

The rules, each written once here:

- An entry is shown as a fraction when ``Fraction(x).limit_denominator(1000)`` equals the float ``x``
  within :data:`FRACTION_ULPS` units in the last place (:func:`exact_fraction`); so ``1/9`` computed as
  ``1 / 9`` is ``1/9`` and a random float is never shown as a fake fraction. Magnitudes of
  :data:`MAX_EXACT` and more are no fractions (``1e300`` is not written with its 301 digits).
- When every entry is such a fraction and their common denominator ``D`` is above 1, the matrix is
  shown as ``1/D ×`` an integer matrix (:func:`common_factor`): ``gaussian3`` is ``1/16 ×`` ``1 2 1 ...``.
- A sum is exact (a fraction) when every entry is a fraction; otherwise it is the float sum, shown as 0
  when ``|Σw| ≤ n · eps · Σ|w|`` (:func:`shown_sum`; ``n`` entries, ``eps`` float64's machine epsilon),
  the bound on the rounding error of summing ``n`` terms, so ``log:sigma=1.4`` sums to 0.
- Under convolution (the default) the kernel is applied rotated 180° (``k[::-1, ::-1]``); under
  correlation as stored (:func:`applied_matrix`).

Only NumPy and the standard library; nothing is printed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from fractions import Fraction

__all__ = [
    "FRACTION_ULPS",
    "MAX_DENOMINATOR",
    "MAX_EXACT",
    "applied_matrix",
    "common_factor",
    "exact_fraction",
    "format_number",
    "grid_lines",
    "matrix_cells",
    "matrix_fractions",
    "shown_sum",
    "sum_text",
]

#: The largest denominator an entry is shown with.
MAX_DENOMINATOR = 1000
#: How far (in units in the last place of the float) a fraction may be from the stored value.
FRACTION_ULPS = 4
#: The magnitude from which a value is no longer written as a fraction or whole number.
MAX_EXACT = 1e6


def format_number(value: float) -> str:
    """A float as convcli's tables write it: 6 significant digits, ``0`` for ``-0.0``.

    Examples
    --------
    >>> format_number(1 / 3), format_number(-0.0), format_number(2.0), format_number(1.5e-7)
    ('0.333333', '0', '2', '1.5e-07')
    """
    return f"{float(value) + 0.0:.6g}"


def exact_fraction(value: float) -> Fraction | None:
    """The simple fraction ``value`` is (denominator at most :data:`MAX_DENOMINATOR`, magnitude below
    :data:`MAX_EXACT`), or None.

    The fraction must equal the float within :data:`FRACTION_ULPS` units in its last place, so that
    values computed as ``1 / 9`` are recognised and other floats are not rounded to a nearby fraction.

    Examples
    --------
    >>> str(exact_fraction(1 / 9)), str(exact_fraction(-0.25)), str(exact_fraction(3.0))
    ('1/9', '-1/4', '3')
    >>> exact_fraction(0.1234567) is None, exact_fraction(7.9e-7) is None, exact_fraction(1e300) is None
    (True, True, True)
    """
    value = float(value)
    if not math.isfinite(value) or abs(value) >= MAX_EXACT:
        return None
    from fractions import Fraction  # lazy: only a kernel shown as numbers needs it

    fraction = Fraction(value).limit_denominator(MAX_DENOMINATOR)
    if abs(float(fraction) - value) <= FRACTION_ULPS * math.ulp(value):
        return fraction
    return None


def matrix_fractions(matrix: np.ndarray) -> list[list[Fraction]] | None:
    """Every entry of ``matrix`` as an exact fraction, or None when one of them is none.

    Examples
    --------
    >>> [[str(f) for f in row] for row in matrix_fractions(np.array([[0.5, 0.25]]))]
    [['1/2', '1/4']]
    >>> matrix_fractions(np.array([[0.5, 0.123456789]])) is None
    True
    """
    rows = []
    for row in np.asarray(matrix, dtype=np.float64):
        fractions = [exact_fraction(v) for v in row]
        if any(f is None for f in fractions):
            return None
        rows.append(fractions)
    return rows


def common_factor(fractions: Sequence[Sequence[Fraction]]) -> tuple[Fraction, list[list[int]]] | None:
    """``(1/D, integers)`` with ``fractions == integers / D`` when the common denominator ``D`` is
    above 1, else None (the entries are whole numbers already).

    Examples
    --------
    >>> from fractions import Fraction as F
    >>> factor, ints = common_factor([[F(1, 16), F(1, 8)], [F(1, 8), F(1, 4)]])
    >>> str(factor), ints
    ('1/16', [[1, 2], [2, 4]])
    >>> common_factor([[F(1), F(-2)]]) is None
    True
    """
    denominator = math.lcm(*(f.denominator for row in fractions for f in row))
    if denominator == 1:
        return None
    from fractions import Fraction  # lazy, as in exact_fraction

    return Fraction(1, denominator), [[int(f * denominator) for f in row] for row in fractions]


def shown_sum(matrix: np.ndarray) -> float | Fraction:
    """The sum of the weights as shown: exact when every entry is a fraction; else the float sum,
    or 0.0 when it is within the rounding bound ``n · eps · Σ|w|`` of zero.

    Examples
    --------
    >>> str(shown_sum(np.full((3, 3), 1 / 9)))
    '1'
    >>> values = np.array([[0.1234567, 0.2, -0.3234567]])
    >>> float(values.sum()) != 0.0, shown_sum(values)
    (True, 0.0)
    >>> shown_sum(np.array([[1e-17, 0.3 + 1e-9]]))
    0.300000001
    """
    weights = np.asarray(matrix, dtype=np.float64)
    fractions = matrix_fractions(weights)
    if fractions is not None:
        from fractions import Fraction  # lazy, as in exact_fraction

        return sum((f for row in fractions for f in row), Fraction(0))
    total = float(weights.sum())
    tolerance = weights.size * float(np.finfo(np.float64).eps) * float(np.abs(weights).sum())
    return 0.0 if abs(total) <= tolerance else total


def sum_text(matrix: np.ndarray) -> str:
    """:func:`shown_sum` as text: the fraction, or :func:`format_number` of the float.

    Examples
    --------
    >>> sum_text(np.full((3, 3), 1 / 9)), sum_text(np.array([[0.5, 0.1234567]]))
    ('1', '0.623457')
    """
    total = shown_sum(matrix)
    return format_number(total) if isinstance(total, float) else str(total)


def applied_matrix(matrix: np.ndarray, *, correlate: bool = False) -> np.ndarray:
    """The weights as they meet the image window: rotated 180° under convolution, as stored under
    correlation (``out[i, j] = Σ applied[a, b] · window[a, b]``).

    Examples
    --------
    >>> applied_matrix(np.array([[1, 2], [3, 4]])).tolist()
    [[4, 3], [2, 1]]
    >>> applied_matrix(np.array([[1, 2], [3, 4]]), correlate=True).tolist()
    [[1, 2], [3, 4]]
    """
    weights = np.asarray(matrix)
    return weights if correlate else weights[::-1, ::-1]


def matrix_cells(matrix: np.ndarray) -> tuple[str | None, list[list[str]]]:
    """``(factor, cells)``: the text of each entry and the factor written before them (``"1/16"``)
    or None; fractions when every entry is one, else :func:`format_number`.

    Examples
    --------
    >>> matrix_cells(np.array([[1, 2, 1]]) / 4)
    ('1/4', [['1', '2', '1']])
    >>> matrix_cells(np.array([[1.0, 0.0, -1.0]]))
    (None, [['1', '0', '-1']])
    >>> matrix_cells(np.array([[0.5, 0.1234567]]))
    (None, [['0.5', '0.123457']])
    """
    fractions = matrix_fractions(matrix)
    if fractions is None:
        return None, [[format_number(v) for v in row] for row in np.asarray(matrix, dtype=np.float64)]
    factored = common_factor(fractions)
    if factored is None:
        return None, [[str(f) for f in row] for row in fractions]
    factor, integers = factored
    return str(factor), [[str(v) for v in row] for row in integers]


def grid_lines(cells: Sequence[Sequence[str]], *, width: int, indent: int = 2) -> list[str]:
    """Cells as right-aligned columns, in blocks of as many columns as fit in ``width`` characters;
    each block of a wrapped grid is headed ``columns A–B of N`` (counted from 0).

    Examples
    --------
    >>> print("\\n".join(grid_lines([["1", "0", "-1"], ["2", "0", "-2"]], width=80)))
       1  0 -1
       2  0 -2
    >>> print("\\n".join(grid_lines([["10", "20", "30"]], width=8)))
    columns 0–1 of 3:
      10 20
    columns 2–2 of 3:
      30
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"`width` must be a whole number >= 1, got {width!r}")
    if not cells or not cells[0]:
        return []
    cell_width = max(len(cell) for row in cells for cell in row)
    count = len(cells[0])
    per_block = max(1, (width - indent + 1) // (cell_width + 1))
    lines: list[str] = []
    for start in range(0, count, per_block):
        stop = min(start + per_block, count)
        if per_block < count:
            lines.append(f"columns {start}–{stop - 1} of {count}:")
        lines.extend(" " * indent + " ".join(cell.rjust(cell_width) for cell in row[start:stop]) for row in cells)
    return lines
