"""convcli.explain.picture: an explanation drawn shows the explanation's own numbers."""

import numpy as np
import pytest
from scipy import ndimage

from convcli.animate import PADDING_FILL
from convcli.animate.frames import WINNER_OUTLINE
from convcli.drawing import value_colours
from convcli.explain import explain_conv2d, explain_filter, explain_pool
from convcli.explain.picture import explanation_picture

CELL = 20


def _cells_of(picture, colour):
    """How many pixels of the picture have exactly ``colour``."""
    return int((picture == np.asarray(colour, dtype=np.uint8)).all(axis=2).sum())


def _rgb(colour):
    return tuple(int(c) for c in np.clip(np.rint(colour), 0, 255))


def test_a_filter_picture_shows_window_kernel_and_products_in_their_colours():
    image = np.arange(16.0).reshape(4, 4)
    kernel = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    explanation = explain_filter(image, kernel, position=(0, 1), mode="same")
    # the value drawn is the value computed (scipy: true convolution, zero padding)
    assert explanation.value == ndimage.convolve(image, kernel, mode="constant")[0, 1]
    picture = explanation_picture([explanation], cell=CELL)
    inner = (CELL - 6) ** 2  # a cell's fill, less the text and a margin
    for values in (explanation.products, explanation.weights):
        for colour in value_colours(values).reshape(-1, 3):
            assert _cells_of(picture, _rgb(colour)) >= inner
    padded = int(explanation.padded.sum())
    assert padded == 3  # the row above the image
    assert _cells_of(picture, PADDING_FILL) >= padded * inner


def test_a_max_pool_picture_outlines_the_winner():
    image = np.array([[1.0, 7.0], [3.0, 2.0]])
    explanation = explain_pool(image, position=(0, 0), op="max", size=2)
    assert explanation.value == 7.0 and explanation.winner == (0, 1)
    picture = explanation_picture([explanation], cell=CELL)
    assert _cells_of(picture, WINNER_OUTLINE) >= 4 * (CELL - 3)  # a 3-pixel frame round one cell
    assert _cells_of(explanation_picture([explain_pool(image, position=(0, 0), op="avg", size=2)], cell=CELL),
                     WINNER_OUTLINE) == 0


def test_a_layer_picture_has_a_row_per_input_channel_and_titles_add_height():
    image = np.dstack([np.ones((3, 3)), 2 * np.ones((3, 3))])
    explanation = explain_conv2d(image, np.ones((2, 2, 2, 1)), position=(0, 0), bias=[1.0])
    assert explanation.value == 4 * 1 + 4 * 2 + 1
    one = explanation_picture([explain_filter(image[..., 0], np.ones((2, 2)), position=(0, 0), mode="valid")])
    both = explanation_picture([explanation])
    assert both.shape[0] > 2 * one.shape[0] - 40
    assert explanation_picture([explanation], titles=["c0"]).shape[0] > both.shape[0]


def test_unpictured_kinds_and_bad_arguments_are_one_clear_error():
    from convcli.explain import explain_upsample

    upsampled = explain_upsample(np.ones((2, 2)), position=(0, 0), factor=2)
    with pytest.raises(ValueError, match="a picture is drawn for filter, sobel, pool, conv2d explanations"):
        explanation_picture([upsampled])
    with pytest.raises(ValueError, match="`explanations` must hold at least one"):
        explanation_picture([])
    pooled = explain_pool(np.ones((2, 2)), position=(0, 0), op="max", size=2)
    with pytest.raises(ValueError, match="`titles` must hold 1 texts"):
        explanation_picture([pooled], titles=["a", "b"])
