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


# --- how the sheet is drawn: --sheet-scale, --sheet-input ---------------------------------------------


def _cells(sheet, count, columns, pad=4):
    """The cells of a sheet of ``count`` tiles on ``columns`` columns (frame ``pad`` pixels wide)."""
    from convcli.sheet import FRAME

    rows = -(-count // columns)
    cell_h, rest_h = divmod(sheet.shape[0] - (rows + 1) * pad, rows)
    cell_w, rest_w = divmod(sheet.shape[1] - (columns + 1) * pad, columns)
    assert (rest_h, rest_w) == (0, 0)
    assert all((sheet[r * (cell_h + pad):r * (cell_h + pad) + pad] == FRAME).all() for r in range(rows + 1))
    return [sheet[pad + (j // columns) * (cell_h + pad):][:cell_h, pad + (j % columns) * (cell_w + pad):][:, :cell_w]
            for j in range(count)]


def _tile(cell, height, width):
    left = (cell.shape[1] - width) // 2
    return cell[:height, left:left + width]


@pytest.fixture
def steps_image(tmp_path):
    """A grey 16×16 image: flat at 100 on the left half, at 200 on the right (zero gradients in each half)."""
    image = np.full((16, 16), 100, np.uint8)
    image[:, 8:] = 200
    return png(tmp_path / "g.png", image)


def test_shared_scale_gives_zero_one_colour_in_every_tile(run, steps_image):
    from convcli.drawing import value_colours
    from convcli.sheet import contact_sheet

    args = ("filter", "g.png", "-k", "sobel-x", "-k", "laplacian4", "-o", "bank.npy")
    result = run(*args, "--sheet", "s.png", "--sheet-scale", "shared")
    assert result.exit_code == 0, result.output
    bank = np.load("bank.npy")
    assert bank.shape == (16, 16, 2) and bank[..., 0].max() != bank[..., 1].max()  # different ranges
    sheet = read_png("s.png")
    np.testing.assert_array_equal(sheet, contact_sheet(bank, labels=["c0 sobel-x", "c1 laplacian4"], scale="shared"))
    zoom = 8  # ⌈128/16⌉
    first, second = (_tile(cell, 16 * zoom, 16 * zoom) for cell in _cells(sheet, 2, 2))
    assert bank[4, 2, 0] == bank[4, 2, 1] == 0
    zero = np.rint(value_colours(0.0, limits=(bank.min(), bank.max()))).astype(int).tolist()
    assert first[4 * zoom, 2 * zoom].tolist() == second[4 * zoom, 2 * zoom].tolist() == zero == [255, 255, 255]
    # Each (the default): every tile's own scale, its min and max the ends of the map.
    assert run(*args, "--sheet", "e.png").exit_code == 0
    np.testing.assert_array_equal(read_png("e.png"), contact_sheet(bank, labels=["c0 sobel-x", "c1 laplacian4"]))


def test_sheet_input_adds_one_first_tile_per_input_channel(run, rgb):
    from convcli.sheet import contact_sheet

    source = read_png("rgb.png")
    result = run("sobel", "rgb.png", "-o", "e.npy", "--sheet", "s.png", "--sheet-input")
    assert result.exit_code == 0, result.output
    edges = np.load("e.npy")
    sheet = read_png("s.png")
    np.testing.assert_array_equal(sheet, contact_sheet(edges, input_image=source))
    cells = _cells(sheet, 6, 3)  # 3 input channels, then 3 results: ⌈√6⌉ = 3 columns
    zoom = 6  # ⌈128/24⌉
    for c in range(3):
        channel = source[..., c].astype(float)
        scaled = np.rint((channel - channel.min()) * (255.0 / (channel.max() - channel.min())))
        tile = _tile(cells[c], 24 * zoom, 20 * zoom)
        assert (tile[::zoom, ::zoom] == scaled[..., None]).all()  # the input's pixels, scaled, grey
    assert run("sobel", "rgb.png", "-o", "e2.npy", "--sheet", "p.png").exit_code == 0  # without: 3 tiles, 2×2
    np.testing.assert_array_equal(read_png("p.png"), contact_sheet(edges))
    assert len(_cells(read_png("p.png"), 3, 2)) == 3


def test_sheet_input_leaves_alpha_out_and_dry_run_knows_the_size(run, tmp_path):
    from convcli.sheet import bank_labels, contact_sheet

    rgba = np.dstack([RNG.integers(0, 256, size=(10, 12, 3)), np.full((10, 12), 200)]).astype(np.uint8)
    png(tmp_path / "rgba.png", rgba)
    args = ("filter", "rgba.png", "-k", "box3", "-o", "out.npy", "--sheet", "s.png", "--sheet-input")
    planned = run(*args, "--dry-run", "--json")
    assert planned.exit_code == 0, planned.output
    assert run(*args).exit_code == 0
    result = np.load("out.npy")[..., :3]
    expected = contact_sheet(result, labels=bank_labels([["box3"]], channels=3), input_image=rgba[..., :3])
    np.testing.assert_array_equal(read_png("s.png"), expected)
    described = {f["output"]: f for f in json.loads(planned.stdout)["files"]}
    assert tuple(described["s.png"]["output_shape"]) == expected.shape


def test_layer_sheet_with_input_and_shared_scale(run, tmp_path):
    from convcli.sheet import layer_sheet

    grey = RNG.normal(size=(20, 24)).astype(np.float32)
    np.save("grey.npy", grey)
    (tmp_path / "two.yaml").write_text(TWO_LAYERS)
    args = ("pipeline", "two.yaml", "grey.npy", "-o", "out.npy", "--sheet", "s.png", "--sheet-input",
            "--sheet-scale", "shared")
    planned = run(*args, "--dry-run", "--json")
    result = run(*args)
    assert result.exit_code == 0, result.output
    expected = layer_sheet([np.load("first.npy"), np.load("second.npy")], names=["conv2d_1", "conv2d_2"],
                           kinds=["conv2d", "conv2d"], scale="shared", input_image=grey)
    sheet = read_png("s.png")
    assert sheet.shape == expected.shape and (sheet == expected).all()
    described = {f["output"]: f for f in json.loads(planned.stdout)["files"]}
    assert tuple(described["s.png"]["output_shape"]) == sheet.shape


@pytest.mark.parametrize("args, message", [
    (("--sheet", "s.png", "--sheet-scale", "global"), "'global' is not one of 'each', 'shared'"),
    (("--sheet", "s.png", "--sheet-scale", "share"), "did you mean 'shared'"),
    (("--sheet-input",), "--sheet-input says how --sheet draws the contact sheet; add --sheet PATH"),
    (("--sheet-scale", "shared"), "--sheet-scale says how --sheet draws the contact sheet; add --sheet PATH"),
])
def test_bad_sheet_options_exit_2_with_one_line(run, rgb, args, message):
    from helpers import one_line_error

    result = run("sobel", "rgb.png", "-o", "e.png", *args)
    assert result.exit_code == 2, result.output
    assert message in one_line_error(result.stderr) and "Traceback" not in result.stderr
    assert not os.path.exists("e.png") and not os.path.exists("s.png")
