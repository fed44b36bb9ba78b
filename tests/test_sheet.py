"""convcli.sheet: contact sheets of the channels of a result, and the labels of filter banks."""

import numpy as np
import pytest

from convcli.sheet import FRAME, bank_labels, contact_sheet

PAD = 2


def _layout(sheet, *, rows, columns, tile_width, pad=PAD):
    """Cell height and width of a sheet of rows × columns cells, checking the frame between them."""
    height, width, _ = sheet.shape
    cell_w, rest_w = divmod(width - (columns + 1) * pad, columns)
    cell_h, rest_h = divmod(height - (rows + 1) * pad, rows)
    assert (rest_w, rest_h) == (0, 0)
    assert cell_w >= tile_width
    for r in range(rows + 1):  # horizontal frame lines
        y = r * (cell_h + pad)
        assert (sheet[y:y + pad] == FRAME).all()
    for c in range(columns + 1):  # vertical frame lines
        x = c * (cell_w + pad)
        assert (sheet[:, x:x + pad] == FRAME).all()
    return cell_h, cell_w


def _cell(sheet, r, c, cell_h, cell_w, pad=PAD):
    y, x = pad + r * (cell_h + pad), pad + c * (cell_w + pad)
    return sheet[y:y + cell_h, x:x + cell_w]


def test_four_channels_make_a_2x2_grid_of_tiles_in_channel_order():
    x = np.zeros((48, 40, 4))
    for j in range(4):
        x[:, :, j] = np.arange(40) * (j + 1)  # a ramp: 0 on the left, 255 on the right after scaling
        x[j, 0, j] = -1                        # a mark that says which channel a tile shows
    sheet = contact_sheet(x, zoom=1, padding=PAD)
    assert sheet.dtype == np.uint8 and sheet.ndim == 3 and sheet.shape[2] == 3
    cell_h, cell_w = _layout(sheet, rows=2, columns=2, tile_width=40)
    assert cell_h > 48  # a label band under each tile
    for j in range(4):
        cell = _cell(sheet, j // 2, j % 2, cell_h, cell_w)
        left = (cell_w - 40) // 2
        tile = cell[:48, left:left + 40, 0]
        assert (cell[:48, left:left + 40] == tile[:, :, None]).all()  # grey: R = G = B
        assert np.flatnonzero(tile[:, 0] == 0).tolist() == [j]        # the mark of channel j
        assert tile[10, -1] == 255


@pytest.mark.parametrize(("channels", "columns", "grid"), [(1, None, (1, 1)), (2, None, (1, 2)), (3, None, (2, 2)),
                                                          (6, None, (2, 3)), (4, 4, (1, 4)), (5, 2, (3, 2))])
def test_grid_shape(channels, columns, grid):
    x = np.random.default_rng(channels).random((20, 30, channels))
    sheet = contact_sheet(x, zoom=1, padding=PAD, columns=columns, labels=[""] * channels)
    cell_h, cell_w = _layout(sheet, rows=grid[0], columns=grid[1], tile_width=30)
    assert cell_w == 30
    for empty in range(channels, grid[0] * grid[1]):  # unused cells are frame
        assert (_cell(sheet, empty // grid[1], empty % grid[1], cell_h, cell_w) == FRAME).all()


def test_a_2d_array_is_one_tile():
    sheet = contact_sheet(np.eye(30), zoom=1, padding=PAD)
    cell_h, cell_w = _layout(sheet, rows=1, columns=1, tile_width=30)
    tile = _cell(sheet, 0, 0, cell_h, cell_w)[:30, (cell_w - 30) // 2:][:, :30, 0]
    assert (tile == np.eye(30) * 255).all()


def test_small_tiles_are_enlarged_by_a_whole_factor():
    x = np.arange(48 * 48 * 2, dtype=float).reshape(48, 48, 2)
    sheet = contact_sheet(x, padding=PAD)  # default zoom: 128 / 48 → 3
    cell_h, cell_w = _layout(sheet, rows=1, columns=2, tile_width=144)
    tile = _cell(sheet, 0, 0, cell_h, cell_w)[:144, (cell_w - 144) // 2:][:, :144, 0]
    small = tile[::3, ::3]
    assert (np.repeat(np.repeat(small, 3, axis=0), 3, axis=1) == tile).all()
    assert contact_sheet(np.zeros((300, 200)), padding=0, labels=[""]).shape[1] == 200  # large: no zoom


def test_labels_are_drawn_in_the_band_under_each_tile():
    x = np.zeros((40, 100, 2))
    sheet = contact_sheet(x, zoom=1, padding=PAD, labels=["c0 mean2·edge2", ""])
    cell_h, cell_w = _layout(sheet, rows=1, columns=2, tile_width=100)
    labelled, blank = _cell(sheet, 0, 0, cell_h, cell_w), _cell(sheet, 0, 1, cell_h, cell_w)
    band, blank_band = labelled[40:], blank[40:]
    assert (blank_band == 255).all()                 # white band, nothing written
    ink = band[..., 0] < 128
    assert ink.sum() > 30                            # text, dark on white
    rows, cols = np.nonzero(ink)
    assert 0 < rows.min() and rows.max() < band.shape[0] - 1  # inside the band, with a margin
    assert abs((cols.min() + cols.max()) / 2 - 50) < 8        # centred under the tile


def test_default_labels_name_the_channels():
    plain = contact_sheet(np.zeros((40, 40, 3)), zoom=1, labels=["", "", ""])
    named = contact_sheet(np.zeros((40, 40, 3)), zoom=1)
    assert plain.shape == named.shape and (named != plain).any()


def test_a_long_label_widens_the_cells_instead_of_being_cut():
    label = "c3 gaussian:sigma=1.5·gaussian:sigma=1.5·edge2"
    sheet = contact_sheet(np.zeros((10, 10, 1)), zoom=1, padding=PAD, labels=[label])
    cell_h, cell_w = _layout(sheet, rows=1, columns=1, tile_width=10)
    assert cell_w > 150
    band = _cell(sheet, 0, 0, cell_h, cell_w)[10:, :, 0]
    cols = np.nonzero((band < 128).any(axis=0))[0]
    assert cols.min() > 0 and cols.max() < cell_w - 1


def test_each_tile_is_normalised_on_its_own():
    x = np.zeros((16, 16, 3))
    x[..., 0] = np.linspace(0, 1, 16)            # 0 .. 1
    x[..., 1] = np.linspace(-500, 1000, 16)      # -500 .. 1000
    x[..., 2] = 7.0                              # constant
    sheet = contact_sheet(x, zoom=1, padding=PAD, columns=3)
    cell_h, cell_w = _layout(sheet, rows=1, columns=3, tile_width=16)
    tiles = [_cell(sheet, 0, j, cell_h, cell_w)[:16, (cell_w - 16) // 2:][:, :16, 0] for j in range(3)]
    expected = np.rint(np.linspace(0, 255, 16))
    assert (tiles[0][0] == expected).all() and (tiles[1][0] == expected).all()
    assert (tiles[2] == 0).all()


def test_global_scale_shares_one_range_and_clip_keeps_values():
    x = np.zeros((16, 16, 2))
    x[..., 0] = np.linspace(0, 1, 16)
    x[..., 1] = np.linspace(0, 2, 16)
    common = {"zoom": 1, "padding": PAD, "labels": ["", ""]}
    sheet = contact_sheet(x, scale="global", **common)
    cell_h, cell_w = _layout(sheet, rows=1, columns=2, tile_width=16)
    first = _cell(sheet, 0, 0, cell_h, cell_w)[:16, :16, 0]
    second = _cell(sheet, 0, 1, cell_h, cell_w)[:16, :16, 0]
    assert first.max() == 128 and second.max() == 255
    clipped = contact_sheet(np.array([[-3.0, 7.4, 300.0]]), scale="clip", zoom=1, padding=0, labels=[""])
    assert clipped[0, :, 0].tolist() == [0, 7, 255]
    offset = contact_sheet(np.array([[-1.0, 0.0, 1.0]]), scale="offset", zoom=1, padding=0, labels=[""])
    assert offset[0, :, 0].tolist() == [127, 128, 129]
    absolute = contact_sheet(np.array([[-3.0, 2.0]]), scale="abs", zoom=1, padding=0, labels=[""])
    assert absolute[0, :, 0].tolist() == [3, 2]


def test_nan_and_inf_are_black_and_take_no_part_in_the_range():
    x = np.array([[0.0, 1.0, 2.0, np.nan, np.inf, -np.inf]])
    sheet = contact_sheet(x, zoom=1, padding=0, labels=[""])
    assert sheet[0, :, 0].tolist() == [0, 128, 255, 0, 0, 0]


def test_same_input_same_pixels_and_input_untouched():
    x = np.random.default_rng(1).normal(size=(30, 30, 4))
    before = x.copy()
    a = contact_sheet(x, labels=bank_labels([["mean2", "edge2"]] * 2))
    b = contact_sheet(x, labels=bank_labels([["mean2", "edge2"]] * 2))
    assert np.array_equal(a, b) and np.array_equal(x, before)


def test_integer_and_boolean_inputs():
    assert contact_sheet(np.eye(4, dtype=bool), zoom=1, padding=0, labels=[""])[:4, :4, 0].tolist() == (
        np.eye(4) * 255).tolist()
    assert contact_sheet(np.full((4, 4, 2), 9, np.uint16)).dtype == np.uint8


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"array": np.zeros((2, 2, 2, 2))}, "shape"),
    ({"array": np.zeros(5)}, "shape"),
    ({"array": np.zeros((0, 4))}, "empty"),
    ({"array": np.array([["a"]])}, "real numbers"),
    ({"array": np.zeros((4, 4, 2)), "labels": ["a"]}, "2 strings"),
    ({"array": np.zeros((4, 4, 1)), "labels": "a"}, "single string"),
    ({"array": np.zeros((4, 4, 1)), "labels": [1]}, "1 strings"),
    ({"array": np.zeros((4, 4)), "scale": "stretch"}, "scale"),
    ({"array": np.zeros((4, 4)), "columns": 0}, "columns"),
    ({"array": np.zeros((4, 4)), "zoom": 1.5}, "zoom"),
    ({"array": np.zeros((4, 4)), "padding": -1}, "padding"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        contact_sheet(**kwargs)


def test_bank_labels_are_input_channel_major():
    assert bank_labels([["mean2", "edge2"], ["mean2", "edge2"]]) == [
        "c0 mean2·mean2", "c1 mean2·edge2", "c2 edge2·mean2", "c3 edge2·edge2"]
    assert bank_labels([["a", "b", "c"]], channels=2) == [
        "c0 in0·a", "c1 in0·b", "c2 in0·c", "c3 in1·a", "c4 in1·b", "c5 in1·c"]
    assert bank_labels([]) == ["c0"]
    for bad in ([[]], ["ab"], [[1]]):
        with pytest.raises(ValueError, match="bank"):
            bank_labels(bad)
    with pytest.raises(ValueError, match="channels"):
        bank_labels([["a"]], channels=0)


# --- sheets of conv layers -------------------------------------------------------------------------


def _band(texts):
    """Height of a text band as the sheet documents it: a line of Pillow's default font ("Ag", or
    the texts' ink when it reaches further), 3 pixels above and below."""
    from PIL import ImageFont

    font = ImageFont.load_default()
    boxes = [font.getbbox("Ag"), *(font.getbbox(text) for text in texts)]
    return max(box[3] for box in boxes) - min(box[1] for box in boxes) + 2 * 3


def _scaled(values):
    """The documented default scale, in NumPy: each map's min..max to 0..255, rounded."""
    lo, hi = values.min(), values.max()
    return np.rint((values - lo) * (255.0 / (hi - lo))).astype(np.uint8)


TWO_LAYERS = ("steps:\n"
              "  - conv2d: {filters: 3, kernel_size: 3, seed: 1}\n"      # 20×24 → 18×22×3
              "  - pool: {op: max, size: 2}\n"                           # → 9×11×3
              "  - conv2d: {filters: 2, kernel_size: 2, seed: 2}\n")     # → 8×10×2


def test_pipeline_sheet_of_two_conv_layers_has_a_block_per_layer():
    from convcli.pipeline import layer_positions, parse_pipeline, plan
    from convcli.sheet import pipeline_sheet

    steps = parse_pipeline(TWO_LAYERS, path="two.yaml")
    planned = plan(steps, (20, 24))
    rng = np.random.default_rng(5)
    maps = {0: rng.normal(size=(18, 22, 3)), 2: rng.normal(size=(8, 10, 2))}
    assert layer_positions(steps) == [0, 2]
    sheet = pipeline_sheet(rng.normal(size=(8, 10, 2)), steps, planned, maps=maps)

    pad = 4
    labels = [f"conv2d_1 c{j}" for j in range(3)] + [f"conv2d_2 c{j}" for j in range(2)]
    label_band = _band(labels[:3])
    titles = ["conv2d_1 (conv2d) 18x22x3", "conv2d_2 (conv2d) 8x10x2"]
    title_band = _band(titles)
    # Block 1: 18×22 tiles enlarged ⌈128/22⌉ = 6 times (108×132), 3 tiles on a 2×2 grid.
    tile1_h, tile1_w = 18 * 6, 22 * 6
    block1 = (2 * (tile1_h + label_band) + 3 * pad, 2 * tile1_w + 3 * pad)
    # Block 2: 8×10 tiles enlarged ⌈128/10⌉ = 13 times (104×130), 2 tiles side by side.
    tile2_h, tile2_w = 8 * 13, 10 * 13
    block2 = (tile2_h + _band(labels[3:]) + 2 * pad, 2 * tile2_w + 3 * pad)
    assert sheet.shape == (title_band + block1[0] + title_band + block2[0], max(block1[1], block2[1]), 3)

    # Headings: black text on a white band across the sheet.
    for top in (0, title_band + block1[0]):
        heading = sheet[top:top + title_band]
        assert (heading == heading[..., :1]).all() and (heading[..., 0] < 128).sum() > 30  # grey ink
        assert (heading[:, -20:] == 255).all() and (heading[:3] == 255).all()                 # on white
    # Block 2 is narrower: the frame colour fills the rest of its rows.
    second = sheet[2 * title_band + block1[0]:]
    assert (second[:, block2[1]:] == FRAME).all()

    # Tiles are the maps, each scaled min..max to 0..255 and enlarged.
    first = sheet[title_band:title_band + block1[0]]
    for j, (r, c) in enumerate([(0, 0), (0, 1), (1, 0)]):
        y, x = pad + r * (tile1_h + label_band + pad), pad + c * (tile1_w + pad)
        expected = np.repeat(np.repeat(_scaled(maps[0][..., j]), 6, axis=0), 6, axis=1)
        assert (first[y:y + tile1_h, x:x + tile1_w] == expected[..., None]).all()
    for j in range(2):
        x = pad + j * (tile2_w + pad)
        expected = np.repeat(np.repeat(_scaled(maps[2][..., j]), 13, axis=0), 13, axis=1)
        assert (second[pad:pad + tile2_h, x:x + tile2_w] == expected[..., None]).all()
    # Labels: the step's name and the channel, as on a contact sheet of the maps so labelled.
    assert (first == contact_sheet(maps[0], labels=labels[:3])).all()
    assert (second[:, :block2[1]] == contact_sheet(maps[2], labels=labels[3:])).all()


def test_model_layers_are_named_by_the_layer():
    from convcli.pipeline import parse_step, plan
    from convcli.sheet import layer_sheet, pipeline_sheet

    steps = [parse_step("conv2d", {"filters": 2, "kernel_size": 3}, layer=("encode_conv", "Conv2D")),
             parse_step("activation", {"function": "relu"}),
             parse_step("conv2d", {"filters": 1, "kernel_size": 3})]
    maps = {0: np.arange(2 * 8 * 8.0).reshape(8, 8, 2), 2: np.arange(36.0).reshape(6, 6)}
    sheet = pipeline_sheet(np.zeros((6, 6)), steps, plan(steps, (10, 10)), maps=maps)
    expected = layer_sheet([maps[0], maps[2]], names=["encode_conv", "conv2d_1"], kinds=["Conv2D", "conv2d"])
    assert (sheet == expected).all()
    band = _band(["encode_conv (Conv2D) 8x8x2"])
    assert (sheet[band:band + contact_sheet(maps[0]).shape[0], :contact_sheet(maps[0]).shape[1]]
            == contact_sheet(maps[0], labels=["encode_conv c0", "encode_conv c1"])).all()


def test_a_chain_without_conv_layers_keeps_its_contact_sheet():
    from convcli.pipeline import parse_pipeline, plan
    from convcli.sheet import pipeline_sheet

    steps = parse_pipeline("steps: [{filter: {kernels: [mean2, edge2], mode: valid}}, {activation: {function: relu}}]",
                           path="p.yaml")
    result = np.random.default_rng(1).normal(size=(9, 9, 2))
    sheet = pipeline_sheet(result, steps, plan(steps, (10, 10)), maps={0: np.ones((3, 3))})
    assert (sheet == contact_sheet(result, labels=["c0 mean2", "c1 edge2"])).all()


def test_pipeline_sheet_needs_every_conv_layers_maps():
    from convcli.pipeline import parse_pipeline, plan
    from convcli.sheet import pipeline_sheet

    steps = parse_pipeline(TWO_LAYERS, path="two.yaml")
    with pytest.raises(ValueError, match=r"`maps` must hold .* missing \[2\].*keep=\[0, 2\]"):
        pipeline_sheet(np.zeros((8, 10, 2)), steps, plan(steps, (20, 24)), maps={0: np.zeros((18, 22, 3))})


@pytest.mark.parametrize("kwargs, error, match", [
    ({"maps": [], "names": []}, ValueError, "at least one"),
    ({"maps": [np.zeros((4, 4))], "names": ["a", "b"]}, ValueError, "names must be 1 strings, one per map"),
    ({"maps": [np.zeros((4, 4))], "names": "a"}, TypeError, "names must be a list"),
    ({"maps": [np.zeros((4, 4))], "names": ["a"], "kinds": [1]}, ValueError, "kinds must be 1 strings"),
    ({"maps": [np.zeros((4, 4, 2, 2))], "names": ["a"]}, ValueError, r"\(H, W\) or \(H, W, C\)"),
    ({"maps": [np.zeros((4, 4))], "names": ["a"], "padding": -1}, ValueError, "padding"),
])
def test_layer_sheet_bad_arguments(kwargs, error, match):
    from convcli.sheet import layer_sheet

    with pytest.raises(error, match=match):
        layer_sheet(**kwargs)


def test_tile_zoom_is_the_contact_sheets():
    from convcli.sheet import tile_zoom

    assert [tile_zoom(h, w) for h, w in [(28, 14), (128, 5), (129, 1), (300, 200)]] == [5, 1, 1, 1]
    assert contact_sheet(np.zeros((28, 14)), padding=0, labels=[""]).shape[1] == 14 * 5
