"""Tests for convcli.kernels.files: YAML, text and .npy kernel files and their refusals."""

from __future__ import annotations


import numpy as np
import pytest

from convcli.errors import KernelError
from convcli.kernels import load_kernel, parse_kernel_yaml
from kernel_helpers import refused, refused_yaml, write

# --------------------------------------------------------------------------------------------------
# Kernel YAML files


def test_yaml_file_kernel(tmp_path):
    path = write(
        tmp_path,
        "mine.yaml",
        "name: mine\ndescription: my kernel\nmatrix:\n  - [1, 2]\n  - [3, 4e-1]\ntags: [a, b]\n",
    )
    kernel = load_kernel(str(path))
    assert kernel.name == "mine" and kernel.description == "my kernel" and kernel.tags == ("a", "b")
    assert kernel.source == str(path)
    np.testing.assert_array_equal(kernel.matrix, [[1, 2], [3, 0.4]])
    assert load_kernel(path) == kernel  # os.PathLike works too


def test_yaml_name_defaults_to_stem_and_yml_works(tmp_path):
    path = write(tmp_path, "other.yml", "matrix: [[1]]\n")
    assert load_kernel(str(path)).name == "other"


def test_yaml_scale_and_normalize(tmp_path):
    scaled = write(tmp_path, "s.yaml", "matrix: [[1, 2]]\nscale: 0.5\n")
    np.testing.assert_array_equal(load_kernel(scaled).matrix, [[0.5, 1.0]])
    normalized = write(tmp_path, "n.yaml", "matrix: [[1, 3]]\nnormalize: true\n")
    np.testing.assert_array_equal(load_kernel(normalized).matrix, [[0.25, 0.75]])
    both = write(tmp_path, "b.yaml", "matrix: [[1, 3]]\nnormalize: true\nscale: 2\n")
    np.testing.assert_array_equal(load_kernel(both).matrix, [[0.5, 1.5]])  # normalized first, then scaled
    off = write(tmp_path, "o.yaml", "matrix: [[1, 3]]\nnormalize: false\n")
    np.testing.assert_array_equal(load_kernel(off).matrix, [[1, 3]])


def test_parse_kernel_yaml_directly():
    kernel = parse_kernel_yaml("matrix: [[2, 2]]\nnormalize: true\n", path="/x/half.yaml")
    assert kernel.name == "half" and kernel.source == "/x/half.yaml"
    np.testing.assert_array_equal(kernel.matrix, [[0.5, 0.5]])
    assert parse_kernel_yaml("name: anything\nmatrix: [[1]]\n", path="<pipeline>").name == "anything"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("matrix:\n  - [1, 2, 3]\n  - [4, 5]\n", 3,
         "row 2 has 2 values, row 1 has 3; every row needs the same number of values"),
        ("matrix: []\n", 1, "the matrix is empty"),
        ("matrix: [[]]\n", 1, "row 1 is empty"),
        ("name: k\nmatrix:\n", 2, "the matrix must be a list of rows"),
        ("matrix: 5\n", 1, "the matrix must be a list of rows"),
        ("matrix: [1, 2, 3]\n", 1, "write a single row as [[a, b, c]]"),
        ("matrix:\n  - [1, 2]\n  - 3\n", 3, "row 2 is 3, not a list of values"),
        ("matrix:\n  - [1, 2]\n  - [3, a]\n", 3, "value 'a' in row 2, column 2 is not a number"),
        ("matrix:\n  - [1, \"2\"]\n", 2, "value '2' in row 1, column 2 is not a number"),
        ("matrix:\n  - [1, true]\n", 2, "value true in row 1, column 2 is not a number"),
        ("matrix:\n  - [1, ~]\n", 2, "value empty (null) in row 1, column 2 is not a number"),
        ("matrix:\n  - [1, {a: 1}]\n", 2, "is not a number"),
        ("matrix:\n  - [1, 2]\n  -\n    - 3\n    - .nan\n", 5, "value nan in row 2, column 2 is not finite"),
        ("matrix:\n  - [1, .inf]\n", 2, "value inf in row 1, column 2 is not finite"),
        ("matrix:\n  - [[1], [2]]\n", 2, "more than 2 dimensions"),
        ("matrix: [[1]]\ncolour: red\n", 2,
         "unknown key 'colour'; allowed keys: description, matrix, name, normalize, scale, tags"),
        ("name: k\ndescription: x\n", 1, "missing key 'matrix'"),
        ("name: other\nmatrix: [[1]]\n", 1, "name 'other' does not match the file name 'k.yaml'"),
        ("name: 5\nmatrix: [[1]]\n", 1, "name must be text"),
        ("matrix: [[1]]\ndescription: [a]\n", 2, "description must be text"),
        ("matrix: [[1]]\ntags: edge\n", 2, "tags must be a list of words"),
        ("matrix: [[1]]\ntags: [edge, 3]\n", 2, "tags must be a list of words"),
        ("matrix: [[1]]\nnormalize: yes\n", 2, "normalize must be true or false, got 'yes'"),
        ("matrix: [[1]]\nscale: big\n", 2, "scale must be a finite number"),
        ("matrix: [[1]]\nscale: true\n", 2, "scale must be a finite number"),
        ("matrix: [[1]]\nscale: .inf\n", 2, "scale must be a finite number"),
        ("matrix: [[1e308]]\nscale: 10\n", 2, "scale makes some weights overflow"),
        ("matrix: [[1, -1]]\nnormalize: true\n", 2, "kernel k sums to 0; normalize: true needs a kernel with a non-zero sum"),
        ("- [1, 2]\n", 1, "a kernel file must be a YAML mapping"),
        ("matrix: [[1, 2]\n", 2, "invalid YAML"),
        ("matrix: [[1]]\nmatrix: [[2]]\n", 2, "duplicate key 'matrix'"),
        ("matrix: !!python/object/apply:os.system [ls]\n", 1, "tag !!python/object/apply:os.system is not allowed"),
        ("base: &b [[1]]\nmatrix: *b\n", 1, "anchor &b is not allowed"),
        ("matrix:\n  - [" + ", ".join(["0"] * 1026) + "]\n", 2, "1025 per side"),
    ],
)
def test_yaml_refusals_name_the_file_and_line(tmp_path, text, line, words):
    error = refused_yaml(tmp_path, text)
    assert type(error) is KernelError
    assert error.line == line
    assert words in str(error)
    assert str(error).startswith(f"{tmp_path / 'k.yaml'}:{line}: ")


def test_yaml_file_too_large(tmp_path):
    error = refused_yaml(tmp_path, "matrix: [[1]]\n" + "#" * (70 * 1024) + "\n")
    assert "larger than 64 KiB" in str(error)


def test_yaml_file_not_utf8(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_bytes(b"matrix: [[1]]\ndescription: caf\xe9\n")
    error = refused(path)
    assert "not UTF-8" in str(error) and error.line == 2


def test_missing_and_odd_files(tmp_path):
    error = refused("nothere.yaml")
    assert error.path == "nothere.yaml" and "no such kernel file" in str(error) and "nothere" in str(error)
    assert "no such kernel file" in str(refused(str(tmp_path / "sobel-x.npy")))
    (tmp_path / "dir.yaml").mkdir()
    assert "not a file" in str(refused(str(tmp_path / "dir.yaml")))
    other = write(tmp_path, "k.dat", "1 2\n")
    assert "unsupported kernel file extension '.dat'" in str(refused(other))


# --------------------------------------------------------------------------------------------------
# Text and .npy files


def test_txt_and_csv_files(tmp_path):
    txt = write(tmp_path, "edge.txt", "# a comment\n\n1 0 -1   # trailing comment\n2 0 -2\n1 0 -1\n")
    kernel = load_kernel(str(txt))
    assert kernel.name == "edge" and kernel.source == str(txt)
    np.testing.assert_array_equal(kernel.matrix, [[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    csv = write(tmp_path, "k.csv", "0.25, 0.25\n0.25,0.25\n")
    np.testing.assert_array_equal(load_kernel(str(csv)).matrix, np.full((2, 2), 0.25))
    mixed = write(tmp_path, "m.txt", "1e-3 , .5\t+2\n")
    np.testing.assert_array_equal(load_kernel(str(mixed)).matrix, [[0.001, 0.5, 2.0]])


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("# header\n1 2 3\n\n4 5\n", 4, "row 2 has 2 values, row 1 has 3; every row needs the same number of values"),
        ("1 2\n3 four\n", 2, "value 'four' in row 2, column 2 is not a number"),
        ("1 2\n3 NaN\n", 2, "value nan in row 2, column 2 is not finite"),
        ("1 2\n-inf 3\n", 2, "not finite"),
        ("1 1e999\n", 1, "not finite"),
        ("1,,2\n", 1, "empty value"),
        ("# nothing\n\n", None, "kernel file has no values"),
    ],
)
def test_txt_refusals(tmp_path, text, line, words):
    path = write(tmp_path, "k.txt", text)
    error = refused(path)
    assert error.path == str(path) and error.line == line
    assert words in str(error)


def test_npy_files(tmp_path):
    path = tmp_path / "k.npy"
    np.save(path, np.array([[1, 2], [3, 4]], dtype=np.int16))
    kernel = load_kernel(str(path))
    assert kernel.name == "k" and kernel.source == str(path) and kernel.matrix.dtype == np.float64
    np.testing.assert_array_equal(kernel.matrix, [[1, 2], [3, 4]])
    np.save(path, np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    np.testing.assert_array_equal(load_kernel(path).matrix, np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize(
    ("array", "words"),
    [
        (np.zeros(3), "1 dimension(s)"),
        (np.zeros((2, 2, 2)), "3 dimension(s)"),
        (np.ones((2, 2), dtype=bool), "dtype bool"),
        (np.ones((2, 2), dtype=complex), "dtype complex128"),
        (np.array([["a", "b"]]), "dtype <U1"),
        (np.array([[1, None]], dtype=object), "dtype object"),
        (np.zeros((0, 2)), "zero-sized"),
        (np.array([[1.0, np.nan]]), "value nan in row 1, column 2 is not finite"),
        (np.zeros((1, 1026)), "1025 per side"),
    ],
)
def test_npy_refusals(tmp_path, array, words):
    path = tmp_path / "k.npy"
    np.save(path, array, allow_pickle=True)
    error = refused(path)
    assert error.path == str(path) and words in str(error)


def test_npy_size_is_checked_from_the_header(tmp_path):
    # A header announcing a huge array, with no data behind it: refused before any loading.
    path = tmp_path / "huge.npy"
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "<f8", "fortran_order": False, "shape": (100_000, 100_000)}
        )
    assert "1025 per side" in str(refused(path))


def test_corrupt_npy(tmp_path):
    path = tmp_path / "bad.npy"
    path.write_bytes(b"not an npy file at all")
    assert "not a valid .npy file" in str(refused(path))
    truncated = tmp_path / "short.npy"
    np.save(truncated, np.ones((4, 4)))
    truncated.write_bytes(truncated.read_bytes()[:-8])
    assert "not a valid .npy file" in str(refused(truncated))


def test_a_path_with_a_nul_is_no_such_file():
    """Found by the fuzzer: os.stat refuses a NUL with ValueError; it is a missing file."""
    from convcli.errors import KernelError

    with pytest.raises(KernelError, match="no such kernel file"):
        load_kernel("\x00.YML")
