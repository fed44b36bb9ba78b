"""`convcli kernels list|show` through CliRunner."""

import json
import os

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


def test_show_prints_the_matrix_as_a_grid(run):
    result = run("kernels", "show", "sobel-y")
    assert result.exit_code == 0
    grid = [line.split() for line in result.stdout.splitlines()[-3:]]
    assert grid == [["1", "2", "1"], ["0", "0", "0"], ["-1", "-2", "-1"]]
    assert result.stdout.startswith("sobel-y: 3×3, sum 0, separable")


def test_show_accepts_any_spec(run):
    result = run("kernels", "show", "box:2x3")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1].split() == ["0.166667"] * 3


def test_show_unknown_is_a_usage_error(run):
    result = run("kernels", "show", "no-such-kernel")
    assert result.exit_code == 2 and "unknown kernel" in result.stderr


def test_kernel_dir_adds_and_shadows(run, tmp_path):
    (tmp_path / "sobel-x.yaml").write_text("name: sobel-x\ndescription: mine\nmatrix: [[5]]\n")
    (tmp_path / "tiny.yaml").write_text("description: one\nmatrix: [[1]]\n")
    result = run("kernels", "list", "--kernel-dir", str(tmp_path))
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert "tiny" in rows and "mine" in rows["sobel-x"]
    assert run("kernels", "show", "--kernel-dir", str(tmp_path), "sobel-x").stdout.splitlines()[-1].split() == ["5"]


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
    assert shown.stdout.splitlines()[-1].split() == ["3"]
