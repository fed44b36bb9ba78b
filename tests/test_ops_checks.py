"""convcli.ops.checks: every op refuses a bad image with the same one-line ValueError (an
(H, W, 0) image once gave OpenCV's own error from filter2d and an empty result from upsample)."""

import numpy as np
import pytest

from convcli.ops import filter2d, global_pool, gradients, pool2d, sobel, upsample

OPS = {
    "filter2d": lambda image: filter2d(image, np.ones((3, 3))),
    "sobel": lambda image: sobel(image),
    "gradients": lambda image: gradients(image),
    "pool2d": lambda image: pool2d(image, size=1),
    "global_pool": lambda image: global_pool(image, op="avg"),
    "upsample": lambda image: upsample(image, factor=2),
    "transpose": lambda image: upsample(image, factor=2, method="transpose", kernel=np.ones((2, 2))),
}
SHAPE = "`image` must have shape (H, W) or (H, W, C) with H, W, C >= 1, got "


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape", [(4, 4, 0), (0, 4), (4, 0, 3), (4,), (2, 2, 2, 2)])
def test_every_op_refuses_an_image_without_pixels_or_of_another_rank(op, shape):
    with pytest.raises(ValueError) as caught:
        OPS[op](np.zeros(shape))
    assert str(caught.value) == f"{SHAPE}{shape}"


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [np.complex64, object, "U1"])
def test_every_op_refuses_what_is_not_real_numbers(op, dtype):
    with pytest.raises(ValueError, match=r"^`image` must hold real numbers, got dtype "):
        OPS[op](np.zeros((4, 4), dtype=dtype))


@pytest.mark.parametrize("op", OPS)
def test_every_op_takes_a_one_pixel_bool_image(op):
    assert np.asarray(OPS[op](np.ones((1, 1), dtype=bool))).size >= 1
