"""`convcli show` and `--preview` through CliRunner: the PNG's cells, the terminal's cells (a forced terminal:
--color always with COLORTERM=truecolor) and the half-block preview against the numbers computed here
(hand-computed results, NumPy block means, the written file read back with Pillow/NumPy)."""

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from convcli.cli import cli
from convcli.drawing import CELL, Grid

TRUECOLOR = {"COLORTERM": "truecolor", "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24", "NO_COLOR": None}
#: An SGR sequence and the text after it.
SGR = re.compile(r"\x1b\[([0-9;]*)m([^\x1b]*)")


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONVCLI_KERNEL_PATH", raising=False)

    def invoke(*args, env=None):
        return CliRunner().invoke(cli, [str(a) for a in args], env=env or {"NO_COLOR": None}, catch_exceptions=False)

    return invoke


def styled_cells(text):
    """(foreground rgb, background rgb, text) of each truecolor-styled run in ``text``, by line."""
    lines = []
    for line in text.splitlines():
        cells = []
        for codes, chunk in SGR.findall(line):
            if not chunk:
                continue
            numbers = [int(n) for n in codes.split(";") if n]
            fg = bg = None
            k = 0
            while k < len(numbers):
                if numbers[k] in (38, 48) and numbers[k + 1] == 2:
                    rgb = tuple(numbers[k + 2:k + 5])
                    fg, bg = (rgb, bg) if numbers[k] == 38 else (fg, rgb)
                    k += 5
                else:
                    k += 1
            cells.append((fg, bg, chunk))
        if cells:
            lines.append(cells)
    return lines


def grey(v):
    return (v, v, v)


def test_small_array_on_a_pipe_is_its_values(run):
    result = run("show", "matrix:1 2.5 3; 4 -5 6")
    assert result.exit_code == 0
    assert [line.split() for line in result.stdout.splitlines()] == [["1", "5/2", "3"], ["4", "-5", "6"]]
    assert result.stderr == ""


def test_terminal_grid_cells_have_the_values_and_their_colours(run, tmp_path):
    np.save(tmp_path / "a.npy", np.array([[0, 51], [204, 255]], dtype=np.uint8))
    result = run("--color", "always", "show", "a.npy", env=TRUECOLOR)
    assert result.exit_code == 0
    rows = styled_cells(result.stdout)
    assert [[cell[2].strip() for cell in row] for row in rows] == [["0", "51"], ["204", "255"]]
    # 8-bit: the cell is the pixel's grey; the text white on dark, black on light
    assert [[cell[1] for cell in row] for row in rows] == [[grey(0), grey(51)], [grey(204), grey(255)]]
    assert [[cell[0] for cell in row] for row in rows] == [[grey(255), grey(255)], [grey(0), grey(0)]]


def test_terminal_grid_of_a_filter_result_equals_the_hand_computed_values(run, tmp_path):
    # box 1×2 correlated along a row: (1+2)/2, (2+4)/2, (4+0)/2 with a zero boundary
    result = run("--color", "always", "filter", "matrix:1 2 4", "-k", "0.5 0.5", "--correlate", "--mode", "same",
                 "-o", "out.txt", "--preview", "-q", env=TRUECOLOR)
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0] == "out.txt:"
    cells = styled_cells(result.stderr)
    assert [cell[2].strip() for cell in cells[0]] == ["3/2", "3", "2"]
    # floats from 0 (black) to the largest (3: white)
    assert [cell[1] for cell in cells[0]] == [grey(128), grey(255), grey(170)]
    assert (tmp_path / "out.txt").read_text().split() == ["1.5", "3", "2"]


def test_the_png_is_the_grid(run, tmp_path):
    values = np.array([[0, 64, 255], [160, 32, 16]], dtype=np.uint8)
    Image.fromarray(values).save(tmp_path / "in.png")
    result = run("show", "in.png", "-o", "grid.png")
    assert result.exit_code == 0 and result.stdout == ""  # not a terminal: the picture only
    with Image.open(tmp_path / "grid.png") as image:
        decoded = np.asarray(image.convert("RGB"))
    grid = Grid(decoded, CELL, (decoded.shape[1] - 1) // 3 - 1)
    assert decoded.shape[0] == 2 * (CELL + 1) + 1
    for i in range(2):
        for j in range(3):
            top, left, _, _ = grid.box(i, j)
            assert decoded[top, left].tolist() == [values[i, j]] * 3


def test_a_colour_pixel_grid_writes_its_three_values(run, tmp_path):
    rgb = np.array([[[255, 0, 0], [0, 0, 255]]], dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    result = run("--color", "always", "show", "rgb.png", env=TRUECOLOR)
    cells = styled_cells(result.stdout)[0]
    assert [c[2].strip() for c in cells] == ["255,0,0", "0,0,255"]
    assert [c[1] for c in cells] == [(255, 0, 0), (0, 0, 255)]


def test_large_image_preview_is_the_area_mean_in_half_blocks(run, tmp_path):
    x = np.random.default_rng(5).integers(0, 256, (40, 40)).astype(np.uint8)
    np.save(tmp_path / "big.npy", x)
    result = run("--color", "always", "show", "big.npy", "--width", "10", env=TRUECOLOR)
    assert result.exit_code == 0
    means = np.rint(x.reshape(10, 4, 10, 4).mean(axis=(1, 3))).astype(int)  # 4×4 blocks: 10×10 pixels
    rows = styled_cells(result.stdout)
    assert len(rows) == 5 and all(len(row) == 10 for row in rows)
    for r, row in enumerate(rows):
        for c, (fg, bg, char) in enumerate(row):
            assert char == "\u2580"
            assert fg == grey(means[2 * r, c]) and bg == grey(means[2 * r + 1, c])


def test_large_image_without_a_terminal_shows_nothing(run):
    result = run("show", "sample:camera")
    assert result.exit_code == 0 and result.stdout == ""
    assert "nothing shown" in result.stderr and "512×512" in result.stderr and "--max-cells" in result.stderr


def test_large_image_with_o_is_refused_naming_max_cells(run, tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((40, 3)))
    result = run("show", "big.npy", "-o", "g.png")
    assert result.exit_code == 1
    assert result.stderr.strip() == ("convcli: error: big.npy: a 40×3 array has more than 32 cells a side; "
                                     "raise --max-cells to 40 for its grid, or look at it as a preview")
    assert not (tmp_path / "g.png").exists()
    assert run("show", "big.npy", "-o", "g.png", "--max-cells", "40").exit_code == 0
    assert (tmp_path / "g.png").exists()


def test_many_channels_need_channel(run, tmp_path):
    np.save(tmp_path / "bank.npy", np.arange(2 * 2 * 5, dtype=np.float64).reshape(2, 2, 5))
    result = run("show", "bank.npy")
    assert result.exit_code == 1 and "choose one with --channel (0 to 4)" in result.stderr
    result = run("show", "bank.npy", "--channel", "3")
    assert [line.split() for line in result.stdout.splitlines()] == [["3", "8"], ["13", "18"]]
    assert run("show", "bank.npy", "--channel", "5").exit_code == 1


@pytest.mark.parametrize("args, code, words", [
    (["nosuch.png"], 1, "convcli: error: nosuch.png: no such file"),
    (["matrix:1 2", "--max-cells", "0"], 2, "--max-cells"),
    (["matrix:1 2", "--max-cells", "129"], 2, "--max-cells"),
    (["matrix:1 2", "--max-cells", "many"], 2, "--max-cells"),
    (["matrix:1 2", "--width", "0"], 2, "--width"),
    (["matrix:1 2", "-o", "out.txt"], 2, "the grid is a picture"),
    (["matrix:1 2", "-o", "-"], 2, "the grid is a picture"),
    (["shape:4x4"], 2, "no pixels"),
])
def test_bad_inputs(run, args, code, words):
    result = run("show", *args)
    assert result.exit_code == code
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 or code == 2


def test_a_folder_of_several_images_is_refused(run, tmp_path):
    (tmp_path / "d").mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / "d" / name)
    result = run("show", "d")
    assert result.exit_code == 2 and "one image" in result.stderr


def test_o_refuses_the_input(run, tmp_path):
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / "in.png")
    result = run("show", "in.png", "-o", "in.png")
    assert result.exit_code == 2 and "is the input" in result.stderr


def test_preview_absent_when_standard_error_is_no_terminal(run):
    result = run("filter", "matrix:1 2 4", "-k", "0.5 0.5", "-o", "out.txt", "--preview", "-q")
    assert result.exit_code == 0 and result.stderr == "" and result.stdout == ""
    result = run("--color", "always", "filter", "matrix:1 2 4", "-k", "0.5 0.5", "-o", "out.txt", "--preview",
                 "--dry-run", "-q", env=TRUECOLOR)
    assert result.stderr == ""


def test_preview_of_a_large_output_is_the_written_file_reduced(run, tmp_path):
    x = np.random.default_rng(6).integers(0, 256, (64, 64)).astype(np.uint8)
    Image.fromarray(x).save(tmp_path / "in.png")
    result = run("--color", "always", "pool", "in.png", "--size", "2", "-o", "out.png", "--preview", "--json",
                 env=TRUECOLOR)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["ok"] == 1  # standard output keeps the report alone
    with Image.open(tmp_path / "out.png") as image:
        written = np.asarray(image)
    assert written.shape == (32, 32)
    lines = result.stderr.splitlines()
    assert lines[0] == "out.png:"
    # 32×32 fits the grid: every cell shows the written value
    cells = styled_cells("\n".join(lines[1:]))
    assert [[int(c[2]) for c in row] for row in cells[:32]] == written[:, :len(cells[0])].tolist()
    result = run("--color", "always", "upsample", "in.png", "--factor", "2", "-o", "up.png", "--preview", "-q",
                 env=TRUECOLOR)
    with Image.open(tmp_path / "up.png") as image:
        up = np.asarray(image).astype(float)
    rows = styled_cells("\n".join(result.stderr.splitlines()[1:]))
    # 128×128 in 80 columns and 22 rows: 44×44 pixels, each the area mean of the written image
    from convcli.show import reduce_area

    reduced = np.rint(reduce_area(up, rows=44, cols=44)).astype(int)
    assert len(rows) == 22 and len(rows[0]) == 44
    assert [fg[0] for fg, _, _ in rows[3]] == reduced[6].tolist()
    assert [bg[0] for _, bg, _ in rows[3]] == reduced[7].tolist()


def test_preview_of_several_channels_without_a_picture_is_a_note(run):
    result = run("--color", "always", "filter", "sample:camera", "-k", "box3", "-k", "sobel-x", "-o", "bank.npy",
                 "--preview", "-q", env=TRUECOLOR)
    assert result.exit_code == 0
    assert result.stderr.strip() == ("preview of bank.npy: 2 channels, no one picture; --split writes (and "
                                     "previews) each as its own image")


def test_preview_without_colour_keeps_grids_as_text(run):
    result = run("--color", "never", "filter", "matrix:1 2 4", "-k", "0.5 0.5", "-o", "out.txt", "--preview", "-q")
    assert result.stderr == ""  # --color never and no terminal: nothing


def test_previews_come_in_input_order_from_workers(run, tmp_path):
    (tmp_path / "a.txt").write_text("1 2\n3 4\n")
    (tmp_path / "b.txt").write_text("10 20\n30 40\n")
    result = run("--color", "always", "filter", "a.txt", "b.txt", "-k", "2", "-O", "out", "--preview", "-q",
                 "--jobs", "2", env=TRUECOLOR)
    assert result.exit_code == 0
    headers = [line for line in result.stderr.splitlines() if line.endswith(":")]
    assert headers == ["out/a.txt:", "out/b.txt:"]
    texts = [[c[2].strip() for c in row] for row in styled_cells(result.stderr)]
    assert texts == [["2", "4"], ["6", "8"], ["20", "40"], ["60", "80"]]  # the kernel [2] doubles each value


def test_pipeline_previews_each_file_it_writes(run, tmp_path):
    (tmp_path / "p.yaml").write_text("steps:\n  - pool: {size: 2, save: 'pooled.txt'}\n  - upsample: {factor: 2}\n")
    result = run("--color", "always", "pipeline", "p.yaml", "matrix:1 2 3 4; 5 6 7 8", "-o", "out.txt",
                 "--preview", "-q", env=TRUECOLOR)
    assert result.exit_code == 0, result.stderr
    headers = [line for line in result.stderr.splitlines() if line.endswith(":")]
    assert sorted(headers) == ["out.txt:", "pooled.txt:"]
    cells = {header: None for header in headers}
    blocks = result.stderr.split("\n")
    for header in headers:
        start = blocks.index(header) + 1
        cells[header] = [[c[2].strip() for c in row] for row in styled_cells("\n".join(blocks[start:start + 2]))]
    assert cells["pooled.txt:"] == [["6", "8"]]  # max of each 2×2 window
    assert cells["out.txt:"] == [["6", "6", "8", "8"], ["6", "6", "8", "8"]]


def test_show_reads_standard_input(run, tmp_path):
    Image.fromarray(np.array([[7, 9]], np.uint8)).save(tmp_path / "in.png")
    result = CliRunner().invoke(cli, ["show", "-"], input=(tmp_path / "in.png").read_bytes(), env={"NO_COLOR": None})
    assert result.exit_code == 0 and result.stdout.split() == ["7", "9"]


def test_256_and_16_colour_terminals(run, tmp_path):
    np.save(tmp_path / "a.npy", np.array([[0.0, 0.5, 1.0]]))
    result = run("--color", "always", "show", "a.npy", env=dict(TRUECOLOR, COLORTERM=None))
    assert "48;5;" in result.stdout and "48;2;" not in result.stdout  # rich's nearest of 256
    rgb = np.array([[[200, 0, 0]]], dtype=np.uint8)
    np.save(tmp_path / "red.npy", rgb)
    result = run("--color", "always", "show", "red.npy", env=dict(TRUECOLOR, COLORTERM=None, TERM="xterm"))
    assert result.exit_code == 0 and "48;2;" not in result.stdout and "48;5;" not in result.stdout
    # 16 colours: the red is shown as its grey (luma 60): one of the four greys of 16 colours, white text
    (codes,) = re.findall(r"\x1b\[([0-9;]*)m ", result.stdout)
    foreground, background = codes.split(";")
    assert foreground in ("37", "97") and background in ("40", "47", "100", "107")


def test_a_grid_wider_than_width_comes_in_blocks_of_columns(run):
    result = run("show", "matrix:1 2 3 4 5; 6 7 8 9 10", "--width", "9")  # cells of 4 characters: 2 a line
    assert result.stdout.splitlines() == ["columns 0–1:", "  1   2", "  6   7", "columns 2–3:", "  3   4",
                                          "  8   9", "column 4:", "  5", " 10"]
