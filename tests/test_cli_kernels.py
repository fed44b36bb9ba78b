"""`convcli kernels list|show` through CliRunner."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from convcli.cli import cli

BUILTINS = [
    "identity", "box3", "box5", "gaussian3", "gaussian5", "sharpen", "emboss", "laplacian4", "laplacian8",
    "sobel-x", "sobel-y", "scharr-x", "scharr-y", "prewitt-x", "prewitt-y", "mean2", "edge2",
]


@pytest.fixture
def run(monkeypatch):
    monkeypatch.delenv("CONVCLI_KERNEL_PATH", raising=False)
    return lambda *args: CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_list_is_a_table_of_every_builtin(run):
    result = run("kernels", "list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["name", "size", "sum", "separable", "description"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(BUILTINS) <= set(rows)
    assert rows["sobel-x"][1:4] == ["3×3", "0", "yes"]
    assert rows["sharpen"][1:4] == ["3×3", "1", "no"]
    assert run("kernels").stdout == result.stdout  # `list` is the default


def test_list_json(run):
    listing = json.loads(run("kernels", "list", "--json").stdout)
    by_name = {k["name"]: k for k in listing}
    assert by_name["mean2"]["shape"] == [2, 2] and by_name["mean2"]["sum"] == pytest.approx(1.0)
    assert by_name["emboss"]["separable"] is False
    assert all(k["description"] for k in listing)


def _grid(stdout, title):
    """The rows of numbers under the line starting with ``title``, up to the next blank line."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        rows.append(line.split())
    return lines[start], rows


def test_show_prints_the_matrix_as_stored_and_as_applied(run):
    result = run("kernels", "show", "sobel-y")
    assert result.exit_code == 0
    assert result.stdout.startswith("sobel-y: 3×3, sum 0, separable")
    stored = [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]
    assert _grid(result.stdout, "as stored")[1] == [[str(v) for v in row] for row in stored]
    title, applied = _grid(result.stdout, "as applied")
    assert title == "as applied (convolution: rotated 180°):"
    assert applied == [[str(v) for v in row] for row in np.rot90(np.array(stored), 2).tolist()]


def test_sobel_x_as_applied_is_the_rotation(run):
    sobel_x = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    shown = json.loads(run("kernels", "show", "sobel-x", "--json").stdout)
    assert shown["stored"] == sobel_x.tolist() and shown["applied"] == np.rot90(sobel_x, 2).tolist()
    assert shown["correlate"] is False
    correlated = json.loads(run("kernels", "show", "sobel-x", "--json", "--correlate").stdout)
    assert correlated["applied"] == sobel_x.tolist() and correlated["correlate"] is True
    text = run("kernels", "show", "sobel-x", "--correlate").stdout
    assert text.splitlines()[-1] == "as applied (correlation: as stored)"


def test_box3_is_a_ninth_of_ones(run):
    result = run("kernels", "show", "box3")
    title, grid = _grid(result.stdout, "as stored")
    assert title == "as stored: 1/9 ×" and grid == [["1"] * 3] * 3
    assert result.stdout.startswith("box3: 3×3, sum 1, separable")
    assert "as applied (convolution: rotated 180°): the same" in result.stdout  # symmetric
    shown = json.loads(run("kernels", "show", "box3", "--json").stdout)
    assert shown["stored_fractions"] == [["1/9"] * 3] * 3 and shown["applied_fractions"] == [["1/9"] * 3] * 3
    assert shown["stored"] == [[1 / 9] * 3] * 3 and shown["sum_shown"] == "1"


def test_show_accepts_any_spec(run):
    result = run("kernels", "show", "box:2x3")
    assert result.exit_code == 0
    assert _grid(result.stdout, "as stored") == ("as stored: 1/6 ×", [["1"] * 3] * 2)


def test_log_sum_is_zero(run):
    assert run("kernels", "show", "log:sigma=1.4").stdout.startswith("log:sigma=1.4: 11×11, sum 0, not separable")



def test_list_shows_sums_zero_up_to_rounding_as_zero(run, tmp_path):
    assert float(np.sum([0.1234567, 0.2, -0.3234567])) != 0.0  # 5.55e-17 in floats
    (tmp_path / "residue.yaml").write_text("description: d\nmatrix: [[0.1234567, 0.2, -0.3234567]]\n")
    rows = {line.split()[0]: line.split() for line in run("kernels", "list", "--kernel-dir", str(tmp_path)).stdout.splitlines()}
    assert rows["residue"][2] == "0" and rows["box3"][2] == "1"
    listing = {k["name"]: k for k in json.loads(run("kernels", "list", "--json", "--kernel-dir", str(tmp_path)).stdout)}
    assert listing["residue"]["sum"] == pytest.approx(0.0, abs=1e-15)  # --json keeps the float sum


def test_random_floats_show_no_fake_fractions(run, tmp_path):
    weights = np.random.default_rng(7).uniform(-1, 1, size=(4, 4))
    np.save(tmp_path / "random.npy", weights)
    result = run("kernels", "show", str(tmp_path / "random.npy"))
    assert result.exit_code == 0 and "/" not in result.stdout.replace(str(tmp_path), "")
    _, grid = _grid(result.stdout, "as stored")
    np.testing.assert_allclose(np.array(grid, dtype=float), weights, rtol=1e-5)
    shown = json.loads(run("kernels", "show", str(tmp_path / "random.npy"), "--json").stdout)
    assert shown["stored_fractions"] == [[None] * 4] * 4 and shown["stored"] == weights.tolist()


@pytest.mark.parametrize("columns", [50, 80, 132])
def test_a_31_by_31_kernel_fits_the_terminal_width(run, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    result = run("kernels", "show", "gaussian:sigma=5")
    assert result.exit_code == 0
    assert max(len(line) for line in result.stdout.splitlines()) <= columns
    assert "columns 0–" in result.stdout and "of 31:" in result.stdout


def test_png_draws_the_kernel_as_applied(run, tmp_path):
    from PIL import Image

    from convcli.kernels.picture import CELL, LINE

    result = run("kernels", "show", "sobel-x", "--png", str(tmp_path / "k.png"))
    assert result.exit_code == 0 and result.stdout.startswith("sobel-x: 3×3")
    with Image.open(tmp_path / "k.png") as image:
        assert image.size == (3 * CELL + 4 * LINE, 3 * CELL + 4 * LINE) and image.mode == "RGB"
        pixels = np.asarray(image)
    # As applied, the -2 of sobel-x is on the left (row 1, column 0): the blue end of the map.
    assert pixels[LINE + CELL + LINE + 1, LINE + 1].tolist() == [33, 102, 172]
    assert pixels[LINE + CELL + LINE + 1, 3 * LINE + 2 * CELL + 1].tolist() == [178, 24, 43]


def test_png_errors_are_one_line(run, tmp_path):
    missing = run("kernels", "show", "box3", "--png", str(tmp_path / "no-such-folder" / "k.png"))
    assert missing.exit_code == 1
    assert missing.stderr.splitlines() == [f"Error: --png {tmp_path / 'no-such-folder' / 'k.png'}: folder "
                                           f"'{tmp_path / 'no-such-folder'}' does not exist"]
    wrong = run("kernels", "show", "box3", "--png", str(tmp_path / "k.txt"))
    assert wrong.exit_code == 2 and "Invalid value for '--png'" in wrong.stderr.splitlines()[-1]
    huge = run("kernels", "show", "box:65", "--png", str(tmp_path / "k.png"))
    assert huge.exit_code == 2 and "at most 64 rows and columns" in huge.stderr.splitlines()[-1]
    assert not list(tmp_path.iterdir())


def test_show_unknown_is_a_usage_error(run):
    result = run("kernels", "show", "no-such-kernel")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[-1].startswith("Error: Invalid value for 'KERNEL': unknown kernel 'no-such-kernel'")


def test_kernel_dir_adds_and_shadows(run, tmp_path):
    (tmp_path / "sobel-x.yaml").write_text("name: sobel-x\ndescription: mine\nmatrix: [[5]]\n")
    (tmp_path / "tiny.yaml").write_text("description: one\nmatrix: [[1]]\n")
    result = run("kernels", "list", "--kernel-dir", str(tmp_path))
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert "tiny" in rows and "mine" in rows["sobel-x"]
    assert _grid(run("kernels", "show", "--kernel-dir", str(tmp_path), "sobel-x").stdout, "as stored")[1] == [["5"]]


def test_broken_file_in_kernel_dir_names_file_and_line(run, tmp_path):
    (tmp_path / "bad.yaml").write_text("matrix:\n  - [1, 2]\n  - [3]\n")
    result = run("kernels", "list", "--kernel-dir", str(tmp_path))
    # The others are still listed; the bad file is a warning naming file and line (test_cli_faults.py).
    assert result.exit_code == 0 and "bad.yaml:3" in result.stderr


def test_kernel_path_entries_that_are_no_folders_are_warned(run, tmp_path, monkeypatch):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "triple.yaml").write_text("description: times three\nmatrix: [[3]]\n")
    (tmp_path / "file.yaml").write_text("matrix: [[1]]\n")
    monkeypatch.setenv("CONVCLI_KERNEL_PATH", os.pathsep.join([str(tmp_path / "file.yaml"), str(tmp_path / "mine")]))
    warning = f"convcli: warning: CONVCLI_KERNEL_PATH: {str(tmp_path / 'file.yaml')!r} is not a folder (a file); ignored"
    listed = run("kernels", "list")
    assert listed.exit_code == 0 and listed.stderr.splitlines() == [warning]
    assert "triple" in listed.stdout.split() and "sobel-x" in listed.stdout.split()
    shown = run("kernels", "show", "triple")
    assert shown.exit_code == 0 and shown.stderr.splitlines() == [warning]
    assert _grid(shown.stdout, "as stored")[1] == [["3"]]
