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
