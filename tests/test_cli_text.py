"""Numbers in and out on the command line: `matrix:` and .txt/.csv inputs, .txt/.csv outputs, and a one-row
input filtered as a 1-D signal compared with numpy.convolve (the first lecture's examples)."""

from __future__ import annotations

import numpy as np
import pytest


def numbers(path) -> np.ndarray:
    """A written text matrix, read by NumPy (not by convcli), one row per line."""
    text = path.read_text(encoding="ascii")
    return np.array([[float(v) for v in line.replace(",", " ").split()] for line in text.splitlines()])


def inline(values) -> str:
    return "matrix:" + " ".join(repr(float(v)) for v in values)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_lecture_example_equals_numpy_convolve(run, tmp_path, mode):
    # The first lecture's np.convolve([1, 2, 3], [0, 1, 0.5]), in each of numpy's modes.
    done = run("filter", "matrix:1 2 3", "-k", "0 1 0.5", "--mode", mode, "-o", "out.txt")
    assert done.exit_code == 0, done.output
    expected = np.convolve([1, 2, 3], [0, 1, 0.5], mode=mode)
    np.testing.assert_array_equal(numbers(tmp_path / "out.txt"), expected[np.newaxis])
    assert {"full": "0 1 2.5 4 1.5\n", "same": "1 2.5 4\n", "valid": "2.5\n"}[mode] == (
        tmp_path / "out.txt").read_text()


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("taps", [1, 2, 3, 4, 5])
def test_one_row_signal_equals_numpy_convolve(run, tmp_path, mode, taps):
    # Convolution (the default), odd and even kernels: convcli's split of `same` padding agrees with numpy's.
    rng = np.random.default_rng(taps)
    signal = rng.integers(-9, 10, 11).astype(float)
    kernel = rng.integers(-4, 5, taps).astype(float)
    done = run("filter", inline(signal), "-k", " ".join(map(str, kernel)), "--mode", mode, "-o", "out.csv")
    assert done.exit_code == 0, done.output
    np.testing.assert_array_equal(numbers(tmp_path / "out.csv")[0], np.convolve(signal, kernel, mode=mode))


def test_lecture_gaussian_same_mode_is_a_correlation(run, tmp_path):
    # Lecture 000: f, a 20-sample Gaussian (int32), and fp = np.convolve(f, g[::-1], mode='same'), g = [-1, 0, 1]:
    # convolving with the reversed g is correlating with g (--correlate), or convolving with g[::-1].
    x = np.linspace(-3, 3, 20)
    f = (255 * np.exp(-0.5 * x**2)).astype("int32")
    g = np.array([-1, 0, 1])
    fp = np.convolve(f, g[::-1], mode="same")
    source = "matrix:" + " ".join(map(str, f))
    done = run("filter", source, "-k", "-1 0 1", "--correlate", "--mode", "same", "-o", "corr.txt")
    assert done.exit_code == 0, done.output
    done = run("filter", source, "-k", "1 0 -1", "--mode", "same", "-o", "conv.txt")
    assert done.exit_code == 0, done.output
    np.testing.assert_array_equal(numbers(tmp_path / "corr.txt")[0], fp)
    np.testing.assert_array_equal(numbers(tmp_path / "conv.txt")[0], fp)


@pytest.mark.parametrize("taps", [2, 4])
def test_even_kernel_correlate_same_is_numpys_shifted_by_one(run, tmp_path, taps):
    # The one difference: under --correlate with an even kernel, `same` pads (M-1)//2 before and the rest after
    # (TensorFlow's and PyTorch's split), numpy pads the larger half before: convcli[i] == numpy[i + 1].
    signal = np.arange(1.0, 8.0) ** 2
    kernel = np.arange(1.0, taps + 1.0)
    done = run("filter", inline(signal), "-k", " ".join(map(str, kernel)), "--correlate", "--mode", "same",
               "-o", "out.txt")
    assert done.exit_code == 0, done.output
    got = numbers(tmp_path / "out.txt")[0]
    numpy_same = np.convolve(signal, kernel[::-1], mode="same")
    np.testing.assert_array_equal(got[:-1], numpy_same[1:])
    before = (taps - 1) // 2
    padded = np.concatenate([np.zeros(before), signal, np.zeros(taps - 1 - before)])
    naive = [sum(padded[i + j] * kernel[j] for j in range(taps)) for i in range(len(signal))]
    np.testing.assert_array_equal(got, naive)


def test_output_to_stdout(run):
    done = run("filter", "matrix:1 2 3", "-k", "0 1 0.5", "--mode", "full", "-o", "-")
    assert done.exit_code == 0, done.output
    assert done.stdout == "0 1 2.5 4 1.5\n"
    done = run("filter", "matrix:1 2 3", "-k", "0 1 0.5", "--mode", "full", "-o", "-", "--format", "csv")
    assert done.stdout == "0,1,2.5,4,1.5\n"


def test_format_csv_with_an_output_folder(run, tmp_path):
    done = run("filter", "matrix:1 2; 3 4", "-k", "1", "-O", "out", "--format", "csv")
    assert done.exit_code == 0, done.output
    assert (tmp_path / "out" / "matrix.csv").read_text() == "1,2\n3,4\n"


def test_text_file_in_and_out_keeps_the_values(run, tmp_path):
    (tmp_path / "in.csv").write_text("0.1,-2\n300,4\n")
    done = run("filter", "in.csv", "-k", "1", "-o", "out.txt")  # no 0..255 mapping, float64 kept
    assert done.exit_code == 0, done.output
    assert (tmp_path / "out.txt").read_text() == "0.1 -2\n300 4\n"


def test_dry_run_on_a_matrix_input(run, tmp_path):
    done = run("filter", "matrix:1 2 3", "-k", "0 1 0.5", "--mode", "full", "--dry-run", "-o", "out.txt")
    assert done.exit_code == 0, done.output
    assert "1×3 float64 → out.txt 1×5 float64" in done.output
    assert not (tmp_path / "out.txt").exists()


def test_bad_inline_matrix_is_one_line(run):
    done = run("filter", "matrix:1 2; 3", "-k", "box3", "-o", "out.txt")
    assert done.exit_code == 1
    assert done.stderr.splitlines()[0] == (
        "convcli: error: matrix:1 2; 3: row 2 has 1 values, row 1 has 2; every row needs the same number of values")


def test_three_channel_result_to_text_is_refused(run):
    done = run("filter", "sample:astronaut", "-k", "box3", "-o", "out.txt")
    assert done.exit_code == 1
    error = done.stderr.splitlines()[0]
    assert error.endswith(".txt holds one 2-D matrix; this result has 3 channels: write one file per channel "
                          "(--split) or use .npy")


def test_text_on_standard_input(run, tmp_path):
    done = run("filter", "-", "-k", "0 1 0.5", "--mode", "full", "-O", "out", input=b"1 2 3\n")
    assert done.exit_code == 0, done.output
    assert (tmp_path / "out" / "stdin.txt").read_text() == "0 1 2.5 4 1.5\n"
