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


# --- conv layers: a block of maps per layer ---------------------------------------------------------

FRAMEWORKS = os.path.join(os.path.dirname(__file__), "fixtures", "frameworks")
TWO_LAYERS = ("steps:\n"
              "  - conv2d: {filters: 3, kernel_size: 3, seed: 1, save: first.npy}\n"
              "  - pool: {op: max, size: 2}\n"
              "  - conv2d: {filters: 5, kernel_size: 2, seed: 2, save: second.npy}\n"
              "  - activation: {function: relu}\n")


def test_pipeline_sheet_shows_each_conv_layers_maps(run, tmp_path):
    from convcli.sheet import layer_sheet

    np.save("grey.npy", RNG.normal(size=(20, 24)).astype(np.float32))
    (tmp_path / "two.yaml").write_text(TWO_LAYERS)
    planned = run("pipeline", "two.yaml", "grey.npy", "-o", "out.npy", "--sheet", "s.png", "--dry-run", "--json")
    assert planned.exit_code == 0, planned.output
    assert not os.path.exists("s.png")
    result = run("pipeline", "two.yaml", "grey.npy", "-o", "out.npy", "--sheet", "s.png")
    assert result.exit_code == 0, result.output
    first, second = np.load("first.npy"), np.load("second.npy")
    assert first.shape == (18, 22, 3) and second.shape == (8, 10, 5)
    sheet = read_png("s.png")
    expected = layer_sheet([first, second], names=["conv2d_1", "conv2d_2"], kinds=["conv2d", "conv2d"])
    assert sheet.shape == expected.shape and (sheet == expected).all()
    # The dry run's planned sheet has the shape of the sheet written.
    described = {f["output"]: f for f in json.loads(planned.stdout)["files"]}
    assert tuple(described["s.png"]["output_shape"]) == sheet.shape
    assert described["s.png"]["output_dtype"] == "uint8"


def test_keras_model_sheet_names_the_layers(run, tmp_path):
    from convcli.sheet import layer_sheet

    np.save("digit.npy", RNG.uniform(size=(28, 28)).astype(np.float32))
    model = os.path.join(FRAMEWORKS, "autoencoder.keras")
    for layer in ("encode_conv", "decode_conv"):
        assert run("pipeline", model, "digit.npy", "--until", layer, "-o", f"{layer}.npy").exit_code == 0
    result = run("pipeline", model, "digit.npy", "-o", "out.npy", "--sheet", "s.png")
    assert result.exit_code == 0, result.output
    maps = [np.load("encode_conv.npy"), np.load("decode_conv.npy")]
    assert [m.shape for m in maps] == [(28, 28, 16), (14, 14, 4)]
    expected = layer_sheet(maps, names=["encode_conv", "decode_conv"], kinds=["Conv2D", "Conv2D"])
    assert (read_png("s.png") == expected).all()


def test_conv2d_command_sheet_and_tiff_stack(run, rgb):
    import tifffile

    from convcli.images import read_image
    from convcli.sheet import layer_sheet

    layer = ("conv2d", "rgb.png", "--filters", "8", "--kernel-size", "3", "--seed", "1")
    result = run(*layer, "-o", "m.tif", "--dtype", "float32")
    assert result.exit_code == 0, result.output
    result = run(*layer, "-o", "m.npy", "--sheet", "s.png")
    assert result.exit_code == 0, result.output
    with tifffile.TiffFile("m.tif") as tif:  # 8 channels: 8 pages
        maps = np.stack([page.asarray() for page in tif.pages], axis=-1)
    assert maps.shape == (22, 18, 8)
    np.testing.assert_array_equal(maps, np.load("m.npy"))
    np.testing.assert_array_equal(read_image("m.tif")[0], maps)
    assert (read_png("s.png") == layer_sheet([maps], names=["conv2d_1"], kinds=["conv2d"])).all()


def test_a_chain_without_conv_layers_keeps_the_sheet_of_its_result(run, rgb, tmp_path):
    from convcli.sheet import contact_sheet

    (tmp_path / "p.yaml").write_text("steps:\n  - filter: {kernels: [box3, sobel-x]}\n"
                                     "  - activation: {function: relu}\n")
    result = run("pipeline", "p.yaml", "rgb.png", "-o", "out.npy", "--sheet", "s.png")
    assert result.exit_code == 0, result.output
    labels = [f"c{c * 2 + k} in{c}·{name}" for c in range(3) for k, name in enumerate(["box3", "sobel-x"])]
    assert (read_png("s.png") == contact_sheet(np.load("out.npy"), labels=labels)).all()


def test_max_memory_counts_the_layers_kept_for_the_sheet(run, tmp_path):
    (tmp_path / "wide.yaml").write_text("steps:\n  - conv2d: {filters: 64, kernel_size: 3}\n"
                                        "  - conv2d: {filters: 1, kernel_size: 3}\n")
    np.save("big.npy", np.zeros((1024, 1024), np.float32))
    args = ("pipeline", "wide.yaml", "big.npy", "-o", "out.npy", "--dry-run", "--json")
    without = json.loads(run(*args).stdout)["files"][0]["memory"]
    with_sheet = json.loads(run(*args, "--sheet", "s.png").stdout)["files"][0]["memory"]
    maps = 1022 * 1022 * 64 * 4  # the first layer's float32 maps, held for the sheet
    assert with_sheet >= without + maps
    # Refused before anything is decoded, with the sheet only.
    refused = run(*args[:-2], "--max-memory", str((without + with_sheet) // 2), "--sheet", "s.png")
    assert refused.exit_code != 0 and "--max-memory" in refused.output + refused.stderr
    assert not os.path.exists("out.npy") and not os.path.exists("s.png")


def test_dtype_float32_leaves_the_sheet_8_bit(run):
    """--dtype sets the result's dtype; the contact sheet is an 8-bit picture whatever it says."""
    import tifffile
    from PIL import Image

    np.save("in.npy", np.random.default_rng(2).random((12, 12)))
    result = run("conv2d", "in.npy", "--filters", "3", "--kernel-size", "3", "-o", "maps.tif", "--dtype", "float32",
                 "--sheet", "sheet.png")
    assert result.exit_code == 0, result.output
    assert tifffile.imread("maps.tif").dtype == np.float32
    with Image.open("sheet.png") as sheet:
        assert sheet.mode in ("L", "RGB")
