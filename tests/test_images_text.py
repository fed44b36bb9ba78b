"""Text matrices (convcli.images.textmatrix): .txt/.csv files and matrix: inputs read as float64, written
with numbers that read back exactly; every bad input refused on one line naming the file and the line."""

from __future__ import annotations

import numpy as np
import pytest

from convcli import images
from convcli.errors import ImageReadError, ImageWriteError
from convcli.images.textmatrix import format_matrix, is_text_matrix


def write_text(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------


def test_txt_and_csv_are_read_as_float64_rows(tmp_path):
    txt = write_text(tmp_path, "a.txt", "1 2 3\n4   5\t6\n")
    csv = write_text(tmp_path, "a.csv", "1,2,3\r\n4, 5 ,6\r\n")
    for path, fmt in ((txt, "txt"), (csv, "csv")):
        array, info = images.read_image(path)
        assert array.dtype == np.float64 and array.tolist() == [[1, 2, 3], [4, 5, 6]]
        assert info.format == fmt and info.shape == (2, 3) and info.dtype == "float64"


def test_one_row_and_one_column_stay_2d(tmp_path):
    row, _ = images.read_image(write_text(tmp_path, "row.txt", "1 2 3\n"))
    column, _ = images.read_image(write_text(tmp_path, "col.txt", "1\n2\n3\n"))
    assert row.shape == (1, 3) and column.shape == (3, 1)


def test_comments_blank_lines_and_number_forms(tmp_path):
    path = write_text(tmp_path, "a.txt", "\ufeff-1 .5 1e-3  # a signal\n\n# its second row\n+2 0.25 -3E2\n")
    array, _ = images.read_image(path)
    assert array.tolist() == [[-1.0, 0.5, 0.001], [2.0, 0.25, -300.0]]


def test_inline_matrix():
    array, info = images.read_image("matrix:1 2 3; 4,5,6")
    assert array.tolist() == [[1, 2, 3], [4, 5, 6]] and array.dtype == np.float64
    assert info.shape == (2, 3)
    assert images.probe("matrix:0.5 1").shape == (1, 2)
    assert images.source_stem("matrix:1 2") == "matrix"


def test_text_from_bytes_as_standard_input():
    array, info = images.read_image(b"1 2\n3 4\n")
    assert array.tolist() == [[1, 2], [3, 4]] and info.format == "txt"


@pytest.mark.parametrize(
    ("head", "expected"),
    [(b"1 2 3", True), (b"  -0.5,1", True), (b"# comment\n1", False), (b".5", True), (b"inf 1", True),
     (b"nan,1", True), (b"hello", False), (b"1 2\x00", False), (b"", False), (b"  \n", False),
     (b"\xff\xfe1", False)],
)
def test_is_text_matrix(head, expected):
    assert is_text_matrix(head) is expected


def test_sniff_tells_csv_from_txt():
    assert images.sniff_format(b"1 2 3\n") == "txt"
    assert images.sniff_format(b"1,2,3\n") == "csv"
    assert images.sniff_format(b"hello, world") is None  # text that is no matrix: not supported


# ----------------------------------------------------------------------------------------------
# Refusals: one per kind, each naming the file and the line
# ----------------------------------------------------------------------------------------------


def read_error(source, **limits):
    with pytest.raises(ImageReadError) as caught:
        images.read_image(source, limits=images.Limits(**limits))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_ragged_rows(tmp_path):
    path = write_text(tmp_path, "a.txt", "1 2 3\n\n4 5\n")
    assert read_error(path) == (f"{path}:3: row 2 has 2 values, row 1 has 3; every row needs the same number "
                                "of values")


def test_not_a_number(tmp_path):
    path = write_text(tmp_path, "a.csv", "1,2\n3,x\n")
    assert read_error(path) == (f"{path}:2: value 'x' in row 2, column 2 is not a number; write numbers like 1, "
                                "-0.5 or 1e-3")


def test_not_a_number_inline():
    assert read_error("matrix:1 2; 3 true") == (
        "matrix:1 2; 3 true: value 'true' in row 2, column 2 is not a number; write numbers like 1, -0.5 or 1e-3")


def test_empty_value_between_commas(tmp_path):
    path = write_text(tmp_path, "a.csv", "1,,2\n")
    assert read_error(path).startswith(f"{path}:1: row 1 has an empty value")


def test_empty_file_and_comment_only_file(tmp_path):
    empty = write_text(tmp_path, "empty.txt", "")
    assert read_error(empty) == f"{empty}: is empty (0 bytes), not an image"
    comments = write_text(tmp_path, "c.txt", "# nothing\n\n")  # a comment first: no text matrix
    assert "not a supported image" in read_error(comments)
    from convcli.images.textmatrix import read as read_text

    with open(comments, "rb") as handle:  # the decoder itself, given one: no numbers in it
        with pytest.raises(ImageReadError, match="holds no numbers; write one row of numbers per line"):
            read_text(handle, "txt", comments, images.Limits(), True)
    assert read_error("matrix: ; ") == "matrix: ; : holds no numbers; write rows like 'matrix:1 2 3; 4 5 6'"


@pytest.mark.parametrize("token", ["nan", "inf", "-Infinity", "1e999"])
def test_nonfinite_refused_unless_allowed(tmp_path, token):
    path = write_text(tmp_path, "a.txt", f"1 2\n3 {token}\n")
    assert read_error(path).startswith(f"{path}:2: value ")
    assert "in row 2, column 2 is not finite" in read_error(path)
    array, _ = images.read_image(path, limits=images.Limits(allow_nonfinite=True))
    assert not np.isfinite(array[1, 1]) and array[0].tolist() == [1, 2]


def test_over_the_side_limit_names_the_line(tmp_path):
    path = write_text(tmp_path, "a.txt", "1 2\n" * 5)
    message = read_error(path, max_side=4)
    assert message.startswith(f"{path}:5: ") and "max_side" in message
    assert read_error("matrix:1 2 3 4 5", max_side=4).startswith("matrix:1 2 3 4 5: ")


def test_over_the_file_size_limit(tmp_path):
    path = write_text(tmp_path, "a.txt", "1 2 3 4\n" * 100)
    assert "file-size limit" in read_error(path, max_file_size=100)


def test_not_utf8(tmp_path):
    path = write_text(tmp_path, "a.txt", b"1 2\n" * 10 + b"3 \xff\n")  # past the bytes the sniff looks at
    assert read_error(path) == f"{path}: is not UTF-8 text (byte 43); a text matrix holds numbers"
    binary = write_text(tmp_path, "b.txt", b"1 2 \xff\n")  # in them: no text matrix at all
    assert "not a supported image" in read_error(binary)


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------


def test_format_matrix_by_hand():
    assert format_matrix(np.array([[0.0, 1.0, 2.5, 4.0, 1.5]])) == b"0 1 2.5 4 1.5\n"
    assert format_matrix(np.array([[-0.0, 1e-7], [1e300, -2.0]]), format="csv") == b"-0,1e-07\n1e+300,-2\n"
    assert format_matrix(np.array([[0.1]], np.float32)) == b"0.1\n"  # float32's shortest text
    assert format_matrix(np.array([[255, 0]], np.uint8)) == b"255 0\n"
    assert format_matrix(np.ones((2, 1, 1))) == b"1\n1\n"


def test_format_matrix_refusals():
    with pytest.raises(ValueError, match="format must be one of txt, csv"):
        format_matrix(np.ones((2, 2)), format="png")
    with pytest.raises(ValueError, match=r"2-D \(H, W\)"):
        format_matrix(np.ones(3))


@pytest.mark.parametrize("fmt", ["txt", "csv"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_round_trip_is_exact(tmp_path, fmt, dtype):
    rng = np.random.default_rng(5)
    values = (rng.standard_normal((7, 5)) * 10.0 ** rng.integers(-12, 12, (7, 5))).astype(dtype)
    path = tmp_path / f"out.{fmt}"
    images.write_image(path, values, dtype=dtype)
    back, info = images.read_image(path)
    assert info.format == fmt and back.dtype == np.float64
    np.testing.assert_array_equal(back.astype(dtype), values)  # the same numbers, bit for bit


def test_text_output_keeps_the_results_values(tmp_path):
    # No 0..255 mapping: negative and fractional values are written as they are, in the result's dtype.
    path = tmp_path / "out.txt"
    report = images.write_image(path, np.array([[-3.0, 0.5, 300.0]]))
    assert path.read_text() == "-3 0.5 300\n" and report["dtype"] == "float64"
    assert images.default_dtype("txt", "uint8", result_dtype="float32") == "float32"
    assert images.default_dtype("csv", "uint8", result_dtype="uint8") == "uint8"  # max pooling kept them
    assert images.default_dtype("txt", "uint8") == "float64"


def test_three_channels_are_refused_on_one_line():
    with pytest.raises(ImageWriteError) as caught:
        images.check_writable("csv", (4, 4, 3), "float64")
    assert str(caught.value) == (".csv holds one 2-D matrix; this result has 3 channels: write one file per "
                                 "channel (`split`) or use .npy")
    images.check_writable("txt", (4, 4, 1), "float32")  # one channel is a matrix


def test_text_files_are_not_taken_from_folders():
    # A folder INPUT takes images only: a notes.txt beside the images is no input.
    assert ".txt" not in images.IMAGE_EXTENSIONS and ".csv" not in images.IMAGE_EXTENSIONS
    assert images.format_from_path("out.CSV") == "csv" and images.format_from_path("a.txt") == "txt"
