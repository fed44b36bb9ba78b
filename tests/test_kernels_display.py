"""convcli.kernels.display: exact fractions, zero sums, the kernel as applied, grids within a width."""

from fractions import Fraction

import numpy as np
import pytest

from convcli.kernels import load_kernel
from convcli.kernels.display import (
    FRACTION_ULPS, applied_matrix, common_factor, exact_fraction, grid_lines, matrix_cells, matrix_fractions,
    shown_sum, sum_text,
)


def test_box3_entries_are_one_ninth_exactly():
    fractions = matrix_fractions(load_kernel("box3").matrix)
    assert fractions == [[Fraction(1, 9)] * 3] * 3
    assert matrix_cells(load_kernel("box3").matrix) == ("1/9", [["1"] * 3] * 3)
    assert shown_sum(load_kernel("box3").matrix) == 1  # exact: nine ninths, not 0.9999999999999999


def test_gaussian3_is_a_sixteenth_of_whole_numbers():
    factor, ints = common_factor(matrix_fractions(load_kernel("gaussian3").matrix))
    assert factor == Fraction(1, 16) and ints == [[1, 2, 1], [2, 4, 2], [1, 2, 1]]


@pytest.mark.parametrize(("value", "expected"), [
    (1 / 3, Fraction(1, 3)), (-2 / 7, Fraction(-2, 7)), (0.0, Fraction(0)), (-5.0, Fraction(-5)),
    (3 / 1000, Fraction(3, 1000)), (1 / 1001, None), (0.1234567, None), (7.88648e-07, None),
    (float("nan"), None), (float("inf"), None), (999_999.0, Fraction(999_999)), (1e6, None), (-1e300, None),
])
def test_exact_fraction(value, expected):
    assert exact_fraction(value) == expected


def test_a_fraction_a_few_ulps_away_is_accepted_and_more_is_not():
    third = 1 / 3
    near = third + 2 * np.spacing(third)
    far = third + 64 * np.spacing(third)
    assert FRACTION_ULPS >= 2
    assert exact_fraction(near) == Fraction(1, 3) and exact_fraction(far) is None


def test_random_floats_are_no_fake_fractions():
    weights = np.random.default_rng(5).normal(size=(5, 5))
    assert matrix_fractions(weights) is None
    factor, cells = matrix_cells(weights)
    assert factor is None and not any("/" in cell for row in cells for cell in row)
    np.testing.assert_allclose([[float(cell) for cell in row] for row in cells], weights, rtol=1e-5)


def test_one_inexact_entry_shows_every_entry_as_a_decimal():
    assert matrix_cells(np.array([[0.5, 0.1234567]])) == (None, [["0.5", "0.123457"]])


def test_log_sums_to_zero_up_to_rounding():
    weights = load_kernel("log:sigma=1.4").matrix
    assert np.sum(weights) != 0.0  # the float sum today: 1.87e-16
    assert shown_sum(weights) == 0.0 and sum_text(weights) == "0"


def test_a_small_sum_above_the_rounding_bound_is_kept():
    weights = np.array([[1e-10, 0.3, -0.3]])  # n·eps·Σ|w| ≈ 4e-16
    assert shown_sum(weights) == pytest.approx(1e-10, rel=1e-6)


def test_rounding_bound_is_relative_to_the_sum_of_magnitudes():
    big = np.array([[1e6 + 0.1234567, -1e6, -0.1234567]])  # a rounding residue of a large kernel
    residue = float(np.sum(big))
    assert residue != 0.0 and abs(residue) <= big.size * np.finfo(float).eps * np.abs(big).sum()
    assert shown_sum(big) == 0.0


def test_sobel_x_as_applied_is_the_rotation():
    sobel_x = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=float)
    np.testing.assert_array_equal(applied_matrix(load_kernel("sobel-x").matrix), np.rot90(sobel_x, 2))
    np.testing.assert_array_equal(applied_matrix(load_kernel("sobel-x").matrix, correlate=True), sobel_x)
    odd = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(applied_matrix(odd), [[5, 4, 3], [2, 1, 0]])


@pytest.mark.parametrize("width", [30, 60, 80, 200])
def test_a_31_by_31_grid_fits_the_width_and_keeps_every_value(width):
    cells = [[f"{i}.{j}" for j in range(31)] for i in range(31)]
    lines = grid_lines(cells, width=width)
    assert all(len(line) <= width for line in lines)
    # Read the blocks back: each "columns A–B of 31" heads 31 rows of columns A..B.
    seen = [[] for _ in range(31)]
    rows = iter(lines)
    for line in rows:
        assert line.startswith("columns ") or width == 200
        body = [next(rows) for _ in range(31)] if line.startswith("columns ") else [line, *rows]
        for i, row in enumerate(body):
            seen[i].extend(row.split())
    assert seen == cells


def test_grid_lines_refuses_a_bad_width():
    with pytest.raises(ValueError, match="`width`"):
        grid_lines([["1"]], width=0)
