"""convcli.sheet: contact sheets of the channels of a result (their colours, scales, labels and layout),
the labels of filter banks, and the sheets of conv layers.

Colours are checked against the numbers: greys computed here from each tile's min..max, and
convcli.drawing.value_colours (tested on its own in test_drawing.py) given limits computed here."""

import numpy as np
import pytest

from convcli.drawing import NEGATIVE, POSITIVE, value_colours
from convcli.sheet import FRAME, bank_labels, contact_sheet, range_text

PAD = 2


def _layout(sheet, *, rows, columns, pad=PAD):
    """Cell height and width of a sheet of rows × columns cells, checking the frame between them."""
    height, width, _ = sheet.shape
    cell_w, rest_w = divmod(width - (columns + 1) * pad, columns)
    cell_h, rest_h = divmod(height - (rows + 1) * pad, rows)
    assert (rest_w, rest_h) == (0, 0)
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


def _tile(cell, height, width):
    """The tile at the top of a cell, centred."""
    left = (cell.shape[1] - width) // 2
    return cell[:height, left:left + width]


def _band(cell, height):
    """The label band: under the tile and the one-pixel frame line, to the cell's bottom."""
    assert (cell[height] == FRAME).all()
    return cell[height + 1:]


def _grey(values, low, high):
    """Greys from black (low) to white (high), rounded: the unsigned map, in NumPy."""
    return np.rint((values - low) * (255.0 / (high - low))).astype(np.uint8)


def _colours(values, low, high):
    return np.clip(np.rint(value_colours(values, limits=(low, high))), 0, 255).astype(np.uint8)


def test_four_channels_make_a_2x2_grid_of_tiles_in_channel_order():
    x = np.zeros((48, 40, 4))
    for j in range(4):
        x[:, :, j] = (np.arange(40) + 1) * (j + 1)  # a ramp: black on the left, white on the right
        x[j, 0, j] = 0                               # a mark that says which channel a tile shows
    sheet = contact_sheet(x, zoom=1, padding=PAD)
    assert sheet.dtype == np.uint8 and sheet.ndim == 3 and sheet.shape[2] == 3
    cell_h, cell_w = _layout(sheet, rows=2, columns=2)
    assert cell_h > 48 and cell_w >= 40  # a label band under each tile
    for j in range(4):
        tile = _tile(_cell(sheet, j // 2, j % 2, cell_h, cell_w), 48, 40)
        assert (tile == tile[:, :, :1]).all()                         # grey: R = G = B
        assert np.flatnonzero(tile[:, 0, 0] == 0).tolist() == [j]       # the mark of channel j
        np.testing.assert_array_equal(tile[..., 0], _grey(x[..., j], 0, 40 * (j + 1)))


@pytest.mark.parametrize(("channels", "columns", "grid"), [(1, None, (1, 1)), (2, None, (1, 2)), (3, None, (2, 2)),
                                                          (6, None, (2, 3)), (4, 4, (1, 4)), (5, 2, (3, 2))])
def test_grid_shape(channels, columns, grid):
    x = np.random.default_rng(channels).random((20, 30, channels))
    sheet = contact_sheet(x, zoom=1, padding=PAD, columns=columns, labels=[""] * channels)
    cell_h, cell_w = _layout(sheet, rows=grid[0], columns=grid[1])
    for j in range(channels):
        tile = _tile(_cell(sheet, j // grid[1], j % grid[1], cell_h, cell_w), 20, 30)
        np.testing.assert_array_equal(tile[..., 1], _grey(x[..., j], x[..., j].min(), x[..., j].max()))
    for empty in range(channels, grid[0] * grid[1]):  # unused cells are frame
        assert (_cell(sheet, empty // grid[1], empty % grid[1], cell_h, cell_w) == FRAME).all()


def test_a_2d_array_is_one_tile():
    sheet = contact_sheet(np.eye(30), zoom=1, padding=PAD)
    cell_h, cell_w = _layout(sheet, rows=1, columns=1)
    assert (_tile(_cell(sheet, 0, 0, cell_h, cell_w), 30, 30)[..., 2] == np.eye(30) * 255).all()


def test_small_tiles_are_enlarged_by_a_whole_factor():
    x = np.arange(48 * 48 * 2, dtype=float).reshape(48, 48, 2)
    sheet = contact_sheet(x, padding=PAD)  # default zoom: 128 / 48 → 3
    cell_h, cell_w = _layout(sheet, rows=1, columns=2)
    tile = _tile(_cell(sheet, 0, 0, cell_h, cell_w), 144, 144)[..., 0]
    expected = _grey(x[..., 0], x[..., 0].min(), x[..., 0].max())
    assert (np.repeat(np.repeat(expected, 3, axis=0), 3, axis=1) == tile).all()
    assert contact_sheet(np.zeros((300, 200)), padding=0, labels=[""]).shape[1] == 200  # large: no zoom


# --- colours and scales -----------------------------------------------------------------------------


def test_each_tile_min_and_max_are_the_ends_of_its_map():
    x = np.zeros((16, 16, 3))
    x[..., 0] = np.linspace(0, 1, 16)            # 0 .. 1: greys
    x[..., 1] = np.linspace(-500, 1000, 16)      # signed: the diverging map, 1000 its red end
    x[..., 2] = np.linspace(-8, 2, 16)           # signed: -8 its blue end
    sheet = contact_sheet(x, zoom=1, padding=PAD, columns=3)
    cell_h, cell_w = _layout(sheet, rows=1, columns=3)
    tiles = [_tile(_cell(sheet, 0, j, cell_h, cell_w), 16, 16) for j in range(3)]
    np.testing.assert_array_equal(tiles[0][0, :, 0], np.rint(np.linspace(0, 255, 16)))
    assert tiles[0][0, 0].tolist() == [0, 0, 0] and tiles[0][0, -1].tolist() == [255, 255, 255]
    assert tiles[1][0, -1].tolist() == list(POSITIVE)
    assert tiles[2][0, 0].tolist() == list(NEGATIVE)
    for j in (1, 2):
        np.testing.assert_array_equal(tiles[j], _colours(x[..., j], x[..., j].min(), x[..., j].max()))


def test_a_signed_tile_is_blue_below_zero_and_white_at_zero():
    row = np.array([[-4.0, -1.0, 0.0, 2.0]])
    sheet = _tile(contact_sheet(row, zoom=1, padding=0, labels=[""]), 1, 4)
    red, green, blue = (sheet[0, :4, k].astype(int) for k in range(3))
    assert (blue[:2] > red[:2] + 30).all()                    # bluish below zero
    assert sheet[0, 2].tolist() == [255, 255, 255]            # zero white
    assert red[3] > blue[3] + 30                              # reddish above
    t = 1 / 4  # -1 of the largest magnitude 4: a quarter of the way from white to the blue end
    assert sheet[0, 1].tolist() == np.rint(255 * (1 - t) + np.array(NEGATIVE) * t).astype(int).tolist()


def test_shared_scale_gives_zero_one_colour_in_every_tile():
    x = np.zeros((16, 16, 2))
    x[..., 0] = np.linspace(-1, 1, 16)            # ranges differ: -1 .. 1 and -2 .. 6
    x[..., 1] = np.linspace(-2, 6, 16)
    x[3, :, :] = 0.0                               # a row of zeros in both
    sheet = contact_sheet(x, scale="shared", zoom=1, padding=PAD)
    cell_h, cell_w = _layout(sheet, rows=1, columns=2)
    first, second = (_tile(_cell(sheet, 0, j, cell_h, cell_w), 16, 16) for j in range(2))
    low, high = x.min(), x.max()
    zero = np.rint(value_colours(0.0, limits=(low, high))).astype(int).tolist()
    assert first[3, 5].tolist() == second[3, 5].tolist() == zero == [255, 255, 255]
    np.testing.assert_array_equal(first, _colours(x[..., 0], low, high))
    np.testing.assert_array_equal(second, _colours(x[..., 1], low, high))
    assert second[0, -1].tolist() == list(POSITIVE)     # 6, the largest magnitude of the sheet
    assert first[0, -1].tolist() != list(POSITIVE)      # 1: pale red on the shared scale


def test_shared_unsigned_scale_is_greys_from_the_sheets_min_to_its_max():
    x = np.zeros((4, 4, 2))
    x[..., 0], x[..., 1] = 1.0, 3.0
    x[0, 0, 1] = 5.0
    sheet = contact_sheet(x, scale="shared", zoom=1, padding=0, labels=["", ""])
    cell_w = (sheet.shape[1]) // 2
    first, second = _tile(sheet[:, :cell_w], 4, 4), _tile(sheet[:, cell_w:], 4, 4)
    np.testing.assert_array_equal(first[..., 0], _grey(x[..., 0], 1.0, 5.0))
    np.testing.assert_array_equal(second[..., 0], _grey(x[..., 1], 1.0, 5.0))
    assert first[0, 0, 0] == 0 and second[0, 0, 0] == 255 and second[1, 1, 0] == 128


def test_nan_and_inf_take_no_part_in_the_range_and_are_its_low_end():
    x = np.array([[0.0, 1.0, 2.0, np.nan, np.inf, -np.inf]])
    sheet = _tile(contact_sheet(x, zoom=1, padding=0, labels=[""]), 1, 6)
    assert sheet[0, :, 0].tolist() == [0, 128, 255, 0, 0, 0]
    signed = _tile(contact_sheet(np.array([[-2.0, 1.0, np.nan]]), zoom=1, padding=0, labels=[""]), 1, 3)
    assert signed[0, 2].tolist() == list(NEGATIVE)  # the scale's low end, -2
    constant = contact_sheet(np.full((3, 3), 7.0), zoom=1, padding=0, labels=[""])
    assert (_tile(constant, 3, 3) == 0).all()


def test_same_input_same_pixels_and_input_untouched():
    x = np.random.default_rng(1).normal(size=(30, 30, 4))
    before = x.copy()
    a = contact_sheet(x, labels=bank_labels([["mean2", "edge2"]] * 2), scale="shared", input_image=x[..., 0])
    b = contact_sheet(x, labels=bank_labels([["mean2", "edge2"]] * 2), scale="shared", input_image=x[..., 0])
    assert np.array_equal(a, b) and np.array_equal(x, before)


def test_integer_and_boolean_inputs():
    assert _tile(contact_sheet(np.eye(4, dtype=bool), zoom=1, padding=0, labels=[""]), 4, 4)[..., 0].tolist() == (
        np.eye(4) * 255).tolist()
    assert contact_sheet(np.full((4, 4, 2), 9, np.uint16)).dtype == np.uint8


# --- the input as the first tiles ---------------------------------------------------------------------


def test_input_channels_are_the_first_tiles_each_on_its_scale():
    rng = np.random.default_rng(3)
    source = rng.integers(0, 256, size=(20, 20, 3)).astype(float)
    result = rng.normal(size=(18, 18, 2))
    sheet = contact_sheet(result, input_image=source, zoom=1, padding=PAD, columns=5)
    alone = contact_sheet(result, zoom=1, padding=PAD, columns=5)
    cell_h, cell_w = _layout(sheet, rows=1, columns=5)  # exactly 3 + 2 tiles
    for c in range(3):
        tile = _tile(_cell(sheet, 0, c, cell_h, cell_w), 20, 20)
        np.testing.assert_array_equal(tile[..., 0], _grey(source[..., c], source[..., c].min(), source[..., c].max()))
    for j in range(2):
        tile = _tile(_cell(sheet, 0, 3 + j, cell_h, cell_w), 18, 18)
        np.testing.assert_array_equal(tile, _colours(result[..., j], result[..., j].min(), result[..., j].max()))
    # The input's tiles are labelled: the same sheet with other input labels differs in the bands only.
    assert alone.shape[1] < sheet.shape[1]


def test_a_shared_scale_covers_the_input_too():
    source = np.linspace(0, 4, 16).reshape(4, 4)
    result = np.linspace(-1, 1, 16).reshape(4, 4)
    sheet = contact_sheet(result, input_image=source, scale="shared", zoom=1, padding=0)
    cell_w = sheet.shape[1] // 2
    np.testing.assert_array_equal(_tile(sheet[:, :cell_w], 4, 4), _colours(source, -1.0, 4.0))
    np.testing.assert_array_equal(_tile(sheet[:, cell_w:], 4, 4), _colours(result, -1.0, 4.0))


# --- labels -------------------------------------------------------------------------------------------


def test_range_text_is_the_finite_min_and_max_to_3_significant_digits():
    values = np.array([[-3.21549, 0.5, np.nan], [4.1, np.inf, 1.0]])
    assert range_text(values) == "[-3.22, 4.1]"
    assert range_text(np.array([1020.4, 123456.0])) == "[1020, 123000]"
    assert range_text(np.array([0.000123456, 2.5e7])) == "[0.000123, 2.5e+07]"
    assert range_text(np.array([-0.0, 0.0])) == "[0, 0]"
    assert range_text(np.array([np.nan, np.inf])) == "[no finite values]"
    assert range_text(np.arange(5, dtype=np.uint8)) == "[0, 4]"


def _ink_lines(band):
    """The runs of rows holding dark ink in a band, as (first, last) pairs."""
    rows = np.flatnonzero((band[..., 0] < 128).any(axis=1))
    runs, start = [], rows[0]
    for a, b in zip(rows, rows[1:]):
        if b != a + 1:
            runs.append((start, a))
            start = b
    return [*runs, (start, rows[-1])]


def test_labels_are_a_name_over_a_range_in_the_band_under_each_tile():
    x = np.zeros((40, 100, 2))
    x[..., 0] = 2.0
    sheet = contact_sheet(x, zoom=1, padding=PAD, labels=["c0 mean2·edge2", ""])
    cell_h, cell_w = _layout(sheet, rows=1, columns=2)
    named, blank = _band(_cell(sheet, 0, 0, cell_h, cell_w), 40), _band(_cell(sheet, 0, 1, cell_h, cell_w), 40)
    assert (named[..., 0] == named[..., 2]).all() and named.min() < 64 and named.max() == 255  # black on white
    assert len(_ink_lines(named)) == 2 and len(_ink_lines(blank)) == 1   # name and range; the range only
    assert _ink_lines(blank)[0] == _ink_lines(named)[1]                     # the range on the same line
    rows, cols = np.nonzero(named[..., 0] < 128)
    assert 0 < rows.min() and rows.max() < named.shape[0] - 1 and cols.min() > 0 and cols.max() < cell_w - 1
    assert abs((cols.min() + cols.max()) / 2 - cell_w / 2) < 8            # centred under the tile
    # One name line more than a sheet of unnamed tiles: the band grows by exactly a line and a margin.
    from convcli.sheet import label_font

    font = label_font(100)
    unnamed = contact_sheet(x, zoom=1, padding=PAD, labels=["", ""])
    assert sheet.shape[0] - unnamed.shape[0] == font.line + font.margin


def test_a_long_name_is_wrapped_never_cut():
    label = "c3 gaussian:sigma=1.5·gaussian:sigma=1.5·edge2"
    sheet = contact_sheet(np.zeros((10, 10, 1)), zoom=1, padding=PAD, labels=[label])
    cell_h, cell_w = _layout(sheet, rows=1, columns=1)
    from convcli.sheet import label_font

    font = label_font(10)
    assert font.width(label) > cell_w                      # too wide for one line ...
    assert cell_w == max(font.range_width(), font.width("gaussian:sigma=1.5>")) + 2 * font.margin
    band = _band(_cell(sheet, 0, 0, cell_h, cell_w), 10)
    assert len(_ink_lines(band)) == 4                      # ... so on 3 lines, and the range
    cols = np.nonzero((band[..., 0] < 128).any(axis=0))[0]
    assert cols.min() > 0 and cols.max() < cell_w - 1
    assert font.wrap(label, cell_w - 2 * font.margin) == ["c3 gaussian:sigma=1.5·", "gaussian:sigma=1.5·", "edge2"]


def test_the_layout_depends_on_shapes_and_names_not_values():
    shapes = {contact_sheet(values, labels=["c0"]).shape
              for values in (np.zeros((20, 20)), np.full((20, 20), -1.23456e-7), np.full((20, 20), np.nan),
                             np.linspace(-9.99e300, 8.88e307, 400).reshape(20, 20))}
    assert len(shapes) == 1


def _label_height(sheet, tile):
    """Height of the ink in the label band of a one-tile sheet with padding 0 (tile × tile pixels)."""
    rows = np.flatnonzero((_band(sheet, tile)[..., 0] < 128).any(axis=1))
    return rows.max() - rows.min() + 1


def test_labels_grow_with_large_tiles():
    small = contact_sheet(np.zeros((128, 128)), padding=0, labels=[""])
    large = contact_sheet(np.zeros((1024, 1024)), padding=0, labels=[""])
    assert _label_height(large, 1024) >= 1024 / 40
    assert _label_height(small, 128) < _label_height(large, 1024)


def test_labels_grow_without_freetype_too(monkeypatch):
    import convcli.sheet.labels as labels

    def bitmap_only(size):
        if size is not None:
            raise ImportError("The _imagingft C module is not installed")
        from PIL import ImageFont

        if hasattr(ImageFont, "load_default_imagefont"):
            return ImageFont.load_default_imagefont()
        # Pillow < 10.4 gives its bitmap font when its FreeType module is missing: pretend it is.
        freetype = ImageFont.core
        ImageFont.core = object()
        try:
            return ImageFont.load_default()
        finally:
            ImageFont.core = freetype

    labels.label_font.cache_clear()
    monkeypatch.setattr(labels, "_default_font", bitmap_only)
    try:
        assert labels.label_font(1024).factor > 1
        sheet = contact_sheet(np.zeros((1024, 1024)), padding=0, labels=["c0 edge2"])
        assert _label_height(sheet, 1024) >= 1024 / 40
        assert len(_ink_lines(_band(sheet, 1024))) == 2
    finally:
        labels.label_font.cache_clear()


# --- bad arguments ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"array": np.zeros((2, 2, 2, 2))}, "`array` must be .* shape"),
    ({"array": np.zeros(5)}, "shape"),
    ({"array": np.zeros((0, 4))}, "empty"),
    ({"array": np.array([["a"]])}, "real numbers"),
    ({"array": np.zeros((4, 4, 2)), "labels": ["a"]}, "2 strings"),
    ({"array": np.zeros((4, 4, 1)), "labels": "a"}, "single string"),
    ({"array": np.zeros((4, 4, 1)), "labels": [1]}, "1 strings"),
    ({"array": np.zeros((4, 4)), "scale": "stretch"}, "`scale` must be one of each, shared"),
    ({"array": np.zeros((4, 4)), "scale": "normalize"}, "`scale` must be one of each, shared"),
    ({"array": np.zeros((4, 4)), "columns": 0}, "columns"),
    ({"array": np.zeros((4, 4)), "zoom": 1.5}, "zoom"),
    ({"array": np.zeros((4, 4)), "padding": -1}, "padding"),
    ({"array": np.zeros((4, 4)), "input_image": np.zeros((4, 4, 2, 2))}, "`input_image` must be"),
    ({"array": np.zeros((4, 4)), "input_image": np.zeros((0, 4))}, "`input_image` is empty"),
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


def _heading(sheet, top=0):
    """Height of the heading band at row ``top``: the rows before the block's frame starts."""
    height = 0
    while not (sheet[top + height, 0] == FRAME).all():
        height += 1
    heading = sheet[top:top + height]
    assert (heading == heading[..., :1]).all() and (heading[..., 0] < 128).sum() > 30  # grey ink
    assert (heading[:, -20:] == 255).all() and (heading[:2] == 255).all()                 # on white
    return height


TWO_LAYERS = ("steps:\n"
              "  - conv2d: {filters: 3, kernel_size: 3, seed: 1}\n"      # 20×24 → 18×22×3
              "  - pool: {op: max, size: 2}\n"                           # → 9×11×3
              "  - conv2d: {filters: 2, kernel_size: 2, seed: 2}\n")     # → 8×10×2


def _block_tiles(block, values, zoom, columns, pad=4):
    """The enlarged tiles of a block laid out as contact_sheet does (cells as wide as the block says)."""
    rows = -(-values.shape[2] // columns)
    cell_h, cell_w = _layout(block, rows=rows, columns=columns, pad=pad)
    h, w = values.shape[0] * zoom, values.shape[1] * zoom
    return [_tile(_cell(block, j // columns, j % columns, cell_h, cell_w, pad=pad), h, w)
            for j in range(values.shape[2])]


@pytest.mark.parametrize("scale", ["each", "shared"])
def test_pipeline_sheet_of_two_conv_layers_has_a_block_per_layer(scale):
    from convcli.pipeline import layer_positions, parse_pipeline, plan
    from convcli.sheet import pipeline_sheet

    steps = parse_pipeline(TWO_LAYERS, path="two.yaml")
    planned = plan(steps, (20, 24))
    rng = np.random.default_rng(5)
    maps = {0: rng.normal(size=(18, 22, 3)), 2: rng.normal(size=(8, 10, 2)) + 1}
    assert layer_positions(steps) == [0, 2]
    sheet = pipeline_sheet(rng.normal(size=(8, 10, 2)), steps, planned, maps=maps, scale=scale)

    labels = [[f"conv2d_1 c{j}" for j in range(3)], [f"conv2d_2 c{j}" for j in range(2)]]
    top = 0
    for values, names, zoom, columns in ((maps[0], labels[0], 6, 2), (maps[2], labels[1], 13, 2)):
        top += _heading(sheet, top)
        block = contact_sheet(values, labels=names, scale=scale)
        assert (sheet[top:top + block.shape[0], :block.shape[1]] == block).all()
        assert (sheet[top:top + block.shape[0], block.shape[1]:] == FRAME).all()  # narrower: frame fills
        # Tiles are the maps on their scale (the layer's own when shared), enlarged ⌈128/22⌉ = 6, ⌈128/10⌉ = 13 times.
        for j, tile in enumerate(_block_tiles(block, values, zoom, columns)):
            low, high = (values.min(), values.max()) if scale == "shared" else (values[..., j].min(),
                                                                                  values[..., j].max())
            expected = _colours(values[..., j], low, high)
            assert (tile == np.repeat(np.repeat(expected, zoom, axis=0), zoom, axis=1)).all()
        top += block.shape[0]
    assert top == sheet.shape[0]


def test_layer_sheet_with_the_input_as_a_first_block():
    from convcli.sheet import layer_sheet

    source = np.arange(100.0).reshape(10, 10)
    maps = [np.random.default_rng(2).normal(size=(8, 8, 2))]
    sheet = layer_sheet(maps, names=["conv2d_1"], input_image=source)
    top = _heading(sheet)
    first = contact_sheet(source, labels=["input"])
    assert (sheet[top:top + first.shape[0], :first.shape[1]] == first).all()
    (tile,) = _block_tiles(first, source[..., None], 13, 1)
    assert (tile[::13, ::13, 0] == _grey(source, 0, 99)).all()
    top += first.shape[0]
    top += _heading(sheet, top)
    assert (sheet[top:, :] [:, :contact_sheet(maps[0], labels=["conv2d_1 c0", "conv2d_1 c1"]).shape[1]]
            == contact_sheet(maps[0], labels=["conv2d_1 c0", "conv2d_1 c1"])).all()


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
    band = _heading(sheet)
    block = contact_sheet(maps[0], labels=["encode_conv c0", "encode_conv c1"])
    assert (sheet[band:band + block.shape[0], :block.shape[1]] == block).all()


def test_a_chain_without_conv_layers_keeps_its_contact_sheet():
    from convcli.pipeline import parse_pipeline, plan
    from convcli.sheet import pipeline_sheet

    steps = parse_pipeline("steps: [{filter: {kernels: [mean2, edge2], mode: valid}}, {activation: {function: relu}}]",
                           path="p.yaml")
    result = np.random.default_rng(1).normal(size=(9, 9, 2))
    source = np.random.default_rng(2).normal(size=(10, 10))
    sheet = pipeline_sheet(result, steps, plan(steps, (10, 10)), maps={0: np.ones((3, 3))})
    assert (sheet == contact_sheet(result, labels=["c0 mean2", "c1 edge2"])).all()
    with_input = pipeline_sheet(result, steps, plan(steps, (10, 10)), scale="shared", input_image=source)
    assert (with_input == contact_sheet(result, labels=["c0 mean2", "c1 edge2"], scale="shared",
                                        input_image=source)).all()


def test_pipeline_sheet_leaves_the_inputs_alpha_out():
    from convcli.pipeline import parse_pipeline, plan
    from convcli.sheet import pipeline_sheet

    steps = parse_pipeline("steps: [{filter: {kernels: [box3]}}]", path="p.yaml")
    rgba = np.random.default_rng(4).integers(0, 256, size=(6, 6, 4)).astype(float)
    planned = plan(steps, rgba.shape, has_alpha=True)
    result = np.random.default_rng(5).normal(size=(6, 6, 4))
    sheet = pipeline_sheet(result, steps, planned, input_image=rgba)
    assert (sheet == contact_sheet(result[..., :3], labels=bank_labels([["box3"]], channels=3),
                                   input_image=rgba[..., :3])).all()


def test_pipeline_sheet_needs_every_conv_layers_maps():
    from convcli.pipeline import parse_pipeline, plan
    from convcli.sheet import pipeline_sheet

    steps = parse_pipeline(TWO_LAYERS, path="two.yaml")
    with pytest.raises(ValueError, match=r"`maps` must hold .* missing \[2\].*keep=\[0, 2\]"):
        pipeline_sheet(np.zeros((8, 10, 2)), steps, plan(steps, (20, 24)), maps={0: np.zeros((18, 22, 3))})


@pytest.mark.parametrize("kwargs, error, match", [
    ({"maps": [], "names": []}, ValueError, "at least one"),
    ({"maps": [np.zeros((4, 4))], "names": ["a", "b"]}, ValueError, "`names` must be 1 strings, one per map"),
    ({"maps": [np.zeros((4, 4))], "names": "a"}, TypeError, "`names` must be a list"),
    ({"maps": [np.zeros((4, 4))], "names": ["a"], "kinds": [1]}, ValueError, "`kinds` must be 1 strings"),
    ({"maps": [np.zeros((4, 4, 2, 2))], "names": ["a"]}, ValueError, r"\(H, W\) or \(H, W, C\)"),
    ({"maps": [np.zeros((4, 4))], "names": ["a"], "padding": -1}, ValueError, "padding"),
    ({"maps": [np.zeros((4, 4))], "names": ["a"], "scale": "global"}, ValueError, "`scale` must be one of"),
    ({"maps": [np.zeros((4, 4))], "names": ["a"], "input_image": np.zeros(3)}, ValueError, "`input_image`"),
])
def test_layer_sheet_bad_arguments(kwargs, error, match):
    from convcli.sheet import layer_sheet

    with pytest.raises(error, match=match):
        layer_sheet(**kwargs)


def test_tile_zoom_is_the_contact_sheets():
    from convcli.sheet import tile_zoom

    assert [tile_zoom(h, w) for h, w in [(28, 14), (128, 5), (129, 1), (300, 200)]] == [5, 1, 1, 1]
    sheet = contact_sheet(np.arange(28 * 14.0).reshape(28, 14), padding=0, labels=[""])
    assert (_tile(sheet, 140, 70)[::5, ::5, 0] == _grey(np.arange(28 * 14.0).reshape(28, 14), 0, 391)).all()
