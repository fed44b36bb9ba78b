"""--sheet on every command that writes a result: one labelled 8-bit contact sheet per input, with
the result's channels as tiles (convcli.sheet.contact_sheet, tested in test_sheet.py)."""

import json
import os
import re

import numpy as np
import pytest

from helpers import png, read_png

RNG = np.random.default_rng(11)


@pytest.fixture
def rgb(tmp_path):
    return png(tmp_path / "rgb.png", RNG.integers(0, 256, size=(24, 20, 3), dtype=np.uint8))


BOX3_RGB = ["c0 in0·box3", "c1 in1·box3", "c2 in2·box3"]


@pytest.mark.parametrize("args, labels", [
    (("filter", "rgb.png", "-k", "box3"), BOX3_RGB),   # each tile named by the kernels that made it
    (("sobel", "rgb.png"), None),                       # no filter bank: the sheet's own c0, c1, c2
    (("pool", "rgb.png", "--size", "2"), None),
    (("upsample", "rgb.png", "--factor", "2"), None),
    (("filter", "rgb.png", "--gray", "-k", "box3"), ["c0 box3"]),
])
def test_every_command_writes_a_sheet_of_its_result(run, rgb, args, labels):
    from convcli.sheet import contact_sheet

    result = run(*args, "-o", "out.npy", "--sheet", "{stem}-sheet.png", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [f["output"] for f in report["files"]] == ["out.npy", "rgb-sheet.png"]
    assert (report["ok"], report["outputs"]) == (1, 2)
    values = np.load("out.npy")
    expected = contact_sheet(values, labels=labels)
    sheet = read_png("rgb-sheet.png")
    assert sheet.dtype == np.uint8 and sheet.shape == expected.shape
    np.testing.assert_array_equal(sheet, expected)


def test_several_kernels_in_one_sheet_ordered_as_the_bank(run, tmp_path):
    from convcli.sheet import contact_sheet

    png(tmp_path / "g.png", RNG.integers(0, 256, size=(16, 16), dtype=np.uint8))
    result = run("filter", "g.png", "-k", "sobel-x", "-k", "sobel-y", "-O", "out", "--sheet", "{stem}-sheet.png")
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir("out")) == ["g-sheet.png", "g-sobel-x.png", "g-sobel-y.png"]
    assert re.search(r"^1 done \(3 files written\), 0 failed", result.stderr, re.MULTILINE)
    # the raw results, as one bank (channel k = kernel k), give the same sheet
    assert run("filter", "g.png", "-k", "sobel-x", "-k", "sobel-y", "-o", "bank.npy").exit_code == 0
    expected = contact_sheet(np.load("bank.npy"), labels=["c0 sobel-x", "c1 sobel-y"])
    np.testing.assert_array_equal(read_png("out/g-sheet.png"), expected)


def test_the_sheet_is_one_picture_under_split(run, rgb):
    result = run("sobel", "rgb.png", "-o", "e.png", "--split", "--sheet", "s.png")
    assert result.exit_code == 0, result.output
    assert sorted(f for f in os.listdir(".") if f.endswith(".png")) == ["e-c0.png", "e-c1.png", "e-c2.png",
                                                                          "rgb.png", "s.png"]
    assert read_png("s.png").ndim == 3


def test_sheet_to_standard_output_is_refused(run, rgb):
    result = run("filter", "rgb.png", "-k", "box3", "-o", "out.png", "--sheet", "-")
    assert result.exit_code == 2 and "--sheet names a file" in result.stderr


def test_dry_run_plans_the_sheet_without_writing_it(run, rgb):
    result = run("pool", "rgb.png", "--size", "2", "-o", "p.png", "--sheet", "ps.png", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    files = json.loads(result.stdout)["files"]
    assert [f["output"] for f in files] == ["p.png", "ps.png"] and not os.path.exists("ps.png")
    assert files[1]["output_dtype"] == "uint8" and len(files[1]["output_shape"]) == 3
