"""convcli.kernels.picture: the kernel as an annotated grid of coloured cells."""

import numpy as np
import pytest

from convcli.kernels.picture import CELL, LINE, MAX_PICTURE_SIDE, kernel_picture, text_colour


def _cell(picture, i, j, *, width=CELL, height=CELL):
    """The pixels of cell (i, j), lines excluded."""
    top, left = LINE + i * (height + LINE), LINE + j * (width + LINE)
    return picture[top:top + height, left:left + width]


def _brightness(pixels):
    return pixels.astype(float) @ [0.299, 0.587, 0.114]


def test_size_follows_the_cell_geometry():
    for rows, cols in [(3, 3), (2, 5), (1, 1)]:
        picture = kernel_picture(np.full((rows, cols), 1.0 / (rows * cols)))
        assert picture.dtype == np.uint8
        assert picture.shape == (rows * CELL + (rows + 1) * LINE, cols * CELL + (cols + 1) * LINE, 3)
    assert kernel_picture([[1, 2]], cell=20).shape[0] == 20 + 2 * LINE


def test_a_long_value_widens_every_cell_alike():
    picture = kernel_picture([[0.000123456, 1.0]], cell=8)
    width = (picture.shape[1] - 3 * LINE) / 2
    assert width == int(width) and width > 8


def test_unsigned_kernels_are_grey_from_black_to_white():
    picture = kernel_picture([[0.0, 2.0], [1.0, 2.0]])
    assert _cell(picture, 0, 0)[0, 0].tolist() == [0, 0, 0]
    assert _cell(picture, 0, 1)[0, 0].tolist() == [255, 255, 255]
    assert _cell(picture, 1, 0)[0, 0].tolist() == [128, 128, 128]  # round(255 / 2)


def test_signed_kernels_are_diverging_with_white_at_zero():
    picture = kernel_picture([[-4.0, 0.0, 4.0, 2.0]])
    assert _cell(picture, 0, 0)[0, 0].tolist() == [33, 102, 172]  # RdBu's blue end
    assert _cell(picture, 0, 1)[0, 0].tolist() == [255, 255, 255]
    assert _cell(picture, 0, 2)[0, 0].tolist() == [178, 24, 43]  # RdBu's red end
    assert _cell(picture, 0, 3)[0, 0].tolist() == [round((255 + 178) / 2), round((255 + 24) / 2), round((255 + 43) / 2)]


def test_text_colour_flips_with_brightness():
    picture = kernel_picture([[0.0, 1.0]])  # a black cell and a white cell, each with its value written
    dark, light = _brightness(_cell(picture, 0, 0)), _brightness(_cell(picture, 0, 1))
    assert dark.min() == 0 and dark.max() > 200  # light ink on black
    assert light.max() == 255 and light.min() < 55  # dark ink on white
    assert text_colour((0, 0, 0)) == (255, 255, 255) and text_colour((255, 255, 255)) == (0, 0, 0)
    assert text_colour((33, 102, 172)) == (255, 255, 255) and text_colour((200, 220, 240)) == (0, 0, 0)


def test_every_cell_has_its_value_written():
    picture = kernel_picture(np.ones((2, 2)) / 4)
    for i in range(2):
        for j in range(2):
            assert (_brightness(_cell(picture, i, j)) < 128).any()


@pytest.mark.parametrize(("matrix", "kwargs", "match"), [
    ([1, 2, 3], {}, "`matrix` must be a non-empty 2-D"),
    (np.zeros((0, 3)), {}, "`matrix` must be a non-empty 2-D"),
    ([["a"]], {}, "`matrix` must be a non-empty 2-D"),
    ([[1.0, np.nan]], {}, "`matrix` must hold finite numbers"),
    (np.ones((MAX_PICTURE_SIDE + 1, 1)), {}, "at most 64 rows and columns"),
    ([[1.0]], {"cell": 4}, "`cell` must be a whole number"),
    ([[1.0]], {"cell": 20.0}, "`cell` must be a whole number"),
])
def test_bad_input_is_one_clear_error(matrix, kwargs, match):
    with pytest.raises(ValueError, match=match):
        kernel_picture(matrix, **kwargs)
