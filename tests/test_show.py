"""convcli.show: the grid's cells against hand-computed colours and texts, the preview's reduction against a
naive area mean (each pixel repeated, then block means), the half-block pairing against the rows it pairs."""

import numpy as np
import pytest
from PIL import Image

from convcli.drawing import CELL, NEGATIVE, POSITIVE, Grid
from convcli.show import (
    MOST_CELLS,
    CellGrid,
    HalfBlocks,
    cell_grid,
    display_limits,
    fits_grid,
    grid_png,
    half_blocks,
    preview_pixels,
    preview_size,
    reduce_area,
    shown_values,
    terminal_view,
)


def naive_area_mean(x, rows, cols):
    """Exact area averaging: repeat each pixel rows (cols) times, so every output pixel is a block of
    H (W) of the repeated ones, then take block means."""
    x = np.asarray(x, dtype=np.float64)
    h, w = x.shape[:2]
    fine = np.repeat(np.repeat(x, rows, axis=0), cols, axis=1)
    return fine.reshape(rows, h, cols, w, *x.shape[2:]).mean(axis=(1, 3))


def test_grey_floats_are_greys_from_zero_to_the_largest_value():
    grid = cell_grid(np.array([[0.0, 1.0], [2.0, 4.0]]))
    assert grid.texts == [["0", "1"], ["2", "4"]]
    expected = np.array([[0, 255 / 4], [255 / 2, 255]])
    np.testing.assert_allclose(grid.colours, np.repeat(expected[..., None], 3, axis=2))


def test_an_8_bit_image_keeps_its_brightness_on_the_full_scale():
    values = np.array([[0, 51], [102, 204]], dtype=np.uint8)  # the largest is not white: 204/255
    grid = cell_grid(values)
    assert grid.texts == [["0", "51"], ["102", "204"]]
    np.testing.assert_allclose(grid.colours[..., 0], values.astype(float))
    np.testing.assert_allclose(grid.colours[..., 1], grid.colours[..., 2])


def test_negative_values_are_blue_white_red_scaled_by_the_largest_magnitude():
    grid = cell_grid(np.array([[-2.0, 0.0, 1.0]]))
    np.testing.assert_allclose(grid.colours[0, 0], NEGATIVE)
    np.testing.assert_allclose(grid.colours[0, 1], (255, 255, 255))
    np.testing.assert_allclose(grid.colours[0, 2], [(255 + c) / 2 for c in POSITIVE])
    assert grid.texts == [["-2", "0", "1"]]


def test_fractions_are_exact_and_others_have_three_digits():
    assert cell_grid(np.array([[1 / 9, 0.5]])).texts == [["1/9", "1/2"]]
    assert cell_grid(np.array([[0.123456, 2.0]])).texts == [["0.123", "2"]]


def test_a_colour_image_shows_each_pixels_colour_and_values():
    rgb = np.array([[[255, 0, 0], [10, 20, 30]]], dtype=np.uint8)
    grid = cell_grid(rgb)
    np.testing.assert_allclose(grid.colours, rgb.astype(float))
    assert grid.texts == [["255,0,0", "10,20,30"]]
    rgba = np.array([[[0, 128, 255, 7]]], dtype=np.uint8)
    grid = cell_grid(rgba)
    np.testing.assert_allclose(grid.colours[0, 0], [0, 128, 255])
    assert grid.texts == [["0,128,255,7"]]


def test_grey_and_alpha_show_the_grey():
    grid = cell_grid(np.array([[[51, 255], [0, 9]]], dtype=np.uint8))
    np.testing.assert_allclose(grid.colours[0, 0], (51, 51, 51))
    assert grid.texts == [["51,255", "0,9"]]


def test_a_float_colour_image_is_on_its_own_range():
    rgb = np.array([[[0.0, 0.5, 2.0]]])
    np.testing.assert_allclose(cell_grid(rgb).colours[0, 0], [0, 255 / 4, 255])


def test_many_channels_need_a_channel():
    bank = np.arange(2 * 2 * 6, dtype=np.float64).reshape(2, 2, 6)
    with pytest.raises(ValueError, match="6 channels.*`channel`"):
        cell_grid(bank)
    grid = cell_grid(bank, channel=5)
    assert grid.texts == [["5", "11"], ["17", "23"]]
    assert shown_values(bank[..., :1]).shape == (2, 2)
    for channel in (-1, 6, True, 1.0):
        with pytest.raises(ValueError, match="`channel` must be"):
            cell_grid(bank, channel=channel)


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((0, 2)), np.zeros((2, 2, 2, 2)), np.array([["a"]]),
                                 np.zeros((2, 2), complex)])
def test_bad_arrays_are_refused(bad):
    with pytest.raises(ValueError, match="`array` must"):
        cell_grid(bad)


def test_a_large_array_is_refused_naming_max_cells():
    with pytest.raises(ValueError, match=r"33×2 array has more than 32 cells a side; raise `max_cells` to 33"):
        cell_grid(np.zeros((33, 2)))
    assert cell_grid(np.zeros((33, 2)), max_cells=33).shape == (33, 2)
    with pytest.raises(ValueError, match="too large for a grid"):
        cell_grid(np.zeros((MOST_CELLS + 1, 1)), max_cells=MOST_CELLS)
    for bad in (0, MOST_CELLS + 1, True, 2.5):
        with pytest.raises(ValueError, match="`max_cells` must be"):
            cell_grid(np.zeros((2, 2)), max_cells=bad)
    assert fits_grid((32, 32)) and not fits_grid((32, 33)) and fits_grid((40, 3), max_cells=40)


def test_display_limits():
    assert display_limits(np.zeros(1, np.uint16)) == (0.0, 65535.0)
    assert display_limits(np.array([2.0, np.nan, 5.0])) == (0.0, 5.0)
    assert display_limits(np.array([np.nan])) == (0.0, 0.0)
    assert display_limits(np.array([-3, 2], np.int16)) == (-3.0, 2.0)


def test_the_png_has_each_cells_colour_and_values(tmp_path):
    values = np.array([[0, 64, 255], [160, 32, 16]], dtype=np.uint8)
    pixels = grid_png(values)
    Image.fromarray(pixels).save(tmp_path / "g.png")
    with Image.open(tmp_path / "g.png") as image:
        decoded = np.asarray(image)
    rows, cols = values.shape
    width = (decoded.shape[1] - 1) // cols - 1
    assert decoded.shape[0] == rows * (CELL + 1) + 1
    grid = Grid(decoded, CELL, width)
    for i in range(rows):
        for j in range(cols):
            top, left, bottom, right = grid.box(i, j)
            cell = decoded[top:bottom, left:right]
            assert cell[0, 0].tolist() == [values[i, j]] * 3  # the fill, in a corner
            ink = np.any(cell != cell[0, 0], axis=-1)
            assert ink.any()  # the value is written in it, black on light and white on dark
            written = cell[ink]
            luma = written.astype(float) @ [0.299, 0.587, 0.114]
            # anti-aliased: the text's strongest pixel is white on dark cells, black on light ones
            assert (luma.max() > 200) if values[i, j] < 128 else (luma.min() < 55)


@pytest.mark.parametrize("shape, size", [((3, 3), (2, 2)), ((7, 10), (3, 4)), ((5, 13, 3), (5, 6)),
                                         ((9, 9), (1, 1)), ((6, 4), (3, 2)), ((4, 4), (4, 4))])
def test_reduction_is_the_area_mean(shape, size):
    x = np.random.default_rng(sum(shape)).integers(0, 256, shape).astype(np.uint8)
    np.testing.assert_allclose(reduce_area(x, rows=size[0], cols=size[1]), naive_area_mean(x, *size), rtol=1e-12)


def test_reduction_by_hand():
    x = np.arange(9, dtype=np.float64).reshape(3, 3)
    # output (0, 0) covers [0, 1.5)²: pixel (0,0) whole, (0,1) and (1,0) half, (1,1) a quarter.
    expected = (0 + 0.5 * 1 + 0.5 * 3 + 0.25 * 4) / 2.25
    assert reduce_area(x, rows=2, cols=2)[0, 0] == pytest.approx(expected)


@pytest.mark.parametrize("band", [1, 3 * 70, 7 * 70])
def test_reduction_in_bands_equals_the_whole(monkeypatch, band):
    import convcli.show

    monkeypatch.setattr(convcli.show, "_BAND_VALUES", band)  # bands of 1, 3 and 7 rows of 70 values
    x = np.random.default_rng(1).random((30, 70))
    np.testing.assert_allclose(reduce_area(x, rows=7, cols=9), naive_area_mean(x, 7, 9), rtol=1e-12)


def test_reduction_refuses_bad_sizes():
    for rows in (0, 4, 1.5):
        with pytest.raises(ValueError, match="`rows` must be"):
            reduce_area(np.zeros((3, 3)), rows=rows, cols=1)
    with pytest.raises(ValueError, match="`array` must"):
        reduce_area(np.zeros(3), rows=1, cols=1)


def test_preview_size_keeps_the_aspect_and_never_enlarges():
    assert preview_size((512, 512), columns=80, rows=24) == (48, 48)
    assert preview_size((100, 400), columns=80) == (20, 80)
    assert preview_size((10, 10), columns=80, rows=24) == (10, 10)
    assert preview_size((1000, 10), columns=80, rows=5) == (10, 1)
    with pytest.raises(ValueError, match="`columns` must be"):
        preview_size((4, 4), columns=0)


def test_preview_pixels_are_the_area_mean_coloured_on_the_full_scale():
    x = np.random.default_rng(2).integers(0, 200, (40, 60)).astype(np.uint8)
    pixels = preview_pixels(x, columns=12)
    mean = naive_area_mean(x, 8, 12)
    assert pixels.shape == (8, 12, 3)
    np.testing.assert_array_equal(pixels[..., 0], np.rint(mean))  # uint8: 0..255 is black..white
    np.testing.assert_array_equal(pixels[..., 1], pixels[..., 2])


def test_preview_of_floats_uses_the_whole_arrays_range():
    x = np.zeros((4, 4))
    x[0, 0] = 8.0  # the largest value, averaged away: the preview is on the array's scale, not the reduced
    pixels = preview_pixels(x, columns=2)
    assert pixels[0, 0].tolist() == [round(2.0 / 8 * 255)] * 3
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0] = 200
    assert preview_pixels(rgb, columns=2)[1, 1].tolist() == [200, 0, 0]


def test_half_blocks_pair_rows():
    pixels = np.random.default_rng(3).integers(0, 256, (5, 4, 3)).astype(np.uint8)
    blocks = half_blocks(pixels)
    assert isinstance(blocks, HalfBlocks) and blocks.shape == (3, 4)
    for r in range(3):
        np.testing.assert_array_equal(blocks.top[r], pixels[2 * r])
        if 2 * r + 1 < 5:
            np.testing.assert_array_equal(blocks.bottom[r], pixels[2 * r + 1])
    assert blocks.bottom.shape[0] == 2  # the last character row has no lower half
    with pytest.raises(ValueError, match="`pixels` must be"):
        half_blocks(np.zeros((2, 2)))


def test_terminal_view_is_a_grid_when_small_else_a_preview():
    assert isinstance(terminal_view(np.eye(32), columns=10), CellGrid)
    view = terminal_view(np.eye(33), columns=11, rows=100)
    assert isinstance(view, HalfBlocks) and view.shape == (6, 11)
    assert isinstance(terminal_view(np.eye(33), columns=11, max_cells=33), CellGrid)
