"""convcli.drawing: colours, texts and the layout of annotated grids."""

import numpy as np
import pytest

from convcli.drawing import LINE, NEGATIVE, OUTLINE, POSITIVE, grid_picture, value_colours, value_texts


def test_a_shared_scale_gives_one_value_one_colour():
    low = value_colours([[2.0]], limits=(0.0, 8.0))
    high = value_colours([[2.0, 8.0]], limits=(0.0, 8.0))
    assert low[0, 0].tolist() == high[0, 0].tolist() == [63.75] * 3
    assert high[0, 1].tolist() == [255.0] * 3


def test_signed_scale_puts_zero_at_white_and_clips_outside_the_limits():
    colours = value_colours([-9.0, 0.0, 1.0, 9.0], limits=(-2.0, 1.0))
    assert colours[0].tolist() == list(NEGATIVE)
    assert colours[1].tolist() == [255.0] * 3
    assert colours[2].tolist() == pytest.approx([(255 + 178) / 2, (255 + 24) / 2, (255 + 43) / 2])
    assert colours[3].tolist() == list(POSITIVE)


def test_non_finite_values_take_the_low_end():
    assert value_colours([np.nan, 0.0, 4.0])[0].tolist() == [0.0] * 3


def test_texts_are_fractions_only_when_every_value_is_one():
    assert value_texts([[0.25, 3.0]]) == [["1/4", "3"]]
    assert value_texts([[0.25, 0.1234567]]) == [["0.25", "0.123"]]
    assert value_texts([[-0.0, np.inf]]) == [["0", "inf"]]


def test_cells_keep_a_given_width_and_outlines_stay_inside():
    grid = grid_picture(np.zeros((2, 3, 3)), cell=10, cell_width=30, outlines={(1, 2): (0, 255, 0)})
    assert grid.pixels.shape == (2 * 10 + 3 * LINE, 3 * 30 + 4 * LINE, 3)
    top, left, bottom, right = grid.box(1, 2)
    assert grid.pixels[top, left].tolist() == [0, 255, 0]
    assert grid.pixels[top + OUTLINE, left + OUTLINE].tolist() == [0, 0, 0]
    assert grid.pixels[top - 1, left].tolist() == [128, 128, 128]  # the line above stays a line


@pytest.mark.parametrize(("colours", "texts", "kwargs", "match"), [
    (np.zeros((2, 2)), None, {}, "`colours` must be a non-empty"),
    (np.zeros((0, 2, 3)), None, {}, "`colours` must be a non-empty"),
    (np.zeros((1, 2, 3)), [["a"]], {}, "`texts` must be 1 rows of 2 strings"),
    (np.zeros((1, 1, 3)), None, {"cell": 7}, "`cell` must be a whole number"),
])
def test_bad_input_is_one_clear_error(colours, texts, kwargs, match):
    with pytest.raises(ValueError, match=match):
        grid_picture(colours, texts, **kwargs)


def test_compose_row_aligns_tops_and_centres_operators():
    from convcli.drawing import compose_row

    tall = np.zeros((40, 10, 3), np.uint8)
    short = np.full((10, 10, 3), 200, np.uint8)
    row = compose_row([tall, short], between=["="], gap=5)
    assert row.shape[0] == 40
    dark_columns = np.flatnonzero((row == 0).all(axis=2).all(axis=0))
    assert dark_columns[0] == 5 and len(dark_columns) == 10  # the tall picture after the margin
    grey = np.argwhere((row == 200).all(axis=2))
    assert grey[:, 0].min() == 0 and grey[:, 0].max() == 9  # the short one at the top
    sign = row[:, 15:grey[:, 1].min()]
    ink_rows = np.flatnonzero((sign < 128).any(axis=2).any(axis=1))
    assert 10 < ink_rows.mean() < 30  # "=" drawn about the middle of the row


def test_compose_row_caption_and_titles_add_strips():
    from convcli.drawing import compose_row

    picture = np.zeros((10, 60, 3), np.uint8)
    bare = compose_row([picture])
    assert compose_row([picture], titles=["t"]).shape[0] > bare.shape[0]
    assert compose_row([picture], caption="c").shape[0] > bare.shape[0]
    with pytest.raises(ValueError, match="`between` must hold 0 texts"):
        compose_row([picture], between=["="])
    with pytest.raises(ValueError, match="`titles` must hold 1 texts"):
        compose_row([picture], titles=[])
    with pytest.raises(ValueError, match="`pictures` must hold at least one"):
        compose_row([])


def test_text_colour_switches_at_luma_128_exactly():
    from convcli.drawing import text_colour

    assert text_colour((128, 128, 128)) == (0, 0, 0)
    assert text_colour((127, 127, 127)) == (255, 255, 255)
    assert text_colour((0, 219, 0)) == (0, 0, 0) and text_colour((0, 218, 0)) == (255, 255, 255)  # 0.587·218 < 128
