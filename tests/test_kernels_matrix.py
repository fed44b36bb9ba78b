"""Tests for convcli.kernels.matrix: inline and array specs, the number grammar, the matrix checks."""

from __future__ import annotations

import numpy as np
import pytest

from convcli.errors import KernelError
from convcli.kernels import Kernel, load_kernel
from kernel_helpers import refused, write

# --------------------------------------------------------------------------------------------------
# Inline and array specs


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1 0 -1; 2 0 -2; 1 0 -1", [[1, 0, -1], [2, 0, -2], [1, 0, -1]]),
        ("1,0,-1;2,0,-2", [[1, 0, -1], [2, 0, -2]]),
        ("1, 0, -1\n2, 0, -2\n", [[1, 0, -1], [2, 0, -2]]),
        ("[[1,0,-1],[2,0,-2],[1,0,-1]]", [[1, 0, -1], [2, 0, -2], [1, 0, -1]]),
        ("[ [1, 2] , [3, 4] ]", [[1, 2], [3, 4]]),
        ("[1, 2, 3]", [[1, 2, 3]]),
        ("1 2 3", [[1, 2, 3]]),
        (".5 -1e-3 +2", [[0.5, -0.001, 2.0]]),
        ("  7  ", [[7]]),
        ("-1", [[-1]]),
    ],
)
def test_inline_forms(spec, expected):
    kernel = load_kernel(spec)
    assert kernel.name == "inline" and kernel.source == "inline"
    np.testing.assert_array_equal(kernel.matrix, expected)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("1 2 3; 4 5", "row 2 has 2 values, row 1 has 3; every row needs the same number of values"),
        ("[[1, 2, 3], [4, 5]]", "row 2 has 2 values, row 1 has 3"),
        ("1 x 3", "value 'x' in row 1, column 2 is not a number"),
        ("[[1, a]]", "value 'a' in row 1, column 2 is not a number"),
        ("1 nan", "value nan in row 1, column 2 is not finite"),
        ("[[1, inf]]", "is not finite"),
        ("1 2 -.inf", "is not finite"),
        ("[]", "the matrix is empty"),
        ("[[]]", "row 1 is empty"),
        ("[[[1, 2]]]", "more than 2 dimensions"),
        ("[[1, 2]", "cannot read"),
        ("[[1, 2]]]", "cannot read"),
        ("[1 2]", "cannot read"),
        ("1,,2", "empty value"),
        ("1 2,", "empty value"),
        ("0 " * 1026, "1025 per side"),
    ],
)
def test_inline_refusals(spec, words):
    error = refused(spec)
    assert error.path is None
    assert words in str(error)
    assert str(error).startswith("inline kernel: ")


def test_array_specs():
    kernel = load_kernel([[1, 2], [3, 4]])
    assert kernel.name == "array" and kernel.source == "array"
    np.testing.assert_array_equal(kernel.matrix, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(load_kernel(np.eye(2, dtype=np.uint8)).matrix, np.eye(2))
    np.testing.assert_array_equal(load_kernel(((1.5,),)).matrix, [[1.5]])
    np.testing.assert_array_equal(load_kernel([np.array([1, 2]), np.array([3, 4])]).matrix, [[1, 2], [3, 4]])
    same = Kernel("mine", [[1]])
    assert load_kernel(same) is same


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ([1, 2, 3], "must be a list of rows"),
        ([[1, 2], [3]], "row 2 has 1 values, row 1 has 2"),
        ([[1, True]], "value true in row 1, column 2 is not a number"),
        ([[1, "2"]], "value '2' in row 1, column 2 is not a number"),
        ([[1, None]], "not a number"),
        ([[1, 10**400]], "not finite"),
        ([np.zeros((2, 2))], "more than 2 dimensions"),
        ([], "the matrix is empty"),
        (np.zeros((0, 3)), "zero-sized"),
        (np.zeros(3), "1 dimension"),
        (np.zeros((2, 2, 2)), "3 dimension"),
        (np.ones((2, 2), dtype=bool), "dtype bool"),
        (np.ones((2, 2), dtype=complex), "dtype complex128"),
        (np.array([[1.0, np.inf]]), "value inf in row 1, column 2 is not finite"),
        (np.zeros((1, 1026)), "1025 per side"),
        (np.zeros((1000, 1001)), "1000000 values"),
    ],
)
def test_array_refusals(spec, words):
    assert words in str(refused(spec))


def test_bad_spec_types():
    with pytest.raises(TypeError, match="spec must be"):
        load_kernel(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="search_path must be a sequence of folders"):
        load_kernel("sobel-x", search_path="kernels")  # type: ignore[arg-type]


@pytest.mark.parametrize("spec,meant", [("1 0 -1, 2 0 -2", "1 0 -1; 2 0 -2"), ("1 2, 3 4; 5 6", "1 2; 3 4")])
def test_inline_comma_between_groups_of_values_is_refused(spec, meant):
    # A comma where ';' was meant must not silently make one long row (issue 11).
    with pytest.raises(KernelError, match=f"did you mean '{meant}'"):
        load_kernel(spec)


@pytest.mark.parametrize("spec,row", [("1, 2, 3", [1, 2, 3]), ("1,0,-1; 2,0,-2", [1, 0, -1]), ("1 0 -1", [1, 0, -1])])
def test_inline_commas_or_spaces_alone_still_separate_values(spec, row):
    assert load_kernel(spec).matrix[0].tolist() == row


# --------------------------------------------------------------------------------------------------
# One number grammar: inf and nan are numbers that are not finite, however the matrix is written


@pytest.mark.parametrize(
    ("written", "shown"),
    [("inf", "inf"), ("-inf", "-inf"), ("nan", "nan"), ("Infinity", "inf"), (".inf", "inf"), ("-.inf", "-inf"),
     ("NaN", "nan")],
)
def test_inf_and_nan_are_not_finite_inline_in_text_and_in_yaml(tmp_path, written, shown):
    expected = f"value {shown} in row 1, column 2 is not finite; kernel weights must be finite numbers"
    assert str(refused(f"[1, {written}]")) == f"inline kernel: {expected}"
    assert str(refused(f"1 {written}")) == f"inline kernel: {expected}"
    text_file = write(tmp_path, "k.txt", f"1 {written}\n")
    assert str(refused(text_file)) == f"{text_file}:1: {expected}"
    yaml_file = write(tmp_path, "k.yaml", f"matrix: [[1, {written}]]\n")
    assert str(refused(yaml_file)) == f"{yaml_file}:1: {expected}"
    block_file = write(tmp_path, "block.yaml", f"matrix:\n  - [0, 0]\n  -\n    - 1\n    - {written}\n")
    error = refused(block_file)
    assert error.line == 5 and "value " + shown + " in row 2, column 2 is not finite" in str(error)


@pytest.mark.parametrize("written", ["\"1\"", "'-0.5'", "x", "true", "1e", "infinite", "infx"])
def test_other_words_are_not_numbers(tmp_path, written):
    error = refused(write(tmp_path, "k.yaml", f"matrix: [[1, {written}]]\n"))
    assert "in row 1, column 2 is not a number; kernel weights must be numbers like 1" in str(error)
